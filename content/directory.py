"""The employee directory: a CSV (name, email, department, identities) links messenger accounts to
the people they belong to, so someone on Telegram and on Slack counts as one person.

``identities`` holds ``platform:user_id`` pairs separated by ``;`` (``telegram:123;slack:U01``;
Matrix ids keep their own colons: ``matrix:@anna:example.org``). Rows are matched on email; a row
whose identity already acted (and so got an employee of its own, without email) adopts that employee,
so its history stays with the person.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from content.models import Employee, Identity, Response

COLUMNS = ("name", "email", "department", "identities")
_PLATFORM = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


class MalformedDirectory(ValueError):
    """The CSV as a whole cannot be read (no header with a ``name`` column, broken quoting)."""


@dataclass(frozen=True, slots=True)
class DirectoryRow:
    line: int
    name: str
    email: str | None
    department: str | None
    identities: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class RowFailure:
    line: int
    reason: str


@dataclass
class DirectoryResult:
    created: int = 0
    updated: int = 0
    identities_linked: int = 0
    failed: list[RowFailure] = field(default_factory=list)
    # Identities that moved from one employee to another: caches keyed by them are stale now.
    relinked: list[tuple[str, str]] = field(default_factory=list)


def parse_directory(text: str, platforms: Sequence[str]) -> tuple[list[DirectoryRow], list[RowFailure]]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    try:
        header = [h.strip().lower() for h in (reader.fieldnames or [])]
    except csv.Error as exc:
        raise MalformedDirectory(f"not a CSV file: {exc}") from None
    if "name" not in header:
        raise MalformedDirectory(f"the first line must name the columns, at least `name` (of {', '.join(COLUMNS)})")
    reader.fieldnames = header
    rows: list[DirectoryRow] = []
    failed: list[RowFailure] = []
    try:
        for record in reader:
            line = reader.line_num
            parsed = _row(line, record, platforms)
            if isinstance(parsed, RowFailure):
                failed.append(parsed)
            else:
                rows.append(parsed)
    except csv.Error as exc:
        raise MalformedDirectory(f"line {reader.line_num}: {exc}") from None
    return rows, failed


def _row(line: int, record: dict[str | None, str | None], platforms: Sequence[str]) -> DirectoryRow | RowFailure:
    def value(key: str) -> str:
        raw = record.get(key)
        return raw.strip() if isinstance(raw, str) else ""

    name, email, department = value("name"), value("email").lower(), value("department")
    if not name:
        return RowFailure(line, "name is empty")
    if len(name) > 200 or len(department) > 200:
        return RowFailure(line, "name and department may have at most 200 characters")
    if email and (len(email) > 320 or "@" not in email):
        return RowFailure(line, f"{email!r} is not an email address")
    identities: list[tuple[str, str]] = []
    for part in re.split(r"[;\s]+", value("identities")):
        if not part:
            continue
        platform, sep, user_id = part.partition(":")
        platform = platform.lower()
        if not sep or not user_id or not _PLATFORM.match(platform) or len(user_id) > 255:
            return RowFailure(line, f"{part!r} is not platform:user_id (like telegram:123 or slack:U01)")
        if platform not in platforms:
            return RowFailure(line, f"unknown platform {platform!r} in {part!r} (one of {', '.join(platforms)})")
        identities.append((platform, user_id))
    return DirectoryRow(line, name, email or None, department or None, tuple(identities))


async def apply_directory(session: AsyncSession, rows: Sequence[DirectoryRow], now: datetime) -> DirectoryResult:
    """Create or update employees and link their identities, in the caller's transaction."""
    result = DirectoryResult()
    claimed: dict[tuple[str, str], int] = {}
    emails: set[str] = set()
    used: set[int] = set()  # employees a row of this file already stands for
    for row in rows:
        taken = [key for key in row.identities if key in claimed]
        if taken:
            platform, user_id = taken[0]
            result.failed.append(
                RowFailure(row.line, f"{platform}:{user_id} is listed on line {claimed[taken[0]]} too")
            )
            continue
        if row.email and row.email in emails:
            result.failed.append(RowFailure(row.line, f"{row.email} is listed twice"))
            continue
        existing = {key: await _identity(session, *key) for key in row.identities}
        employee = await _employee_for(session, row, existing, used)
        if employee is None:
            employee = Employee(name=row.name, email=row.email, department=row.department, created_at=now)
            session.add(employee)
            await session.flush()
            result.created += 1
        else:
            employee.name, employee.department = row.name, row.department
            employee.email = row.email or employee.email
            result.updated += 1
        used.add(employee.id)
        for key, identity in existing.items():
            claimed[key] = row.line
            if identity is None:
                session.add(
                    Identity(platform=key[0], platform_user_id=key[1], display_name=row.name, employee_id=employee.id)
                )
                result.identities_linked += 1
            elif identity.employee_id != employee.id:
                await _relink(session, identity, employee.id)
                result.identities_linked += 1
                result.relinked.append(key)
        if row.email:
            emails.add(row.email)
        await session.flush()
    return result


async def _identity(session: AsyncSession, platform: str, user_id: str) -> Identity | None:
    rows = await session.execute(
        select(Identity).where(Identity.platform == platform, Identity.platform_user_id == user_id)
    )
    return rows.scalars().first()


async def _employee_for(
    session: AsyncSession, row: DirectoryRow, existing: dict[tuple[str, str], Identity | None], used: set[int]
) -> Employee | None:
    if row.email:
        found = (
            (await session.execute(select(Employee).where(func.lower(Employee.email) == row.email))).scalars().first()
        )
        if found is not None:
            return found
    # Someone who acted before the directory arrived got an employee of their own; adopt it, so the
    # identity keeps its employee (and nothing cached about it goes stale).
    for identity in existing.values():
        if identity is not None and identity.employee_id not in used:
            owner = await session.get(Employee, identity.employee_id)
            if owner is not None and owner.email is None:
                return owner
    return None


async def _relink(session: AsyncSession, identity: Identity, employee_id: int) -> None:
    """Move an identity, and the responses it gave, to another employee. The employee it leaves
    stays: a running process may still hold its id, and a response naming it must not fail."""
    identity.employee_id = employee_id
    await session.execute(update(Response).where(Response.identity_id == identity.id).values(employee_id=employee_id))
