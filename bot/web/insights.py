"""Reach, engagement and call-to-action completion per post and per platform.

Definitions (also on the dashboard and in the README's "What reach means"):

- **reach of a post**: the distinct people who were members of a channel when it received the post,
  and everyone who responded to it (``content.audience``); a person linked on several platforms counts
  once. Where a channel's member list is partial (Telegram), its member count stands in for the people
  not known by name and the figure is an **estimate**, with the part known by name beside it.
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

from bot.services.stats import CTA_RESPONSE
from content.analytics import Engagement, channels_reached, engagement_by_platform
from content.audience import Reach, ReachFigures, reach_figures
from content.models import Post


@dataclass(frozen=True, slots=True)
class PlatformInsight:
    platform: str
    channels: int
    reach: int | None
    reach_estimate: bool
    engaged: int
    completed: int | None
    engagement_rate: float | None
    completion_rate: float | None


@dataclass(frozen=True, slots=True)
class PostInsight:
    reach: int
    reach_estimate: bool  # a partial channel's member count stands in for people not known by name
    reach_known: int  # the people reached known by name
    engaged: int
    completed: int | None
    engagement_rate: float | None
    completion_rate: float | None
    platforms: tuple[PlatformInsight, ...]


def _rate(part: int | None, whole: int | None) -> float | None:
    if part is None or not whole:
        return None
    return round(min(1.0, part / whole), 4)


def _completed(post: Post, engagement: Engagement | None) -> int | None:
    wanted = CTA_RESPONSE.get(post.cta_kind)
    if wanted is None:
        return None
    return engagement.by_kind.get(wanted, 0) if engagement else 0


async def insights_for(
    session: AsyncSession, post_list: Sequence[Post], reach: ReachFigures | None = None
) -> dict[int, PostInsight]:
    """The insights of each post; ``reach`` when the caller has read it already (a page lists it too).
    Every figure is counted by the database: a list of 100 posts to 1,000 groups reads a few rows a post."""
    ids = [p.id for p in post_list]
    reached = await channels_reached(session, ids)
    engagement = await engagement_by_platform(session, ids)
    if reach is None:
        reach = await reach_figures(session, ids)
    result: dict[int, PostInsight] = {}
    for post in post_list:
        channels = reached[post.id]
        by_platform = engagement[post.id]
        platforms: list[PlatformInsight] = []
        names = sorted(set(channels) | {p for p in by_platform if p is not None})
        for name in names:
            own = channels.get(name, 0)
            acted = by_platform.get(name)
            engaged = acted.people if acted else 0
            completed = _completed(post, acted)
            here: Reach | None = reach.by_platform[post.id].get(name) if own else None
            value = here.value if here is not None else (0 if own else None)
            platforms.append(
                PlatformInsight(
                    name,
                    own,
                    value,
                    here.estimate if here is not None else False,
                    engaged,
                    completed,
                    _rate(engaged, value),
                    _rate(completed, value),
                )
            )
        overall = by_platform.get(None)
        engaged_total = overall.people if overall else 0
        completed_total = _completed(post, overall)
        total = reach.overall[post.id]
        result[post.id] = PostInsight(
            total.value,
            total.estimate,
            total.known,
            engaged_total,
            completed_total,
            _rate(engaged_total, total.value),
            _rate(completed_total, total.value),
            tuple(platforms),
        )
    return result
