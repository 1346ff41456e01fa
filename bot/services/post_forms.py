"""The post form (Slack's modal, adapters/slack/modal.py): opened by ``post`` without arguments, checked
with the rules of a one-line post, previewed, and published once.

The rules are :func:`~bot.services.drafts.normalized` and the publishing service's own checks, nothing
of their own: to put each refusal on the field it is about, every field is checked alone on a draft that
is valid but for it (:func:`field_errors`), then the whole draft, then a dry run of storing it (audience,
what fits each platform) in a transaction that is rolled back. A valid draft is stored
(content/form_drafts.py) and only Publish, claiming it, creates the post: once, however often pressed.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Mapping
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from adapters.base import Adapter, CommandIssued, DeliveryError, MessageTooLong, UserRef
from adapters.slack.modal import FormReview, PostFormSurface, PostFormValues
from bot.clock import Clock
from bot.commands.grammar import UsageError, future_when, parse_when
from bot.i18n import SOURCE, Message, Translator
from bot.services.compose import Composer
from bot.services.drafts import CallToAction, DraftError, PostDraft, normalized, post_from_draft
from bot.services.form_words import created_text, form_words, summary_lines
from bot.services.languages import PersonLanguages
from bot.services.publishing import NotAllowed, PublishingService
from bot.services.roles import Role, Roles
from content import form_drafts
from content.db import Store
from content.models import CtaKind, PostKind
from content.responses import Counts

log = logging.getLogger("prikbord.post_forms")

_VALID_TITLE = "-"  # what a probe of one field puts in the title, which it does not check
_OPTIONS = re.compile(r"\s*(?:\n|;)\s*")
FieldErrors = dict[str, Message | str]


class _DryRun(Exception):
    """Rolls the trial staging back."""


def draft_of(
    values: PostFormValues, zone: ZoneInfo, now: datetime, *, can_schedule: bool
) -> tuple[PostDraft, FieldErrors]:
    """The form's text → a draft (not yet normalized) and what could not be read, by field."""
    errors: FieldErrors = {}

    def when(field: str, text: str, read: Any) -> datetime | None:
        if not text.strip():
            return None
        try:
            return read(text)  # type: ignore[no-any-return]
        except UsageError as exc:
            errors[field] = exc.message
            return None

    kind = CtaKind(values.cta) if values.cta in {k.value for k in CtaKind} else CtaKind.NONE
    deadline = when("deadline", values.deadline, lambda t: parse_when(t, zone, now, date_only_time=time(23, 59)))
    publish_at = when("schedule", values.schedule, lambda t: future_when(t, zone, now))
    if values.schedule.strip() and not can_schedule:
        errors["schedule"] = Message("scheduling needs the moderator role; leave the time empty to post now")
    options = tuple(o for o in _OPTIONS.split(values.options.strip()) if o) if values.options.strip() else ()
    audience = tuple(t.strip().lower() for t in values.audience.split(",") if t.strip()) or ("everyone",)
    draft = PostDraft(
        title=values.title,
        body=values.body,
        kind=PostKind.NEWS,
        cta=CallToAction(kind, options, values.url.strip() or None, deadline),
        audience=audience,
        publish_at=publish_at,
        urgent=values.urgent,
    )
    return draft, errors


def _valid_cta(kind: CtaKind) -> CallToAction:
    """A call to action of ``kind`` that passes every rule, for probing one of its parts."""
    if kind == CtaKind.POLL:
        return CallToAction(kind, options=("a", "b"))
    if kind == CtaKind.LINK:
        return CallToAction(kind, url="https://example.org/")
    return CallToAction(kind)


def field_errors(draft: PostDraft, *, require_call_to_action: bool) -> FieldErrors:
    """Each field's refusal by :func:`normalized`, found by checking it alone; then the whole draft's."""
    base = PostDraft(title=_VALID_TITLE)
    cta = draft.cta
    probes = {
        "title": PostDraft(title=draft.title),
        "body": dataclasses.replace(base, body=draft.body),
        "options": dataclasses.replace(base, cta=dataclasses.replace(_valid_cta(cta.kind), options=cta.options)),
        "url": dataclasses.replace(base, cta=dataclasses.replace(_valid_cta(cta.kind), url=cta.url)),
        "deadline": dataclasses.replace(base, cta=dataclasses.replace(_valid_cta(cta.kind), deadline=cta.deadline)),
        "audience": dataclasses.replace(base, audience=draft.audience),
    }
    errors: FieldErrors = {}
    for field, probe in probes.items():
        try:
            normalized(probe, require_call_to_action=False)
        except DraftError as exc:
            errors[field] = exc.message
    if not errors:
        try:
            normalized(draft, require_call_to_action=require_call_to_action)
        except DraftError as exc:
            errors["cta"] = exc.message  # what is left is the call to action as a whole
    return errors


def draft_payload(draft: PostDraft) -> dict[str, Any]:
    """A normalized draft as stored JSON (content/form_drafts.py); :func:`payload_draft` reads it back."""
    cta = draft.cta
    return {
        "title": draft.title,
        "body": draft.body,
        "kind": draft.kind.value,
        "cta": {"kind": cta.kind.value, "options": list(cta.options), "url": cta.url, "deadline": _iso(cta.deadline)},
        "audience": list(draft.audience),
        "publish_at": _iso(draft.publish_at),
        "urgent": draft.urgent,
    }


def payload_draft(payload: Mapping[str, Any]) -> PostDraft:
    cta = payload["cta"]
    return PostDraft(
        title=str(payload["title"]),
        body=str(payload["body"]),
        kind=PostKind(payload["kind"]),
        cta=CallToAction(CtaKind(cta["kind"]), tuple(cta["options"]), cta["url"], _moment(cta["deadline"])),
        audience=tuple(payload["audience"]),
        publish_at=_moment(payload["publish_at"]),
        urgent=bool(payload["urgent"]),
    )


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _moment(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


class PostForms:
    """The core's side of the post form: :meth:`open` for ``post``; review, publish and cancel for the
    adapter (:class:`~adapters.slack.modal.PostFormHandler`)."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        zone: ZoneInfo,
        publishing: PublishingService,
        roles: Roles,
        composer: Composer,
        adapters: Mapping[str, Adapter],
        *,
        languages: PersonLanguages | None = None,
        require_call_to_action: bool = False,
    ) -> None:
        self._store = store
        self._clock = clock
        self._zone = zone
        self._publishing = publishing
        self._roles = roles
        self._composer = composer
        self._adapters = adapters
        self._languages = languages
        self._require_cta = require_call_to_action

    async def _translator(self, user: UserRef) -> Translator:
        return SOURCE if self._languages is None else await self._languages.for_user(user)

    async def open(self, command: CommandIssued, role: Role, t: Translator) -> bool:
        """Open the form where the platform has one (True); raises NotAllowed for who may not post."""
        adapter = self._adapters.get(command.user.platform)
        if not isinstance(adapter, PostFormSurface):
            return False
        self._publishing.check_may_post(role)
        try:
            await adapter.open_post_form(command, form_words(t), can_schedule=role >= Role.MODERATOR)
        except DeliveryError as exc:  # the trigger expired (a slow moment), Slack unreachable …
            log.warning("the post form for %s did not open: %s", command.user.key, exc)
            raise UsageError(
                Message(
                    "the post form did not open (%(reason)s): try again, or write the post after the command",
                    reason=str(exc),
                )
            ) from exc
        return True

    async def review(self, user: UserRef, values: PostFormValues) -> FormReview:
        """A submitted form → its errors by field, or the stored draft's preview."""
        t = await self._translator(user)
        words = form_words(t)
        role = self._roles.role_of(user)
        try:
            self._publishing.check_may_post(role)
        except NotAllowed as exc:
            return FormReview(words, errors={"title": t.render(exc.message)})
        now = self._clock.now()
        draft, errors = draft_of(values, self._zone, now, can_schedule=role >= Role.MODERATOR)
        # What could not be read wins over what the rules say of the value left in its place.
        errors = {**field_errors(draft, require_call_to_action=self._require_cta), **errors}
        if not errors:
            draft = normalized(draft, require_call_to_action=self._require_cta)
            errors = await self._staging_errors(draft)
        if errors:
            return FormReview(words, errors={field: t.render(text) for field, text in errors.items()})
        async with self._store.transaction() as session:
            token = await form_drafts.save_draft(session, user.platform, user.user_id, draft_payload(draft), now)
        preview = self._composer.compose(post_from_draft(draft, author=user.key, now=now), Counts({}, {}), None, t)
        return FormReview(words, preview=preview, token=token, summary=summary_lines(t, draft, self._zone))

    async def _staging_errors(self, draft: PostDraft) -> FieldErrors:
        """What storing the draft would refuse (no channel for the audience, too long for a platform)."""
        refusal = await self._trial(draft)
        if refusal is None:
            return {}
        audience_alone = dataclasses.replace(draft, title=_VALID_TITLE, body="")
        return {"audience" if await self._trial(audience_alone) is not None else "body": refusal.message}

    async def _trial(self, draft: PostDraft) -> DraftError | None:
        try:
            async with self._store.transaction() as session:
                await self._publishing.stage(session, draft, author=None, now=self._clock.now())
                raise _DryRun
        except _DryRun:
            return None
        except DraftError as exc:
            return exc

    async def publish(self, user: UserRef, token: str) -> str | None:
        """Create the draft's post once: the claim that wins creates it, any other Publish gets None."""
        t = await self._translator(user)
        now = self._clock.now()
        async with self._store.transaction() as session:
            row = await form_drafts.draft_of(session, token, user.platform, user.user_id, now)
            if row is None:
                return t.gettext("this post form has expired or was cancelled: open it again with `post`")
            claimed = await form_drafts.claim_draft(session, token, now)
            payload = dict(row.payload)
        if not claimed:
            log.info("a second Publish of post form %s… by %s: the first one publishes it", token[:6], user.key)
            return None
        post_id: int | None = None
        try:
            post = await self._publishing.create(payload_draft(payload), user.key, self._roles.role_of(user))
            post_id = post.id
            return created_text(t, post.id, post.state, post.publish_at)
        except (DraftError, NotAllowed) as exc:
            return t.render(exc.message)
        except MessageTooLong as exc:
            return str(exc)
        finally:
            async with self._store.transaction() as session:
                await form_drafts.release_draft(session, token, post_id)

    async def cancel(self, user: UserRef, token: str) -> None:
        async with self._store.transaction() as session:
            await form_drafts.drop_draft(session, token, user.platform, user.user_id)


def serve_post_forms(adapters: Mapping[str, Adapter], forms: PostForms) -> None:
    """Hand the forms to every adapter that draws them (Slack): its submissions come back to ``forms``."""
    for adapter in adapters.values():
        if isinstance(adapter, PostFormSurface):
            adapter.serve_post_forms(forms)
