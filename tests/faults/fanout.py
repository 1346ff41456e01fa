"""A fan-out through real ``prikbord run`` processes, interrupted by real signals (the fault suite's
kill -9 and SIGTERM scenarios, and ``bench/faults.py``).

- **Peers** run in this process on 127.0.0.1: the Telegram Bot API peer with Telegram's flood limits
  (30/s overall, 1/s and 20/min per group) or the Slack Web API peer (1/s per channel, 20/s per
  workspace). They outlive the prikbord processes, so every copy any process sent is counted. Matrix
  rooms are on the session's real Synapse (``tests/faults/matrix_rooms.py``), read back as a member.
- **prikbord** runs as ``prikbord run --config FILE`` (the console script of this venv), with a short
  ``[dispatch] lease`` so recovery is bounded in seconds; the post comes from ``prikbord post``.
- **Databases:** a fresh SQLite file, or a fresh PostgreSQL database on the test server.
- **Figures:** per chat the bot messages carrying the post (lost = none, extra = all but one), the
  deliveries per state in the store, and the seconds from the restart until every chat had the post and
  every delivery was recorded ``sent``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from bot.app import App
from bot.config import load_settings
from bot.services.drafts import CallToAction, PostDraft
from bot.services.roles import Role
from content.db import async_url, create_store
from content.models import CtaKind, Delivery, Response
from tests.peers.slack import SlackPeer
from tests.peers.telegram import FloodLimits, TelegramPeer

REPO = Path(__file__).resolve().parents[2]
PRIKBORD = str(Path(sys.executable).with_name("prikbord"))
TITLE = "Nieuwe verlofregeling"
BODY = "Vanaf **januari** geldt de nieuwe verlofregeling. Lees haar en bevestig hieronder."


class FanoutPeer(Protocol):
    platform: str

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    def config(self) -> list[str]: ...
    def chat_ids(self) -> list[str]: ...
    def copies(self) -> Counter[str]: ...
    async def settle(self) -> None: ...  # copies() counts all the platform holds from here on
    def logins(self) -> int: ...


class TelegramGroups:
    """``groups`` Telegram supergroups behind the Bot API peer with Telegram's flood limits."""

    platform = "telegram"

    def __init__(self, groups: int, first: int = -1004000000000) -> None:
        self._chats = [first - i for i in range(groups)]
        self.peer = TelegramPeer(flood=FloodLimits(overall=(30, 1.0), per_chat=(1, 1.0), per_group=(20, 60.0)))

    async def start(self) -> None:
        await self.peer.start()
        for i, chat in enumerate(self._chats):
            self.peer.add_chat(chat, "supergroup", f"Vestiging {i}")

    async def stop(self) -> None:
        await self.peer.stop()

    def config(self) -> list[str]:
        return [
            "[telegram]",
            f"token = {json.dumps(self.peer.token)}",
            f"api_base_url = {json.dumps(self.peer.api_base_url)}",
            'mode = "polling"',
        ]

    def chat_ids(self) -> list[str]:
        return [str(c) for c in self._chats]

    def copies(self) -> Counter[str]:
        found: Counter[str] = Counter()
        for message in self.peer.bot_messages():
            if TITLE in (message.text or ""):
                found[str(message.chat_id)] += 1
        return found

    async def settle(self) -> None:
        """The peer saw every copy as it was sent: nothing to read back."""

    def violations(self) -> list[str]:
        return sorted(set(self.peer.unknown_params))

    def logins(self) -> int:
        return len(self.peer.calls_to("getMe"))


class SlackChannels:
    """``channels`` Slack channels with the bot in them, behind the Web API peer and its rate limits."""

    platform = "slack"

    def __init__(self, channels: int) -> None:
        self.peer = SlackPeer()
        self._count = channels
        self._channels: list[str] = []

    async def start(self) -> None:
        await self.peer.__aenter__()
        self._channels = [self.peer.add_channel(f"vestiging-{i}") for i in range(self._count)]

    async def stop(self) -> None:
        await self.peer.__aexit__(None, None, None)

    def config(self) -> list[str]:
        return [
            "[slack]",
            f"bot_token = {json.dumps(self.peer.bot_token)}",
            f"signing_secret = {json.dumps(self.peer.signing_secret)}",
            f"api_base_url = {json.dumps(self.peer.api_base_url)}",
        ]

    def chat_ids(self) -> list[str]:
        return list(self._channels)

    def copies(self) -> Counter[str]:
        found: Counter[str] = Counter()
        for channel in self._channels:
            for message in self.peer.messages(channel):
                if message.user == self.peer.bot_user_id and not message.thread_ts:
                    found[channel] += 1
        return found

    async def settle(self) -> None:
        """The peer saw every copy as it was sent: nothing to read back."""

    def violations(self) -> list[str]:
        return list(self.peer.violations)

    def logins(self) -> int:
        return len(self.peer.calls_of("auth.test"))


@contextlib.asynccontextmanager
async def database(backend: str, directory: Path) -> AsyncIterator[str]:
    """A database URL for one scenario: a new SQLite file, or a new PostgreSQL database (dropped after)."""
    if backend == "sqlite":
        yield f"sqlite:///{directory / 'prikbord.db'}"
        return
    server = os.environ.get("PRIKBORD_TEST_POSTGRES_URL")
    assert server, "PRIKBORD_TEST_POSTGRES_URL is not set: the PostgreSQL fault tests need the test server"
    name = f"faults_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(async_url(server), isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


def write_config(directory: Path, peer: FanoutPeer, database_url: str, lease: float) -> Path:
    lines = [
        'timezone = "Europe/Amsterdam"',
        "[database]",
        f"url = {json.dumps(database_url)}",
        "[console]",
        "enabled = false",
        *peer.config(),
        "[dispatch]",
        f"lease = {lease}",
    ]
    for i, chat_id in enumerate(peer.chat_ids()):
        lines += [
            "[[channels]]",
            f'name = "vestiging-{i}"',
            f'platform = "{peer.platform}"',
            f"chat_id = {json.dumps(chat_id)}",
            'tags = ["everyone"]',
        ]
    path = directory / "prikbord.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRIKBORD_")}
    return env | {"PYTHONPATH": str(REPO), "PRIKBORD_LOG_LEVEL": "warning"}


@dataclass
class Process:
    """One ``prikbord run``; its output goes to ``run-N.log`` next to the config."""

    process: asyncio.subprocess.Process
    log: Path

    @classmethod
    async def run(cls, config: Path, number: int) -> Process:
        log = config.parent / f"run-{number}.log"
        with log.open("wb") as sink:
            process = await asyncio.create_subprocess_exec(
                PRIKBORD,
                "run",
                "--config",
                str(config),
                cwd=config.parent,
                env=_env(),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=sink,
                stderr=sink,
            )
        return cls(process, log)

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    async def signal(self, number: signal.Signals, timeout: float) -> tuple[int, float]:
        """Send ``number`` to this process (by its PID); (exit status, seconds until it exited)."""
        started = time.monotonic()
        os.kill(self.process.pid, number)
        try:
            status = await asyncio.wait_for(self.process.wait(), timeout)
        except TimeoutError:
            os.kill(self.process.pid, signal.SIGKILL)
            await self.process.wait()
            raise AssertionError(f"prikbord run did not exit within {timeout}s of {number.name}") from None
        return status, time.monotonic() - started

    async def ensure_stopped(self) -> None:
        if self.process.returncode is None:
            os.kill(self.process.pid, signal.SIGKILL)
            await self.process.wait()


async def post(config: Path) -> int:
    """The post, published with its deliveries as ``prikbord post --config`` does it (built here rather
    than in a third process: the suite's time goes to the processes under test). Returns its id."""
    app = App(load_settings(config))
    try:
        await app.prepare_store()
        draft = PostDraft(title=TITLE, body=BODY, cta=CallToAction(CtaKind.ACKNOWLEDGE), urgent=True)
        created = await app.publishing.create(draft, "cli", Role.ADMIN)
        return created.id
    finally:
        await app.stop()


async def delivery_states(database_url: str) -> Counter[str]:
    store = create_store(database_url)
    try:
        async with store.sessions() as session:
            rows = (await session.execute(select(Delivery.state, func.count()).group_by(Delivery.state))).all()
    finally:
        await store.close()
    return Counter({str(state): int(n) for state, n in rows})


async def response_count(database_url: str) -> int:
    """Responses stored (a count per person and post, whatever instance stored it)."""
    store = create_store(database_url)
    try:
        async with store.sessions() as session:
            return int((await session.execute(select(func.count()).select_from(Response))).scalar_one())
    finally:
        await store.close()


async def until(check: Callable[[], Awaitable[bool]], timeout: float, interval: float = 0.05) -> bool:
    """Poll ``check`` until it is true (True) or ``timeout`` passed (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return True
        await asyncio.sleep(interval)
    return await check()


@dataclass
class Figures:
    """What one interrupted fan-out came to."""

    chats: int
    interruptions: list[int] = field(default_factory=list)  # copies delivered when each signal came
    exits: list[tuple[int, float]] = field(default_factory=list)  # (status, seconds) after each SIGTERM
    left_sending: list[int] = field(default_factory=list)  # deliveries `sending` after each clean stop
    # The restarted process's first call to the platform (it is up) → every chat has the post and every
    # delivery is `sent`; and the same from the moment it was started.
    recovered_in: float | None = None
    since_restart: float | None = None
    lost: int = 0
    extra: int = 0
    states: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


async def interrupted_fanout(
    peer: FanoutPeer,
    backend: str,
    directory: Path,
    *,
    at: list[int],
    how: signal.Signals,
    lease: float,
    recover_within: float,
    setup: asyncio.Lock | None = None,
) -> Figures:
    """One post to every chat of ``peer``; each time ``at[i]`` copies are out, ``how`` is sent to the
    running ``prikbord run`` and it is started again at once. Ends when all is sent or ``recover_within``
    seconds after the last restart passed. Scenarios run side by side share one ``setup`` lock."""
    chats = peer.chat_ids()
    figures = Figures(len(chats))
    async with database(backend, directory) as url:
        config = write_config(directory, peer, url, lease)
        async with setup or asyncio.Lock():  # Alembic's migration context is one per process: one at a time
            await post(config)
        running = await Process.run(config, 0)
        try:
            for number, threshold in enumerate(at, start=1):

                async def reached(threshold: int = threshold, running: Process = running) -> bool:
                    assert running.process.returncode is None, f"prikbord run exited:\n{running.output()[-3000:]}"
                    return sum(peer.copies().values()) >= threshold

                if not await until(reached, 60):
                    figures.problems.append(f"{threshold} copies never went out:\n{running.output()[-3000:]}")
                    return figures
                figures.interruptions.append(sum(peer.copies().values()))
                if how == signal.SIGKILL:
                    os.kill(running.process.pid, signal.SIGKILL)
                    await running.process.wait()
                else:
                    figures.exits.append(await running.signal(how, timeout=30))
                    figures.left_sending.append((await delivery_states(url))["sending"])
                    if "Traceback" in (output := running.output()):
                        at = output.find("Traceback")
                        figures.problems.append(f"a traceback on {how.name}:\n{output[max(0, at - 1500) : at + 4000]}")
                restarted = time.monotonic()
                logins = peer.logins()
                running = await Process.run(config, number)
            up: list[float] = []

            async def complete() -> bool:
                if not up and peer.logins() > logins:
                    up.append(time.monotonic())
                if len(peer.copies()) < len(chats):
                    return False
                return (await delivery_states(url)) == Counter({"sent": len(chats)})

            if await until(complete, recover_within + 60, interval=0.1):
                done = time.monotonic()
                figures.since_restart = done - restarted
                figures.recovered_in = done - (up[0] if up else restarted)
            await asyncio.sleep(0.3)  # anything still under way would show up as another copy
            await running.signal(signal.SIGTERM, timeout=30)
            figures.states = dict(await delivery_states(url))
        finally:
            await running.ensure_stopped()
    await peer.settle()
    copies = peer.copies()
    figures.lost = sum(1 for chat in chats if copies[chat] == 0)
    figures.extra = sum(max(0, n - 1) for n in copies.values())
    return figures
