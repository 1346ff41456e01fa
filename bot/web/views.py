"""Posts as the API and the dashboard show them: the post, its counts (the shape ``prikbord stats``
prints), its reach and engagement, and per channel what happened to its delivery."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.stats import post_stats
from bot.web.deps import WebDeps
from bot.web.insights import PostInsight, insights_for
from bot.web.schemas import CallToActionOut, ChannelDeliveryOut, PlatformOut, PostDetailOut, PostOut
from content import posts
from content.audience import reach_figures
from content.direct import is_direct
from content.models import Channel, Post


def _out(deps: WebDeps, post: Post, stats: dict[str, Any], insight: PostInsight) -> PostOut:
    return PostOut(
        id=post.id,
        title=post.title,
        body=post.body,
        kind=post.kind,
        state=post.state,
        call_to_action=CallToActionOut(
            kind=post.cta_kind, options=list(post.cta_options or []), url=post.cta_url, deadline=post.cta_deadline
        ),
        to=list(post.audience or []),
        publish_at=post.publish_at,
        published_at=post.published_at,
        urgent=post.urgent,
        direct=is_direct(post),
        paid_broadcast=post.paid_broadcast,
        author=post.author,
        source=post.source,
        reject_reason=post.reject_reason,
        click_url=deps.click_url(post),
        created_at=post.created_at,
        revision=post.revision,
        counts=stats["counts"],
        votes=stats["votes"],
        deliveries=stats["deliveries"],
        reach=insight.reach,
        reach_estimate=insight.reach_estimate,
        reach_known=insight.reach_known,
        engaged=insight.engaged,
        engagement_rate=insight.engagement_rate,
        cta_completion=insight.completion_rate,
    )


async def views_with_insights(
    deps: WebDeps, session: AsyncSession, post_list: Sequence[Post]
) -> list[tuple[PostOut, PostInsight]]:
    reach = await reach_figures(session, [p.id for p in post_list])  # read once for both
    stats = await post_stats(session, post_list, reach.overall)
    insights = await insights_for(session, post_list, reach)
    return [
        (_out(deps, post, s, insights[post.id]), insights[post.id]) for post, s in zip(post_list, stats, strict=True)
    ]


async def post_views(deps: WebDeps, session: AsyncSession, post_list: Sequence[Post]) -> list[PostOut]:
    return [view for view, _ in await views_with_insights(deps, session, post_list)]


async def post_detail(deps: WebDeps, session: AsyncSession, post: Post) -> PostDetailOut:
    ((view, insight),) = await views_with_insights(deps, session, [post])
    channels = {c.id: c for c in await posts.all_channels(session)}
    deliveries = []
    for delivery in await posts.deliveries_of(session, post.id):
        channel: Channel | None = channels.get(delivery.channel_id)
        deliveries.append(
            ChannelDeliveryOut(
                delivery_id=delivery.id,
                channel=channel.name if channel else str(delivery.channel_id),
                platform=delivery.platform,
                state=delivery.state,
                attempts=delivery.attempts,
                sent_at=delivery.sent_at,
                last_error=delivery.last_error,
            )
        )
    platforms = [
        PlatformOut(
            platform=p.platform,
            channels=p.channels,
            reach=p.reach,
            reach_estimate=p.reach_estimate,
            engaged=p.engaged,
            completed=p.completed,
            engagement_rate=p.engagement_rate,
            completion_rate=p.completion_rate,
        )
        for p in insight.platforms
    ]
    return PostDetailOut(**view.model_dump(), platforms=platforms, channels=deliveries)
