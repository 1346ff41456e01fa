"""The migrations build exactly the schema the models declare, on both backends: a model changed
without its migration (or a migration that differs from its model) fails here, not in production."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Float, text
from sqlalchemy.engine import Connection

from content import attachments  # noqa: F401  (its tables are part of the metadata)
from content.db import Store
from content.migrate import HEAD_REVISION, alembic_config, current_revision, upgrade
from content.models import Base

# Full-text search lives beside the models on purpose (migration 0002): SQLite's FTS5 tables and
# PostgreSQL's generated tsvector column with its index.
SEARCH_OBJECTS = ("posts_fts", "search_vector", "ix_posts_search_vector")


def _modelled(obj: Any, name: str | None, kind: str, reflected: bool, compare_to: Any) -> bool:
    return not (name or "").startswith(SEARCH_OBJECTS)


def _same_type(context: Any, inspected: Any, metadata: Any, inspected_type: Any, metadata_type: Any) -> bool | None:
    # PostgreSQL stores FLOAT as double precision and reflects it so: the same column.
    if isinstance(inspected_type, Float) and isinstance(metadata_type, Float):
        return False
    return None  # Alembic's own comparison


def _differences(connection: Connection) -> list[Any]:
    opts = {"compare_type": _same_type, "include_object": _modelled}
    context = MigrationContext.configure(connection, opts=opts)
    return list(compare_metadata(context, Base.metadata))


async def test_the_migrated_schema_is_the_models_schema(store: Store) -> None:
    async with store.engine.connect() as connection:
        differences = await connection.run_sync(_differences)
    assert differences == []


async def downgrade_to(store: Store, revision: str) -> None:
    from alembic import command

    def run(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, revision)

    async with store.engine.begin() as connection:
        await connection.run_sync(run)


def test_the_known_head_is_alembics_head() -> None:
    """upgrade() skips Alembic when the store is at HEAD_REVISION: a new migration must move it."""
    from alembic.script import ScriptDirectory

    assert ScriptDirectory.from_config(alembic_config()).get_current_head() == HEAD_REVISION


async def test_a_store_at_head_is_recognised_and_an_older_one_migrated(store: Store) -> None:
    assert await current_revision(store) == HEAD_REVISION
    await downgrade_to(store, "0006")
    assert await current_revision(store) == "0006"
    await upgrade(store)  # not at head: Alembic runs
    assert await current_revision(store) == HEAD_REVISION
    async with store.engine.connect() as connection:
        assert (await connection.execute(text("SELECT count(*) FROM rate_slots"))).scalar_one() == 0
