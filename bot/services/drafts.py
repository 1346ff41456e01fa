"""A post as someone asks for it, before it is stored, and the rules it must meet."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from content.models import FEED_KINDS, CtaKind, PostKind

MAX_TITLE = 300
MAX_BODY = 20_000
MAX_OPTION = 100
RSVP_DEFAULT = ("yes", "no", "maybe")
CTA_HELP = (
    "add one with `cta: like`, `cta: acknowledge [by WHEN]`, `cta: rsvp`, `cta: poll A; B`, `cta: reply` "
    "or `cta: link URL`"
)


class DraftError(ValueError):
    """The draft breaks a rule; the message says how to fix it."""


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
    source: str | None = None
    source_key: str | None = None


def normalized(draft: PostDraft, *, require_call_to_action: bool) -> PostDraft:
    """Check every rule and fill defaults (RSVP options). Raises :class:`DraftError`."""
    title = draft.title.strip()
    if not title:
        raise DraftError("a post needs a title: the first part of the post is its title")
    if len(title) > MAX_TITLE:
        raise DraftError(f"the title is {len(title)} characters; at most {MAX_TITLE} fit")
    if len(draft.body) > MAX_BODY:
        raise DraftError(f"the body is {len(draft.body)} characters; at most {MAX_BODY} fit: shorten it or link to it")
    cta = draft.cta
    options = tuple(o.strip() for o in cta.options if o.strip())
    if any(len(o) > MAX_OPTION for o in options):
        raise DraftError(f"an option is longer than {MAX_OPTION} characters")
    if len(set(options)) != len(options):
        raise DraftError("the options must differ from each other")
    if cta.kind == CtaKind.POLL and not 2 <= len(options) <= 10:
        raise DraftError(f"a poll needs 2 to 10 options separated by `;` (got {len(options)}): `cta: poll A; B; C`")
    if cta.kind == CtaKind.RSVP:
        if options and not 2 <= len(options) <= 10:
            raise DraftError("an RSVP needs 2 to 10 options, or none for yes/no/maybe")
        options = options or RSVP_DEFAULT
    if cta.kind not in (CtaKind.POLL, CtaKind.RSVP) and options:
        raise DraftError(f"only poll and rsvp take options, not {cta.kind.value}")
    url = cta.url.strip() if cta.url else None
    if cta.kind == CtaKind.LINK:
        if not url or not url.lower().startswith(("http://", "https://")):
            raise DraftError("a link call to action needs an http(s) URL: `cta: link https://…`")
    elif url:
        raise DraftError("only a link call to action takes a URL")
    if cta.deadline is not None and cta.kind not in (CtaKind.ACKNOWLEDGE, CtaKind.RSVP, CtaKind.POLL):
        raise DraftError("only acknowledge, rsvp and poll take a deadline (`by WHEN`)")
    if require_call_to_action and draft.kind in FEED_KINDS and cta.kind == CtaKind.NONE:
        raise DraftError(f"every feed post needs a call to action: {CTA_HELP}")
    audience = tuple(dict.fromkeys(t.strip().lower() for t in draft.audience if t.strip())) or ("everyone",)
    return PostDraft(
        title=title,
        body=draft.body.strip(),
        kind=draft.kind,
        cta=CallToAction(cta.kind, options, url, cta.deadline),
        audience=audience,
        publish_at=draft.publish_at,
        urgent=draft.urgent,
        source=draft.source,
        source_key=draft.source_key,
    )
