"""The outbox under concurrency: workers never hold the same delivery, every delivery is sent once."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from adapters.base import Adapter, ChatRef, CommandIssued, EventSink, Limits, MessageRef, OutboundMessage, Rate
from adapters.markup import MarkupParser
from bot.clock import SystemClock
from bot.services.compose import Composer
from bot.services.dispatch import Dispatcher, DispatchPolicy
from bot.services.notify import ModeratorNotifier
from bot.services.roles import Roles
from content import outbox
from content.db import Store
from content.models import Channel, Delivery, DeliveryState, Post, PostState

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


class CountingAdapter(Adapter):
    """Records every send; shared by both 'instances' so duplicates show up."""

    platform = "console"
    limits = Limits(text_length=4096)

    def __init__(self, sends: Counter[int]) -> None:
        self.sends = sends

    async def start(self, sink: EventSink) -> None: ...
    async def stop(self) -> None: ...

    async def send(self, chat: ChatRef, message: OutboundMessage) -> MessageRef:
        assert message.delivery_id is not None
        self.sends[message.delivery_id] += 1
        await asyncio.sleep(0)  # let the other worker run in between
        return MessageRef(chat, f"msg-{message.delivery_id}")

    async def edit(self, ref: MessageRef, message: OutboundMessage) -> None: ...
    async def delete(self, ref: MessageRef) -> None: ...
    async def reply(self, command: CommandIssued, text: str, private: bool = True) -> None: ...


async def _seed(store: Store, posts_n: int, channels_n: int) -> None:
    async with store.transaction() as session:
        channels = [
            Channel(name=f"c{i}", platform="console", chat_id=f"chat{i}", tags=["everyone"]) for i in range(channels_n)
        ]
        session.add_all(channels)
        await session.flush()
        for p in range(posts_n):
            post = Post(
                title=f"post {p}",
                body="body",
                audience=["everyone"],
                state=PostState.PUBLISHED,
                created_at=NOW,
                updated_at=NOW,
            )
            session.add(post)
            await session.flush()
            # Due already by the system clock the dispatchers use.
            outbox.add_deliveries(session, post.id, channels, datetime.now(UTC) - timedelta(seconds=1))


def _dispatcher(store: Store, adapter: Adapter, name: str) -> Dispatcher:
    adapters = {"console": adapter}
    composer = Composer(MarkupParser(), ZoneInfo("UTC"), lambda post: None)
    return Dispatcher(
        store,
        adapters,
        composer,
        ModeratorNotifier(adapters, Roles([])),
        SystemClock(),
        DispatchPolicy(batch_size=50, concurrency=32),
        instance_id=name,
    )


async def test_two_workers_on_postgres_send_each_delivery_once(pg_store_factory) -> None:  # type: ignore[no-untyped-def]
    first, another = pg_store_factory
    second = another()
    await _seed(first, 10, 100)  # 1,000 deliveries
    sends: Counter[int] = Counter()
    workers = [_dispatcher(first, CountingAdapter(sends), "a"), _dispatcher(second, CountingAdapter(sends), "b")]
    for worker in workers:
        await worker.start()
    try:
        await asyncio.gather(*(w.settle(timeout=120) for w in workers))
    finally:
        for worker in workers:
            await worker.stop()
    assert len(sends) == 1000 and set(sends.values()) == {1}
    async with first.sessions() as session:
        states = dict((await session.execute(select(Delivery.state, func.count()).group_by(Delivery.state))).all())
        by_worker = dict(
            (await session.execute(select(Delivery.claimed_by, func.count()).group_by(Delivery.claimed_by))).all()
        )
    assert states == {DeliveryState.SENT: 1000}
    assert set(by_worker) == {"a", "b"}  # both really worked


async def test_concurrent_claims_never_overlap(store: Store) -> None:
    await _seed(store, 4, 50)
    now = datetime.now(UTC)
    claims = await asyncio.gather(
        *(outbox.claim_due(store, "console", f"w{i}", 30, now, timedelta(minutes=5)) for i in range(8))
    )
    ids = [d.id for batch in claims for d in batch]
    assert len(ids) == len(set(ids)) == 200


async def test_reconcile_requeues_deliveries_of_a_crashed_process(store: Store) -> None:
    await _seed(store, 1, 3)
    # A process that claimed and died: its lease has run out.
    claimed = await outbox.claim_due(store, "console", "crashed", 10, datetime.now(UTC), timedelta(seconds=-1))
    assert len(claimed) == 3
    sends: Counter[int] = Counter()
    worker = _dispatcher(store, CountingAdapter(sends), "new")
    assert await worker.reconcile() == 3
    await worker.start()
    try:
        await worker.settle()
    finally:
        await worker.stop()
    assert sorted(sends) == sorted(d.id for d in claimed)


class SlowAdapter(CountingAdapter):
    """Sends take ``delay`` seconds; the platform allows ``rate`` (count, seconds) overall."""

    def __init__(self, sends: Counter[int], delay: float = 0.0, rate: tuple[int, float] | None = None) -> None:
        super().__init__(sends)
        self.delay = delay
        self.limits = Limits(text_length=4096, global_rates=(Rate(*rate),) if rate else ())

    async def send(self, chat: ChatRef, message: OutboundMessage) -> MessageRef:
        await asyncio.sleep(self.delay)
        return await super().send(chat, message)


def _leased(store: Store, adapter: Adapter, name: str, lease: float) -> Dispatcher:
    adapters = {"console": adapter}
    return Dispatcher(
        store,
        adapters,
        Composer(MarkupParser(), ZoneInfo("UTC"), lambda post: None),
        ModeratorNotifier(adapters, Roles([])),
        SystemClock(),
        DispatchPolicy(lease=timedelta(seconds=lease), idle_poll=0.05),
        instance_id=name,
    )


async def _states(store: Store) -> Counter[str]:
    async with store.sessions() as session:
        rows = (await session.execute(select(Delivery.state, func.count()).group_by(Delivery.state))).all()
    return Counter({str(state): int(n) for state, n in rows})


async def test_a_running_instance_reclaims_a_dead_instances_claims_within_two_leases(store: Store) -> None:
    await _seed(store, 1, 5)
    sends: Counter[int] = Counter()
    worker = _leased(store, SlowAdapter(sends), "alive", lease=2.0)
    await worker.start()  # nothing is stale yet: the start-up reconciliation finds nothing
    try:
        # Another instance claims everything and dies (kill -9): its claims hold until their lease ends.
        dead = await outbox.claim_due(store, "console", "dead", 10, datetime.now(UTC), timedelta(seconds=2))
        assert len(dead) == 5
        started = asyncio.get_running_loop().time()
        while (await _states(store))["sent"] < 5:
            assert asyncio.get_running_loop().time() - started <= 2 * 2.0, await _states(store)
            await asyncio.sleep(0.05)
    finally:
        await worker.stop()
    assert sorted(sends) == sorted(d.id for d in dead) and set(sends.values()) == {1}


async def test_the_lease_of_a_send_under_way_is_renewed(store: Store) -> None:
    await _seed(store, 1, 1)
    sends: Counter[int] = Counter()
    worker = _leased(store, SlowAdapter(sends, delay=3.0), "slow", lease=1.0)  # a send three leases long
    other = _leased(store, SlowAdapter(sends), "other", lease=1.0)
    await worker.start()
    try:
        reclaimed = 0
        for _ in range(14):  # another instance sweeps meanwhile, as every instance does
            await asyncio.sleep(0.25)
            reclaimed += await other.reconcile()
        await worker.settle(timeout=10)
    finally:
        await worker.stop()
    assert reclaimed == 0
    assert list(sends.values()) == [1]
    assert await _states(store) == Counter({"sent": 1})


async def test_a_claim_whose_batch_failed_before_sending_runs_out_and_is_sent(store: Store) -> None:
    # The database went away between the claim's commit and the sends (PostgreSQL restarted): the claims
    # stay ``sending`` under this live instance. Its lease renewals must not keep them alive for good.
    await _seed(store, 1, 4)
    sends: Counter[int] = Counter()
    worker = _leased(store, CountingAdapter(sends), "alive", lease=1.0)
    compose = worker._compose
    failed: list[int] = []

    async def failing_once(platform: str, batch: Any) -> Any:
        if not failed:
            failed.extend(d.id for d in batch)
            raise OperationalError("SELECT …", {}, ConnectionResetError("the server closed the connection"))
        return await compose(platform, batch)

    worker._compose = failing_once  # type: ignore[method-assign]
    await worker.start()
    try:
        started = asyncio.get_running_loop().time()
        while (await _states(store))["sent"] < 4:
            assert asyncio.get_running_loop().time() - started <= 10, await _states(store)
            await asyncio.sleep(0.05)
    finally:
        await worker.stop()
    assert len(failed) == 4 and sorted(sends) == sorted(failed) and set(sends.values()) == {1}


async def test_stop_records_every_outcome_and_gives_back_what_was_not_sent(store: Store) -> None:
    await _seed(store, 1, 12)
    sends: Counter[int] = Counter()
    # 2 per 4 s overall, paced: the second send starts at 2 s, the third could not before 4 s.
    worker = _leased(store, SlowAdapter(sends, delay=0.2, rate=(2, 4.0)), "stopping", lease=30.0)
    await worker.start()
    deadline = asyncio.get_running_loop().time() + 10
    while len(sends) < 2:  # two sent; the rest claimed and waiting for the window
        assert asyncio.get_running_loop().time() < deadline, sends
        await asyncio.sleep(0.02)
    await worker.stop()
    states = await _states(store)
    assert states == Counter({"sent": 2, "pending": 10}), states
    async with store.sessions() as session:
        attempts = set((await session.execute(select(Delivery.attempts).where(Delivery.state == "pending"))).scalars())
    assert attempts == {0}  # given back untried: not counted as a try
