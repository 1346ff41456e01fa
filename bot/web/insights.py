"""Reach, engagement and call-to-action completion per post and per platform.

Definitions (also on the dashboard):

- **audience of a channel**: its ``member_count`` when the platform reported one; otherwise the
  distinct people who ever responded to anything posted in that channel (a lower bound that grows
  as people act).
- **reach of a post**: the sum of the audiences of the channels it was actually sent to, and never
  less than the number of people who responded to it (someone who acted was reached).
- **engagement rate**: distinct people who responded in any way (like, ack, rsvp, vote, reply, click)
  divided by reach.
- **call-to-action completion**: distinct people who did what the post asks (ack for a must-read,
  a vote for a poll, …) divided by reach. A post without a call to action has none.

Per platform the same, restricted to that platform's channels and responses; responses from a
platform without channels (``web``: clicks on the redirect) count for the post but have no reach.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from content.analytics import Engagement, ReachedChannel, engagement_by_platform, reached_channels
from content.models import CtaKind, Post, ResponseKind

CTA_RESPONSE: dict[str, str] = {
    CtaKind.LIKE: ResponseKind.LIKE,
    CtaKind.ACKNOWLEDGE: ResponseKind.ACK,
    CtaKind.RSVP: ResponseKind.RSVP,
    CtaKind.POLL: ResponseKind.VOTE,
    CtaKind.REPLY: ResponseKind.REPLY,
    CtaKind.LINK: ResponseKind.CLICK,
}


@dataclass(frozen=True, slots=True)
class PlatformInsight:
    platform: str
    channels: int
    reach: int | None
    engaged: int
    completed: int | None
    engagement_rate: float | None
    completion_rate: float | None


@dataclass(frozen=True, slots=True)
class PostInsight:
    reach: int
    engaged: int
    completed: int | None
    engagement_rate: float | None
    completion_rate: float | None
    platforms: tuple[PlatformInsight, ...]
    channels: tuple[ReachedChannel, ...]


def _rate(part: int | None, whole: int | None) -> float | None:
    if part is None or not whole:
        return None
    return round(min(1.0, part / whole), 4)


def _completed(post: Post, engagement: Engagement | None) -> int | None:
    wanted = CTA_RESPONSE.get(post.cta_kind)
    if wanted is None:
        return None
    return engagement.by_kind.get(wanted, 0) if engagement else 0


async def insights_for(session: AsyncSession, post_list: Sequence[Post]) -> dict[int, PostInsight]:
    ids = [p.id for p in post_list]
    reached = await reached_channels(session, ids)
    engagement = await engagement_by_platform(session, ids)
    result: dict[int, PostInsight] = {}
    for post in post_list:
        channels = reached[post.id]
        by_platform = engagement[post.id]
        platforms: list[PlatformInsight] = []
        names = sorted({c.platform for c in channels} | {p for p in by_platform if p is not None})
        total_reach = 0
        for name in names:
            own = [c for c in channels if c.platform == name]
            acted = by_platform.get(name)
            engaged = acted.people if acted else 0
            completed = _completed(post, acted)
            reach: int | None = None
            if own:
                reach = max(sum(c.audience for c in own), engaged)
                total_reach += reach
            platforms.append(
                PlatformInsight(
                    name, len(own), reach, engaged, completed, _rate(engaged, reach), _rate(completed, reach)
                )
            )
        overall = by_platform.get(None)
        engaged_total = overall.people if overall else 0
        completed_total = _completed(post, overall)
        reach_total = max(total_reach, engaged_total)
        result[post.id] = PostInsight(
            reach_total,
            engaged_total,
            completed_total,
            _rate(engaged_total, reach_total),
            _rate(completed_total, reach_total),
            tuple(platforms),
            tuple(channels),
        )
    return result
