"""How punctually does the scheduler publish? 1,000 posts due within one 10-second window.

The real scheduler (APScheduler with the job store in the database, the system clock) publishes
1,000 scheduled posts due 10–20 s after the start. Lateness is measured per post from its due time
(``publish_at``) to the moment the transaction that wrote its delivery row committed (the delivery is
then enqueued: visible to the dispatcher's workers). Goal: p99 ≤ 1 s.

    .venv/bin/python bench/schedule_precision.py                       # SQLite
    .venv/bin/python bench/schedule_precision.py --postgres-url postgresql://postgres@127.0.0.1:5432/test

Prints a table and one JSON line per backend.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import create_async_engine

from adapters.base import Adapter, ChatRef, CommandIssued, EventSink, Limits, MessageRef, OutboundMessage
from adapters.markup import MarkupParser
from bot.clock import SystemClock
from bot.services.compose import Composer
from bot.services.drafts import PostDraft
from bot.services.publishing import ModerationPolicy, PublishingService
from bot.services.roles import Role
from content import posts
from content.db import Store, async_url, create_store
from content.migrate import upgrade
from content.models import Delivery, Post, PostState
from scheduler.service import SchedulerOptions, SchedulerService

GOAL_P99 = 1.0
CONCURRENCY = 25  # posts created at once during the (unmeasured) setup, on PostgreSQL


class NullAdapter(Adapter):
    """Never asked to send here: the benchmark stops at the enqueued delivery."""

    platform = "bench"
    limits = Limits(text_length=100_000)

    async def start(self, sink: EventSink) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def send(self, chat: ChatRef, message: OutboundMessage) -> MessageRef:
        return MessageRef(chat, "0")

    async def edit(self, ref: MessageRef, message: OutboundMessage) -> None:
        return None

    async def delete(self, ref: MessageRef) -> None:
        return None

    async def reply(self, command: CommandIssued, text: str, private: bool = True) -> None:
        return None


@asynccontextmanager
async def fresh_store(backend: str, postgres_url: str | None) -> AsyncIterator[Store]:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="prikbord-bench-") as tmp:
            store = create_store(f"sqlite:///{Path(tmp) / 'bench.db'}")
            try:
                await upgrade(store)
                yield store
            finally:
                await store.close()
        return
    assert postgres_url is not None
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_async_engine(async_url(postgres_url))
    async with admin.begin() as connection:
        await connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    store = create_store(postgres_url, schema=schema)
    try:
        await upgrade(store)
        yield store
    finally:
        await store.close()
        async with admin.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


async def run(backend: str, postgres_url: str | None, count: int, lead: float, window: float) -> dict[str, object]:
    async with fresh_store(backend, postgres_url) as store:
        clock = SystemClock()
        async with store.transaction() as session:
            await posts.sync_channels(session, [("bench", "bench", "bench-chat", ["everyone"])])
        composer = Composer(MarkupParser(), ZoneInfo("UTC"), lambda post: None)
        publishing = PublishingService(
            store, clock, {"bench": NullAdapter()}, composer, ModerationPolicy(), lambda: None
        )
        committed: dict[int, float] = {}

        async def record(post_ids: Sequence[int]) -> None:
            stamp = time.time()
            for post_id in post_ids:
                committed.setdefault(post_id, stamp)

        scheduler = SchedulerService(store, clock, publishing, options=SchedulerOptions())
        publishing.on_change(record)  # first: it stamps the commit before the scheduler's own hook runs
        publishing.on_change(scheduler.post_changed)
        await scheduler.start()
        try:
            # Setup, not measured: the posts, scheduled far ahead, each with its job.
            setup = time.monotonic()
            parked = clock.now() + timedelta(days=1)
            ids: list[int] = []

            async def create(i: int) -> None:
                draft = PostDraft(title=f"Post {i}", body="Due soon.", publish_at=parked)
                ids.append((await publishing.create(draft, "bench", Role.ADMIN)).id)

            # SQLite has one writer at a time: creating concurrently there only adds lock waits.
            at_once = CONCURRENCY if store.is_postgres else 1
            for chunk in range(0, count, at_once):
                async with asyncio.TaskGroup() as group:  # a failure cancels (and awaits) the rest
                    for i in range(chunk, min(count, chunk + at_once)):
                        group.create_task(create(i))
            creating = time.monotonic() - setup
            committed.clear()
            # Now the measured part: all due within one window starting `lead` seconds from now.
            first_due = clock.now() + timedelta(seconds=lead)
            due = {pid: first_due + timedelta(seconds=window * i / count) for i, pid in enumerate(sorted(ids))}
            async with store.transaction() as session:
                # ORM bulk UPDATE by primary key: one executemany.
                await session.execute(update(Post), [{"id": pid, "publish_at": at} for pid, at in due.items()])
            # The date jobs move to the new due times.
            ordered, step = sorted(due), (50 if store.is_postgres else len(due))
            async with asyncio.TaskGroup() as group:
                for i in range(0, len(ordered), step):
                    group.create_task(scheduler.post_changed(ordered[i : i + step]))
            if clock.now() >= first_due:
                print("warning: rescheduling ran past the first due time; raise --lead", file=sys.stderr)
            deadline = time.monotonic() + lead + window + 60
            while time.monotonic() < deadline:
                async with store.sessions() as session:
                    left = await session.scalar(
                        select(func.count()).select_from(Post).where(Post.state == PostState.SCHEDULED)
                    )
                if not left:
                    break
                await asyncio.sleep(0.25)
            async with store.sessions() as session:
                rows = (
                    await session.execute(
                        select(Post.id, Post.publish_at, Post.published_at, func.count(Delivery.id))
                        .join(Delivery, Delivery.post_id == Post.id, isouter=True)
                        .group_by(Post.id, Post.publish_at, Post.published_at)
                    )
                ).all()
        finally:
            await scheduler.stop()
    published = [r for r in rows if r[2] is not None]
    assert all(r[3] == 1 for r in published), "every published post has exactly one delivery"
    late = [committed[r[0]] - r[1].timestamp() for r in published if r[0] in committed]
    early = [r[0] for r in published if r[2] < r[1]]
    return {
        "bench": "schedule_precision",
        "backend": backend,
        "posts": count,
        "published": len(published),
        "published_early": len(early),
        "window_s": window,
        "setup_s": round(creating, 2),
        "p50_ms": round(statistics.median(late) * 1000, 1) if late else None,
        "p90_ms": round(percentile(late, 90) * 1000, 1) if late else None,
        "p99_ms": round(percentile(late, 99) * 1000, 1) if late else None,
        "max_ms": round(max(late) * 1000, 1) if late else None,
        "goal_p99_ms": GOAL_P99 * 1000,
        "goal_met": bool(late) and len(published) == count and not early and percentile(late, 99) <= GOAL_P99,
    }


def table(results: Sequence[dict[str, object]]) -> str:
    head = (
        f"{'backend':<11}{'posts':>7}{'published':>11}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'max ms':>9}  goal p99≤1s"
    )
    lines = [head, "-" * len(head)]
    for r in results:
        lines.append(
            f"{r['backend']!s:<11}{r['posts']!s:>7}{r['published']!s:>11}{r['p50_ms']!s:>9}{r['p90_ms']!s:>9}"
            f"{r['p99_ms']!s:>9}{r['max_ms']!s:>9}  {'met' if r['goal_met'] else 'MISSED'}"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=int, default=1000)
    parser.add_argument("--lead", type=float, default=10.0, help="seconds from the start to the first due post")
    parser.add_argument("--window", type=float, default=10.0, help="seconds over which the due times spread")
    parser.add_argument("--postgres-url", default=os.environ.get("PRIKBORD_TEST_POSTGRES_URL") or None)
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument("--enforce-goal", action="store_true", help="exit 3 when a backend misses the goal")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    backends = ["sqlite"] + ([] if args.sqlite_only or not args.postgres_url else ["postgresql"])
    results = []
    for backend in backends:
        print(
            f"{datetime.now(UTC):%H:%M:%S} {backend}: {args.posts} posts due {args.lead:g}–"
            f"{args.lead + args.window:g}s from now …",
            file=sys.stderr,
        )
        results.append(asyncio.run(run(backend, args.postgres_url, args.posts, args.lead, args.window)))
    print(table(results))
    for result in results:
        print(json.dumps(result))
    if len(backends) == 1 and not args.sqlite_only:
        print("(PostgreSQL skipped: no --postgres-url and PRIKBORD_TEST_POSTGRES_URL is not set)", file=sys.stderr)
    return 3 if args.enforce_goal and not all(r["goal_met"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
