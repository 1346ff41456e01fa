"""Process-wide settings: of the long-running ``prikbord run``, and of every short command."""

from __future__ import annotations

import atexit
import gc
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import logging


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


def quiet_cancelled_pool_close(record: logging.LogRecord) -> bool:
    """A log handler's filter: SQLAlchemy's pool reporting a connection whose close was cancelled (a stop
    cancelled the task that held it) is one line instead of asyncpg's traceback; the connection is dropped,
    which loses nothing. Every other record passes as it is."""
    import asyncio
    import logging

    error = record.exc_info[1] if record.exc_info else None
    if (
        record.name.startswith("sqlalchemy.pool")
        and isinstance(error, asyncio.CancelledError)
        and str(record.msg).startswith("Exception closing connection")
    ):
        record.msg, record.args = "a database connection was dropped while stopping (its close was cancelled)", ()
        record.exc_info, record.exc_text = None, None
        record.levelno, record.levelname = logging.WARNING, "WARNING"
    return True
