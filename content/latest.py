"""The newest posts a person can see on one platform: for the Slack App Home's "Latest posts"."""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from content.models import FEED_KINDS, Channel, Delivery, DeliveryState, Membership, Post, PostState

LATEST = 10


async def latest_seen_posts(
    session: AsyncSession, identity_id: int, platform: str, limit: int = LATEST
) -> list[tuple[Post, int]]:
    """The newest published feed posts with a copy sent on ``platform`` to a chat the person is in (a
    channel they are a member of, or their own private chat), each with the first such copy's delivery
    id, newest first. A channel the person left, or never joined, shows nothing of its posts."""
    member_of = select(Membership.channel_id).where(Membership.identity_id == identity_id, Membership.left_at.is_(None))
    first_copy = func.min(Delivery.id).label("delivery_id")
    seen = (
        select(Delivery.post_id, first_copy)
        .join(Channel, Channel.id == Delivery.channel_id)
        .where(
            Channel.platform == platform,
            Delivery.state == DeliveryState.SENT,
            Delivery.platform_message_id.is_not(None),
            or_(Channel.id.in_(member_of), Channel.identity_id == identity_id),
        )
        .group_by(Delivery.post_id)
        .subquery()
    )
    rows = await session.execute(
        select(Post, seen.c.delivery_id)
        .join(seen, seen.c.post_id == Post.id)
        .where(Post.state == PostState.PUBLISHED, Post.kind.in_(list(FEED_KINDS)))
        .order_by(Post.published_at.desc(), Post.id.desc())
        .limit(limit)
    )
    return [(post, int(delivery_id)) for post, delivery_id in rows.all()]
