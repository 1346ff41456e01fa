"""Audience truth: who is in each channel (memberships), who a post reached, and who has not done
what a must-read asks.

Membership is kept as periods per channel and identity (joined_at, left_at; at most one open period),
so reach can be asked at the moment each channel received the post: a person reached is a member of
a channel with ``joined_at ≤ sent_at < left_at`` (or still a member), counted once per employee across
linked platforms, together with everyone who responded to the post (whoever acted was reached).
Where a channel's member list is partial (Telegram: bots cannot list members), its ``member_count``
stands in for the people not known by name and the figure is an estimate. A person known only by being
seen acting in a chat (a message, a press) has no known joining time and counts as a member for the
posts the chat received before too (until they are seen leaving).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import BindParameter, Select, String, Subquery, and_, case, func, literal, or_, select, union, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from content.models import (
    Channel,
    Delivery,
    DeliveryState,
    Employee,
    Identity,
    Membership,
    MembershipSource,
    Response,
    table_of,
)

_CHUNK = 500

# ---------------------------------------------------------------------------------------------
# Writing memberships


async def open_members(session: AsyncSession, channel_id: int) -> set[int]:
    """The identity ids that are members of a channel now."""
    rows = await session.execute(
        select(Membership.identity_id).where(Membership.channel_id == channel_id, Membership.left_at.is_(None))
    )
    return set(rows.scalars())


async def join(
    session: AsyncSession, channel_id: int, identity_ids: Collection[int], source: MembershipSource, at: datetime
) -> int:
    """Open a membership for each identity that has none open in the channel; returns how many opened.
    An identity already a member keeps its period (and its source)."""
    wanted = set(identity_ids) - await open_members(session, channel_id)
    if not wanted:
        return 0
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    rows = [
        {"channel_id": channel_id, "identity_id": i, "joined_at": at, "left_at": None, "source": source.value}
        for i in sorted(wanted)
    ]
    # Another instance may open the same period at the same moment: the open-period index keeps one.
    await session.execute(insert(table_of(Membership)).on_conflict_do_nothing(), rows)
    return len(rows)


async def leave(session: AsyncSession, channel_id: int, identity_ids: Collection[int], at: datetime) -> int:
    """Close the open membership of each identity in the channel; returns how many closed."""
    closed = 0
    ids = sorted(set(identity_ids))
    for start in range(0, len(ids), _CHUNK):
        result = await session.execute(
            update(Membership)
            .where(
                Membership.channel_id == channel_id,
                Membership.identity_id.in_(ids[start : start + _CHUNK]),
                Membership.left_at.is_(None),
            )
            .values(left_at=at)
        )
        closed += int(getattr(result, "rowcount", 0) or 0)
    return closed


async def leave_everywhere(session: AsyncSession, identity_id: int, at: datetime) -> int:
    """A closed account: every open membership of the identity ends."""
    result = await session.execute(
        update(Membership).where(Membership.identity_id == identity_id, Membership.left_at.is_(None)).values(left_at=at)
    )
    return int(getattr(result, "rowcount", 0) or 0)


@dataclass(frozen=True, slots=True)
class SyncOutcome:
    joined: int
    left: int


async def apply_member_list(
    session: AsyncSession,
    channel: Channel,
    identity_ids: Collection[int],
    at: datetime,
    *,
    partial: bool,
    count: int | None,
) -> SyncOutcome:
    """The platform's member list of a channel, as of ``at``. A complete list also ends the membership
    of everyone no longer on it; a partial one (Telegram) only adds, and its ``count`` is kept."""
    joined = await join(session, channel.id, identity_ids, MembershipSource.LIST, at)
    left = 0
    if not partial:
        gone = await open_members(session, channel.id) - set(identity_ids)
        left = await leave(session, channel.id, gone, at)
        count = len(set(identity_ids))
    channel.members_partial = partial
    channel.member_count = count
    channel.members_synced_at = at
    return SyncOutcome(joined, left)


# ---------------------------------------------------------------------------------------------
# Reach


@dataclass(frozen=True, slots=True)
class Reach:
    """``value``: the figure to show; ``estimate``: True where a partial channel's member count stands
    in for people not known by name; ``known``: the distinct people known by name."""

    value: int
    estimate: bool
    known: int

    def as_json(self) -> dict[str, int | bool]:
        return {"value": self.value, "estimate": self.estimate, "known": self.known}


@dataclass(frozen=True, slots=True)
class Reached:
    """One identity through which a person was reached (a member at delivery time, or a responder)."""

    employee_id: int
    identity_id: int
    platform: str


def _members_at_delivery(
    post_ids: Sequence[int], pending_at: datetime | None = None
) -> Select[int, int, int, str, int]:
    """(post, employee, identity, platform, channel) of every member of a channel when it received the post.
    With ``pending_at``, a delivery still on its way counts as received then (who it is about to reach)."""
    received = Delivery.sent_at if pending_at is None else func.coalesce(Delivery.sent_at, pending_at)
    on_its_way = or_(Delivery.state == _fixed(DeliveryState.PENDING), Delivery.state == _fixed(DeliveryState.SENDING))
    delivered = Delivery.sent_at.is_not(None) if pending_at is None else or_(Delivery.sent_at.is_not(None), on_its_way)
    return (
        select(Delivery.post_id, Identity.employee_id, Identity.id, Identity.platform, Delivery.channel_id)
        .join(
            Membership,
            and_(
                Membership.channel_id == Delivery.channel_id,
                # Someone seen acting in a chat was a member since a time nobody told us: from before the
                # posts they could see. Joins and member lists carry their real time.
                or_(Membership.joined_at <= received, Membership.source == _fixed(MembershipSource.SEEN)),
                or_(Membership.left_at.is_(None), Membership.left_at > received),
            ),
        )
        .join(Identity, Identity.id == Membership.identity_id)
        .where(
            Delivery.post_id.in_(list(post_ids)),
            delivered,
            Delivery.state != _fixed(DeliveryState.FAILED),
        )
    )


def _fixed(value: DeliveryState | MembershipSource) -> BindParameter[str]:
    """A constant in the SQL, not a parameter: PostgreSQL's generic plan (after five runs) guessed one row
    for ``state != $1`` and chose nested loops over 20,000 memberships (bench/audience.py: 60–110 ms, not 40)."""
    return literal(value.value, String(), literal_execute=True)


def _reached_union(post_id: int, pending_at: datetime | None, employee_ids: Collection[int] | None = None) -> Subquery:
    """(employee, identity, platform) through which people were reached: members at delivery ∪ responders."""
    members = _members_at_delivery([post_id], pending_at).with_only_columns(
        Identity.employee_id, Identity.id, Identity.platform
    )
    responders = select(Response.employee_id, Response.identity_id, Response.platform).where(
        Response.post_id == post_id
    )
    if employee_ids is not None:
        members = members.where(Identity.employee_id.in_(list(employee_ids)))
        responders = responders.where(Response.employee_id.in_(list(employee_ids)))
    return union(members, responders).subquery()


async def reached_identities(
    session: AsyncSession, post_id: int, employee_ids: Collection[int] | None = None, pending_at: datetime | None = None
) -> list[Reached]:
    """Every identity through which someone (of ``employee_ids``, or anyone) was reached by the post:
    members of a channel when it received the post, and everyone who responded to it (on the platform
    they responded on)."""
    both = _reached_union(post_id, pending_at, employee_ids)
    rows = await session.execute(select(both.c[0], both.c[1], both.c[2]))
    return [Reached(int(e), int(i), str(p)) for e, i, p in rows.all()]


@dataclass(frozen=True, slots=True)
class ReachFigures:
    """The reach of each post overall, and on each platform it reached someone on (empty unless asked)."""

    overall: dict[int, Reach]
    by_platform: dict[int, dict[str, Reach]]


async def reach_figures(session: AsyncSession, post_ids: Sequence[int], per_platform: bool = True) -> ReachFigures:
    """The reach of each post and, with ``per_platform``, on each platform (a person linked on two counts on
    both, once overall), each count made by the database: a few rows a post, whatever its audience."""
    unknown = await _unknown_people(session, post_ids)
    known = await _known_people(session, post_ids, per_platform=per_platform)
    overall: dict[int, Reach] = {}
    by_platform: dict[int, dict[str, Reach]] = {pid: {} for pid in post_ids}
    for post_id in post_ids:
        named = known.get((post_id, ""), 0)
        extra = sum(n for (p, _), n in unknown.items() if p == post_id)
        overall[post_id] = Reach(named + extra, any(p == post_id for p, _ in unknown), named)
    if per_platform:
        for post_id, platform in sorted(k for k in set(known) | set(unknown) if k[1]):
            named = known.get((post_id, platform), 0)
            extra = unknown.get((post_id, platform), 0)
            by_platform[post_id][platform] = Reach(named + extra, (post_id, platform) in unknown, named)
    return ReachFigures(overall, by_platform)


async def reach_of(session: AsyncSession, post_ids: Sequence[int]) -> dict[int, Reach]:
    """The reach of each post, in a few queries whatever the number."""
    return (await reach_figures(session, post_ids, per_platform=False)).overall


async def reach_by_platform(session: AsyncSession, post_ids: Sequence[int]) -> dict[int, dict[str, Reach]]:
    """The reach of each post on each platform it reached someone on."""
    return (await reach_figures(session, post_ids)).by_platform


async def _known_people(
    session: AsyncSession, post_ids: Sequence[int], per_platform: bool
) -> dict[tuple[int, str], int]:
    """Distinct people known by name per (post, "") across platforms and, with ``per_platform``, per (post,
    platform) too: both from one scan of members and responders (a CTE), not one each."""
    if not post_ids:
        return {}
    members = _members_at_delivery(post_ids).with_only_columns(
        Delivery.post_id, Identity.employee_id, Identity.platform
    )
    responders = select(Response.post_id, Response.employee_id, Response.platform).where(
        Response.post_id.in_(list(post_ids))
    )
    both = union(members, responders).cte("reached")
    post, person, platform = both.c[0], both.c[1], both.c[2]
    people = func.count(func.distinct(person))
    overall = select(post, literal("", String), people).group_by(post)
    statement = overall.union_all(select(post, platform, people).group_by(post, platform)) if per_platform else overall
    return {(int(p), str(f)): int(n) for p, f, n in (await session.execute(statement)).all()}


async def _unknown_people(session: AsyncSession, post_ids: Sequence[int]) -> dict[tuple[int, str], int]:
    """Per (post, platform) that reached a partial channel (an estimate, then): the people of those channels
    not known by name, each one's member count less its known members at delivery (never below 0)."""
    if not post_ids:
        return {}
    partial = Channel.members_partial.is_(True)
    reached = (
        select(Delivery.post_id, Delivery.channel_id, Channel.platform, func.coalesce(Channel.member_count, 0))
        .join(Channel, Channel.id == Delivery.channel_id)
        .where(Delivery.post_id.in_(list(post_ids)), Delivery.sent_at.is_not(None))
        .where(Delivery.state != DeliveryState.FAILED, partial)
        .subquery()
    )
    post, channel, platform, members = reached.c
    known = (
        _members_at_delivery(post_ids)
        .with_only_columns(Delivery.post_id, Delivery.channel_id, func.count(func.distinct(Identity.id)))
        .join(Channel, Channel.id == Delivery.channel_id)
        .where(partial)
        .group_by(Delivery.post_id, Delivery.channel_id)
        .subquery()
    )
    beyond = members - func.coalesce(known.c[2], 0)
    statement = (
        select(post, platform, func.sum(case((beyond > 0, beyond), else_=0)))
        .select_from(reached.outerjoin(known, and_(known.c[0] == post, known.c[1] == channel)))
        .group_by(post, platform)
    )
    return {(int(p), str(f)): int(n or 0) for p, f, n in (await session.execute(statement)).all()}


# ---------------------------------------------------------------------------------------------
# Who has not acted, and segments


@dataclass(frozen=True, slots=True)
class ReachedPerson:
    employee_id: int
    name: str
    email: str | None
    department: str | None
    location: str | None
    platforms: tuple[str, ...]  # where they were reached, sorted
    identity_ids: tuple[int, ...]  # the identities they were reached through


async def reached_people(
    session: AsyncSession, post_id: int, not_done: str | None = None, pending_at: datetime | None = None
) -> list[ReachedPerson]:
    """The people a post reached, each once, with their directory fields; ordered by name. With
    ``not_done`` (a response kind) only those who have not responded so: decided in the query, so a
    post to thousands reads only the people it lists."""
    both = _reached_union(post_id, pending_at)
    employee_id, identity_id, platform = both.c[0], both.c[1], both.c[2]
    statement = select(
        employee_id, identity_id, platform, Employee.name, Employee.email, Employee.department, Employee.location
    ).join(Employee, Employee.id == employee_id)
    if not_done is not None:
        # NOT IN a subquery (employee_id is never NULL): PostgreSQL hashes it once, SQLite indexes it once;
        # a correlated NOT EXISTS took SQLite 8 s here, one scan of the post's responses per row.
        done = select(Response.employee_id).where(Response.post_id == post_id, Response.kind == not_done)
        statement = statement.where(employee_id.not_in(done))
    fields: dict[int, tuple[str, str | None, str | None, str | None]] = {}
    platforms: dict[int, set[str]] = defaultdict(set)
    identities: dict[int, set[int]] = defaultdict(set)
    # Core rows, not the ORM's: thousands of plain tuples, a third less work than through the Session's results.
    rows = (await (await session.connection()).execute(statement)).all()
    for person, identity, where, name, email, department, location in rows:
        fields[int(person)] = (name, email, department, location)
        platforms[int(person)].add(str(where))
        identities[int(person)].add(int(identity))
    people = [
        ReachedPerson(person, *known, tuple(sorted(platforms[person])), tuple(sorted(identities[person])))
        for person, known in fields.items()
    ]
    people.sort(key=lambda p: (p.name.casefold(), p.employee_id))
    return people


async def responders(session: AsyncSession, post_id: int, kinds: Collection[str] | None = None) -> set[int]:
    """Employees who responded to the post (with one of ``kinds``, or in any way)."""
    statement = select(Response.employee_id).where(Response.post_id == post_id).distinct()
    if kinds is not None:
        statement = statement.where(Response.kind.in_(list(kinds)))
    return set((await session.execute(statement)).scalars())


async def missing(
    session: AsyncSession, post_id: int, kind: str, pending_at: datetime | None = None
) -> list[ReachedPerson]:
    """The people the post reached who have not responded with ``kind`` (``ack`` for a must-read); with
    ``pending_at`` also those its deliveries still on their way are about to reach (a reminder round)."""
    return await reached_people(session, post_id, not_done=kind, pending_at=pending_at)


UNKNOWN_SEGMENT = "unknown"
SEGMENT_ATTRIBUTES = ("department", "location")


@dataclass(frozen=True, slots=True)
class Segment:
    attribute: str  # department | location
    value: str  # the directory's value, or "unknown"
    reached: int
    engaged: int  # responded in any way
    completed: int | None  # did what the post asks; None without a call to action


def segments(
    people: Sequence[ReachedPerson], engaged: set[int], completed: set[int] | None
) -> dict[str, list[Segment]]:
    """Per attribute, the segments of the people reached, largest first (then by value)."""
    result: dict[str, list[Segment]] = {}
    for attribute in SEGMENT_ATTRIBUTES:
        groups: dict[str, list[int]] = defaultdict(list)
        for person in people:
            value = getattr(person, attribute) or UNKNOWN_SEGMENT
            groups[value].append(person.employee_id)
        result[attribute] = sorted(
            (
                Segment(
                    attribute,
                    value,
                    len(ids),
                    sum(1 for i in ids if i in engaged),
                    None if completed is None else sum(1 for i in ids if i in completed),
                )
                for value, ids in groups.items()
            ),
            key=lambda s: (-s.reached, s.value),
        )
    return result
