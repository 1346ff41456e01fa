"""Quiet hours: the window arithmetic, and non-urgent posts held until the quiet ends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.clock import FrozenClock
from bot.services.drafts import PostDraft
from bot.services.roles import Role
from content.db import Store
from content.models import PostState
from scheduler.quiet import QuietHours
from tests.scheduler.conftest import settings, start_harness

AMS = ZoneInfo("Europe/Amsterdam")


def ams(*args: int) -> datetime:
    return datetime(*args, tzinfo=AMS)  # type: ignore[misc]


NIGHTS = QuietHours.parse("18:00", "08:00", "Europe/Amsterdam")


@pytest.mark.parametrize(
    ("moment", "quiet", "ends"),
    [
        (ams(2026, 11, 30, 12, 0), False, ams(2026, 11, 30, 12, 0)),
        (ams(2026, 11, 30, 18, 0), True, ams(2026, 12, 1, 8, 0)),
        (ams(2026, 11, 30, 22, 0), True, ams(2026, 12, 1, 8, 0)),
        (ams(2026, 12, 1, 3, 0), True, ams(2026, 12, 1, 8, 0)),
        (ams(2026, 12, 1, 8, 0), False, ams(2026, 12, 1, 8, 0)),
        # The night the clocks go back (25 Oct 2026): 08:00 local is 07:00 UTC again.
        (ams(2026, 10, 24, 23, 0), True, datetime(2026, 10, 25, 7, 0, tzinfo=UTC)),
    ],
)
def test_nightly_window_crossing_midnight(moment: datetime, quiet: bool, ends: datetime) -> None:
    assert NIGHTS is not None
    assert NIGHTS.contains(moment) is quiet
    assert NIGHTS.end_after(moment) == ends


def test_weekends_are_quiet_all_day() -> None:
    weekends = QuietHours.parse("18:00", "08:00", "Europe/Amsterdam", weekends=True)
    assert weekends is not None
    friday_evening, saturday_noon = ams(2026, 12, 4, 20, 0), ams(2026, 12, 5, 12, 0)
    assert weekends.contains(saturday_noon)
    assert weekends.end_after(friday_evening) == ams(2026, 12, 7, 8, 0)  # Monday 08:00
    assert weekends.end_after(saturday_noon) == ams(2026, 12, 7, 8, 0)
    only_weekends = QuietHours.parse(None, None, "Europe/Amsterdam", weekends=True)
    assert only_weekends is not None and only_weekends.end_after(saturday_noon) == ams(2026, 12, 7, 0, 0)


def test_a_daytime_window_and_no_window() -> None:
    lunch = QuietHours.parse("12:00", "13:00", "Europe/Amsterdam")
    assert (
        lunch is not None and lunch.contains(ams(2026, 12, 1, 12, 30)) and not lunch.contains(ams(2026, 12, 1, 13, 0))
    )
    assert QuietHours.parse(None, None, "UTC") is None
    assert QuietHours.parse("08:00", "08:00", "UTC") is None


QUIET = {"start": "18:00", "end": "08:00", "timezone": "Europe/Amsterdam"}


async def test_a_non_urgent_post_due_at_22_waits_until_quiet_hours_end_and_an_urgent_one_does_not(
    store: Store,
) -> None:
    clock = FrozenClock(ams(2026, 11, 30, 20, 0).astimezone(UTC))
    h = await start_harness(store, clock, settings(quiet_hours=QUIET))
    try:
        at_22 = ams(2026, 11, 30, 22, 0).astimezone(UTC)
        normal = await h.publishing.create(
            PostDraft(title="Nieuwsbrief", body="Lees maar", publish_at=at_22), "console:mod", Role.MODERATOR
        )
        urgent = await h.publishing.create(
            PostDraft(title="Storing", body="VPN ligt eruit", publish_at=at_22, urgent=True),
            "console:mod",
            Role.MODERATOR,
        )
        morning = ams(2026, 12, 1, 8, 0).astimezone(UTC)
        assert normal.state == PostState.SCHEDULED and normal.publish_at == morning
        assert urgent.state == PostState.SCHEDULED and urgent.publish_at == at_22
        assert any(f"#{normal.id}" in t and "held until Tue 01 Dec 08:00" in t for t in h.told())

        clock.set(at_22)
        await h.tick()
        states = {p.id: p.state for p in await h.posts()}
        assert states == {normal.id: PostState.SCHEDULED, urgent.id: PostState.PUBLISHED}

        clock.set(morning - timedelta(minutes=1))
        await h.tick()
        assert {p.id: p.state for p in await h.posts()}[normal.id] == PostState.SCHEDULED
        clock.set(morning)
        await h.tick()
        published = {p.id: p.published_at for p in await h.posts()}
        assert published == {normal.id: morning, urgent.id: at_22}
        assert len(h.console.messages) == 2
    finally:
        await h.stop()


async def test_a_post_published_now_inside_quiet_hours_is_held(store: Store) -> None:
    clock = FrozenClock(ams(2026, 11, 30, 23, 15).astimezone(UTC))
    h = await start_harness(store, clock, settings(quiet_hours=QUIET))
    try:
        post = await h.publishing.create(PostDraft(title="Late nieuws", body="x"), "console:mod", Role.MODERATOR)
        assert post.state == PostState.SCHEDULED
        assert post.publish_at == ams(2026, 12, 1, 8, 0).astimezone(UTC)
        assert any("held until" in t for t in h.told())
        await h.tick()
        assert not h.console.messages
        now = await h.publishing.create(PostDraft(title="Brand", body="x", urgent=True), "console:mod", Role.MODERATOR)
        assert now.state == PostState.PUBLISHED
    finally:
        await h.stop()


async def test_a_scheduled_post_falling_due_in_quiet_hours_set_up_later_is_held_then(store: Store) -> None:
    """Scheduled before quiet hours were configured: held when it falls due."""
    clock = FrozenClock(ams(2026, 11, 30, 12, 0).astimezone(UTC))
    first = await start_harness(store, clock)
    post = await first.publishing.create(
        PostDraft(title="Avondpost", body="x", publish_at=ams(2026, 11, 30, 21, 0).astimezone(UTC)),
        "console:mod",
        Role.MODERATOR,
    )
    await first.stop()
    second = await start_harness(store, clock, settings(quiet_hours=QUIET))
    try:
        clock.set(ams(2026, 11, 30, 21, 0).astimezone(UTC))
        await second.tick()
        [held] = await second.posts()
        assert held.id == post.id and held.state == PostState.SCHEDULED
        assert held.publish_at == ams(2026, 12, 1, 8, 0).astimezone(UTC)
        clock.set(held.publish_at)
        await second.tick()
        assert (await second.posts())[0].state == PostState.PUBLISHED
    finally:
        await second.stop()
