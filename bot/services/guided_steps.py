"""The steps of a post composed step by step, pure: which question comes next, and what an answer means.

``post`` without arguments asks title → body → call to action (its kind, then its options, URL or
deadline where the kind has them) → audience → schedule → urgent → preview with Publish / Cancel. Every
answer is read with the one-line ``post``'s own rules (bot/commands/grammar.py, bot/services/drafts.py
``normalized``), so a post composed this way is held to exactly what ``post TITLE | …`` is; a bad answer
gives the error and the same step is asked again. The answers are plain JSON values, stored between
steps (content/guided.py). I/O lives in bot/services/guided.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from bot.commands.grammar import UsageError, cta_kind_of, future_when, parse_audience, parse_cta, parse_when
from bot.i18n import N_, Message, Moment
from bot.services.drafts import CallToAction, DraftError, PostDraft, normalized
from content.models import CtaKind


class Step(StrEnum):
    TITLE = "title"
    BODY = "body"
    CTA = "cta"
    OPTIONS = "options"
    URL = "url"
    DEADLINE = "deadline"
    AUDIENCE = "audience"
    SCHEDULE = "schedule"
    URGENT = "urgent"
    PREVIEW = "preview"


# A choice's wire form on buttons (Telegram callback data, console ``press``): short, well inside 64 bytes.
CHOICE_PREFIX = "g:"
CANCEL, PUBLISH, SKIP, NOW, YES, NO, EVERYONE = "cancel", "publish", "skip", "now", "yes", "no", "everyone"
_CANCEL_WORDS = frozenset({"cancel", "stop", "annuleer", "annuleren"})
_SKIP_WORDS = frozenset({"skip", "-", "none", "geen", "overslaan"})
_YES_WORDS = frozenset({"yes", "y", "ja", "j", "urgent"})
_NO_WORDS = frozenset({"no", "n", "nee", "not urgent"})
_NOW_WORDS = frozenset({"now", "nu"})
_PUBLISH_WORDS = frozenset({"publish", "publiceer", "ok", "send"})
DEADLINE_KINDS = (CtaKind.ACKNOWLEDGE, CtaKind.RSVP, CtaKind.POLL)


@dataclass(frozen=True, slots=True)
class Choice:
    value: str
    label: str  # a msgid (N_), translated where it is shown

    @property
    def action_id(self) -> str:
        return CHOICE_PREFIX + self.value


@dataclass(frozen=True, slots=True)
class Prompt:
    text: Message
    choices: tuple[Choice, ...] = ()
    free_text: bool = True  # a typed answer is expected (Telegram: ForceReply when there are no buttons)


@dataclass(frozen=True, slots=True)
class Rules:
    """What an answer is read against: the configured zone, the moment, and the moderation policy."""

    zone: ZoneInfo
    now: datetime
    require_call_to_action: bool = False


@dataclass(frozen=True, slots=True)
class Answered:
    step: Step
    answers: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Refused:
    error: Message | str


CTA_CHOICES = (
    Choice("like", N_("👍 Like")),
    Choice("acknowledge", N_("✅ Must read")),
    Choice("rsvp", N_("📅 RSVP")),
    Choice("poll", N_("📊 Poll")),
    Choice("reply", N_("💬 Reply")),
    Choice("link", N_("🔗 Link")),
    Choice("none", N_("No call to action")),
)
CANCEL_CHOICE = Choice(CANCEL, N_("✖ Cancel"))


def choice_value(text: str) -> str:
    """The answer as a word: a button's wire form (``g:poll``) or what was typed, trimmed and lower case."""
    value = text.strip()
    if value.startswith(CHOICE_PREFIX):
        value = value[len(CHOICE_PREFIX) :]
    return value.lower()


def is_cancel(text: str) -> bool:
    return choice_value(text) in _CANCEL_WORDS


def is_choice(action_id: str) -> bool:
    """Whether a pressed button is one of the dialog's (not a post's like, vote …)."""
    return action_id.startswith(CHOICE_PREFIX)


def draft_of(answers: Mapping[str, Any]) -> PostDraft:
    """The post the answers so far describe (stored values back into a draft)."""
    deadline = answers.get("deadline")
    publish_at = answers.get("publish_at")
    cta = CallToAction(
        CtaKind(answers.get("cta", CtaKind.NONE.value)),
        tuple(answers.get("options", ())),
        answers.get("url"),
        datetime.fromisoformat(deadline) if deadline else None,
    )
    return PostDraft(
        title=str(answers.get("title", "")),
        body=str(answers.get("body", "")),
        cta=cta,
        audience=tuple(answers.get("audience", ())) or (EVERYONE,),
        publish_at=datetime.fromisoformat(publish_at) if publish_at else None,
        urgent=bool(answers.get("urgent", False)),
    )


def _checked(answers: dict[str, Any], rules: Rules) -> dict[str, Any]:
    """``answers`` if the post they describe meets every rule a one-line post meets; the normalized
    values are kept (the title cleaned, the default RSVP options filled). Raises DraftError."""
    # The policy's "every feed post needs a call to action" applies once one was chosen.
    require_cta = rules.require_call_to_action and "cta" in answers
    draft = normalized(draft_of(answers), require_call_to_action=require_cta)
    kept = dict(answers, title=draft.title, body=draft.body, audience=list(draft.audience))
    if "cta" in answers:
        kept["options"] = list(draft.cta.options)
    return kept


def next_step(step: Step, answers: Mapping[str, Any]) -> Step:
    """The question after ``step``: options, URL and deadline only where the call to action has them."""
    kind = CtaKind(answers.get("cta", CtaKind.NONE.value))
    if step == Step.TITLE:
        return Step.BODY
    if step == Step.BODY:
        return Step.CTA
    if step == Step.CTA:
        if kind in (CtaKind.POLL, CtaKind.RSVP):
            return Step.OPTIONS
        if kind == CtaKind.LINK:
            return Step.URL
        return Step.DEADLINE if kind in DEADLINE_KINDS else Step.AUDIENCE
    if step == Step.OPTIONS:
        return Step.DEADLINE
    if step in (Step.URL, Step.DEADLINE):
        return Step.AUDIENCE
    if step == Step.AUDIENCE:
        return Step.SCHEDULE
    if step == Step.SCHEDULE:
        return Step.URGENT
    return Step.PREVIEW


def answer(step: Step, answers: Mapping[str, Any], text: str, rules: Rules) -> Answered | Refused:
    """What ``text`` (typed, or a button's ``g:…``) answers to ``step``: the next step with the answers so
    far, or the error to show before the same step is asked again. Never raises for bad input."""
    try:
        updated = _read(step, dict(answers), text, rules)
    except (UsageError, DraftError) as exc:
        return Refused(exc.message)
    if updated is None:
        return Refused(Message("press Publish to send the post, or Cancel to drop it"))
    return Answered(next_step(step, updated), updated)


def _read(step: Step, answers: dict[str, Any], text: str, rules: Rules) -> dict[str, Any] | None:
    value = choice_value(text)
    if text.startswith(CHOICE_PREFIX):  # a button: its value is the answer, as if typed
        text = value
    if step == Step.TITLE:
        return _checked(answers | {"title": text}, rules)
    if step == Step.BODY:
        return _checked(answers | {"body": "" if value in _SKIP_WORDS else text}, rules)
    if step == Step.CTA:
        kind = cta_kind_of(value)
        chosen = answers | {"cta": kind.value, "options": [], "url": None, "deadline": None}
        # A poll's options and a link's URL come at the next step, and are checked there.
        return chosen if kind in (CtaKind.POLL, CtaKind.LINK) else _checked(chosen, rules)
    if step == Step.OPTIONS:
        kind = CtaKind(answers["cta"])
        default = kind == CtaKind.RSVP and value in _SKIP_WORDS | {"default"}
        cta = CallToAction(kind) if default else parse_cta(f"{kind.value} {text}", rules.zone, rules.now)
        return _checked(answers | {"options": list(cta.options)}, rules)
    if step == Step.URL:
        cta = parse_cta(f"link {text}", rules.zone, rules.now)
        return _checked(answers | {"url": cta.url}, rules)
    if step == Step.DEADLINE:
        if value in _SKIP_WORDS:
            return answers | {"deadline": None}
        deadline = parse_when(text, rules.zone, rules.now, date_only_time=time(23, 59))  # as `by WHEN`
        return _checked(answers | {"deadline": deadline.isoformat()}, rules)
    if step == Step.AUDIENCE:
        return _checked(answers | {"audience": list(parse_audience(text))}, rules)
    if step == Step.SCHEDULE:
        when = None if value in _NOW_WORDS else future_when(text, rules.zone, rules.now)
        return answers | {"publish_at": when.isoformat() if when else None}
    if step == Step.URGENT:
        if value not in _YES_WORDS | _NO_WORDS:
            raise UsageError(Message("answer yes or no: is the post urgent?"))
        return answers | {"urgent": value in _YES_WORDS}
    return answers if value in _PUBLISH_WORDS else None


def wants_publish(step: Step, text: str) -> bool:
    return step == Step.PREVIEW and choice_value(text) in _PUBLISH_WORDS


def final_draft(answers: Mapping[str, Any], rules: Rules) -> PostDraft:
    """The post to publish, every rule checked as at publishing. Raises DraftError."""
    return normalized(draft_of(answers), require_call_to_action=rules.require_call_to_action)


def prompt(step: Step, answers: Mapping[str, Any], zone: ZoneInfo) -> Prompt:
    """The question of ``step`` (with the buttons where it has a few fixed answers)."""
    if step == Step.TITLE:
        return Prompt(Message("New post, step by step (write `cancel` to stop at any step). What is the title?"))
    if step == Step.BODY:
        return Prompt(Message("The text of the post? (`skip` for none)"), (Choice(SKIP, N_("Skip")),))
    if step == Step.CTA:
        return Prompt(
            Message("What should readers do? like, acknowledge, rsvp, poll, reply, link (or none)"), CTA_CHOICES
        )
    if step == Step.OPTIONS:
        if answers.get("cta") == CtaKind.RSVP.value:
            return Prompt(
                Message("The RSVP's options, separated by `;` (`default` for yes; no; maybe)"),
                (Choice("default", N_("Yes / No / Maybe")),),
            )
        return Prompt(Message("The poll's options, 2 to 10, separated by `;` (Pizza; Sushi; Salad)"))
    if step == Step.URL:
        return Prompt(Message("The link readers should open (https://…)?"))
    if step == Step.DEADLINE:
        return Prompt(
            Message("A deadline? (2026-12-05, 2026-12-05 17:00, tomorrow 08:30, in 2h, or `skip`)"),
            (Choice(SKIP, N_("No deadline")),),
        )
    if step == Step.AUDIENCE:
        return Prompt(
            Message("Who should get it? `everyone`, or channel tags separated by commas"),
            (Choice(EVERYONE, N_("Everyone")),),
        )
    if step == Step.SCHEDULE:
        return Prompt(
            Message("When should it go out? `now`, or a time (tomorrow 08:30, 2026-12-05 17:00, in 2h)"),
            (Choice(NOW, N_("Now")),),
        )
    if step == Step.URGENT:
        return Prompt(Message("Is it urgent?"), (Choice(YES, N_("Urgent")), Choice(NO, N_("Not urgent"))), False)
    return Prompt(preview_text(answers, zone), (Choice(PUBLISH, N_("✅ Publish")), CANCEL_CHOICE), False)


def preview_text(answers: Mapping[str, Any], zone: ZoneInfo) -> Message:
    draft = draft_of(answers)
    return Message(
        "Preview:\n\n%(title)s\n%(body)s\n\nCall to action: %(cta)s\nTo: %(audience)s\nGoes out: %(when)s\n"
        "Urgent: %(urgent)s\n\nPublish or cancel?",
        title=draft.title,
        body=draft.body,
        cta=_cta_summary(draft.cta, zone),
        audience=", ".join(draft.audience),
        when=Moment(draft.publish_at, zone) if draft.publish_at else Message("now"),
        urgent=Message("yes") if draft.urgent else Message("no"),
    )


def _cta_summary(cta: CallToAction, zone: ZoneInfo) -> Message | str:
    what = cta.kind.value
    if cta.options:
        what = f"{what} ({'; '.join(cta.options)})"
    elif cta.url:
        what = f"{what} {cta.url}"
    if cta.deadline is not None:
        return Message("%(what)s by %(deadline)s", what=what, deadline=Moment(cta.deadline, zone))
    return what
