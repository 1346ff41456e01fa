"""The scheduler service: APScheduler with a persistent job store, one leader among instances.

Jobs (ids in ``apscheduler_jobs``, functions in ``scheduler/jobs.py``):

* ``post:{id}``     date job at a scheduled post's ``publish_at``
* ``remind:{id}``   date job for a must-read's reminder round (and again when people's quiet hours end)
* ``summary:{id}``  date job at a must-read's deadline: the moderators' summary
* ``status:{name}`` cron job of a status post
* ``sweep``         interval job: publish what is due, close what expired, make sure near jobs exist

Misfires and coalescing, deliberately:

* posts, reminders, summaries and the sweep run however late they are (``misfire_grace_time=None``):
  a post scheduled while every instance was down must still go out, and all of them are idempotent.
* a status post may be at most its ``misfire_grace`` late (default 15 minutes): a "today at work"
  post three hours late shows stale numbers, so it is skipped and the moderators are told.
* everything coalesces: after downtime a job runs once for all the firings it missed, not once each.

Every instance starts the scheduler *paused* and writes its jobs to the shared store; only the leader
(SQLite: the only instance; PostgreSQL: the holder of the advisory lock) resumes it and runs jobs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from content import scheduling
from content.db import Store
from content.models import PostState
from scheduler import jobs
from scheduler.jobs import JobContext
from scheduler.jobstore import build_job_store
from scheduler.leader import LeaderElection
from scheduler.ports import Clock, FollowUp, Publisher, ReminderRunner, StatusRunner, Tell

if TYPE_CHECKING:
    from scheduler.engine import ClockedExecutor, ClockedScheduler

log = logging.getLogger("prikbord.scheduler")

_GONE = (PostState.RETRACTED, PostState.REJECTED)


@dataclass(frozen=True)
class SchedulerOptions:
    sweep_interval: float = 10.0  # seconds
    leader_retry: float = 5.0  # seconds between a follower's attempts to take the lock
    lock_name: str = "prikbord-scheduler"
    # The id stored in every job's kwargs and looked up by the executor; all instances share it.
    context_id: str = "prikbord"


def latest_firing(cron: str, zone: str, now: datetime, window: timedelta) -> datetime | None:
    """The last firing of ``cron`` in (now - window, now], if any."""
    from apscheduler.triggers.cron import CronTrigger

    trigger = CronTrigger.from_crontab(cron, timezone=ZoneInfo(zone))
    latest = None
    candidate = trigger.get_next_fire_time(None, now - window)
    while candidate is not None and candidate <= now:
        latest = candidate
        candidate = trigger.get_next_fire_time(candidate, candidate + timedelta(microseconds=1))
    return latest.astimezone(UTC) if latest is not None else None


class SchedulerService:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        publisher: Publisher,
        *,
        status: StatusRunner | None = None,
        reminders: ReminderRunner | None = None,
        tell: Tell | None = None,
        options: SchedulerOptions | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._publisher = publisher
        self._status = status
        self._reminders = reminders
        self._tell = tell
        self.options = options or SchedulerOptions()
        self._context = JobContext(self, clock, status, reminders, tell)
        self._scheduler: ClockedScheduler | None = None
        self._executor: ClockedExecutor | None = None
        self._election: LeaderElection | None = None
        self._leading = False
        self._publish_lock = asyncio.Lock()
        self._publish_requested = 0
        self._publish_covered = 0
        self._side_tasks: set[asyncio.Task[Any]] = set()
        self._job_table = False  # jobs in the apscheduler_jobs table (not in memory)

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the job store and start the scheduler paused; lead at once on SQLite, else campaign."""
        # APScheduler loads only here: commands that never run the scheduler start without it.
        from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

        from scheduler.engine import ClockedExecutor, ClockedScheduler

        self._executor = ClockedExecutor(self._clock, {self.options.context_id: self._context}, self._missed)
        job_store = await build_job_store(self._store)
        self._job_table = isinstance(job_store, SQLAlchemyJobStore)
        self._scheduler = ClockedScheduler(
            self._clock,
            max_wait=self.options.sweep_interval,
            jobstores={"default": job_store},
            executors={"default": self._executor},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone=UTC,
            event_loop=asyncio.get_running_loop(),
        )
        await asyncio.to_thread(self._scheduler.start, paused=True)
        if self._store.is_postgres:
            self._election = LeaderElection(
                self._store.engine,
                on_elected=self._lead,
                on_deposed=self._follow,
                retry=self.options.leader_retry,
                name=self.options.lock_name,
            )
            await self._election.start()
        else:
            await self._lead()

    async def stop(self, timeout: float = 30.0) -> None:
        if self._election is not None:
            await self._election.stop()
        elif self._leading:
            await self._follow()
        if self._executor is not None:
            await self._executor.drain(timeout)
        for task in list(self._side_tasks):
            task.cancel()
        await asyncio.gather(*self._side_tasks, return_exceptions=True)
        if self._scheduler is not None:
            await self._scheduler.aclose()
        self._scheduler = None

    @property
    def is_leader(self) -> bool:
        return self._leading

    @property
    def election(self) -> LeaderElection | None:
        return self._election

    async def tick(self) -> None:
        """Process what is due by the clock now and wait for the jobs that led to (frozen-clock tests)."""
        if self._scheduler is None or self._executor is None:
            return
        for _ in range(50):
            await self._scheduler.process_now()
            await self._executor.drain()
            await asyncio.gather(*self._side_tasks, return_exceptions=True)
            if not self._leading or not await asyncio.to_thread(self._anything_due):
                return

    def _anything_due(self) -> bool:
        assert self._scheduler is not None
        now = self._clock.now()
        return any(j.next_run_time is not None and j.next_run_time <= now for j in self._scheduler.get_jobs())

    async def job_ids(self) -> list[str]:
        if self._scheduler is None:
            return []
        return [job.id for job in await asyncio.to_thread(self._scheduler.get_jobs)]

    async def _lead(self) -> None:
        fresh = await self._ensure_fixed_jobs()
        await self._reconcile()
        self._leading = True
        assert self._scheduler is not None
        self._scheduler.resume()
        await self._catch_up_status_posts(skip=fresh)

    async def _follow(self) -> None:
        self._leading = False
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.pause()

    # -- publishing hooks ---------------------------------------------------------------------

    async def post_changed(self, post_ids: Sequence[int]) -> None:
        """Called by PublishingService after posts were created, approved, held, published or retracted:
        keep their jobs in step. Runs on every instance; the jobs land in the shared store."""
        if self._scheduler is None or not post_ids:
            return
        async with self._store.sessions() as session:
            states = await scheduling.post_states(session, post_ids)
            times = await scheduling.scheduled_times(session, post_ids)
        for post_id, state in states.items():
            if post_id in times:
                await self._put_date_job(f"post:{post_id}", jobs.publish_post, times[post_id], post_id=post_id)
            elif state in _GONE:
                for prefix in ("post", "remind", "summary"):
                    await self._remove_job(f"{prefix}:{post_id}")
        if self._reminders is not None:
            for follow_up in await self._reminders.follow_ups(list(states)):
                await self.schedule_follow_up(follow_up)

    # -- what jobs call (JobHost) ------------------------------------------------------------------

    async def publish_now(self) -> None:
        """Publish what is due; concurrent calls share one run that started after they asked."""
        self._publish_requested += 1
        wanted = self._publish_requested
        async with self._publish_lock:
            if self._publish_covered >= wanted:
                return
            covering = self._publish_requested
            await self._publisher.publish_due()
            self._publish_covered = covering

    async def sweep(self) -> None:
        await self.publish_now()
        await self._publisher.expire_due()
        await self._reconcile(horizon=timedelta(seconds=self.options.sweep_interval * 2))

    async def schedule_follow_up(self, follow_up: FollowUp) -> None:
        function = jobs.send_reminders if follow_up.kind == "remind" else jobs.summarize_deadline
        job_id = f"{follow_up.kind}:{follow_up.post_id}"
        await self._put_date_job(job_id, function, follow_up.at, post_id=follow_up.post_id)

    # -- jobs -----------------------------------------------------------------------------------

    async def _put_date_job(self, job_id: str, function: Any, at: datetime, **ids: object) -> None:
        from apscheduler.triggers.date import DateTrigger

        assert self._scheduler is not None
        trigger = DateTrigger(run_date=at, timezone=UTC)
        await asyncio.to_thread(
            self._scheduler.add_job,
            function,
            trigger,
            id=job_id,
            kwargs={"context": self.options.context_id, **ids},
            next_run_time=at,
            replace_existing=True,
        )

    async def _remove_job(self, job_id: str) -> None:
        from apscheduler.jobstores.base import JobLookupError

        assert self._scheduler is not None
        with contextlib.suppress(JobLookupError):
            await asyncio.to_thread(self._scheduler.remove_job, job_id)

    async def _ensure_fixed_jobs(self) -> set[str]:
        """The sweep and one cron job per configured status post; unconfigured status jobs go.
        Returns the names of the status posts whose job was (re)created just now."""
        from apscheduler.triggers.cron import CronTrigger
        from apscheduler.triggers.interval import IntervalTrigger

        assert self._scheduler is not None
        scheduler = self._scheduler
        now = self._clock.now()
        interval = IntervalTrigger(seconds=self.options.sweep_interval, start_date=now, timezone=UTC)
        existing = {job.id: job for job in await asyncio.to_thread(scheduler.get_jobs)}
        await asyncio.to_thread(
            scheduler.add_job,
            jobs.sweep,
            interval,
            id="sweep",
            kwargs={"context": self.options.context_id},
            next_run_time=now + timedelta(seconds=self.options.sweep_interval),
            replace_existing=True,
        )
        wanted = {s.name: s for s in (self._status.schedules() if self._status else [])}
        fresh: set[str] = set()
        for job_id in existing:
            if job_id.startswith("status:") and job_id.removeprefix("status:") not in wanted:
                await self._remove_job(job_id)
        for name, schedule in wanted.items():
            trigger = CronTrigger.from_crontab(schedule.cron, timezone=ZoneInfo(schedule.zone))
            job = existing.get(f"status:{name}")
            if job is not None and (str(job.trigger), str(job.trigger.timezone), job.misfire_grace_time) == (
                str(trigger),
                str(trigger.timezone),
                schedule.misfire_grace,
            ):
                continue  # unchanged: keep its next run time, so a firing due now is not lost
            fresh.add(name)
            await asyncio.to_thread(
                scheduler.add_job,
                jobs.run_status_post,
                trigger,
                id=f"status:{name}",
                kwargs={"context": self.options.context_id, "name": name},
                misfire_grace_time=schedule.misfire_grace,
                next_run_time=trigger.get_next_fire_time(None, now),
                replace_existing=True,
            )
        return fresh

    async def _reconcile(self, horizon: timedelta | None = None) -> None:
        """Make sure scheduled posts and must-read follow-ups have their jobs (all of them, or those due
        within ``horizon``): posts scheduled by a process without a running scheduler (``prikbord post
        --at``) or while the job store was unreachable get theirs here."""
        assert self._scheduler is not None
        now = self._clock.now()
        limit = None if horizon is None else now + horizon
        async with self._store.sessions() as session:
            times = await scheduling.scheduled_times(session, due_before=limit)
        # The sweep has just published what is due: it re-creates jobs only for posts still ahead.
        wanted: dict[str, tuple[Any, datetime, int]] = {
            f"post:{pid}": (jobs.publish_post, at, pid) for pid, at in times.items() if limit is None or at > now
        }
        if self._reminders is not None:
            for follow_up in await self._reminders.follow_ups():
                if limit is None or follow_up.at <= limit:
                    function = jobs.send_reminders if follow_up.kind == "remind" else jobs.summarize_deadline
                    wanted[f"{follow_up.kind}:{follow_up.post_id}"] = (function, follow_up.at, follow_up.post_id)
        if not wanted:
            return
        existing = await self._next_run_times(list(wanted))
        now = self._clock.now()
        for job_id, (function, at, post_id) in wanted.items():
            if limit is not None and function is jobs.publish_post and at <= now:
                continue  # became due meanwhile: its job has just been taken, or the next sweep publishes it
            current = existing.get(job_id)
            if current is None or abs(current - at.timestamp()) > 0.001:
                await self._put_date_job(job_id, function, at, post_id=post_id)

    async def _next_run_times(self, job_ids: list[str]) -> dict[str, float | None]:
        """Next run times (timestamps) of the jobs that exist among ``job_ids``. Read with one query from the
        job table rather than through APScheduler, which would unpickle every job under its store lock and
        hold up job processing meanwhile."""
        if self._job_table:
            async with self._store.sessions() as session:
                return await scheduling.job_run_times(session, job_ids)
        assert self._scheduler is not None
        scheduler = self._scheduler

        def lookup() -> dict[str, float | None]:
            jobs_found = (scheduler.get_job(job_id) for job_id in job_ids)
            return {
                j.id: j.next_run_time.timestamp() if j.next_run_time is not None else None
                for j in jobs_found
                if j is not None
            }

        return await asyncio.to_thread(lookup)

    async def _catch_up_status_posts(self, skip: set[str]) -> None:
        """A new leader runs a status firing the old one took from the store but did not post (it died
        meanwhile), when still within its grace; the unique key keeps it to one post. Status posts whose
        job was only just created (``skip``) had no earlier firing to lose."""
        if self._status is None or self._scheduler is None:
            return
        now = self._clock.now()
        for schedule in self._status.schedules():
            if schedule.name in skip:
                continue
            latest = latest_firing(schedule.cron, schedule.zone, now, timedelta(seconds=schedule.misfire_grace))
            if latest is None or await self._status.posted(schedule.name, latest):
                continue
            job = await asyncio.to_thread(self._scheduler.get_job, f"status:{schedule.name}")
            if job is not None and job.next_run_time is not None and job.next_run_time <= latest:
                continue  # not taken yet: the scheduler runs it itself
            log.info("status post %s of %s was taken but not posted; posting it now", schedule.name, latest)
            task = asyncio.create_task(self._status.run(schedule.name, latest), name=f"catch-up {schedule.name}")
            self._side_tasks.add(task)
            task.add_done_callback(self._side_tasks.discard)

    async def _missed(self, context: Any, job_id: str, fire_time: datetime, late: timedelta) -> None:
        if job_id.startswith("status:") and self._tell is not None:
            minutes = int(late.total_seconds() // 60)
            await self._tell(
                # fire_time is in the status post's own zone (its cron trigger's), as its other messages.
                f"status post {job_id.removeprefix('status:')} of {fire_time:%a %d %b %H:%M} was not posted: "
                f"the scheduler was not running then ({minutes} min late, more than its misfire_grace)"
            )
