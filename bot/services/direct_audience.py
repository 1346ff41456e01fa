"""Posts to people (content/direct.py): who they are, checked when the post is made, and their private
copies queued when it is published."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.drafts import DraftError, PostDraft
from content import direct, posts
from content.models import Channel, Post

log = logging.getLogger("prikbord.publishing")


def is_to_people(draft: PostDraft) -> bool:
    """A segment (``to: department=Sales``) or ``direct`` on a must-read: private copies, no channel posts."""
    return draft.direct or bool(direct.segments_of(draft.audience))


async def people_of(session: AsyncSession, audience: Sequence[str], platforms: Sequence[str]) -> list[int]:
    """The employee ids a post to people goes to: a segment's people from the directory, or the members
    now of the channels that carry its tags."""
    segments = direct.segments_of(audience)
    if segments:
        return await direct.people_in_segments(session, segments)
    channels = posts.channels_for_audience(await posts.all_channels(session), audience, platforms)
    return await direct.people_in_channels(session, [c.id for c in channels])


async def people_targets(session: AsyncSession, audience: Sequence[str], platforms: Sequence[str]) -> list[Channel]:
    """Refuse a post to people that has nobody to go to; else one stand-in channel (never stored) per
    running platform, as any of them may carry a copy: the post must fit each, as a channel post must."""
    if not await people_of(session, audience, platforms):
        raise DraftError(no_people_error(audience))
    return [Channel(platform=platform, kind=direct.DIRECT) for platform in platforms]


async def fan_out_privately(session: AsyncSession, post: Post, platforms: Sequence[str], now: datetime) -> None:
    """Queue the post's private copies (in the publishing transaction)."""
    people = await people_of(session, post.audience, platforms)
    fan_out = await direct.add_direct_deliveries(session, post, people, platforms, now)
    log.info("#%d goes privately to %d people (%d unreachable)", post.id, fan_out.sent_to, fan_out.unreachable)


def no_people_error(audience: Sequence[str]) -> str:
    """Why a post to people has nobody to go to, and what to do about it."""
    wanted = ", ".join(audience) or "everyone"
    if direct.segments_of(audience):
        return f"nobody in the directory has {wanted}: check the spelling, or import the directory first"
    return f"nobody is known to be a member of the channels for {wanted}, so `direct` has nobody to send to"


async def unreachable_lines(session: AsyncSession, post_id: int, shown: int) -> list[str]:
    """For ``stats ID missing``: the people a post to people could not be sent to, with the reason."""
    people = await direct.unreachable(session, post_id)
    if not people:
        return []
    lines = [f"{len(people)} could not be sent it privately:"]
    lines += [f"- {p.name} · {p.platform or 'no platform'} · {p.reason}" for p in people[:shown]]
    if len(people) > shown:
        lines.append(f"… and {len(people) - shown} more: the post's page on the dashboard lists everyone")
    return lines
