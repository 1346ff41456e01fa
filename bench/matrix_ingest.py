"""Matrix ingest: 5,000 reactions from several people on a real Synapse, through the bridge into the store.

Starts its own Synapse (the test suite's generated config, generous ``rc_*`` limits, the bot exempt from
``rc_message``), registers a bot, a room owner and ``--users`` people, and has the owner create ``--rooms``
public rooms that everyone joins. Per backend, a fresh store and the real App (sync loop, adapter, inbound
router, engagement service with its group commit, counter edits every 2 s) with a fresh bot device.

Each phase publishes ``--posts`` posts to every room (calls to action: acknowledge, poll with six options, like,
poll, RSVP) and then every person reacts to every message with each of ``--keys`` keys (👍 ✅ 1️⃣…6️⃣ ❤️ 🎉): 10
people x 10 rooms x 5 posts x 10 keys = 5,000 reactions. Each person sends from their own matrix-nio client,
``--concurrency`` reactions in flight. The bridge maps them as production does: a key of the message's
actions is a press (✅ acknowledges, keycaps vote, ✅/❌/🤔 answer the RSVP), any other reaction is a like.

- ``live``: the bridge runs while people react. Per reaction the latency from just before its
  ``PUT /send/m.reaction`` to the moment its response is committed (``EngagementService.handle_event``
  returned: wrapped, no polling); events/s = reactions / (last stored - first sent). The homeserver's own
  write rate (reactions accepted per second) is reported beside it: live ingest cannot exceed it.
- ``backlog``: the bridge is stopped while people react (a restart, maintenance), then started on the same
  store; events/s = reactions / (last stored - App.start()). This is the bridge's own ingest rate.

Verified for every phase (exit 1 otherwise): every reaction handled by the engagement service exactly once and
nothing else (no replay, no loss, no duplicate-event outcome, none refused); ``processed_events`` holds exactly
the reactions' event ids; one like per person and post whatever the number of like-ish reactions and rooms,
one acknowledgement per person on the must-read, one vote (RSVP) per person and poll (RSVP post), holding the
option of the last press handled.

    .venv/bin/python bench/matrix_ingest.py [--mode live|backlog|both] [--postgres-url URL] [--users 10]

Only SQLite runs unless ``--postgres-url`` is given (Synapse's write rate dominates the time: ~1 minute per
backend with both phases on 2 cores).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from _common import Backend, backends_from, conclude, fresh_store, print_table, quiet_logging
from _matrix import add_matrix_args, bridge, create_rooms, exempt_from_rate_limits, percentile, start_synapse
from matrix_fanout import SentWatch
from sqlalchemy import func, select

from adapters.base import ActionPressed
from bot.app import App
from bot.services.drafts import CallToAction, PostDraft
from bot.services.roles import Role
from content.db import Store
from content.models import Channel, CtaKind, Delivery, Identity, Post, ProcessedEvent, Response
from content.responses import Outcome
from tests.adapters.harnesses.matrix import Person
from tests.e2e.matrix_bridge import EngagementRecorder
from tests.matrix_server import Login, SynapseServer

BOT = "ingestbot"
OWNER = "ingestowner"
GOAL = 500.0  # events/s
KEYS = ("👍", "✅", "1️⃣", "2️⃣", "3️⃣", "4️⃣", "5️⃣", "6️⃣", "❤️", "🎉")
OPTIONS = ("A", "B", "C", "D", "E", "F")
POSTS: tuple[tuple[str, CallToAction], ...] = (
    ("Nieuwe verlofregeling", CallToAction(CtaKind.ACKNOWLEDGE)),
    ("Lunch vrijdag", CallToAction(CtaKind.POLL, OPTIONS)),
    ("Nieuwe collega", CallToAction(CtaKind.LIKE)),
    ("Uitje in juni", CallToAction(CtaKind.POLL, OPTIONS)),
    ("Open dag", CallToAction(CtaKind.RSVP)),
)


@dataclass
class Sent:
    """Reactions as the people sent them: event id → (person, message, key), and their timings."""

    what: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    started: dict[str, float] = field(default_factory=dict)  # perf_counter just before the PUT
    answered: dict[str, float] = field(default_factory=dict)  # when Synapse answered it


@dataclass
class Phase:
    name: str
    backend: str
    reactions: int
    events_per_s: float
    accepted_per_s: float
    p50_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    problems: list[str]
    # From Synapse's answer to the PUT (the reaction exists) to stored: the bridge's share of the latency.
    after_accept_p50_ms: float | None = None
    after_accept_p99_ms: float | None = None


async def publish_posts(app: App, watch: SentWatch, rooms: int, count: int, tag: str) -> dict[str, int]:
    """``count`` posts to every room; message (event id) → post id once all are sent."""
    ids: list[int] = []
    for n in range(count):
        title, cta = POSTS[n % len(POSTS)]
        draft = PostDraft(title=f"{title} ({tag})", body="Reageer met de knoppen hieronder.", cta=cta)
        ids.append((await app.publishing.create(draft, "matrix:@bench:localhost", Role.MODERATOR)).id)
    for post_id in ids:
        await watch.until(post_id, rooms, 120)
    async with app.store.sessions() as session:
        rows = await session.execute(
            select(Delivery.platform_message_id, Delivery.post_id, Channel.chat_id)
            .join(Channel, Channel.id == Delivery.channel_id)
            .where(Delivery.post_id.in_(ids))
        )
        return {str(message): post_id for message, post_id, _chat in rows.all()}


async def send_reactions(
    people: Sequence[Person], messages: dict[str, str], keys: Sequence[str], concurrency: int
) -> Sent:
    """Every person reacts to every message (event id → room) with every key; ``concurrency`` per person."""
    sent = Sent()
    # Key-major, then message: consecutive reactions of one person go to different rooms and posts.
    work = [(message, room, key) for key in keys for message, room in messages.items()]

    async def person_sends(person: Person) -> None:
        queue = list(reversed(work))

        async def worker() -> None:
            while queue:
                message, room, key = queue.pop()
                started = time.perf_counter()
                event_id = await person.react(room, message, key)
                sent.answered[event_id] = time.perf_counter()
                sent.started[event_id] = started
                sent.what[event_id] = (person.user_id, message, key)

        await asyncio.gather(*(worker() for _ in range(concurrency)))

    await asyncio.gather(*(person_sends(p) for p in people))
    return sent


async def until_handled(recorders: Sequence[EngagementRecorder], count: int, timeout: float) -> None:
    deadline = time.perf_counter() + timeout
    while sum(len(r.handled) for r in recorders) < count:
        if time.perf_counter() > deadline:
            done = sum(len(r.handled) for r in recorders)
            raise TimeoutError(f"{done} of {count} reactions stored after {timeout:g}s")
        await asyncio.sleep(0.01)


def check_handled(sent: Sent, recorders: Sequence[EngagementRecorder]) -> list[str]:
    problems: list[str] = []
    handled = [h for r in recorders for h in r.handled]
    seen = Counter(h.event.event_id for h in handled)
    twice = [e for e, n in seen.items() if n > 1]
    missing = set(sent.what) - set(seen)
    extra = set(seen) - set(sent.what)
    if twice:
        problems.append(f"{len(twice)} reactions handled more than once, e.g. {twice[:3]}")
    if missing:
        problems.append(f"{len(missing)} reactions never stored, e.g. {sorted(missing)[:3]}")
    if extra:
        problems.append(f"{len(extra)} events handled that nobody sent in this phase, e.g. {sorted(extra)[:3]}")
    duplicate = [h for h in handled if h.result.outcome == Outcome.DUPLICATE_EVENT]
    refused = [h for h in handled if h.result.outcome is None]
    if duplicate:
        problems.append(f"{len(duplicate)} reactions came back as duplicate events (a replay)")
    if refused:
        problems.append(f"{len(refused)} reactions refused, e.g. {refused[0].result.text!r}")
    return problems


async def check_store(
    store: Store, sent: Sent, recorders: Sequence[EngagementRecorder], posts: dict[str, int]
) -> list[str]:
    """``processed_events`` and ``responses`` against what was sent (all phases so far of this store)."""
    problems: list[str] = []
    people = {who for who, _message, _key in sent.what.values()}
    post_ids = set(posts.values())
    async with store.sessions() as session:
        processed = set(
            (await session.execute(select(ProcessedEvent.event_id).where(ProcessedEvent.platform == "matrix")))
            .scalars()
            .all()
        )
        kinds = dict(
            (
                await session.execute(
                    select(Response.kind, func.count()).where(Response.post_id.in_(post_ids)).group_by(Response.kind)
                )
            ).all()
        )
        votes = (
            await session.execute(
                select(Response.post_id, Response.identity_id, Response.kind, Response.value).where(
                    Response.post_id.in_(post_ids), Response.kind.in_(("vote", "rsvp"))
                )
            )
        ).all()
        identity_of = dict((await session.execute(select(Identity.id, Identity.platform_user_id))).all())
        options = {p.id: list(p.cta_options) for p in (await session.execute(select(Post))).scalars()}
        cta = {p.id: p.cta_kind for p in (await session.execute(select(Post))).scalars()}
    if processed != set(sent.what):
        missing, extra = len(set(sent.what) - processed), len(processed - set(sent.what))
        problems.append(f"processed_events: {missing} reactions missing, {extra} other event ids")
    per_kind = Counter(cta[p] for p in post_ids)
    expected = {
        "like": len(people) * len(post_ids),
        "ack": len(people) * per_kind[CtaKind.ACKNOWLEDGE],
        "vote": len(people) * per_kind[CtaKind.POLL],
        "rsvp": len(people) * per_kind[CtaKind.RSVP],
    }
    got = {k: int(kinds.get(k, 0)) for k in expected}
    if got != expected:
        problems.append(f"responses per kind {got}, expected {expected} (one per person and post)")
    # The stored choice is the option of the last press handled for that person and post.
    last: dict[tuple[int, str], str] = {}
    for h in (h for r in recorders for h in r.handled):
        event = h.event
        if isinstance(event, ActionPressed) and event.action_id.split(":")[0] in ("vote", "rsvp"):
            post_id = posts.get(event.message.message_id)
            if post_id is not None:
                index = int(event.action_id.split(":")[1])
                last[(post_id, event.user.user_id)] = options[post_id][index - 1]
    stored = {(post_id, identity_of[identity]): value for post_id, identity, _kind, value in votes}
    if stored != last:
        wrong = [k for k in set(stored) | set(last) if stored.get(k) != last.get(k)]
        problems.append(f"{len(wrong)} votes differ from the last press handled, e.g. {wrong[:3]}")
    return problems


def latency_ms(sent: Sent, recorder: EngagementRecorder, since: dict[str, float]) -> list[float]:
    return [(h.at - since[h.event.event_id]) * 1000 for h in recorder.handled if h.event.event_id in since]


def rate(count: int, start: float, end: float) -> float:
    return count / (end - start) if end > start else 0.0


async def run_backend(
    backend: Backend, args: argparse.Namespace, server: SynapseServer, people: list[Person], rooms: list[str]
) -> list[Phase]:
    phases: list[Phase] = []
    keys = KEYS[: args.keys]
    expected = len(people) * len(rooms) * args.posts * len(keys)
    bot: Login = await asyncio.to_thread(server.login, BOT, True)  # a fresh device per store
    async with fresh_store(backend, args.sqlite_dir) as store:
        app = bridge(server, bot, store, rooms, messages_per_second=1000)
        watch = SentWatch(app)
        recorders: list[EngagementRecorder] = []
        all_sent = Sent()
        all_posts: dict[str, int] = {}
        await app.start()
        try:
            room_of = {}
            if args.mode in ("live", "both"):
                posts = await publish_posts(app, watch, len(rooms), args.posts, f"{backend.name} live")
                all_posts.update(posts)
                room_of = await _rooms_of(app, posts)
                recorder = EngagementRecorder().attach(app)
                recorders.append(recorder)
                sent = await send_reactions(people, room_of, keys, args.concurrency)
                await until_handled([recorder], expected, args.timeout)
                first = min(sent.started.values())
                latencies = latency_ms(sent, recorder, sent.started)
                after_accept = latency_ms(sent, recorder, sent.answered)
                problems = check_handled(sent, [recorder])
                phases.append(
                    Phase(
                        "live",
                        backend.name,
                        len(sent.what),
                        rate(len(sent.what), first, max(h.at for h in recorder.handled)),
                        rate(len(sent.what), first, max(sent.answered.values())),
                        percentile(latencies, 0.50),
                        percentile(latencies, 0.99),
                        max(latencies),
                        problems,
                        percentile(after_accept, 0.50),
                        percentile(after_accept, 0.99),
                    )
                )
                _merge(all_sent, sent)
                _report(phases[-1])
            if args.mode in ("backlog", "both"):
                posts = await publish_posts(app, watch, len(rooms), args.posts, f"{backend.name} backlog")
                all_posts.update(posts)
                room_of = await _rooms_of(app, posts)
                await app.stop()  # the bridge goes down; people keep reacting
                sent = await send_reactions(people, room_of, keys, args.concurrency)
                accepted = rate(len(sent.what), min(sent.started.values()), max(sent.answered.values()))
                app = bridge(server, bot, store, rooms, messages_per_second=1000)
                recorder = EngagementRecorder().attach(app)
                recorders.append(recorder)
                started = time.perf_counter()
                await app.start()
                await until_handled([recorder], expected, args.timeout)
                problems = check_handled(sent, [recorder])
                phases.append(
                    Phase(
                        "backlog",
                        backend.name,
                        len(sent.what),
                        rate(len(sent.what), started, max(h.at for h in recorder.handled)),
                        accepted,
                        None,
                        None,
                        None,
                        problems,
                    )
                )
                _merge(all_sent, sent)
                _report(phases[-1])
            await asyncio.sleep(0.5)  # a replayed or late event would show up now
            await app.settle()
            store_problems = check_handled(all_sent, recorders) + await check_store(
                store, all_sent, recorders, all_posts
            )
            phases[-1].problems += [f"store: {p}" for p in store_problems]
        finally:
            await app.stop()
    return phases


async def _rooms_of(app: App, posts: dict[str, int]) -> dict[str, str]:
    async with app.store.sessions() as session:
        rows = await session.execute(
            select(Delivery.platform_message_id, Channel.chat_id)
            .join(Channel, Channel.id == Delivery.channel_id)
            .where(Delivery.platform_message_id.in_(list(posts)))
        )
        return {str(message): chat for message, chat in rows.all()}


def _merge(into: Sent, sent: Sent) -> None:
    into.what.update(sent.what)
    into.started.update(sent.started)
    into.answered.update(sent.answered)


def _report(phase: Phase) -> None:
    latency = ""
    if phase.p50_ms is not None:
        latency = (
            f"; latency sent → stored p50 {phase.p50_ms:.0f} ms, p99 {phase.p99_ms or 0:.0f} ms (after Synapse's "
            f"answer: p50 {phase.after_accept_p50_ms or 0:.0f} ms, p99 {phase.after_accept_p99_ms or 0:.0f} ms)"
        )
    print(
        f"  {phase.backend} {phase.name}: {phase.reactions:,} reactions stored at {phase.events_per_s:,.0f}/s "
        f"(Synapse accepted {phase.accepted_per_s:,.0f}/s){latency}",
        flush=True,
    )


async def main_async(args: argparse.Namespace) -> int:
    backends, note = backends_from(args)
    keys = KEYS[: args.keys]
    total = args.users * args.rooms * args.posts * len(keys)
    print(
        f"matrix ingest benchmark: {total:,} reactions per phase ({args.users} people x {args.rooms} rooms x "
        f"{args.posts} posts x {len(keys)} keys), {args.concurrency} in flight per person; phases: {args.mode}"
    )
    if note:
        print(note)
    started = time.perf_counter()
    pool, server = await asyncio.to_thread(start_synapse, args, "ingest")
    people: list[Person] = []
    owner: Person | None = None
    phases: list[Phase] = []
    try:
        names = [f"p{n:02d}" for n in range(args.users)]
        await asyncio.to_thread(server.register, BOT, OWNER, *names)
        await exempt_from_rate_limits(server, server.user_id(BOT))
        owner = await Person.create(server, OWNER)
        rooms = await create_rooms(owner, [server.user_id(BOT)], args.rooms)
        people = [await Person.create(server, name) for name in names]
        gate = asyncio.Semaphore(8)

        async def join(person: Person, room: str) -> None:
            async with gate:
                await person.join(room)

        await asyncio.gather(*(join(p, r) for p in people for r in rooms))
        print(
            f"Synapse on {server.base_url} (data in {args.synapse_dir or 'the temp dir'}); set-up "
            f"{time.perf_counter() - started:.1f}s"
        )
        for backend in backends:
            phases += await run_backend(backend, args, server, people, rooms)
    finally:
        for person in [*people, *([owner] if owner else [])]:
            await person.close()
        await asyncio.to_thread(pool.close)

    print()
    print_table(
        [
            "backend",
            "phase",
            "reactions",
            "events/s stored",
            "Synapse accepted/s",
            "p50 ms",
            "p99 ms",
            "max ms",
            "p50 ms after answer",
            "p99 ms after answer",
        ],
        [
            [
                p.backend,
                p.name,
                p.reactions,
                p.events_per_s,
                p.accepted_per_s,
                "-" if p.p50_ms is None else round(p.p50_ms),
                "-" if p.p99_ms is None else round(p.p99_ms),
                "-" if p.max_ms is None else round(p.max_ms),
                "-" if p.after_accept_p50_ms is None else round(p.after_accept_p50_ms),
                "-" if p.after_accept_p99_ms is None else round(p.after_accept_p99_ms),
            ]
            for p in phases
        ],
    )
    failures = [f"{p.backend} {p.name}: {problem}" for p in phases for problem in p.problems]
    bridge_rates = [p.events_per_s for p in phases if p.name == "backlog"]
    live_rates = [p.events_per_s for p in phases if p.name == "live"]
    goal_met = bool(bridge_rates) and min(bridge_rates) >= GOAL
    figures: dict[str, Any] = {
        "bench": "matrix_ingest",
        "reactions_per_phase": total,
        "layout": {"people": args.users, "rooms": args.rooms, "posts": args.posts, "keys": len(keys)},
        "concurrency_per_person": args.concurrency,
        "phases": [
            {
                "backend": p.backend,
                "phase": p.name,
                "reactions": p.reactions,
                "events_per_s": round(p.events_per_s, 1),
                "synapse_accepted_per_s": round(p.accepted_per_s, 1),
                **(
                    {
                        "p50_ms": round(p.p50_ms, 1),
                        "p99_ms": round(p.p99_ms or 0, 1),
                        "max_ms": round(p.max_ms or 0),
                        "after_accept_p50_ms": round(p.after_accept_p50_ms or 0, 1),
                        "after_accept_p99_ms": round(p.after_accept_p99_ms or 0, 1),
                    }
                    if p.p50_ms is not None
                    else {}
                ),
            }
            for p in phases
        ],
        "goal_events_per_s": GOAL,
        "goal_met": goal_met if bridge_rates else None,
        "verified": not failures,
    }
    if bridge_rates:
        print(
            f"\ngoal ≥ {GOAL:,.0f} events/s (the bridge's own rate, backlog phase): "
            f"{'met' if goal_met else 'NOT met'} ({min(bridge_rates):,.0f}/s)"
        )
    if live_rates:
        print(
            "live: bounded by the homeserver's write rate (Synapse accepted/s); latency after Synapse's answer is "
            "the share of the sync and the bridge"
        )
    return conclude(
        figures,
        failures,
        "every reaction stored exactly once, none missed; one response per person, post and kind",
        goal_met=goal_met,
        enforce_goal=args.enforce_goal,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--postgres-url",
        default=None,
        help="also run on this PostgreSQL server (default: SQLite only; Synapse's write rate dominates the time)",
    )
    parser.add_argument("--sqlite-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--sqlite-dir", default=None, help="directory for the temporary SQLite store")
    parser.add_argument("--enforce-goal", action="store_true", help="exit 3 when the goal is missed")
    add_matrix_args(parser)
    parser.add_argument("--mode", choices=("live", "backlog", "both"), default="both")
    parser.add_argument("--users", type=int, default=10, help="people reacting (default %(default)s)")
    parser.add_argument("--rooms", type=int, default=10, help="rooms every post goes to (default %(default)s)")
    parser.add_argument("--posts", type=int, default=5, help="posts per phase (default %(default)s)")
    parser.add_argument("--keys", type=int, default=10, choices=range(1, len(KEYS) + 1), help="keys per message")
    parser.add_argument("--concurrency", type=int, default=6, help="reactions in flight per person")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the bridge per phase")
    args = parser.parse_args()
    quiet_logging()
    logging.getLogger("prikbord.notify").setLevel(logging.ERROR)
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
