"""Alembic environment: runs migrations on the async engine the application uses."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from content import (
    attachments,  # noqa: F401  (its tables are part of the metadata)
    form_drafts,  # noqa: F401  (its table is part of the metadata)
    guided,  # noqa: F401  (its table is part of the metadata)
    processed_commands,  # noqa: F401  (its table is part of the metadata)
)
from content.db import create_store
from content.models import Base

config = context.config
target_metadata = Base.metadata


def _include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """Leave the search structures of 0002 alone: they are raw SQL, not ORM metadata, and
    autogenerate would otherwise propose dropping them."""
    if type_ == "table" and name is not None and name.startswith("posts_fts"):
        return False
    return not (type_ in ("column", "index") and name in ("search_vector", "ix_posts_search_vector"))


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_object=_include_object,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    url = config.get_main_option("sqlalchemy.url")
    assert url, "the migration runner sets sqlalchemy.url"
    store = create_store(url, schema=config.attributes.get("schema"))
    try:
        async with store.engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await store.close()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    asyncio.run(_run_async())
