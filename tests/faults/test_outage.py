"""A Telegram outage in the middle of a fan-out (#17 fault suite item 3).

``prikbord run`` (a real child process, web on) sends one post to 120 groups through the loopback Bot
API peer with Telegram's flood limits. A quarter of the way in, Telegram goes away: every request is
answered ``502 Bad Gateway`` for ``OUTAGE_SECONDS``. Meanwhile ``/healthz`` says Telegram is down and
the dashboard shows it; prikbord does not hammer the platform (the requests it makes during the outage are
counted and bounded: probes with a growing interval, polling with backoff, not a hot loop). After the
platform returns, every group gets the post exactly once and ``/healthz`` says Telegram is up again.

The outage lasts 30 s, as in the issue (``FAULT_OUTAGE_SECONDS`` changes it).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.faults.prikbord_process import (
    RunningPrikbord,
    cli,
    free_port,
    no_traceback,
    wait_for,
    wait_until_polling,
    write_config,
)
from tests.peers.telegram import FloodLimits, TelegramPeer

OUTAGE_SECONDS = float(os.environ.get("FAULT_OUTAGE_SECONDS", "30"))
GROUPS = 120
FIRST_GROUP = -1004000000000
ADMIN_TOKEN = "fault-suite-admin-token"


def outage_request_bound(seconds: float) -> int:
    """What prikbord may send a platform that is down for ``seconds``: the sends that were already under
    way when it went (one claim: 30/s x 1 s), a few in-process retries, probes whose interval doubles from
    0.5 s to 10 s, and getUpdates with its own doubling backoff. A hot loop makes thousands."""
    return 60 + int(2 * seconds)


@pytest.fixture
async def peer() -> AsyncIterator[TelegramPeer]:
    async with TelegramPeer(flood=FloodLimits()) as peer:
        for i in range(GROUPS):
            peer.add_chat(FIRST_GROUP - i, "supergroup", f"Vestiging {i}")
        yield peer


async def health(web: httpx.AsyncClient) -> dict[str, Any]:
    response = await web.get("/healthz")
    assert response.status_code == 200, response.text  # a messenger being down is reported, not fatal
    body: dict[str, Any] = response.json()
    return body


async def signed_in(web: httpx.AsyncClient) -> None:
    page = await web.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf, page.text[:500]
    response = await web.post("/login", data={"csrf": csrf.group(1), "token": ADMIN_TOKEN})
    assert response.status_code == 303, response.text[:500]


async def test_outage_mid_fan_out_backs_off_reports_and_delivers_everything(peer: TelegramPeer, tmp_path: Path) -> None:
    chats = [FIRST_GROUP - i for i in range(GROUPS)]
    port = free_port()
    config = write_config(tmp_path, peer, chats, f"sqlite:///{tmp_path / 'prikbord.db'}", web_port=port)
    run = await RunningPrikbord(config).start()
    try:
        await wait_until_polling(peer, run)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as web:
            await wait_for(lambda: _web_up(web), 20, "the web app")
            assert (await health(web))["adapters"]["telegram"]["up"] is True
            await signed_in(web)
            posted = await cli(config, "post", "--title", "Storing", "--body", "Lees dit", "--cta", "acknowledge")
            assert posted.ok(), posted.stderr

            await wait_for(lambda: len(peer.bot_messages()) >= GROUPS // 4, 30, "a quarter of the fan-out")
            peer.outage(True)
            went_down = time.monotonic()
            sent_before = len(peer.bot_messages())
            assert sent_before < GROUPS, "the fan-out finished before the outage began"

            async def reported_down() -> bool:
                return (await health(web))["adapters"]["telegram"]["up"] is False

            await wait_for(reported_down, OUTAGE_SECONDS, "/healthz to report Telegram down", interval=0.2)
            report = await health(web)
            assert report["status"] == "degraded"
            assert report["adapters"]["telegram"]["down_since"]
            assert "502" in report["adapters"]["telegram"]["last_error"] or "Bad Gateway" in str(report)
            dashboard = await web.get("/")
            assert dashboard.status_code == 200
            assert "telegram is down" in dashboard.text

            remaining = OUTAGE_SECONDS - (time.monotonic() - went_down)
            await wait_for(lambda: time.monotonic() - went_down >= OUTAGE_SECONDS, remaining + 1, "the outage")
            assert len(peer.bot_messages()) == sent_before  # nothing got through a platform that was down
            during = dict(peer.requests_while_down)
            peer.outage(False)
            assert sum(during.values()) <= outage_request_bound(OUTAGE_SECONDS), during
            assert during.get("sendMessage", 0) >= 1  # it did try (and kept probing)

            await wait_for(lambda: len(peer.bot_messages()) >= GROUPS, 60, "every group after the outage")

            async def reported_up() -> bool:
                return (await health(web))["adapters"]["telegram"]["up"] is True

            await wait_for(reported_up, 10, "/healthz to report Telegram up again", interval=0.2)
            assert "telegram is down" not in (await web.get("/")).text
        stats = await cli(config, "stats", "1", "--json")
        assert stats.ok(), stats.stderr
        assert '"sent": 120' in stats.stdout.replace("\n", " ") or '"sent":120' in stats.stdout
    finally:
        code = await run.stop()
    counts = {c: len(peer.bot_messages(c)) for c in chats}
    assert set(counts.values()) == {1}, {c: n for c, n in counts.items() if n != 1}
    log = run.stderr_text()
    no_traceback(log)
    assert code == 0, log[-3000:]
    assert not peer.unknown_params


async def _web_up(web: httpx.AsyncClient) -> bool:
    try:
        return (await web.get("/healthz")).status_code == 200
    except httpx.HTTPError:
        return False
