"""The admin API publishes through the app's one PublishingService: a post submitted for review
reaches the moderators, and API posts respect quiet hours like chat posts do."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from adapters.console.adapter import ConsoleAdapter
from bot.clock import FrozenClock
from bot.web import create_web_app
from content.db import Store
from tests.web.conftest import AUTH, PUBLIC_URL, build_app, web_settings


async def _client(
    store: Store, clock: FrozenClock, **settings: object
) -> AsyncIterator[tuple[httpx.AsyncClient, ConsoleAdapter]]:
    app = build_app(store, clock, web_settings(**settings))
    await app.start()
    console = app.adapters["console"]
    assert isinstance(console, ConsoleAdapter)
    transport = httpx.ASGITransport(app=create_web_app(app.web_deps))
    try:
        async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL, headers=AUTH) as client:
            yield client, console
    finally:
        await app.stop()


@pytest.fixture
async def daytime(store: Store) -> AsyncIterator[tuple[httpx.AsyncClient, ConsoleAdapter]]:
    # 10:00 in Amsterdam, outside the quiet hours below.
    async for pair in _client(store, FrozenClock(datetime(2026, 11, 30, 9, 0, tzinfo=UTC))):
        yield pair


@pytest.fixture
async def at_night(store: Store) -> AsyncIterator[tuple[httpx.AsyncClient, ConsoleAdapter]]:
    # 23:00 in Amsterdam, inside 20:00–07:00.
    clock = FrozenClock(datetime(2026, 11, 30, 22, 0, tzinfo=UTC))
    async for pair in _client(store, clock, quiet_hours={"start": "20:00", "end": "07:00"}):
        yield pair


async def test_a_post_for_review_waits_and_the_moderators_are_told(
    daytime: tuple[httpx.AsyncClient, ConsoleAdapter],
) -> None:
    client, console = daytime
    created = await client.post("/api/posts", json={"title": "Kerstborrel", "body": "Wie komt?", "review": True})
    assert created.status_code == 201, created.text
    post = created.json()
    assert post["state"] == "pending"
    told = [text for user, text in console.private if user == "mod"]
    assert any(f"#{post['id']}" in text and "waiting for approval" in text for text in told), told
    # Approving it publishes it; nothing was sent before.
    assert post["deliveries"] == {}
    approved = await client.post(f"/api/posts/{post['id']}/approve")
    assert approved.status_code == 200 and approved.json()["state"] == "published"


async def test_a_post_published_directly_tells_nobody(daytime: tuple[httpx.AsyncClient, ConsoleAdapter]) -> None:
    client, console = daytime
    created = await client.post("/api/posts", json={"title": "Lunch", "body": "Soep"})
    assert created.status_code == 201 and created.json()["state"] == "published"
    assert not [text for user, text in console.private if user == "mod" and "approval" in text]


async def test_an_api_post_inside_quiet_hours_is_held_until_they_end(
    at_night: tuple[httpx.AsyncClient, ConsoleAdapter],
) -> None:
    client, console = at_night
    created = await client.post("/api/posts", json={"title": "Nieuwsbrief", "body": "Morgen meer"})
    assert created.status_code == 201, created.text
    post = created.json()
    assert post["state"] == "scheduled"
    # Held until 07:00 Amsterdam = 06:00 UTC the next day.
    assert datetime.fromisoformat(post["publish_at"]).astimezone(UTC) == datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
    assert any("quiet hours" in text for user, text in console.private if user == "mod")
    urgent = await client.post("/api/posts", json={"title": "Storing", "body": "Nu", "urgent": True})
    assert urgent.status_code == 201 and urgent.json()["state"] == "published"
