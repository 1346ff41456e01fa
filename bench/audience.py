"""Audience queries at scale: one post's reach and who has not acknowledged, over 10,000 people and 200 channels.

- **Work:** per round a fresh store, loaded with bulk inserts (SQLAlchemy Core, not the services): 10,000
  people (``--people``), a share linked across two platforms as one employee (``--linked``, 15 %); 200
  channels (``--slack`` 120, ``--matrix`` 50, ``--telegram`` 30), each identity in 1–3 channels of its
  platform (the first channel of each platform is a "general" most are in); one must-read post delivered
  (``sent``) to every channel, each at its own ``sent_at``. Membership periods: most joined long before;
  some left before the post, some joined after it, some left and rejoined before it, some left after it, a
  few joined or left exactly at ``sent_at``, and in Telegram some are known only by being seen after the post
  (source ``seen``). The Telegram channels are partial: their known members are given with
  ``audience.apply_member_list(..., partial=True, count=...)``, the count above the known members (one count
  below them, one unknown). About 40 % of the people reached acknowledged (``--acked``), a few people not
  reached by membership responded too, and 10 % liked.
- **Measured:** ``reach_of(session, [post])``, ``reach_by_platform(session, [post])``,
  ``reached_people(session, post)`` and ``missing(session, post, "ack")``, each in a read session of its own,
  after six untimed calls of each (warm connection pool and compiled statements, as in a running web app;
  PostgreSQL plans a prepared statement generically from its sixth run on, which is what a running app
  meets).
  On PostgreSQL the tables are ANALYZEd after loading (as autovacuum would). Reported: ms per query, the
  median of ``--rounds`` (7).
- **Baseline:** a naive computation in the same round on the same store: every membership, identity,
  delivery, response and channel (and, for the people lists, every employee) loaded into Python as rows
  and the same answer computed there, per query.
- **Verified (exit 1 otherwise):** every query's answer equals the naive one, every round: the reach
  (value, estimate, known), the reach per platform, the people reached (ids, directory fields, platforms,
  identities, order) and the people missing. The data must also exercise what the queries decide (people
  excluded by their periods, linked people counted once, an estimate from partial channels, acknowledgements),
  so the comparison cannot pass on an empty answer.
- **Goal:** the reach and who-has-not queries (``reach_of``, ``reach_by_platform``, ``missing``) ≤ 200 ms
  (median) on every backend run; ``reached_people`` (every person reached, ~9,600 here) is shown beside
  them without a bound.

    .venv/bin/python bench/audience.py [--rounds 7] [--postgres-url URL] [--sqlite-only] [--enforce-goal]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from _common import Backend, add_common_args, backends_from, conclude, fresh_store, median, print_table, quiet_logging
from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from content import audience
from content.audience import Reach, ReachedPerson
from content.db import Store
from content.models import (
    Channel,
    CtaKind,
    Delivery,
    DeliveryState,
    Employee,
    Identity,
    Membership,
    MembershipSource,
    Post,
    PostKind,
    PostState,
    Response,
    table_of,
)

GOAL_MS = 200.0
WARM_UP = 6  # untimed calls of each query first: pool connections, compiled and prepared statements
POST_ID = 1
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # the post is sent at T0 + 0–120 s, channel by channel
LONG_AGO, LISTED_AT = T0 - timedelta(days=60), T0 - timedelta(days=30)
PRIMARY = {"slack": 0.6, "matrix": 0.25, "telegram": 0.15}  # each person's first platform
FIRST = ("Ann", "Bob", "Cas", "Dee", "Eva", "Fen", "Gijs", "Hanna", "Ivo", "Joke", "Kees", "Lotte", "Mo", "Noor")
LAST = ("Jansen", "de Vries", "Bakker", "Visser", "Smit", "Meijer", "de Boer", "Mulder", "Bos", "Peters")
DEPARTMENTS = ("HR", "Finance", "Sales", "Support", "Engineering", "Logistics", "Legal")
LOCATIONS = ("Amsterdam", "Utrecht", "Rotterdam", "Eindhoven", "remote")
QUERIES = ("reach_of", "reach_by_platform", "reached_people", "missing")
# What issue 13 bounds: a post's reach and who has not acknowledged. reached_people, the whole list of the
# people reached (the post page's and the CSV's), is measured beside them without that bound.
BOUNDED = ("reach_of", "reach_by_platform", "missing")
TABLES = "employees, identities, channels, posts, deliveries, memberships, responses"


# ---------------------------------------------------------------------------------------------
# The data


@dataclass
class Plan:
    """Rows for the bulk inserts, plus the Telegram member lists given to ``apply_member_list``."""

    employees: list[dict[str, Any]] = field(default_factory=list)
    identities: list[dict[str, Any]] = field(default_factory=list)
    channels: list[dict[str, Any]] = field(default_factory=list)
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    memberships: list[dict[str, Any]] = field(default_factory=list)
    listed: dict[int, list[int]] = field(default_factory=dict)  # Telegram channel -> known members
    counts: dict[int, int | None] = field(default_factory=dict)  # Telegram channel -> member_count
    responses: list[dict[str, Any]] = field(default_factory=list)
    periods: Counter[str] = field(default_factory=Counter)


Period = tuple[datetime, datetime | None, MembershipSource]


def _periods(r: float, sent: datetime, minutes: timedelta, telegram: bool) -> tuple[str, list[Period], bool]:
    """The kind of one identity's membership of one channel (by ``r`` in [0, 1)), its periods, and whether
    it makes the identity a member when the channel received the post."""
    event, seen = MembershipSource.EVENT, MembershipSource.SEEN
    kinds: list[tuple[float, str, list[Period], bool]] = [
        (0.08, "left before", [(LONG_AGO, sent - minutes, event)], False),
        (0.13, "joined after", [(sent + minutes, None, event)], False),
        (
            0.16,
            "left and rejoined before",
            [(T0 - timedelta(days=90), LONG_AGO, event), (sent - minutes, None, event)],
            True,
        ),
        (0.19, "left after", [(LONG_AGO, sent + minutes, event)], True),
        (0.195, "joined at sent_at", [(sent, None, event)], True),
        (0.20, "left at sent_at", [(LONG_AGO, sent, event)], False),
        (0.23 if telegram else 0.20, "seen after", [(sent + minutes, None, seen)], True),
    ]
    for below, name, periods, counted in kinds:
        if r < below:
            return name, periods, counted
    return "member", [] if telegram else [(LONG_AGO, None, event)], True  # Telegram's: from the member list


def _membership(plan: Plan, rng: random.Random, channel: int, identity: int, sent: datetime, telegram: bool) -> bool:
    """One identity's membership of one channel; True when it makes the identity a member at delivery."""
    name, periods, counted = _periods(rng.random(), sent, timedelta(minutes=rng.randint(1, 600)), telegram)
    plan.periods[name] += 1
    for joined, left, source in periods:
        row = {"channel_id": channel, "identity_id": identity, "joined_at": joined, "left_at": left}
        plan.memberships.append({**row, "source": source.value})
    if telegram and name == "member":
        plan.listed.setdefault(channel, []).append(identity)
    return counted


def make_plan(args: argparse.Namespace) -> Plan:
    rng, plan = random.Random(args.seed), Plan()
    by_platform: dict[str, list[int]] = defaultdict(list)
    sent_at: dict[int, datetime] = {}
    for platform, n in (("slack", args.slack), ("matrix", args.matrix), ("telegram", args.telegram)):
        for i in range(n):
            cid = len(plan.channels) + 1
            by_platform[platform].append(cid)
            sent_at[cid] = T0 + timedelta(seconds=round(rng.uniform(0, 120), 3))
            name = f"{platform}-{'general' if i == 0 else i}"
            plan.channels.append({"id": cid, "name": name, "platform": platform, "chat_id": f"{platform}-chat-{i}"})
            plan.deliveries.append(
                {
                    "id": cid,
                    "post_id": POST_ID,
                    "channel_id": cid,
                    "platform": platform,
                    "state": DeliveryState.SENT.value,
                    "attempts": 1,
                    "next_attempt_at": T0,
                    "platform_message_id": f"m{cid}",
                    "sent_at": sent_at[cid],
                }
            )
    for e in range(1, args.people + 1):
        plan.employees.append(
            {
                "id": e,
                "name": f"{rng.choice(FIRST)} {rng.choice(LAST)}",  # names repeat: ordered by name, then id
                "email": None if rng.random() < 0.05 else f"p{e}@example.org",
                "department": None if rng.random() < 0.05 else rng.choice(DEPARTMENTS),
                "location": None if rng.random() < 0.05 else rng.choice(LOCATIONS),
                "language": "nl",
                "created_at": T0 - timedelta(days=120),
            }
        )
        first = rng.choices(list(PRIMARY), weights=list(PRIMARY.values()))[0]
        platforms = [first]
        if rng.random() < args.linked:
            platforms.append(rng.choice([p for p in PRIMARY if p != first]))
        counted = False
        mine: list[tuple[int, str, int]] = []  # (identity, platform, a channel it is in)
        for platform in platforms:
            iid = len(plan.identities) + 1
            plan.identities.append(
                {
                    "id": iid,
                    "platform": platform,
                    "platform_user_id": f"{platform}-u{e}",
                    "display_name": f"u{e}",
                    "employee_id": e,
                    "linked_how": "directory" if len(platforms) > 1 else None,
                }
            )
            general, others = by_platform[platform][0], by_platform[platform][1:]
            wanted = rng.randint(1, 3)
            chosen = [general] if rng.random() < 0.7 else []
            chosen += rng.sample(others, wanted - len(chosen)) if wanted > len(chosen) else []
            for cid in chosen:
                counted |= _membership(plan, rng, cid, iid, sent_at[cid], platform == "telegram")
            mine.append((iid, platform, chosen[0]))
        _responses(plan, rng, e, mine, args.acked if counted else 0.02)
    _member_counts(plan, rng, by_platform["telegram"])
    return plan


def _responses(plan: Plan, rng: random.Random, employee: int, mine: list[tuple[int, str, int]], ack: float) -> None:
    for kind, share in (("ack", ack), ("like", 0.1)):
        if rng.random() < share:
            iid, platform, cid = rng.choice(mine)
            plan.responses.append(
                {
                    "post_id": POST_ID,
                    "identity_id": iid,
                    "employee_id": employee,
                    "kind": kind,
                    "platform": platform,
                    "delivery_id": cid,
                    "created_at": T0 + timedelta(hours=2),
                }
            )


def _member_counts(plan: Plan, rng: random.Random, telegram: list[int]) -> None:
    """Telegram's member count per partial channel: above its known members, except one stale count below
    them and one channel whose count is not known."""
    for n, cid in enumerate(telegram):
        known = len(plan.listed.get(cid, []))
        plan.counts[cid] = None if n == 1 else max(0, known - 5) if n == 2 else known + rng.randint(20, 300)
    open_by_channel = Counter(m["channel_id"] for m in plan.memberships if m["left_at"] is None)
    for channel in plan.channels:
        partial = channel["id"] in plan.counts
        channel["members_partial"] = partial
        channel["member_count"] = None if partial else open_by_channel[channel["id"]]
        channel["members_synced_at"] = None if partial else T0 - timedelta(hours=1)


async def seed(store: Store, plan: Plan) -> None:
    async with store.transaction() as session:
        await session.execute(insert(table_of(Employee)), plan.employees)
        await session.execute(insert(table_of(Identity)), plan.identities)
        await session.execute(insert(table_of(Channel)), plan.channels)
        post = {
            "id": POST_ID,
            "kind": PostKind.NEWS.value,
            "title": "Nieuwe verlofregeling: lezen en bevestigen",
            "cta_kind": CtaKind.ACKNOWLEDGE.value,
            "audience": ["everyone"],
            "state": PostState.PUBLISHED.value,
            "published_at": T0,
            "created_at": T0,
            "updated_at": T0,
        }
        await session.execute(insert(table_of(Post)), [post])
        await session.execute(insert(table_of(Delivery)), plan.deliveries)
        for cid, members in sorted(plan.listed.items()):
            channel = await session.get(Channel, cid)
            assert channel is not None
            await audience.apply_member_list(session, channel, members, LISTED_AT, partial=True, count=plan.counts[cid])
        await session.execute(insert(table_of(Membership)), plan.memberships)
        await session.execute(insert(table_of(Response)), plan.responses)
    if store.is_postgres:
        async with store.engine.connect() as connection:
            await connection.execute(text(f"ANALYZE {TABLES}"))
            await connection.commit()


# ---------------------------------------------------------------------------------------------
# The naive baseline: everything into Python


@dataclass(frozen=True)
class Snapshot:
    memberships: list[Any]  # (channel_id, identity_id, joined_at, left_at, source)
    identities: dict[int, tuple[int, str]]  # id -> (employee_id, platform)
    deliveries: list[Any]  # (post_id, channel_id, state, sent_at)
    responses: list[Any]  # (post_id, employee_id, identity_id, platform, kind)
    channels: dict[int, tuple[str, bool, int | None]]  # id -> (platform, members_partial, member_count)
    employees: dict[int, tuple[str, str | None, str | None, str | None]]  # id -> name, email, department,
    # location; empty unless asked for


async def load(session: AsyncSession, employees: bool) -> Snapshot:
    async def rows(*columns: Any) -> list[Any]:
        return list((await session.execute(select(*columns))).all())

    m, i, d, r, c = Membership, Identity, Delivery, Response, Channel
    people = await rows(Employee.id, Employee.name, Employee.email, Employee.department, Employee.location)
    return Snapshot(
        await rows(m.channel_id, m.identity_id, m.joined_at, m.left_at, m.source),
        {row[0]: (row[1], row[2]) for row in await rows(i.id, i.employee_id, i.platform)},
        await rows(d.post_id, d.channel_id, d.state, d.sent_at),
        await rows(r.post_id, r.employee_id, r.identity_id, r.platform, r.kind),
        {row[0]: (row[1], row[2], row[3]) for row in await rows(c.id, c.platform, c.members_partial, c.member_count)},
        {row[0]: (row[1], row[2], row[3], row[4]) for row in people} if employees else {},
    )


def members_at_delivery(snap: Snapshot, post_id: int) -> set[tuple[int, int]]:
    """(channel, identity) of every member of a channel when it received the post."""
    sent = {
        channel: at
        for post, channel, state, at in snap.deliveries
        if post == post_id and at is not None and state != DeliveryState.FAILED
    }
    found = set()
    for channel, identity, joined, left, source in snap.memberships:
        at = sent.get(channel)
        if at is not None and (joined <= at or source == MembershipSource.SEEN) and (left is None or left > at):
            found.add((channel, identity))
    return found


def naive_reached(snap: Snapshot, post_id: int) -> set[tuple[int, int, str]]:
    """(employee, identity, platform) of members at delivery and of responders."""
    found = {(snap.identities[i][0], i, snap.identities[i][1]) for _, i in members_at_delivery(snap, post_id)}
    return found | {(e, i, p) for post, e, i, p, _ in snap.responses if post == post_id}


def naive_reach(snap: Snapshot, post_id: int) -> tuple[Reach, dict[str, Reach]]:
    reached = naive_reached(snap, post_id)
    people = {e for e, _, _ in reached}
    per_platform: dict[str, set[int]] = defaultdict(set)
    for e, _, platform in reached:
        per_platform[platform].add(e)
    known_in = Counter(channel for channel, _ in members_at_delivery(snap, post_id))
    unknown: Counter[str] = Counter()
    estimated: set[str] = set()
    for post, channel, state, at in snap.deliveries:
        platform, partial, count = snap.channels[channel]
        if post == post_id and at is not None and state != DeliveryState.FAILED and partial:
            estimated.add(platform)
            unknown[platform] += max(0, (count or 0) - known_in[channel])
    total = Reach(len(people) + sum(unknown.values()), bool(estimated), len(people))
    by_platform = {
        p: Reach(len(per_platform[p]) + unknown[p], p in estimated, len(per_platform[p]))
        for p in sorted(set(per_platform) | estimated)
    }
    return total, by_platform


def naive_people(snap: Snapshot, post_id: int) -> list[ReachedPerson]:
    by_employee: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for e, i, p in naive_reached(snap, post_id):
        by_employee[e].append((i, p))
    people = []
    for e, items in by_employee.items():
        name, email, department, location = snap.employees[e]
        platforms, identities = tuple(sorted({p for _, p in items})), tuple(sorted({i for i, _ in items}))
        people.append(ReachedPerson(e, name, email, department, location, platforms, identities))
    return sorted(people, key=lambda p: (p.name.casefold(), p.employee_id))


def naive_missing(snap: Snapshot, post_id: int, kind: str) -> list[ReachedPerson]:
    done = {e for post, e, _, _, k in snap.responses if post == post_id and k == kind}
    return [p for p in naive_people(snap, post_id) if p.employee_id not in done]


# ---------------------------------------------------------------------------------------------
# Measuring


Query = Callable[[AsyncSession], Awaitable[Any]]


def store_queries(post_id: int) -> dict[str, Query]:
    async def reach(s: AsyncSession) -> Reach:
        return (await audience.reach_of(s, [post_id]))[post_id]

    async def by_platform(s: AsyncSession) -> dict[str, Reach]:
        return (await audience.reach_by_platform(s, [post_id]))[post_id]

    async def people(s: AsyncSession) -> list[ReachedPerson]:
        return await audience.reached_people(s, post_id)

    async def missing(s: AsyncSession) -> list[ReachedPerson]:
        return await audience.missing(s, post_id, "ack")

    return dict(zip(QUERIES, (reach, by_platform, people, missing), strict=True))


def naive_queries(post_id: int) -> dict[str, Query]:
    async def reach(s: AsyncSession) -> Reach:
        return naive_reach(await load(s, employees=False), post_id)[0]

    async def by_platform(s: AsyncSession) -> dict[str, Reach]:
        return naive_reach(await load(s, employees=False), post_id)[1]

    async def people(s: AsyncSession) -> list[ReachedPerson]:
        return naive_people(await load(s, employees=True), post_id)

    async def missing(s: AsyncSession) -> list[ReachedPerson]:
        return naive_missing(await load(s, employees=True), post_id, "ack")

    return dict(zip(QUERIES, (reach, by_platform, people, missing), strict=True))


async def timed(store: Store, query: Query) -> tuple[float, Any]:
    """(ms, answer) of one call in a read session of its own."""
    async with store.sessions() as session:
        started = time.perf_counter()
        answer = await query(session)
        return (time.perf_counter() - started) * 1000, answer


def differences(name: str, got: Any, want: Any) -> list[str]:
    if got == want:
        return []
    if isinstance(want, list):
        ids, wanted = {p.employee_id for p in got}, {p.employee_id for p in want}
        return [f"{name}: {len(got)} people, naive {len(want)}; {len(ids - wanted)} extra, {len(wanted - ids)} absent"]
    return [f"{name}: {got} != naive {want}"]


def exercised(snap: Snapshot, reach: Reach, people: list[ReachedPerson], missing: list[ReachedPerson]) -> list[str]:
    """The data decides what the queries must decide, so equality with the naive answer means something."""
    counted = members_at_delivery(snap, POST_ID)
    delivered = {(c, i) for c, i, *_ in snap.memberships}
    problems = []
    if not delivered - counted:
        problems.append("no membership excluded by its period")
    if not any(len(p.platforms) > 1 for p in people):
        problems.append("nobody reached on two platforms")
    if not reach.estimate or reach.value <= reach.known:
        problems.append(f"no estimate from the partial channels: {reach}")
    if not 0 < len(missing) < len(people):
        problems.append(f"{len(missing)} of {len(people)} missing: acknowledgements not exercised")
    return problems


@dataclass
class Result:
    ms: dict[str, list[float]] = field(default_factory=lambda: {q: [] for q in QUERIES})
    naive_ms: dict[str, list[float]] = field(default_factory=lambda: {q: [] for q in QUERIES})
    setup_s: list[float] = field(default_factory=list)
    answer: str = ""
    figures: dict[str, Any] = field(default_factory=dict)


async def run_round(backend: Backend, args: argparse.Namespace, plan: Plan, result: Result) -> list[str]:
    problems: list[str] = []
    async with fresh_store(backend, args.sqlite_dir) as store:
        started = time.perf_counter()
        await seed(store, plan)
        result.setup_s.append(time.perf_counter() - started)
        queries, naive = store_queries(POST_ID), naive_queries(POST_ID)
        for _ in range(WARM_UP):
            for query in queries.values():
                await timed(store, query)
        answers: dict[str, Any] = {}
        for name in QUERIES:
            ms, answers[name] = await timed(store, queries[name])
            result.ms[name].append(ms)
        for name in QUERIES:
            ms, want = await timed(store, naive[name])
            result.naive_ms[name].append(ms)
            problems += differences(name, answers[name], want)
        async with store.sessions() as session:
            snap = await load(session, employees=False)
        problems += exercised(snap, answers["reach_of"], answers["reached_people"], answers["missing"])
    reach = answers["reach_of"]
    result.figures = {
        "reach": reach.as_json(),
        "people_reached": len(answers["reached_people"]),
        "people_missing": len(answers["missing"]),
    }
    result.answer = (
        f"reach {reach.value:,} ({'estimate' if reach.estimate else 'exact'}, {reach.known:,} known by name), "
        f"{len(answers['reached_people']):,} people reached, {len(answers['missing']):,} not acknowledged; "
        "per platform " + ", ".join(f"{p} {r.value:,}/{r.known:,}" for p, r in answers["reach_by_platform"].items())
    )
    return problems


async def main_async(args: argparse.Namespace) -> int:
    backends, note = backends_from(args)
    plan = make_plan(args)
    linked = len(plan.identities) - len(plan.employees)
    acks = sum(1 for r in plan.responses if r["kind"] == "ack")
    memberships = len(plan.memberships) + sum(len(v) for v in plan.listed.values())
    print(
        f"audience benchmark: 1 post, {len(plan.employees):,} people ({len(plan.identities):,} identities, {linked:,} "
        f"linked on two platforms), {len(plan.channels)} channels ({args.slack} Slack, {args.matrix} Matrix, "
        f"{args.telegram} Telegram partial), {memberships:,} membership periods, {len(plan.responses):,} responses "
        f"({acks:,} acknowledgements); {args.rounds} rounds per backend, a fresh store each"
    )
    print("periods: " + ", ".join(f"{k} {n:,}" for k, n in plan.periods.most_common()))
    if note:
        print(note)
    figures: dict[str, Any] = {
        "bench": "audience",
        "people": len(plan.employees),
        "identities": len(plan.identities),
        "channels": len(plan.channels),
        "memberships": memberships,
        "responses": len(plan.responses),
        "rounds": args.rounds,
        "goal_ms": GOAL_MS,
        "backends": {},
    }
    if note:
        figures["note"] = note
    failures: list[str] = []
    rows: list[list[object]] = []
    goal_met = True
    for backend in backends:
        result = Result()
        for round_no in range(1, args.rounds + 1):
            problems = await run_round(backend, args, plan, result)
            failures += [f"{backend.name} round {round_no}: {p}" for p in problems]
            shown = ", ".join(f"{q} {result.ms[q][-1]:.0f} ms (naive {result.naive_ms[q][-1]:.0f})" for q in QUERIES)
            print(f"  {backend.name} round {round_no}: set-up {result.setup_s[-1]:.1f}s; {shown}", flush=True)
        print(f"  {backend.name}: {result.answer}")
        per_backend: dict[str, Any] = {"setup_s_median": round(median(result.setup_s), 2), **result.figures}
        figures["backends"][backend.name] = per_backend
        for q in QUERIES:
            med, base = median(result.ms[q]), median(result.naive_ms[q])
            goal_met &= med <= GOAL_MS or q not in BOUNDED
            rows.append([backend.name, q, med, min(result.ms[q]), max(result.ms[q]), base, base / med])
            per_backend[q] = {
                "median_ms": round(med, 1),
                "rounds_ms": [round(v, 1) for v in result.ms[q]],
                "baseline_median_ms": round(base, 1),
                "ratio": round(base / med, 1),
            }
    print()
    print_table(["backend", "query", "ms (median)", "min", "max", "naive ms (median)", "naive ÷ query"], rows)
    figures["goal_met"] = goal_met
    ran = " and ".join(b.name for b in backends)
    verdict = "met" if goal_met else "NOT met"
    print(f"\ngoal ≤ {GOAL_MS:.0f} ms per query (median) for {', '.join(BOUNDED)} on {ran}: {verdict}")
    return conclude(
        figures,
        failures,
        "every answer equals the naive computation, in every round and backend",
        goal_met=goal_met,
        enforce_goal=args.enforce_goal,
        max_shown=20,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    add_common_args(parser, rounds=7)
    parser.add_argument("--people", type=int, default=10_000, help="employees (default %(default)s)")
    parser.add_argument("--slack", type=int, default=120, help="Slack channels (default %(default)s)")
    parser.add_argument("--matrix", type=int, default=50, help="Matrix rooms (default %(default)s)")
    parser.add_argument("--telegram", type=int, default=30, help="Telegram groups, partial (default %(default)s)")
    parser.add_argument("--linked", type=float, default=0.15, help="share linked on two platforms (%(default)s)")
    parser.add_argument("--acked", type=float, default=0.4, help="share of the reached who acknowledged (%(default)s)")
    parser.add_argument("--seed", type=int, default=13, help="seed of the data (default %(default)s)")
    args = parser.parse_args()
    quiet_logging()
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
