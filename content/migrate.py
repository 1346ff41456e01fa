"""Schema migrations (Alembic), run programmatically: ``prikbord db upgrade`` and at ``run``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from content.db import Store

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.engine import Connection

MIGRATIONS = Path(__file__).parent / "migrations"
# The newest migration's revision; tests/content check it against Alembic's own head. Every command
# migrates first, and a store already there is recognised by one query, without loading Alembic.
HEAD_REVISION = "0013"


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


async def current_revision(store: Store) -> str | None:
    """The revision the store's schema is at (None: never migrated)."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    async with store.engine.connect() as connection:  # a database that cannot be opened raises here
        try:
            return (await connection.execute(text("SELECT version_num FROM alembic_version"))).scalar_one_or_none()
        except DBAPIError:
            return None  # no alembic_version table yet


async def upgrade(store: Store, revision: str = "head") -> None:
    """Bring the store's schema to ``revision``; existing data is kept."""
    if revision == "head" and await current_revision(store) == HEAD_REVISION:
        return
    async with store.engine.begin() as connection:
        await connection.run_sync(_upgrade_on, revision)
