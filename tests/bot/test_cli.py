"""The CLI as an operator uses it: `prikbord run < script.txt`, then `prikbord stats ID --json`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "fixtures" / "console" / "script.txt"


def prikbord(args: list[str], cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("prikbord", path=str(Path(sys.executable).parent)) or "prikbord"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRIKBORD_")}
    return subprocess.run([exe, *args], cwd=cwd, input=stdin, capture_output=True, text=True, timeout=120, env=env)


def test_scripted_run_then_stats(tmp_path: Path) -> None:
    run = prikbord(["run"], tmp_path, SCRIPT.read_text())
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "prikbord.db").exists()  # the embedded default
    assert "posting needs the moderator role" in run.stdout  # erik's refusal is shown
    assert "Traceback" not in run.stderr

    first = json.loads(prikbord(["stats", "1", "--json"], tmp_path).stdout)
    assert first["title"] == "Nieuwe verlofregeling" and first["state"] == "published"
    assert first["counts"] == {"ack": 1, "like": 2}
    assert first["deliveries"] == {"sent": 1}
    second = json.loads(prikbord(["stats", "2", "--json"], tmp_path).stdout)
    assert second["counts"] == {"reply": 1, "vote": 1}
    assert second["votes"] == {"Pizza": 0, "Sushi": 1, "Salade": 0}
    listing = json.loads(prikbord(["stats", "--json"], tmp_path).stdout)
    assert [p["id"] for p in listing] == [1, 2]  # erik's post was never stored

    # The README runs the same script on whatever ./prikbord.db holds: on a used one it does the same.
    again = prikbord(["run"], tmp_path, SCRIPT.read_text())
    assert again.returncode == 0, again.stderr
    listing = json.loads(prikbord(["stats", "--json"], tmp_path).stdout)
    assert [p["id"] for p in listing] == [1, 2, 3, 4]
    for earlier, later in ((listing[0], listing[2]), (listing[1], listing[3])):
        assert (later["title"], later["counts"], later["votes"]) == (
            earlier["title"],
            earlier["counts"],
            earlier["votes"],
        )


def test_readme_examples_work_on_a_fresh_and_a_used_database(tmp_path: Path) -> None:
    """The commands of the README's "Try it in the terminal", as a shell runs them, twice in one directory."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    block = readme.split("## Try it in the terminal", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    lines = [line.split("  #", 1)[0].strip() for line in block.strip().splitlines()]
    commands = [line.replace(".venv/bin/", "").replace("tests/fixtures", str(SCRIPT.parents[1])) for line in lines]
    assert commands and all("prikbord" in c for c in commands)
    bin_dir = str(Path(sys.executable).parent)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRIKBORD_")}
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    outputs = []
    for _ in range(2):
        shell = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", "\n".join(commands)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            stdin=subprocess.DEVNULL,
        )
        assert shell.returncode == 0, shell.stderr
        outputs.append(shell.stdout)
    for out in outputs:
        assert '"votes": {\n    "Pizza": 0,\n    "Sushi": 1' in out  # the piped post's own stats
    assert "#1 Nieuwe verlofregeling" in outputs[0]


def test_post_command_then_run_delivers(tmp_path: Path) -> None:
    created = prikbord(
        ["post", "--title", "Open dag", "--body", "Kom je helpen?", "--cta", "rsvp", "--in", "1m", "--json"], tmp_path
    )
    assert created.returncode == 0, created.stderr
    post = json.loads(created.stdout)
    assert post["state"] == "scheduled" and post["votes"] == {"yes": 0, "no": 0, "maybe": 0}
    now = prikbord(["post", "--title", "Poll", "--cta", "poll", "--option", "A", "--option", "B"], tmp_path)
    assert now.stdout.strip() == "2"
    run = prikbord(["run"], tmp_path, "anna: /vote 2 B\n")
    assert run.returncode == 0, run.stderr
    stats = json.loads(prikbord(["stats", "2", "--json"], tmp_path).stdout)
    assert stats["deliveries"] == {"sent": 1} and stats["votes"] == {"A": 0, "B": 1}


def test_a_direct_must_read_from_the_cli_reaches_each_member_privately(tmp_path: Path) -> None:
    """`post --direct` once the console has members: one private copy each, delivered by `run`."""
    assert prikbord(["run"], tmp_path, "anna: /mine\nbram: /mine\n").returncode == 0
    created = prikbord(["post", "--title", "Verlof", "--cta", "acknowledge", "--direct", "--json"], tmp_path)
    assert created.returncode == 0, created.stderr
    post = json.loads(created.stdout)
    assert post["state"] == "published" and post["deliveries"] == {"pending": 2}
    run = prikbord(["run"], tmp_path, "anna: /ack 1\n")
    assert run.returncode == 0, run.stderr
    headers = [line for line in run.stdout.splitlines() if line.startswith("╭─ m")]
    assert [h.split()[3] for h in headers] == ["@anna", "@bram"]  # each in their own chat, not in `console`
    stats = json.loads(prikbord(["stats", "1", "--json"], tmp_path).stdout)
    assert stats["deliveries"] == {"sent": 2} and stats["counts"] == {"ack": 1}
    assert stats["reach"] == {"value": 2, "estimate": False, "known": 2}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["post", "--title", "x", "--cta", "poll", "--option", "A"],
            "a poll needs 2 to 10 options (one --option each)",
        ),
        (["post", "--title", "x", "--cta", "link"], "`--cta link --url https://…`"),
        (["post", "--title", "x", "--cta", "like", "--url", "https://x.example"], "only --cta link takes --url"),
        (["post", "--title", "x", "--cta", "like", "--to", "nobody"], "use --to with one of everyone"),
        (["post", "--title", "x", "--cta", "like", "--option", "A"], "only --cta poll and rsvp take --option"),
        (["post", "--title", "x", "--cta", "like", "--deadline", "tomorrow"], "take --deadline"),
        (["post", "--title", "x", "--cta", "vote"], "--cta 'vote': use one of none, like"),
        (["post", "--title", "x", "--at", "2020-01-01 09:00"], "--at 2020-01-01 09:00 is in the past"),
        (["post", "--title", "x", "--at", "tomorrow 08:30", "--now"], "give one of --at, --in and --now"),
        (["stats", "42"], "there is no post #42"),
        (["post", "--title", "x", "--cta", "like", "--direct"], "give --cta acknowledge, or leave out --direct"),
        (["post", "--title", "x", "--cta", "acknowledge", "--to", "floor=3"], "`--to floor=3` is no audience"),
        (["post", "--title", "x", "--cta", "acknowledge", "--direct"], "so --direct has nobody to send to"),
    ],
)
def test_cli_errors_are_clear(tmp_path: Path, args: list[str], message: str) -> None:
    result = prikbord(args, tmp_path)
    assert result.returncode == 1 and message in result.stderr and "Traceback" not in result.stderr
    assert "cta:" not in result.stderr and "`to:`" not in result.stderr  # the CLI speaks options, not chat syntax


def test_past_at_is_refused_and_nothing_is_stored(tmp_path: Path) -> None:
    refused = prikbord(["post", "--title", "Gisteren", "--cta", "like", "--at", "2020-01-01T09:00"], tmp_path)
    assert refused.returncode == 1 and "--now" in refused.stderr
    assert json.loads(prikbord(["stats", "--json"], tmp_path).stdout) == []
    now = prikbord(["post", "--title", "Nu", "--cta", "like", "--now", "--json"], tmp_path)
    assert now.returncode == 0, now.stderr
    assert json.loads(now.stdout)["state"] == "published"


def test_only_channel_disabled_says_so_and_how_to_enable(tmp_path: Path) -> None:
    config = tmp_path / "prikbord.toml"
    config.write_text("[console]\nenabled = false\n")
    result = prikbord(["post", "--config", str(config), "--title", "x", "--cta", "like"], tmp_path)
    assert result.returncode == 2, result.stderr
    assert "the only channel, console, is disabled" in result.stderr
    assert "[console] enabled = true" in result.stderr and "no channels are configured" not in result.stderr


def test_version_and_help(tmp_path: Path) -> None:
    version = prikbord(["--version"], tmp_path)
    assert version.returncode == 0 and version.stdout.startswith("prikbord ") and version.stdout.split()[1][0].isdigit()
    helped = prikbord(["--help"], tmp_path)
    assert helped.returncode == 0 and "post" in helped.stdout and "stats" in helped.stdout


def test_run_prints_what_started(tmp_path: Path) -> None:
    run = prikbord(["run"], tmp_path, "anna: hallo\n")
    assert run.returncode == 0, run.stderr
    assert "started" in run.stderr and "console: connected" in run.stderr
    assert "channels on console (1): console" in run.stderr
    assert "database: sqlite:///./prikbord.db" in run.stderr and "scheduler: this instance is the leader" in run.stderr
    assert "web: off" in run.stderr


def test_demo_runs_unattended(tmp_path: Path) -> None:
    script = tmp_path / "demo.txt"
    script.write_text("anna: /vote 2 Sushi\nmod: /stats 2\nanna: /agenda\nanna: /search wifi\n")
    result = prikbord(["demo", "--script", str(script)], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "vote for Sushi counted (#2)" in result.stdout
    assert "Sushi 1" in result.stdout
    assert "#4 Personeelsvergadering" in result.stdout and "#5 Wifi voor gasten" in result.stdout
    assert not (tmp_path / "prikbord.db").exists()  # the demo is throwaway


def test_check_describes_the_embedded_default(tmp_path: Path) -> None:
    result = prikbord(["check"], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "adapters: console" in result.stdout and "database: reachable" in result.stdout


def test_two_scripted_sessions_on_one_database_both_count(tmp_path: Path) -> None:
    # The same line numbers in both sessions: a console event id that repeated across sessions would
    # make the second session's acts "already counted" and never stored.
    first = prikbord(["run"], tmp_path, "mod: /post Verlof | Lees | cta: acknowledge\nanna: /ack 1\nanna: /like 1\n")
    assert first.returncode == 0, first.stderr
    second = prikbord(["run"], tmp_path, "mod: /post Lunch | Wat eten we? | cta: like\nbram: /ack 1\nbram: /like 1\n")
    assert second.returncode == 0, second.stderr
    assert "already counted" not in second.stdout
    stats = json.loads(prikbord(["stats", "1", "--json"], tmp_path).stdout)
    assert stats["counts"] == {"ack": 2, "like": 2}


async def test_run_reports_the_telegram_bot_it_connected_as(tmp_path: Path) -> None:
    """`prikbord run` against the loopback Telegram peer: the start-up summary names the bot (from getMe),
    the channels on Telegram and the database without its password, then the service runs on."""
    from tests.faults.prikbord_process import RunningPrikbord, wait_for, write_config
    from tests.peers.telegram import FloodLimits, TelegramPeer

    async with TelegramPeer(flood=FloodLimits.off(), bot_username="kantoor_bot") as peer:
        peer.add_chat(-1001, "supergroup", "Kantoor")
        peer.add_chat(-1002, "supergroup", "Lager")
        config = write_config(tmp_path, peer, [-1001, -1002], f"sqlite:///{tmp_path}/prikbord.db")
        run = await RunningPrikbord(config).start()
        try:
            await wait_for(lambda: "timezone:" in run.stderr_text(), 60, "the start-up summary")
            summary = run.stderr_text()
            assert "telegram: connected — connected as @kantoor_bot" in summary, summary
            assert "channels on telegram (2): groep-0, groep-1" in summary
            assert f"database: sqlite:///{tmp_path}/prikbord.db" in summary and "web: off" in summary
            assert "scheduler: this instance is the leader" in summary
            assert run.alive()
        finally:
            assert await run.stop() == 0


def test_edit_command_stores_the_edit_and_the_next_run_updates_the_copy(tmp_path: Path) -> None:
    posted = prikbord(
        [
            "post",
            "--title",
            "Lunch",
            "--body",
            "Wat eten we?",
            "--cta",
            "poll",
            "--option",
            "Pizza",
            "--option",
            "Sushi",
        ],
        tmp_path,
    )
    assert posted.returncode == 0, posted.stderr
    run = prikbord(["run"], tmp_path, "")
    assert run.returncode == 0, run.stderr

    edited = prikbord(
        ["edit", "1", "--body", "Wat eten we vrijdag?", "--option", "Pizza", "--option", "Salade", "--json"], tmp_path
    )
    assert edited.returncode == 0, edited.stderr
    result = json.loads(edited.stdout)
    assert (result["revision"], result["copies_to_update"], result["votes"]) == (1, 1, {"Pizza": 0, "Salade": 0})
    assert prikbord(["edit", "1", "--body", "Wat eten we vrijdag?"], tmp_path).returncode == 1  # nothing changes

    missing = prikbord(["edit", "9", "--title", "X"], tmp_path)
    assert missing.returncode == 1 and "there is no post #9" in missing.stderr
    nothing = prikbord(["edit", "1"], tmp_path)
    assert nothing.returncode == 1 and "--title, --body or --option" in nothing.stderr

    import sqlite3

    def shown() -> int:
        with sqlite3.connect(tmp_path / "prikbord.db") as db:
            return int(db.execute("select shown_revision from deliveries where post_id = 1").fetchone()[0])

    assert shown() == 0
    again = prikbord(["run"], tmp_path, "")  # the service (a later run here) edits the copy behind
    assert again.returncode == 0, again.stderr
    assert shown() == 1
