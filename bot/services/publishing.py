"""Publishing: the life of a post (draft → pending → scheduled → published → retracted/expired).

Publishing writes the post's deliveries in the same transaction; the dispatcher sends them.
Agenda and knowledge-base posts never go to the feed: they answer ``agenda``, ``kb`` and ``search``.

Quiet hours: a non-urgent feed post that falls due inside the company's quiet hours — scheduled for
then, or published then by a moderator — is held: it stays (or becomes) scheduled with ``publish_at``
moved to the end of the quiet hours, and the moderators are told. An urgent post goes at once.
Whoever keeps jobs in step with posts (the scheduler) registers with :meth:`PublishingService.on_change`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from adapters.base import Adapter, ChatRef, DeliveryError, MessageRef, MessageTooLong, RateLimited, TransientError
from bot.clock import Clock
from bot.i18n import Message, Moment, Refusal
from bot.services.compose import Composer
from bot.services.direct_audience import fan_out_privately, is_to_people, people_targets
from bot.services.drafts import DraftError, PostDraft, normalized, post_from_draft
from bot.services.post_words import state_word
from bot.services.roles import Role
from content import direct, posts
from content.db import Store
from content.models import FEED_KINDS, Channel, Post, PostState
from content.outbox import add_deliveries
from content.responses import Counts
from scheduler.quiet import QuietHours

log = logging.getLogger("prikbord.publishing")

ChangeHook = Callable[[Sequence[int]], Awaitable[None]]
"""Called after a transaction that created, scheduled, held, published or retracted posts, with their ids."""
Tell = Callable[[Message | str], Awaitable[object]]

DUE_BATCH = 500


class NotAllowed(Refusal, PermissionError):
    """The actor lacks the role; the message names the role needed."""


class NotFound(Refusal, LookupError):
    pass


class WrongState(Refusal, ValueError):
    pass


@dataclass(frozen=True)
class ModerationPolicy:
    require_call_to_action: bool = False
    open_posting: bool = False


class PublishingService:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        adapters: Mapping[str, Adapter],
        composer: Composer,
        policy: ModerationPolicy,
        wake_dispatcher: Callable[[], None],
        *,
        quiet_hours: QuietHours | None = None,
        tell_moderators: Tell | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._adapters = adapters
        self._composer = composer
        self._policy = policy
        self._wake = wake_dispatcher
        self._quiet = quiet_hours
        self._tell = tell_moderators
        self._change_hooks: list[ChangeHook] = []

    def on_change(self, hook: ChangeHook) -> None:
        """Register ``hook(post_ids)``, awaited after posts were created, approved, held, published or
        retracted. A failing hook is logged, never raised: the post is stored either way."""
        self._change_hooks.append(hook)

    async def _changed(self, post_ids: Sequence[int], held: Sequence[Post] = ()) -> None:
        for post in held:
            await self._tell_held(post)
        if not post_ids:
            return
        for hook in self._change_hooks:
            try:
                await hook(list(post_ids))
            except Exception:
                log.exception("a post-change hook failed for posts %s", list(post_ids)[:10])

    @property
    def platforms(self) -> list[str]:
        return list(self._adapters)

    # -- creating ---------------------------------------------------------------------------

    def check_may_post(self, role: Role) -> None:
        """Who may make a post at all (a command, the post form): moderators, and everyone with open posting."""
        if role < Role.MODERATOR and not self._policy.open_posting:
            raise NotAllowed(
                Message("posting needs the moderator role (ask a moderator, or an admin to enable open posting)")
            )

    async def create(self, draft: PostDraft, author: str, role: Role, *, review: bool = False) -> Post:
        """Store a new post. Moderators publish (or schedule) at once; employees, with open
        posting, submit it for approval, and so does anyone who asks for ``review``. Raises
        DraftError, NotAllowed or MessageTooLong."""
        self.check_may_post(role)
        if draft.paid_broadcast and role < Role.MODERATOR:
            raise NotAllowed(Message("a paid broadcast costs the bot's Telegram Stars: only a moderator may send one"))
        draft = normalized(draft, require_call_to_action=self._policy.require_call_to_action)
        now = self._clock.now()
        async with self._store.transaction() as session:
            post = await self.stage(session, draft, author=author, now=now)
            held: list[Post] = []
            if role >= Role.MODERATOR and not review:
                await self._release(session, post, now, held)
            else:
                post.state = PostState.PENDING
            posts.audit(session, now, author, "create", post.id, state=post.state, title=post.title)
        if post.state == PostState.PUBLISHED:
            self._wake()
        if post.state == PostState.PENDING:
            await self._tell_pending(post)
        await self._changed([post.id], held)
        return post

    async def stage(
        self,
        session: AsyncSession,
        draft: PostDraft,
        *,
        author: str | None,
        now: datetime,
        to_feed: bool = True,
        source_key_checked: bool = False,
    ) -> Post:
        """Add a post of a normalized draft to ``session`` (state draft, flushed, so it has its id)
        after the checks every new post passes: its source key is new, a feed post has an audience
        and fits every platform it goes to. The one way posts are made (commands, API, importer).
        ``to_feed=False`` stores a feed kind without sending it (an archive import)."""
        key = None if source_key_checked else draft.source_key
        if key is not None and await posts.source_key_taken(session, key):
            raise DraftError(Message("a post from %(source)r was imported already", source=draft.source_key))
        channels = await posts.all_channels(session)
        targets: list[Channel] = []
        if to_feed and draft.kind in FEED_KINDS and is_to_people(draft):
            targets = await people_targets(session, draft.audience, self.platforms)
        elif to_feed and draft.kind in FEED_KINDS:
            targets = posts.channels_for_audience(channels, draft.audience, self.platforms)
            if not targets:
                raise DraftError(no_audience_error(channels, draft.audience))
        post = post_from_draft(draft, author=author, now=now)
        session.add(post)
        await session.flush()
        self._check_fits(post, targets)
        return post

    def _check_fits(self, post: Post, targets: Sequence[Channel]) -> None:
        """Render for every target platform now, so an oversized post is refused before anything
        is sent rather than failing channel by channel."""
        message = self._composer.compose(post, Counts({}, {}), 0)
        for platform in sorted({c.platform for c in targets}):
            try:
                self._adapters[platform].validate(message)
            except MessageTooLong as exc:
                raise DraftError(
                    Message("too long for %(platform)s: %(reason)s", platform=platform, reason=str(exc))
                ) from None

    async def _release(self, session: AsyncSession, post: Post, now: datetime, held: list[Post]) -> None:
        """A moderator's (or approved, or due) post: publish now, or schedule for later — or, when it
        falls due inside quiet hours and is not urgent, hold it until they end (appended to ``held``)."""
        due = post.publish_at if post.publish_at is not None and post.publish_at > now else now
        if self._quiet is not None and not post.urgent and post.kind in FEED_KINDS and self._quiet.contains(due):
            post.publish_at = self._quiet.end_after(due)
            post.state, post.updated_at = PostState.SCHEDULED, now
            posts.audit(session, now, "scheduler", "hold", post.id, until=post.publish_at.isoformat())
            held.append(post)
            return
        if post.publish_at is not None and post.publish_at > now:
            post.state = PostState.SCHEDULED
            return
        post.state = PostState.PUBLISHED
        post.published_at = now
        post.updated_at = now
        if post.kind in FEED_KINDS and direct.is_direct(post):
            await fan_out_privately(session, post, self.platforms, now)
        elif post.kind in FEED_KINDS:
            channels = await posts.all_channels(session)
            targets = posts.channels_for_audience(channels, post.audience, self.platforms)
            add_deliveries(session, post.id, targets, now, post.revision or 0)

    # -- moderating -------------------------------------------------------------------------

    async def approve(self, post_id: int, actor: str) -> Post:
        now = self._clock.now()
        async with self._store.transaction() as session:
            post = await _get(session, post_id)
            if post.state != PostState.PENDING:
                raise WrongState(_not_waiting(post))
            held: list[Post] = []
            await self._release(session, post, now, held)
            posts.audit(session, now, actor, "approve", post_id, state=post.state)
        self._wake()
        await self._changed([post_id], held)
        return post

    async def reject(self, post_id: int, actor: str, reason: str) -> Post:
        now = self._clock.now()
        async with self._store.transaction() as session:
            post = await _get(session, post_id)
            if post.state != PostState.PENDING:
                raise WrongState(_not_waiting(post))
            post.state, post.reject_reason, post.updated_at = PostState.REJECTED, reason or None, now
            posts.audit(session, now, actor, "reject", post_id, reason=reason)
        return post

    async def retract(self, post_id: int, actor: str) -> tuple[Post, int]:
        """Withdraw a post: unsent deliveries stop, sent messages are deleted. Returns (post, removed)."""
        now = self._clock.now()
        async with self._store.transaction() as session:
            post = await _get(session, post_id)
            if post.state in (PostState.RETRACTED, PostState.REJECTED):
                raise WrongState(Message("#%(id)s is already %(state)s", id=post_id, state=state_word(post.state)))
            post.state, post.updated_at = PostState.RETRACTED, now
            to_delete = await posts.sent_messages(session, [post_id])
            await posts.retract_deliveries(session, post_id)
            posts.audit(session, now, actor, "retract", post_id)
        await self._changed([post_id])  # a retracted scheduled post loses its job
        removed = 0
        for sent in to_delete:
            adapter = self._adapters.get(sent.platform)
            if adapter is None:
                continue
            for message_id in sent.message_ids:
                ref = MessageRef(ChatRef(sent.platform, sent.chat_id), message_id)
                try:
                    await adapter.delete(ref)
                    removed += 1
                except (RateLimited, TransientError) as exc:
                    log.warning("could not remove #%d from %s %s: %s", post_id, sent.platform, sent.chat_id, exc)
                except DeliveryError as exc:
                    removed += await self._withdraw_in_place(adapter, ref, post, exc)
        return post, removed

    async def _withdraw_in_place(self, adapter: Adapter, ref: MessageRef, post: Post, refused: DeliveryError) -> int:
        """The platform refused to delete a copy (too old, no right to): edit it into the short "withdrawn"
        placeholder without buttons instead, so nobody acts on a retracted post. 1 when it is withdrawn."""
        placeholder = self._composer.compose_retracted_for_chat(ref.chat.platform, ref.chat.chat_id, post)
        try:
            await adapter.edit(ref, placeholder)
        except DeliveryError as exc:
            log.warning(
                "could not remove #%d from %s %s: %s (%s)", post.id, ref.chat.platform, ref.chat.chat_id, refused, exc
            )
            return 0
        log.info(
            "%s refused to delete #%d in %s (%s): withdrawn in place",
            ref.chat.platform,
            post.id,
            ref.chat.chat_id,
            refused,
        )
        return 1

    # -- time-driven --------------------------------------------------------------------------

    async def publish_due(self) -> list[int]:
        """Publish scheduled posts whose time has come (holding those that fall in quiet hours).
        Returns the ids published."""
        published: list[int] = []
        while True:
            now = self._clock.now()
            held: list[Post] = []
            async with self._store.transaction() as session:
                due = await posts.due_scheduled(session, now, limit=DUE_BATCH)
                for post in due:
                    await self._release(session, post, now, held)
                    if post.state == PostState.PUBLISHED:
                        posts.audit(session, now, "scheduler", "publish", post.id)
            batch = [p.id for p in due if p.state == PostState.PUBLISHED]
            if batch:
                self._wake()
            published += batch
            await self._changed([p.id for p in due], held)
            if len(due) < DUE_BATCH:
                return published

    async def _tell_pending(self, post: Post) -> None:
        await self._tell_moderators(
            post,
            Message(
                "#%(id)s “%(title)s” by %(author)s is waiting for approval: "
                "`approve %(id)s` or `reject %(id)s [reason]`.",
                id=post.id,
                title=post.title,
                author=post.author,
            ),
        )

    async def _tell_held(self, post: Post) -> None:
        if self._quiet is None or post.publish_at is None:
            return
        await self._tell_moderators(
            post,
            Message(
                "#%(id)s “%(title)s” falls in quiet hours (%(quiet)s): held until %(until)s. "
                "To send it sooner: `retract %(id)s` and post it again with `urgent`.",
                id=post.id,
                title=post.title,
                quiet=self._quiet.describe(),
                until=Moment(post.publish_at, self._quiet.zone),
            ),
        )

    async def _tell_moderators(self, post: Post, text: Message) -> None:
        """A note about ``post``; it is stored either way, so a failure to tell is logged, not raised."""
        if self._tell is None:
            return
        try:
            await self._tell(text)
        except Exception:
            log.exception("telling the moderators about #%d failed", post.id)

    async def expire_due(self) -> list[int]:
        """Close posts whose call-to-action deadline has passed."""
        now = self._clock.now()
        async with self._store.transaction() as session:
            expired = await posts.past_deadline(session, now)
            for post in expired:
                post.state, post.updated_at = PostState.EXPIRED, now
        return [p.id for p in expired]


async def _get(session: AsyncSession, post_id: int) -> Post:
    post = await posts.get_post(session, post_id)
    if post is None:
        raise NotFound(Message("there is no post #%(id)s", id=post_id))
    return post


def _not_waiting(post: Post) -> Message:
    return Message("#%(id)s is %(state)s, not waiting for approval", id=post.id, state=state_word(post.state))


def no_audience_error(channels: Sequence[Channel], audience: Sequence[str]) -> Message:
    """Why a feed post has nowhere to go, and what to do about it."""
    wanted = ", ".join(audience) or "everyone"
    known = sorted({t for c in channels if c.enabled for t in c.tags})
    if known:
        return Message(
            "no enabled channel carries %(wanted)s: use `to:` with one of %(known)s",
            wanted=wanted,
            known=", ".join(known),
        )
    if channels:
        off = ", ".join(c.name for c in channels if not c.enabled)
        return Message(
            "no enabled channel carries %(wanted)s: every channel is disabled (%(off)s); "
            "enable one on the dashboard's Channels page or with the admin API",
            wanted=wanted,
            off=off,
        )
    return Message(
        "no enabled channel carries %(wanted)s: no channels are configured (add [[channels]] to the config)",
        wanted=wanted,
    )
