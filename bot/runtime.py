"""Process-wide settings: of the long-running ``prikbord run``, and of every short command."""

from __future__ import annotations

import atexit
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


def tune_gc_for_command() -> None:
    """Call first in a ``prikbord`` process (every command; ``run`` retunes with :func:`tune_gc`).

    A command's start-up builds a few hundred thousand objects (modules, model classes, the SQL
    compiler's tables) that live until it exits. With the default first threshold (700) the collector
    walks them dozens of times while they are built, and once more after ``atexit``: together about
    0.15 s of a 0.6 s ``prikbord stats`` (bench/cli_startup.py). A rarer first collection, and freezing
    the heap at exit, skip that walk; what a command opens it closes itself (the store, its files), so
    nothing relies on the collection at exit.
    """
    _, second, third = gc.get_threshold()
    gc.set_threshold(50_000, second, third)
    atexit.register(gc.freeze)
