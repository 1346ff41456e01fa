"""Outbox throughput: deliveries claimed, sent to a no-op adapter and marked sent, through the real Dispatcher.

Each round seeds a fresh store the way publishing does (channels, published posts and
``content.outbox.add_deliveries`` in the post's transaction; by default 100 posts × 100 channels =
10,000 deliveries), then starts the App's Dispatcher, wakes it and times until ``dispatcher.settle()``
reports nothing due or in flight. The baseline, in the same run and on the same backend, is a naive loop
that claims one delivery per transaction (``claim_due(limit=1)``), sends it and records its outcome on
its own (``record_outcomes`` with one outcome). Every delivery must be sent exactly once (the no-op
adapter counts sends per delivery id) and end ``sent`` in the store; otherwise the script exits 1.

    .venv/bin/python bench/outbox.py [--rounds 3] [--postgres-url URL] [--sqlite-only]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from _common import (
    Backend,
    add_common_args,
    backends_from,
    conclude,
    fresh_store,
    median,
    print_table,
    quiet_logging,
)
from sqlalchemy import func, select

from adapters.base import (
    Adapter,
    ChatRef,
    CommandIssued,
    EventSink,
    Limits,
    MessageRef,
    OutboundMessage,
)
from bot.app import App
from bot.clock import SystemClock
from bot.config import Settings
from bot.services.dispatch import DispatchPolicy
from content.db import Store
from content.models import Channel, CtaKind, Delivery, DeliveryState, Post, PostKind, PostState
from content.outbox import SendOutcome, add_deliveries, claim_due, record_outcomes
from content.responses import Counts

PLATFORM = "bench"
GOAL_SQLITE = 2000.0  # deliveries/s
BODY = (
    "Vanaf **januari** geldt de nieuwe regeling. Lees de [toelichting](https://intranet.example/verlof) "
    "en de *veelgestelde vragen*.\n\n- dagen opnemen\n- dagen overdragen\n\n> Vragen? Stel ze aan HR."
)


class NoopAdapter(Adapter):
    """Sends nowhere and answers at once; counts sends per delivery id. No rate limits."""

    platform = PLATFORM
    limits = Limits(text_length=4096)

    def __init__(self) -> None:
        self.sends: Counter[int] = Counter()

    async def start(self, sink: EventSink) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def send(self, chat: ChatRef, message: OutboundMessage) -> MessageRef:
        delivery_id = message.delivery_id if message.delivery_id is not None else -1
        self.sends[delivery_id] += 1
        return MessageRef(chat, f"m{delivery_id}")

    async def edit(self, ref: MessageRef, message: OutboundMessage) -> None:
        return None

    async def delete(self, ref: MessageRef) -> None:
        return None

    async def reply(self, command: CommandIssued, text: str, private: bool = True) -> None:
        return None


async def seed(store: Store, n_posts: int, n_channels: int) -> None:
    """Channels, then each post published with its deliveries in one transaction, as publishing does."""
    now = datetime.now(UTC)
    async with store.transaction() as session:
        channels = [
            Channel(name=f"bench-{i}", platform=PLATFORM, chat_id=f"chat-{i}", tags=["everyone"], enabled=True)
            for i in range(n_channels)
        ]
        session.add_all(channels)
        await session.flush()
    for p in range(n_posts):
        async with store.transaction() as session:
            post = Post(
                kind=PostKind.NEWS,
                title=f"Nieuwe verlofregeling {p}",
                body=BODY,
                cta_kind=CtaKind.ACKNOWLEDGE if p % 2 else CtaKind.LIKE,
                cta_options=[],
                audience=["everyone"],
                state=PostState.PUBLISHED,
                published_at=now,
                author="bench",
                created_at=now,
                updated_at=now,
            )
            session.add(post)
            await session.flush()
            add_deliveries(session, post.id, channels, now)


@dataclass
class Check:
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


async def verify(store: Store, adapter: NoopAdapter, expected: int) -> Check:
    """Every delivery sent exactly once by the adapter and recorded ``sent`` (one attempt) in the store."""
    check = Check()
    async with store.sessions() as session:
        ids = set((await session.execute(select(Delivery.id))).scalars())
        counted = await session.execute(select(Delivery.state, func.count()).group_by(Delivery.state))
        states = {state: int(n) for state, n in counted.all()}
        rows = (
            await session.execute(
                select(Delivery.id, Delivery.platform_message_id, Delivery.attempts, Delivery.sent_at)
            )
        ).all()
    unmarked = sum(1 for r in rows if r.platform_message_id != f"m{r.id}" or r.attempts != 1 or r.sent_at is None)
    if len(ids) != expected:
        check.problems.append(f"{len(ids)} deliveries in the store, expected {expected}")
    if states != {DeliveryState.SENT.value: expected}:
        check.problems.append(f"delivery states {states}, expected all {expected} sent")
    if unmarked:
        check.problems.append(f"{unmarked} deliveries without their message id, sent_at or with attempts != 1")
    twice = {d: n for d, n in adapter.sends.items() if n != 1}
    if twice:
        check.problems.append(f"{len(twice)} deliveries sent more than once, e.g. {sorted(twice.items())[:5]}")
    if set(adapter.sends) != ids:
        missing, extra = ids - set(adapter.sends), set(adapter.sends) - ids
        check.problems.append(f"{len(missing)} deliveries never sent, {len(extra)} sends of unknown deliveries")
    return check


async def run_dispatcher(backend: Backend, args: argparse.Namespace) -> tuple[float, Check]:
    """One round through the real Dispatcher; returns (deliveries/s, check)."""
    expected = args.posts * args.channels
    async with fresh_store(backend, args.sqlite_dir) as store:
        await seed(store, args.posts, args.channels)
        adapter = NoopAdapter()
        app = App(Settings(), store=store, adapters={PLATFORM: adapter}, dispatch_policy=DispatchPolicy())
        dispatcher = app.dispatcher
        started = time.perf_counter()
        await dispatcher.start()
        dispatcher.wake()
        await dispatcher.settle(timeout=args.timeout)
        elapsed = time.perf_counter() - started
        await dispatcher.stop()
        check = await verify(store, adapter, expected)
    return expected / elapsed, check


async def run_naive(backend: Backend, args: argparse.Namespace) -> tuple[float, Check]:
    """The baseline: one claim transaction and one record transaction per delivery."""
    expected = args.baseline_posts * args.channels
    async with fresh_store(backend, args.sqlite_dir) as store:
        await seed(store, args.baseline_posts, args.channels)
        adapter = NoopAdapter()
        app = App(Settings(), store=store, adapters={PLATFORM: adapter})
        clock, composer, me, lease = SystemClock(), app.composer, "naive-loop", timedelta(minutes=5)
        # Posts are read once up front (the naive loop is not charged for reading them per delivery).
        async with store.sessions() as session:
            by_id = {p.id: p for p in (await session.execute(select(Post))).scalars()}
        no_counts = Counts({}, {})
        started = time.perf_counter()
        while True:
            claimed = await claim_due(store, PLATFORM, me, 1, clock.now(), lease)
            if not claimed:
                break
            delivery = claimed[0]
            message = composer.compose(by_id[delivery.post_id], no_counts, delivery.id)
            ref = await adapter.send(ChatRef(PLATFORM, delivery.chat_id), message)
            outcome = SendOutcome(delivery.id, DeliveryState.SENT, message_id=ref.message_id)
            await record_outcomes(store, [outcome], me, clock.now())
        elapsed = time.perf_counter() - started
        check = await verify(store, adapter, expected)
    return expected / elapsed, check


async def main_async(args: argparse.Namespace) -> int:
    backends, note = backends_from(args)
    deliveries = args.posts * args.channels
    layout = f"{args.posts} posts x {args.channels} channels"
    print(f"outbox benchmark: {deliveries:,} deliveries ({layout}) per round, {args.rounds} rounds per backend")
    print(
        f"baseline: naive claim-one/record-one loop over {args.baseline_posts * args.channels:,} deliveries "
        f"({args.baseline_posts} posts x {args.channels} channels) per round"
    )
    policy = DispatchPolicy()
    print(
        f"dispatcher: the App's, default DispatchPolicy (batch_size={policy.batch_size}, "
        f"concurrency={policy.concurrency}); no-op adapter without rate limits; timed until settle()"
    )
    if note:
        print(note)
    figures: dict[str, Any] = {
        "bench": "outbox",
        "policy": {"batch_size": policy.batch_size, "concurrency": policy.concurrency},
        "deliveries": deliveries,
        "layout": layout,
        "baseline_deliveries": args.baseline_posts * args.channels,
        "rounds": args.rounds,
        "goal_sqlite_per_s": GOAL_SQLITE,
        "backends": {},
    }
    if note:
        figures["note"] = note
    rows: list[list[object]] = []
    failures: list[str] = []
    for backend in backends:
        rates: list[float] = []
        naive: list[float] = []
        for round_no in range(1, args.rounds + 1):
            rate, check = await run_dispatcher(backend, args)
            failures += [f"{backend.name} round {round_no} dispatcher: {p}" for p in check.problems]
            base, base_check = await run_naive(backend, args)
            failures += [f"{backend.name} round {round_no} naive loop: {p}" for p in base_check.problems]
            rates.append(rate)
            naive.append(base)
            print(f"  {backend.name} round {round_no}: dispatcher {rate:,.0f}/s, naive {base:,.0f}/s", flush=True)
        med, base_med = median(rates), median(naive)
        rows.append([backend.name, med, min(rates), max(rates), base_med, med / base_med])
        figures["backends"][backend.name] = {
            "median_per_s": round(med, 1),
            "rounds_per_s": [round(r, 1) for r in rates],
            "baseline_median_per_s": round(base_med, 1),
            "baseline_rounds_per_s": [round(r, 1) for r in naive],
            "ratio": round(med / base_med, 2),
        }
    print()
    print_table(["backend", "deliveries/s (median)", "min", "max", "naive loop/s (median)", "ratio"], rows)
    sqlite_median = figures["backends"]["sqlite"]["median_per_s"]
    goal_met = sqlite_median >= GOAL_SQLITE
    figures["goal_met"] = goal_met
    print(f"\ngoal ≥ {GOAL_SQLITE:,.0f} deliveries/s on SQLite: {'met' if goal_met else 'NOT met'}")
    return conclude(
        figures,
        failures,
        "every delivery sent exactly once and recorded sent, in every round and backend",
        goal_met=goal_met,
        enforce_goal=args.enforce_goal,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    add_common_args(parser)
    parser.add_argument("--posts", type=int, default=100, help="posts per round (default %(default)s)")
    parser.add_argument("--channels", type=int, default=100, help="channels each post goes to (default %(default)s)")
    parser.add_argument(
        "--baseline-posts", type=int, default=20, help="posts for the naive baseline round (default %(default)s)"
    )
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds before a round is given up")
    args = parser.parse_args()
    quiet_logging()
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
