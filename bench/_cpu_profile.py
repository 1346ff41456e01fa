"""``prikbord`` under cProfile with the process's CPU time as its clock (bench/paid_broadcast.py --profile).

cProfile's default clock is the wall clock: on a loaded machine a function that was merely descheduled
looks expensive. This one counts only the CPU the process spent, and writes the stats on exit (SIGTERM
ends ``prikbord run`` cleanly).

    python bench/_cpu_profile.py OUT.prof run --config prikbord.toml
"""

from __future__ import annotations

import cProfile
import sys
import time

from bot.cli import main

if __name__ == "__main__":
    out, sys.argv = sys.argv[1], ["prikbord", *sys.argv[2:]]
    profile = cProfile.Profile(time.process_time)
    try:
        profile.runcall(main)
    except SystemExit:
        pass
    finally:
        profile.dump_stats(out)
