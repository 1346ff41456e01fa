"""Resident memory of one ``prikbord run`` with 1,000 channels, 10,000 people and 100 posts (#16).

- **Work:** per measurement a fresh store (a new SQLite file, or a new PostgreSQL database), migrated with
  ``content.migrate.upgrade`` and seeded with bulk SQLAlchemy Core inserts before the instance starts:
  ``--channels`` (1,000) Telegram groups (the same rows ``prepare_store`` makes from the config's
  ``[[channels]]``), ``--people`` (10,000) employees with one Telegram identity each, every person a
  member of 1–5 groups, ``--posts`` (100) published posts (must-reads, likes, polls, RSVPs, plain news)
  with one ``sent`` delivery per group (100 × 1,000 = 100,000), and responses from ``--responded``
  (3 %) of the people per post. Then a real ``prikbord run --config FILE`` child process: Telegram in
  webhook mode against the loopback Bot API peer (``tests/peers/telegram.py``, one chat per group), the
  web port on, so the web app, dispatcher, scheduler and audience refresh all run.
- **Measured:** VmRSS and VmHWM from ``/proc/PID/status`` of that child (its own PID), once it is *settled*:
  its start-up report printed, every group's member count read by the audience refresh, and VmRSS within
  1 MiB over 3 samples 1 s apart. Then the pages an operator opens (``/healthz``, ``GET /api/posts``,
  ``/api/posts/1``, ``/api/posts/1/audience`` with the admin token; the dashboard's ``/`` and ``/posts/1``
  after signing in) and the same again once settled. MiB (1,024 kB), the median of ``--rounds`` (3).
- **Shapes:** the full one; the same at a quarter and a half (250 groups / 2,500 people, 500 / 5,000); the
  1,000 groups with nobody (the posts still delivered to every group); and the **baseline**, measured in the
  same run on the same backend: 1 group, no people, no posts. Growth per 1,000 people = (full − no people)
  ÷ 10 (same groups and posts); per 100 groups: the four shapes with posts, less their people's part, fitted
  to a line over the number of groups (each group brings its 100 deliveries); the line at 0 groups is the
  fixed part with the posts, beside the baseline.
- **Goal:** the full shape's peak (VmHWM after the pages) ≤ 200 MiB on every backend run.
- **Verified (exit 1 otherwise):** ``/healthz`` and every API call and page answered 200 (``/healthz`` with
  status ok, the API listing the posts), the instance exited 0 on SIGTERM and logged no traceback.
- ``--tracemalloc`` (where the memory goes): after the measurements, the full shape once more under
  ``python -X tracemalloc=25`` around the CLI, snapshots (SIGUSR1) when settled and after the pages: the
  traced total beside VmRSS, the idle allocations by package and by line, and what the pages left
  allocated. Then, in this process on that store, each call ``GET /api/posts?limit=100`` makes, with the
  peak of traced memory during it and what it left allocated (``bench/_memory_trace.py``).

    .venv/bin/python bench/memory.py [--rounds 3] [--postgres-url URL] [--sqlite-only] [--tracemalloc]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from _common import Backend, add_common_args, backends_from, conclude, median, print_table, quiet_logging
from _memory_store import Shape, database, group_chat, rows_of, seed, synced_channels
from _memory_trace import listing_peaks, load_snapshots, snapshot_report, traced_argv, traced_total

from content.db import create_store

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: tests is not installed
from tests.faults.prikbord_process import PRIKBORD, clean_env, free_port, write_config
from tests.peers.telegram import TelegramPeer

# The bound is 200 MB: read as SI megabytes (10⁶ bytes), the stricter reading, 190.7 MiB.
GOAL_MB = 200.0
GOAL_MIB = GOAL_MB * 1e6 / 2**20
TOKEN = "fault-suite-admin-token"  # what tests/faults/prikbord_process.write_config configures
STARTED = re.compile(r"^prikbord \S+ started$", re.M)


def shapes_of(args: argparse.Namespace) -> list[Shape]:
    c, p, n = args.channels, args.people, args.posts
    return [
        Shape("baseline", 1, 0, 0),
        Shape("quarter", c // 4, p // 4, n),
        Shape("half", c // 2, p // 2, n),
        Shape("no people", c, 0, n),
        Shape("full", c, p, n),
    ]


# ---------------------------------------------------------------------------------------------
# The process and its memory


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS, VmHWM, RssAnon (the heap) and RssFile (mapped files: the interpreter, shared libraries) in kB
    of a process, from /proc/PID/status."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
            found[key] = int(value.split()[0])
    return found


@dataclass
class Child:
    """``prikbord run --config FILE`` (or the traced CLI) as a child process, output to ``run.log``."""

    process: asyncio.subprocess.Process
    log: Path

    @classmethod
    async def start(cls, argv: Sequence[str], config: Path) -> Child:
        log = config.parent / "run.log"
        with log.open("wb") as sink:
            process = await asyncio.create_subprocess_exec(
                *argv,
                cwd=config.parent,
                env=clean_env(PRIKBORD_LOG_LEVEL="warning"),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=sink,
                stderr=sink,
            )
        return cls(process, log)

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def alive(self) -> None:
        if self.process.returncode is not None:
            raise AssertionError(f"prikbord run exited {self.process.returncode}:\n{self.output()[-3000:]}")

    async def stop(self, timeout: float = 30.0) -> int:
        if self.process.returncode is not None:
            return self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(self.process.wait(), timeout)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
            raise AssertionError(f"prikbord run did not stop within {timeout}s of SIGTERM") from None


async def settle(child: Child, timeout: float) -> tuple[dict[str, int], bool]:
    """Sample every second until VmRSS moved ≤ 1 MiB over 3 samples → (the last sample, whether it settled)."""
    samples: list[dict[str, int]] = []
    deadline = time.monotonic() + timeout
    while True:
        child.alive()
        samples.append(memory_kib(child.process.pid))
        last = [s["VmRSS"] for s in samples[-3:]]
        if len(last) == 3 and max(last) - min(last) <= 1024:
            return samples[-1], True
        if time.monotonic() > deadline:
            return samples[-1], False
        await asyncio.sleep(1.0)


async def until(child: Child, check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        child.alive()
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}:\n{child.output()[-3000:]}")
        await asyncio.sleep(0.2)


async def operator_pages(
    port: int, pid: int, shape: Shape, failures: list[str], timeout: float = 120.0
) -> list[tuple[str, dict[str, int]]]:
    """What an operator opens: health, the API's post list, one post and its audience, the dashboard
    → per request, the child's memory right after its answer."""
    after: list[tuple[str, dict[str, int]]] = []
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=timeout) as client:

        async def get(path: str, **kw: Any) -> httpx.Response:
            began = time.perf_counter()
            answer = await client.get(path, **kw)
            took_ms = round(1000 * (time.perf_counter() - began))  # beside the kB: how long the answer took
            after.append((f"GET {path}", memory_kib(pid) | {"answer_ms": took_ms}))
            if answer.status_code != 200:
                failures.append(f"GET {path} answered {answer.status_code}: {answer.text[:300]}")
            return answer

        health = await get("/healthz")
        if health.status_code == 200 and health.json().get("status") != "ok":
            failures.append(f"/healthz: {health.text[:300]}")
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        listed = await get("/api/posts?limit=100", headers=bearer)
        if listed.status_code == 200 and len(listed.json()) != min(100, shape.posts):
            failures.append(f"GET /api/posts listed {len(listed.json())} posts, not {min(100, shape.posts)}")
        for path in ["/api/posts/1", "/api/posts/1/audience"] if shape.posts else []:
            await get(path, headers=bearer)
        form = await get("/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
        signed = await client.post("/login", data={"csrf": csrf.group(1) if csrf else "", "token": TOKEN})
        if signed.status_code != 303 or signed.headers.get("location") != "/":
            failures.append(f"signing in answered {signed.status_code}: {signed.text[:300]}")
        for path in ["/"] + (["/posts/1"] if shape.posts else []):
            await get(path)
    return after


@dataclass
class Measured:
    started_s: float = float("nan")  # from the child's start to its start-up report
    idle: dict[str, int] = field(default_factory=dict)  # kB, settled after start
    pages: dict[str, int] = field(default_factory=dict)  # kB, settled after the pages
    settled: bool = True
    by_request: list[tuple[str, dict[str, int]]] = field(default_factory=list)  # kB right after each answer


async def measure(
    backend: Backend,
    shape: Shape,
    args: argparse.Namespace,
    failures: list[str],
    trace: Path | None = None,
    then: Callable[[str], Awaitable[None]] | None = None,
) -> Measured:
    """One shape: seed, start, settle, measure, the pages, measure, stop; ``then(url)`` after the stop,
    while the store still exists."""
    rows = rows_of(shape, random.Random(args.seed), args.responded)
    others = {c["id"]: 0 for c in rows["channels"]}
    for m in rows["memberships"]:
        others[m["channel_id"]] += 1
    measured = Measured()
    async with TelegramPeer() as peer:
        for c, n in others.items():
            peer.add_chat(group_chat(c - 1), "supergroup", f"Vestiging {c - 1}", others=n)
        with tempfile.TemporaryDirectory(prefix="prikbord-memory-", dir=args.sqlite_dir) as tmp:
            async with database(backend, Path(tmp)) as url:
                port = free_port()
                chats = [group_chat(i) for i in range(shape.channels)]
                config = write_config(Path(tmp), peer, chats, url, mode="webhook", web_port=port)
                await seed(url, rows)
                del rows
                argv = [PRIKBORD, "run", "--config", str(config)]
                if trace is not None:
                    argv = traced_argv(trace, config)
                began = time.monotonic()
                child = await Child.start(argv, config)
                store = create_store(url)
                try:

                    async def reported() -> bool:
                        return STARTED.search(child.output()) is not None

                    async def refreshed() -> bool:
                        return await synced_channels(store) == shape.channels

                    await until(child, reported, 180, "the start-up report")
                    measured.started_s = time.monotonic() - began
                    await until(child, refreshed, 300, "the audience refresh of every group")
                    measured.idle, settled = await settle(child, args.settle_timeout)
                    if trace is not None:
                        await snapshot(child, trace / "snapshot-1.bin")
                    # Traced, every allocation records 25 frames: the pages take minutes on 2 cores.
                    wait = 120.0 if trace is None else 1800.0
                    measured.by_request = await operator_pages(port, child.process.pid, shape, failures, wait)
                    measured.pages, settled_after = await settle(child, args.settle_timeout)
                    measured.settled = settled and settled_after
                    if trace is not None:
                        await snapshot(child, trace / "snapshot-2.bin")
                finally:
                    status = await child.stop()
                    await store.close()
                log = child.output()
                if status != 0:
                    failures.append(f"prikbord run exited {status} on SIGTERM:\n{log[-2000:]}")
                if "Traceback" in log:
                    at = log.find("Traceback")
                    failures.append(f"prikbord run logged a traceback:\n{log[max(0, at - 500) : at + 2500]}")
                if then is not None:
                    await then(url)
        if peer.unknown_params:
            failures.append(f"requests outside the Bot API contract: {sorted(set(peer.unknown_params))[:5]}")
    return measured


def _exists(path: Path) -> bool:
    return path.exists()


async def snapshot(child: Child, path: Path) -> None:
    """The traced child's next tracemalloc snapshot (SIGUSR1), once written."""
    child.process.send_signal(signal.SIGUSR1)

    async def written() -> bool:
        return _exists(path)

    await until(child, written, 120, f"the tracemalloc snapshot {path.name}")


def mib(kib: float) -> float:
    return round(kib / 1024, 1)


def mb(mib_: float) -> float:
    return round(mib_ * 2**20 / 1e6, 1)


# ---------------------------------------------------------------------------------------------
# The report


def summary(runs: Sequence[Measured]) -> dict[str, float]:
    return {
        "rss_idle_mib": mib(median([r.idle["VmRSS"] for r in runs])),
        "hwm_idle_mib": mib(median([r.idle["VmHWM"] for r in runs])),
        "rss_pages_mib": mib(median([r.pages["VmRSS"] for r in runs])),
        "anon_pages_mib": mib(median([r.pages["RssAnon"] for r in runs])),
        "file_pages_mib": mib(median([r.pages["RssFile"] for r in runs])),
        "hwm_pages_mib": mib(median([r.pages["VmHWM"] for r in runs])),
        "started_s": round(median([r.started_s for r in runs]), 1),
    }


FIGURES = {"rss_idle_mib": "RSS idle", "rss_pages_mib": "RSS after the pages", "hwm_pages_mib": "peak (VmHWM)"}


def growth(shapes: Sequence[Shape], by_shape: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """Per figure: MiB per 1,000 people (full − no people, same groups and posts) and per 100 groups (the
    shapes with posts, the people's part taken off, fitted to a line), and that line at 0 groups."""
    full, nobody = by_shape["full"], by_shape["no people"]
    people = {s.name: s.people for s in shapes}["full"]
    scaled = [s for s in shapes if s.posts]
    per: dict[str, dict[str, float]] = {"per_1000_people_mib": {}, "per_100_channels_mib": {}, "at_0_channels_mib": {}}
    for key in FIGURES:
        per_person = (full[key] - nobody[key]) / people
        xs = [float(s.channels) for s in scaled]
        ys = [by_shape[s.name][key] - per_person * s.people for s in scaled]
        slope, intercept = statistics.linear_regression(xs, ys)
        per["per_1000_people_mib"][key] = round(1000 * per_person, 2)
        per["per_100_channels_mib"][key] = round(100 * slope, 2)
        per["at_0_channels_mib"][key] = round(intercept, 1)
    return per


def print_growth(per: dict[str, dict[str, float]], by_shape: dict[str, dict[str, float]]) -> None:
    rows = [
        [
            label,
            per["per_1000_people_mib"][key],
            per["per_100_channels_mib"][key],
            per["at_0_channels_mib"][key],
            by_shape["baseline"][key],
        ]
        for key, label in FIGURES.items()
    ]
    print_table(["MiB", "per 1,000 people", "per 100 groups", "at 0 groups, with the posts", "baseline"], rows)


def print_backend(backend: Backend, shapes: Sequence[Shape], by_shape: dict[str, dict[str, float]]) -> None:
    base = by_shape["baseline"]
    rows: list[list[object]] = []
    for shape in shapes:
        s = by_shape[shape.name]
        rows.append(
            [
                shape.name,
                shape.channels,
                shape.people,
                shape.posts,
                s["started_s"],
                s["rss_idle_mib"],
                s["rss_pages_mib"],
                s["anon_pages_mib"],
                s["file_pages_mib"],
                s["hwm_pages_mib"],
                mb(s["hwm_pages_mib"]),
                round(s["hwm_pages_mib"] - base["hwm_pages_mib"], 1),
                f"{100 * s['hwm_pages_mib'] / GOAL_MIB:.0f} %",
            ]
        )
    print(f"\n{backend.name} (MiB; medians):")
    print_table(
        [
            "shape",
            "groups",
            "people",
            "posts",
            "start s",
            "RSS idle",
            "RSS pages",
            "heap",
            "files",
            "peak",
            "peak MB",
            "peak − base",
            f"of {GOAL_MB:g} MB",
        ],
        rows,
    )


async def traced_top(backend: Backend, shape: Shape, args: argparse.Namespace, failures: list[str]) -> list[str]:
    """The full shape under tracemalloc (bench/_memory_trace.py): the snapshots when settled and after the
    pages, then the parts of the post list measured in this process on the same store."""
    peaks: list[str] = []

    async def listing(url: str) -> None:
        peaks.extend(await listing_peaks(url))

    with tempfile.TemporaryDirectory(prefix="prikbord-trace-") as tmp:
        measured = await measure(backend, shape, args, failures, trace=Path(tmp), then=listing)
        idle, pages = load_snapshots(Path(tmp))
    head = (
        f"\ntracemalloc ({backend.name}, {shape.name}; the tracing itself adds to VmRSS): "
        f"idle {mib(traced_total(idle) / 1024)} MiB traced of VmRSS {mib(measured.idle['VmRSS'])}; after the "
        f"pages {mib(traced_total(pages) / 1024)} MiB traced of VmRSS {mib(measured.pages['VmRSS'])}, "
        f"peak {mib(measured.pages['VmHWM'])}"
    )
    return [head, *snapshot_report(idle, pages, args.top), *peaks]


def print_requests(measured: Measured) -> None:
    """Memory after each request of the operator's pages, and its time (one round of the full shape)."""
    rows: list[list[object]] = []
    hwm = measured.idle["VmHWM"]
    for what, kib in measured.by_request:
        rows.append([what, mib(kib["VmRSS"]), mib(kib["VmHWM"]), mib(kib["VmHWM"] - hwm), kib["answer_ms"] / 1000])
        hwm = kib["VmHWM"]
    print_table(["request (full shape, last round)", "RSS after", "peak after", "peak +", "answer s"], rows)


async def main_async(args: argparse.Namespace) -> int:
    backends, note = backends_from(args)
    shapes = shapes_of(args)
    print(
        f"memory of one `prikbord run` (Telegram webhook, web app on): {args.channels} groups, {args.people} "
        f"people, {args.posts} posts, beside smaller shapes and a 1-group baseline; {args.rounds} round(s)"
    )
    if note:
        print(note)
    figures: dict[str, Any] = {
        "bench": "memory",
        "goal_mb": GOAL_MB,
        "goal_mib": round(GOAL_MIB, 1),
        "rounds": args.rounds,
    }
    if note:
        figures["note"] = note
    failures: list[str] = []
    goal_met = True
    for backend in backends:
        runs: dict[str, list[Measured]] = {s.name: [] for s in shapes}
        for number in range(1, args.rounds + 1):
            for shape in shapes:
                found: list[str] = []
                measured = await measure(backend, shape, args, found)
                failures += [f"{backend.name} {shape.name} round {number}: {f}" for f in found]
                runs[shape.name].append(measured)
                print(
                    f"  {backend.name} round {number} {shape.name}: started in {measured.started_s:.1f}s, "
                    f"RSS {mib(measured.idle['VmRSS'])} MiB idle, {mib(measured.pages['VmRSS'])} after the pages, "
                    f"peak {mib(measured.pages['VmHWM'])}" + ("" if measured.settled else " (RSS still moving)"),
                    flush=True,
                )
        by_shape = {name: summary(r) for name, r in runs.items()}
        print_backend(backend, shapes, by_shape)
        print_requests(runs["full"][-1])
        per = growth(shapes, by_shape)
        print_growth(per, by_shape)
        met = by_shape["full"]["hwm_pages_mib"] <= GOAL_MIB
        goal_met = goal_met and met
        requests = {what: mib(kib["VmHWM"]) for what, kib in runs["full"][-1].by_request}
        answers = {what: kib["answer_ms"] / 1000 for what, kib in runs["full"][-1].by_request}
        figures[backend.name] = {"shapes": by_shape, **per, "full_peak_after_request_mib": requests, "goal_met": met}
        figures[backend.name]["full_answer_s"] = answers
        if args.tracemalloc:
            try:
                for line in await traced_top(backend, shapes[-1], args, failures):
                    print(line, flush=True)
            except Exception as exc:  # the figures above stand; the diagnosis failed
                failures.append(f"{backend.name} --tracemalloc: {type(exc).__name__}: {exc}")
    figures["goal_met"] = goal_met
    verdict = "met" if goal_met else "NOT met"
    print(f"\ngoal: peak (VmHWM) of the full shape ≤ {GOAL_MB:g} MB ({GOAL_MIB:.1f} MiB) on every backend: {verdict}")
    return conclude(
        figures,
        failures,
        "/healthz ok, every API call and dashboard page 200, the posts listed, exit 0 on SIGTERM, no traceback",
        goal_met=goal_met,
        enforce_goal=args.enforce_goal,
        max_shown=20,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    add_common_args(parser, rounds=3)
    parser.add_argument("--channels", type=int, default=1000, help="Telegram groups (default %(default)s)")
    parser.add_argument("--people", type=int, default=10_000, help="default %(default)s")
    parser.add_argument("--posts", type=int, default=100, help="default %(default)s")
    parser.add_argument("--responded", type=float, default=0.03, help="share of people per post (default 0.03)")
    parser.add_argument("--settle-timeout", type=float, default=30.0, help="seconds for RSS to settle (default 30)")
    parser.add_argument("--tracemalloc", action="store_true", help="then the full shape traced: top allocations")
    parser.add_argument("--top", type=int, default=25, help="allocations shown with --tracemalloc (default 25)")
    parser.add_argument("--seed", type=int, default=16, help="seeds the memberships and responses (default 16)")
    args = parser.parse_args()
    quiet_logging()
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
