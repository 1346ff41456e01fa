"""The job functions APScheduler stores: importable, module-level, and given ids only.

A stored job is ``(function reference, kwargs)``; its kwargs hold ids (``post_id``, ``name``) and the
id string of a context (``context="prikbord"``), never objects, so a job pickled by one process runs
in another. When a job runs, the scheduler's executor (``scheduler/engine.py``) replaces that string by
the :class:`JobContext` registered under it and adds ``fire_time``, the firing the run is for.
The context is the only way a job reaches services; there are no module-level singletons.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from scheduler.ports import Clock, FollowUp, ReminderRunner, StatusRunner, Tell

log = logging.getLogger("prikbord.scheduler")


class JobHost(Protocol):
    """The scheduler service, as jobs see it."""

    async def publish_now(self) -> None: ...

    async def sweep(self) -> None: ...

    async def schedule_follow_up(self, follow_up: FollowUp) -> None: ...


@dataclass(frozen=True)
class JobContext:
    """The registry a job reaches services through; handed to each job by the executor."""

    host: JobHost
    clock: Clock
    status: StatusRunner | None = None
    reminders: ReminderRunner | None = None
    tell: Tell | None = None


async def publish_post(context: JobContext, post_id: int, fire_time: datetime | None = None) -> None:
    """A scheduled post's time has come: publish what is due (this post among them)."""
    await context.host.publish_now()


async def sweep(context: JobContext, fire_time: datetime | None = None) -> None:
    """The safety net: publish due posts, close expired ones, make sure near jobs exist."""
    await context.host.sweep()


async def run_status_post(context: JobContext, name: str, fire_time: datetime | None = None) -> None:
    if context.status is None:
        log.error("status post %s fired, but this instance has no status posts configured", name)
        return
    await context.status.run(name, fire_time or context.clock.now())


async def send_reminders(context: JobContext, post_id: int, fire_time: datetime | None = None) -> None:
    if context.reminders is None:
        return
    again = await context.reminders.remind(post_id)
    if again is not None:  # some people were in their quiet hours
        await context.host.schedule_follow_up(FollowUp("remind", post_id, again))


async def summarize_deadline(context: JobContext, post_id: int, fire_time: datetime | None = None) -> None:
    if context.reminders is not None:
        await context.reminders.summarize(post_id)
