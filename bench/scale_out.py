"""Several instances on one PostgreSQL: a fan-out's time beside Telegram's 30/s bound, one instance and three.

- **Work:** one post to ``--groups`` (600) Telegram groups, published with its deliveries before the
  instances start; ``--instances`` (3) ``prikbord run`` processes (webhook mode, own web ports) on one fresh
  PostgreSQL database per round (tests/faults/scale_out.py).
- **Peer:** ``tests/peers/telegram.py`` with Telegram's flood limits (30/s per bot, 1/s and 20/min per group),
  in this process on 127.0.0.1, counting every send of every instance.
- **Measured per round:** seconds from the first copy to the last at the peer; 429s; the bound
  ``(groups − 1) / 30``. Baseline in the same run: one instance, same post, same peer.
- **Goal:** three instances take ≤ 1.05 × the bound (the same as one instance), 429s ≤ 1 % of sends.
- **Verified (exit 1 otherwise):** every group has exactly one copy, every delivery is ``sent``, every
  instance exits 0 on SIGTERM.

    PRIKBORD_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/test \\
        .venv/bin/python bench/scale_out.py [--rounds 3] [--groups 600] [--instances 3] [--enforce-goal]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from _common import conclude, median, print_table, quiet_logging

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: tests is not installed
from tests.faults.scale_out import ScaleOut, fan_out

GOAL_RATIO = 1.05
GOAL_429 = 0.01


def problems_of(run: ScaleOut) -> list[str]:
    found = []
    if not run.delivered or sorted(run.per_group.values()) != [1] * run.groups:
        found.append(f"copies per group not all 1: {len(run.per_group)} groups reached")
    if dict(run.states) != {"sent": run.groups}:
        found.append(f"deliveries not all sent: {dict(run.states)}")
    found += [f"an instance exited {status}" for status, _ in run.exits if status != 0]
    return found


async def main_async(args: argparse.Namespace) -> int:
    if not args.postgres_url:
        print("bench/scale_out.py needs PostgreSQL: set PRIKBORD_TEST_POSTGRES_URL or --postgres-url", file=sys.stderr)
        return 2
    os.environ["PRIKBORD_TEST_POSTGRES_URL"] = args.postgres_url
    print(f"1 post to {args.groups} Telegram groups; 1 instance and {args.instances}; {args.rounds} round(s) each")
    failures: list[str] = []
    results: dict[int, list[ScaleOut]] = {1: [], args.instances: []}
    for round_no in range(1, args.rounds + 1):
        for instances in results:
            with tempfile.TemporaryDirectory(prefix="prikbord-scale-") as tmp:
                run = await fan_out(Path(tmp), args.groups, instances)
            failures += [f"{instances} instance(s), round {round_no}: {p}" for p in problems_of(run)]
            results[instances].append(run)
            print(
                f"  round {round_no}, {instances} instance(s): {run.took:.1f}s "
                f"({run.took / run.bound:.3f} × bound), {len(run.limited)} 429s of {len(run.sends)} sends, "
                f"deliveries per instance {sorted(run.senders.values())}",
                flush=True,
            )
    bound = (args.groups - 1) / 30
    figures: dict[str, Any] = {"bench": "scale_out", "groups": args.groups, "bound_s": round(bound, 2)}
    rows: list[list[object]] = []
    for instances, runs in results.items():
        took = median([r.took for r in runs])
        share_429 = sum(len(r.limited) for r in runs) / max(1, sum(len(r.sends) for r in runs))
        figures[f"instances_{instances}"] = {
            "took_s_median": round(took, 2),
            "ratio_to_bound": round(took / bound, 3),
            "share_429": round(share_429, 4),
        }
        rows.append([instances, round(took, 2), round(took / bound, 3), f"{100 * share_429:.2f} %"])
    print()
    print_table(["instances", "fan-out s (median)", "× bound", "429s"], rows)
    many = figures[f"instances_{args.instances}"]
    one = figures["instances_1"]
    figures["ratio_many_to_one"] = round(many["took_s_median"] / one["took_s_median"], 3)
    goal_met = many["ratio_to_bound"] <= GOAL_RATIO and many["share_429"] <= GOAL_429
    figures["goal_met"] = goal_met
    print(
        f"\n{args.instances} instances ÷ 1 instance: {figures['ratio_many_to_one']}; goal ≤ {GOAL_RATIO} × bound "
        f"({GOAL_RATIO * bound:.1f}s) and 429s ≤ 1 %: {'met' if goal_met else 'NOT met'}"
    )
    return conclude(
        figures,
        failures,
        "every group one copy, every delivery sent, every instance exited 0",
        goal_met=goal_met,
        enforce_goal=args.enforce_goal,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--groups", type=int, default=600)
    parser.add_argument("--instances", type=int, default=3)
    parser.add_argument("--postgres-url", default=os.environ.get("PRIKBORD_TEST_POSTGRES_URL"))
    parser.add_argument("--enforce-goal", action="store_true")
    args = parser.parse_args()
    quiet_logging()
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
