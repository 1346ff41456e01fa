"""What the scheduler needs from the rest of prikbord, as structural interfaces.

``scheduler`` depends on ``content`` only (DESIGN: bot → scheduler → content); the services in ``bot/``
satisfy these protocols without importing anything from here but the small data types.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

Tell = Callable[[str], Awaitable[object]]
"""Tell the moderators something (``ModeratorNotifier.tell``)."""


class Clock(Protocol):
    def now(self) -> datetime:
        """The current moment, timezone-aware UTC."""


class Publisher(Protocol):
    async def publish_due(self) -> list[int]: ...

    async def expire_due(self) -> list[int]: ...


@dataclass(frozen=True, slots=True)
class StatusSchedule:
    name: str
    cron: str  # crontab syntax
    zone: str
    misfire_grace: int  # seconds a firing may be late and still post (APScheduler wants an int)


class StatusRunner(Protocol):
    def schedules(self) -> Sequence[StatusSchedule]: ...

    async def run(self, name: str, fire_time: datetime) -> object:
        """Gather, render and post the status post of one firing (at most one post per firing)."""

    async def posted(self, name: str, fire_time: datetime) -> bool: ...


@dataclass(frozen=True, slots=True)
class FollowUp:
    """A must-read's reminder round or deadline summary, due at ``at``."""

    kind: Literal["remind", "summary"]
    post_id: int
    at: datetime


class ReminderRunner(Protocol):
    async def follow_ups(self, post_ids: Sequence[int] | None = None) -> list[FollowUp]:
        """What is still to do for must-reads with a deadline (all of them, or only ``post_ids``)."""

    async def remind(self, post_id: int) -> datetime | None:
        """Send the reminders that are due; returns when to come back (people in quiet hours) or None."""

    async def summarize(self, post_id: int) -> object: ...
