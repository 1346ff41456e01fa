"""A post as someone asks for it, before it is stored, and the rules it must meet.

Every way a post comes in (chat commands, the CLI, the admin API, the dashboard, the importer) ends in
:func:`normalized`, so the rules hold whatever the input path; :func:`clean_text` is the one rule for
what characters a post may carry.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime

from bot.i18n import N_, Message, Refusal
from content.attachments import NewFile
from content.direct import SEGMENT_ATTRIBUTES, segment_of
from content.models import FEED_KINDS, CtaKind, Post, PostKind, PostState

MAX_TITLE = 300
MAX_BODY = 20_000
MAX_OPTION = 100
RSVP_DEFAULT = ("yes", "no", "maybe")
CTA_HELP = N_(
    "add one with `cta: like`, `cta: acknowledge [by WHEN]`, `cta: rsvp`, `cta: poll A; B`, `cta: reply` "
    "or `cta: link URL`"
)


class DraftError(Refusal, ValueError):
    """The draft breaks a rule; the message says how to fix it (in the reader's language: bot/i18n.py)."""


# C0 controls but tab and newline, DEL, C1 controls, and the bidirectional embeddings, overrides and
# isolates (U+202A–U+202E, U+2066–U+2069) that make text read in another order than it is stored.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_LINE_BREAKS = re.compile("\r\n?|[\u2028\u2029\x85]")
# Characters that render as nothing although Unicode counts them as letters or symbols (fillers, blanks).
_BLANK_LOOKING = frozenset("\u115f\u1160\u3164\uffa0\u2800\u180e")


def clean_text(text: str, *, multiline: bool) -> str:
    """``text`` as a post may carry it: control characters (BEL, ESC, backspace …) and bidi overrides
    removed, lone UTF-16 surrogates replaced by U+FFFD (no database stores them); line breaks become
    ``\n``. ``multiline`` (a body) keeps new lines and tabs; otherwise (a title, an option, a tag)
    every run of whitespace becomes one space. Leading and trailing whitespace goes either way."""
    whole = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    cleaned = _CONTROL.sub("", _LINE_BREAKS.sub("\n", whole))
    if not multiline:
        return " ".join(cleaned.split())
    return cleaned.strip()


def has_visible(text: str) -> bool:
    """Whether ``text`` shows anything: not only spaces, format characters (zero-width space, joiner,
    BOM …), combining marks without a base, or letters that render blank (Hangul filler, braille blank)."""
    return any(
        ch not in _BLANK_LOOKING and unicodedata.category(ch) not in ("Zs", "Zl", "Zp", "Cc", "Cf", "Mn", "Me")
        for ch in text
    )


@dataclass(frozen=True, slots=True)
class CallToAction:
    kind: CtaKind = CtaKind.NONE
    options: tuple[str, ...] = ()
    url: str | None = None
    deadline: datetime | None = None


@dataclass(frozen=True, slots=True)
class PostDraft:
    title: str
    body: str = ""
    kind: PostKind = PostKind.NEWS
    cta: CallToAction = field(default_factory=CallToAction)
    audience: tuple[str, ...] = ("everyone",)
    publish_at: datetime | None = None
    urgent: bool = False
    # Telegram only: sent with allow_paid_broadcast (up to [telegram] paid_broadcast_rate, for Stars).
    paid_broadcast: bool = False
    source: str | None = None
    source_key: str | None = None
    direct: bool = False  # a must-read sent privately to each person of the audience
    attachments: tuple[NewFile, ...] = ()  # checked files (bot/services/attachment_rules.py), in order


def normalized(draft: PostDraft, *, require_call_to_action: bool) -> PostDraft:
    """Check every rule and fill defaults (RSVP options). Raises :class:`DraftError`."""
    title = clean_text(draft.title, multiline=False)
    if not has_visible(title):
        raise DraftError(
            Message(
                "a post needs a title: the first part of the post is its title "
                "(control characters, text-direction overrides and invisible characters do not count)"
            )
        )
    if len(title) > MAX_TITLE:
        raise DraftError(
            Message("the title is %(length)s characters; at most %(most)s fit", length=len(title), most=MAX_TITLE)
        )
    body = clean_text(draft.body, multiline=True)
    if len(body) > MAX_BODY:
        raise DraftError(
            Message(
                "the body is %(length)s characters; at most %(most)s fit: shorten it or link to it",
                length=len(body),
                most=MAX_BODY,
            )
        )
    cta = draft.cta
    options = tuple(o for o in (clean_text(o, multiline=False) for o in cta.options) if has_visible(o))
    if any(len(o) > MAX_OPTION for o in options):
        raise DraftError(Message("an option is longer than %(most)s characters", most=MAX_OPTION))
    if len(set(options)) != len(options):
        raise DraftError(Message("the options must differ from each other"))
    if cta.kind == CtaKind.POLL and not 2 <= len(options) <= 10:
        raise DraftError(
            Message(
                "a poll needs 2 to 10 options separated by `;` (got %(count)s): `cta: poll A; B; C`", count=len(options)
            )
        )
    if cta.kind == CtaKind.RSVP:
        if options and not 2 <= len(options) <= 10:
            raise DraftError(Message("an RSVP needs 2 to 10 options, or none for yes/no/maybe"))
        options = options or RSVP_DEFAULT
    if cta.kind not in (CtaKind.POLL, CtaKind.RSVP) and options:
        raise DraftError(Message("only poll and rsvp take options, not %(kind)s", kind=cta.kind.value))
    url = clean_text(cta.url, multiline=False) or None if cta.url else None
    if cta.kind == CtaKind.LINK:
        if not url or not url.lower().startswith(("http://", "https://")):
            raise DraftError(Message("a link call to action needs an http(s) URL: `cta: link https://…`"))
    elif url:
        raise DraftError(Message("only a link call to action takes a URL"))
    if cta.deadline is not None and cta.kind not in (CtaKind.ACKNOWLEDGE, CtaKind.RSVP, CtaKind.POLL):
        raise DraftError(Message("only acknowledge, rsvp and poll take a deadline (`by WHEN`)"))
    if require_call_to_action and draft.kind in FEED_KINDS and cta.kind == CtaKind.NONE:
        raise DraftError(Message("every feed post needs a call to action: %(how)s", how=Message(CTA_HELP)))
    tags = (clean_text(t, multiline=False).lower() for t in draft.audience)
    audience = tuple(dict.fromkeys(t for t in tags if has_visible(t))) or ("everyone",)
    audience = _checked_audience(audience, draft)
    # replace(), not a new PostDraft: a field added to the draft is carried through without being listed here.
    return dataclasses.replace(
        draft, title=title, body=body, cta=CallToAction(cta.kind, options, url, cta.deadline), audience=audience
    )


def _checked_audience(audience: tuple[str, ...], draft: PostDraft) -> tuple[str, ...]:
    """Segments (``department=sales``) select people, tags select channels: one or the other; ``direct``
    is for must-reads. Returns the audience with segments written one way (``department=sales``)."""
    segments = [segment_of(t) for t in audience]
    found = [s for s in segments if s is not None]
    if found:
        for attribute, value in found:
            if attribute not in SEGMENT_ATTRIBUTES or not value:
                raise DraftError(
                    Message(
                        "`to: %(segment)s` is no audience: select people with `department=NAME` or `location=NAME`",
                        segment=f"{attribute}={value}",
                    )
                )
        if len(found) < len(segments):
            raise DraftError(
                Message(
                    "`to:` takes either channel tags or people (department=…, location=…), not both: "
                    "post twice to reach both"
                )
            )
        audience = tuple(f"{a}={v}" for a, v in found)
    if draft.direct and draft.cta.kind != CtaKind.ACKNOWLEDGE:
        raise DraftError(
            Message("only a must-read goes `direct` to each person: add `cta: acknowledge`, or leave out `direct`")
        )
    if (draft.direct or found) and draft.kind not in FEED_KINDS:
        raise DraftError(
            Message("a %(kind)s post is not sent; only news goes to people directly", kind=draft.kind.value)
        )
    return audience


def post_from_draft(draft: PostDraft, *, author: str | None, now: datetime) -> Post:
    """A new (unsaved) post of a normalized draft, in state draft. Link posts get their click token."""
    return Post(
        kind=draft.kind,
        title=draft.title,
        body=draft.body,
        cta_kind=draft.cta.kind,
        cta_options=list(draft.cta.options),
        cta_url=draft.cta.url,
        cta_deadline=draft.cta.deadline,
        audience=list(draft.audience),
        state=PostState.DRAFT,
        publish_at=draft.publish_at,
        urgent=draft.urgent,
        direct=draft.direct,
        paid_broadcast=draft.paid_broadcast,
        author=author,
        source=draft.source,
        source_key=draft.source_key,
        click_token=secrets.token_urlsafe(16) if draft.cta.kind == CtaKind.LINK else None,
        created_at=now,
        updated_at=now,
    )
