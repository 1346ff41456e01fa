"""The ``prikbord`` command line (Typer).

Start-up is kept short: this module imports only Typer and the standard library, and each command
imports what it uses inside its body (SDKs, the web stack and the scheduler only for ``run``).
``bench/cli_startup.py`` measures it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from bot.cli_errors import CliError, fail, guard_arguments, run_async
from bot.cli_import import import_command
from bot.cli_status import status_cli
from bot.runtime import tune_gc_for_command

if TYPE_CHECKING:
    from bot.app import App
    from bot.config import Settings
    from bot.services.drafts import PostDraft

# A traceback (a bug, not an operator's problem) never prints local variables: they may hold secrets.
cli = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="prikbord: the intranet in your messengers.",
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,  # plain help and usage errors: no Rich to import for --help
)
db_cli = typer.Typer(no_args_is_help=True, help="Database maintenance.", rich_markup_mode=None)
cli.add_typer(db_cli, name="db")
cli.add_typer(status_cli, name="status")
cli.command("import")(import_command)


@cli.command(
    "people", add_help_option=False, context_settings={"allow_extra_args": True, "ignore_unknown_options": True}
)
def people_command(ctx: typer.Context) -> None:
    """The company directory and a person's data: `prikbord people import FILE | export EMAIL | forget EMAIL`."""
    from bot.cli_people import people_cli  # imported only for this command

    people_cli(ctx.args, prog_name="prikbord people")


@cli.command(
    "channels", add_help_option=False, context_settings={"allow_extra_args": True, "ignore_unknown_options": True}
)
def channels_command(ctx: typer.Context) -> None:
    """The chats the bot is in: `prikbord channels discover` prints channel entries to paste into the config."""
    from bot.cli_channels import channels_cli  # imported only for this command

    channels_cli(ctx.args, prog_name="prikbord channels")


ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="TOML config file (default: PRIKBORD_CONFIG, else built-in)")
]


def package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("prikbord")
    except PackageNotFoundError:
        return "unknown (not installed)"


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"prikbord {package_version()}")
        raise typer.Exit()


@cli.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_print_version, is_eager=True, help="print the version and exit")
    ] = False,
) -> None:
    """prikbord: the intranet in your messengers."""


def _settings(config: Path | None) -> Settings:
    from bot.config import ConfigError, load_settings

    try:
        return load_settings(config)
    except ConfigError as exc:
        raise fail(str(exc)) from None


def _refuse_problems(settings: Settings) -> None:
    """A config that parses but cannot work as written: every problem, then exit 2."""
    from bot.config import startup_problems

    problems = startup_problems(settings)
    if problems:
        for problem in problems:
            typer.echo(f"error: {problem}", err=True)
        raise typer.Exit(2)


def _logging(level: str) -> None:
    import logging

    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.WARNING),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    from bot.runtime import quiet_cancelled_pool_close

    for handler in logging.getLogger().handlers:  # a logger's filter would not see its children's records
        handler.addFilter(quiet_cancelled_pool_close)


# ---------------------------------------------------------------------------------------------


@cli.command()
def run(
    config: ConfigOption = None,
    log_level: Annotated[str, typer.Option(envvar="PRIKBORD_LOG_LEVEL")] = "warning",
) -> None:
    """Run everything configured: adapters, dispatcher, scheduler, web."""
    settings = _settings(config)
    _refuse_problems(settings)
    _logging(log_level)
    run_async(lambda: _serve(settings, sys.stdin), settings.database.url)


async def _report_start(app: App) -> None:
    """What started, on stderr (stdout stays the console's chat)."""
    import asyncio

    from bot.startup_report import AdapterLine, StartupFacts, startup_lines

    async def line(name: str) -> AdapterLine:
        adapter = app.adapters[name]
        if name == "console":
            return AdapterLine(name, adapter.connected, "the chat in this terminal")
        try:
            result = await asyncio.wait_for(adapter.check(), timeout=5)
        except Exception as exc:  # the report never stops a start
            return AdapterLine(name, adapter.connected, f"could not ask the platform: {type(exc).__name__}")
        return AdapterLine(name, adapter.connected and result.ok, result.detail)

    settings = app.settings
    channels: dict[str, list[str]] = {p: [] for p in app.adapters}
    for channel in settings.effective_channels():
        channels.setdefault(channel.platform, []).append(channel.name)
    web_url = None
    if app.web is not None:
        web_url = f"http://{settings.web.host}:{app.web.port}/"
    scheduler = "off"
    if settings.scheduler.enabled:
        scheduler = "leader" if app.scheduler.is_leader else "follower"
    facts = StartupFacts(
        version=package_version(),
        adapters=[await line(name) for name in app.adapters],
        channels=channels,
        web_url=web_url,
        public_url=settings.web.public_url if settings.web_enabled else None,
        database_url=settings.database.url,
        scheduler=scheduler,
        timezone=settings.timezone,
    )
    typer.echo("\n".join(startup_lines(facts)), err=True)


async def _serve(settings: Settings, console_input: Any) -> None:
    import asyncio
    import contextlib
    import signal

    from bot.app import App
    from bot.runtime import tune_gc

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
        if type(exc) is OSError:  # the web app's own message, which says what to do
            raise CliError(str(exc)) from None
        raise
    except BaseException:
        await app.stop()
        raise
    tune_gc()
    try:
        await _report_start(app)
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


def _demo_posts() -> list[PostDraft]:
    from bot.services.drafts import CallToAction, PostDraft
    from content.models import CtaKind, PostKind

    return [
        PostDraft(
            title="Nieuwe verlofregeling",
            body="Vanaf **januari** geldt de nieuwe verlofregeling.\n\n- meer flexibiliteit\n- aanvragen via HR",
            cta=CallToAction(CtaKind.ACKNOWLEDGE),
        ),
        PostDraft(
            title="Lunch vrijdag", body="Wat eten we?", cta=CallToAction(CtaKind.POLL, ("Pizza", "Sushi", "Salade"))
        ),
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
    import tempfile

    from bot.config import Settings

    _logging(log_level)
    with tempfile.TemporaryDirectory(prefix="prikbord-demo-") as tmp:
        settings = Settings(
            database={"url": f"sqlite:///{tmp}/demo.db"},  # type: ignore[arg-type]
            console={"enabled": True},  # type: ignore[arg-type]
            moderation={"moderators": ["console:mod"]},  # type: ignore[arg-type]
        )
        if script is not None and not script.is_file():
            raise fail(f"--script {script} does not exist: give the path of a chat script")
        stream = script.open(encoding="utf-8") if script else sys.stdin
        try:
            run_async(lambda: _demo(settings, stream), settings.database.url)
        finally:
            if script:
                stream.close()


async def _demo(settings: Settings, stream: Any) -> None:
    from bot.app import App
    from bot.services.roles import Role

    typer.echo(
        "prikbord demo — type lines like `anna: /like 1`; `mod` is a moderator; `mod: /help` lists the commands; "
        "end with Ctrl-D."
    )
    app = App(settings, console_input=None)
    await app.prepare_store()
    for draft in _demo_posts():
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
    now: Annotated[bool, typer.Option("--now", help="publish at once (the default without --at/--in)")] = False,
    urgent: Annotated[bool, typer.Option(help="ignore quiet hours")] = False,
    direct: Annotated[
        bool, typer.Option("--direct", help="a must-read sent privately to each person of --to, not to the channels")
    ] = False,
    paid_broadcast: Annotated[
        bool, typer.Option("--paid-broadcast", help="Telegram: a paid broadcast (up to 1,000/s, 0.1 Star a message)")
    ] = False,
    kind: Annotated[str, typer.Option(help="news|agenda|kb")] = "news",
    image: Annotated[list[str] | None, typer.Option("--image", help="an image to show (repeat: an album)")] = None,
    file: Annotated[list[str] | None, typer.Option("--file", help="a file to attach (repeat)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the post as JSON")] = False,
    config: ConfigOption = None,
) -> None:
    """Create a post; the running service delivers it. Prints the new id."""
    from bot.cli_post import PostRequest, create_post

    settings = _settings(config)
    request = PostRequest(
        title, body, cta, tuple(option or ()), url, deadline, tuple(to or ()), at, in_, now, urgent, kind,
        paid_broadcast, direct=direct, images=tuple(image or ()), files=tuple(file or ()),
    )  # fmt: skip
    result = run_async(lambda: create_post(settings, request), settings.database.url)
    typer.echo(json.dumps(result, ensure_ascii=False) if as_json else str(result["id"]))


@cli.command("edit")
def edit_command(
    post_id: Annotated[int, typer.Argument(help="the post to change")],
    title: Annotated[str | None, typer.Option(help="the new title")] = None,
    body: Annotated[str | None, typer.Option(help="the new Markdown body")] = None,
    option: Annotated[list[str] | None, typer.Option(help="new poll/RSVP options (repeat), until a vote")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the post as JSON")] = False,
    config: ConfigOption = None,
) -> None:
    """Change a published post; the running service edits every copy in place. Responses stay."""
    from bot.cli_post import edit_post

    settings = _settings(config)
    found = run_async(lambda: edit_post(settings, post_id, title, body, tuple(option or ())), settings.database.url)
    typer.echo(json.dumps(found, ensure_ascii=False) if as_json else f"#{post_id} revision {found['revision']}")


@cli.command()
def stats(
    post_id: Annotated[int | None, typer.Argument(help="one post; all posts without it")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
    config: ConfigOption = None,
) -> None:
    """Counts (distinct people per kind), votes per option and deliveries per state."""
    from bot.cli_stats import gather_stats

    settings = _settings(config)
    found = run_async(lambda: gather_stats(settings.database.url, post_id), settings.database.url)
    if post_id is not None and not found:
        raise fail(f"there is no post #{post_id}", 1)
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
        from content.db import create_store
        from content.migrate import upgrade

        store = create_store(settings.database.url)
        try:
            await upgrade(store)
        finally:
            await store.close()

    run_async(go, settings.database.url)
    typer.echo("database is up to date")


@cli.command()
def check(config: ConfigOption = None) -> None:
    """Validate the config, say what would run, and reach the database and each platform."""
    from bot.cli_check import check_all

    settings = _settings(config)
    _refuse_problems(settings)
    if not run_async(lambda: check_all(settings, config), settings.database.url):
        raise typer.Exit(1)


def main() -> None:
    tune_gc_for_command()
    guard_arguments()
    cli()
