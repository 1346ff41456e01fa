"""Posts to people (content/direct.py): who they are, checked when the post is made, and their private
copies queued when it is published."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import SOURCE, Message, Translator
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


def no_people_error(audience: Sequence[str]) -> Message:
    """Why a post to people has nobody to go to, and what to do about it."""
    wanted = ", ".join(audience) or "everyone"
    if direct.segments_of(audience):
        return Message(
            "nobody in the directory has %(wanted)s: check the spelling, or import the directory first", wanted=wanted
        )
    return Message(
        "nobody is known to be a member of the channels for %(wanted)s, so `direct` has nobody to send to",
        wanted=wanted,
    )


async def unreachable_lines(session: AsyncSession, post_id: int, shown: int, t: Translator = SOURCE) -> list[str]:
    """For ``stats ID missing``: the people a post to people could not be sent to, with the reason in the
    reader's language (a platform's own error text as it came)."""
    people = await direct.unreachable(session, post_id)
    if not people:
        return []
    lines = [t.gettext("%(count)s could not be sent it privately:", count=len(people))]
    nowhere = t.gettext("no platform")
    lines += [f"- {p.name} · {p.platform or nowhere} · {t.render(reason_words(p.reason))}" for p in people[:shown]]
    if len(people) > shown:
        more = len(people) - shown
        lines.append(t.gettext("… and %(count)s more: the post's page on the dashboard lists everyone", count=more))
    return lines


def reason_words(reason: str) -> Message | str:
    """A recorded reason (content/direct.py) as people read it; a platform's own error text stays as it came."""
    if reason == direct.NO_ACCOUNT:
        return Message("no messenger account linked (import them in the directory or ask them to /link)")
    if reason == direct.NOT_STARTED:
        return Message("has not started the bot on Telegram: they must open a private chat with it and press Start")
    if reason.startswith(direct.NOT_RUNNING):
        return Message("only on %(platforms)s, which is not running", platforms=reason.removeprefix(direct.NOT_RUNNING))
    if reason == direct.CONFIGURED_CHANNEL:
        return Message("their private chat is also a configured channel")
    if reason == direct.CHAT_OFF:
        return Message("their private chat is off")
    if reason == direct.COPY_FAILED:
        return Message("the private copy failed")
    return reason
