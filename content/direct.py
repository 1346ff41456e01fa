"""Direct delivery: a post whose audience is people — a segment of the directory (``to: department=Sales``,
``location=…``) or ``direct`` on a must-read — goes to each person's private chat with the bot.

Why a private copy is a *channel* of kind ``direct`` (one per messenger account, ``Channel.identity_id``)
and not a delivery with a person instead of a channel: the outbox stays one row per (post, channel), so
its uniqueness is the "one copy per person and post" rule, its claims, leases, retries, the per-chat rate
limits (a Slack DM is its own channel), the crash reconciliation and the inbound lookup of a press
(platform, chat, message → delivery) all work on private copies unchanged; and the person is the
channel's one member from the moment it is made, so reach and who-has-not (members at delivery) count
exactly the people sent to. Configured channels are ``group``; listings of channels leave ``direct``
ones out (:func:`content.posts.all_channels`).

A private chat the platform must open first (a Slack DM: ``conversations.open``; a Matrix direct room)
is written as :func:`unopened_chat` until the sender opened it and recorded its real id
(:func:`record_opened`). Telegram has no such step: a private chat exists only once the person started
the bot (``private_chat_id`` from a private ``/start``); without it they are unreachable, with the reason.
People who get no copy are recorded with the post (:func:`unreachable`), beside copies that failed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from content.models import (
    AuditEntry,
    Channel,
    Delivery,
    DeliveryState,
    Employee,
    Identity,
    Membership,
    MembershipSource,
    Post,
    Response,
    table_of,
)
from content.outbox import add_deliveries

GROUP = "group"
DIRECT = "direct"
SEGMENT_ATTRIBUTES = ("department", "location")
# The order a person's accounts are tried in when none was active (and as the tie-break).
PLATFORM_ORDER = ("slack", "matrix", "telegram", "console")
UNREACHABLE_ACTION = "direct_unreachable"
_UNOPENED = "unopened:"
_CHUNK = 500


def segment_of(tag: str) -> tuple[str, str] | None:
    """``department=Sales`` → ("department", "sales"); None for a channel tag. Values compare without case."""
    attribute, sep, value = tag.partition("=")
    if not sep:
        return None
    return attribute.strip().lower(), value.strip().lower()


def segments_of(audience: Sequence[str]) -> dict[str, set[str]]:
    """The segments of an audience, attribute → values (a person matches one value of every attribute)."""
    found: dict[str, set[str]] = defaultdict(set)
    for tag in audience:
        segment = segment_of(tag)
        if segment is not None:
            found[segment[0]].add(segment[1])
    return dict(found)


def is_direct(post: Post) -> bool:
    """Whether ``post`` goes to people privately rather than to channels."""
    return post.direct or bool(segments_of(post.audience))


def unopened_chat(platform_user_id: str) -> str:
    """The chat id of a private chat the platform has not opened yet (see the module's description)."""
    return f"{_UNOPENED}{platform_user_id}"


def unopened_user(chat_id: str) -> str | None:
    """The person an unopened private chat is with; None when ``chat_id`` is a real chat."""
    return chat_id[len(_UNOPENED) :] if chat_id.startswith(_UNOPENED) else None


@dataclass(frozen=True, slots=True)
class Unreachable:
    employee_id: int
    name: str
    platform: str | None  # where a copy was tried and failed; None: no copy was possible
    reason: str  # a code of NO_ACCOUNT … COPY_FAILED, or the platform's own error text


# Why a person got no private copy, recorded as a code: several moderators read it, each in their own
# language, so it is worded where it is shown (bot/services/direct_audience.py ``reason_words``).
NO_ACCOUNT = "no-account"
NOT_STARTED = "telegram-not-started"
NOT_RUNNING = "not-running:"  # followed by the person's platforms, comma-separated
CONFIGURED_CHANNEL = "configured-channel"
CHAT_OFF = "chat-off"
COPY_FAILED = "copy-failed"


def reason_unreachable(identities: Sequence[Identity], platforms: Collection[str]) -> str:
    """Why none of a person's accounts can take a private copy (a code of the above)."""
    if not identities:
        return NO_ACCOUNT
    running = [i for i in identities if i.platform in platforms]
    if not running:
        return NOT_RUNNING + ", ".join(sorted({i.platform for i in identities}))
    return NOT_STARTED


def can_take_private(identity: Identity) -> bool:
    """Telegram lets a bot write only to people who started it; Slack and Matrix open a chat themselves."""
    return identity.platform != "telegram" or bool(identity.private_chat_id)


def direct_identity(
    identities: Sequence[Identity], last_active: Mapping[int, datetime], platforms: Collection[str]
) -> Identity | None:
    """The one account of a person that gets the private copy: among those on a running platform that can
    take one, the account they were last active on (their latest response), else one whose private chat
    is open already, else the first in :data:`PLATFORM_ORDER`. None: unreachable."""
    usable = [i for i in identities if i.platform in platforms and can_take_private(i)]
    if not usable:
        return None

    def rank(identity: Identity) -> tuple[float, int, int, int]:
        active = last_active.get(identity.id)
        order = PLATFORM_ORDER.index(identity.platform) if identity.platform in PLATFORM_ORDER else len(PLATFORM_ORDER)
        return (-(active.timestamp()) if active else 0.0, 0 if identity.private_chat_id else 1, order, identity.id)

    return min(usable, key=rank)


async def people_in_segments(session: AsyncSession, segments: Mapping[str, Collection[str]]) -> list[int]:
    """The employee ids matching every attribute's values (case-insensitive)."""
    columns = {"department": Employee.department, "location": Employee.location}
    statement = select(Employee.id).order_by(Employee.id)
    for attribute, values in segments.items():
        statement = statement.where(func.lower(columns[attribute]).in_(sorted(values)))
    return list((await session.execute(statement)).scalars())


async def people_in_channels(session: AsyncSession, channel_ids: Collection[int]) -> list[int]:
    """The employee ids of the members now of these channels (``direct`` on a must-read with tags)."""
    if not channel_ids:
        return []
    rows = await session.execute(
        select(Identity.employee_id)
        .join(Membership, Membership.identity_id == Identity.id)
        .where(Membership.channel_id.in_(list(channel_ids)), Membership.left_at.is_(None))
        .distinct()
        .order_by(Identity.employee_id)
    )
    return list(rows.scalars())


async def _identities_of(session: AsyncSession, employee_ids: Sequence[int]) -> dict[int, list[Identity]]:
    found: dict[int, list[Identity]] = defaultdict(list)
    for start in range(0, len(employee_ids), _CHUNK):
        chunk = employee_ids[start : start + _CHUNK]
        for identity in (await session.execute(select(Identity).where(Identity.employee_id.in_(chunk)))).scalars():
            found[identity.employee_id].append(identity)
    return found


async def _last_active(session: AsyncSession, identity_ids: Sequence[int]) -> dict[int, datetime]:
    found: dict[int, datetime] = {}
    for start in range(0, len(identity_ids), _CHUNK):
        rows = await session.execute(
            select(Response.identity_id, func.max(Response.created_at))
            .where(Response.identity_id.in_(identity_ids[start : start + _CHUNK]))
            .group_by(Response.identity_id)
        )
        found.update({int(i): at for i, at in rows.all() if at is not None})
    return found


async def _direct_channels(session: AsyncSession, identity_ids: Sequence[int]) -> dict[int, Channel]:
    found: dict[int, Channel] = {}
    for start in range(0, len(identity_ids), _CHUNK):
        rows = await session.execute(
            select(Channel).where(Channel.kind == DIRECT, Channel.identity_id.in_(identity_ids[start : start + _CHUNK]))
        )
        found.update({c.identity_id: c for c in rows.scalars() if c.identity_id is not None})
    return found


async def _make_direct_channels(session: AsyncSession, identities: Sequence[Identity], now: datetime) -> None:
    """Each account's private channel, made unless it exists: another transaction (a second post published
    at the same moment, another instance) may make the same one, and then that one is kept (the insert
    waits for it and skips; a plain insert would fail the whole publishing). The person is the chat's one
    member from its first moment: reach counts exactly who was sent to."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    rows = [
        {
            "name": f"direct:{i.id}",
            "platform": i.platform,
            "chat_id": i.private_chat_id or unopened_chat(i.platform_user_id),
            "tags": [],
            "enabled": True,
            "kind": DIRECT,
            "identity_id": i.id,
            "members_partial": False,
            "member_count": 1,
        }
        for i in identities
    ]
    made: list[tuple[int, int]] = []
    for start in range(0, len(rows), _CHUNK):
        statement = insert(table_of(Channel)).on_conflict_do_nothing().returning(Channel.id, Channel.identity_id)
        result = await session.execute(statement, rows[start : start + _CHUNK])
        made += [(c, i) for c, i in result.all() if i is not None]
    memberships = [
        {"channel_id": c, "identity_id": i, "joined_at": now, "left_at": None, "source": MembershipSource.LIST}
        for c, i in made
    ]
    if memberships:
        await session.execute(table_of(Membership).insert(), memberships)


@dataclass(frozen=True, slots=True)
class DirectFanOut:
    sent_to: int  # private copies queued
    unreachable: int


async def add_direct_deliveries(
    session: AsyncSession, post: Post, employee_ids: Sequence[int], platforms: Collection[str], now: datetime
) -> DirectFanOut:
    """Queue one private copy per person (in the caller's transaction) on the account
    :func:`direct_identity` chooses, making their private channel on first use; record who gets none."""
    people = sorted(set(employee_ids))
    identities = await _identities_of(session, people)
    all_ids = sorted(i.id for found in identities.values() for i in found)
    last_active = await _last_active(session, all_ids)
    chosen = {e: direct_identity(identities.get(e, []), last_active, platforms) for e in people}
    channels = await _direct_channels(session, sorted(i.id for i in chosen.values() if i is not None))
    fresh = [i for i in chosen.values() if i is not None and i.id not in channels]
    if fresh:
        await _make_direct_channels(session, fresh, now)
        channels.update(await _direct_channels(session, sorted(i.id for i in fresh)))
    targets: list[Channel] = []
    missed: list[list[object]] = []
    for employee_id in people:
        identity = chosen[employee_id]
        if identity is None:
            missed.append([employee_id, None, reason_unreachable(identities.get(employee_id, []), platforms)])
            continue
        channel = channels.get(identity.id)
        if channel is None:  # its chat id or name is a configured channel's (a room the bot was told to post in)
            missed.append([employee_id, identity.platform, CONFIGURED_CHANNEL])
        elif not channel.enabled:
            missed.append([employee_id, identity.platform, channel.disabled_reason or CHAT_OFF])
        else:
            targets.append(channel)
    add_deliveries(session, post.id, targets, now)
    if missed:
        session.add(
            AuditEntry(at=now, actor="prikbord", action=UNREACHABLE_ACTION, post_id=post.id, detail={"people": missed})
        )
    return DirectFanOut(len(targets), len(missed))


async def record_opened(session: AsyncSession, channel_id: int, chat_id: str) -> str:
    """A private chat the sender opened: the channel (and its account) now carry its real id, so later
    posts and the person's presses in it find it. → the chat the copy goes to: the one recorded first,
    where another copy's sender (another instance) opened the chat already."""
    channel = await session.get(Channel, channel_id, with_for_update=True)
    if channel is None or channel.kind != DIRECT:
        return chat_id
    if unopened_user(channel.chat_id) is None:
        return channel.chat_id
    channel.chat_id = chat_id
    if channel.identity_id is not None:
        await session.execute(
            update(Identity).where(Identity.id == channel.identity_id).values(private_chat_id=chat_id)
        )
    return chat_id


async def remember_private_chat(session: AsyncSession, identity_id: int, chat_id: str) -> None:
    """A person wrote to the bot in their private chat (Telegram's /start): copies can go there now, and
    a direct channel still waiting to be opened takes the chat's id."""
    await session.execute(
        update(Identity)
        .where(Identity.id == identity_id, or_(Identity.private_chat_id.is_(None), Identity.private_chat_id != chat_id))
        .values(private_chat_id=chat_id)
    )
    channel = (
        await session.execute(select(Channel).where(Channel.kind == DIRECT, Channel.identity_id == identity_id))
    ).scalar_one_or_none()
    if channel is not None and unopened_user(channel.chat_id) is not None:
        # An opened chat stays: the copies sent there are found by it (a press on one names that chat).
        channel.chat_id = chat_id


async def unreachable(session: AsyncSession, post_id: int) -> list[Unreachable]:
    """The people a direct post did not reach, with the reason: no copy possible (recorded at the fan-out)
    and copies that failed (their delivery's error), by name."""
    found: dict[int, tuple[str | None, str]] = {}
    entries = await session.execute(
        select(AuditEntry.detail).where(AuditEntry.post_id == post_id, AuditEntry.action == UNREACHABLE_ACTION)
    )
    for detail in entries.scalars():
        for employee_id, platform, reason in detail.get("people", []):
            found[int(employee_id)] = (platform, str(reason))
    failed = await session.execute(
        select(Identity.employee_id, Delivery.platform, Delivery.last_error)
        .join(Channel, Channel.id == Delivery.channel_id)
        .join(Identity, Identity.id == Channel.identity_id)
        .where(Delivery.post_id == post_id, Channel.kind == DIRECT, Delivery.state == DeliveryState.FAILED)
    )
    for employee_id, platform, error in failed.all():
        found[int(employee_id)] = (str(platform), str(error or COPY_FAILED))
    names: dict[int, str] = {}
    ids = sorted(found)
    for start in range(0, len(ids), _CHUNK):
        rows = await session.execute(
            select(Employee.id, Employee.name).where(Employee.id.in_(ids[start : start + _CHUNK]))
        )
        names.update({int(i): str(n) for i, n in rows.all()})
    return sorted(
        (Unreachable(e, names.get(e, f"#{e}"), p, r) for e, (p, r) in found.items()),
        key=lambda u: (u.name, u.employee_id),
    )
