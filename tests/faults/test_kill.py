"""kill -9 in the middle of a fan-out (#17 item 1, fault suite 1).

A post goes to 120 Telegram groups (or Slack channels) through a real ``prikbord run``; when 10, 60 and
110 copies are out — three runs side by side, each with its own peer and database — the process gets
SIGKILL and is started again at once. Asserted, on SQLite and on PostgreSQL:

- nothing is lost, within 2 × the lease: counted from the moment the restarted process reaches the
  platform, every chat has the post and every delivery is recorded ``sent``;
- Telegram cannot be asked what was sent, so a send whose answer was not recorded before the kill is sent
  again: at most 1 % extra copies over the three runs. Slack: none — a stale claim is looked up in
  ``conversations.history`` by the delivery in the message's ``metadata`` before anything is resent.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest

from tests.conftest import require_postgres
from tests.faults.fanout import Figures, SlackChannels, TelegramGroups, interrupted_fanout

CHATS = 120
LEASE = 5.0  # seconds ([dispatch] lease in the test config)
MOMENTS = (10, 60, 110)  # copies out when the kill comes


async def _three_kills(platform: str, backend: str, tmp_path: Path) -> list[tuple[Figures, list[str], int]]:
    setup = asyncio.Lock()

    async def one(moment: int) -> tuple[Figures, list[str], int]:
        peer = TelegramGroups(CHATS) if platform == "telegram" else SlackChannels(CHATS)
        await peer.start()
        try:
            directory = tmp_path / f"kill-at-{moment}"
            directory.mkdir()
            figures = await interrupted_fanout(
                peer,
                backend,
                directory,
                at=[moment],
                how=signal.SIGKILL,
                lease=LEASE,
                recover_within=2 * LEASE,
                setup=setup,
            )
            lookups = len(peer.peer.calls_of("conversations.history")) if isinstance(peer, SlackChannels) else 0
            return figures, peer.violations(), lookups
        finally:
            await peer.stop()

    return list(await asyncio.gather(*(one(m) for m in MOMENTS)))


def _check(runs: list[tuple[Figures, list[str], int]]) -> list[Figures]:
    for figures, violations, _ in runs:
        assert not figures.problems, figures.problems
        assert not violations, f"requests the platform would refuse: {violations}"
        assert figures.lost == 0, figures
        assert figures.states == {"sent": CHATS}, figures
        assert figures.recovered_in is not None, f"not everything was delivered after the restart: {figures}"
        assert figures.recovered_in <= 2 * LEASE, f"delivered {figures.recovered_in:.1f}s after the restart: {figures}"
    for figures, _, _ in runs:
        print(figures)  # the figures of each run (pytest -s)
    return [figures for figures, _, _ in runs]


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def test_telegram_kill9_loses_nothing_and_copies_at_most_one_percent(backend: str, tmp_path: Path) -> None:
    if backend == "postgresql":
        require_postgres()
    runs = _check(await _three_kills("telegram", backend, tmp_path))
    extra = sum(f.extra for f in runs)
    assert extra <= len(runs) * CHATS // 100, f"{extra} extra copies in {len(runs)} runs of {CHATS}: {runs}"


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def test_slack_kill9_loses_nothing_and_sends_no_copy_twice(backend: str, tmp_path: Path) -> None:
    if backend == "postgresql":
        require_postgres()
    runs = await _three_kills("slack", backend, tmp_path)
    figures = _check(runs)
    assert sum(f.extra for f in figures) == 0, figures
    # The stale claims were looked up on Slack (by their metadata) before anything was sent again.
    assert all(lookups > 0 for _, _, lookups in runs), [lookups for _, _, lookups in runs]
