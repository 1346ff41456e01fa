"""Helpers shared by the benchmarks: a throw-away store per round, backend selection, medians and output.

Every round gets a fresh store — a new SQLite file in a temporary directory, or a new PostgreSQL schema
created before and dropped after — migrated with the project's own Alembic migrations, so rounds do not
see each other's rows and nothing is left behind.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import tempfile
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from content.db import Store, async_url, create_store
from content.migrate import upgrade

POSTGRES_ENV = "PRIKBORD_TEST_POSTGRES_URL"


@dataclass(frozen=True)
class Backend:
    name: str  # "sqlite" or "postgresql"
    url: str | None = None  # the PostgreSQL server's URL; None for SQLite


def add_common_args(parser: argparse.ArgumentParser, *, rounds: int = 3) -> None:
    parser.add_argument("--rounds", type=int, default=rounds, help="measured rounds per backend (default %(default)s)")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(POSTGRES_ENV) or None,
        help=f"also run on this PostgreSQL server (default: ${POSTGRES_ENV}; neither given: SQLite only)",
    )
    parser.add_argument("--sqlite-only", action="store_true", help="skip PostgreSQL even when a URL is known")
    parser.add_argument(
        "--sqlite-dir",
        default=None,
        help="directory for the temporary SQLite files (default: the system's temporary directory)",
    )
    parser.add_argument(
        "--enforce-goal", action="store_true", help="also exit non-zero (3) when the SQLite goal is missed"
    )


def backends_from(args: argparse.Namespace) -> tuple[list[Backend], str | None]:
    """The backends to run, and a note to print when PostgreSQL is skipped."""
    found = [Backend("sqlite")]
    if args.sqlite_only:
        return found, "PostgreSQL skipped (--sqlite-only)"
    if not args.postgres_url:
        return found, f"PostgreSQL skipped: no --postgres-url and ${POSTGRES_ENV} is not set; SQLite only"
    found.append(Backend("postgresql", args.postgres_url))
    return found, None


def quiet_logging() -> None:
    """The services log at INFO (reconciliation, batches); the benchmark output stays readable."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


@asynccontextmanager
async def fresh_store(backend: Backend, sqlite_dir: str | None = None) -> AsyncIterator[Store]:
    """A migrated, empty store that is thrown away afterwards."""
    if backend.name == "sqlite":
        with tempfile.TemporaryDirectory(prefix="prikbord-bench-", dir=sqlite_dir) as tmp:
            store = create_store(f"sqlite:///{Path(tmp) / 'bench.db'}")
            try:
                await upgrade(store)
                yield store
            finally:
                await store.close()
        return
    assert backend.url is not None
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(async_url(backend.url), isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        store = create_store(backend.url, schema=schema)
        try:
            await upgrade(store)
            yield store
        finally:
            await store.close()
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await admin.dispose()


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """A plain, aligned text table (numbers right-aligned)."""
    cells = [[str(h) for h in headers], *[[_cell(v) for v in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    numeric = [all(isinstance(row[i], int | float) for row in rows) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if n else c.ljust(w) for c, w, n in zip(row, widths, numeric, strict=True))

    print(line(cells[0]))
    print("  ".join("-" * w for w in widths))
    for row in cells[1:]:
        print(line(row))


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.0f}" if value >= 100 else f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def print_json(figures: dict[str, Any]) -> None:
    """The figures as one JSON line (the last line of the output), for notes and CI to quote."""
    print(json.dumps(figures, sort_keys=False, separators=(",", ":")))


def conclude(
    figures: dict[str, Any],
    failures: Sequence[str],
    verified: str,
    *,
    goal_met: bool = True,
    enforce_goal: bool = False,
    max_shown: int | None = None,
) -> int:
    """The end every benchmark shares: the verification verdict, the JSON line, and the exit status
    (0 ok, 1 a correctness check failed, 3 the goal missed with ``--enforce-goal``)."""
    figures["verified"] = not failures
    if failures:
        print("VERIFICATION FAILED:")
        for failure in failures[:max_shown]:
            print(f"  {failure}")
    else:
        print(f"verified: {verified}")
    print_json(figures)
    if failures:
        return 1
    return 3 if enforce_goal and not goal_met else 0
