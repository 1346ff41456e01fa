"""The command grammar, pure: the same text means the same thing on every platform.

A post is written the way people write a message: parts separated by new lines or by `` | ``.
The first part is the title, plain parts are the body, and parts that start with a key set options
(``cta:``, ``to:``, ``kind:``, ``urgent``, ``broadcast``). Times (WHEN) are ``2026-12-05``, ``2026-12-05 17:00``,
``tomorrow 08:30``, ``today 17:00``, ``in 2h`` / ``in 30m`` / ``in 1d``, read in the configured zone.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.i18n import Message
from bot.services.drafts import CallToAction, PostDraft
from bot.services.editing import PostEdit
from content.models import CtaKind, PostKind


class UsageError(ValueError):
    """Bad arguments; the message says what was expected (``str()``: in English; the command router words
    a :class:`~bot.i18n.Message` in the person's language)."""

    def __init__(self, message: Message | str) -> None:
        super().__init__(message)
        self.message = message


_SPLIT = re.compile(r"\s*(?:\n|\s\|\s)\s*")
_RELATIVE = re.compile(r"^in\s+(\d+)\s*(m|min|mins|minutes?|h|hours?|d|days?)$", re.IGNORECASE)
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{1,2}):(\d{2}))?$")
_DAY_TIME = re.compile(r"^(today|tomorrow|vandaag|morgen)(?:\s+(\d{1,2}):(\d{2}))?$", re.IGNORECASE)
_POST_REF = re.compile(r"^#?(\d{1,9})$")
_CTA_KINDS = {
    "like": CtaKind.LIKE,
    "acknowledge": CtaKind.ACKNOWLEDGE,
    "ack": CtaKind.ACKNOWLEDGE,
    "must-read": CtaKind.ACKNOWLEDGE,
    "rsvp": CtaKind.RSVP,
    "poll": CtaKind.POLL,
    "reply": CtaKind.REPLY,
    "link": CtaKind.LINK,
    "none": CtaKind.NONE,
}
_KINDS = {"news": PostKind.NEWS, "agenda": PostKind.AGENDA, "kb": PostKind.KB}


def split_parts(text: str) -> list[str]:
    return [p for p in _SPLIT.split(text.strip()) if p]


def parse_post_ref(text: str) -> int:
    match = _POST_REF.match(text.strip())
    if not match:
        if not text.strip():
            raise UsageError(Message("say which post: posts are referred to as #12 or 12"))
        raise UsageError(
            Message("%(text)r is not a post number; posts are referred to as #12 or 12", text=text.strip())
        )
    return int(match.group(1))


def parse_when(text: str, zone: ZoneInfo, now: datetime, date_only_time: time = time(9, 0)) -> datetime:
    """A moment written by a person → aware UTC datetime. A date alone means ``date_only_time``
    (09:00 for publishing; deadlines pass 23:59 so "by Friday" includes Friday)."""
    value = text.strip()
    local_now = now.astimezone(zone)
    relative = _RELATIVE.match(value)
    if relative:
        amount, unit = int(relative.group(1)), relative.group(2).lower()
        delta = {"m": timedelta(minutes=amount), "h": timedelta(hours=amount), "d": timedelta(days=amount)}[unit[0]]
        return now + delta
    day_time = _DAY_TIME.match(value)
    if day_time:
        day: date = local_now.date()
        if day_time.group(1).lower() in ("tomorrow", "morgen"):
            day += timedelta(days=1)
        at = time(int(day_time.group(2)), int(day_time.group(3))) if day_time.group(2) else date_only_time
        return _local(day, at, zone)
    absolute = _DATE.match(value)
    if absolute:
        year, month, dom = (int(absolute.group(i)) for i in (1, 2, 3))
        try:
            at = time(int(absolute.group(4)), int(absolute.group(5))) if absolute.group(4) else date_only_time
            return _local(date(year, month, dom), at, zone)
        except ValueError as exc:
            raise UsageError(Message("%(value)r is not a valid date: %(error)s", value=value, error=str(exc))) from None
    raise UsageError(
        Message("%(value)r is not a time: write 2026-12-05, 2026-12-05 17:00, tomorrow 08:30 or in 2h", value=value)
    )


def _local(day: date, at: time, zone: ZoneInfo) -> datetime:
    try:
        moment = datetime.combine(day, at, tzinfo=zone)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return moment.astimezone(ZoneInfo("UTC"))


def parse_cta(text: str, zone: ZoneInfo, now: datetime) -> CallToAction:
    head, _, rest = text.strip().partition(" ")
    kind = _CTA_KINDS.get(head.lower())
    if kind is None:
        raise UsageError(
            Message("unknown call to action %(word)r: use like, acknowledge, rsvp, poll, reply or link", word=head)
        )
    rest = rest.strip()
    deadline = None
    by = re.search(r"(?:^|\s)by\s+(.+)$", rest, re.IGNORECASE)
    if by and kind in (CtaKind.ACKNOWLEDGE, CtaKind.RSVP, CtaKind.POLL):
        deadline = parse_when(by.group(1), zone, now, date_only_time=time(23, 59))
        rest = rest[: by.start()].strip()
    if kind == CtaKind.LINK:
        if not rest:
            raise UsageError(Message("cta: link needs a URL: `cta: link https://intranet/…`"))
        return CallToAction(kind, url=rest)
    if kind in (CtaKind.POLL, CtaKind.RSVP):
        options = tuple(o.strip() for o in rest.split(";") if o.strip()) if rest else ()
        return CallToAction(kind, options=options, deadline=deadline)
    if rest:
        raise UsageError(
            Message("cta: %(kind)s takes no more than `by WHEN`; got %(rest)r", kind=kind.value, rest=rest)
        )
    return CallToAction(kind, deadline=deadline)


def parse_post(text: str, zone: ZoneInfo, now: datetime) -> PostDraft:
    parts = split_parts(text)
    if not parts:
        raise UsageError(Message("a post needs at least a title"))
    title, *rest = parts
    direct = any(p.strip().lower() == "direct" for p in rest)  # `| direct`: privately to each person
    rest = [p for p in rest if p.strip().lower() != "direct"]
    body: list[str] = []
    cta = CallToAction()
    audience: tuple[str, ...] = ("everyone",)
    kind = PostKind.NEWS
    urgent = paid_broadcast = False
    for part in rest:
        key, sep, value = part.partition(":")
        key_l = key.strip().lower()
        if part.strip().lower() == "urgent":
            urgent = True
        elif key_l == "broadcast":
            paid_broadcast = parse_broadcast(value if sep else "")
        elif sep and key_l == "cta":
            cta = parse_cta(value, zone, now)
        elif sep and key_l == "to":
            audience = tuple(t.strip().lower() for t in value.split(",") if t.strip())
            if not audience:
                raise UsageError(Message("`to:` needs at least one tag, for example `to: everyone`"))
        elif sep and key_l == "kind":
            found = _KINDS.get(value.strip().lower())
            if found is None:
                raise UsageError(Message("unknown kind %(kind)r: use news, agenda or kb", kind=value.strip()))
            kind = found
        else:
            body.append(part)
    return PostDraft(
        title=title,
        body="\n\n".join(body),
        kind=kind,
        cta=cta,
        audience=audience,
        urgent=urgent,
        paid_broadcast=paid_broadcast,
        direct=direct,
    )


_BROADCAST = {"": True, "paid": True, "yes": True, "on": True, "true": True, "no": False, "off": False, "false": False}


def parse_edit(text: str, zone: ZoneInfo, now: datetime) -> tuple[int, PostEdit]:
    """``ID | new title | new body… | cta: poll A; B`` (the ID may lead the title's line). The first plain
    part is the new title, further plain parts the new body; ``title:`` or ``body:`` change only that
    one (``edit 12 | body: …`` keeps the title); ``cta:`` restates the call to action with new options."""
    parts = split_parts(text)
    head, _, first = (parts[0] if parts else "").partition(" ")
    post_id = parse_post_ref(head)
    rest = ([first.strip()] if first.strip() else []) + parts[1:]
    title: str | None = None
    body: list[str] = []
    cta: CallToAction | None = None
    for part in rest:
        key, sep, value = part.partition(":")
        key_l = key.strip().lower()
        if sep and key_l == "cta":
            cta = parse_cta(value, zone, now)
        elif sep and key_l == "title":
            title = value.strip()
        elif sep and key_l == "body":
            body.append(value.strip())
        elif title is None:
            title = part
        else:
            body.append(part)
    if title is None and not body and cta is None:
        raise UsageError(Message("say what #%(id)s should say now: `edit %(id)s | new title | new body`", id=post_id))
    return post_id, PostEdit(title=title, body="\n\n".join(body) if body else None, cta=cta)


def parse_broadcast(value: str) -> bool:
    """``broadcast`` (or ``broadcast: paid``/``yes``/``no``): a paid broadcast on Telegram or not."""
    found = _BROADCAST.get(value.strip().lower())
    if found is None:
        raise UsageError(
            Message("`broadcast` takes no value, or yes or no; got %(value)r (`| broadcast`)", value=value.strip())
        )
    return found


def parse_schedule(text: str, zone: ZoneInfo, now: datetime) -> PostDraft:
    """``WHEN | title | body… | options`` (WHEN may also lead the first line before a `` | ``)."""
    parts = split_parts(text)
    if len(parts) < 2:
        raise UsageError(
            Message("schedule needs a time and a post: `schedule tomorrow 08:30 | Title | Body | cta: like`")
        )
    when = parse_later(parts[0], zone, now)
    return dataclasses.replace(parse_post(" | ".join(parts[1:]), zone, now), publish_at=when)


def parse_later(text: str, zone: ZoneInfo, now: datetime) -> datetime:
    """A moment to publish at (:func:`parse_when`), refused when it has passed."""
    when = parse_when(text, zone, now)
    if when <= now:
        raise UsageError(Message("%(when)r is in the past; schedule a later time", when=text.strip()))
    return when


def parse_quiet(text: str) -> tuple[str, str] | None:
    """``18:00-08:00`` → (start, end); ``off`` → None."""
    value = text.strip().lower()
    if value in ("off", "uit", "none"):
        return None
    match = re.match(r"^([01]?\d|2[0-3]):([0-5]\d)\s*-\s*([01]?\d|2[0-3]):([0-5]\d)$", value)
    if not match:
        raise UsageError(Message("write quiet hours as `quiet 18:00-08:00`, or `quiet off`"))
    h1, m1, h2, m2 = match.groups()
    return f"{int(h1):02d}:{m1}", f"{int(h2):02d}:{m2}"
