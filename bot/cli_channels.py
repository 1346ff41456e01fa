"""``prikbord channels discover [--json]``: the chats the bot is in, as ``[[channels]]`` to paste.

Per configured platform (Telegram, Slack, Matrix) the adapter's ``discover_chats`` lists the chats;
this prints them as TOML with the right ``chat_id`` (Telegram's ``-100…`` ids are the first wall a
bot operator hits), or as JSON. Chats already in the config are shown as comments, so a paste adds
only new ones; so are encrypted Matrix rooms, where prikbord cannot post yet. Nothing is started
and nothing is taken from a running service (docs/telegram.md).

Registered in ``bot/cli.py``; the heavy imports happen inside the command.
"""

from __future__ import annotations

import asyncio
import json
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from content.chats import whole_chat_id

if TYPE_CHECKING:
    from adapters.base import DiscoveredChat
    from bot.config import Settings

channels_cli = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    help="The chats the bot is in, and the [[channels]] entries for them.",
)

DISCOVERABLE = ("telegram", "slack", "matrix")


@channels_cli.callback()
def channels() -> None:
    """The bot's chats on each configured platform (``[[channels]]`` in the config)."""


@dataclass(frozen=True, slots=True)
class Found:
    """One discovered chat with the channel name proposed for it (or the one it is configured as)."""

    chat: DiscoveredChat
    name: str
    configured: bool


@dataclass(frozen=True, slots=True)
class PlatformResult:
    platform: str
    found: tuple[Found, ...] = ()
    error: str | None = None


def channel_name(title: str, platform: str, taken: set[str]) -> str:
    """A ``[[channels]]`` name from a chat's title: lower-case ASCII words joined by ``-``, unique."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    base = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")[:40].strip("-") or platform
    name, n = base, 2
    while name in taken:
        name, n = f"{base}-{n}", n + 1
    taken.add(name)
    return name


def _toml_string(value: str) -> str:
    # A JSON string is a valid TOML basic string (the same escapes; json never writes "\/").
    return json.dumps(value, ensure_ascii=False)


def _comment(text: str) -> str:
    return " ".join(text.split())


def _chat_and_thread(chat_id: str) -> tuple[str, int | None]:
    """A discovered topic's ``"<chat>/<thread>"`` → its ``chat_id`` and ``thread_id`` keys."""
    whole = whole_chat_id(chat_id)
    thread = chat_id[len(whole) + 1 :]
    return (whole, int(thread)) if thread.isdigit() else (chat_id, None)


def render_toml(results: Sequence[PlatformResult]) -> str:
    """Ready-to-paste ``[[channels]]`` tables; configured chats and failures as comments."""
    lines: list[str] = []
    for result in results:
        lines.append(f"# --- {result.platform} ---")
        if result.error is not None:
            lines.append(f"# not discovered: {_comment(result.error)}")
        elif not result.found:
            lines.append("# no chats found (see docs/" + result.platform + ".md: add the bot to a chat first)")
        for item in result.found:
            chat = item.chat
            about = f"{chat.kind} {_comment(chat.name)!r}"
            if chat.encrypted:
                about += ", encrypted"
            if chat.kind == "private":  # a person (Telegram): the moderator entry, never a channel
                key = f"{chat.chat.platform}:{chat.chat.chat_id}"
                lines.append(f"# person {_comment(chat.name)!r} wrote to the bot: moderators entry {_toml_string(key)}")
                continue
            if item.configured:
                lines.append(f"# already configured as channel {item.name!r}: {about} chat_id {chat.chat.chat_id}")
                continue
            lines.append(f"# {about}" + (f" — {_comment(chat.note)}" if chat.note else ""))
            # prikbord refuses encrypted rooms (docs/matrix.md): shown, but commented out so a paste adds none.
            prefix = "# " if chat.encrypted else ""
            lines.append(f"{prefix}[[channels]]")
            lines.append(f"{prefix}name = {_toml_string(item.name)}")
            lines.append(f"{prefix}platform = {_toml_string(chat.chat.platform)}")
            chat_id, thread_id = _chat_and_thread(chat.chat.chat_id)
            lines.append(f"{prefix}chat_id = {_toml_string(chat_id)}")
            if thread_id is not None:  # a topic of a Telegram forum (content/chats.py)
                lines.append(f"{prefix}thread_id = {thread_id}")
            lines.append(f'{prefix}tags = ["everyone"]')
        lines.append("")
    return "\n".join(lines)


def render_json(results: Sequence[PlatformResult]) -> str:
    out: list[dict[str, Any]] = []
    for result in results:
        out.append(
            {
                "platform": result.platform,
                "error": result.error,
                "chats": [
                    {
                        "name": item.name,
                        "configured": item.configured,
                        "platform": item.chat.chat.platform,
                        "chat_id": _chat_and_thread(item.chat.chat.chat_id)[0],
                        "thread_id": _chat_and_thread(item.chat.chat.chat_id)[1],
                        "title": item.chat.name,
                        "kind": item.chat.kind,
                        "encrypted": item.chat.encrypted,
                        "note": item.chat.note,
                    }
                    for item in result.found
                ],
            }
        )
    return json.dumps(out, ensure_ascii=False, indent=2)


def name_chats(settings: Settings, platform: str, chats: Sequence[DiscoveredChat], taken: set[str]) -> list[Found]:
    configured = {c.chat_address: c.name for c in settings.channels if c.platform == platform}
    found: list[Found] = []
    for chat in chats:
        known = configured.get(chat.chat.chat_id)
        if chat.kind == "private":
            found.append(Found(chat, "", False))  # a person, listed for the moderators entry
        elif known is not None:
            found.append(Found(chat, known, True))
        else:
            found.append(Found(chat, channel_name(chat.name, platform, taken), False))
    return found


async def discover(settings: Settings, platforms: Sequence[str]) -> list[PlatformResult]:
    from adapters.base import DeliveryError
    from bot.app import App
    from content.migrate import upgrade

    app = App(settings)
    results: list[PlatformResult] = []
    taken = {c.name for c in settings.channels}
    try:
        if "matrix" in app.adapters:
            await upgrade(app.store)  # a password login keeps its token and device in the database
        for platform in platforms:
            adapter = app.adapters.get(platform)
            if adapter is None:
                continue
            try:
                chats = await adapter.discover_chats()
            except DeliveryError as exc:
                results.append(PlatformResult(platform, error=str(exc)))
                continue
            finally:
                await adapter.stop()
            results.append(PlatformResult(platform, tuple(name_chats(settings, platform, chats, taken))))
    finally:
        await app.stop()
    return results


@channels_cli.command("discover")
def discover_command(
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
    platform: Annotated[
        list[str] | None, typer.Option("--platform", "-p", help="only this platform (repeat): telegram|slack|matrix")
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="TOML config file (default: PRIKBORD_CONFIG, else built-in)")
    ] = None,
) -> None:
    """List the chats the bot is in on each configured platform, as [[channels]] TOML to paste.

    Exit status 0 when every platform answered, 1 when one failed (the others are still listed),
    2 for a broken config or when no messenger is configured.
    """
    from bot.config import ConfigError, load_settings

    err = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        settings = load_settings(config)
    except ConfigError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None
    unknown = [p for p in platform or () if p not in DISCOVERABLE]
    if unknown:
        err.print(f"[red]error:[/red] --platform must be one of {', '.join(DISCOVERABLE)}, not {escape(unknown[0])!r}")
        raise typer.Exit(2)
    enabled = [p for p in settings.enabled_platforms() if p in DISCOVERABLE and (not platform or p in platform)]
    if not enabled:
        asked = ", ".join(platform) if platform else "Telegram, Slack or Matrix"
        err.print(
            f"[red]error:[/red] {escape(asked)} is not configured: set "
            + escape("[telegram] token, [slack] bot_token or [matrix] homeserver")
            + " (see docs/telegram.md, docs/slack.md, docs/matrix.md)"
        )
        raise typer.Exit(2)
    try:
        results = asyncio.run(discover(settings, enabled))
    except ConfigError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None
    typer.echo(render_json(results) if as_json else render_toml(results))
    for result in results:
        if result.error is not None:
            err.print(f"[red]{result.platform}:[/red] {escape(result.error)}")
    if any(r.error is not None for r in results):
        raise typer.Exit(1)
