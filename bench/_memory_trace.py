"""Where the memory of a ``prikbord run`` goes, for ``bench/memory.py --tracemalloc``.

- The CLI run under ``python -X tracemalloc=25`` with a SIGUSR1 handler that writes a snapshot, so the
  benchmark takes one when the instance is settled and one after the operator's pages.
- A report of those snapshots: the idle allocations by package (code an import loads counted to the
  package whose import statement ran it) and by line, and what the pages left allocated.
- The calls ``GET /api/posts?limit=100`` makes, one by one in the benchmark's own process on the same
  store, each with the peak of traced Python memory during it and what it left allocated.
"""

from __future__ import annotations

import sys
import sysconfig
import tracemalloc
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from content.db import create_store

REPO = Path(__file__).resolve().parents[1]
STDLIB = sysconfig.get_paths()["stdlib"]
# The CLI with a SIGUSR1 handler that writes the next snapshot, <dir>/snapshot-<n>.bin (argv: the directory,
# the config). Written under another name and renamed, so a snapshot that exists is complete.
TRACED = """
import itertools, pathlib, signal, sys, tracemalloc
out, numbers = pathlib.Path(sys.argv[1]), itertools.count(1)
def dump(*_):
    path = out / f"snapshot-{next(numbers)}.bin"
    tracemalloc.take_snapshot().dump(str(path) + ".part")
    pathlib.Path(str(path) + ".part").rename(path)
signal.signal(signal.SIGUSR1, dump)
sys.argv = ["prikbord", "run", "--config", sys.argv[2]]
from bot.cli import main
sys.exit(main())
"""


def traced_argv(directory: Path, config: Path) -> list[str]:
    """The command line of ``prikbord run --config`` traced, its snapshots written to ``directory``."""
    return [sys.executable, "-X", "tracemalloc=25", "-c", TRACED, str(directory), str(config)]


def package_of(filename: str) -> str:
    """Where an allocation's code lives: an installed package, a module of this repo, or the standard library."""
    parts = Path(filename).parts
    if "site-packages" in parts:
        return parts[parts.index("site-packages") + 1].removesuffix(".py")
    if filename.startswith(str(REPO)):
        return "/".join(Path(filename).relative_to(REPO).parts[:2])
    if filename.startswith(STDLIB):
        return f"stdlib {Path(filename).relative_to(STDLIB).parts[0].removesuffix('.py')}"
    return filename


def owner(traceback: tracemalloc.Traceback) -> str:
    """The package of the newest frame outside importlib's frozen modules (for code loaded by an import:
    the package whose import statement ran it)."""
    for frame in reversed(list(traceback)):
        if not frame.filename.startswith("<frozen"):
            return package_of(frame.filename)
    return "<frozen importlib>"


def traced_total(snapshot: tracemalloc.Snapshot) -> int:
    return sum(stat.size for stat in snapshot.statistics("filename"))


def snapshot_report(idle: tracemalloc.Snapshot, pages: tracemalloc.Snapshot, top: int) -> list[str]:
    """The ``top`` idle allocations by package and by line, and what the pages left allocated."""
    lines = ["idle, by package (what an import loads counted to the package whose import statement ran it):"]
    packages: dict[str, list[int]] = {}
    for stat in idle.statistics("traceback"):
        found = packages.setdefault(owner(stat.traceback), [0, 0])
        found[0], found[1] = found[0] + stat.size, found[1] + stat.count
    for name, (size, count) in sorted(packages.items(), key=lambda kv: -kv[1][0])[:top]:
        lines.append(f"  {size / 2**20:7.1f} MiB {count:9,} blocks  {name}")
    lines.append("idle, by line:")
    for stat in idle.statistics("lineno")[:top]:
        frame = stat.traceback[0]
        lines.append(f"  {stat.size / 2**20:7.1f} MiB {stat.count:9,} blocks  {frame.filename}:{frame.lineno}")
    lines.append("left allocated by the pages (after − idle), by line:")
    for diff in pages.compare_to(idle, "lineno")[:top]:
        frame = diff.traceback[0]
        lines.append(
            f"  {diff.size_diff / 2**20:+7.1f} MiB {diff.count_diff:+9,} blocks  {frame.filename}:{frame.lineno}"
        )
    return lines


def load_snapshots(directory: Path) -> tuple[tracemalloc.Snapshot, tracemalloc.Snapshot]:
    """The snapshots taken when settled and after the pages."""
    idle = tracemalloc.Snapshot.load(str(directory / "snapshot-1.bin"))
    return idle, tracemalloc.Snapshot.load(str(directory / "snapshot-2.bin"))


async def listing_peaks(url: str) -> list[str]:
    """What ``GET /api/posts?limit=100`` computes, call by call, in this process on the same store: the peak
    of traced Python memory during each call, and what is still allocated when it returned (its answer,
    and whatever it cached). Each call is made once untraced first: compiled statements and the
    connection are warm."""
    from bot.services.stats import post_stats
    from bot.web.insights import insights_for
    from content import analytics, audience, posts
    from content.responses import counts_for

    store = create_store(url)
    lines = ["GET /api/posts?limit=100, its parts in this process (traced Python memory, MiB):"]
    try:
        async with store.sessions() as session:
            found = await posts.list_posts(session, limit=100)
            ids = [p.id for p in found]
            calls: dict[str, Callable[[], Awaitable[Any]]] = {
                "counts_for": lambda: counts_for(session, ids),
                "posts.delivery_states": lambda: posts.delivery_states(session, ids),
                "audience.reach_of": lambda: audience.reach_of(session, ids),
                "audience.reach_by_platform": lambda: audience.reach_by_platform(session, ids),
                "analytics.channels_reached": lambda: analytics.channels_reached(session, ids),
                "audience.reach_figures": lambda: audience.reach_figures(session, ids),
                "analytics.engagement_by_platform": lambda: analytics.engagement_by_platform(session, ids),
                "post_stats (counts, states, reach)": lambda: post_stats(session, found),
                "insights_for (channels reached, engagement, reach)": lambda: insights_for(session, found),
            }
            for name, call in calls.items():
                await call()
                tracemalloc.start()
                try:
                    before = tracemalloc.get_traced_memory()[0]
                    tracemalloc.reset_peak()
                    answer = await call()
                    held, peak = tracemalloc.get_traced_memory()
                    del answer
                finally:
                    tracemalloc.stop()
                lines.append(f"  peak {(peak - before) / 2**20:7.1f}  held {(held - before) / 2**20:6.1f}  {name}")
    finally:
        await store.close()
    return lines
