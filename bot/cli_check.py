"""``prikbord check``: say what would run, then reach the database and each platform."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from bot.startup_report import hide_password

if TYPE_CHECKING:
    from bot.config import Settings


def describe(settings: Settings, config: Path | None) -> list[str]:
    """What would run, one fact per line (plain text: `[[channels]]` must survive the terminal)."""
    web = f"on at {settings.web.host}:{settings.web.port}" if settings.web_enabled else "off"
    moderators = settings.moderation.moderators + settings.moderation.admins
    lines = [
        f"config: {os.environ.get('PRIKBORD_CONFIG') or config or '(none: embedded default)'} is valid",
        f"timezone: {settings.timezone}; database: {hide_password(settings.database.url)}",
        f"adapters: {', '.join(settings.enabled_platforms()) or 'none'}",
    ]
    for channel in settings.effective_channels():
        where = f"{channel.platform} {channel.chat_address}"
        lines.append(f"  channel {channel.name}: {where} tags {', '.join(channel.tags)}")
    lines.append(f"web: {web}")
    lines.append(f"moderators: {', '.join(moderators) or 'none (nobody can post!)'}")
    return lines


async def check_all(settings: Settings, config: Path | None) -> bool:
    """Print the description and what reaching each part gave; True when all answered."""
    from bot.app import App
    from bot.cli_errors import database_problem
    from content.db import create_store

    for line in describe(settings, config):
        typer.echo(line)
    ok = True
    store = create_store(settings.database.url)
    try:
        async with store.engine.connect():
            typer.echo("database: reachable")
    except Exception as exc:
        problem = database_problem(exc, settings.database.url)
        typer.echo(f"database: unreachable: {problem or type(exc).__name__}")
        ok = False
    finally:
        await store.close()
    app = App(settings, store=create_store(settings.database.url))
    try:
        for name, adapter in app.adapters.items():
            result = await adapter.check()
            typer.echo(f"{name}: {result.detail}")
            ok = ok and result.ok
    finally:
        await app.stop()
        await app.store.close()
    return ok
