"""A scheduler harness: an App on the console adapter with the scheduler pieces built on its parts,
a frozen clock, and no background due-post loop (time moves only when a test moves it)."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from rich.console import Console
from sqlalchemy import func, select

from adapters.console.adapter import ConsoleAdapter
from bot.app import App
from bot.clock import FrozenClock
from bot.config import Settings
from bot.services.publishing import ModerationPolicy, PublishingService
from bot.services.reminders import ReminderService
from bot.services.status import StatusPostService
from content.db import Store
from content.models import Post
from scheduler.ports import StatusRunner
from scheduler.service import SchedulerOptions, SchedulerService
from tests.conftest import console_settings

AMS_MONDAY_9 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)  # Monday 30 Nov 2026, 09:00 in Amsterdam


def settings(**overrides: object) -> Settings:
    return console_settings(**overrides)


@dataclass
class Harness:
    app: App
    clock: FrozenClock
    publishing: PublishingService
    status: StatusPostService
    reminders: ReminderService
    scheduler: SchedulerService

    @property
    def console(self) -> ConsoleAdapter:
        adapter = self.app.adapters["console"]
        assert isinstance(adapter, ConsoleAdapter)
        return adapter

    async def settle(self) -> None:
        """Deliveries sent and counters flushed — but no publish_due: only the scheduler publishes."""
        await self.app.dispatcher.settle()
        await self.app.counters.flush()
        await self.app.audience.flush()  # who was seen in the channel: the reminders' reach

    async def tick(self) -> None:
        await self.scheduler.tick()
        await self.settle()

    async def say(self, *lines: str) -> None:
        for line in lines:
            await self.console.feed(line)

    def told(self) -> list[str]:
        """What the moderators were told (console user `mod`, ⚠ messages)."""
        return [text for who, text in self.console.private if who == "mod" and text.startswith("⚠")]

    def private_to(self, user: str, starting: str = "Reminder:") -> list[str]:
        return [text for who, text in self.console.private if who == user and text.startswith(starting)]

    async def posts(self, source: str | None = None) -> list[Post]:
        async with self.app.store.sessions() as session:
            statement = select(Post).order_by(Post.id)
            if source is not None:
                statement = statement.where(Post.source == source)
            return list((await session.execute(statement)).scalars())

    async def count_posts(self) -> int:
        async with self.app.store.sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(Post)) or 0)

    async def stop(self) -> None:
        await self.scheduler.stop()
        await self.console.stop()
        await self.app.stop()


async def start_harness(
    store: Store,
    clock: FrozenClock,
    config: Settings | None = None,
    *,
    options: SchedulerOptions | None = None,
    http: httpx.AsyncClient | None = None,
    env: Mapping[str, str] | None = None,
    status_wrapper: Any = None,
    start_scheduler: bool = True,
) -> Harness:
    config = config or settings()
    app = App(
        config, clock=clock, store=store, console_output=Console(file=io.StringIO(), width=120), counter_debounce=0.0
    )
    # App.start without its due-post loop: in these tests only the scheduler publishes.
    await app.prepare_store()
    await app.engagement.start()
    await app.dispatcher.start()
    quiet = config.quiet_hours.window(config.timezone)
    publishing = PublishingService(
        app.store,
        app.clock,
        app.adapters,
        app.composer,
        ModerationPolicy(config.moderation.require_call_to_action, config.moderation.open_posting),
        app.dispatcher.wake,
        quiet_hours=quiet,
        tell_moderators=app.notifier.tell,
    )
    status = StatusPostService(
        config.status_posts,
        app.store,
        publishing,
        app.notifier.tell,
        clock,
        config.timezone,
        http=http,
        env=env,
        retry_wait=0.01,
    )
    reminders = ReminderService(
        app.store,
        clock,
        app.adapters,
        app.notifier.tell,
        app.zone,
        config.reminders.before,
        enabled=config.reminders.enabled,
    )
    runner: StatusRunner = status_wrapper(status) if status_wrapper is not None else status
    scheduler = SchedulerService(
        app.store,
        clock,
        publishing,
        status=runner,
        reminders=reminders,
        tell=app.notifier.tell,
        options=options or SchedulerOptions(sweep_interval=3600, leader_retry=0.2),
    )
    # Commands typed in the console go through app.publishing: it reports changes too.
    for service in (publishing, app.publishing):
        service.on_change(scheduler.post_changed)
    harness = Harness(app, clock, publishing, status, reminders, scheduler)
    console = harness.console
    console.set_settle(harness.settle)
    await console.start(app.inbound)
    if start_scheduler:
        await scheduler.start()
    return harness


def ids_of(posts: Sequence[Post]) -> list[int]:
    return [p.id for p in posts]
