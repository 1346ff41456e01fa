"""Employees and their messenger identities. An identity seen for the first time gets an
employee of its own, so an unlinked account still counts as one person."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from content.models import Employee, Identity


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
