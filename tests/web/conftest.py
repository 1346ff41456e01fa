"""An App with the web app on: the console adapter plus an in-memory "slack" adapter (so posts go
to two platforms), an httpx client speaking to it over ASGI, and a live uvicorn server on loopback
(in a thread of its own) for the browser and schemathesis."""

from __future__ import annotations

import asyncio
import io
import re
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from concurrent.futures import Future
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from rich.console import Console
from starlette.types import ASGIApp

from adapters.base import (
    Adapter,
    ChatRef,
    CommandIssued,
    EventSink,
    HttpReply,
    Limits,
    MessageRef,
    OutboundMessage,
    UserRef,
)
from adapters.console.adapter import ConsoleAdapter
from bot.app import App
from bot.clock import FrozenClock
from bot.config import Settings
from bot.services.engagement import Request
from bot.web import Metrics, WebServer, create_web_app
from content.db import Store, create_store
from content.migrate import upgrade
from tests.conftest import _drop_schema, _pg_schema_store, require_postgres

TOKEN = "test-admin-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PUBLIC_URL = "http://prikbord.test"
T = TypeVar("T")


class MemorySlack(Adapter):
    """Stands in for Slack: keeps what it was sent, answers webhooks with what it got."""

    platform = "slack"
    limits = Limits(text_length=3000, edit_interval=0.0)

    def __init__(self) -> None:
        self.sent: dict[str, OutboundMessage] = {}
        self.webhooks: list[tuple[Mapping[str, str], bytes]] = []

    async def start(self, sink: EventSink) -> None:
        self.sink = sink

    async def stop(self) -> None:
        return None

    async def send(self, chat: ChatRef, message: OutboundMessage) -> MessageRef:
        ref = MessageRef(chat, f"ts{len(self.sent) + 1}")
        self.sent[ref.message_id] = message
        return ref

    async def edit(self, ref: MessageRef, message: OutboundMessage) -> None:
        self.sent[ref.message_id] = message

    async def delete(self, ref: MessageRef) -> None:
        self.sent.pop(ref.message_id, None)

    async def reply(self, command: CommandIssued, text: str, private: bool = True) -> None:
        return None

    async def handle_http(self, headers: Mapping[str, str], body: bytes) -> HttpReply:
        self.webhooks.append((headers, body))
        return HttpReply(200, b'{"ok":true}', "application/json")


def web_settings(**overrides: Any) -> Settings:
    base: dict[str, Any] = {
        "timezone": "Europe/Amsterdam",
        "console": {"enabled": True},
        "moderation": {"moderators": ["console:mod"]},
        "web": {"port": 0, "admin_token": TOKEN, "public_url": PUBLIC_URL},
        "channels": [{"name": "general", "platform": "slack", "chat_id": "C01", "tags": ["everyone", "nl"]}],
    }
    base.update(overrides)
    return Settings(**base)


def build_app(store: Store, clock: FrozenClock, settings: Settings | None = None) -> App:
    adapters: dict[str, Adapter] = {
        "console": ConsoleAdapter(output=Console(file=io.StringIO(), width=120)),
        "slack": MemorySlack(),
    }
    return App(settings or web_settings(), clock=clock, store=store, adapters=adapters, counter_debounce=0.0)


class WebHarness:
    def __init__(
        self, app: App, asgi: ASGIApp, metrics: Metrics, client: httpx.AsyncClient, clock: FrozenClock
    ) -> None:
        self.app = app
        self.asgi = asgi
        self.metrics = metrics
        self.client = client
        self.clock = clock

    @property
    def slack(self) -> MemorySlack:
        adapter = self.app.adapters["slack"]
        assert isinstance(adapter, MemorySlack)
        return adapter

    def browser(self, **headers: str) -> httpx.AsyncClient:
        """A client of its own: no admin token, its own cookies (a person's browser)."""
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.asgi), base_url=PUBLIC_URL, headers=headers)

    async def react(self, post_id: int, user: str, action: str, platform: str = "console") -> str:
        result = await self.app.engagement.submit(
            Request(platform, None, UserRef(platform, user, user.title()), action, post_id=post_id)
        )
        await self.app.settle()
        return result.text


@pytest.fixture
async def web(store: Store) -> AsyncIterator[WebHarness]:
    clock = FrozenClock(datetime(2026, 11, 30, 9, 0, tzinfo=UTC))
    app = build_app(store, clock)
    await app.start()
    metrics = app.metrics
    asgi = create_web_app(app.web_deps)
    transport = httpx.ASGITransport(app=asgi)
    async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL, headers=AUTH) as client:
        try:
            yield WebHarness(app, asgi, metrics, client, clock)
        finally:
            await app.stop()


class LiveServer:
    """prikbord with its web app on a real socket, run in a thread with its own event loop, so a
    synchronous client (a browser, schemathesis) can talk to it while a test drives it."""

    def __init__(self, db_path: Path, postgres_url: str | None = None) -> None:
        self._db = db_path
        self._postgres = postgres_url
        self._loop = asyncio.new_event_loop()
        self._ready: Future[None] = Future()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="live-prikbord", daemon=True)
        self.port = 0
        self.app: App | None = None
        self.clock = FrozenClock(datetime.now(UTC).replace(microsecond=0))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LiveServer:
        self._thread.start()
        self._ready.result(timeout=60)
        return self

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._main())

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        schema: str | None = None
        try:
            if self._postgres:
                store, schema = await _pg_schema_store(self._postgres)
            else:
                store = create_store(f"sqlite:///{self._db}")
            await upgrade(store)
            settings = web_settings(web={"port": 0, "admin_token": TOKEN, "public_url": "http://127.0.0.1"})
            self.app = build_app(store, self.clock, settings)
            await self.app.start()
            server = WebServer(create_web_app(self.app.web_deps), "127.0.0.1", 0)
            await server.start()
            self.port = server.port
        except BaseException as exc:
            self._ready.set_exception(exc)
            raise
        self._ready.set_result(None)
        await self._stop.wait()
        await server.stop()
        await self.app.stop()
        await store.close()
        if self._postgres and schema:
            await _drop_schema(self._postgres, schema)

    def call(self, make: Callable[[App], Awaitable[T]], timeout: float = 60) -> T:
        """Run a coroutine on the server's loop (to set up data or simulate people) and wait for it."""
        assert self.app is not None
        app = self.app

        async def run() -> T:
            return await make(app)

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout)

    def stop(self) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=60)


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    """On SQLite (the browser test's server)."""
    server = LiveServer(tmp_path / "live.db").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "postgres"])
def live_server_each(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LiveServer]:
    """On SQLite and on PostgreSQL."""
    url = require_postgres() if request.param == "postgres" else None
    server = LiveServer(tmp_path / "live.db", url).start()
    try:
        yield server
    finally:
        server.stop()


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


Admin = tuple[httpx.AsyncClient, str]


@pytest.fixture
async def admin(web: WebHarness) -> AsyncIterator[Admin]:
    """A browser signed in to the dashboard, and its session's CSRF token."""
    async with web.browser() as browser:
        page = await browser.get("/login")
        response = await browser.post("/login", data={"csrf": csrf_of(page.text), "token": TOKEN})
        assert response.status_code == 303 and response.headers["location"] == "/"
        yield browser, csrf_of((await browser.get("/compose")).text)
