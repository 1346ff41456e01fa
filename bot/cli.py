"""The ``prikbord`` command line (Typer)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar
from zoneinfo import ZoneInfo

import typer
from rich.console import Console

from bot.app import App
from bot.cli_import import import_command
from bot.cli_status import status_cli
from bot.commands.grammar import UsageError, parse_cta, parse_when
from bot.config import ConfigError, Settings, load_settings
from bot.runtime import tune_gc
from bot.services.drafts import CallToAction, DraftError, PostDraft
from bot.services.publishing import NotAllowed
from bot.services.roles import Role
from bot.services.stats import post_stats
from content import posts
from content.db import create_store
from content.migrate import upgrade
from content.models import CtaKind, PostKind

cli = typer.Typer(add_completion=False, no_args_is_help=True, help="prikbord: the intranet in your messengers.")
db_cli = typer.Typer(no_args_is_help=True, help="Database maintenance.")
cli.add_typer(db_cli, name="db")
cli.add_typer(status_cli, name="status")
cli.command("import")(import_command)


@cli.command(
    "channels", add_help_option=False, context_settings={"allow_extra_args": True, "ignore_unknown_options": True}
)
def channels_command(ctx: typer.Context) -> None:
    """The chats the bot is in: `prikbord channels discover` prints channel entries to paste into the config."""
    from bot.cli_channels import channels_cli  # imported only for this command

    channels_cli(ctx.args, prog_name="prikbord channels")

err = Console(stderr=True, highlight=False)
T = TypeVar("T")

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="TOML config file (default: PRIKBORD_CONFIG, else built-in)")
]


def _settings(config: Path | None) -> Settings:
    try:
        return load_settings(config)
    except ConfigError as exc:
        err.print(f"[red]error:[/red] {exc}", markup=True)
        raise typer.Exit(2) from None


def _logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.WARNING),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def _run(coro_fn: Callable[[], Awaitable[T]]) -> T:
    async def main() -> T:
        return await coro_fn()

    try:
        return asyncio.run(main())
    except ConfigError as exc:  # raised while building adapters from a config that parsed
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None


# ---------------------------------------------------------------------------------------------


@cli.command()
def run(
    config: ConfigOption = None,
    log_level: Annotated[str, typer.Option(envvar="PRIKBORD_LOG_LEVEL")] = "warning",
) -> None:
    """Run everything configured: adapters, dispatcher, scheduler, web."""
    settings = _settings(config)
    _logging(log_level)
    _run(lambda: _serve(settings, sys.stdin))


async def _serve(settings: Settings, console_input: Any) -> None:
    app = App(settings, console_input=console_input if settings.console_enabled else None)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await app.start()
    except OSError as exc:  # the web port is taken, say, or the database is unreachable
        await app.stop()
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    tune_gc()
    try:
        if list(app.adapters) == ["console"]:
            # Scripted or interactive console: done when the input ends (or on a signal).
            done = asyncio.create_task(app.run_until_input_ends())
            stopper = asyncio.create_task(stop.wait())
            await asyncio.wait({done, stopper}, return_when=asyncio.FIRST_COMPLETED)
            stopper.cancel()
            if done.done():
                done.result()
            else:
                done.cancel()
        else:
            await stop.wait()
    finally:
        await app.stop()


DEMO_POSTS = [
    PostDraft(
        title="Nieuwe verlofregeling",
        body="Vanaf **januari** geldt de nieuwe verlofregeling.\n\n- meer flexibiliteit\n- aanvragen via HR",
        cta=CallToAction(CtaKind.ACKNOWLEDGE),
    ),
    PostDraft(title="Lunch vrijdag", body="Wat eten we?", cta=CallToAction(CtaKind.POLL, ("Pizza", "Sushi", "Salade"))),
    PostDraft(
        title="Koffieautomaat",
        body="De nieuwe koffieautomaat staat op de tweede verdieping.",
        cta=CallToAction(CtaKind.LIKE),
    ),
    PostDraft(title="Personeelsvergadering", body="Donderdag 10:00, grote zaal.", kind=PostKind.AGENDA),
    PostDraft(title="Wifi voor gasten", body="Netwerk *Gast*, wachtwoord bij de receptie.", kind=PostKind.KB),
]


@cli.command()
def demo(
    script: Annotated[Path | None, typer.Option(help="read the chat from this file instead of stdin")] = None,
    log_level: Annotated[str, typer.Option(envvar="PRIKBORD_LOG_LEVEL")] = "warning",
) -> None:
    """A console chat on a throwaway SQLite with sample content. `mod` is the moderator."""
    _logging(log_level)
    with tempfile.TemporaryDirectory(prefix="prikbord-demo-") as tmp:
        settings = Settings(
            database={"url": f"sqlite:///{tmp}/demo.db"},  # type: ignore[arg-type]
            console={"enabled": True},  # type: ignore[arg-type]
            moderation={"moderators": ["console:mod"]},  # type: ignore[arg-type]
        )
        stream = script.open(encoding="utf-8") if script else sys.stdin
        try:
            _run(lambda: _demo(settings, stream))
        finally:
            if script:
                stream.close()


async def _demo(settings: Settings, stream: Any) -> None:
    out = Console(highlight=False, soft_wrap=True)
    out.print(
        "[bold]prikbord demo[/bold] — type lines like [cyan]anna: /like 1[/cyan]; `mod` is a moderator; "
        "[cyan]help[/cyan] lists the commands; end with Ctrl-D."
    )
    app = App(settings, console_input=None)
    await app.prepare_store()
    for draft in DEMO_POSTS:
        await app.publishing.create(draft, "console:mod", Role.ADMIN)
    await app.stop()
    await _serve(settings, stream)


@cli.command("post")
def post_command(
    title: Annotated[str, typer.Option(help="the title")],
    body: Annotated[str, typer.Option(help="Markdown body")] = "",
    cta: Annotated[str, typer.Option(help="none|like|acknowledge|rsvp|poll|reply|link")] = "none",
    option: Annotated[list[str] | None, typer.Option(help="a poll/RSVP option (repeat)")] = None,
    url: Annotated[str | None, typer.Option(help="the link of a link call to action")] = None,
    deadline: Annotated[str | None, typer.Option(help="acknowledge/RSVP/poll deadline (WHEN)")] = None,
    to: Annotated[list[str] | None, typer.Option(help="audience tag (repeat); default everyone")] = None,
    at: Annotated[
        str | None, typer.Option(help="publish at (2026-12-01T09:00, 2026-12-01 09:00, tomorrow 08:30)")
    ] = None,
    in_: Annotated[str | None, typer.Option("--in", help="publish after (2h, 30m, 1d)")] = None,
    urgent: Annotated[bool, typer.Option(help="ignore quiet hours")] = False,
    kind: Annotated[str, typer.Option(help="news|agenda|kb")] = "news",
    as_json: Annotated[bool, typer.Option("--json", help="print the post as JSON")] = False,
    config: ConfigOption = None,
) -> None:
    """Create a post; the running service delivers it. Prints the new id."""
    settings = _settings(config)
    zone = ZoneInfo(settings.timezone)

    async def create() -> dict[str, Any]:
        app = App(settings)
        try:
            await app.prepare_store()
            now = app.clock.now()
            cta_value = parse_cta(cta, zone, now)
            if option:
                cta_value = CallToAction(cta_value.kind, tuple(option), cta_value.url, cta_value.deadline)
            if url:
                cta_value = CallToAction(cta_value.kind, cta_value.options, url, cta_value.deadline)
            if deadline:
                cta_value = CallToAction(
                    cta_value.kind, cta_value.options, cta_value.url, parse_when(deadline, zone, now)
                )
            publish_at = None
            if at and in_:
                raise UsageError("give --at or --in, not both")
            if at:
                publish_at = parse_when(at.replace("T", " "), zone, now)
            elif in_:
                publish_at = parse_when(f"in {in_}", zone, now)
            try:
                post_kind = PostKind(kind)
            except ValueError:
                raise UsageError(f"unknown kind {kind!r}: use news, agenda or kb") from None
            draft = PostDraft(
                title=title,
                body=body,
                kind=post_kind,
                cta=cta_value,
                audience=tuple(to or ("everyone",)),
                publish_at=publish_at,
                urgent=urgent,
            )
            created = await app.publishing.create(draft, "cli", Role.ADMIN)
            async with app.store.sessions() as session:
                return (await post_stats(session, [created]))[0]
        finally:
            await app.stop()

    try:
        result = _run(create)
    except (UsageError, DraftError, NotAllowed) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    typer.echo(json.dumps(result, ensure_ascii=False) if as_json else str(result["id"]))


@cli.command()
def stats(
    post_id: Annotated[int | None, typer.Argument(help="one post; all posts without it")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
    config: ConfigOption = None,
) -> None:
    """Counts (distinct people per kind), votes per option and deliveries per state."""
    settings = _settings(config)

    async def gather() -> list[dict[str, Any]]:
        store = create_store(settings.database.url)
        try:
            await upgrade(store)
            async with store.sessions() as session:
                if post_id is not None:
                    post = await posts.get_post(session, post_id)
                    if post is None:
                        return []
                    return await post_stats(session, [post])
                return await post_stats(session, list(reversed(await posts.recent_posts(session, 1000))))
        finally:
            await store.close()

    found = _run(gather)
    if post_id is not None and not found:
        err.print(f"[red]error:[/red] there is no post #{post_id}")
        raise typer.Exit(1)
    if as_json:
        typer.echo(json.dumps(found[0] if post_id is not None else found, ensure_ascii=False, indent=2))
        return
    from bot.services.stats import stats_line

    for item in found:
        typer.echo(stats_line(item))


@db_cli.command("upgrade")
def db_upgrade(config: ConfigOption = None) -> None:
    """Bring the database schema up to date (keeps all data)."""
    settings = _settings(config)

    async def go() -> None:
        store = create_store(settings.database.url)
        try:
            await upgrade(store)
        finally:
            await store.close()

    _run(go)
    typer.echo("database is up to date")


@cli.command()
def check(config: ConfigOption = None) -> None:
    """Validate the config, say what would run, and reach the database and each platform."""
    settings = _settings(config)
    out = Console(highlight=False)
    out.print(f"config: {os.environ.get('PRIKBORD_CONFIG') or config or '(none: embedded default)'} is valid")
    out.print(f"timezone: {settings.timezone}; database: {_redact(settings.database.url)}")
    out.print(f"adapters: {', '.join(settings.enabled_platforms()) or 'none'}")
    for channel in settings.effective_channels():
        out.print(f"  channel {channel.name}: {channel.platform} {channel.chat_id} tags {', '.join(channel.tags)}")
    out.print(f"web: {'on at ' + settings.web.host + ':' + str(settings.web.port) if settings.web_enabled else 'off'}")
    moderators = settings.moderation.moderators + settings.moderation.admins
    out.print(f"moderators: {', '.join(moderators) or 'none (nobody can post!)'}")

    async def reach() -> bool:
        ok = True
        store = create_store(settings.database.url)
        try:
            async with store.engine.connect():
                out.print("database: reachable")
        except Exception as exc:
            out.print(f"[red]database: unreachable: {type(exc).__name__}: {_redact(str(exc))}[/red]")
            ok = False
        finally:
            await store.close()
        app = App(settings, store=create_store(settings.database.url))
        try:
            for name, adapter in app.adapters.items():
                result = await adapter.check()
                colour = "green" if result.ok else "red"
                out.print(f"[{colour}]{name}: {result.detail}[/{colour}]")
                ok = ok and result.ok
        finally:
            await app.stop()
            await app.store.close()
        return ok

    if not _run(reach):
        raise typer.Exit(1)


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    with contextlib.suppress(Exception):
        return make_url(url).render_as_string(hide_password=True)
    return url


def main() -> None:
    cli()
