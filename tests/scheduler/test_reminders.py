"""Must-read reminders reach exactly those who have not acknowledged, respect opt-out and personal
quiet hours, are never sent twice (not even after a restart), and the moderators get the summary."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot.clock import FrozenClock
from content.db import Store
from content.models import Reminder
from tests.scheduler.conftest import Harness, settings, start_harness

START = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)  # Monday 09:00 in Amsterdam
DEADLINE = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)  # Wednesday 10:00 in Amsterdam
REMIND = DEADLINE - timedelta(hours=24)  # Tuesday 10:00 in Amsterdam
CARLA_QUIET_ENDS = datetime(2026, 12, 1, 11, 0, tzinfo=UTC)  # Tuesday 12:00 in Amsterdam
PEOPLE = ("mod", "anna", "bram", "carla", "dirk", "erik", "frank")


def reminded(h: Harness) -> dict[str, int]:
    return {who: len(h.private_to(who)) for who in PEOPLE if h.private_to(who)}


async def _setup(h: Harness) -> None:
    await h.say(
        "mod: /mine",
        "mod: /post Nieuwe verlofregeling | Vanaf januari. | cta: acknowledge by 2026-12-02 10:00",
        "anna: /ack 1",
        "bram: /optout reminders",
        "carla: /quiet 09:00-12:00",
        "dirk: /mine",
        "erik: /mine",
        "frank: /optout all",
    )


async def test_reminders_reach_exactly_those_who_have_not_acknowledged(store: Store) -> None:
    clock = FrozenClock(START)
    h = await start_harness(store, clock, settings(reminders={"before": "24h"}))
    try:
        await _setup(h)
        assert {"remind:1", "summary:1"} <= set(await h.scheduler.job_ids())

        clock.set(REMIND - timedelta(seconds=1))
        await h.tick()
        assert reminded(h) == {}

        clock.set(REMIND)
        await h.tick()
        # anna acknowledged, bram and frank opted out, carla is in her quiet hours (09:00-12:00 local).
        assert reminded(h) == {"mod": 1, "dirk": 1, "erik": 1}
        [text] = h.private_to("dirk")
        assert "#1 “Nieuwe verlofregeling” is a must-read, due Wed 02 Dec 10:00" in text and "ack 1" in text

        clock.set(CARLA_QUIET_ENDS - timedelta(minutes=1))
        await h.tick()
        assert "carla" not in reminded(h)
        clock.set(CARLA_QUIET_ENDS)
        await h.tick()
        assert reminded(h) == {"mod": 1, "carla": 1, "dirk": 1, "erik": 1}
    finally:
        await h.stop()

    # A restart in the middle of it all sends nothing again.
    again = await start_harness(store, clock, settings(reminders={"before": "24h"}))
    try:
        await again.tick()
        assert reminded(again) == {}
        async with store.sessions() as session:
            states = {r.key: r.state for r in (await session.execute(select(Reminder))).scalars()}
        assert states == {
            "round:1": "sent",
            "reminder:1:1": "sent",  # mod
            "reminder:1:3": "opted_out",  # bram
            "reminder:1:4": "sent",  # carla, after her quiet hours
            "reminder:1:5": "sent",
            "reminder:1:6": "sent",
            "reminder:1:7": "opted_out",  # frank: optout all
        }

        # At the deadline the moderators hear how many of the people reached acknowledged.
        await again.say("erik: /ack 1")
        clock.set(DEADLINE)
        await again.tick()
        summaries = [t for t in again.told() if "acknowledged by the deadline" in t]
        assert summaries == ["⚠ #1 “Nieuwe verlofregeling”: 2 of 7 acknowledged by the deadline (Wed 02 Dec 10:00)"]
        clock.advance(hours=1)
        await again.tick()
        assert len([t for t in again.told() if "acknowledged by the deadline" in t]) == 1
    finally:
        await again.stop()


async def test_someone_who_acknowledges_while_waiting_for_quiet_hours_gets_no_reminder(store: Store) -> None:
    clock = FrozenClock(START)
    h = await start_harness(store, clock, settings(reminders={"before": "24h"}))
    try:
        await _setup(h)
        clock.set(REMIND)
        await h.tick()
        await h.say("carla: /ack 1")
        clock.set(CARLA_QUIET_ENDS)
        await h.tick()
        assert "carla" not in reminded(h)
    finally:
        await h.stop()


async def test_no_reminder_when_the_post_comes_later_than_the_reminder_time(store: Store) -> None:
    clock = FrozenClock(START)
    h = await start_harness(store, clock, settings(reminders={"before": "3d"}))
    try:
        await _setup(h)  # published Monday; a reminder 3 days before Wednesday would precede it
        assert "remind:1" not in await h.scheduler.job_ids()
        clock.set(DEADLINE)
        await h.tick()
        assert reminded(h) == {}
        assert any("1 of 7 acknowledged" in t for t in h.told())
    finally:
        await h.stop()


async def test_people_never_seen_in_the_channel_get_no_reminder(store: Store) -> None:
    """Reach is the channel's members when it received the post (here: who spoke in it), not everyone who
    has an account on the platform."""
    from content.people import ensure_identity

    clock = FrozenClock(START)
    h = await start_harness(store, clock, settings(reminders={"before": "24h"}))
    try:
        async with store.transaction() as session:  # known to prikbord (e.g. from the directory), never there
            await ensure_identity(session, "console", "zoe", "zoe", START)
        await _setup(h)
        clock.set(REMIND)
        await h.tick()
        assert reminded(h) == {"mod": 1, "dirk": 1, "erik": 1}
        clock.set(DEADLINE)
        await h.tick()
        assert any("1 of 7 acknowledged" in t for t in h.told())  # zoe is not among the people reached
    finally:
        await h.stop()
