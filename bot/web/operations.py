"""What the admin API and the dashboard do to the store, in one place, so both behave alike and
leave the same audit trail."""

from __future__ import annotations

import logging

from fastapi import HTTPException

from adapters.base import DeliveryError
from bot.services.directory import import_directory
from bot.services.drafts import CallToAction, PostDraft
from bot.services.editing import EditResult, PostEdit
from bot.services.publishing import NotFound
from bot.services.roles import Role
from bot.web.deps import WebDeps
from bot.web.schemas import PostEditIn, PostIn
from content import posts
from content.directory import DirectoryResult
from content.models import Channel, CtaKind, Post, PostKind

log = logging.getLogger("prikbord.web")


def draft_of(data: PostIn) -> PostDraft:
    cta = data.call_to_action
    return PostDraft(
        title=data.title,
        body=data.body,
        kind=PostKind(data.kind),
        cta=CallToAction(CtaKind(cta.kind), tuple(cta.options), cta.url, cta.deadline),
        audience=tuple(data.to),
        publish_at=data.publish_at,
        urgent=data.urgent,
        direct=data.direct,
        paid_broadcast=data.paid_broadcast,
    )


class Operations:
    def __init__(self, deps: WebDeps) -> None:
        self._deps = deps

    async def create_post(self, data: PostIn, actor: str) -> Post:
        """Raises DraftError (the post breaks a rule) like PublishingService.create. ``review``
        submits it for approval, as an employee's post under open posting would be."""
        return await self._deps.publishing.create(draft_of(data), actor, Role.ADMIN, review=data.review)

    async def approve(self, post_id: int, actor: str) -> Post:
        return await self._deps.publishing.approve(post_id, actor)

    async def reject(self, post_id: int, actor: str, reason: str) -> Post:
        return await self._deps.publishing.reject(post_id, actor, reason)

    async def edit_post(self, post_id: int, data: PostEditIn, actor: str) -> EditResult:
        """Raises EditRefused (a 422 on the field), NotFound, WrongState or DraftError like EditingService.edit."""
        if self._deps.editing is None:
            raise NotFound("editing is not wired in this process")
        cta = data.call_to_action
        change = PostEdit(
            data.title,
            data.body,
            None if cta is None else CallToAction(CtaKind(cta.kind), tuple(cta.options), cta.url, cta.deadline),
        )
        return await self._deps.editing.edit(post_id, change, actor, Role.ADMIN)

    async def retract(self, post_id: int, actor: str) -> Post:
        post, _ = await self._deps.publishing.retract(post_id, actor)
        return post

    async def set_channel(self, channel_id: int, enabled: bool, actor: str, reason: str = "") -> Channel:
        now = self._deps.clock.now()
        async with self._deps.store.transaction() as session:
            channel = await posts.channel_by_id(session, channel_id)
            if channel is None:
                raise NotFound(f"there is no channel {channel_id}")
            if enabled:
                await posts.enable_channel(session, channel, actor, now)
            else:
                await posts.disable_channel(session, channel, reason, actor, now)
        if enabled:
            self._deps.wake_dispatcher(channel.platform)
        return channel

    async def import_directory(self, text: str, actor: str) -> DirectoryResult:
        """Raises MalformedDirectory when the file as a whole is unreadable, and 502 when Slack refused to look
        up the Slack emails in it (a missing scope, rate limited for too long); either way nothing changes."""
        deps = self._deps
        try:
            return await import_directory(
                deps.store, deps.clock, text, actor, deps.engagement.forget_people, deps.slack_lookup
            )
        except DeliveryError as exc:  # only the Slack email lookup reaches a platform here
            raise HTTPException(502, f"looking up the Slack emails failed: {exc}; nothing was imported") from None
