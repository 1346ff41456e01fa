"""Ingest throughput: inbound engagement events through EngagementService into the store.

Each round seeds a fresh store with four published posts (call to action like, acknowledge, poll with three
options, RSVP yes/no/maybe), each sent to 10 channels (deliveries ``sent`` with platform message ids), and
replays a seeded, pseudo-random stream of normalized inbound events (``ActionPressed`` / ``ReactionAdded``
on those messages, resolved message ref → delivery → post by the service): like presses and 👍 reactions
(many repeats by the same people), other reactions on the must-read (likes), acknowledgements, votes and
RSVPs that change, keycap reactions (votes), and exact re-deliveries of earlier event ids (platform
retries, including an old vote arriving again after a newer one). Several hundred distinct people;
``--concurrency`` submitters run at once, each owning a fixed set of people and awaiting every event
before sending that person's next (so per person the order is the stream's order), which lets the
service's writer batch what is queued.

The baseline, in the same run and on the same backend, is the one-commit-per-event mode
(``EngagementService(max_batch=1)``) over a shorter stream of the same mix (``--baseline-events``, with
people scaled so each person sends as many events as in the main stream).

Verified every round: each event's outcome equals a pure-Python model of the stream (first time counted,
repeat already counted, changed vote, duplicate event id); every distinct event id is in
``processed_events`` exactly once; the stored responses equal the model's (one like/ack per person and
post, latest vote/RSVP wins); ``counts_for`` equals the model's counts. Any mismatch exits 1.

    .venv/bin/python bench/ingest.py [--rounds 3] [--postgres-url URL] [--sqlite-only]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
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

from adapters.base import ActionPressed, ChatRef, MessageRef, ReactionAdded, UserRef
from bot.clock import SystemClock
from bot.services.compose import KEYCAPS
from bot.services.engagement import EngagementService
from content.db import Store
from content.models import (
    Channel,
    CtaKind,
    Delivery,
    DeliveryState,
    Identity,
    Post,
    PostKind,
    PostState,
    ProcessedEvent,
    Response,
    ResponseKind,
)
from content.outbox import add_deliveries
from content.people import ensure_identity
from content.responses import Outcome, counts_for

PLATFORM = "bench"
GOAL_SQLITE = 5000.0  # events/s
CHANNELS = 10
POLL_OPTIONS = ["Pizza", "Sushi", "Salade"]
RSVP_OPTIONS = ["yes", "no", "maybe"]
# role → (call to action, options)
POSTS: dict[str, tuple[CtaKind, list[str]]] = {
    "like": (CtaKind.LIKE, []),
    "ack": (CtaKind.ACKNOWLEDGE, []),
    "poll": (CtaKind.POLL, POLL_OPTIONS),
    "rsvp": (CtaKind.RSVP, RSVP_OPTIONS),
}

# ---------------------------------------------------------------------------------------------
# The event stream and its model


@dataclass(frozen=True, slots=True)
class Planned:
    """One inbound event as the platform would send it, with what it means."""

    person: int
    event_id: str
    role: str  # which post
    channel: int  # the chat the person sees the post in
    reaction: bool  # ReactionAdded (else ActionPressed)
    action: str  # action id of the press, or the emoji of the reaction
    kind: ResponseKind
    value: str | None


@dataclass
class Stream:
    events: list[Planned]
    expected: list[Outcome]  # per event, in stream order
    final: dict[tuple[str, int, str], str | None]  # (role, person, kind) → value
    distinct_ids: set[str]
    people: int


def _fresh(rng: random.Random, person: int, event_id: str) -> Planned:
    channel = person % CHANNELS
    pick = rng.random()
    if pick < 0.34:
        return Planned(person, event_id, "like", channel, False, "like", ResponseKind.LIKE, None)
    if pick < 0.44:
        return Planned(person, event_id, "like", channel, True, "👍", ResponseKind.LIKE, None)
    if pick < 0.50:
        emoji = rng.choice(["❤️", "🎉"])
        return Planned(person, event_id, "ack", channel, True, emoji, ResponseKind.LIKE, None)
    if pick < 0.66:
        return Planned(person, event_id, "ack", channel, False, "ack", ResponseKind.ACK, None)
    if pick < 0.82:
        n = rng.randint(1, len(POLL_OPTIONS))
        return Planned(person, event_id, "poll", channel, False, f"vote:{n}", ResponseKind.VOTE, POLL_OPTIONS[n - 1])
    if pick < 0.88:
        n = rng.randint(1, len(POLL_OPTIONS))
        return Planned(person, event_id, "poll", channel, True, KEYCAPS[n - 1], ResponseKind.VOTE, POLL_OPTIONS[n - 1])
    n = rng.randint(1, len(RSVP_OPTIONS))
    return Planned(person, event_id, "rsvp", channel, False, f"rsvp:{n}", ResponseKind.RSVP, RSVP_OPTIONS[n - 1])


def make_stream(n_events: int, n_people: int, seed: int, retry_share: float = 0.08) -> Stream:
    """A seeded stream of ``n_events`` events and the model's verdict on each."""
    rng = random.Random(seed)
    history: dict[int, list[Planned]] = defaultdict(list)
    events: list[Planned] = []
    for n in range(n_events):
        person = rng.randrange(n_people)
        earlier = history[person]
        if earlier and rng.random() < retry_share:
            event = rng.choice(earlier)  # the platform delivers an earlier event again, id and all
        else:
            event = _fresh(rng, person, f"evt-{seed}-{n}")
            earlier.append(event)
        events.append(event)
    # The model: per person in stream order (the submitters keep that order).
    seen: set[str] = set()
    state: dict[tuple[str, int, str], str | None] = {}
    expected: list[Outcome] = []
    for event in events:
        if event.event_id in seen:
            expected.append(Outcome.DUPLICATE_EVENT)
            continue
        seen.add(event.event_id)
        key = (event.role, event.person, event.kind.value)
        if key not in state:
            expected.append(Outcome.COUNTED)
        elif state[key] == event.value:
            expected.append(Outcome.ALREADY)
        else:
            expected.append(Outcome.CHANGED)
        state[key] = event.value
    return Stream(events, expected, state, seen, n_people)


def expected_counts(stream: Stream) -> dict[str, tuple[dict[str, int], dict[str, int]]]:
    """role → (kind → people, option → people), as ``counts_for`` reports them."""
    by_kind: dict[str, Counter[str]] = defaultdict(Counter)
    by_value: dict[str, Counter[str]] = defaultdict(Counter)
    for (role, _person, kind), value in stream.final.items():
        by_kind[role][kind] += 1
        if kind in (ResponseKind.VOTE, ResponseKind.RSVP) and value is not None:
            by_value[role][value] += 1
    return {role: (dict(by_kind[role]), dict(by_value[role])) for role in POSTS}


# ---------------------------------------------------------------------------------------------
# Store set-up, the run, verification


@dataclass
class Seeded:
    post_ids: dict[str, int]  # role → post id
    messages: dict[tuple[str, int], str]  # (role, channel index) → platform message id


async def seed(store: Store, known_people: int) -> Seeded:
    """Channels, four published posts and their deliveries, already sent (as the dispatcher leaves them), and
    people ``u0`` … ``u{known_people-1}`` known from earlier engagement (an employee and an identity each)."""
    now = datetime.now(UTC)
    async with store.transaction() as session:
        for person in range(known_people):
            await ensure_identity(session, PLATFORM, f"u{person}", f"Person {person}", now)
    async with store.transaction() as session:
        channels = [
            Channel(name=f"bench-{i}", platform=PLATFORM, chat_id=f"chat-{i}", tags=["everyone"], enabled=True)
            for i in range(CHANNELS)
        ]
        session.add_all(channels)
        await session.flush()
    index = {c.id: i for i, c in enumerate(channels)}
    seeded = Seeded({}, {})
    for role, (cta, options) in POSTS.items():
        async with store.transaction() as session:
            post = Post(
                kind=PostKind.NEWS,
                title=f"bench {role}",
                body="Wat vind jij?",
                cta_kind=cta,
                cta_options=list(options),
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
            await session.flush()
            for delivery in (await session.execute(select(Delivery).where(Delivery.post_id == post.id))).scalars():
                delivery.state, delivery.sent_at = DeliveryState.SENT, now
                delivery.platform_message_id = f"msg-{delivery.id}"
                seeded.messages[(role, index[delivery.channel_id])] = delivery.platform_message_id
            seeded.post_ids[role] = post.id
    return seeded


def to_event(planned: Planned, seeded: Seeded) -> ActionPressed | ReactionAdded:
    user = UserRef(PLATFORM, f"u{planned.person}", f"Person {planned.person}")
    chat = ChatRef(PLATFORM, f"chat-{planned.channel}")
    message = MessageRef(chat, seeded.messages[(planned.role, planned.channel)])
    if planned.reaction:
        return ReactionAdded(planned.event_id, user, message, planned.action)
    return ActionPressed(planned.event_id, user, message, planned.action)


@dataclass
class Check:
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


async def run_round(
    backend: Backend, stream: Stream, max_batch: int, concurrency: int, sqlite_dir: str | None, known: int
) -> tuple[float, Check]:
    """Submit the stream through EngagementService; returns (events/s, check)."""
    async with fresh_store(backend, sqlite_dir) as store:
        seeded = await seed(store, known)
        service = EngagementService(store, SystemClock(), counters=None, max_batch=max_batch)
        await service.start()
        workers = min(concurrency, stream.people)
        lanes: list[list[int]] = [[] for _ in range(workers)]
        for position, planned in enumerate(stream.events):
            lanes[planned.person % workers].append(position)
        events = [to_event(p, seeded) for p in stream.events]
        outcomes: list[Outcome | None] = [None] * len(events)

        async def submitter(lane: list[int]) -> None:
            for position in lane:
                outcomes[position] = (await service.handle_event(events[position])).outcome

        started = time.perf_counter()
        await asyncio.gather(*(submitter(lane) for lane in lanes))
        elapsed = time.perf_counter() - started
        await service.stop()
        check = await verify(store, stream, seeded, outcomes, known)
    return len(events) / elapsed, check


async def verify(store: Store, stream: Stream, seeded: Seeded, outcomes: list[Outcome | None], known: int) -> Check:
    check = Check()
    wrong = [(i, o, e) for i, (o, e) in enumerate(zip(outcomes, stream.expected, strict=True)) if o != e]
    if wrong:
        i, got, want = wrong[0]
        check.problems.append(
            f"{len(wrong)} outcomes differ from the model, e.g. event {stream.events[i].event_id}: {got} != {want}"
        )
    role_of = {post_id: role for role, post_id in seeded.post_ids.items()}
    async with store.sessions() as session:
        ids = (await session.execute(select(ProcessedEvent.platform, ProcessedEvent.event_id))).all()
        rows = (
            await session.execute(
                select(Response.post_id, Identity.platform_user_id, Response.kind, Response.value).join(
                    Identity, Identity.id == Response.identity_id
                )
            )
        ).all()
        identities = await session.scalar(select(func.count()).select_from(Identity))
        counts = await counts_for(session, list(seeded.post_ids.values()))
    stored_ids = Counter(event_id for platform, event_id in ids if platform == PLATFORM)
    if len(ids) != len(stream.distinct_ids) or set(stored_ids) != stream.distinct_ids:
        missing, extra = stream.distinct_ids - set(stored_ids), set(stored_ids) - stream.distinct_ids
        check.problems.append(
            f"processed_events holds {len(ids)} ids for {len(stream.distinct_ids)} distinct events "
            f"({len(missing)} missing, {len(extra)} unexpected)"
        )
    if any(n != 1 for n in stored_ids.values()):
        check.problems.append("an event id is stored more than once in processed_events")
    stored: dict[tuple[str, int, str], str | None] = {}
    for post_id, user_id, kind, value in rows:
        key = (role_of[post_id], int(user_id.removeprefix("u")), kind)
        if key in stored:
            check.problems.append(f"two {kind} responses for person {user_id} on #{post_id}")
        stored[key] = value
    if stored != stream.final:
        differ = [k for k in stream.final.keys() | stored.keys() if stream.final.get(k, "∅") != stored.get(k, "∅")]
        k = sorted(differ)[0]
        check.problems.append(
            f"{len(differ)} stored responses differ from the model, e.g. {k}: "
            f"stored {stored.get(k, '(none)')!r}, expected {stream.final.get(k, '(none)')!r}"
        )
    people = {p.person for p in stream.events} | set(range(known))
    if identities != len(people):
        check.problems.append(f"{identities} identities for {len(people)} people")
    for role, (by_kind, by_value) in expected_counts(stream).items():
        counted = counts[seeded.post_ids[role]]
        if counted.by_kind != by_kind or counted.by_value != by_value:
            check.problems.append(
                f"counts on the {role} post: {counted.by_kind} / {counted.by_value}, expected {by_kind} / {by_value}"
            )
    return check


# ---------------------------------------------------------------------------------------------


async def main_async(args: argparse.Namespace) -> int:
    backends, note = backends_from(args)
    baseline_people = max(1, round(args.people * args.baseline_events / args.events))
    stream = make_stream(args.events, args.people, args.seed)
    baseline = make_stream(args.baseline_events, baseline_people, args.seed + 1)
    mix = Counter(e.kind.value for e in stream.events)
    retries = sum(1 for o in stream.expected if o == Outcome.DUPLICATE_EVENT)
    print(
        f"ingest benchmark: {len(stream.events):,} events per round ({len(stream.distinct_ids):,} distinct ids, "
        f"{retries:,} platform retries), {args.people} people, {args.concurrency} concurrent submitters, "
        f"{args.rounds} rounds per backend"
    )
    print(
        "  mix: " + ", ".join(f"{k} {n:,}" for k, n in sorted(mix.items())) + "; outcomes expected: " + _tally(stream)
    )
    print(
        f"baseline: EngagementService(max_batch=1), one commit per event, over {args.baseline_events:,} events "
        f"of the same mix ({baseline_people} people) per round; main run max_batch={args.max_batch}"
    )
    known = min(args.known_people, args.people)
    print(
        f"people: {known} known to the store beforehand, {args.people - known} created on first sight; "
        "the service's caches start empty every round; no counter edits (counters=None)"
    )
    if note:
        print(note)
    figures: dict[str, Any] = {
        "bench": "ingest",
        "known_people": known,
        "events": len(stream.events),
        "distinct_event_ids": len(stream.distinct_ids),
        "people": args.people,
        "concurrency": args.concurrency,
        "max_batch": args.max_batch,
        "baseline_events": args.baseline_events,
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
            rate, check = await run_round(
                backend, stream, args.max_batch, args.concurrency, args.sqlite_dir, args.known_people
            )
            failures += [f"{backend.name} round {round_no} batched: {p}" for p in check.problems]
            base, base_check = await run_round(
                backend, baseline, 1, args.concurrency, args.sqlite_dir, min(args.known_people, baseline_people)
            )
            failures += [f"{backend.name} round {round_no} one-commit-per-event: {p}" for p in base_check.problems]
            rates.append(rate)
            naive.append(base)
            print(f"  {backend.name} round {round_no}: batched {rate:,.0f}/s, one commit per event {base:,.0f}/s")
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
    print_table(["backend", "events/s (median)", "min", "max", "one commit/event /s (median)", "ratio"], rows)
    goal_met = figures["backends"]["sqlite"]["median_per_s"] >= GOAL_SQLITE
    figures["goal_met"] = goal_met
    print(f"\ngoal ≥ {GOAL_SQLITE:,.0f} events/s on SQLite: {'met' if goal_met else 'NOT met'}")
    return conclude(
        figures,
        failures,
        "every outcome as modelled, every distinct event id stored once, responses and counts "
        "equal the model, in every round and backend",
        goal_met=goal_met,
        enforce_goal=args.enforce_goal,
    )


def _tally(stream: Stream) -> str:
    tally = Counter(stream.expected)
    return ", ".join(f"{o.value} {tally[o]:,}" for o in Outcome if tally[o])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    add_common_args(parser)
    parser.add_argument("--events", type=int, default=20_000, help="events per round (default %(default)s)")
    parser.add_argument("--people", type=int, default=400, help="distinct people (default %(default)s)")
    parser.add_argument("--concurrency", type=int, default=64, help="concurrent submitters (default %(default)s)")
    parser.add_argument("--max-batch", type=int, default=256, help="EngagementService max_batch (default 256)")
    parser.add_argument(
        "--baseline-events", type=int, default=2_000, help="events per one-commit-per-event round (default 2000)"
    )
    parser.add_argument(
        "--known-people",
        type=int,
        default=0,
        help="people (u0…) the store knows before the stream; the rest are created on first sight (default 0)",
    )
    parser.add_argument("--seed", type=int, default=2, help="seed of the event stream (default %(default)s)")
    args = parser.parse_args()
    quiet_logging()
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
