"""Queries of the scheduler: scheduled posts, must-reads with a deadline, their reach and reminders."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from content.models import (
    CtaKind,
    Employee,
    Identity,
    Post,
    PostState,
    Reminder,
    ReminderKind,
    ReminderState,
    Response,
    ResponseKind,
    SchedulerJob,
    table_of,
)


async def scheduled_times(
    session: AsyncSession, ids: Sequence[int] | None = None, due_before: datetime | None = None
) -> dict[int, datetime]:
    """post id → publish_at of scheduled posts (only ``ids``, or only those due before a moment)."""
    statement = select(Post.id, Post.publish_at).where(Post.state == PostState.SCHEDULED, Post.publish_at.is_not(None))
    if ids is not None:
        statement = statement.where(Post.id.in_(list(ids)))
    if due_before is not None:
        statement = statement.where(Post.publish_at <= due_before)
    return {pid: at for pid, at in (await session.execute(statement)).all() if at is not None}


async def post_states(session: AsyncSession, ids: Sequence[int]) -> dict[int, str]:
    rows = await session.execute(select(Post.id, Post.state).where(Post.id.in_(list(ids))))
    return {pid: state for pid, state in rows.all()}


async def must_reads_with_deadline(
    session: AsyncSession, deadline_after: datetime, ids: Sequence[int] | None = None
) -> list[Post]:
    """Published (or expired) acknowledge posts whose deadline is after ``deadline_after``."""
    statement = select(Post).where(
        Post.cta_kind == CtaKind.ACKNOWLEDGE,
        Post.cta_deadline.is_not(None),
        Post.cta_deadline > deadline_after,
        Post.state.in_((PostState.PUBLISHED, PostState.EXPIRED)),
    )
    if ids is not None:
        statement = statement.where(Post.id.in_(list(ids)))
    return list((await session.execute(statement.order_by(Post.id))).scalars())


async def acknowledged(session: AsyncSession, post_id: int) -> set[int]:
    rows = await session.execute(
        select(Response.employee_id).where(Response.post_id == post_id, Response.kind == ResponseKind.ACK).distinct()
    )
    return set(rows.scalars())


async def employees(session: AsyncSession, ids: Sequence[int] | set[int]) -> dict[int, Employee]:
    if not ids:
        return {}
    rows = await session.execute(select(Employee).where(Employee.id.in_(list(ids))))
    return {e.id: e for e in rows.scalars()}


async def identities_of(session: AsyncSession, employee_ids: Sequence[int] | set[int]) -> dict[int, list[Identity]]:
    found: dict[int, list[Identity]] = defaultdict(list)
    if employee_ids:
        rows = await session.execute(
            select(Identity).where(Identity.employee_id.in_(list(employee_ids))).order_by(Identity.id)
        )
        for identity in rows.scalars():
            found[identity.employee_id].append(identity)
    return found


async def job_run_times(session: AsyncSession, job_ids: Sequence[str]) -> dict[str, float | None]:
    """Next run times (UTC timestamps) of scheduler jobs, read straight from APScheduler's table."""
    found: dict[str, float | None] = {}
    for start in range(0, len(job_ids), 5000):
        chunk = list(job_ids[start : start + 5000])
        rows = await session.execute(
            select(SchedulerJob.id, SchedulerJob.next_run_time).where(SchedulerJob.id.in_(chunk))
        )
        found.update({job_id: at for job_id, at in rows.all()})
    return found


# ---------------------------------------------------------------------------------------------
# Reminder records


def reminder_key(kind: ReminderKind, post_id: int, employee_id: int | None = None) -> str:
    return f"{kind.value}:{post_id}" if employee_id is None else f"{kind.value}:{post_id}:{employee_id}"


async def add_reminders(session: AsyncSession, rows: Sequence[dict[str, object]]) -> int:
    """Insert reminder records; keys already present are left alone (another instance got there)."""
    if not rows:
        return 0
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    table = table_of(Reminder)
    result = await session.execute(insert(table).on_conflict_do_nothing().returning(table.c.id), list(rows))
    return len(result.all())


async def reminders_of(session: AsyncSession, post_id: int) -> list[Reminder]:
    rows = await session.execute(select(Reminder).where(Reminder.post_id == post_id).order_by(Reminder.id))
    return list(rows.scalars())


async def reminder_records(session: AsyncSession, post_ids: Sequence[int]) -> dict[int, list[Reminder]]:
    found: dict[int, list[Reminder]] = defaultdict(list)
    if post_ids:
        rows = await session.execute(select(Reminder).where(Reminder.post_id.in_(list(post_ids))))
        for row in rows.scalars():
            found[row.post_id].append(row)
    return found


async def due_reminders(session: AsyncSession, post_id: int, now: datetime) -> list[Reminder]:
    rows = await session.execute(
        select(Reminder)
        .where(
            Reminder.post_id == post_id,
            Reminder.kind == ReminderKind.REMINDER,
            Reminder.state == ReminderState.PENDING,
            Reminder.due_at <= now,
        )
        .order_by(Reminder.id)
    )
    return list(rows.scalars())


async def next_pending(session: AsyncSession, post_id: int) -> datetime | None:
    return await session.scalar(
        select(func.min(Reminder.due_at)).where(
            Reminder.post_id == post_id,
            Reminder.kind == ReminderKind.REMINDER,
            Reminder.state == ReminderState.PENDING,
        )
    )


async def claim_reminder(session: AsyncSession, reminder_id: int, now: datetime) -> bool:
    """pending → sent, atomically: True when this caller may send it (nobody else did)."""
    result = await session.execute(
        update(Reminder)
        .where(Reminder.id == reminder_id, Reminder.state == ReminderState.PENDING)
        .values(state=ReminderState.SENT, sent_at=now)
    )
    return bool(getattr(result, "rowcount", 0))


async def set_reminder_state(
    session: AsyncSession, reminder_id: int, state: ReminderState, detail: str | None = None
) -> None:
    await session.execute(update(Reminder).where(Reminder.id == reminder_id).values(state=state, detail=detail))
