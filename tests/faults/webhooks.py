"""Harnesses of the poison-input and fuzz tests: the whole App (store, engagement, commands) with its real
web app (``create_web_app``) reached in-process over ASGI, and the platform's side played by the loopback
peers: Slack requests signed exactly as Slack signs them, Telegram updates with the webhook secret, and in
polling mode crafted updates the Telegram peer serves through getUpdates.

What the tests read back: the HTTP status of every request, the log records (a traceback is a failure), the
rows in the store (a refused request stores nothing) and the ``prikbord_refused_input`` metric.
"""

from __future__ import annotations

import asyncio
import io
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from rich.console import Console
from sqlalchemy import func, select

from adapters.slack.adapter import SlackAdapter
from adapters.telegram.adapter import SECRET_HEADER, TelegramAdapter
from bot.app import App
from bot.clock import FrozenClock
from bot.config import Settings
from bot.web import create_web_app
from content.db import Store
from content.models import Employee, Identity, Post, ProcessedEvent, Response
from tests.peers.slack import SignedRequest, SlackPeer
from tests.peers.telegram import FloodLimits, TelegramPeer

SECRET = "poison-webhook_secret-17"
PUBLIC_URL = "https://prikbord.example"
GROUP, ANNA, BRAM = -1001000000017, 1701, 1702  # a Telegram group and two people in it
WAIT = 10.0  # seconds: the bound on any wait for background work


async def stored_rows(store: Store) -> dict[str, int]:
    """Rows a refused request must never create."""
    counts: dict[str, int] = {}
    async with store.sessions() as session:
        for model in (Employee, Identity, Response, Post, ProcessedEvent):
            counts[model.__tablename__] = int(
                (await session.execute(select(func.count()).select_from(model))).scalar_one()
            )
    return counts


async def stored_people(store: Store) -> set[tuple[str, str]]:
    """(platform, platform user id) of every identity in the store."""
    async with store.sessions() as session:
        rows = await session.execute(select(Identity.platform, Identity.platform_user_id))
        return {(platform, user_id) for platform, user_id in rows}


@dataclass
class LogWatch:
    """Every log record while a test runs (all loggers, INFO and up)."""

    records: list[logging.LogRecord] = field(default_factory=list)

    def tracebacks(self) -> list[str]:
        return [
            f"{r.name}: {r.getMessage()[:300]} ({r.exc_info[0].__name__ if r.exc_info and r.exc_info[0] else ''})"
            for r in self.records
            if r.exc_info is not None or r.exc_text or "Traceback (most recent call last)" in r.getMessage()
        ]

    def mark(self) -> int:
        return len(self.records)

    def since(self, mark: int, *, level: int = logging.INFO, prefix: str = "") -> list[logging.LogRecord]:
        return [r for r in self.records[mark:] if r.levelno >= level and r.name.startswith(prefix)]


@asynccontextmanager
async def watching_logs() -> AsyncIterator[LogWatch]:
    watch = LogWatch()

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            watch.records.append(record)

    handler = Collect(logging.INFO)
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield watch
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


def _client(app: App) -> httpx.AsyncClient:
    web = create_web_app(app.web_deps)
    # raise_app_exceptions=False: an exception escaping the app is answered 500, as uvicorn would.
    transport = httpx.ASGITransport(app=web, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://prikbord.test", timeout=WAIT)


def wire_refusal_metric(app: App) -> None:
    """What bot/app.py wires: the adapters report refused input to the metrics."""
    for adapter in app.adapters.values():
        if isinstance(adapter, SlackAdapter | TelegramAdapter):
            adapter.on_refused(app.metrics.observe_refused)


def refused_metric(text: str, platform: str) -> float:
    """The sum of ``prikbord_refused_input_total`` for ``platform`` in a /metrics answer."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith("prikbord_refused_input_total{") and f'platform="{platform}"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


# -- Slack ----------------------------------------------------------------------------------------


@dataclass
class SlackSide:
    app: App
    peer: SlackPeer
    http: httpx.AsyncClient
    channel: str

    async def deliver(self, request: SignedRequest) -> httpx.Response:
        return await self.http.post("/slack/events", content=request.body, headers=request.headers)

    def signed(self, body: bytes, content_type: str = "application/json") -> SignedRequest:
        return SignedRequest({"Content-Type": content_type, **self.peer.sign(body)}, body)

    @property
    def adapter(self) -> SlackAdapter:
        adapter = self.app.adapters["slack"]
        assert isinstance(adapter, SlackAdapter)
        return adapter

    async def drained(self, timeout: float = 120.0) -> None:
        """Wait until the work the adapter took on after acknowledging requests has finished (stop()
        would cancel what is still running after 5 s, and a busy machine can have a thousand presses
        queued; that cancellation is not what these tests are about)."""
        await eventually(lambda: not self.adapter._work.busy, "the Slack adapter's accepted work", timeout)


def slack_settings(peer: SlackPeer, channel: str, moderator: str) -> Settings:
    return Settings.model_validate(
        {
            "timezone": "Europe/Amsterdam",
            "slack": {
                "bot_token": peer.bot_token,
                "signing_secret": peer.signing_secret,
                "api_base_url": peer.api_base_url,
            },
            "web": {"port": 0, "public_url": PUBLIC_URL, "admin_token": "poison-admin-token-0123456789"},
            "channels": [{"name": "algemeen", "platform": "slack", "chat_id": channel, "tags": ["everyone"]}],
            "moderation": {"moderators": [f"slack:{moderator}"]},
            "scheduler": {"enabled": False},
        }
    )


@asynccontextmanager
async def slack_side(store: Store, clock: FrozenClock) -> AsyncIterator[SlackSide]:
    async with SlackPeer(per_channel_rate=None, workspace_rate=None) as peer:
        channel = peer.add_channel("algemeen", members=("anna", "bram", "mod"))
        app = App(
            slack_settings(peer, channel, peer.add_user("mod")),
            clock=clock,
            store=store,
            console_output=Console(file=io.StringIO()),
        )
        wire_refusal_metric(app)
        await app.start()
        # The member lists read at start make identities of their own: in before any snapshot is taken.
        await asyncio.wait_for(app.audience.read_once.wait(), 30)
        try:
            async with _client(app) as http:
                yield SlackSide(app, peer, http, channel)
        finally:
            await app.stop()


# -- Telegram -------------------------------------------------------------------------------------


@dataclass
class TelegramSide:
    app: App
    peer: TelegramPeer
    http: httpx.AsyncClient | None

    async def deliver(self, body: bytes, secret: str | None = SECRET) -> httpx.Response:
        assert self.http is not None, "webhook mode only"
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers[SECRET_HEADER] = secret
        return await self.http.post("/telegram/webhook", content=body, headers=headers)

    @property
    def adapter(self) -> TelegramAdapter:
        adapter = self.app.adapters["telegram"]
        assert isinstance(adapter, TelegramAdapter)
        return adapter


def telegram_settings(peer: TelegramPeer, mode: str) -> Settings:
    telegram: dict[str, Any] = {"token": peer.token, "api_base_url": peer.api_base_url, "mode": mode}
    if mode == "webhook":
        telegram["webhook_secret"] = SECRET
    return Settings.model_validate(
        {
            "timezone": "Europe/Amsterdam",
            "telegram": telegram,
            "web": {"port": 0, "public_url": PUBLIC_URL, "admin_token": "poison-admin-token-0123456789"},
            "channels": [{"name": "kantoor", "platform": "telegram", "chat_id": str(GROUP), "tags": ["everyone"]}],
            "moderation": {"moderators": [f"telegram:{ANNA}"]},
            "scheduler": {"enabled": False},
        }
    )


@asynccontextmanager
async def telegram_side(store: Store, clock: FrozenClock, mode: str = "webhook") -> AsyncIterator[TelegramSide]:
    async with TelegramPeer(flood=FloodLimits.off()) as peer:
        peer.add_chat(GROUP, "supergroup", "Kantoor")
        peer.add_user(ANNA, "Anna", username="anna")
        peer.add_user(BRAM, "Bram", username="bram")
        app = App(telegram_settings(peer, mode), clock=clock, store=store, console_output=Console(file=io.StringIO()))
        wire_refusal_metric(app)
        await app.start()
        # The member lists read at start make identities of their own: in before any snapshot is taken.
        await asyncio.wait_for(app.audience.read_once.wait(), 30)
        # Telegram would POST to the public URL; the tests POST in-process instead.
        peer.webhook = None
        try:
            if mode == "webhook":
                async with _client(app) as http:
                    yield TelegramSide(app, peer, http)
            else:
                yield TelegramSide(app, peer, None)
        finally:
            await app.stop()


def telegram_user(user_id: int, name: str) -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": name}


def telegram_command(text: str, update_id: int, user_id: int = BRAM, message_id: int = 77) -> dict[str, Any]:
    command = text.split(" ", 1)[0]
    return {
        "update_id": update_id,
        "message": {
            "message_id": message_id,
            "date": 1_790_000_000,
            "chat": {"id": GROUP, "type": "supergroup", "title": "Kantoor"},
            "from": telegram_user(user_id, "Bram"),
            "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": len(command)}],
        },
    }


def telegram_press(update_id: int, message_id: int = 4040, data: str = "p1:like") -> dict[str, Any]:
    """A press under a message prikbord never sent."""
    return {
        "update_id": update_id,
        "callback_query": {
            "id": f"77000000000{update_id}",
            "from": telegram_user(BRAM, "Bram"),
            "message": {
                "message_id": message_id,
                "date": 1_790_000_000,
                "chat": {"id": GROUP, "type": "supergroup", "title": "Kantoor"},
                "text": "Nieuwe verlofregeling",
            },
            "chat_instance": "42",
            "data": data,
        },
    }


async def eventually(check: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.01)
