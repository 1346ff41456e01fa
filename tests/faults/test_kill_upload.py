"""kill -9 after an upload and before the other chats got the image (issue 15, "crash-safe like text").

A real ``prikbord run`` sends a post with an image to three Telegram groups of the loopback peer. The
first send uploads the image; the peer holds the next send (by file_id) and prikbord is killed while it
waits, so that copy is left ``sending`` and the third is not tried. The restarted process sends both by
the file_id it stored before the kill: one upload in all, and every group has the photo exactly once.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import require_postgres
from tests.faults.fanout import database
from tests.faults.prikbord_process import RunningPrikbord, cli, no_traceback, wait_for, wait_until_polling, write_config
from tests.peers.telegram import FloodLimits, TelegramPeer

GROUPS = (-1002000000001, -1002000000002, -1002000000003)
LEASE = 2.0


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def test_a_kill_after_the_upload_reuses_it_and_no_group_gets_the_image_twice(
    backend: str, tmp_path: Path
) -> None:
    if backend == "postgresql":
        require_postgres()
    async with TelegramPeer(flood=FloodLimits.off()) as peer, database(backend, tmp_path) as url:
        for chat in GROUPS:
            peer.add_chat(chat, "supergroup", f"Groep {chat}")
        config = write_config(tmp_path, peer, GROUPS, url, extra=f"[dispatch]\nlease = {LEASE}\n")
        Image.new("RGB", (80, 60), "orange").save(tmp_path / "team.png", "PNG")
        first = RunningPrikbord(config)
        await first.start()
        try:
            await wait_until_polling(peer, first)
            peer.media.hold_reuses()
            created = await cli(config, "post", "--title", "Teamfoto", "--cta", "like", "--image", "team.png", "--json")
            assert created.ok(), created.stderr
            await wait_for(lambda: peer.media.held >= 1, 30, "a send by file_id to reach the peer")
        finally:
            if first.alive():
                os.kill(first.pid, signal.SIGKILL)
                assert first.process is not None
                await first.process.wait()
        peer.media.release()
        assert len(peer.media.uploads) == 1
        assert sum(len(peer.bot_messages(chat)) for chat in GROUPS) == 1  # one group had it before the kill

        second = RunningPrikbord(config)
        await second.start()
        try:
            await wait_for(lambda: all(peer.bot_messages(chat) for chat in GROUPS), 30, "every group to get the photo")
            stats = await cli(config, "stats", "1", "--json")
            assert json.loads(stats.stdout)["deliveries"] == {"sent": 3}
        finally:
            assert await second.stop() == 0
        no_traceback(second.stderr_text())
        assert len(peer.media.uploads) == 1  # the restarted process reused the stored file_id
        for chat in GROUPS:
            (photo,) = peer.bot_messages(chat)
            assert photo.media is not None and photo.reply_markup is not None
        by_file_id = [c for c in peer.calls_to("sendPhoto", ok=True) if isinstance(c.params["photo"], str)]
        assert len(by_file_id) == 2
