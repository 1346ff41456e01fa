"""What the admin API and the dashboard do to the store, in one place, so both behave alike and
leave the same audit trail."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.config import PLATFORMS
from bot.services.drafts import CallToAction, PostDraft
from bot.services.publishing import ModerationPolicy, NotFound, PublishingService
from bot.services.roles import Role
from bot.web.schemas import PostIn
from content import outbox, posts
from content.directory import DirectoryResult, apply_directory, parse_directory
from content.models import Channel, CtaKind, Post, PostKind

if TYPE_CHECKING:
    from bot.app import App

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
    )


class Operations:
    def __init__(self, app: App) -> None:
        self._app = app
        moderation = app.settings.moderation
        # Posts submitted for review take the employee path of open posting: stored as pending,
        # released by approve. The app's own service keeps the configured policy for everyone else.
        self._reviewing = PublishingService(
            app.store,
            app.clock,
            app.adapters,
            app.composer,
            ModerationPolicy(moderation.require_call_to_action, open_posting=True),
            app.dispatcher.wake,
        )

    async def create_post(self, data: PostIn, actor: str) -> Post:
        """Raises DraftError (the post breaks a rule) like PublishingService.create."""
        draft = draft_of(data)
        if data.review:
            return await self._reviewing.create(draft, actor, Role.EMPLOYEE)
        return await self._app.publishing.create(draft, actor, Role.ADMIN)

    async def approve(self, post_id: int, actor: str) -> Post:
        return await self._app.publishing.approve(post_id, actor)

    async def reject(self, post_id: int, actor: str, reason: str) -> Post:
        return await self._app.publishing.reject(post_id, actor, reason)

    async def retract(self, post_id: int, actor: str) -> Post:
        post, _ = await self._app.publishing.retract(post_id, actor)
        return post

    async def set_channel(self, channel_id: int, enabled: bool, actor: str, reason: str = "") -> Channel:
        now = self._app.clock.now()
        async with self._app.store.transaction() as session:
            channel = await posts.set_channel_enabled(session, channel_id, enabled, reason)
            if channel is None:
                raise NotFound(f"there is no channel {channel_id}")
            if not enabled:
                # What was waiting for this channel would otherwise still be sent.
                await outbox.fail_pending_for_channel(
                    session, channel_id, f"channel disabled: {channel.disabled_reason}"
                )
            posts.audit(
                session,
                now,
                actor,
                "channel_enabled" if enabled else "channel_disabled",
                None,
                channel=channel.name,
                reason=reason,
            )
        if enabled:
            self._app.dispatcher.wake(channel.platform)
        return channel

    async def import_directory(self, text: str, actor: str) -> DirectoryResult:
        """Raises MalformedDirectory when the CSV as a whole is unreadable; then nothing changes."""
        rows, failed = parse_directory(text, PLATFORMS)
        now = self._app.clock.now()
        async with self._app.store.transaction() as session:
            result = await apply_directory(session, rows, now)
            result.failed[:0] = failed
            posts.audit(
                session,
                now,
                actor,
                "import_employees",
                None,
                created=result.created,
                updated=result.updated,
                identities_linked=result.identities_linked,
                failed=len(result.failed),
            )
        if result.relinked:
            self._app.engagement.forget_people(result.relinked)
        result.failed.sort(key=lambda f: f.line)
        return result
