"""Instances of ``prikbord run`` side by side on one PostgreSQL, fanning one post out to Telegram groups
behind the Bot API peer with Telegram's flood limits (tests/faults/test_scale_out.py, bench/scale_out.py).

Each instance runs Telegram in webhook mode with its own web port, as behind a load balancer; the post
is published with its deliveries before any of them starts.
"""

from __future__ import annotations

import asyncio
import json
import signal
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select

from content.db import create_store
from content.models import Delivery
from tests.faults.fanout import TITLE, Process, database, delivery_states, post, until
from tests.faults.prikbord_process import free_port
from tests.peers.telegram import FloodLimits, PeerCall, TelegramPeer

FIRST_GROUP = -1007000000000
OVERALL = 30  # sends per second Telegram allows one bot


def write_config(
    directory: Path, peer: TelegramPeer, url: str, port: int, public_port: int, chats: list[int], share: bool
) -> Path:
    lines = [
        'timezone = "Europe/Amsterdam"',
        "[database]",
        f"url = {json.dumps(url)}",
        "[console]",
        "enabled = false",
        "[telegram]",
        f"token = {json.dumps(peer.token)}",
        f"api_base_url = {json.dumps(peer.api_base_url)}",
        'mode = "webhook"',
        'webhook_secret = "scale-out-secret_1"',
        "[web]",
        'host = "127.0.0.1"',
        f"port = {port}",
        f'public_url = "http://127.0.0.1:{public_port}"',
        'admin_token = "scale-out-admin-token"',
        "[dispatch]",
        f"share_rate_limits = {'true' if share else 'false'}",
    ]
    for i, chat_id in enumerate(chats):
        lines += ["[[channels]]", f'name = "vestiging-{i}"', 'platform = "telegram"', f'chat_id = "{chat_id}"']
        lines.append('tags = ["everyone"]')
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "prikbord.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def senders_of(url: str) -> Counter[str]:
    """Deliveries per instance that recorded them."""
    store = create_store(url)
    try:
        async with store.sessions() as session:
            rows = (
                await session.execute(select(Delivery.claimed_by, func.count()).group_by(Delivery.claimed_by))
            ).all()
    finally:
        await store.close()
    return Counter({str(by): int(n) for by, n in rows})


def copies(peer: TelegramPeer) -> Counter[int]:
    return Counter(m.chat_id for m in peer.bot_messages() if TITLE in (m.text or ""))


@dataclass
class ScaleOut:
    """What one fan-out through several instances came to."""

    groups: int
    instances: int
    delivered: bool = False
    states: Counter[str] = field(default_factory=Counter)
    senders: Counter[str] = field(default_factory=Counter)  # deliveries per instance
    sends: list[PeerCall] = field(default_factory=list)  # the post's sendMessage calls, 429s included
    per_group: Counter[int] = field(default_factory=Counter)
    exits: list[tuple[int, str]] = field(default_factory=list)  # (status, output) per instance
    unknown_params: list[str] = field(default_factory=list)

    @property
    def limited(self) -> list[PeerCall]:
        return [c for c in self.sends if c.status == 429]

    @property
    def took(self) -> float:
        """Seconds from the first copy to the last, at the peer."""
        ok = [c.at for c in self.sends if c.status == 200]
        return max(ok) - min(ok) if ok else float("nan")

    @property
    def bound(self) -> float:
        """The least time Telegram's 30/s allows for the fan-out."""
        return (self.groups - 1) / OVERALL


async def fan_out(directory: Path, groups: int, instances: int, *, share: bool = True) -> ScaleOut:
    """One post to ``groups`` groups through ``instances`` instances on a fresh PostgreSQL database."""
    figures = ScaleOut(groups, instances)
    chats = [FIRST_GROUP - i for i in range(groups)]
    flood = FloodLimits(overall=(OVERALL, 1.0), per_chat=(1, 1.0), per_group=(20, 60.0))
    async with TelegramPeer(flood=flood) as peer:
        for i, chat_id in enumerate(chats):
            peer.add_chat(chat_id, "supergroup", f"Vestiging {i}")
        async with database("postgresql", directory) as url:
            ports = [free_port() for _ in range(instances)]
            configs = [
                write_config(directory / f"instance-{n}", peer, url, port, ports[0], chats, share)
                for n, port in enumerate(ports)
            ]
            await post(configs[0])
            runs = [await Process.run(config, 0) for config in configs]
            try:

                async def all_delivered() -> bool:
                    for run in runs:
                        assert run.process.returncode is None, f"an instance exited:\n{run.output()[-3000:]}"
                    return len(copies(peer)) == groups

                # At 30/s plus the instances' start-up; without sharing, 429s make it slower still.
                figures.delivered = await until(all_delivered, 30 + 3 * groups / OVERALL, interval=0.2)
                await asyncio.sleep(2)  # a second copy would be here by now
                figures.states = await delivery_states(url)
                figures.senders = await senders_of(url)
            finally:
                figures.exits = [((await run.signal(signal.SIGTERM, 15))[0], run.output()) for run in runs]
        figures.sends = [c for c in peer.calls_to("sendMessage") if TITLE in str(c.params.get("text", ""))]
        figures.per_group = copies(peer)
        figures.unknown_params = list(peer.unknown_params)
    return figures
