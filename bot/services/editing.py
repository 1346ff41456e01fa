"""Editing what was published: the rules of an edit, and recording it.

An edit changes a post's title, body and (for a poll or an RSVP) its options, or a link's URL. It is
stored at once with the old and new text in the audit log, and raises the post's revision; the copies
in the chats are then edited in place by the edit worker (:mod:`bot.services.edit_sync`), through the
outbox's rules: rate windows, retries, and nothing lost or edited twice across a crash. Responses and
counts stay: they belong to the post, not to a version of its text.

Decisions (an operator's and an employee's view):
- Only moderators edit (the same role that retracts); the author does not, so a post people have acted
  on cannot be changed under them by whoever wrote it.
- The call to action's kind never changes (``ack`` → ``poll`` would orphan every acknowledgement); the
  deadline and the audience stay too (reminders and reach were planned with them): retract and post again.
- A poll's or an RSVP's options may change only while nobody voted or answered: a vote for "Pizza" must
  not silently become a vote for whatever option 1 is now.
- Retracted and rejected posts are not edited (nothing to show them in); drafts, pending and scheduled
  posts are, and go out with the new text; published and expired ones are edited in every chat.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from adapters.base import Adapter, MessageTooLong
from bot.clock import Clock
from bot.i18n import Message
from bot.services.compose import Composer
from bot.services.drafts import CallToAction, DraftError, PostDraft, normalized
from bot.services.post_words import state_word
from bot.services.publishing import NotAllowed, NotFound, WrongState
from bot.services.roles import Role
from content import edits, posts
from content.db import Store
from content.models import CtaKind, Post, PostKind, PostState, ResponseKind
from content.responses import Counts, counts_for

NOT_EDITABLE = (PostState.RETRACTED, PostState.REJECTED)


class EditRefused(DraftError):
    """An edit breaks a rule; ``field`` names what (``title``, ``body``, ``call_to_action.kind`` …), so
    the API answers a 422 on that field."""

    def __init__(self, message: Message | str, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class PostEdit:
    """What to change; None keeps it. ``cta`` restates the call to action: the same kind, with new
    options (poll, rsvp) or a new URL (link)."""

    title: str | None = None
    body: str | None = None
    cta: CallToAction | None = None


@dataclass(frozen=True, slots=True)
class EditResult:
    post: Post
    copies: int  # messages in the chats that will be edited to show it


def refuse_kind_change(post: Post, cta: CallToAction) -> None:
    """The call to action's kind is what the responses are: changing it would orphan them."""
    if cta.kind != post.cta_kind:
        raise EditRefused(
            Message(
                "#%(id)s asks for %(old)s; an edit cannot change that to %(new)s (its responses would be lost): "
                "retract it and post again",
                id=post.id,
                old=post.cta_kind,
                new=cta.kind.value,
            ),
            "call_to_action.kind",
        )


def refuse_deadline_change(post: Post, cta: CallToAction) -> None:
    if cta.deadline is not None and cta.deadline != post.cta_deadline:
        raise EditRefused(
            Message("an edit keeps the deadline of #%(id)s: retract it and post again for another", id=post.id),
            "call_to_action.deadline",
        )


def refuse_options_after_answers(post: Post, options: tuple[str, ...], counts: Counts) -> None:
    """Once someone voted or answered, the options are what they chose between: they stay."""
    if tuple(post.cta_options) == options:
        return
    answered = counts.by_kind.get(ResponseKind.VOTE, 0) + counts.by_kind.get(ResponseKind.RSVP, 0)
    if answered:
        raise EditRefused(
            Message(
                "#%(id)s already has answers (%(count)s): its options stay as they are",
                count=answered,
                id=post.id,
            ),
            "call_to_action.options",
        )


class EditingService:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        adapters: Mapping[str, Adapter],
        composer: Composer,
        wake_edits: Callable[[], None],
    ) -> None:
        self._store = store
        self._clock = clock
        self._adapters = adapters
        self._composer = composer
        self._wake = wake_edits

    async def edit(self, post_id: int, change: PostEdit, actor: str, role: Role) -> EditResult:
        """Store the edit and queue the copies' edits. Raises NotAllowed, NotFound, WrongState,
        EditRefused or DraftError (the new text breaks a rule every post meets)."""
        if role < Role.MODERATOR:
            raise NotAllowed(Message("editing a post needs the moderator role"))
        now = self._clock.now()
        async with self._store.transaction() as session:
            post = await posts.get_post(session, post_id)
            if post is None:
                raise NotFound(Message("there is no post #%(id)s", id=post_id))
            if post.state in NOT_EDITABLE:
                raise WrongState(
                    Message(
                        "#%(id)s is %(state)s: it can no longer be edited", id=post_id, state=state_word(post.state)
                    )
                )
            counts = (await counts_for(session, [post_id]))[post_id]
            draft = self._checked(post, change, counts)
            old = _text_of(post)
            post.title, post.body = draft.title, draft.body
            post.cta_options, post.cta_url = list(draft.cta.options), draft.cta.url
            new = _text_of(post)
            if new == old:
                raise EditRefused(Message("that is what #%(id)s says already: nothing to change", id=post_id), "body")
            self._check_fits(post, counts, await posts.sent_messages(session, [post_id]))
            post.updated_at = now
            copies = await edits.raise_revision(session, post)
            posts.audit(session, now, actor, "edit", post_id, revision=post.revision, old=old, new=new)
        if copies:
            self._wake()
        return EditResult(post, copies)

    def _checked(self, post: Post, change: PostEdit, counts: Counts) -> PostDraft:
        cta = change.cta or CallToAction(
            CtaKind(post.cta_kind), tuple(post.cta_options), post.cta_url, post.cta_deadline
        )
        refuse_kind_change(post, cta)
        refuse_deadline_change(post, cta)
        if cta.kind == CtaKind.RSVP and not cta.options:
            cta = CallToAction(cta.kind, tuple(post.cta_options), cta.url, post.cta_deadline)
        draft = normalized(
            PostDraft(
                title=post.title if change.title is None else change.title,
                body=post.body if change.body is None else change.body,
                kind=PostKind(post.kind),
                cta=CallToAction(cta.kind, cta.options, cta.url, post.cta_deadline),
                audience=tuple(post.audience),
            ),
            require_call_to_action=False,  # the kind is the post's own: it was allowed when it was posted
        )
        refuse_options_after_answers(post, draft.cta.options, counts)
        return draft

    def _check_fits(self, post: Post, counts: Counts, sent: list[posts.SentMessage]) -> None:
        """The new text must fit every platform it is shown on, before anything is edited."""
        message = self._composer.compose(post, counts, 0)
        for platform in sorted({s.platform for s in sent}):
            adapter = self._adapters.get(platform)
            if adapter is None:
                continue
            try:
                adapter.validate(message)
            except MessageTooLong as exc:
                raise EditRefused(
                    Message("too long for %(platform)s: %(reason)s", platform=platform, reason=str(exc)), "body"
                ) from None


def _text_of(post: Post) -> dict[str, object]:
    """What an edit may change, as the audit log keeps it (old and new)."""
    return {"title": post.title, "body": post.body, "options": list(post.cta_options), "url": post.cta_url}
