"""Platform rate limits shared by every instance, as generic cell rates in the database (#16).

A limit (``scope``) is a row holding its theoretical arrival time ``tat``: a send may start once the
clock reaches ``tat - tolerance`` and moves ``tat`` on by one ``interval``. Reserving is one upsert that
returns the new ``tat``, atomic under PostgreSQL's row lock, so any number of instances together never
start more than the limit allows. Times are the database's clock (epoch seconds), so instances on
machines whose clocks differ still agree; callers get back a delay to sleep on their own clock.
A 429 seen by one instance sets ``paused_until`` and every instance waits for it.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ARRAY, ColumnElement, Float, String, bindparam, cast, func, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import SQLCoreOperations

from content.models import RateLease, RateSlot


def _on_postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _database_now(session: AsyncSession) -> ColumnElement[float]:
    """The database's clock in epoch seconds (stable within the statement)."""
    if _on_postgres(session):
        # The statement's start, not now(): that is the transaction's, and a release or take made late
        # in a transaction (or after waiting on a lock) would free its place early by as much.
        return cast(func.extract("epoch", func.statement_timestamp()), Float)
    return cast((func.julianday("now") - 2440587.5) * 86400.0, Float)


def _greatest(session: AsyncSession, *values: SQLCoreOperations[float]) -> ColumnElement[float]:
    # PostgreSQL's GREATEST; SQLite's scalar max() with several arguments is the same thing.
    if _on_postgres(session):
        return func.greatest(*values)
    return func.max(*values)


def _insert(session: AsyncSession, model: type[RateSlot | RateLease] = RateSlot) -> postgresql.Insert | sqlite.Insert:
    """The dialect's INSERT, which has ON CONFLICT (both backends speak it)."""
    if _on_postgres(session):
        return postgresql.insert(model)
    return sqlite.insert(model)


async def reserve(session: AsyncSession, scope: str, interval: float, tolerance: float, count: int = 1) -> float:
    """Reserve ``count`` sends under the limit ``scope`` → seconds to wait before the first may start
    (0: now); the others follow ``interval`` apart. ``tolerance`` is the burst the limit allows
    (``(n - 1) × interval`` for "n per period", 0 for evenly paced sends)."""
    return await reserve_each(session, [(scope, count * interval, tolerance)])


async def reserve_each(session: AsyncSession, limits: Sequence[tuple[str, float, float]]) -> float:
    """:func:`reserve` one send under each (scope, interval, tolerance) in one statement → the seconds
    to wait until every one of them allows it."""
    return max((await reserve_rows(session, limits)).values(), default=0.0)


async def reserve_rows(session: AsyncSession, limits: Sequence[tuple[str, float, float]]) -> dict[str, float]:
    """Move each (scope, step, tolerance) on by its step in one statement (the scopes differ) → scope →
    seconds until its reservation may start. A step of ``n × interval`` reserves ``n`` sends, the first
    after the delay returned and the others ``interval`` apart (a batch of a paid broadcast's sends)."""
    if not limits:
        return {}
    now = _database_now(session)
    insert = _insert(session)
    # The step of each row travels as its inserted tat (now + step): excluded.tat - now.
    statement = (
        _inserted_rows(session, insert, limits, now)
        .on_conflict_do_update(
            index_elements=[RateSlot.scope],
            set_={"tat": _greatest(session, RateSlot.tat, now, RateSlot.paused_until) + (insert.excluded.tat - now)},
        )
        .returning(RateSlot.scope, RateSlot.tat, RateSlot.paused_until, now.label("now"))
    )
    rows = {scope: (tat, paused, at) for scope, tat, paused, at in (await session.execute(statement)).all()}
    delays = {}
    for scope, interval, tolerance in limits:
        tat, paused, at = rows[scope]
        delays[scope] = max(at, paused, tat - interval - tolerance) - at
    return delays


def _inserted_rows(
    session: AsyncSession,
    insert: postgresql.Insert | sqlite.Insert,
    limits: Sequence[tuple[str, float, float]],
    now: ColumnElement[float],
) -> postgresql.Insert | sqlite.Insert:
    """The rows (scope, now + step, 0) to upsert. On PostgreSQL they travel as two arrays unnested into
    rows: one statement whatever their number, compiled once, where a VALUES list of n rows is a new
    statement for every n and compiling it took 15 ms of CPU per paid broadcast batch of 120 rows."""
    if not _on_postgres(session):
        return insert.values([{"scope": scope, "tat": now + step, "paused_until": 0.0} for scope, step, _ in limits])
    given = (
        func.unnest(
            bindparam("scopes", [scope for scope, _, _ in limits], type_=ARRAY(String)),
            bindparam("steps", [step for _, step, _ in limits], type_=ARRAY(Float)),
        )
        .table_valued("scope", "step")
        .render_derived(name="given")
    )
    rows = select(given.c.scope, now + given.c.step, literal(0.0, Float))
    return insert.from_select([RateSlot.scope, RateSlot.tat, RateSlot.paused_until], rows)


async def pause(session: AsyncSession, scope: str, seconds: float) -> None:
    """No send under ``scope`` starts for ``seconds`` from now, on any instance (a 429's retry_after)."""
    now = _database_now(session)
    statement = (
        _insert(session)
        .values(scope=scope, tat=0.0, paused_until=now + seconds)
        .on_conflict_do_update(
            index_elements=[RateSlot.scope],
            set_={"paused_until": _greatest(session, RateSlot.paused_until, now + seconds)},
        )
    )
    await session.execute(statement)


async def paused_for(session: AsyncSession, scope: str) -> float:
    """Seconds until ``scope``'s pause ends (0: not paused)."""
    now = _database_now(session)
    row = (
        await session.execute(select(RateSlot.paused_until, now.label("now")).where(RateSlot.scope == scope))
    ).first()
    if row is None:
        return 0.0
    return max(0.0, float(row[0]) - float(row[1]))


async def database_now(session: AsyncSession) -> float:
    """The database's clock, epoch seconds."""
    return float((await session.execute(select(_database_now(session)))).scalar_one())


async def ensure_places(session: AsyncSession, scope: str, places: int) -> None:
    """``places`` rows for the limit ``scope`` (idempotent: instances may race to create them)."""
    rows = [{"scope": scope, "place": place, "free_at": 0.0} for place in range(places)]
    await session.execute(_insert(session, RateLease).values(rows).on_conflict_do_nothing())


async def take_place(session: AsyncSession, scope: str, hold: float) -> int | None:
    """Take a free place of ``scope`` for at most ``hold`` seconds (a crashed sender's place frees
    itself then) → the place, or None when every place is taken. One statement; concurrent takers skip
    each other's rows (``FOR UPDATE SKIP LOCKED``), so no place is given out twice."""
    now = _database_now(session)
    free = (
        select(RateLease.place)
        .where(RateLease.scope == scope, RateLease.free_at <= now)
        .order_by(RateLease.free_at)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    taken = await session.execute(
        update(RateLease)
        .where(RateLease.scope == scope, RateLease.place == free)
        .values(free_at=now + hold)
        .returning(RateLease.place)
    )
    place = taken.scalar_one_or_none()
    return None if place is None else int(place)


async def next_free(session: AsyncSession, scope: str) -> float:
    """Seconds until the next place of ``scope`` frees (0 when one is free)."""
    now = await database_now(session)
    soonest = (await session.execute(select(func.min(RateLease.free_at)).where(RateLease.scope == scope))).scalar()
    return max(0.0, float(soonest if soonest is not None else now) - now)


async def release_place(session: AsyncSession, scope: str, place: int, period: float) -> None:
    """The send on ``place`` finished: the place is free again ``period`` from now."""
    now = _database_now(session)
    await session.execute(
        update(RateLease).where(RateLease.scope == scope, RateLease.place == place).values(free_at=now + period)
    )
