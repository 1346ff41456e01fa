"""Engine and sessions: SQLite (WAL) embedded, PostgreSQL for several instances.

Reads and writes are told apart, because on SQLite they lock differently:

* ``Store.sessions()`` is for reading. On SQLite its transactions start with a plain (deferred)
  ``BEGIN``: in WAL mode a reader takes no lock that a writer waits for, and waits for none.
* ``Store.transaction()`` is for writing. On SQLite it starts with ``BEGIN IMMEDIATE`` (the write lock
  up front, so a transaction never fails half-way on a lock upgrade), and the writers of one process
  queue on an in-process lock first: only one of them at a time waits on SQLite's ``busy_timeout``
  (which is what other processes, e.g. the CLI next to ``run``, rely on), instead of all of them
  spinning on it and one losing after the timeout.

On PostgreSQL both are ordinary transactions and writers do not queue in the process.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

T = TypeVar("T")

# How long a SQLite connection waits for another process's write lock before "database is locked".
SQLITE_BUSY_TIMEOUT_S = 30.0
# The execution option that marks a connection as a writer's (BEGIN IMMEDIATE on SQLite).
_WRITER_OPTION = "prikbord_writer"


def async_url(url: str) -> str:
    """Accept the URLs operators write (``sqlite:///x.db``, ``postgresql://…``) and pick async drivers."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite" and parsed.drivername in ("sqlite", "sqlite+pysqlite"):
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    elif backend == "postgresql" and parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed.render_as_string(hide_password=False)


@dataclass
class Store:
    engine: AsyncEngine
    # Read sessions (deferred transactions on SQLite). Writes go through ``transaction()``.
    sessions: async_sessionmaker[AsyncSession]
    writers: async_sessionmaker[AsyncSession] | None = None
    _write_locks: dict[asyncio.AbstractEventLoop, asyncio.Lock] = field(default_factory=dict, repr=False)
    # Set while this task (and what it awaits) holds the write lock: a nested transaction() in the
    # same task must not queue behind itself.
    _writing: ContextVar[bool] = field(default_factory=lambda: ContextVar("prikbord_writing", default=False))

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside one write transaction: committed on success, rolled back on error."""
        if not self.is_sqlite or self._writing.get():
            async with self._write_session() as session:
                yield session
            return
        async with self._write_lock():
            token = self._writing.set(True)
            try:
                async with self._write_session() as session:
                    yield session
            finally:
                self._writing.reset(token)

    def _write_lock(self) -> asyncio.Lock:
        # One lock per event loop: a store may outlive the loop it was first used in (tests, CLI).
        loop = asyncio.get_running_loop()
        lock = self._write_locks.get(loop)
        if lock is None:
            for stale in [other for other in self._write_locks if other.is_closed()]:
                del self._write_locks[stale]
            lock = self._write_locks[loop] = asyncio.Lock()
        return lock

    @asynccontextmanager
    async def _write_session(self) -> AsyncIterator[AsyncSession]:
        maker = self.writers or self.sessions
        async with maker() as session, session.begin():
            yield session

    async def close(self) -> None:
        await self.engine.dispose()


def create_store(url: str, *, schema: str | None = None, echo: bool = False) -> Store:
    """Create the engine. ``schema`` (PostgreSQL) isolates tests in their own schema."""
    full = async_url(url)
    kwargs: dict[str, Any] = {"echo": echo}
    if full.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_S}
    elif schema:
        kwargs["connect_args"] = {"server_settings": {"search_path": schema}}
    if full.startswith("postgresql"):
        kwargs["pool_size"] = 10
        kwargs["max_overflow"] = 10
    engine = create_async_engine(full, **kwargs)
    if engine.dialect.name != "sqlite":
        return Store(engine, async_sessionmaker(engine, expire_on_commit=False))
    _configure_sqlite(engine)
    writer_engine = engine.execution_options(**{_WRITER_OPTION: True})
    return Store(
        engine,
        async_sessionmaker(engine, expire_on_commit=False),
        async_sessionmaker(writer_engine, expire_on_commit=False),
    )


def _configure_sqlite(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy own transaction boundaries (the pysqlite recipe), so the BEGIN below is ours:
        # IMMEDIATE for writers (the write lock up front), deferred for readers (no lock in WAL).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        writer = bool(conn.get_execution_options().get(_WRITER_OPTION))
        conn.exec_driver_sql("BEGIN IMMEDIATE" if writer else "BEGIN")


def store_error_line(exc: BaseException) -> str:
    """One line for a log: the driver's own error (not SQLAlchemy's wrapper with the statement and its
    parameters, which may hold people's data) and its first line, e.g. ``ConnectionRefusedError: …``."""
    cause: BaseException = getattr(exc, "orig", None) or exc.__cause__ or exc
    text = str(cause).strip().splitlines()
    first = text[0][:200] if text else ""
    return f"{type(cause).__name__}: {first}" if first else type(cause).__name__


def store_unavailable(exc: BaseException) -> bool:
    """True when the database cannot take writes for now (full, locked, unreachable), whatever the
    events: they are kept and tried again rather than lost."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True  # SQLAlchemy saw a disconnect (asyncpg's "connection was closed in the middle of operation")
    return isinstance(exc, OperationalError | InterfaceError | OSError) and not fails_alone(exc)


def fails_alone(exc: BaseException) -> bool:
    """True when a failed statement refused a value of one event (a lone surrogate the driver cannot
    encode, NUL or an over-long id the column refuses, a broken reference), so the other events of
    its batch would store fine; False when the database itself is unwell (locked, gone)."""
    if isinstance(exc, IntegrityError | DataError | UnicodeError):
        return True
    if not isinstance(exc, DBAPIError) or isinstance(exc, OperationalError):
        return False
    # Drivers refuse some values before sending them (asyncpg: "invalid input for query argument"),
    # raising a ValueError that SQLAlchemy passes on as a plain DBAPIError.
    cause: BaseException | None = exc.orig
    for _ in range(4):
        if cause is None:
            return False
        if isinstance(cause, ValueError):
            return True
        cause = cause.__cause__
    return False


async def finished_even_if_cancelled(work: Awaitable[T]) -> T:
    """``work`` (a store transaction) run to its end even when the caller is cancelled meanwhile; the
    cancellation is raised once it ended. A transaction cut mid-statement makes the pool close its
    connection inside the cancellation, which asyncpg cannot finish (SQLAlchemy logs a traceback) — a stop
    cancelling sends that wait for a shared rate place did exactly that."""
    task = asyncio.ensure_future(work)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        with contextlib.suppress(BaseException):
            await task
        raise
