"""Process-wide settings of a long-running prikbord process (``prikbord run``)."""

from __future__ import annotations

import gc


def tune_gc() -> None:
    """Call once after start-up.

    What start-up built (modules, settings, SDK clients) lives as long as the process: freezing it
    takes it out of every collection. A higher first threshold makes collections rarer; bursts of
    webhook traffic otherwise trigger full collections of the whole heap every few seconds, each a
    pause of 100+ ms for every request in flight.
    """
    gc.collect()
    gc.freeze()
    _, second, third = gc.get_threshold()
    gc.set_threshold(50_000, second, third)
