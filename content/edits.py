"""The copies of edited posts that still show an older revision: found, claimed and recorded.

An edit raises ``posts.revision``; every sent delivery records in ``shown_revision`` the revision its
message shows. The edit worker (bot/services/edit_sync.py) claims copies behind their post's revision
(``edit_after`` is the claim: a short lease, so a crash leaves it to another pass once it runs out),
edits them, and records the revision it showed. A copy is therefore edited again only when its edit
was under way at a crash, never after it was recorded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from content.db import Store
from content.models import Channel, Delivery, DeliveryState, Post, PostState

LIVE_STATES = (PostState.PUBLISHED, PostState.EXPIRED)


@dataclass(frozen=True, slots=True)
class StaleCopy:
    """A sent copy whose message shows an older revision than its post has."""

    delivery_id: int
    post_id: int
    chat_id: str
    message_id: str
    revision: int  # the post's revision when claimed: what the edit shows


def _behind(platform: str, now: datetime | None) -> list[ColumnElement[bool]]:
    """Sent copies on ``platform`` behind their live post, in enabled channels; with ``now``: not
    claimed or postponed past it."""
    conditions = [
        Post.revision > 0,  # edited posts only: few, by ix_posts_revision
        Delivery.platform == platform,
        Delivery.state == DeliveryState.SENT,
        Delivery.platform_message_id.is_not(None),
        Delivery.shown_revision < Post.revision,
        Post.state.in_(LIVE_STATES),
        Channel.enabled.is_(True),
    ]
    if now is not None:
        conditions.append(or_(Delivery.edit_after.is_(None), Delivery.edit_after <= now))
    return conditions


async def claim_stale(store: Store, platform: str, limit: int, now: datetime, lease: timedelta) -> list[StaleCopy]:
    """Claim up to ``limit`` copies behind their post on ``platform`` (``FOR UPDATE SKIP LOCKED`` on
    PostgreSQL, so instances never claim the same copy), oldest delivery first."""
    query = (
        select(Delivery.id, Delivery.post_id, Channel.chat_id, Delivery.platform_message_id, Post.revision)
        .join(Post, Post.id == Delivery.post_id)
        .join(Channel, Channel.id == Delivery.channel_id)
        .where(*_behind(platform, now))
        .order_by(Delivery.id)
        .limit(limit)
    )
    if store.is_postgres:
        query = query.with_for_update(of=Delivery, skip_locked=True)
    async with store.transaction() as session:
        rows = (await session.execute(query)).all()
        if rows:
            await session.execute(
                update(Delivery).where(Delivery.id.in_([r[0] for r in rows])).values(edit_after=now + lease)
            )
    return [StaleCopy(r[0], r[1], r[2], r[3] or "", r[4]) for r in rows]


async def record_shown(store: Store, delivery_id: int, revision: int) -> None:
    """The copy now shows ``revision`` (never lowered: a later edit's worker may have been faster)."""
    async with store.transaction() as session:
        await session.execute(
            update(Delivery)
            .where(Delivery.id == delivery_id, Delivery.shown_revision < revision)
            .values(shown_revision=revision)
        )
        await session.execute(update(Delivery).where(Delivery.id == delivery_id).values(edit_after=None))


async def postpone(store: Store, delivery_id: int, until: datetime) -> None:
    """Try this copy again at ``until`` (a 429's retry-after, or a backoff after an outage)."""
    async with store.transaction() as session:
        await session.execute(update(Delivery).where(Delivery.id == delivery_id).values(edit_after=until))


async def stale_count(session: AsyncSession, platforms: Sequence[str], now: datetime | None = None) -> int:
    """How many copies on these platforms still show an older revision (due now, when ``now`` is given)."""
    total = 0
    for platform in platforms:
        query = (
            select(func.count(Delivery.id))
            .join(Post, Post.id == Delivery.post_id)
            .join(Channel, Channel.id == Delivery.channel_id)
            .where(*_behind(platform, now))
        )
        total += (await session.execute(query)).scalar_one()
    return total


async def raise_revision(session: AsyncSession, post: Post) -> int:
    """Count an edit of ``post`` (in the caller's transaction). Copies not sent yet will be composed from
    the new text, so they are marked as showing it; sent ones fall behind. Returns how many fell behind."""
    post.revision += 1
    await session.execute(
        update(Delivery)
        .where(Delivery.post_id == post.id, Delivery.state == DeliveryState.PENDING)
        .values(shown_revision=post.revision)
    )
    behind = await session.execute(
        select(Delivery.id).where(Delivery.post_id == post.id, Delivery.state == DeliveryState.SENT)
    )
    return len(behind.all())
