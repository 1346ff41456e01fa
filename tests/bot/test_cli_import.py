"""``prikbord import`` as an operator runs it: a feed on loopback, a JSON-lines file, a broken feed."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from bot.cli_import import import_command
from tests.content.test_importers import BROKEN_RSS, JSONL_LINES, RSS
from tests.feeds import serve_feeds


def _cli() -> typer.Typer:
    # The same registration bot/cli.py gets: `cli.command("import")(import_command)`.
    cli = typer.Typer()

    @cli.callback()
    def main() -> None:
        """prikbord"""

    cli.command("import")(import_command)
    return cli


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    for name in ("PRIKBORD_CONFIG", "PRIKBORD_DATABASE__URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PRIKBORD_DATABASE__URL", f"sqlite:///{tmp_path / 'prikbord.db'}")
    return CliRunner()


def _figures(output: str) -> dict[str, int]:
    """The report's summary lines: label → number."""
    found = re.findall(r"^(imported|archived \(searchable, not sent\)|duplicates skipped|failed) +(\d+)$", output, re.M)
    return {label: int(n) for label, n in found}


def _posts(tmp_path: Path) -> list[tuple[str, str, str | None]]:
    with sqlite3.connect(tmp_path / "prikbord.db") as db:
        return list(db.execute("SELECT title, state, source FROM posts ORDER BY id"))


def test_import_a_feed_twice(runner: CliRunner, tmp_path: Path) -> None:
    with serve_feeds({"/rss": RSS}) as (base, _):
        first = runner.invoke(_cli(), ["import", f"{base}/rss"])
        second = runner.invoke(_cli(), ["import", f"{base}/rss"])
    assert first.exit_code == 1, first.output  # one item had no title: reported, the rest imported
    assert _figures(first.stdout) == {"imported": 2, "duplicates skipped": 0, "failed": 1}
    assert "it has no title" in first.stdout
    assert _figures(second.stdout) == {"imported": 0, "duplicates skipped": 2, "failed": 1}
    assert [t for t, _, _ in _posts(tmp_path)] == ["Nieuwe verlofregeling", "Kantine & koffie"]


def test_import_jsonl_archive_and_kind(runner: CliRunner, tmp_path: Path) -> None:
    export = tmp_path / "intranet.jsonl"
    export.write_text("\n".join(json.dumps(line) for line in JSONL_LINES), encoding="utf-8")
    result = runner.invoke(_cli(), ["import", str(export), "--archive", "--kind", "kb"])
    assert result.exit_code == 0, result.output
    assert _figures(result.stdout) == {"archived (searchable, not sent)": 3, "duplicates skipped": 0, "failed": 0}
    assert {(state, source) for _, state, source in _posts(tmp_path)} == {("published", "archive")}
    again = runner.invoke(_cli(), ["import", str(export), "--archive"])
    assert again.exit_code == 0 and _figures(again.stdout)["duplicates skipped"] == 3


def test_malformed_feed_is_reported_and_nothing_imported(runner: CliRunner, tmp_path: Path) -> None:
    with serve_feeds({"/broken": BROKEN_RSS}) as (base, _):
        result = runner.invoke(_cli(), ["import", f"{base}/broken"])
    assert result.exit_code == 1
    assert "not imported: not well-formed XML" in result.stdout
    assert "nothing was imported" in result.stdout
    assert _posts(tmp_path) == []


def test_bad_kind_and_missing_file(runner: CliRunner, tmp_path: Path) -> None:
    assert runner.invoke(_cli(), ["import", "x.jsonl", "--kind", "blog"]).exit_code == 2
    missing = runner.invoke(_cli(), ["import", str(tmp_path / "nope.jsonl")])
    assert missing.exit_code == 1 and "cannot read" in missing.stdout
