"""What an operator sees when the environment is wrong: one line on stderr naming the file or key and
what to do, exit status 2, never a traceback (issue 17, item 8). Each case runs the real CLI."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

EXE = shutil.which("prikbord", path=str(Path(sys.executable).parent)) or "prikbord"


def prikbord(args: list[str | bytes], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRIKBORD_")}
    return subprocess.run([EXE, *args], cwd=cwd, capture_output=True, text=True, timeout=120, env=env, errors="replace")


def one_line_error(result: subprocess.CompletedProcess[str], *expected: str) -> str:
    """Exit 2, one ``error:`` line on stderr that contains every expected fragment, no traceback."""
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    line = result.stderr.strip()
    assert "Traceback" not in result.stderr and "\n" not in line, result.stderr
    assert line.startswith("error: "), line
    for fragment in expected:
        assert fragment in line, (fragment, line)
    return line


def config(tmp_path: Path, text: str) -> str:
    path = tmp_path / "prikbord.toml"
    path.write_text(text)
    return str(path)


def test_database_directory_missing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/nowhere/prikbord.db"
    result = prikbord(["stats", "--config", config(tmp_path, f'[database]\nurl = "{url}"\n')], tmp_path)
    one_line_error(result, f"{tmp_path}/nowhere", "does not exist", "mkdir -p", "[database] url")


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[None]:
    """The file cannot be written, also by root (who ignores permission bits): chattr +i there."""
    if os.geteuid() != 0:
        path.chmod(0o444)
        try:
            yield
        finally:
            path.chmod(0o644)
        return
    made = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.fail(f"cannot make {path} read-only for root (chattr +i: {made.stderr.strip()})")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def test_read_only_sqlite_file(tmp_path: Path) -> None:
    settings = config(tmp_path, '[database]\nurl = "sqlite:///ro.db"\n')
    assert prikbord(["db", "upgrade", "--config", settings], tmp_path).returncode == 0
    with read_only(tmp_path / "ro.db"):
        result = prikbord(["post", "--config", settings, "--title", "x", "--cta", "like"], tmp_path)
    one_line_error(result, "ro.db is read-only", "writable", "[database] url")


def test_corrupt_sqlite_file(tmp_path: Path) -> None:
    (tmp_path / "prikbord.db").write_bytes(b"this is not a database" * 300)
    result = prikbord(["stats"], tmp_path)
    one_line_error(result, "prikbord.db is not a SQLite database or is damaged", "restore it from a backup")


def test_postgresql_unreachable_on_post(tmp_path: Path) -> None:
    url = "postgresql://prikbord:s3cret-pw@127.0.0.1:1/prikbord"  # nothing listens on port 1
    settings = config(tmp_path, f'[database]\nurl = "{url}"\n')
    line = one_line_error(
        prikbord(["post", "--config", settings, "--title", "x", "--cta", "like"], tmp_path),
        "PostgreSQL is unreachable",
        "127.0.0.1:1",
        "start the server",
    )
    assert "s3cret-pw" not in line  # the password never appears


def test_same_chat_under_two_channel_names(tmp_path: Path) -> None:
    settings = config(
        tmp_path,
        '[[channels]]\nname = "algemeen"\nplatform = "console"\nchat_id = "console"\n'
        '[[channels]]\nname = "nieuws"\nplatform = "console"\nchat_id = "console"\n',
    )
    for command in (["check"], ["run"], ["post", "--title", "x", "--cta", "like"]):
        result = prikbord([*command[:1], "--config", settings, *command[1:]], tmp_path)
        one_line_error(result, "prikbord.toml", "channels:", "'algemeen' and 'nieuws'", "one [[channels]] entry")


def test_huge_reminder_duration(tmp_path: Path) -> None:
    settings = config(tmp_path, "[reminders]\nbefore = 1e400\n")
    one_line_error(prikbord(["check", "--config", settings], tmp_path), "prikbord.toml", "reminders.before", "3650d")


def test_binary_config_file(tmp_path: Path) -> None:
    path = tmp_path / "prikbord.toml"
    path.write_bytes(b"\xff\xfe\x00\x01\x89PNG\r\n\x1a\n" + bytes(range(256)))
    one_line_error(prikbord(["check", "--config", str(path)], tmp_path), "prikbord.toml", "not a UTF-8 text file")


def test_mysql_url(tmp_path: Path) -> None:
    settings = config(tmp_path, '[database]\nurl = "mysql://prikbord:pw@localhost/prikbord"\n')
    one_line_error(prikbord(["stats", "--config", settings], tmp_path), "database.url", "mysql://", "postgresql://")


def test_invalid_utf8_argument(tmp_path: Path) -> None:
    result = prikbord(["post", "--title", b"caf\xe9 \xff"], tmp_path)
    one_line_error(result, "argument 3", "not valid UTF-8")
    assert not (tmp_path / "prikbord.db").exists()  # refused before anything ran
