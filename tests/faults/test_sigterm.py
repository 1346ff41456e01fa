"""SIGTERM in the middle of a fan-out (#17 item 1, fault suite 2).

A post goes to 120 Telegram groups through a real ``prikbord run``; every 12 copies (6, 18, … 114) it
gets SIGTERM — ten clean stops in one fan-out — and is started again each time. Asserted, on SQLite
and on PostgreSQL: each stop exits 0 within 10 s with every outcome recorded (no delivery left
``sending``: the race in ``stop()`` left some there), no traceback, and in the end every group has the
post exactly once (0 lost, 0 duplicates).
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.conftest import require_postgres
from tests.faults.fanout import TelegramGroups, interrupted_fanout

CHATS = 120
LEASE = 5.0
MOMENTS = [6, 18, 30, 42, 54, 66, 78, 90, 102, 114]  # ten clean stops per backend, as the issue asks


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def test_sigterm_mid_fanout_records_every_outcome(backend: str, tmp_path: Path) -> None:
    if backend == "postgresql":
        require_postgres()
    peer = TelegramGroups(CHATS)
    await peer.start()
    try:
        figures = await interrupted_fanout(
            peer, backend, tmp_path, at=MOMENTS, how=signal.SIGTERM, lease=LEASE, recover_within=2 * LEASE
        )
        violations = peer.violations()
    finally:
        await peer.stop()
    print(figures)  # pytest -s
    for problem in figures.problems:  # in full in the captured output: an assertion message is cut short
        print(problem)
    assert not figures.problems, figures.problems
    assert not violations, violations
    assert len(figures.exits) == len(MOMENTS), figures
    assert all(status == 0 and seconds <= 10 for status, seconds in figures.exits), figures.exits
    assert figures.left_sending == [0] * len(MOMENTS), figures  # every outcome recorded at each stop
    assert figures.states == {"sent": CHATS}, figures
    assert figures.lost == 0 and figures.extra == 0, figures
    # The interruptions really were mid fan-out.
    assert all(0 < copies < CHATS for copies in figures.interruptions), figures.interruptions
