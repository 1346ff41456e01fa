"""Responses (likes, acks, RSVPs, votes, replies, clicks), written in batches.

A batch is applied in one transaction with a handful of statements whatever its size: event ids are
de-duplicated with one ``INSERT … ON CONFLICT DO NOTHING RETURNING``, the current single-kind
responses are read once, the net effect per (post, person, kind) is computed in order, and only
that is written. Unique indexes remain the last word when instances race.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import and_, bindparam, delete, func, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from content.models import SINGLE_KINDS, ProcessedEvent, Response, ResponseKind, table_of


class Op(StrEnum):
    ADD = "add"
    REMOVE = "remove"


class Outcome(StrEnum):
    COUNTED = "counted"
    ALREADY = "already counted"
    CHANGED = "changed"
    REMOVED = "removed"
    NOTHING = "nothing to remove"
    DUPLICATE_EVENT = "duplicate event"


@dataclass(frozen=True, slots=True)
class Interaction:
    """One resolved inbound act: who did what to which post."""

    platform: str
    event_id: str | None
    post_id: int
    identity_id: int
    employee_id: int
    kind: ResponseKind
    op: Op = Op.ADD
    value: str | None = None
    text: str | None = None
    delivery_id: int | None = None


Key = tuple[int, int, str]  # (post, employee, kind)


async def _new_event_ids(session: AsyncSession, items: Sequence[Interaction], now: datetime) -> set[tuple[str, str]]:
    wanted: dict[tuple[str, str], None] = {}
    for item in items:
        if item.event_id is not None:
            wanted.setdefault((item.platform, item.event_id), None)
    if not wanted:
        return set()
    table = table_of(ProcessedEvent)
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    new: set[tuple[str, str]] = set()
    keys = sorted(wanted)  # key order: concurrent instances take the unique entries in one order, no deadlock
    # One cached statement run with a parameter list ("insertmanyvalues": sent as multi-row INSERTs), not a
    # VALUES clause built and compiled anew for every batch.
    statement = insert(table).on_conflict_do_nothing().returning(table.c.platform, table.c.event_id)
    # Chunked to stay under parameter limits (SQLite 32k, asyncpg 32k).
    for start in range(0, len(keys), 2000):
        chunk = keys[start : start + 2000]
        rows = [{"platform": p, "event_id": e, "received_at": now} for p, e in chunk]
        new.update((r[0], r[1]) for r in (await session.execute(statement, rows)).all())
    return new


async def _current_single(session: AsyncSession, keys: set[Key]) -> dict[Key, str | None]:
    if not keys:
        return {}
    current: dict[Key, str | None] = {}
    key_list = list(keys)
    for start in range(0, len(key_list), 500):
        chunk = key_list[start : start + 500]
        rows = await session.execute(
            select(Response.post_id, Response.employee_id, Response.kind, Response.value).where(
                tuple_(Response.post_id, Response.employee_id, Response.kind).in_(chunk)
            )
        )
        for post_id, employee_id, kind, value in rows.all():
            current[(post_id, employee_id, kind)] = value
    return current


async def apply_batch(session: AsyncSession, items: Sequence[Interaction], now: datetime) -> list[Outcome]:
    """Store a batch of interactions in the caller's transaction; one outcome per item, in order."""
    new_events = await _new_event_ids(session, items, now)
    seen_events: set[tuple[str, str]] = set()
    # One like/ack/RSVP/vote per person (employee), whichever of their linked accounts gave it.
    single_keys = {(i.post_id, i.employee_id, i.kind.value) for i in items if i.kind in SINGLE_KINDS}
    initial = await _current_single(session, single_keys)
    state: dict[Key, str | None] = dict(initial)
    first_item: dict[Key, Interaction] = {}
    appended: list[Interaction] = []
    outcomes: list[Outcome] = []

    for item in items:
        if item.event_id is not None:
            event_key = (item.platform, item.event_id)
            if event_key not in new_events or event_key in seen_events:
                outcomes.append(Outcome.DUPLICATE_EVENT)
                continue
            seen_events.add(event_key)
        if item.kind not in SINGLE_KINDS:
            appended.append(item)
            outcomes.append(Outcome.COUNTED)
            continue
        key = (item.post_id, item.employee_id, item.kind.value)
        first_item.setdefault(key, item)
        present = key in state
        if item.op == Op.REMOVE:
            outcomes.append(Outcome.REMOVED if present else Outcome.NOTHING)
            state.pop(key, None)
        elif not present:
            state[key] = item.value
            first_item[key] = item
            outcomes.append(Outcome.COUNTED)
        elif state[key] == item.value:
            outcomes.append(Outcome.ALREADY)
        else:
            state[key] = item.value
            outcomes.append(Outcome.CHANGED)

    inserts: list[dict[str, object]] = []
    updates: list[dict[str, object]] = []
    deletes: list[dict[str, object]] = []
    for key in single_keys:
        before_present, after_present = key in initial, key in state
        if after_present and not before_present:
            origin = first_item[key]
            inserts.append(_row(origin, state[key], now))
        elif before_present and not after_present:
            deletes.append({"b_post": key[0], "b_employee": key[1], "b_kind": key[2]})
        elif before_present and after_present and initial[key] != state[key]:
            updates.append({"b_post": key[0], "b_employee": key[1], "b_kind": key[2], "b_value": state[key]})
    inserts.extend(_row(i, i.value, now) for i in appended)

    table = table_of(Response)
    if inserts:
        insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
        inserts.sort(key=lambda row: (row["post_id"], row["employee_id"], row["kind"]))  # one order: no deadlock
        await session.execute(insert(table).on_conflict_do_nothing(), inserts)
    if updates:
        await session.execute(
            update(table)
            .where(
                and_(
                    table.c.post_id == bindparam("b_post"),
                    table.c.employee_id == bindparam("b_employee"),
                    table.c.kind == bindparam("b_kind"),
                )
            )
            .values(value=bindparam("b_value"), created_at=now),
            updates,
        )
    if deletes:
        await session.execute(
            delete(table).where(
                and_(
                    table.c.post_id == bindparam("b_post"),
                    table.c.employee_id == bindparam("b_employee"),
                    table.c.kind == bindparam("b_kind"),
                )
            ),
            deletes,
        )
    return outcomes


def _row(item: Interaction, value: str | None, now: datetime) -> dict[str, object]:
    return {
        "post_id": item.post_id,
        "identity_id": item.identity_id,
        "employee_id": item.employee_id,
        "kind": item.kind.value,
        "value": value,
        "text": item.text,
        "platform": item.platform,
        "delivery_id": item.delivery_id,
        "created_at": now,
    }


@dataclass(frozen=True, slots=True)
class Counts:
    by_kind: dict[str, int]  # kind → distinct people
    by_value: dict[str, int]  # rsvp/vote value → distinct people


async def counts_for(session: AsyncSession, post_ids: Sequence[int]) -> dict[int, Counts]:
    """Distinct people per kind (and per option) for each post, in two queries."""
    result: dict[int, Counts] = {pid: Counts({}, {}) for pid in post_ids}
    if not post_ids:
        return result
    kind_rows = await session.execute(
        select(Response.post_id, Response.kind, func.count(func.distinct(Response.employee_id)))
        .where(Response.post_id.in_(post_ids))
        .group_by(Response.post_id, Response.kind)
    )
    for post_id, kind, n in kind_rows.all():
        result[post_id].by_kind[kind] = int(n)
    value_rows = await session.execute(
        select(Response.post_id, Response.value, func.count(func.distinct(Response.employee_id)))
        .where(Response.post_id.in_(post_ids), Response.kind.in_((ResponseKind.RSVP, ResponseKind.VOTE)))
        .group_by(Response.post_id, Response.value)
    )
    for post_id, value, n in value_rows.all():
        if value is not None:
            result[post_id].by_value[value] = int(n)
    return result


async def responders(session: AsyncSession, post_id: int, kind: ResponseKind) -> set[int]:
    rows = await session.execute(
        select(Response.employee_id).where(Response.post_id == post_id, Response.kind == kind).distinct()
    )
    return {r[0] for r in rows.all()}
