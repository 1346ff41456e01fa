"""Employees and their messenger identities. An identity seen for the first time gets an
employee of its own, so an unlinked account still counts as one person."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Column, String, delete, insert, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from content.models import Employee, Identity, table_of


def _length(column: Column[str]) -> int:
    kind = column.type
    assert isinstance(kind, String) and kind.length is not None, f"{column} has no length"
    return kind.length


# Names go into two columns of the same length (identities.display_name, employees.name).
NAME_LENGTH = min(_length(table_of(Identity).c.display_name), _length(table_of(Employee).c.name))
# Control characters (C0, DEL, C1) and the bidirectional overrides and isolates that reorder text.
_UNWANTED = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def storable_name(name: str, limit: int = NAME_LENGTH) -> str:
    """A display name as it can be stored and shown anywhere: lone UTF-16 surrogates (valid in JSON,
    refused by every database driver) become U+FFFD, control characters and text-direction overrides
    go, whitespace runs become one space, and it is cut to ``limit`` characters (with an ellipsis)."""
    # Through UTF-16 with surrogatepass: a split surrogate pair joins up again, a lone half becomes U+FFFD.
    whole = name.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    cleaned = " ".join(_UNWANTED.sub(" ", whole).split())
    if len(cleaned) <= limit:
        return cleaned
    return cleaned[: limit - 1].rstrip() + "…"


def _employee_name(platform: str, user_id: str, display_name: str) -> str:
    return display_name or storable_name(f"{platform}:{user_id}")


@dataclass(frozen=True, slots=True)
class Person:
    identity_id: int
    employee_id: int


async def find_identity(session: AsyncSession, platform: str, user_id: str) -> Identity | None:
    result = await session.execute(
        select(Identity).where(Identity.platform == platform, Identity.platform_user_id == user_id)
    )
    return result.scalars().first()


async def ensure_identity(
    session: AsyncSession, platform: str, user_id: str, display_name: str, now: datetime
) -> Person:
    """The identity for a platform account, created (with its employee) on first sight."""
    display_name = storable_name(display_name)
    found = await find_identity(session, platform, user_id)
    if found is not None:
        if display_name and found.display_name != display_name:
            found.display_name = display_name
        return Person(found.id, found.employee_id)
    # Another instance may create the same identity at the same moment: a savepoint keeps our
    # transaction alive when we lose that race, and we read the winner's row.
    try:
        async with session.begin_nested():
            employee = Employee(name=_employee_name(platform, user_id, display_name), created_at=now)
            session.add(employee)
            await session.flush()
            identity = Identity(
                platform=platform, platform_user_id=user_id, display_name=display_name, employee_id=employee.id
            )
            session.add(identity)
            await session.flush()
            return Person(identity.id, employee.id)
    except IntegrityError:
        again = await find_identity(session, platform, user_id)
        if again is None:
            raise
        return Person(again.id, again.employee_id)


async def employee_of(session: AsyncSession, person: Person) -> Employee:
    employee = await session.get(Employee, person.employee_id)
    assert employee is not None, "identities always have an employee"
    return employee


async def ensure_identities(
    session: AsyncSession, accounts: Sequence[tuple[str, str, str]], now: datetime
) -> dict[tuple[str, str], Person]:
    """Many accounts at once — (platform, user id, display name) — in a few statements whatever
    their number: one read, then bulk inserts for the ones never seen. Used by the batched writer."""
    wanted = {(platform, user_id): storable_name(name) for platform, user_id, name in accounts}
    found = await _identities_by_key(session, list(wanted))
    # In key order: two instances inserting overlapping accounts wait on each other's unique-index entries
    # in the same order, so they never deadlock (PostgreSQL detected one with 20,000 presses on three).
    missing = sorted(key for key in wanted if key not in found)
    if not missing:
        return found
    employees = table_of(Employee)
    rows = await session.execute(
        insert(employees).returning(employees.c.id, sort_by_parameter_order=True),
        [
            {
                "name": _employee_name(key[0], key[1], wanted[key]),
                "created_at": now,
                "optout_reminders": False,
                "optout_all": False,
            }
            for key in missing
        ],
    )
    employee_ids = [row[0] for row in rows.all()]
    identities = table_of(Identity)
    dialect_insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    await session.execute(
        dialect_insert(identities).on_conflict_do_nothing(),
        [
            {"platform": key[0], "platform_user_id": key[1], "display_name": wanted[key], "employee_id": employee_id}
            for key, employee_id in zip(missing, employee_ids, strict=True)
        ],
    )
    created = await _identities_by_key(session, missing)
    # Another instance may have created some of these at the same moment: its rows won, ours are
    # orphans (their identities were not inserted) and go again.
    orphans = [eid for key, eid in zip(missing, employee_ids, strict=True) if created[key].employee_id != eid]
    if orphans:
        await session.execute(delete(employees).where(employees.c.id.in_(orphans)))
    found.update(created)
    return found


async def _identities_by_key(session: AsyncSession, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Person]:
    found: dict[tuple[str, str], Person] = {}
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        rows = await session.execute(
            select(Identity.platform, Identity.platform_user_id, Identity.id, Identity.employee_id).where(
                tuple_(Identity.platform, Identity.platform_user_id).in_(chunk)
            )
        )
        for platform, user_id, identity_id, employee_id in rows.all():
            found[(platform, user_id)] = Person(identity_id, employee_id)
    return found


async def employees_page(session: AsyncSession, limit: int, offset: int) -> list[Employee]:
    rows = await session.execute(select(Employee).order_by(Employee.id).limit(limit).offset(offset))
    return list(rows.scalars())


async def identity_keys_of(session: AsyncSession, employee_ids: Sequence[int]) -> dict[int, list[str]]:
    """Each employee's linked accounts as ``platform:user id``, sorted."""
    linked: dict[int, list[str]] = {employee_id: [] for employee_id in employee_ids}
    if linked:
        rows = await session.execute(select(Identity).where(Identity.employee_id.in_(list(linked))))
        for identity in rows.scalars():
            linked[identity.employee_id].append(f"{identity.platform}:{identity.platform_user_id}")
    return {employee_id: sorted(keys) for employee_id, keys in linked.items()}
