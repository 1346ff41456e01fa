"""``prikbord status run NAME --dry-run | --now``: try a status post against live data, or post it now.

Registered in ``bot/cli.py`` with ``cli.add_typer(status_cli, name="status")``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from bot.cli_errors import fail, run_async

if TYPE_CHECKING:  # imported when the command runs, so `prikbord --help` stays fast
    from rich.console import Console

    from bot.config import Settings
    from bot.i18n import Message
    from bot.services.status import StatusOutcome

status_cli = typer.Typer(no_args_is_help=True, help="Status posts built from live data.", rich_markup_mode=None)


@status_cli.callback()
def status() -> None:
    """Status posts built from live data (``[[status_posts]]`` in the config)."""


def _consoles() -> tuple[Console, Console]:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True), Console(stderr=True, highlight=False, soft_wrap=True)


def _settings(config: Path | None) -> Settings:
    from bot.config import ConfigError, load_settings

    try:
        return load_settings(config)
    except ConfigError as exc:
        raise fail(str(exc)) from None


def _show(outcome: StatusOutcome) -> None:
    out, err = _consoles()
    out.print(f"[bold]{outcome.title}[/bold]" if outcome.title else "[dim](no title)[/dim]")
    if outcome.body:
        out.print(outcome.body, markup=False)
    for name, why in outcome.failures.items():
        err.print(f"[yellow]source {name} failed:[/yellow] {why}")
    if outcome.error:
        err.print(f"[red]error:[/red] {outcome.error}")


@status_cli.command("run")
def run(
    name: Annotated[str, typer.Argument(help="the status post's name in [[status_posts]]")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="fetch live data and print the post; send nothing")
    ] = False,
    now: Annotated[bool, typer.Option("--now", help="post it now; the running service delivers it")] = False,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="TOML config file (default: PRIKBORD_CONFIG)")
    ] = None,
) -> None:
    """Fetch a status post's sources and render it (--dry-run), or publish it now (--now)."""
    from bot.services.status import UnknownStatusPost

    _, err = _consoles()
    if dry_run == now:
        err.print("[red]error:[/red] choose one of --dry-run (print only) or --now (post it)")
        raise typer.Exit(2)
    settings = _settings(config)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        outcome = run_async(
            lambda: _dry_run(settings, name) if dry_run else _post_now(settings, name), settings.database.url
        )
    except UnknownStatusPost as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    _show(outcome)
    if dry_run:
        err.print("[dim](dry run: nothing was stored or sent)[/dim]")
    elif outcome.state == "posted":
        err.print(f"posted as #{outcome.post_id}; the running service delivers it")
    elif outcome.state == "already":
        err.print("this firing was posted already")
    else:
        err.print(f"not posted ({outcome.state})")
    if outcome.state == "failed" or (now and outcome.state == "skipped"):
        raise typer.Exit(1)


async def _tell_operator(text: Message | str) -> None:
    # A one-off command has no messenger connections: what the moderators would hear goes to stderr.
    _consoles()[1].print(f"[yellow]moderators:[/yellow] {text}")


async def _dry_run(settings: Settings, name: str) -> StatusOutcome:
    from bot.app import App
    from bot.services.status import StatusPostService

    app = App(settings, adapters={})
    try:
        service = StatusPostService(
            settings.status_posts, app.store, app.publishing, _tell_operator, app.clock, settings.timezone
        )
        service.config(name)
        return await service.render(name, app.clock.now().replace(microsecond=0))
    finally:
        await app.stop()


async def _post_now(settings: Settings, name: str) -> StatusOutcome:
    from bot.app import App
    from bot.services.status import StatusPostService

    app = App(settings)
    try:
        await app.prepare_store()
        service = StatusPostService(
            settings.status_posts, app.store, app.publishing, _tell_operator, app.clock, settings.timezone
        )
        service.config(name)
        return await service.run(name, app.clock.now().replace(microsecond=0))
    finally:
        await app.stop()
