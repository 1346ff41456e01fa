"""The scheduler's leader killed before its posts are due (#16): two ``prikbord run`` on one PostgreSQL,
50 posts scheduled for the coming half minute, the leader killed with SIGKILL. The other instance takes
the lock and publishes every post once, none later than 30 s after its time."""

from __future__ import annotations

import asyncio
import os
import re
import signal
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.app import App
from bot.config import load_settings
from bot.services.drafts import CallToAction, PostDraft
from bot.services.roles import Role
from content.db import create_store
from content.models import CtaKind, Post
from tests.conftest import require_postgres
from tests.faults.fanout import Process, database, until
from tests.faults.prikbord_process import free_port, write_config
from tests.peers.telegram import TelegramPeer

pytestmark = pytest.mark.postgres

FIRST_GROUP = -1008000000100
POSTS = 50  # each to its own group: Telegram allows one group 20 messages a minute
LATEST = 30.0  # seconds after its time a post may go out


async def schedule(config: Path, first: datetime) -> None:
    """POSTS posts due from ``first`` on, 0.4 s apart, created as `prikbord post --at` stores them."""
    app = App(load_settings(config))
    try:
        await app.prepare_store()
        for n in range(POSTS):
            draft = PostDraft(
                title=f"Dagstart {n}",
                body="Koffie staat klaar.",
                cta=CallToAction(CtaKind.LIKE),
                audience=(f"g{n}",),
                publish_at=first + timedelta(seconds=0.4 * n),
                urgent=True,
            )
            await app.publishing.create(draft, "cli", Role.ADMIN)
    finally:
        await app.stop()


async def published(url: str) -> list[Post]:
    store = create_store(url)
    try:
        async with store.sessions() as session:
            return list((await session.execute(select(Post).order_by(Post.id))).scalars())
    finally:
        await store.close()


async def test_the_follower_publishes_what_the_killed_leader_had_scheduled(tmp_path: Path) -> None:
    require_postgres()
    async with TelegramPeer() as peer:
        groups = [FIRST_GROUP - n for n in range(POSTS)]
        for n, chat_id in enumerate(groups):
            peer.add_chat(chat_id, "supergroup", f"Vestiging {n}")
        channels = "".join(
            f'[[channels]]\nname = "vestiging-{n}"\nplatform = "telegram"\nchat_id = "{chat_id}"\ntags = ["g{n}"]\n'
            for n, chat_id in enumerate(groups)
        )
        async with database("postgresql", tmp_path) as url:
            configs = []
            for n in range(2):
                (tmp_path / f"instance-{n}").mkdir()
                configs.append(
                    write_config(
                        tmp_path / f"instance-{n}", peer, [], url, mode="webhook", web_port=free_port(), extra=channels
                    )
                )
            leader = await Process.run(configs[0], 0)
            follower: Process | None = None
            try:
                assert await until(_reported(leader, "scheduler: this instance is the leader"), 60), leader.output()
                follower = await Process.run(configs[1], 1)
                assert await until(_reported(follower, "scheduler: follower"), 60), follower.output()
                first = datetime.now(UTC) + timedelta(seconds=15)
                await schedule(configs[0], first)
                await asyncio.sleep(5)  # the leader has its jobs; ten seconds before the first is due
                os.kill(leader.process.pid, signal.SIGKILL)
                await leader.process.wait()

                async def all_out() -> bool:
                    return all(p.published_at is not None for p in await published(url))

                assert await until(all_out, 15 + 0.4 * POSTS + LATEST + 10), follower.output()[-3000:]
                await asyncio.sleep(2)  # a second copy would be here by now
                posts = await published(url)
                late = {p.title: (p.published_at - p.publish_at).total_seconds() for p in posts}  # type: ignore[operator]
                copies = Counter(
                    int(found.group(1))
                    for m in peer.bot_messages()
                    if (found := re.search(r"Dagstart (\d+)\b", m.text or ""))
                )
                assert len(posts) == POSTS
                assert copies == Counter(range(POSTS)), {n: c for n, c in copies.items() if c != 1}
                assert max(late.values()) <= LATEST, sorted(late.items(), key=lambda kv: -kv[1])[:5]
                assert min(late.values()) >= 0, "a post went out before its time"
                print(f"{POSTS} posts after the leader's kill: latest {max(late.values()):.2f}s after its time")
            finally:
                if leader.process.returncode is None:
                    await leader.signal(signal.SIGTERM, 15)
                if follower is not None and follower.process.returncode is None:
                    status, _ = await follower.signal(signal.SIGTERM, 15)
                    assert status == 0, follower.output()[-3000:]


def _reported(run: Process, line: str):  # type: ignore[no-untyped-def]
    async def check() -> bool:
        assert run.process.returncode is None, run.output()[-3000:]
        return line in run.output()

    return check
