"""Leader election for several instances on one PostgreSQL database: an advisory lock.

The leader holds ``pg_try_advisory_lock(key)`` on a dedicated connection for as long as it leads. When
its process dies the connection closes and PostgreSQL releases the lock; a follower tries again every
``retry`` seconds and takes over. The lock connection asks the server for TCP keepalives, so a leader
whose host vanishes without closing the connection is noticed in about 20 seconds as well.

The leader checks its connection every ``retry`` seconds; if it is gone, so is the lock, and it steps
down at once. For the few seconds two instances might both believe they lead, the jobs are harmless
twice: publishing claims posts with ``FOR UPDATE SKIP LOCKED``, status posts and reminders have
unique keys.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Awaitable, Callable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = logging.getLogger("prikbord.scheduler.leader")

Hook = Callable[[], Awaitable[None]]

# Server-side keepalives of the lock connection: idle 10 s, then 5 probes 2 s apart.
_KEEPALIVES = ("SET tcp_keepalives_idle = 10", "SET tcp_keepalives_interval = 2", "SET tcp_keepalives_count = 5")


def lock_key(name: str, database: str, schema: str) -> int:
    """A stable signed 64-bit key per (name, database, schema): instances on one schema compete,
    another schema (another prikbord, a test) does not."""
    digest = hashlib.blake2b(f"{name}:{database}:{schema}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class LeaderElection:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        on_elected: Hook,
        on_deposed: Hook,
        retry: float = 5.0,
        name: str = "prikbord-scheduler",
        role: str = "the scheduler",
    ) -> None:
        self._engine = engine
        self._role = role  # what the lock lets its holder run, for the log
        self._on_elected = on_elected
        self._on_deposed = on_deposed
        self._retry = retry
        self._name = name
        self._connection: AsyncConnection | None = None
        self._key: int | None = None
        self._leader = False
        self._task: asyncio.Task[None] | None = None
        self.backend_pid: int | None = None
        self.changed = asyncio.Event()  # set whenever leadership is won or lost (tests wait on it)

    @property
    def is_leader(self) -> bool:
        return self._leader

    async def start(self) -> None:
        """Make the first attempt now (a lone instance leads as soon as this returns), then keep trying."""
        await self._attempt()
        self._task = asyncio.create_task(self._campaign(), name=f"election-{self._name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._leader:
            await self._step_down()
        await self._release()

    async def _campaign(self) -> None:
        while True:
            await asyncio.sleep(self._retry)
            await self._attempt()

    async def _attempt(self) -> None:
        """One round: a leader checks its lock connection, a follower tries to take the lock."""
        try:
            if self._leader:
                await self._still_connected()
            elif await self._try_lock():
                log.info("this instance now runs %s (lock connection pid %s)", self._role, self.backend_pid)
                self._leader = True
                self.changed.set()
                try:
                    await self._on_elected()
                except Exception:
                    log.exception("starting %s failed; giving up the lead", self._role)
                    await self._step_down()
                    await self._release()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("the lock connection for %s failed (%s: %s)", self._role, type(exc).__name__, exc)
            await self._drop()
            if self._leader:
                log.warning("lost the lock for %s: another instance may take over", self._role)
                await self._step_down()

    async def _step_down(self) -> None:
        self._leader = False
        self.changed.set()
        try:
            await self._on_deposed()
        except Exception:
            log.exception("stopping %s after losing the lead failed", self._role)

    async def _connect(self) -> AsyncConnection:
        if self._connection is not None:
            return self._connection
        connection = await self._engine.connect()
        try:
            for statement in _KEEPALIVES:
                # Accepted on every connection; PostgreSQL ignores them on Unix-domain sockets.
                await connection.execute(text(statement))
            row = (
                await connection.execute(text("SELECT current_database(), current_schema(), pg_backend_pid()"))
            ).one()
            await connection.commit()
        except BaseException:
            with contextlib.suppress(Exception):
                await connection.invalidate()
            raise
        self._key = lock_key(self._name, str(row[0]), str(row[1]))
        self.backend_pid = int(row[2])
        self._connection = connection
        return connection

    async def _try_lock(self) -> bool:
        connection = await self._connect()
        got = await connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": self._key})
        await connection.commit()
        return bool(got)

    async def _still_connected(self) -> None:
        assert self._connection is not None
        await self._connection.scalar(text("SELECT 1"))
        await self._connection.commit()

    async def _release(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            await connection.execute(text("SELECT pg_advisory_unlock_all()"))
            await connection.commit()
            await connection.close()
        except Exception:
            # Closing the connection for good releases whatever it held.
            with contextlib.suppress(Exception):
                await connection.invalidate()

    async def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.invalidate()
            with contextlib.suppress(Exception):
                await connection.close()
