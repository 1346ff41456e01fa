"""``prikbord status run NAME --dry-run | --now`` and the status-post config checks."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from bot.cli_status import status_cli
from bot.config import ConfigError, Settings, load_settings

CONFIG = """
timezone = "Europe/Amsterdam"
[database]
url = "sqlite:///{db}"
[console]
enabled = true
[moderation]
moderators = ["console:mod"]

[[status_posts]]
name = "rooster"
cron = "0 8 * * mon-fri"
cta = "acknowledge"
template = "Rooster van vandaag\\nAanwezig: {{{{ present }}}} · {{{{ team }}}}"
[status_posts.sources.present]
type = "csv"
file = "{csv}"
where = {{status = "aanwezig"}}
[status_posts.sources.team]
type = "static"
value = "Team Noord"
"""


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    roster = tmp_path / "rooster.csv"
    roster.write_text("naam,status\nanna,aanwezig\nbram,ziek\ncarla,aanwezig\n", encoding="utf-8")
    path = tmp_path / "prikbord.toml"
    path.write_text(CONFIG.format(db=tmp_path / "p.db", csv=roster), encoding="utf-8")
    return path


def test_dry_run_prints_the_rendered_post_and_sends_nothing(config_file: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(status_cli, ["run", "rooster", "--dry-run", "--config", str(config_file)])
    assert result.exit_code == 0, result.output
    assert "Rooster van vandaag" in result.output and "Aanwezig: 2 · Team Noord" in result.output
    assert "dry run: nothing was stored or sent" in result.output
    assert not (tmp_path / "p.db").exists()


def test_now_posts_it_once(config_file: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(status_cli, ["run", "rooster", "--now", "--config", str(config_file)])
    assert result.exit_code == 0, result.output
    assert "posted as #1" in result.output
    with sqlite3.connect(tmp_path / "p.db") as db:
        rows = db.execute("SELECT kind, title, state, source, cta_kind, audience FROM posts").fetchall()
    assert rows == [("status", "Rooster van vandaag", "published", "status", "acknowledge", json.dumps(["everyone"]))]


def test_unknown_name_and_missing_mode_are_clear(config_file: Path) -> None:
    unknown = CliRunner().invoke(status_cli, ["run", "nope", "--dry-run", "--config", str(config_file)])
    assert unknown.exit_code == 2 and "there is no status post 'nope' (configured: rooster)" in unknown.output
    neither = CliRunner().invoke(status_cli, ["run", "rooster", "--config", str(config_file)])
    assert neither.exit_code == 2 and "choose one of --dry-run" in neither.output


@pytest.mark.parametrize(
    ("status", "message"),
    [
        ({"cron": "61 8 * * *"}, "not a crontab expression"),
        ({"template": "{% if x %}never closed"}, "template syntax error on line 1"),
        ({"timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"sources": {"x": {"type": "csv", "op": "sum", "file": "a.csv"}}}, "op = 'sum' needs column"),
        ({"sources": {"x": {"type": "csv"}}}, "a csv source needs file or url"),
        ({"sources": {"x": {"type": "static"}}}, "a static source needs value"),
        ({"sources": {"x": {"type": "http"}}}, "an http source needs url"),
        ({"sources": {"now": {"type": "static", "value": 1}}}, "must be a template variable name"),
        ({"sources": {"x": {"url": "http://h/", "headers": {"A": "env:"}}}}, "write env:VARIABLE_NAME"),
        ({"on_error": "ignore"}, "on_error"),
        ({"misfire_grace": "soon"}, "use a duration like 24h"),
    ],
)
def test_status_post_config_errors_name_the_problem(status: dict[str, object], message: str) -> None:
    entry: dict[str, object] = {"name": "s", "cron": "0 8 * * *", "template": "Hi"}
    entry.update(status)
    with pytest.raises(ValidationError, match=message):
        Settings(status_posts=[entry])  # type: ignore[list-item]


def test_scheduler_sections_and_durations(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[reminders]\nbefore = "1d12h"\n[scheduler]\nleader_retry = 2\n', encoding="utf-8")
    settings = load_settings(path)
    assert settings.reminders.before.total_seconds() == 36 * 3600 and settings.scheduler.leader_retry == 2
    path.write_text("[scheduler]\nleader_retry = 60\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"scheduler\.leader_retry"):
        load_settings(path)
    dup = {"name": "s", "cron": "0 8 * * *", "template": "Hi"}
    with pytest.raises(ValidationError, match="status post name 's' is used twice"):
        Settings(status_posts=[dup, dup])  # type: ignore[list-item]
