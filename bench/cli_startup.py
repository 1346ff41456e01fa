"""CLI start-up: whole-process wall time and peak RSS of `prikbord --help`, `--version`, `stats` and `post`.

Each command runs as its own process (the installed `prikbord` script, as an operator runs it), `--rounds`
times (default 5); reported is the median and the range. Peak resident memory is the process's own
high-water mark (`VmHWM` of /proc/self/status at exit, in one more run of the same entry point through
`python -c`), because a child's ru_maxrss on Linux starts at its forking parent's size. Baselines,
measured in the same run: a bare `python -c pass` of the same interpreter (what no CLI can start faster
than), and the library floor: importing what a store command cannot do without (SQLAlchemy's asyncio
ORM with aiosqlite, pydantic's BaseModel, Typer with its pydantic coercion), once as is and once with
the CLI's garbage-collector settings (bot/runtime.py `tune_gc_for_command`). `stats` and `post` work on
the embedded default SQLite (./prikbord.db): "used" is one database in a temporary directory, prepared
(migrated, with one post) before the rounds; "fresh" is a new empty directory per round, so the command
creates and migrates the database. One unmeasured run of each command first fills Python's
compiled-module caches. Then, per command, the top of `python -X importtime` shows what its start-up
imports.

Also shown: the median CPU time (user + system, from `wait4`) of each command, less sensitive than the wall
time to other work on a shared machine, and the load average while it ran.

Goal (issue 18): `--help` ≤ 0.3 s, `stats` and `post` ≤ 0.5 s. Checked: every run exits 0 and prints
what it should (the help lists the commands, `stats --json` parses, `post` prints a new id).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from _common import conclude, median, print_table

GOALS = {"--help": 0.3, "stats": 0.5, "post": 0.5, "stats (fresh)": 0.5, "post (fresh)": 0.5}
LIBRARY_FLOOR = (
    "import sqlalchemy.ext.asyncio, sqlalchemy.orm, sqlalchemy.dialects.sqlite.aiosqlite, typer.main, typer._adapters\n"
    "from pydantic import BaseModel"
)
# What bot/runtime.py's tune_gc_for_command does, before the same imports.
CLI_GC = "import atexit, gc\ngc.set_threshold(50_000, *gc.get_threshold()[1:])\natexit.register(gc.freeze)\n"
EXE = shutil.which("prikbord", path=str(Path(sys.executable).parent)) or "prikbord"


@dataclass(frozen=True)
class Command:
    name: str
    args: list[str]
    ok: Callable[[str], bool]  # stdout → did it do its job
    fresh: bool = False  # each run in a new empty directory: the command creates and migrates ./prikbord.db


def _json_list(out: str) -> bool:
    try:
        return isinstance(json.loads(out), list)
    except ValueError:
        return False


COMMANDS = [
    Command("--help", ["--help"], lambda out: "post" in out and "stats" in out),
    Command("--version", ["--version"], lambda out: out.startswith("prikbord ")),
    Command("stats", ["stats", "--json"], _json_list),
    Command("post", ["post", "--title", "Bench", "--cta", "like"], lambda out: out.strip().isdigit()),
    Command("stats (fresh)", ["stats", "--json"], lambda out: _json_list(out) and json.loads(out) == [], fresh=True),
    Command("post (fresh)", ["post", "--title", "Bench", "--cta", "like"], lambda out: out.strip() == "1", fresh=True),
]
IMPORT_TOPS = ("--help", "stats", "post", "post (fresh)")


def _env() -> dict[str, str]:
    """The environment of the measured processes: no PRIKBORD_ settings, and Python allowed to cache
    compiled modules (``__pycache__``) as on an operator's machine, even where the calling environment
    sets PYTHONDONTWRITEBYTECODE (every run would then compile the project's modules again)."""
    drop = ("PYTHONDONTWRITEBYTECODE",)
    return {k: v for k, v in os.environ.items() if not k.startswith("PRIKBORD_") and k not in drop}


def timed(argv: Sequence[str], cwd: Path) -> tuple[float, float, int, str]:
    """→ (wall seconds, CPU seconds (user + system), exit status, stdout) of one whole process."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    out = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if proc.stdout:
        proc.stdout.close()
    proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_utime + usage.ru_stime, proc.returncode, out


_PEAK = (
    "import atexit, sys\n"
    "def peak():\n"
    "    for line in open('/proc/self/status'):\n"
    "        if line.startswith('VmHWM:'):\n"
    "            sys.stderr.write('PEAK ' + line.split()[1] + '\\n')\n"
    "atexit.register(peak)\n"
)


def peak_rss_kib(code: str, cwd: Path) -> int:
    """The high-water resident set of one process running ``code`` (after the atexit hook)."""
    result = subprocess.run([sys.executable, "-c", _PEAK + code], cwd=cwd, env=_env(), capture_output=True, text=True)
    peaks = [int(line.split()[1]) for line in result.stderr.splitlines() if line.startswith("PEAK ")]
    return peaks[-1] if peaks else 0


def cli_code(args: Sequence[str]) -> str:
    return f"import sys\nsys.argv = ['prikbord', *{list(args)!r}]\nfrom bot.cli import main\nmain()\n"


def import_top(args: Sequence[str], cwd: Path, shown: int) -> list[tuple[int, int, str]]:
    """The imports that cost most (cumulative µs, self µs, module), top-level ones only."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", cli_code(args)], cwd=cwd, env=_env(), capture_output=True, text=True
    )
    rows: list[tuple[int, int, str]] = []
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line or "self [us]" in line:
            continue
        own, cumulative, name = line.removeprefix("import time:").split("|", 2)
        if name.startswith(" ") and not name.startswith("  "):  # imported by the process itself, not nested
            rows.append((int(cumulative), int(own), name.strip()))
    return sorted(rows, reverse=True)[:shown]


def _floor_row(label: str, code: str, rounds: int, cwd: Path) -> tuple[list[object], float]:
    runs = [timed([sys.executable, "-c", code], cwd) for _ in range(rounds)]
    walls = [r[0] for r in runs]
    row: list[object] = [label, median(walls), min(walls), max(walls), median([r[1] for r in runs])]
    return [*row, peak_rss_kib(code, cwd) / 1024, "", ""], median(walls)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=5, help="runs of each command (default %(default)s)")
    parser.add_argument("--top", type=int, default=10, help="rows of -X importtime per command (default %(default)s)")
    parser.add_argument("--enforce-goal", action="store_true", help="exit 3 when a goal is missed")
    args = parser.parse_args()

    failures: list[str] = []
    commands: dict[str, dict[str, object]] = {}
    figures: dict[str, object] = {"bench": "cli_startup", "rounds": args.rounds, "commands": commands}
    loads: list[float] = []
    with tempfile.TemporaryDirectory(prefix="prikbord-bench-cli-") as tmp:
        cwd = Path(tmp) / "used"
        cwd.mkdir()

        def where(command: Command) -> Path:
            return Path(tempfile.mkdtemp(prefix="fresh-", dir=tmp)) if command.fresh else cwd

        prepared = subprocess.run(
            [EXE, "post", "--title", "Prepared", "--cta", "like"], cwd=cwd, env=_env(), stdout=subprocess.DEVNULL
        )
        if prepared.returncode != 0:
            failures.append("preparing the database (prikbord post) failed")
        for command in COMMANDS:  # a first run of each writes the compiled-module caches; not measured
            timed([EXE, *command.args], where(command))
        loads.append(os.getloadavg()[0])
        base_row, base_s = _floor_row("python -c pass (baseline)", "pass", args.rounds, cwd)
        floor_row, floor_s = _floor_row(
            "import SQLAlchemy asyncio ORM + aiosqlite, pydantic, Typer (library floor)",
            LIBRARY_FLOOR,
            args.rounds,
            cwd,
        )
        gc_row, gc_floor_s = _floor_row(
            "the same with the CLI's GC settings (floor of a command)", CLI_GC + LIBRARY_FLOOR, args.rounds, cwd
        )
        rows: list[list[object]] = [base_row, floor_row, gc_row]
        goals_met = True
        for command in COMMANDS:
            runs: list[float] = []
            cpu: list[float] = []
            for round_no in range(1, args.rounds + 1):
                seconds, cpu_s, status, out = timed([EXE, *command.args], where(command))
                if status != 0 or not command.ok(out):
                    failures.append(f"{command.name} round {round_no}: exit {status}, output {out[:80]!r}")
                runs.append(seconds)
                cpu.append(cpu_s)
            loads.append(os.getloadavg()[0])
            med = median(runs)
            peak_mb = peak_rss_kib(cli_code(command.args), where(command)) / 1024
            goal = GOALS.get(command.name)
            met = goal is None or med <= goal
            goals_met = goals_met and met
            shown = f"prikbord {' '.join(command.args[:2])}" + (" (fresh database)" if command.fresh else "")
            verdict = ("met" if met else "NOT met") if goal else ""
            rows.append(
                [shown, med, min(runs), max(runs), median(cpu), peak_mb, f"≤ {goal} s" if goal else "", verdict]
            )
            commands[command.name] = {
                "median_s": round(med, 3),
                "rounds_s": [round(r, 3) for r in runs],
                "cpu_median_s": round(median(cpu), 3),
                "peak_rss_mb": round(peak_mb, 1),
                "goal_s": goal,
            }
        figures["baseline_median_s"] = round(base_s, 3)
        figures["library_floor_median_s"] = round(floor_s, 3)
        figures["library_floor_with_cli_gc_median_s"] = round(gc_floor_s, 3)
        figures["load_average_1m"] = [round(load, 2) for load in loads]
        figures["goal_met"] = goals_met
        print_table(["command", "median s", "min s", "max s", "CPU s (median)", "peak RSS MB", "goal", ""], rows)
        print(
            f"(load average over the last minute, before the baselines and after each command: "
            f"{', '.join(f'{load:.2f}' for load in loads)} on {os.cpu_count()} cores)"
        )
        for command in COMMANDS:
            if command.name not in IMPORT_TOPS or args.top <= 0:
                continue
            print(
                f"\npython -X importtime, prikbord {' '.join(command.args)}"
                f"{' (fresh database)' if command.fresh else ''}: top-level imports by cumulative time"
            )
            print_table(
                ["cumulative ms", "self ms", "module"],
                [[c / 1000, s / 1000, name] for c, s, name in import_top(command.args, where(command), args.top)],
            )
    goals = "--help ≤ 0.3 s, stats and post ≤ 0.5 s on a used and a fresh database, median"
    print(f"\ngoals ({goals}): {'met' if goals_met else 'NOT met'}")
    return conclude(
        figures,
        failures,
        "every run exited 0 and printed what it should",
        goal_met=goals_met,
        enforce_goal=args.enforce_goal,
    )


if __name__ == "__main__":
    sys.exit(main())
