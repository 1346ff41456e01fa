"""Shared fixtures: stores on SQLite and on a real PostgreSQL, an App on the console adapter."""

from __future__ import annotations

import io
import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

import pytest
from rich.console import Console
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bot.app import App
from bot.clock import FrozenClock
from bot.config import Settings
from content.db import Store, async_url, create_store
from content.migrate import upgrade

pytest_plugins = ["tests.matrix_server"]  # the real Synapse homeserver fixtures

POSTGRES_ENV = "PRIKBORD_TEST_POSTGRES_URL"
REPO = Path(__file__).resolve().parent.parent


def postgres_url() -> str | None:
    return os.environ.get(POSTGRES_ENV) or None


def unavailable(under_ci: str, locally: str) -> NoReturn:
    """A real server or tool a test needs is not here: a failure under CI (where .ci/run provides every
    one, so nothing may skip), else a skip that says what to install."""
    if os.environ.get("CI"):
        pytest.fail(under_ci)
    pytest.skip(locally)


def require_postgres() -> str:
    url = postgres_url()
    if url is None:
        unavailable(
            f"{POSTGRES_ENV} is not set in CI: .ci/run must start PostgreSQL and set it",
            f"{POSTGRES_ENV} not set: PostgreSQL tests need a real server (.ci/run sets it)",
        )
    return url


async def _pg_schema_store(url: str) -> tuple[Store, str]:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(async_url(url))
    async with admin.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    await admin.dispose()
    return create_store(url, schema=schema), schema


async def _drop_schema(url: str, schema: str) -> None:
    admin = create_async_engine(async_url(url))
    async with admin.begin() as conn:
        await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    await admin.dispose()


@pytest.fixture
async def pg_store_factory() -> AsyncIterator[object]:
    """Makes extra stores on the same fresh PostgreSQL schema (two 'instances' of prikbord)."""
    url = require_postgres()
    first, schema = await _pg_schema_store(url)
    await upgrade(first)
    made = [first]

    def another() -> Store:
        store = create_store(url, schema=schema)
        made.append(store)
        return store

    yield first, another
    for store in made:
        await store.close()
    await _drop_schema(url, schema)


@pytest.fixture(params=["sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """A migrated, empty store on each backend."""
    if request.param == "sqlite":
        made = create_store(f"sqlite:///{tmp_path / 'test.db'}")
        await upgrade(made)
        yield made
        await made.close()
        return
    url = require_postgres()
    made, schema = await _pg_schema_store(url)
    await upgrade(made)
    yield made
    await made.close()
    await _drop_schema(url, schema)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2026, 11, 30, 9, 0, tzinfo=UTC))


def console_settings(**overrides: object) -> Settings:
    base: dict[str, object] = {
        "timezone": "Europe/Amsterdam",
        "console": {"enabled": True},
        "moderation": {"moderators": ["console:mod"]},
    }
    base.update(overrides)
    return Settings(**base)  # type: ignore[arg-type]


class ConsoleApp:
    """An App on the console adapter, driven line by line like a person typing."""

    def __init__(self, app: App, output: io.StringIO) -> None:
        self.app = app
        self.output = output

    @property
    def console(self):  # type: ignore[no-untyped-def]
        from adapters.console.adapter import ConsoleAdapter

        adapter = self.app.adapters["console"]
        assert isinstance(adapter, ConsoleAdapter)
        return adapter

    async def say(self, *lines: str) -> None:
        for line in lines:
            await self.console.feed(line)

    def replies_to(self, user: str) -> list[str]:
        return [text for who, text in self.console.private if who == user]


@pytest.fixture
async def console_app(store: Store, clock: FrozenClock) -> AsyncIterator[ConsoleApp]:
    output = io.StringIO()
    app = App(
        console_settings(),
        clock=clock,
        store=store,
        console_output=Console(file=output, width=120),
        counter_debounce=0.0,
    )
    await app.start()
    try:
        yield ConsoleApp(app, output)
    finally:
        await app.stop()
