"""The shared rate limits (content/rate_slots.py) on both backends: reservations space sends by the
interval, a burst tolerance lets the first n through at once, a pause holds every reservation, and
concurrent reservers (two stores on one PostgreSQL schema: two instances) never share a slot."""

from __future__ import annotations

import asyncio
import time

import pytest

from content import rate_slots
from content.db import Store

INTERVAL = 10.0  # seconds: far above the time a test takes, so the database clock's drift does not matter


async def _reserve(store: Store, scope: str, tolerance: float = 0.0, count: int = 1) -> float:
    async with store.transaction() as session:
        return await rate_slots.reserve(session, scope, INTERVAL, tolerance, count)


async def _timed_reserves(store: Store, scope: str, times: int, tolerance: float = 0.0) -> list[tuple[float, float]]:
    """Reserve ``times`` slots one after another → each (delay, slot): the slot is the delay plus the
    seconds since the first reservation began, its place on that clock however long a busy machine's
    transactions take."""
    began = time.monotonic()
    reserved = []
    for _ in range(times):
        before = time.monotonic() - began
        delay = await _reserve(store, scope, tolerance)
        after = time.monotonic() - began
        # The database read its clock somewhere between ``before`` and ``after``.
        assert after - before < 0.5, f"one reservation took {after - before:.2f} s: the test cannot place it"
        reserved.append((delay, delay + (before + after) / 2))
    return reserved


async def test_reservations_follow_each_other_one_interval_apart(store: Store) -> None:
    reserved = await _timed_reserves(store, "telegram:all:0", 4)
    assert reserved[0][0] == 0.0
    for number, (_, slot) in enumerate(reserved):
        assert slot == pytest.approx(number * INTERVAL, abs=0.5)
    assert await _reserve(store, "telegram:chat:42:0") == 0.0  # another scope is its own limit


async def test_a_burst_tolerance_lets_n_through_at_once_then_paces(store: Store) -> None:
    reserved = await _timed_reserves(store, "telegram:chat:7:1", 4, tolerance=2 * INTERVAL)
    assert [delay for delay, _ in reserved[:3]] == [0.0, 0.0, 0.0]  # "3 per 30 s": three at once
    assert reserved[3][1] == pytest.approx(INTERVAL, abs=0.5)  # the fourth one interval after the first


async def test_several_at_once_take_their_slots_together(store: Store) -> None:
    assert await _reserve(store, "slack:all:0", count=5) == 0.0
    assert await _reserve(store, "slack:all:0") == pytest.approx(5 * INTERVAL, abs=0.5)


async def test_a_pause_holds_every_reservation_of_its_scope(store: Store) -> None:
    async with store.transaction() as session:
        await rate_slots.pause(session, "telegram:chat:9:0", 60)
        await rate_slots.pause(session, "telegram:chat:9:0", 5)  # a shorter pause never shortens it
    async with store.sessions() as session:
        assert await rate_slots.paused_for(session, "telegram:chat:9:0") == pytest.approx(60, abs=1)
        assert await rate_slots.paused_for(session, "telegram:chat:8:0") == 0.0
    assert await _reserve(store, "telegram:chat:9:0") == pytest.approx(60, abs=1)
    assert await _reserve(store, "telegram:chat:9:0") == pytest.approx(60 + INTERVAL, abs=1)


@pytest.mark.postgres
async def test_two_instances_reserving_at_once_never_share_a_slot(pg_store_factory: object) -> None:
    first, another = pg_store_factory  # type: ignore[misc]
    second = another()
    stores = [first, second] * 20
    delays = await asyncio.gather(*(_reserve(s, "telegram:all:0") for s in stores))
    slots = sorted(round(d / INTERVAL) for d in delays)
    assert slots == list(range(len(stores)))  # 40 reservations, 40 distinct slots one interval apart
