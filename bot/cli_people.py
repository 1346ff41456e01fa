"""``prikbord people import FILE | export EMAIL | forget EMAIL``: the company directory and a
person's data on request.

``import`` reads a CSV (header: email, name, department, location, language, telegram, slack,
matrix, and the older identities) or JSON lines with the same keys, upserts it and prints a report:
created, updated, unchanged, failed with line and reason. A ``slack`` cell may hold the person's
Slack email, looked up when Slack is configured (scope users:read.email). Exit status 0 when every
row was stored, 1 when some failed (the others were stored), the file as a whole could not be read
or Slack could not look the emails up for now, 2 for a broken config or a Slack app lacking the
scope. ``export`` prints one JSON document; ``forget`` erases the person (their responses stay as
anonymous counts). Registered in ``bot/cli.py``; the heavy imports happen inside the commands.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

if TYPE_CHECKING:
    from bot.app import App
    from bot.config import Settings

T = TypeVar("T")
ACTOR = "cli"

people_cli = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    help="The company directory, and a person's data on request.",
)

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="TOML config file (default: PRIKBORD_CONFIG, else built-in)")
]


@people_cli.callback()
def people() -> None:
    """The company directory (import), and what is stored about a person (export, forget)."""


def _settings(config: Path | None) -> Settings:
    from bot.cli_errors import fail
    from bot.config import ConfigError, load_settings

    try:
        return load_settings(config)
    except ConfigError as exc:
        raise fail(str(exc)) from None


def _with_app(settings: Settings, work: Callable[[App], Awaitable[T]]) -> T:
    from bot.cli_errors import run_async

    async def run() -> T:
        from bot.app import App

        app = App(settings)
        try:
            await app.prepare_store()
            return await work(app)
        finally:
            await app.stop()

    return run_async(run, settings.database.url)


@people_cli.command("import")
def import_people(
    file: Annotated[Path, typer.Argument(help="a CSV or JSON-lines file ('-' reads standard input)")],
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
    config: ConfigOption = None,
) -> None:
    """Create or update employees and link their messenger accounts; importing again changes nothing."""
    import sys

    from adapters.base import AdapterAuthError, DeliveryError
    from bot.cli_errors import EXIT_OPERATOR, fail
    from bot.services.directory import import_directory
    from content.directory import DirectoryResult, MalformedDirectory

    try:
        text = sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"cannot read {file}: {exc}", 1) from None
    settings = _settings(config)

    async def work(app: App) -> DirectoryResult | tuple[str, int]:
        try:
            return await import_directory(
                app.store, app.clock, text, ACTOR, app.engagement.forget_people, app.slack_lookup
            )
        except MalformedDirectory as exc:
            return f"{file}: {exc}", 1
        except DeliveryError as exc:  # the Slack email lookup: the app's scope or token (2), or Slack for now (1)
            code = EXIT_OPERATOR if isinstance(exc, AdapterAuthError) else 1
            return f"looking up the Slack emails failed: {exc}", code

    result = _with_app(settings, work)
    if isinstance(result, tuple):
        message, code = result
        raise fail(f"{message}; nothing was imported", code)
    report = {
        "created": result.created,
        "updated": result.updated,
        "unchanged": result.unchanged,
        "identities_linked": result.identities_linked,
        "failed": [{"line": f.line, "reason": f.reason} for f in result.failed],
    }
    if as_json:
        typer.echo(json.dumps(report))
    else:
        typer.echo(
            f"created {result.created}, updated {result.updated}, unchanged {result.unchanged}, "
            f"accounts linked {result.identities_linked}, failed {len(result.failed)}"
        )
        for failure in result.failed:
            typer.echo(f"  line {failure.line}: {failure.reason}")
    if result.failed:
        raise typer.Exit(1)


@people_cli.command("export")
def export_person(
    email: Annotated[str, typer.Argument(help="the employee's email")],
    config: ConfigOption = None,
) -> None:
    """Print everything stored about one person as one JSON document."""
    from bot.cli_errors import fail

    settings = _settings(config)
    document = _with_app(settings, lambda app: app.privacy.export(email, ACTOR))
    if document is None:
        raise fail(f"no employee has the email {email!r} (`prikbord people import` adds them)", 1)
    typer.echo(json.dumps(document, ensure_ascii=False, indent=2))


@people_cli.command("forget")
def forget_person(
    email: Annotated[str, typer.Argument(help="the employee's email")],
    yes: Annotated[bool, typer.Option("--yes", help="do it without asking")] = False,
    config: ConfigOption = None,
) -> None:
    """Erase a person: accounts, personal fields and reply texts. Their responses stay as anonymous counts."""
    from bot.cli_errors import fail

    settings = _settings(config)
    if not yes and not typer.confirm(f"Erase everything prikbord stores about {email}? This cannot be undone"):
        raise typer.Exit(1)
    forgotten = _with_app(settings, lambda app: app.privacy.forget(email, ACTOR))
    if forgotten is None:
        raise fail(f"no employee has the email {email!r}", 1)
    typer.echo(
        f"forgotten: {forgotten.accounts} accounts unlinked and anonymised, {forgotten.replies_erased} reply "
        "texts erased; their responses stay as anonymous counts"
    )
