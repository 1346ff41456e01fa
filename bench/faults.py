"""kill -9 mid fan-out, N times: what is lost, what is sent twice, and how long until all is delivered.

- **Work:** one post (call to action acknowledge) to ``--chats`` chats (120) through a real ``prikbord run``
  (the console script, a TOML config with ``[dispatch] lease = --lease``) on a fresh store per round; the
  post comes from ``prikbord post``. Per round the process gets SIGKILL when a random number of copies
  (between 5 and ``chats − 5``, seeded) is out, and is started again at once.
- **Peers:** ``tests/peers/telegram.py`` with Telegram's flood limits (30/s overall, 1/s and 20/min per group)
  and ``tests/peers/slack.py`` (1/s per channel, 20/s per workspace), on 127.0.0.1 in this process, so they
  count every copy any process sent; with ``--platform matrix``, rooms on a Synapse of the benchmark's own
  (``tests/faults/matrix_rooms.py``: copies read back from each room's ``/messages``; pass ``--chats 30``,
  its room set-up costs about eight events a room).
- **Measured per round:** lost (chats without the post after recovery), extra copies (all but the first per
  chat), and the seconds from the restarted process's first platform call until every chat had the post
  and every delivery was recorded ``sent`` (also from the restart itself, which includes start-up).
- **Goal:** extra copies ≤ 1 % on Telegram (it cannot be asked what was sent), 0 on Slack (stale claims are
  looked up by their ``metadata``) and on Matrix (a resend carries the delivery's transaction id).
- **Verified (exit 1 otherwise):** nothing lost, every delivery ``sent``, recovery within 2 × the lease, and no
  request the peers' API contracts refuse.

    .venv/bin/python bench/faults.py [--rounds 5] [--platform telegram|slack|both|matrix] [--chats 120] [--lease 5]
                                     [--postgres-url URL] [--sqlite-only] [--seed 17]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

from _common import Backend, add_common_args, backends_from, conclude, median, print_table, quiet_logging
from _matrix import add_matrix_args, start_synapse

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: tests is not installed
from tests.faults.fanout import FanoutPeer, Figures, SlackChannels, TelegramGroups, interrupted_fanout
from tests.faults.matrix_rooms import MatrixRooms
from tests.matrix_server import SynapseServer

GOAL_EXTRA = {"telegram": 0.01, "slack": 0.0, "matrix": 0.0}


async def one_round(
    platform: str, backend: Backend, args: argparse.Namespace, moment: int, synapse: SynapseServer | None
) -> tuple[Figures, list[str]]:
    peer: TelegramGroups | SlackChannels | MatrixRooms
    if platform == "matrix":
        assert synapse is not None
        peer = MatrixRooms(synapse, args.chats)
    else:
        peer = TelegramGroups(args.chats) if platform == "telegram" else SlackChannels(args.chats)
    fanout: FanoutPeer = peer
    await peer.start()
    try:
        with tempfile.TemporaryDirectory(prefix="prikbord-faults-", dir=args.sqlite_dir) as tmp:
            figures = await interrupted_fanout(
                fanout,
                backend.name,
                Path(tmp),
                at=[moment],
                how=signal.SIGKILL,
                lease=args.lease,
                recover_within=2 * args.lease,
            )
        return figures, peer.violations()
    finally:
        await peer.stop()


def problems_of(figures: Figures, violations: list[str], lease: float) -> list[str]:
    found = list(figures.problems)
    if violations:
        found.append(f"requests outside the API contract: {violations[:5]}")
    if figures.lost:
        found.append(f"{figures.lost} chats never got the post")
    if figures.states != {"sent": figures.chats}:
        found.append(f"deliveries not all sent: {figures.states}")
    if figures.recovered_in is None or figures.recovered_in > 2 * lease:
        found.append(f"not delivered within 2 × lease ({2 * lease:g}s) of the restart: {figures.recovered_in}")
    return found


async def main_async(args: argparse.Namespace, synapse: SynapseServer | None) -> int:
    backends, note = backends_from(args)
    platforms = ["telegram", "slack"] if args.platform == "both" else [args.platform]
    rng = random.Random(args.seed)
    print(
        f"kill -9 mid fan-out: 1 post to {args.chats} chats through `prikbord run`, SIGKILL at a random moment, "
        f"restart at once; [dispatch] lease = {args.lease:g}s; {args.rounds} round(s) per platform and backend"
    )
    if note:
        print(note)
    figures: dict[str, Any] = {"bench": "faults", "chats": args.chats, "lease_s": args.lease, "rounds": args.rounds}
    if note:
        figures["note"] = note
    rows: list[list[object]] = []
    failures: list[str] = []
    goal_met = True
    for platform in platforms:
        figures[platform] = {}
        for backend in backends:
            runs: list[Figures] = []
            for round_no in range(1, args.rounds + 1):
                moment = rng.randint(5, args.chats - 5)
                run, violations = await one_round(platform, backend, args, moment, synapse)
                failures += [
                    f"{platform} {backend.name} round {round_no}: {p}" for p in problems_of(run, violations, args.lease)
                ]
                runs.append(run)
                print(
                    f"  {platform} {backend.name} round {round_no}: killed at {run.interruptions} copies, "
                    f"lost {run.lost}, extra {run.extra}, all sent {run.recovered_in or float('nan'):.2f}s after "
                    f"the restart was up ({run.since_restart or float('nan'):.2f}s after it was started)",
                    flush=True,
                )
            sent = len(runs) * args.chats
            extra = sum(r.extra for r in runs)
            recovered = [r.recovered_in for r in runs if r.recovered_in is not None]
            share = extra / sent if sent else 0.0
            goal_met = goal_met and share <= GOAL_EXTRA[platform]
            figures[platform][backend.name] = {
                "lost": sum(r.lost for r in runs),
                "extra_copies": extra,
                "extra_percent": round(100 * share, 2),
                "recovered_s_median": round(median(recovered), 2) if recovered else None,
                "recovered_s_max": round(max(recovered), 2) if recovered else None,
                "since_restart_s_max": round(max(r.since_restart or 0.0 for r in runs), 2),
                "killed_at": [r.interruptions[0] if r.interruptions else None for r in runs],
            }
            row = figures[platform][backend.name]
            rows.append(
                [platform, backend.name, len(runs), row["lost"], extra, row["extra_percent"],
                 row["recovered_s_median"] or float("nan"), row["recovered_s_max"] or float("nan")]
            )  # fmt: skip
    print()
    print_table(["platform", "store", "rounds", "lost", "extra", "extra %", "recovery s (median)", "(max)"], rows)
    figures["goal_met"] = goal_met
    print(f"\ngoal: extra copies ≤ 1 % on Telegram, 0 on Slack and Matrix: {'met' if goal_met else 'NOT met'}")
    return conclude(
        figures,
        failures,
        f"nothing lost, every delivery sent within 2 × lease ({2 * args.lease:g}s) of the restart",
        goal_met=goal_met,
        enforce_goal=args.enforce_goal,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    add_common_args(parser, rounds=5)
    parser.add_argument("--platform", choices=["telegram", "slack", "both", "matrix"], default="both")
    parser.add_argument("--chats", type=int, default=120, help="chats, one channel each (default %(default)s)")
    parser.add_argument("--lease", type=float, default=5.0, help="[dispatch] lease in seconds (default %(default)s)")
    parser.add_argument("--seed", type=int, default=17, help="seeds the kill moments (default %(default)s)")
    add_matrix_args(parser)
    args = parser.parse_args()
    quiet_logging()
    pool, synapse = start_synapse(args, "faults") if args.platform == "matrix" else (None, None)
    try:
        return asyncio.run(main_async(args, synapse))
    finally:
        if pool is not None:
            pool.close()


if __name__ == "__main__":
    sys.exit(main())
