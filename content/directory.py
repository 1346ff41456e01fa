"""The employee directory: a CSV or JSON-lines file of people, keyed by email, that links their
messenger accounts to them, so someone on Telegram and on Slack counts as one person.

Columns (CSV header, or JSON keys): ``email`` (the key), ``name``, ``department``, ``location``,
``language``, one account per platform — ``telegram`` (numeric user id), ``slack`` (user id, or
the workspace email when Slack can look it up), ``matrix`` (mxid) — and the older ``identities``
(``telegram:123;slack:U01;matrix:@anna:example.org``). A column that is present sets its field (an
empty cell clears it); an absent one leaves the field alone. A row whose account already acted (and
so got an employee of its own, without email) adopts that employee, so its history stays with the
person; an account that belonged to someone else moves, with its responses (merged: one count per
person). Importing the same file again changes nothing and says so.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from content.linking import attach_account
from content.models import Employee, Identity, LinkedHow

FIELDS = ("email", "name", "department", "location", "language")
ACCOUNT_COLUMNS = ("telegram", "slack", "matrix")
COLUMNS = (*FIELDS, *ACCOUNT_COLUMNS, "identities")
_PLATFORM = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_ACCOUNT_FORMS = {
    "telegram": (re.compile(r"^[0-9]{1,20}$"), "a numeric Telegram user id"),
    "slack": (re.compile(r"^[UW][A-Z0-9]{2,30}$"), "a Slack user id (U…) or the person's Slack email"),
    "matrix": (re.compile(r"^@[^:\s]+:[^\s]+$"), "a Matrix id like @anna:example.org"),
}
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")
_LIMITS = {"name": 200, "department": 200, "location": 200, "language": 16, "email": 320}

# Looks up Slack user ids by workspace email (users.lookupByEmail): email → user id, absent when unknown.
SlackLookup = Callable[[Sequence[str]], Awaitable[dict[str, str]]]


class MalformedDirectory(ValueError):
    """The file as a whole cannot be read (no header, an unknown column, broken quoting)."""


@dataclass(frozen=True, slots=True)
class DirectoryRow:
    line: int
    # Only the fields the file gives (None: clear it); the name is always there.
    fields: dict[str, str | None]
    accounts: tuple[tuple[str, str], ...]
    slack_emails: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.fields.get("name") or ""

    @property
    def email(self) -> str | None:
        return self.fields.get("email")


@dataclass(frozen=True, slots=True)
class RowFailure:
    line: int
    reason: str


@dataclass
class DirectoryResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    identities_linked: int = 0
    failed: list[RowFailure] = field(default_factory=list)
    # Accounts that moved from one employee to another: caches keyed by them are stale now.
    relinked: list[tuple[str, str]] = field(default_factory=list)


def _known() -> str:
    return ", ".join(COLUMNS)


def parse_directory(text: str, platforms: Sequence[str]) -> tuple[list[DirectoryRow], list[RowFailure]]:
    """CSV (a header line first) or JSON lines (one object per line), told apart by the first character."""
    text = text.lstrip("\ufeff")
    if text.lstrip().startswith("{"):
        return _parse_json_lines(text, platforms)
    return _parse_csv(text, platforms)


def _parse_csv(text: str, platforms: Sequence[str]) -> tuple[list[DirectoryRow], list[RowFailure]]:
    reader = csv.DictReader(io.StringIO(text))
    try:
        header = [h.strip().lower() for h in (reader.fieldnames or [])]
    except csv.Error as exc:
        raise MalformedDirectory(f"not a CSV file: {exc}") from None
    if "name" not in header and "email" not in header:
        raise MalformedDirectory(f"the first line must name the columns, at least `name` or `email` (of {_known()})")
    unknown = [h for h in header if h not in COLUMNS]
    if unknown:
        raise MalformedDirectory(f"unknown column {unknown[0]!r}; the known columns are {_known()}")
    reader.fieldnames = header
    rows: list[DirectoryRow] = []
    failed: list[RowFailure] = []
    try:
        for record in reader:
            values = {k: (v.strip() if isinstance(v, str) else "") for k, v in record.items() if k is not None}
            _collect(_row(reader.line_num, values, platforms), rows, failed)
    except csv.Error as exc:
        raise MalformedDirectory(f"line {reader.line_num}: {exc}") from None
    return rows, failed


def _parse_json_lines(text: str, platforms: Sequence[str]) -> tuple[list[DirectoryRow], list[RowFailure]]:
    rows: list[DirectoryRow] = []
    failed: list[RowFailure] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except json.JSONDecodeError as exc:
            failed.append(RowFailure(number, f"not a JSON object: {exc.msg}"))
            continue
        if not isinstance(record, dict):
            failed.append(RowFailure(number, "not a JSON object"))
            continue
        unknown = [k for k in record if str(k).lower() not in COLUMNS]
        if unknown:
            raise MalformedDirectory(f"line {number}: unknown column {unknown[0]!r}; the known columns are {_known()}")
        values: dict[str, str] = {}
        bad = None
        for key, value in record.items():
            if value is None:
                values[key.lower()] = ""
            elif isinstance(value, str | int) and not isinstance(value, bool):
                values[key.lower()] = str(value).strip()
            else:
                bad = RowFailure(number, f"{key} must be text, not {type(value).__name__}")
        _collect(bad or _row(number, values, platforms), rows, failed)
    return rows, failed


def _collect(parsed: DirectoryRow | RowFailure, rows: list[DirectoryRow], failed: list[RowFailure]) -> None:
    if isinstance(parsed, RowFailure):
        failed.append(parsed)
    else:
        rows.append(parsed)


def _row(line: int, values: dict[str, str], platforms: Sequence[str]) -> DirectoryRow | RowFailure:
    fields: dict[str, str | None] = {}
    for name in FIELDS:
        if name in values:
            fields[name] = values[name] or None
    if fields.get("email"):
        fields["email"] = (fields["email"] or "").lower()
    if not fields.get("name"):
        return RowFailure(line, "name is empty")
    for name, limit in _LIMITS.items():
        value = fields.get(name)
        if value is not None and len(value) > limit:
            return RowFailure(line, f"{name} may have at most {limit} characters")
    email = fields.get("email")
    if email is not None and not _is_email(email):
        return RowFailure(line, f"{email!r} is not an email address")
    language = fields.get("language")
    if language is not None and not _LANGUAGE.match(language):
        return RowFailure(line, f"language {language!r} is not a language code like nl or en")
    accounts: list[tuple[str, str]] = []
    slack_emails: list[str] = []
    for platform in ACCOUNT_COLUMNS:
        value = values.get(platform, "")
        if not value:
            continue
        if platform == "slack" and _is_email(value):
            slack_emails.append(value.lower())
            continue
        pattern, what = _ACCOUNT_FORMS[platform]
        if not pattern.match(value):
            return RowFailure(line, f"{platform} {value!r} is not {what}")
        accounts.append((platform, value))
    for part in re.split(r"[;\s]+", values.get("identities", "")):
        if not part:
            continue
        platform, sep, user_id = part.partition(":")
        platform = platform.lower()
        if not sep or not user_id or not _PLATFORM.match(platform) or len(user_id) > 255:
            return RowFailure(line, f"{part!r} is not platform:user_id (like telegram:123 or slack:U01)")
        if platform not in platforms:
            return RowFailure(line, f"unknown platform {platform!r} in {part!r} (one of {', '.join(platforms)})")
        if (platform, user_id) not in accounts:
            accounts.append((platform, user_id))
    return DirectoryRow(line, fields, tuple(accounts), tuple(slack_emails))


def _is_email(value: str) -> bool:
    local, at, domain = value.rpartition("@")
    return bool(at and local and "." in domain and " " not in value and len(value) <= 320)


async def apply_directory(
    session: AsyncSession,
    rows: Sequence[DirectoryRow],
    now: datetime,
    slack_lookup: SlackLookup | None = None,
) -> DirectoryResult:
    """Create or update employees and link their accounts, in the caller's transaction."""
    result = DirectoryResult()
    rows = await _resolve_slack_emails(rows, slack_lookup, result)
    claimed: dict[tuple[str, str], int] = {}
    emails: dict[str, int] = {}
    used: set[int] = set()  # employees a row of this file already stands for
    for row in rows:
        taken = [key for key in row.accounts if key in claimed]
        if taken:
            platform, user_id = taken[0]
            result.failed.append(
                RowFailure(row.line, f"{platform}:{user_id} is listed on line {claimed[taken[0]]} too")
            )
            continue
        if row.email and row.email in emails:
            result.failed.append(RowFailure(row.line, f"{row.email} is listed on line {emails[row.email]} too"))
            continue
        existing = {key: await _identity(session, *key) for key in row.accounts}
        employee = await _employee_for(session, row, existing, used)
        created = employee is None
        changed = False
        if employee is None:
            employee = Employee(name=row.name, created_at=now)
            _set_fields(employee, row.fields)
            session.add(employee)
            await session.flush()
        else:
            changed = _set_fields(employee, row.fields)
        used.add(employee.id)
        for key in row.accounts:
            claimed[key] = row.line
            change = await attach_account(session, key[0], key[1], row.name, employee.id, LinkedHow.DIRECTORY, now)
            if change.linked:
                result.identities_linked += 1
                changed = True
            if change.moved:
                result.relinked.append(key)
        if row.email:
            emails[row.email] = row.line
        await session.flush()
        if created:
            result.created += 1
        elif changed:
            result.updated += 1
        else:
            result.unchanged += 1
    return result


def _set_fields(employee: Employee, fields: dict[str, str | None]) -> bool:
    changed = False
    for name, value in fields.items():
        if name == "email" and value is None:
            continue  # the key is never cleared by a row that leaves it out
        if getattr(employee, name) != value:
            setattr(employee, name, value)
            changed = True
    return changed


async def _resolve_slack_emails(
    rows: Sequence[DirectoryRow], lookup: SlackLookup | None, result: DirectoryResult
) -> list[DirectoryRow]:
    wanted = sorted({email for row in rows for email in row.slack_emails})
    found: dict[str, str] = {}
    if wanted and lookup is not None:
        found = await lookup(wanted)
    kept: list[DirectoryRow] = []
    for row in rows:
        if not row.slack_emails:
            kept.append(row)
            continue
        if lookup is None:
            result.failed.append(
                RowFailure(
                    row.line,
                    "slack is an email, which needs Slack configured ([slack] bot_token with the users:read.email "
                    "scope) to look up; give the Slack user id (U…) instead",
                )
            )
            continue
        missing = [email for email in row.slack_emails if email not in found]
        if missing:
            result.failed.append(RowFailure(row.line, f"no Slack account has the email {missing[0]!r}"))
            continue
        accounts = (*row.accounts, *(("slack", found[email]) for email in row.slack_emails))
        kept.append(DirectoryRow(row.line, row.fields, accounts))
    return kept


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
    # account keeps its employee (and nothing cached about it goes stale).
    for identity in existing.values():
        if identity is not None and identity.employee_id not in used:
            owner = await session.get(Employee, identity.employee_id)
            if owner is not None and owner.email is None:
                return owner
    return None
