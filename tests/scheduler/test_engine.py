"""scheduler/engine.py on its own: APScheduler 3 driven by an injected clock, job-store rounds in a worker
thread, and an executor that runs coroutines on the loop with their context looked up by id.

Time moves only when a test moves the ``FrozenClock``; ``process_now()`` runs one round and
``drain()`` waits for the jobs it submitted. Jobs live in APScheduler's MemoryJobStore, and where
pickling and the store round trip matter in the real SQLAlchemy job store on the ``store`` fixture.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MAX_INSTANCES, JobEvent
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.clock import FrozenClock
from content.db import Store
from scheduler.engine import ClockedExecutor, ClockedScheduler
from scheduler.jobstore import build_job_store

START = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
CONTEXT = "ctx"


@dataclass
class Recorder:
    """The context jobs get: what ran, and for which firing."""

    runs: list[tuple[str, datetime | None]] = field(default_factory=list)
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    scheduler: ClockedScheduler | None = None


# Job functions are module level, as stored jobs must be: they name only ids, never objects.


async def record(context: Recorder, tag: str, fire_time: datetime | None = None) -> None:
    context.runs.append((tag, fire_time))


async def fail(context: Recorder, tag: str, fire_time: datetime | None = None) -> None:
    context.runs.append((tag, fire_time))
    raise RuntimeError("the job broke")


async def wait_for_gate(context: Recorder, tag: str, fire_time: datetime | None = None) -> None:
    context.runs.append((tag, fire_time))
    await context.gate.wait()


async def follow_up_in_an_hour(context: Recorder, tag: str, fire_time: datetime | None = None) -> None:
    """Like a reminder: schedules its own next run under the same job id."""
    context.runs.append((tag, fire_time))
    assert context.scheduler is not None and fire_time is not None
    at = fire_time + timedelta(hours=1)
    await asyncio.to_thread(
        context.scheduler.add_job,
        record,
        DateTrigger(run_date=at, timezone=UTC),
        id="reminder",
        kwargs={"context": CONTEXT, "tag": "follow-up"},
        next_run_time=at,
        replace_existing=True,
    )


class ThreadNotingStore(MemoryJobStore):  # type: ignore[misc]
    """A memory job store that notes which thread reads it, and can fail its next reads."""

    def __init__(self) -> None:
        super().__init__()
        self.read_threads: set[int] = set()
        self.failures = 0

    def get_due_jobs(self, now: datetime) -> list[Any]:
        self.read_threads.add(threading.get_ident())
        if self.failures:
            self.failures -= 1
            raise OSError("the job store is unreachable")
        return super().get_due_jobs(now)  # type: ignore[no-any-return]


@dataclass
class Engine:
    clock: FrozenClock
    context: Recorder
    scheduler: ClockedScheduler
    executor: ClockedExecutor
    missed: list[tuple[Any, str, datetime, timedelta]]
    events: list[JobEvent]

    async def add(self, func: Callable[..., Any], trigger: Any, job_id: str, **options: Any) -> None:
        kwargs = {"context": options.pop("context", CONTEXT), "tag": options.pop("tag", job_id)}
        await asyncio.to_thread(self.scheduler.add_job, func, trigger, id=job_id, kwargs=kwargs, **options)

    def at(self, minutes: float) -> datetime:
        return START + timedelta(minutes=minutes)

    def date_job(self, minutes: float) -> dict[str, Any]:
        return {"trigger": DateTrigger(run_date=self.at(minutes), timezone=UTC), "next_run_time": self.at(minutes)}

    async def round(self, minutes_later: float = 0) -> None:
        """Move the clock, run one processing round, and wait for the jobs it started."""
        self.clock.advance(minutes=minutes_later)
        await self.scheduler.process_now()
        await self.executor.drain(5.0)

    def tags(self) -> list[str]:
        return [tag for tag, _ in self.context.runs]

    def of_kind(self, code: int) -> list[str]:
        return [e.job_id for e in self.events if e.code == code]


async def _engine(job_store: Any) -> AsyncIterator[Engine]:
    clock = FrozenClock(START)
    context = Recorder()
    missed: list[tuple[Any, str, datetime, timedelta]] = []
    events: list[JobEvent] = []

    async def on_missed(ctx: Any, job_id: str, fire_time: datetime, late: timedelta) -> None:
        missed.append((ctx, job_id, fire_time, late))

    executor = ClockedExecutor(clock, {CONTEXT: context}, on_missed)
    scheduler = ClockedScheduler(
        clock,
        max_wait=3600.0,  # no round of its own during a test: rounds come from process_now()
        jobstores={"default": job_store},
        executors={"default": executor},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        timezone=UTC,
        event_loop=asyncio.get_running_loop(),
    )
    scheduler.add_listener(events.append)
    context.scheduler = scheduler
    await asyncio.to_thread(scheduler.start, paused=True)
    scheduler.resume()
    try:
        yield Engine(clock, context, scheduler, executor, missed, events)
    finally:
        context.gate.set()
        await scheduler.aclose()


@pytest.fixture
async def memory_store() -> ThreadNotingStore:
    return ThreadNotingStore()


@pytest.fixture
async def engine(memory_store: ThreadNotingStore) -> AsyncIterator[Engine]:
    async for made in _engine(memory_store):
        yield made


@pytest.fixture
async def stored_engine(store: Store) -> AsyncIterator[Engine]:
    """The engine on the real SQLAlchemy job store in the application's database (SQLite, PostgreSQL)."""
    async for made in _engine(await build_job_store(store)):
        yield made


# -- the clock ------------------------------------------------------------------------------------


async def test_a_job_runs_when_the_injected_clock_reaches_it_with_its_context_and_firing(engine: Engine) -> None:
    await engine.add(record, job_id="post:7", **engine.date_job(10))
    await engine.round()
    await engine.round(minutes_later=9.9)
    assert engine.context.runs == []  # real time passing does not matter, only the clock
    await engine.round(minutes_later=0.1)
    assert engine.context.runs == [("post:7", engine.at(10))]
    assert engine.of_kind(EVENT_JOB_EXECUTED) == ["post:7"]
    assert await asyncio.to_thread(engine.scheduler.get_job, "post:7") is None  # a date job is done


async def test_missed_firings_coalesce_into_one_run_for_the_latest(engine: Engine) -> None:
    trigger = IntervalTrigger(minutes=1, start_date=START, timezone=UTC)
    await engine.add(record, trigger, "sweep", next_run_time=engine.at(1))
    await engine.round(minutes_later=5.5)
    assert engine.context.runs == [("sweep", engine.at(5))]
    job = await asyncio.to_thread(engine.scheduler.get_job, "sweep")
    assert job is not None and job.next_run_time == engine.at(6)


async def test_without_coalescing_every_missed_firing_runs_in_order(engine: Engine) -> None:
    trigger = IntervalTrigger(minutes=1, start_date=START, timezone=UTC)
    await engine.add(record, trigger, "each", next_run_time=engine.at(1), coalesce=False)
    await engine.round(minutes_later=3.5)
    assert engine.context.runs == [("each", engine.at(1)), ("each", engine.at(2)), ("each", engine.at(3))]


async def test_a_firing_later_than_its_grace_is_reported_missed_and_not_run(engine: Engine) -> None:
    await engine.add(record, job_id="status:dagstart", misfire_grace_time=60, **engine.date_job(1))
    await engine.add(record, job_id="status:on-time", misfire_grace_time=60, **engine.date_job(10.5))
    await engine.round(minutes_later=11)
    assert engine.tags() == ["status:on-time"]  # 30 s late: inside its grace
    ((context, job_id, fire_time, late),) = engine.missed
    assert (context, job_id, fire_time, late) == (
        engine.context,
        "status:dagstart",
        engine.at(1),
        timedelta(minutes=10),
    )


# -- the executor ---------------------------------------------------------------------------------


async def test_a_job_naming_an_unknown_context_is_not_run(engine: Engine, caplog: pytest.LogCaptureFixture) -> None:
    await engine.add(record, job_id="stranger", context="someone-else", **engine.date_job(1))
    await engine.add(record, job_id="ours", **engine.date_job(1))
    with caplog.at_level(logging.ERROR, "prikbord.scheduler"):
        await engine.round(minutes_later=1)
    assert engine.tags() == ["ours"]
    assert "someone-else" in caplog.text
    assert engine.of_kind(EVENT_JOB_ERROR) == ["stranger"]


async def test_a_failing_job_is_logged_as_an_error_and_the_others_still_run(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    await engine.add(fail, job_id="broken", **engine.date_job(1))
    await engine.add(record, job_id="fine", **engine.date_job(1))
    with caplog.at_level(logging.ERROR, "prikbord.scheduler"):
        await engine.round(minutes_later=1)
    assert sorted(engine.tags()) == ["broken", "fine"]
    assert engine.of_kind(EVENT_JOB_ERROR) == ["broken"]
    assert engine.of_kind(EVENT_JOB_EXECUTED) == ["fine"]
    errors = [e for e in engine.events if e.code == EVENT_JOB_ERROR]
    assert isinstance(errors[0].exception, RuntimeError)
    assert "job broken" in caplog.text


async def test_a_job_still_running_at_its_next_firing_is_skipped_not_doubled(engine: Engine) -> None:
    trigger = IntervalTrigger(minutes=1, start_date=START, timezone=UTC)
    await engine.add(wait_for_gate, trigger, "slow", next_run_time=engine.at(1))
    engine.clock.advance(minutes=1)
    await engine.scheduler.process_now()
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert engine.executor.busy == 1
    engine.clock.advance(minutes=1)
    await engine.scheduler.process_now()
    assert engine.of_kind(EVENT_JOB_MAX_INSTANCES) == ["slow"]
    engine.context.gate.set()
    await engine.executor.drain(5.0)
    assert engine.executor.busy == 0
    assert engine.tags() == ["slow"]


async def test_closing_cancels_running_jobs(engine: Engine) -> None:
    await engine.add(wait_for_gate, job_id="forever", **engine.date_job(1))
    engine.clock.advance(minutes=1)
    await engine.scheduler.process_now()
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert engine.executor.busy == 1
    await asyncio.wait_for(engine.scheduler.aclose(), 10)
    await engine.executor.drain(5.0)
    assert engine.executor.busy == 0 and not engine.context.gate.is_set()


# -- processing rounds ----------------------------------------------------------------------------


async def test_rounds_read_the_job_store_off_the_event_loop(engine: Engine, memory_store: ThreadNotingStore) -> None:
    await engine.add(record, job_id="x", **engine.date_job(1))
    await engine.round(minutes_later=1)
    assert engine.tags() == ["x"]
    assert memory_store.read_threads and threading.get_ident() not in memory_store.read_threads


async def test_an_unreachable_job_store_is_retried_and_nothing_is_lost(
    engine: Engine, memory_store: ThreadNotingStore
) -> None:
    await engine.add(record, job_id="x", **engine.date_job(1))
    await engine.round()  # the round add_job asked for is done
    memory_store.failures = 1
    await engine.round(minutes_later=1)
    assert engine.tags() == []
    assert memory_store.failures == 0
    await engine.round()
    assert engine.tags() == ["x"]


async def test_a_wakeup_from_another_thread_starts_a_round(engine: Engine) -> None:
    await engine.add(record, job_id="x", **engine.date_job(1))
    engine.clock.advance(minutes=1)
    await asyncio.to_thread(engine.scheduler.wakeup)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while not engine.context.runs:  # no process_now(): the wakeup alone brings the round
        assert loop.time() < deadline, "the wakeup started no round"
        await asyncio.sleep(0.01)
    assert engine.tags() == ["x"]


async def test_a_paused_scheduler_runs_nothing(engine: Engine) -> None:
    await engine.add(record, job_id="x", **engine.date_job(1))
    engine.scheduler.pause()
    await engine.round(minutes_later=5)
    assert engine.context.runs == []
    engine.scheduler.resume()
    await engine.round()
    assert engine.tags() == ["x"]


# -- with the real job store ----------------------------------------------------------------------


async def test_a_job_that_reschedules_itself_keeps_its_follow_up(stored_engine: Engine) -> None:
    """The store moves a job on *before* submitting it, so the follow-up the job adds under its own id
    is not removed afterwards (APScheduler's own order would remove it)."""
    engine = stored_engine
    await engine.add(follow_up_in_an_hour, job_id="reminder", tag="first", **engine.date_job(1))
    await engine.round(minutes_later=1)
    assert engine.tags() == ["first"]
    job = await asyncio.to_thread(engine.scheduler.get_job, "reminder")
    assert job is not None and job.next_run_time == engine.at(61)
    assert job.kwargs == {"context": CONTEXT, "tag": "follow-up"}  # stored as ids, not objects
    await engine.round(minutes_later=60)
    assert engine.tags() == ["first", "follow-up"]
    assert engine.context.runs[-1][1] == engine.at(61)
