"""APScheduler 3, adapted to prikbord: it reads an injected clock and keeps job-store I/O off the loop.

Two small subclasses:

* :class:`ClockedScheduler` (an ``AsyncIOScheduler``) asks the injected clock what time it is, so a
  test moves a ``FrozenClock`` and calls :meth:`ClockedScheduler.process_now` instead of sleeping.
  Each processing round runs in a worker thread: the SQLAlchemy job store is synchronous, and on
  SQLite a synchronous write made *on the event loop* could wait for a lock held by a coroutine that
  needs the loop to finish — a deadlock until the busy timeout.
* :class:`ClockedExecutor` runs job coroutines on the loop. It checks misfires against the clock and
  calls each job function with its *context*: the job's stored kwargs carry only ids plus the id string
  of a context (``context="prikbord"``), which the executor swaps for the :class:`JobContext` object it
  was given. Nothing global: every scheduler has its own executor and so its own lookup table.
  It also passes ``fire_time``, the firing the run is for (status posts key their post on it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from traceback import format_tb
from typing import Any

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    EVENT_JOB_SUBMITTED,
    JobExecutionEvent,
    JobSubmissionEvent,
)
from apscheduler.executors.base import BaseExecutor, MaxInstancesReachedError
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.schedulers.base import STATE_RUNNING, STATE_STOPPED, BaseScheduler

from scheduler.ports import Clock

log = logging.getLogger("prikbord.scheduler")

MissedHook = Callable[[Any, str, datetime, timedelta], Awaitable[None]]
"""(context, job id, fire time, lateness): a firing that came later than its misfire grace."""


class ClockedExecutor(BaseExecutor):  # type: ignore[misc]
    def __init__(self, clock: Clock, contexts: Mapping[str, Any], on_missed: MissedHook | None = None) -> None:
        super().__init__()
        self._clock = clock
        self._contexts = dict(contexts)
        self._on_missed = on_missed
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[list[JobExecutionEvent]]] = set()

    def start(self, scheduler: Any, alias: str) -> None:
        super().start(scheduler, alias)
        self._loop = scheduler._eventloop

    def shutdown(self, wait: bool = True) -> None:
        # May be called from a worker thread (ClockedScheduler.aclose): cancel on the loop.
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        for task in list(self._tasks):
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(task.cancel)

    def _do_submit_job(self, job: Any, run_times: list[datetime]) -> None:
        # Called from the processing thread: hand the job over to the loop.
        assert self._loop is not None, "the executor was not started"
        self._loop.call_soon_threadsafe(self._spawn, job, list(run_times))

    def _spawn(self, job: Any, run_times: list[datetime]) -> None:
        assert self._loop is not None
        task = self._loop.create_task(self._run(job, run_times), name=f"job {job.id}")
        self._tasks.add(task)
        task.add_done_callback(lambda done: self._finished(job.id, done))

    def _finished(self, job_id: str, task: asyncio.Task[list[JobExecutionEvent]]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            self._run_job_success(job_id, [])  # stopped with the scheduler; just release the instance slot
            return
        error = task.exception()
        if error is not None:
            self._run_job_error(job_id, error, error.__traceback__)
            return
        self._run_job_success(job_id, task.result())

    async def drain(self, timeout: float | None = None) -> None:
        """Wait until the running jobs (and jobs they led to) are finished."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        await asyncio.sleep(0)  # let hand-overs queued by call_soon_threadsafe become tasks
        while self._tasks:
            left = None if deadline is None else max(0.0, deadline - loop.time())
            _, pending = await asyncio.wait(set(self._tasks), timeout=left)
            if pending and deadline is not None and loop.time() >= deadline:
                return
            await asyncio.sleep(0)

    @property
    def busy(self) -> int:
        return len(self._tasks)

    async def _run(self, job: Any, run_times: list[datetime]) -> list[JobExecutionEvent]:
        events: list[JobExecutionEvent] = []
        alias = job._jobstore_alias
        kwargs = dict(job.kwargs)
        context_id = kwargs.pop("context", None)
        context = self._contexts.get(context_id) if isinstance(context_id, str) else None
        for run_time in run_times:
            if context is None:
                log.error("job %s names context %r, which this scheduler does not have; not run", job.id, context_id)
                events.append(JobExecutionEvent(EVENT_JOB_ERROR, job.id, alias, run_time))
                continue
            late = self._clock.now() - run_time
            if job.misfire_grace_time is not None and late > timedelta(seconds=job.misfire_grace_time):
                log.warning("job %s of %s missed: %s late (grace %ss)", job.id, run_time, late, job.misfire_grace_time)
                events.append(JobExecutionEvent(EVENT_JOB_MISSED, job.id, alias, run_time))
                if self._on_missed is not None:
                    try:
                        await self._on_missed(context, job.id, run_time, late)
                    except Exception:
                        log.exception("reporting the missed job %s failed", job.id)
                continue
            try:
                await job.func(*job.args, context=context, fire_time=run_time, **kwargs)
            except Exception as exc:
                log.exception("job %s (%s) failed", job.id, run_time)
                trace = "".join(format_tb(sys.exc_info()[2]))
                events.append(
                    JobExecutionEvent(EVENT_JOB_ERROR, job.id, alias, run_time, exception=exc, traceback=trace)
                )
            else:
                events.append(JobExecutionEvent(EVENT_JOB_EXECUTED, job.id, alias, run_time))
        return events


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


class ClockedScheduler(AsyncIOScheduler):  # type: ignore[misc]
    """Options as for ``AsyncIOScheduler`` (pass ``event_loop``: it may be started from a thread)."""

    def __init__(self, clock: Clock, *, max_wait: float = 60.0, **options: Any) -> None:
        self._clock = clock
        self._max_wait = max_wait
        self._runner: asyncio.Task[None] | None = None
        self._again = False
        super().__init__(**options)

    # -- waking up: one processing round at a time, in a worker thread ---------------------------

    def wakeup(self) -> None:
        """Thread-safe: ask for a processing round soon."""
        loop = self._eventloop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop is closing
            loop.call_soon_threadsafe(self._request_round)

    def _request_round(self) -> None:
        if self.state == STATE_STOPPED:
            return
        self._stop_timer()
        if self._runner is not None and not self._runner.done():
            self._again = True  # the running round goes once more when it is done
            return
        self._runner = self._eventloop.create_task(self._rounds(), name="scheduler-round")

    async def _rounds(self) -> None:
        wait: float | None = None
        while True:
            self._again = False
            try:
                wait = await asyncio.to_thread(self._process_jobs)
            except Exception:
                log.exception("scheduler round failed; trying again shortly")
                wait = float(self.jobstore_retry_interval)
            if not self._again:
                break
        if self.state == STATE_RUNNING:
            self._start_timer(wait)

    async def process_now(self) -> None:
        """Run a processing round now and wait for it (tests move a frozen clock, then call this)."""
        self._request_round()
        while self._runner is not None and not self._runner.done():
            await asyncio.shield(self._runner)

    async def aclose(self) -> None:
        """Stop processing, wait for the current round, and close the job store (in a thread)."""
        if self.state == STATE_STOPPED:
            return
        self.pause()
        if self._runner is not None:
            await asyncio.gather(self._runner, return_exceptions=True)
        self._stop_timer()
        await asyncio.to_thread(BaseScheduler.shutdown, self, False)

    # -- one processing round (APScheduler 3.11's BaseScheduler._process_jobs, clocked) ----------

    def _process_jobs(self) -> float | None:
        if self.state != STATE_RUNNING:
            return None
        now = self._clock.now().astimezone(self.timezone)
        retry_at = now + timedelta(seconds=self.jobstore_retry_interval)
        next_wakeup: datetime | None = None
        events: list[JobSubmissionEvent] = []
        with self._jobstores_lock:
            for alias, jobstore in self._jobstores.items():
                try:
                    due_jobs = jobstore.get_due_jobs(now)
                except Exception as exc:
                    log.warning("reading due jobs from job store %r failed (%s); retrying", alias, exc)
                    next_wakeup = _earliest(next_wakeup, retry_at)
                    continue
                for job in due_jobs:
                    if not self._submit(job, alias, now, events):
                        next_wakeup = _earliest(next_wakeup, retry_at)
                try:
                    store_next = jobstore.get_next_run_time()
                except Exception as exc:
                    log.warning("reading the next run time from job store %r failed (%s)", alias, exc)
                    store_next = retry_at
                if store_next is not None:
                    next_wakeup = _earliest(next_wakeup, store_next.astimezone(self.timezone))
        for event in events:
            self._dispatch_event(event)
        if self.state != STATE_RUNNING or next_wakeup is None:
            # Still wake up now and then: other instances may add jobs to the shared store.
            return self._max_wait if self.state == STATE_RUNNING else None
        wait = max(next_wakeup.timestamp() - self._clock.now().timestamp(), 0.0)
        return min(wait, self._max_wait)

    def _submit(self, job: Any, alias: str, now: datetime, events: list[JobSubmissionEvent]) -> bool:
        """Move one due job on to its next run time, then submit it. False: try this job again soon.

        Unlike APScheduler, the store is updated *before* the job is submitted: a job that schedules its
        own follow-up under the same id (reminders do) cannot have it removed by this round, and a job
        whose update failed is not run now but at the retry.
        """
        try:
            executor = self._lookup_executor(job.executor)
        except KeyError:
            log.error("job %s names executor %r, which does not exist; removing it", job.id, job.executor)
            self._remove_quietly(job.id, alias)
            return True
        run_times = job._get_run_times(now)
        run_times = run_times[-1:] if run_times and job.coalesce else run_times
        if not run_times:
            return True
        following = job.trigger.get_next_fire_time(run_times[-1], now)
        try:
            if following is not None:
                job._modify(next_run_time=following)
                self._lookup_jobstore(alias).update_job(job)
            else:
                self.remove_job(job.id, alias)
        except JobLookupError:
            return True  # removed meanwhile (a retracted post): not run
        except Exception as exc:
            log.warning("moving job %s on failed (%s); it runs at the retry", job.id, exc)
            return False
        try:
            executor.submit_job(job, run_times)
        except MaxInstancesReachedError:
            log.warning("job %s skipped: it is still running (max %d instances)", job.id, job.max_instances)
            events.append(JobSubmissionEvent(EVENT_JOB_MAX_INSTANCES, job.id, alias, run_times))
        except Exception:
            log.exception("submitting job %s failed", job.id)
        else:
            events.append(JobSubmissionEvent(EVENT_JOB_SUBMITTED, job.id, alias, run_times))
        return True

    def _remove_quietly(self, job_id: str, alias: str) -> None:
        with contextlib.suppress(JobLookupError):
            self.remove_job(job_id, alias)
