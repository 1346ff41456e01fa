"""Each CLI command imports only what it uses (issue 18): the start-up time of `prikbord --help`, `stats`
and `post` is measured by bench/cli_startup.py; this checks the cause, which noisy timings cannot."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# Never needed to store a post or read the stats: the messengers' SDKs and their HTTP stacks, the web
# server, the scheduler, migrations on a migrated store, templates, feed parsing, single sign-on.
NOT_FOR_STORE_COMMANDS = frozenset(
    {
        "telegram",
        "slack_bolt",
        "slack_sdk",
        "nio",
        "aiohttp",
        "fastapi",
        "starlette",
        "uvicorn",
        "apscheduler",
        "alembic",
        "jinja2",
        "feedparser",
        "bs4",
        "markdownify",
        "httpx",
        "authlib",
        "joserfc",
        "pydantic_settings",  # the config reads its environment overrides itself (bot/config.py)
        "dotenv",
        "prometheus_client",  # made on the first send, refusal or scrape (bot/web/metrics.py)
    }
)
# `stats` only reads: nothing of the messengers' rendering (Markdown, the console's Rich), metrics or migrations.
NOT_FOR_STATS = NOT_FOR_STORE_COMMANDS | {"adapters", "markdown_it", "rich", "prometheus_client", "scheduler"}
# --help needs Typer and nothing of the store, the config or the console's rendering.
NOT_FOR_HELP = NOT_FOR_STORE_COMMANDS | {"sqlalchemy", "pydantic", "pydantic_settings", "rich", "content", "adapters"}

_RUN = """
import json, sys
sys.argv = ["prikbord", *json.loads(sys.argv[1])]
from bot.cli import main
try:
    main()
except SystemExit as exit:
    code = exit.code
else:
    code = 0
sys.stderr.write("\\nMODULES " + json.dumps(sorted({m.split(".")[0] for m in sys.modules})) + " EXIT " + str(code))
"""


def loaded_packages(args: list[str], cwd: Path) -> tuple[set[str], str]:
    """The top-level packages a whole `prikbord ARGS` process imported, and its exit status."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRIKBORD_")}
    result = subprocess.run(
        [sys.executable, "-c", _RUN, json.dumps(args)], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )
    report = result.stderr.rsplit("\nMODULES ", 1)
    assert len(report) == 2, result.stderr[-2000:]
    modules, status = report[1].rsplit(" EXIT ", 1)
    return set(json.loads(modules)), status


@pytest.fixture
def used_database(tmp_path: Path) -> Path:
    """A folder whose ./prikbord.db is migrated and holds a post, as after the README's first command."""
    _, status = loaded_packages(["post", "--title", "First", "--cta", "like"], tmp_path)
    assert status == "0"
    return tmp_path


def test_help_imports_neither_the_store_nor_the_config(tmp_path: Path) -> None:
    packages, status = loaded_packages(["--help"], tmp_path)
    assert status == "0"
    assert "typer" in packages  # the check sees what was imported
    assert packages.isdisjoint(NOT_FOR_HELP), sorted(packages & NOT_FOR_HELP)


@pytest.mark.parametrize(
    "args",
    [
        ["stats", "--json"],
        ["post", "--title", "Second", "--body", "b", "--cta", "like"],
        ["edit", "1", "--title", "First, edited"],
    ],
    ids=["stats", "post", "edit"],
)
def test_store_commands_import_no_sdk_web_or_scheduler(used_database: Path, args: list[str]) -> None:
    packages, status = loaded_packages(args, used_database)
    assert status == "0"
    assert {"sqlalchemy", "bot", "content"} <= packages
    assert packages.isdisjoint(NOT_FOR_STORE_COMMANDS), sorted(packages & NOT_FOR_STORE_COMMANDS)


def test_stats_imports_no_rendering_metrics_or_scheduler(used_database: Path) -> None:
    packages, status = loaded_packages(["stats"], used_database)
    assert status == "0"
    assert "sqlalchemy" in packages
    assert packages.isdisjoint(NOT_FOR_STATS), sorted(packages & NOT_FOR_STATS)


def test_the_first_post_on_a_new_database_migrates_it(tmp_path: Path) -> None:
    """On a new database Alembic does run: the fast path is only for a store already at head."""
    packages, status = loaded_packages(["post", "--title", "First", "--cta", "like"], tmp_path)
    assert status == "0"
    assert "alembic" in packages
    assert (tmp_path / "prikbord.db").exists()


_GC_AT_EXIT = """
import atexit, gc, sys
# Registered before the command's own hook, so it runs after it (atexit runs last-in, first-out).
atexit.register(lambda: sys.stderr.write(f"\\nGC {gc.get_threshold()[0]} FROZEN {gc.get_freeze_count()}"))
sys.argv = ["prikbord", "--version"]
from bot.cli import main
main()
"""


def test_a_command_collects_rarely_and_leaves_its_heap_to_the_exit(tmp_path: Path) -> None:
    """A command's start-up objects live until it exits: no collection walks them at exit (bench/cli_startup.py)."""
    command = [sys.executable, "-c", _GC_AT_EXIT]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    threshold, frozen = result.stderr.rsplit("\nGC ", 1)[1].split(" FROZEN ")
    assert int(threshold) >= 10_000
    assert int(frozen) > 0


def test_stats_before_any_database_creates_none(tmp_path: Path) -> None:
    """A read on a SQLite file that does not exist yet: no posts, and no empty database left behind."""
    packages, status = loaded_packages(["stats", "--json"], tmp_path)
    assert status == "0"
    assert "alembic" not in packages and "sqlalchemy" not in packages
    assert not (tmp_path / "prikbord.db").exists()
    _, missing = loaded_packages(["stats", "3"], tmp_path)
    assert missing == "1"  # "there is no post #3"
    assert not (tmp_path / "prikbord.db").exists()
    _, posted = loaded_packages(["post", "--title", "First", "--cta", "like"], tmp_path)
    assert posted == "0"
    stats, status = loaded_packages(["stats", "1"], tmp_path)
    assert status == "0" and "sqlalchemy" in stats
