"""Durable key/value state of the adapters (Matrix next_batch, its login device, what it sent and which
reaction was on which message), on the ``adapter_state`` table.

Saves are group-committed: while one batch is being written, the next ones queue up and go together in
one upsert. The Matrix adapter saves once per reaction on a bot message (to undo it on redaction), so
one transaction per save would cap ingest at the database's commit rate.
"""

from __future__ import annotations

import asyncio
import contextlib

from sqlalchemy.dialects import postgresql, sqlite

from content.db import Store
from content.models import AdapterState

_Item = tuple[str, str, "asyncio.Future[None]"]


class AdapterStateStore:
    def __init__(self, store: Store, max_batch: int = 500) -> None:
        self._store = store
        self._max_batch = max_batch
        self._queue: asyncio.Queue[_Item] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None

    async def load(self, key: str) -> str | None:
        async with self._store.sessions() as session:
            row = await session.get(AdapterState, key)
            return row.value if row else None

    async def save(self, key: str, value: str) -> None:
        """Returns once the value is committed."""
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_loop(), name="adapter-state-writer")
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        await self._queue.put((key, value, future))
        await future

    async def stop(self) -> None:
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
            self._writer = None

    async def _write_loop(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._upsert({key: value for key, value, _ in batch})  # the latest value of a key wins
            except Exception as exc:
                for _, _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for _, _, future in batch:
                if not future.done():
                    future.set_result(None)

    async def _upsert(self, values: dict[str, str]) -> None:
        # One statement, no read first: two first writes of a key cannot both try to insert it.
        insert = postgresql.insert if self._store.is_postgres else sqlite.insert
        statement = insert(AdapterState).values([{"key": k, "value": v} for k, v in sorted(values.items())])
        statement = statement.on_conflict_do_update(
            index_elements=[AdapterState.key], set_={"value": statement.excluded.value}
        )
        async with self._store.transaction() as session:
            await session.execute(statement)
