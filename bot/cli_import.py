"""``prikbord import SOURCE [--kind news|agenda|kb] [--archive]``: move the old intranet's content in.

SOURCE is an RSS 2.0 or Atom feed (a URL or a file) or a JSON-lines export (a file or a URL ending in
``.jsonl``). Prints a report: imported, duplicates skipped, failed with the reason. Exit status 0
when everything was imported or already there, 1 when the source could not be read (nothing was
imported) or some items failed (the rest were), 2 for a broken config.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:  # the rest is imported when the command runs, so `prikbord --help` stays fast
    from rich.console import Console

    from bot.config import Settings
    from bot.services.importing import ImportReport


def import_command(
    source: Annotated[str, typer.Argument(help="feed URL (RSS 2.0/Atom), or a feed or JSON-lines file")],
    kind: Annotated[
        str | None, typer.Option("--kind", help="news|agenda|kb (default: the item's own kind, else news)")
    ] = None,
    archive: Annotated[
        bool, typer.Option("--archive", help="store without publishing: searchable, never sent to a chat")
    ] = False,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="TOML config file (default: PRIKBORD_CONFIG, else built-in)")
    ] = None,
) -> None:
    """Import posts from an RSS/Atom feed or a JSON-lines export; a second import adds nothing."""
    from rich.console import Console
    from rich.markup import escape

    from bot.cli_errors import run_async
    from bot.config import ConfigError, load_settings
    from content.importers import KINDS

    err = Console(stderr=True, highlight=False)
    out = Console(highlight=False)
    if kind is not None and kind not in KINDS:
        err.print(f"[red]error:[/red] --kind must be one of {', '.join(KINDS)}, not {escape(kind)!r}")
        raise typer.Exit(2)
    try:
        settings = load_settings(config)
    except ConfigError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None
    report = run_async(lambda: _import(settings, source, kind, archive, err), settings.database.url)
    _print_report(out, report, archive)
    if not report.ok:
        raise typer.Exit(1)


async def _import(settings: Settings, source: str, kind: str | None, archive: bool, err: Console) -> ImportReport:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from bot.app import App
    from bot.services.importing import import_source
    from content.importers import ParsedSource

    app = App(settings)
    try:
        await app.prepare_store()
        importer = app.importer
        with Progress(
            TextColumn("[bold]importing[/bold]"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            transient=True,
        ) as progress:
            task = progress.add_task("import", total=None)

            def parsed(found: ParsedSource) -> None:
                progress.update(task, total=len(found.items))

            def stored() -> None:
                progress.advance(task)

            return await import_source(
                importer, source, kind=kind, archive=archive, actor="import", on_parsed=parsed, on_item=stored
            )
    finally:
        await app.stop()


def _print_report(out: Console, report: ImportReport, archive: bool) -> None:
    from rich.markup import escape
    from rich.table import Table

    if report.error is not None:
        out.print(f"[red]not imported:[/red] {escape(report.error)}")
        out.print("nothing was imported from this source")
        return
    mode = "archived (searchable, not sent)" if archive else "imported"
    summary = Table.grid(padding=(0, 2))
    summary.add_row(f"[green]{mode}[/green]", str(len(report.imported)))
    summary.add_row("duplicates skipped", str(len(report.duplicates)))
    summary.add_row("[red]failed[/red]" if report.failed else "failed", str(len(report.failed)))
    out.print(f"[bold]{escape(report.source)}[/bold] ({report.format})")
    out.print(summary)
    if report.failed:
        failures = Table("item", "reason", title="failed", title_justify="left")
        for failure in report.failed:
            failures.add_row(escape(failure.where), escape(failure.reason))
        out.print(failures)
