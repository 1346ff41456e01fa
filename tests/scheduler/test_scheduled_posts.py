"""Scheduled posts: published at their time and not before, kept in the job store across restarts,
cancelled by a retract. SQLite and PostgreSQL, with a frozen clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from bot.clock import FrozenClock
from bot.services.drafts import PostDraft
from bot.services.roles import Role
from content.db import Store
from content.models import PostState
from tests.scheduler.conftest import AMS_MONDAY_9, start_harness


async def _scheduled(harness_publishing, at: datetime, title: str = "Dagstart") -> int:  # type: ignore[no-untyped-def]
    post = await harness_publishing.create(
        PostDraft(title=title, body="Koffie", publish_at=at), "console:mod", Role.MODERATOR
    )
    assert post.state == PostState.SCHEDULED
    return int(post.id)


async def test_published_at_its_time_and_not_before(store: Store) -> None:
    clock = FrozenClock(AMS_MONDAY_9)
    h = await start_harness(store, clock)
    try:
        await h.say("mod: /schedule in 2h | Dagstart | Koffie staat klaar | cta: like")
        [post] = await h.posts()
        assert post.state == PostState.SCHEDULED and post.publish_at == AMS_MONDAY_9 + timedelta(hours=2)
        assert f"post:{post.id}" in await h.scheduler.job_ids()

        clock.set(post.publish_at - timedelta(seconds=1))
        await h.tick()
        [post] = await h.posts()
        assert post.state == PostState.SCHEDULED
        assert not h.console.messages

        clock.set(post.publish_at)
        await h.tick()
        [post] = await h.posts()
        assert post.state == PostState.PUBLISHED and post.published_at == post.publish_at
        assert any("Dagstart" in m for m in h.console.messages.values())
        assert f"post:{post.id}" not in await h.scheduler.job_ids()  # a date job runs once
    finally:
        await h.stop()


async def test_scheduled_post_survives_a_restart(store: Store) -> None:
    clock = FrozenClock(AMS_MONDAY_9)
    due = AMS_MONDAY_9 + timedelta(days=1)
    first = await start_harness(store, clock)
    post_id = await _scheduled(first.publishing, due)
    await first.stop()

    # The job is in the database, not in the stopped process.
    async with store.engine.connect() as connection:
        rows = (await connection.execute(text("SELECT id, next_run_time FROM apscheduler_jobs"))).all()
    assert (f"post:{post_id}", due.timestamp()) in [(r[0], r[1]) for r in rows]

    clock.set(due - timedelta(minutes=1))
    second = await start_harness(store, clock)  # a new App and scheduler on the same database
    try:
        await second.tick()
        assert (await second.posts())[0].state == PostState.SCHEDULED
        clock.set(due)
        await second.tick()
        [post] = await second.posts()
        assert post.state == PostState.PUBLISHED and post.published_at == due
        assert len(second.console.messages) == 1
    finally:
        await second.stop()


async def test_a_post_due_while_no_scheduler_ran_goes_out_at_the_restart(store: Store) -> None:
    clock = FrozenClock(AMS_MONDAY_9)
    first = await start_harness(store, clock)
    await _scheduled(first.publishing, AMS_MONDAY_9 + timedelta(hours=1))
    await first.stop()
    clock.advance(hours=5)  # down for hours: a scheduled post is never dropped (no misfire grace)
    second = await start_harness(store, clock)
    try:
        await second.tick()
        [post] = await second.posts()
        assert post.state == PostState.PUBLISHED and post.published_at == clock.now()
    finally:
        await second.stop()


async def test_retracting_a_scheduled_post_removes_its_job(store: Store) -> None:
    clock = FrozenClock(AMS_MONDAY_9)
    h = await start_harness(store, clock)
    try:
        post_id = await _scheduled(h.publishing, AMS_MONDAY_9 + timedelta(hours=1))
        assert f"post:{post_id}" in await h.scheduler.job_ids()
        await h.say(f"mod: /retract {post_id}")
        assert f"post:{post_id}" not in await h.scheduler.job_ids()
        clock.advance(hours=2)
        await h.tick()
        [post] = await h.posts()
        assert post.state == PostState.RETRACTED and not h.console.messages
    finally:
        await h.stop()


async def test_the_sweep_publishes_posts_scheduled_without_a_running_scheduler(store: Store) -> None:
    clock = FrozenClock(AMS_MONDAY_9)
    h = await start_harness(store, clock, start_scheduler=False)
    # As `prikbord post --at` does: the post is stored by a process whose scheduler is not running.
    post_id = await _scheduled(h.publishing, AMS_MONDAY_9 + timedelta(minutes=30))
    await h.scheduler.start()
    try:
        assert f"post:{post_id}" in await h.scheduler.job_ids()  # the leader reconciled it
        clock.set(datetime(2026, 11, 30, 8, 30, tzinfo=UTC))
        await h.tick()
        assert (await h.posts())[0].state == PostState.PUBLISHED
    finally:
        await h.stop()
