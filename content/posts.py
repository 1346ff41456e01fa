"""Queries on posts, channels and the audit log, as named functions."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from content.chats import TOPIC_SEPARATOR, chat_ids_to_match, whole_chat_id
from content.models import (
    FEED_KINDS,
    AuditEntry,
    Channel,
    Delivery,
    DeliveryState,
    Post,
    PostKind,
    PostState,
)
from content.outbox import fail_pending_for_channel
from content.search import search


async def get_post(session: AsyncSession, post_id: int) -> Post | None:
    return await session.get(Post, post_id)


async def posts_by_ids(session: AsyncSession, ids: Sequence[int]) -> dict[int, Post]:
    if not ids:
        return {}
    rows = await session.execute(select(Post).where(Post.id.in_(set(ids))))
    return {p.id: p for p in rows.scalars()}


async def due_scheduled(session: AsyncSession, now: datetime, limit: int = 500) -> list[Post]:
    rows = await session.execute(
        select(Post)
        .where(Post.state == PostState.SCHEDULED, Post.publish_at <= now)
        .order_by(Post.publish_at, Post.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(rows.scalars())


async def list_posts(
    session: AsyncSession,
    *,
    state: PostState | None = None,
    kind: PostKind | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[Post]:
    """Newest first, optionally of one state and kind."""
    statement = select(Post).order_by(Post.id.desc()).limit(limit).offset(offset)
    if state is not None:
        statement = statement.where(Post.state == state)
    if kind is not None:
        statement = statement.where(Post.kind == kind)
    return list((await session.execute(statement)).scalars())


async def past_deadline(session: AsyncSession, now: datetime) -> list[Post]:
    """Published posts whose call-to-action deadline has passed."""
    rows = await session.execute(select(Post).where(Post.state == PostState.PUBLISHED, Post.cta_deadline <= now))
    return list(rows.scalars())


async def post_by_click_token(session: AsyncSession, token: str) -> Post | None:
    return (await session.execute(select(Post).where(Post.click_token == token))).scalars().first()


async def next_scheduled_at(session: AsyncSession) -> datetime | None:
    return await session.scalar(select(func.min(Post.publish_at)).where(Post.state == PostState.SCHEDULED))


async def pending_posts(session: AsyncSession) -> list[Post]:
    rows = await session.execute(
        select(Post).where(Post.state.in_((PostState.PENDING, PostState.SCHEDULED))).order_by(Post.id)
    )
    return list(rows.scalars())


async def recent_posts(session: AsyncSession, limit: int = 50) -> list[Post]:
    rows = await session.execute(select(Post).order_by(Post.id.desc()).limit(limit))
    return list(rows.scalars())


async def search_posts(
    session: AsyncSession, words: str, kinds: Sequence[str] | None = None, limit: int = 10
) -> list[Post]:
    """Published posts matching every word, best match first (full-text: see content/search.py)."""
    return [hit.post for hit in await search(session, words, kinds, limit)]


async def reference_posts(session: AsyncSession, kind: PostKind, now: datetime, limit: int = 20) -> list[Post]:
    """Agenda items from today on (soonest first), or knowledge-base articles (newest first)."""
    statement = select(Post).where(Post.kind == kind, Post.state == PostState.PUBLISHED)
    if kind == PostKind.AGENDA:
        statement = statement.where(or_(Post.cta_deadline.is_(None), Post.cta_deadline >= now)).order_by(
            Post.publish_at, Post.id
        )
    else:
        statement = statement.order_by(Post.id.desc())
    rows = await session.execute(statement.limit(limit))
    return list(rows.scalars())


async def open_must_reads(session: AsyncSession, employee_id: int, now: datetime) -> list[Post]:
    """Published acknowledge posts this person has not acknowledged yet."""
    from content.models import CtaKind, Response, ResponseKind

    acked = select(Response.post_id).where(Response.employee_id == employee_id, Response.kind == ResponseKind.ACK)
    rows = await session.execute(
        select(Post)
        .where(
            Post.state == PostState.PUBLISHED,
            Post.cta_kind == CtaKind.ACKNOWLEDGE,
            Post.kind.in_(list(FEED_KINDS)),
            Post.id.not_in(acked),
        )
        .order_by(Post.cta_deadline.is_(None), Post.cta_deadline, Post.id)
    )
    return list(rows.scalars())


# ---------------------------------------------------------------------------------------------
# Channels


async def all_channels(session: AsyncSession) -> list[Channel]:
    """The configured channels (groups, rooms); people's private chats (content/direct.py) are not listed."""
    return list((await session.execute(select(Channel).where(Channel.kind != "direct").order_by(Channel.id))).scalars())


async def channel_by_chat(session: AsyncSession, platform: str, chat_id: str) -> Channel | None:
    """The channel an event from ``chat_id`` counts for, or None: a topic's own channel, else its group's
    (content/chats.py ``chat_ids_to_match``)."""
    wanted = chat_ids_to_match(chat_id)
    rows = await session.execute(select(Channel).where(Channel.platform == platform, Channel.chat_id.in_(wanted)))
    found = {c.chat_id: c for c in rows.scalars()}
    return next((found[c] for c in wanted if c in found), None)


async def channels_of_chat(session: AsyncSession, platform: str, chat_id: str) -> list[Channel]:
    """Every configured channel in the whole chat of ``chat_id``: its own and its topics' (content/chats.py).
    What happens to the chat itself (the bot removed, someone joining or leaving) happens to each."""
    whole = whole_chat_id(chat_id)
    rows = await session.execute(
        select(Channel)
        .where(Channel.platform == platform, Channel.kind != "direct")
        .where(or_(Channel.chat_id == whole, Channel.chat_id.like(f"{whole}{TOPIC_SEPARATOR}%")))
        .order_by(Channel.id)
    )
    return [c for c in rows.scalars() if whole_chat_id(c.chat_id) == whole]


async def channel_by_id(session: AsyncSession, channel_id: int) -> Channel | None:
    return await session.get(Channel, channel_id)


async def enable_channel(session: AsyncSession, channel: Channel, actor: str, now: datetime) -> None:
    """Switch a channel back on by hand, with an audit entry."""
    channel.enabled, channel.disabled_reason = True, None
    audit(session, now, actor, "channel_enabled", None, channel=channel.name, reason="")


async def disable_channel(session: AsyncSession, channel: Channel, reason: str, actor: str, now: datetime) -> bool:
    """Turn a channel off at run time (bot removed, chat gone, an operator's choice): what is still
    pending for it fails with the reason, and the audit log says who did it. False when it was off."""
    if not channel.enabled:
        return False
    channel.enabled, channel.disabled_reason = False, reason or "disabled by an operator"
    await fail_pending_for_channel(session, channel.id, f"channel disabled: {channel.disabled_reason}")
    audit(session, now, actor, "channel_disabled", None, channel=channel.name, reason=reason)
    return True


def channels_for_audience(
    channels: Sequence[Channel], audience: Sequence[str], platforms: Sequence[str]
) -> list[Channel]:
    """Enabled channels on running platforms that carry at least one of the audience tags."""
    wanted = set(audience) or {"everyone"}
    return [c for c in channels if c.enabled and c.platform in platforms and wanted & set(c.tags)]


async def sync_channels(session: AsyncSession, configured: Sequence[tuple[str, str, str, list[str]]]) -> None:
    """Make the channels table match config (name, platform, chat_id, tags); keeps ids and history.

    A channel disabled at run time (bot removed) stays disabled until an operator re-enables it.
    """
    existing = {c.name: c for c in await all_channels(session)}
    by_chat = {(c.platform, c.chat_id): c for c in existing.values()}
    for name, platform, chat_id, tags in configured:
        channel = existing.get(name) or by_chat.get((platform, chat_id))
        if channel is None:
            session.add(Channel(name=name, platform=platform, chat_id=chat_id, tags=list(tags), enabled=True))
        else:
            channel.name, channel.platform, channel.chat_id, channel.tags = name, platform, chat_id, list(tags)
    await session.flush()


# ---------------------------------------------------------------------------------------------
# Deliveries and audit


async def source_keys_taken(session: AsyncSession, keys: Iterable[str]) -> set[str]:
    """Which of these source keys a stored post already carries (imports, status posts)."""
    found: set[str] = set()
    unique = sorted(set(keys))
    for start in range(0, len(unique), 500):
        rows = await session.execute(select(Post.source_key).where(Post.source_key.in_(unique[start : start + 500])))
        found.update(k for (k,) in rows.all() if k is not None)
    return found


async def source_key_taken(session: AsyncSession, key: str) -> bool:
    return bool(await source_keys_taken(session, [key]))


@dataclass(frozen=True, slots=True)
class SentMessage:
    """One delivered copy of a post: where it is, and every message it consists of (a long post or
    an album can be several)."""

    delivery_id: int
    post_id: int
    platform: str
    chat_id: str
    message_id: str
    extra_message_ids: tuple[str, ...] = ()
    channel_enabled: bool = True

    @property
    def message_ids(self) -> list[str]:
        return [self.message_id, *self.extra_message_ids]


async def sent_messages(
    session: AsyncSession, post_ids: Sequence[int], *, platform: str | None = None
) -> list[SentMessage]:
    """The sent messages of these posts, in delivery order, in one query."""
    if not post_ids:
        return []
    query = (
        select(Delivery, Channel)
        .join(Channel, Channel.id == Delivery.channel_id)
        .where(
            Delivery.post_id.in_(post_ids),
            Delivery.state == DeliveryState.SENT,
            Delivery.platform_message_id.is_not(None),
        )
        .order_by(Delivery.id)
    )
    if platform is not None:
        query = query.where(Channel.platform == platform)
    return [
        SentMessage(
            delivery.id,
            delivery.post_id,
            channel.platform,
            channel.chat_id,
            delivery.platform_message_id or "",
            tuple(delivery.extra_message_ids or ()),
            channel.enabled,
        )
        for delivery, channel in (await session.execute(query)).all()
    ]


async def deliveries_of(session: AsyncSession, post_id: int) -> list[Delivery]:
    rows = await session.execute(select(Delivery).where(Delivery.post_id == post_id).order_by(Delivery.id))
    return list(rows.scalars())


async def retract_deliveries(session: AsyncSession, post_id: int) -> None:
    """A retracted post's deliveries: unsent ones stop, sent ones are marked for what they are."""
    await session.execute(
        update(Delivery)
        .where(Delivery.post_id == post_id, Delivery.state.in_((DeliveryState.PENDING, DeliveryState.SENT)))
        .values(state=DeliveryState.RETRACTED)
        .execution_options(synchronize_session=False)
    )


async def delivery_states(session: AsyncSession, post_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    result: dict[int, dict[str, int]] = {pid: {} for pid in post_ids}
    if not post_ids:
        return result
    rows = await session.execute(
        select(Delivery.post_id, Delivery.state, func.count())
        .where(Delivery.post_id.in_(post_ids))
        .group_by(Delivery.post_id, Delivery.state)
    )
    for post_id, state, n in rows.all():
        result[post_id][state] = int(n)
    return result


def audit(session: AsyncSession, at: datetime, actor: str, action: str, post_id: int | None, **detail: Any) -> None:
    session.add(AuditEntry(at=at, actor=actor, action=action, post_id=post_id, detail=detail))


async def audit_entries(session: AsyncSession, limit: int = 100, post_id: int | None = None) -> list[AuditEntry]:
    """Newest first; only one post's when ``post_id`` is given."""
    statement = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if post_id is not None:
        statement = statement.where(AuditEntry.post_id == post_id)
    return list((await session.execute(statement)).scalars())
