"""APScheduler's persistent job store, in prikbord's own database.

APScheduler 3's ``SQLAlchemyJobStore`` is synchronous, so it gets a synchronous engine on the same
database: ``sqlite:///`` stays as it is, PostgreSQL uses psycopg 3 (``postgresql+psycopg://``). The
scheduler only ever calls the job store from worker threads (see ``scheduler/engine.py``), never on
the event loop. The table ``apscheduler_jobs`` is created by migration 0003.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import URL, Engine, make_url

from content.db import Store

log = logging.getLogger("prikbord.scheduler")

JOBS_TABLE = "apscheduler_jobs"


def sync_url(url: str | URL) -> URL:
    """The synchronous twin of an application URL (async or as operators write it)."""
    parsed = make_url(url) if isinstance(url, str) else url
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite")
    if backend == "postgresql":
        query = dict(parsed.query)
        if "ssl" in query:  # asyncpg spells it ssl, libpq sslmode
            query["sslmode"] = query.pop("ssl")
        return parsed.set(drivername="postgresql+psycopg", query=query)
    raise ValueError(f"the scheduler cannot keep jobs in a {backend} database (use SQLite or PostgreSQL)")


def is_memory_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


async def current_schema(store: Store) -> str | None:
    """PostgreSQL: the schema the application's connections use (tests isolate each run in one)."""
    if not store.is_postgres:
        return None
    async with store.engine.connect() as connection:
        return str(await connection.scalar(text("SELECT current_schema()")))


def job_engine(store: Store, schema: str | None) -> Engine:
    url = sync_url(store.engine.url)
    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if url.get_backend_name() == "sqlite":
        kwargs["connect_args"] = {"timeout": 30}
    else:
        kwargs.update(pool_size=2, max_overflow=4)
        if schema:
            kwargs["connect_args"] = {"options": f"-c search_path={schema}"}
    engine = create_engine(url, **kwargs)
    if url.get_backend_name() == "sqlite":

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

    return engine


async def build_job_store(store: Store) -> Any:
    """A SQLAlchemyJobStore on the application's database (a MemoryJobStore for an in-memory SQLite
    database, which a second engine cannot share; jobs then do not survive a restart)."""
    from apscheduler.jobstores.memory import MemoryJobStore
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

    if is_memory_sqlite(store.engine.url):
        log.warning("in-memory database: scheduled jobs are kept in memory and do not survive a restart")
        return MemoryJobStore()
    schema = await current_schema(store)
    return SQLAlchemyJobStore(engine=job_engine(store, schema), tablename=JOBS_TABLE, tableschema=schema)
