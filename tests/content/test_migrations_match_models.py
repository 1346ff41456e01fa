"""The migrations build exactly the schema the models declare, on both backends: a model changed
without its migration (or a migration that differs from its model) fails here, not in production."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Float
from sqlalchemy.engine import Connection

from content.db import Store
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
