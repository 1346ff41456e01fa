"""``prikbord post``: create a post from options; the running service delivers it.

Errors speak the CLI: the services' rules are written once (``bot/services/drafts.py``) in the chat
grammar's words, and :func:`cli_wording` says them with the option names (``--option``, ``--url``,
``--to``, ``--deadline``) instead of chat syntax (``cta: poll A; B``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from bot.cli_errors import CliError

if TYPE_CHECKING:
    from bot.config import Settings
    from content.attachments import NewFile

CTA_KINDS = ("none", "like", "acknowledge", "rsvp", "poll", "reply", "link")
EXIT_INVALID_POST = 1

# Chat syntax in the services' messages → the CLI's options. Longest first where one contains another.
_CLI_WORDS: tuple[tuple[str, str], ...] = (
    (
        "add one with `cta: like`, `cta: acknowledge [by WHEN]`, `cta: rsvp`, `cta: poll A; B`, `cta: reply` "
        "or `cta: link URL`",
        "give --cta like, acknowledge, rsvp, poll (with --option A --option B), reply or link (with --url URL)",
    ),
    ("separated by `;`", "(one --option each)"),
    ("`cta: poll A; B; C`", "`--cta poll --option A --option B --option C`"),
    ("`cta: link https://…`", "`--cta link --url https://…`"),
    ("`cta: link https://intranet/…`", "`--cta link --url https://intranet/…`"),
    ("cta: link needs a URL", "--cta link needs --url"),
    ("(`by WHEN`)", "(--deadline)"),
    ("`by WHEN`", "--deadline"),
    ("use `to:` with one of", "use --to with one of"),
    ("`to:`", "--to"),
    ("`to: ", "`--to "),  # `to: floor=3` is no audience
    ("add `cta: acknowledge`, or leave out `direct`", "give --cta acknowledge, or leave out --direct"),
    ("`direct`", "--direct"),
    ("the first part of the post is its title", "give --title"),
    ("or none for yes/no/maybe", "(one --option each), or none for yes/no/maybe"),
    ("only poll and rsvp take options", "only --cta poll and rsvp take --option"),
    ("only a link call to action takes a URL", "only --cta link takes --url"),
    ("only acknowledge, rsvp and poll take a deadline", "only --cta acknowledge, rsvp and poll take --deadline"),
    ("Send it as a file", "Give it with --file"),
    ("send it as a file", "give it with --file"),
    ("leave the attachments out", "leave out --image and --file"),
)


def cli_wording(message: str) -> str:
    """A service's message, with chat syntax replaced by the CLI option that sets the same thing."""
    for chat, cli in _CLI_WORDS:
        message = message.replace(chat, cli)
    return message


@dataclass(frozen=True, slots=True)
class PostRequest:
    title: str
    body: str
    cta: str
    options: tuple[str, ...]
    url: str | None
    deadline: str | None
    to: tuple[str, ...]
    at: str | None
    in_: str | None
    now: bool
    urgent: bool
    kind: str
    paid_broadcast: bool = False
    direct: bool = False  # --direct: privately to each person (a must-read)
    images: tuple[str, ...] = ()  # --image PATH (repeat): shown as pictures, an album from two on
    files: tuple[str, ...] = ()  # --file PATH (repeat): attached as documents


def _when(option: str, value: str, zone: ZoneInfo, now: datetime, date_only: time) -> datetime:
    from bot.commands.grammar import UsageError, parse_when

    try:
        return parse_when(value, zone, now, date_only)
    except UsageError as exc:
        raise CliError(f"{option} {value!r}: {exc}", EXIT_INVALID_POST) from None


def publish_moment(request: PostRequest, zone: ZoneInfo, now: datetime) -> datetime | None:
    """When the post goes out (None: at once). A ``--at`` in the past is refused, never published silently."""
    given = [name for name, value in (("--at", request.at), ("--in", request.in_), ("--now", request.now)) if value]
    if len(given) > 1:
        raise CliError(f"give one of --at, --in and --now, not {' and '.join(given)}", EXIT_INVALID_POST)
    if request.at:
        moment = _when("--at", request.at.replace("T", " "), zone, now, time(9, 0))
        if moment <= now:
            shown = now.astimezone(zone).strftime("%Y-%m-%d %H:%M")
            raise CliError(
                f"--at {request.at} is in the past (it is {shown} in {zone.key}): give a later time, "
                "or --now (or no --at) to publish at once",
                EXIT_INVALID_POST,
            )
        return moment
    if request.in_:
        return _when("--in", f"in {request.in_}", zone, now, time(9, 0))
    return None


def _read_one(option: str, path: str, kind: str) -> NewFile:
    """The file at ``path``, read and checked (bot/services/attachment_rules.py); errors name the option."""
    from bot.services.attachment_rules import MAX_STORED, AttachmentError, inspected, megabytes
    from content.attachments import AttachmentKind

    where = Path(path).expanduser()
    try:
        if not where.is_file():
            problem = "is a directory" if where.is_dir() else "does not exist"
            raise CliError(f"{option} {path}: {problem}", EXIT_INVALID_POST)
        size = where.stat().st_size
        if size > MAX_STORED:
            raise CliError(
                f"{option} {path}: {megabytes(size)} is more than any messenger takes "
                f"(at most {megabytes(MAX_STORED)})",
                EXIT_INVALID_POST,
            )
        data = where.read_bytes()
    except OSError as exc:
        raise CliError(f"{option} {path}: cannot be read ({exc.strerror or exc})", EXIT_INVALID_POST) from None
    try:
        return inspected(where.name, data, AttachmentKind(kind))
    except AttachmentError as exc:
        raise CliError(f"{option} {path}: {cli_wording(str(exc))}", EXIT_INVALID_POST) from None


def read_attachments(request: PostRequest) -> tuple[NewFile, ...]:
    """The images (first, in the order given) and files of ``request``, each read and checked."""
    images = [_read_one("--image", path, "image") for path in request.images]
    return (*images, *(_read_one("--file", path, "file") for path in request.files))


def _no_platform_for_channels(settings: Settings) -> str | None:
    """Why no configured channel can be reached, naming the switch that turns it on; None when one can."""
    enabled = settings.enabled_platforms()
    channels = settings.effective_channels()
    if any(c.platform in enabled for c in channels):
        return None
    if not channels and settings.console.enabled is False:
        return (
            "the only channel, console, is disabled: [console] enabled = false. Set [console] enabled = true "
            "(or PRIKBORD_CONSOLE__ENABLED=true), or configure a messenger and its [[channels]]"
        )
    if not channels:
        return "no channels are configured: add [[channels]] entries (name, platform, chat_id, tags) to the config"
    off = ", ".join(f"{c.name} ({c.platform})" for c in channels)
    switch = "set [console] enabled = true" if all(c.platform == "console" for c in channels) else "configure it"
    return f"every channel is on a platform that is disabled or not configured: {off}: {switch}"


async def create_post(settings: Settings, request: PostRequest) -> dict[str, Any]:
    """Store the post; → its stats object (``id``, ``state``, ``counts`` …)."""
    from adapters.base import MessageTooLong
    from bot.app import App
    from bot.services.drafts import CallToAction, DraftError, PostDraft
    from bot.services.publishing import NotAllowed
    from bot.services.roles import Role
    from bot.services.stats import post_stats
    from content.models import CtaKind, PostKind

    zone = ZoneInfo(settings.timezone)
    if request.cta not in CTA_KINDS:
        raise CliError(f"--cta {request.cta!r}: use one of {', '.join(CTA_KINDS)}", EXIT_INVALID_POST)
    if request.kind not in ("news", "agenda", "kb"):
        raise CliError(f"--kind {request.kind!r}: use news, agenda or kb", EXIT_INVALID_POST)
    post_kind = PostKind(request.kind)
    if post_kind == PostKind.NEWS and (problem := _no_platform_for_channels(settings)):
        raise CliError(problem)
    app = App(settings)
    try:
        await app.prepare_store()
        now = app.clock.now()
        deadline = _when("--deadline", request.deadline, zone, now, time(23, 59)) if request.deadline else None
        draft = PostDraft(
            title=request.title,
            body=request.body,
            kind=post_kind,
            cta=CallToAction(CtaKind(request.cta), request.options, request.url, deadline),
            audience=request.to or ("everyone",),
            publish_at=publish_moment(request, zone, now),
            urgent=request.urgent,
            direct=request.direct,
            paid_broadcast=request.paid_broadcast,
            attachments=read_attachments(request),
        )
        try:
            created = await app.publishing.create(draft, "cli", Role.ADMIN)
        except (DraftError, NotAllowed, MessageTooLong) as exc:
            raise CliError(cli_wording(str(exc)), EXIT_INVALID_POST) from None
        async with app.store.sessions() as session:
            return (await post_stats(session, [created]))[0]
    finally:
        await app.stop()


async def edit_post(
    settings: Settings, post_id: int, title: str | None, body: str | None, options: tuple[str, ...]
) -> dict[str, Any]:
    """Store an edit of post ``post_id`` (as an admin); the running service's edit worker updates every
    copy in the chats within a second or so. → the post's stats object with its ``revision``."""
    from bot.app import App
    from bot.services.drafts import CallToAction, DraftError
    from bot.services.editing import PostEdit
    from bot.services.publishing import NotFound, WrongState
    from bot.services.roles import Role
    from bot.services.stats import post_stats
    from content import posts
    from content.models import CtaKind

    if title is None and body is None and not options:
        raise CliError("say what to change: --title, --body or --option (repeat)", EXIT_INVALID_POST)
    app = App(settings)
    try:
        await app.prepare_store()
        try:
            cta = None
            if options:  # the post's own kind, URL and deadline with the new options
                async with app.store.sessions() as session:
                    post = await posts.get_post(session, post_id)
                if post is not None:
                    cta = CallToAction(CtaKind(post.cta_kind), options, post.cta_url, post.cta_deadline)
            done = await app.editing.edit(post_id, PostEdit(title, body, cta), "cli", Role.ADMIN)
        except (DraftError, NotFound, WrongState) as exc:
            raise CliError(cli_wording(str(exc)), EXIT_INVALID_POST) from None
        async with app.store.sessions() as session:
            found = (await post_stats(session, [done.post]))[0]
        return {**found, "revision": done.post.revision, "copies_to_update": done.copies}
    finally:
        await app.stop()
