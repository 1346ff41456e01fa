"""Employees and their messenger identities. An identity seen for the first time gets an
employee of its own, so an unlinked account still counts as one person."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, insert, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from content.models import Employee, Identity, table_of


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
    found = await find_identity(session, platform, user_id)
    if found is not None:
        if display_name and found.display_name != display_name:
            found.display_name = display_name
        return Person(found.id, found.employee_id)
    # Another instance may create the same identity at the same moment: a savepoint keeps our
    # transaction alive when we lose that race, and we read the winner's row.
    try:
        async with session.begin_nested():
            employee = Employee(name=display_name or f"{platform}:{user_id}", created_at=now)
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
    wanted = {(platform, user_id): name for platform, user_id, name in accounts}
    found = await _identities_by_key(session, list(wanted))
    missing = [key for key in wanted if key not in found]
    if not missing:
        return found
    employees = table_of(Employee)
    rows = await session.execute(
        insert(employees).returning(employees.c.id, sort_by_parameter_order=True),
        [
            {
                "name": wanted[key] or f"{key[0]}:{key[1]}",
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
