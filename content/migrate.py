"""Schema migrations (Alembic), run programmatically: ``prikbord db upgrade`` and at ``run``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from content.db import Store

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.engine import Connection

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str = "") -> Config:
    from alembic.config import Config  # Alembic loads only when migrations run (CLI start-up)

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def _upgrade_on(connection: Connection, revision: str) -> None:
    from alembic import command

    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, revision)


async def upgrade(store: Store, revision: str = "head") -> None:
    """Bring the store's schema to ``revision``; existing data is kept."""
    async with store.engine.begin() as connection:
        await connection.run_sync(_upgrade_on, revision)
