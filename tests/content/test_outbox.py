"""The outbox under concurrency: workers never hold the same delivery, every delivery is sent once."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from adapters.base import Adapter, ChatRef, CommandIssued, EventSink, Limits, MessageRef, OutboundMessage
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
