"""Several instances on one PostgreSQL database: one scheduler (an advisory lock), a takeover when
the holder dies, and never a status post twice — even when the holder dies in the middle of one."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

from bot.clock import FrozenClock
from bot.services.status import StatusPostService
from content.db import Store
from scheduler.ports import StatusSchedule
from scheduler.service import SchedulerOptions
from tests.scheduler.conftest import Harness, settings, start_harness

START = datetime(2026, 11, 30, 8, 59, 30, tzinfo=UTC)
NINE = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
STATUS = {
    "name": "minuut",
    "cron": "* * * * *",
    "timezone": "UTC",
    "misfire_grace": "5m",
    "template": "Status {{ now.strftime('%H:%M') }}\nAlles {{ ok }}",
    "sources": {"ok": {"type": "static", "value": "in orde"}},
}


class Gate:
    """A status runner that stops inside ``run`` until released: an instance dying mid-firing."""

    def __init__(self, inner: StatusPostService) -> None:
        self.inner = inner
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    def schedules(self) -> list[StatusSchedule]:
        return self.inner.schedules()

    async def posted(self, name: str, fire_time: datetime) -> bool:
        return await self.inner.posted(name, fire_time)

    async def run(self, name: str, fire_time: datetime) -> object:
        self.entered.set()
        await self.release.wait()
        return await self.inner.run(name, fire_time)


async def _instance(store: Store, clock: FrozenClock, wrapper: Callable[[Any], Any] | None = None) -> Harness:
    return await start_harness(
        store,
        clock,
        settings(status_posts=[STATUS]),
        options=SchedulerOptions(sweep_interval=3600, leader_retry=0.2),
        status_wrapper=wrapper,
    )


async def _until(condition: Callable[[], bool], timeout: float = 30.0) -> float:
    began = time.monotonic()
    while not condition():
        if time.monotonic() - began > timeout:
            raise AssertionError(f"not within {timeout}s")
        await asyncio.sleep(0.02)
    return time.monotonic() - began


async def _kill_lock_connection(store: Store, pid: int | None) -> None:
    assert pid is not None
    async with store.engine.connect() as connection:
        assert await connection.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        await connection.commit()


async def _status_keys(h: Harness) -> list[str | None]:
    return [p.source_key for p in await h.posts(source="status")]


def _shown(*instances: Harness) -> int:
    return sum(1 for h in instances for m in h.console.messages.values() if "Status " in m)


async def test_one_scheduler_and_a_takeover_when_the_holder_dies_mid_firing(pg_store_factory: Any) -> None:
    first_store, another = pg_store_factory
    clock = FrozenClock(START)
    gates: list[Gate] = []

    def gated(inner: StatusPostService) -> Gate:
        gates.append(Gate(inner))
        return gates[-1]

    a = await _instance(first_store, clock, gated)
    b = await _instance(another(), clock)
    ticking: asyncio.Task[None] | None = None
    try:
        assert a.scheduler.is_leader and not b.scheduler.is_leader
        await asyncio.sleep(0.5)  # the follower keeps trying, and keeps failing
        assert a.scheduler.is_leader and not b.scheduler.is_leader

        # 09:00: only the leader runs the firing; it takes it from the store, then "dies" inside it.
        clock.set(NINE)
        await b.scheduler.tick()
        ticking = asyncio.create_task(a.scheduler.tick())
        await asyncio.wait_for(gates[0].entered.wait(), 10)
        assert await _status_keys(a) == []

        await _kill_lock_connection(first_store, a.scheduler.election.backend_pid)  # type: ignore[union-attr]
        took = await _until(lambda: b.scheduler.is_leader)
        assert took < 30
        await _until(lambda: not a.scheduler.is_leader)

        # The new leader finds the firing taken but not posted, and posts it: once.
        await b.tick()
        assert await _status_keys(b) == ["status:minuut:2026-11-30T09:00:00+00:00"]
        gates[0].release.set()  # the old leader's run wakes up late: the unique key stops it
        await asyncio.wait_for(ticking, 10)
        await a.settle()
        assert await _status_keys(a) == ["status:minuut:2026-11-30T09:00:00+00:00"]

        # The schedule goes on at the new leader; the old one runs nothing.
        clock.set(NINE + timedelta(minutes=1))
        await a.tick()
        await b.tick()
        await a.settle()
        assert await _status_keys(b) == [
            "status:minuut:2026-11-30T09:00:00+00:00",
            "status:minuut:2026-11-30T09:01:00+00:00",
        ]
        assert _shown(a, b) == 2  # each status post delivered once, by whichever dispatcher claimed it
    finally:
        if ticking is not None and not ticking.done():
            ticking.cancel()
        await a.stop()
        await b.stop()


async def test_a_stopped_holder_hands_over_and_no_firing_posts_twice(pg_store_factory: Any) -> None:
    first_store, another = pg_store_factory
    clock = FrozenClock(START)
    a = await _instance(first_store, clock)
    b = await _instance(another(), clock)
    c: Harness | None = None
    try:
        clock.set(NINE)
        await asyncio.gather(a.tick(), b.tick())
        assert len(await _status_keys(a)) == 1

        await a.stop()  # a clean shutdown releases the lock
        await _until(lambda: b.scheduler.is_leader)
        await b.tick()
        assert len(await _status_keys(b)) == 1  # 09:00 is not run again

        # A third instance joins as a follower; both tick at 09:01; one post.
        c = await _instance(another(), clock)
        assert not c.scheduler.is_leader
        clock.set(NINE + timedelta(minutes=1))
        await asyncio.gather(b.tick(), c.tick())
        await b.settle()
        await c.settle()
        assert len(await _status_keys(b)) == 2
        # Both instances racing on one firing still make one post.
        outcomes = await asyncio.gather(
            b.status.run("minuut", NINE + timedelta(minutes=1)), c.status.run("minuut", NINE + timedelta(minutes=1))
        )
        assert {getattr(o, "state", None) for o in outcomes} == {"already"}
        assert len(await _status_keys(b)) == 2
        assert _shown(a, b, c) == 2
    finally:
        await b.stop()
        if c is not None:
            await c.stop()
