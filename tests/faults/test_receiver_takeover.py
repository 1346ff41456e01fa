"""Telegram polling is owned by one instance at a time (#16): two ``prikbord run`` on one PostgreSQL, in
polling mode against the Bot API peer. Only the lock holder polls (Telegram refuses a second getUpdates
with 409 Conflict, which would show here); when it is killed with SIGKILL the other takes over within
30 s, and the presses made meanwhile are each counted exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import pytest

from tests.conftest import require_postgres
from tests.faults.fanout import TITLE, Process, database, post, response_count, until
from tests.faults.prikbord_process import write_config
from tests.peers.telegram import TelegramPeer

pytestmark = pytest.mark.postgres

GROUP = -1008000000001
BEFORE, DURING = range(1000, 1020), range(2000, 2020)  # the people who press before and after the kill
TAKEOVER_LIMIT = 30.0


async def test_the_poller_is_one_instance_and_another_takes_over_after_a_kill(tmp_path: Path) -> None:
    require_postgres()
    async with TelegramPeer() as peer:
        peer.add_chat(GROUP, "supergroup", "Vestiging")
        for user in (*BEFORE, *DURING):
            peer.add_user(user, f"Medewerker {user}")
        async with database("postgresql", tmp_path) as url:
            configs = []
            for n in range(2):
                (tmp_path / f"instance-{n}").mkdir()
                configs.append(write_config(tmp_path / f"instance-{n}", peer, [GROUP], url, mode="polling"))
            await post(configs[0])
            owner = await Process.run(configs[0], 0)
            other: Process | None = None
            try:
                assert await until(lambda: _polled(peer), 30), owner.output()[-3000:]
                other = await Process.run(configs[1], 1)
                assert await until(lambda: _sent(peer), 30), owner.output()[-3000:]
                [message] = [m for m in peer.bot_messages() if TITLE in (m.text or "")]
                ack = _ack_data(peer, message.message_id)
                await asyncio.sleep(3)  # the second instance is up and campaigning by now
                for user in BEFORE:
                    await peer.user_presses(user, GROUP, message.message_id, ack)
                assert await until(lambda: _counted(url, len(BEFORE)), 30)

                os.kill(owner.process.pid, signal.SIGKILL)
                await owner.process.wait()
                killed = time.monotonic()
                for user in DURING:  # waiting in Telegram for whoever polls next
                    await peer.user_presses(user, GROUP, message.message_id, ack)
                # Counted means polled: nobody else could have fetched them.
                everyone = len(BEFORE) + len(DURING)
                assert await until(lambda: _counted(url, everyone), TAKEOVER_LIMIT + 30), other.output()[-3000:]
                took = time.monotonic() - killed
                await asyncio.sleep(2)  # a second count of anything would be stored by now
                assert await response_count(url) == len(BEFORE) + len(DURING)
                assert took <= TAKEOVER_LIMIT, f"polling resumed {took:.1f}s after the kill"
                conflicts = [c for c in peer.calls_to("getUpdates", ok=False) if c.status == 409]
                assert not conflicts, f"two instances polled at once: {len(conflicts)} getUpdates met 409 Conflict"
                assert peer.pending_updates() == 0
                print(f"polling resumed {took:.1f}s after the owner was killed")
            finally:
                if owner.process.returncode is None:
                    await owner.signal(signal.SIGTERM, 15)
                if other is not None and other.process.returncode is None:
                    status, _ = await other.signal(signal.SIGTERM, 15)
                    assert status == 0, other.output()[-3000:]
                    assert "Traceback" not in other.output(), other.output()[-3000:]


async def _polled(peer: TelegramPeer) -> bool:
    # A long poll is recorded only when it returns; deleteWebhook comes right before the first.
    return bool(peer.calls_to("deleteWebhook") or peer.calls_to("getUpdates"))


async def _sent(peer: TelegramPeer) -> bool:
    return any(TITLE in (m.text or "") for m in peer.bot_messages())


async def _counted(url: str, expected: int) -> bool:
    return await response_count(url) >= expected


def _ack_data(peer: TelegramPeer, message_id: int) -> str:
    message = peer.message(GROUP, message_id)
    assert message is not None and message.reply_markup is not None
    [button] = [b for row in message.reply_markup["inline_keyboard"] for b in row]
    return str(button["callback_data"])
