"""Read-only queries behind the dashboard, the admin API and /metrics: who was reached, who acted,
and how engagement went over time."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from content.models import FEED_KINDS, Channel, CtaKind, Delivery, Employee, Identity, Post, PostState, Response


async def channels_reached(session: AsyncSession, post_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """Per post, per platform: how many channels the post was actually sent to (sent_at set), counted
    by the database (a post to 1,000 groups is one row)."""
    result: dict[int, dict[str, int]] = {pid: {} for pid in post_ids}
    if not post_ids:
        return result
    rows = await session.execute(
        select(Delivery.post_id, Channel.platform, func.count())
        .join(Channel, Channel.id == Delivery.channel_id)
        .where(Delivery.post_id.in_(post_ids), Delivery.sent_at.is_not(None))
        .group_by(Delivery.post_id, Channel.platform)
    )
    for post_id, platform, n in rows.all():
        result[post_id][platform] = int(n)
    return result


@dataclass(frozen=True, slots=True)
class Engagement:
    people: int  # distinct people who responded in any way
    by_kind: dict[str, int]  # kind → distinct people


async def engagement_by_platform(
    session: AsyncSession, post_ids: Sequence[int]
) -> dict[int, dict[str | None, Engagement]]:
    """Per post, per platform (and ``None`` for all platforms together): who acted, and how."""
    result: dict[int, dict[str | None, Engagement]] = {pid: {} for pid in post_ids}
    if not post_ids:
        return result
    people = func.count(func.distinct(Response.employee_id))
    by_kind: dict[tuple[int, str | None], dict[str, int]] = defaultdict(dict)
    for post_id, platform, kind, n in (
        await session.execute(
            select(Response.post_id, Response.platform, Response.kind, people)
            .where(Response.post_id.in_(post_ids))
            .group_by(Response.post_id, Response.platform, Response.kind)
        )
    ).all():
        by_kind[(post_id, platform)][kind] = int(n)
    for post_id, platform, n in (
        await session.execute(
            select(Response.post_id, Response.platform, people)
            .where(Response.post_id.in_(post_ids))
            .group_by(Response.post_id, Response.platform)
        )
    ).all():
        result[post_id][platform] = Engagement(int(n), by_kind[(post_id, platform)])
    totals_kind: dict[int, dict[str, int]] = defaultdict(dict)
    for post_id, kind, n in (
        await session.execute(
            select(Response.post_id, Response.kind, people)
            .where(Response.post_id.in_(post_ids))
            .group_by(Response.post_id, Response.kind)
        )
    ).all():
        totals_kind[post_id][kind] = int(n)
    for post_id, n in (
        await session.execute(
            select(Response.post_id, people).where(Response.post_id.in_(post_ids)).group_by(Response.post_id)
        )
    ).all():
        result[post_id][None] = Engagement(int(n), totals_kind[post_id])
    return result


async def daily_responses(
    session: AsyncSession, since: datetime, post_id: int | None = None
) -> list[tuple[date, str, int]]:
    """Responses per UTC day and kind from ``since`` on (all posts, or one)."""
    day = func.date(Response.created_at)
    statement = select(day, Response.kind, func.count()).where(Response.created_at >= since)
    if post_id is not None:
        statement = statement.where(Response.post_id == post_id)
    rows = await session.execute(statement.group_by(day, Response.kind))
    # SQLite's date() gives text, PostgreSQL's a date.
    return [(d if isinstance(d, date) else date.fromisoformat(str(d)), kind, int(n)) for d, kind, n in rows.all()]


async def deliveries_by_platform_state(session: AsyncSession) -> list[tuple[str, str, int]]:
    rows = await session.execute(
        select(Delivery.platform, Delivery.state, func.count()).group_by(Delivery.platform, Delivery.state)
    )
    return [(p, s, int(n)) for p, s, n in rows.all()]


async def responses_by_kind(session: AsyncSession) -> list[tuple[str, int]]:
    rows = await session.execute(select(Response.kind, func.count()).group_by(Response.kind))
    return [(k, int(n)) for k, n in rows.all()]


@dataclass(frozen=True, slots=True)
class ResponseRow:
    id: int
    post_id: int
    post_title: str
    kind: str
    value: str | None
    text: str | None
    platform: str
    employee_id: int
    employee_name: str
    employee_email: str | None
    identity: str  # platform:user_id
    created_at: datetime


async def list_responses(
    session: AsyncSession,
    *,
    post_id: int | None = None,
    kind: str | None = None,
    limit: int | None = 100,
    offset: int = 0,
) -> list[ResponseRow]:
    """Responses, oldest first, with the post's title and who gave them."""
    statement = (
        select(Response, Post.title, Employee.name, Employee.email, Identity.platform, Identity.platform_user_id)
        .join(Post, Post.id == Response.post_id)
        .join(Employee, Employee.id == Response.employee_id)
        .join(Identity, Identity.id == Response.identity_id)
        .order_by(Response.id)
        .offset(offset)
    )
    if post_id is not None:
        statement = statement.where(Response.post_id == post_id)
    if kind is not None:
        statement = statement.where(Response.kind == kind)
    if limit is not None:
        statement = statement.limit(limit)
    return [
        ResponseRow(
            r.id,
            r.post_id,
            title,
            r.kind,
            r.value,
            r.text,
            r.platform,
            r.employee_id,
            name,
            email,
            f"{platform}:{user_id}",
            r.created_at,
        )
        for r, title, name, email, platform, user_id in (await session.execute(statement)).all()
    ]


ARCHIVE_SOURCE = "archive"  # imported with --archive: searchable, never in the feed or the timeline


async def timeline_posts(session: AsyncSession, limit: int = 50) -> list[Post]:
    """The newest posts of the feed and the moderation queue, archived imports left out."""
    rows = await session.execute(
        select(Post)
        .where(or_(Post.source.is_(None), Post.source != ARCHIVE_SOURCE))
        .order_by(Post.id.desc())
        .limit(limit)
    )
    return list(rows.scalars())


async def must_reads(session: AsyncSession, limit: int = 10) -> list[Post]:
    """Published (or closed) acknowledge posts of the feed, newest first."""
    rows = await session.execute(
        select(Post)
        .where(
            Post.cta_kind == CtaKind.ACKNOWLEDGE,
            Post.state.in_((PostState.PUBLISHED, PostState.EXPIRED)),
            Post.kind.in_(list(FEED_KINDS)),
        )
        .order_by(Post.id.desc())
        .limit(limit)
    )
    return list(rows.scalars())
