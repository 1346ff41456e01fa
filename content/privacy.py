"""What is stored about a person: all of it as one document, and erasing it.

Forgetting keeps the person's responses as anonymous counts (so no total changes): the employee row
stays as a nameless placeholder and each messenger account is renamed to an anonymous key, so that
same account acting again is a new, unlinked person. Reply texts, personal fields, private chats and
the names in the audit log go.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from content.form_drafts import FormDraft
from content.guided import GuidedDraft
from content.models import (
    AuditEntry,
    Employee,
    Identity,
    LinkToken,
    Post,
    Reminder,
    ReminderState,
    Response,
    ResponseKind,
)
from content.processed_commands import ProcessedCommand

FORGOTTEN_PLATFORM = "forgotten"
FORGOTTEN_NAME = "(forgotten)"
# Audit actions whose detail names an employee by id.
_ABOUT_EMPLOYEE = ("link_account", "unlink_account", "forget_person", "export_person")
# Detail keys that may hold something personal; dropped when a person is forgotten.
_PERSONAL_KEYS = ("name", "email", "display_name", "text", "account", "user", "detail")


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


async def _identities(session: AsyncSession, employee_id: int) -> list[Identity]:
    rows = await session.execute(select(Identity).where(Identity.employee_id == employee_id).order_by(Identity.id))
    return list(rows.scalars())


async def _audit_about(session: AsyncSession, employee_id: int, keys: list[str]) -> list[AuditEntry]:
    found: dict[int, AuditEntry] = {}
    if keys:
        by_actor = await session.execute(select(AuditEntry).where(AuditEntry.actor.in_(keys)))
        found.update((entry.id, entry) for entry in by_actor.scalars())
    about = await session.execute(select(AuditEntry).where(AuditEntry.action.in_(_ABOUT_EMPLOYEE)))
    for entry in about.scalars():
        if isinstance(entry.detail, dict) and entry.detail.get("employee_id") == employee_id:
            found[entry.id] = entry
    return [found[k] for k in sorted(found)]


async def export_person(session: AsyncSession, employee: Employee) -> dict[str, Any]:
    """Everything stored about one employee, as one JSON-ready document."""
    identities = await _identities(session, employee.id)
    keys = [f"{i.platform}:{i.platform_user_id}" for i in identities]
    responses = await session.execute(
        select(Response, Post.title)
        .join(Post, Post.id == Response.post_id)
        .where(Response.employee_id == employee.id)
        .order_by(Response.created_at, Response.id)
    )
    reminders = await session.execute(
        select(Reminder).where(Reminder.employee_id == employee.id).order_by(Reminder.created_at, Reminder.id)
    )
    audit = await _audit_about(session, employee.id, keys)
    return {
        "employee": {
            "id": employee.id,
            "email": employee.email,
            "name": employee.name,
            "department": employee.department,
            "location": employee.location,
            "language": employee.language,
            "quiet_hours": [employee.quiet_start, employee.quiet_end] if employee.quiet_start else None,
            "optout_reminders": employee.optout_reminders,
            "optout_all": employee.optout_all,
            "created_at": _iso(employee.created_at),
        },
        "accounts": [
            {
                "platform": i.platform,
                "user_id": i.platform_user_id,
                "display_name": i.display_name,
                "private_chat_id": i.private_chat_id,
                "linked_how": i.linked_how,
                "linked_at": _iso(i.linked_at),
            }
            for i in identities
        ],
        "responses": [
            {
                "post_id": r.post_id,
                "post_title": title,
                "kind": r.kind,
                "value": r.value,
                "text": r.text,
                "platform": r.platform,
                "at": _iso(r.created_at),
            }
            for r, title in responses.all()
        ],
        "reminders": [
            {
                "post_id": r.post_id,
                "kind": r.kind,
                "state": r.state,
                "due_at": _iso(r.due_at),
                "sent_at": _iso(r.sent_at),
            }
            for r in reminders.scalars()
        ],
        "audit": [
            {"at": _iso(a.at), "actor": a.actor, "action": a.action, "post_id": a.post_id, "detail": a.detail}
            for a in audit
        ],
    }


async def forget_person(session: AsyncSession, employee: Employee, now: datetime) -> tuple[list[tuple[str, str]], int]:
    """Erase a person, in the caller's transaction. Returns the (platform, user id) keys that were
    theirs (caches keyed by them are stale) and how many reply texts were erased."""
    identities = await _identities(session, employee.id)
    keys = [(i.platform, i.platform_user_id) for i in identities]
    audit = await _audit_about(session, employee.id, [f"{p}:{u}" for p, u in keys])
    placeholder = f"{FORGOTTEN_PLATFORM}:{employee.id}"
    for entry in audit:
        if entry.actor in {f"{p}:{u}" for p, u in keys}:
            entry.actor = placeholder
        if isinstance(entry.detail, dict) and any(k in entry.detail for k in _PERSONAL_KEYS):
            entry.detail = {k: v for k, v in entry.detail.items() if k not in _PERSONAL_KEYS}
    actors = [f"{p}:{u}" for p, u in keys]
    if actors:
        await session.execute(update(Post).where(Post.author.in_(actors)).values(author=placeholder))
        await session.execute(
            update(ProcessedCommand).where(ProcessedCommand.actor.in_(actors)).values(actor=placeholder)
        )
        for platform, user_id in keys:
            await session.execute(
                delete(LinkToken).where(LinkToken.platform == platform, LinkToken.platform_user_id == user_id)
            )
            # A post form's draft waiting for its Publish holds the person's own words (content/form_drafts.py).
            await session.execute(delete(FormDraft).where(FormDraft.platform == platform, FormDraft.user_id == user_id))
            # So does a step-by-step dialog's (content/guided.py).
            await session.execute(
                delete(GuidedDraft).where(GuidedDraft.platform == platform, GuidedDraft.user_id == user_id)
            )
    for identity in identities:
        # A fresh random key: the account itself is no longer known, so acting again starts anew.
        identity.platform = FORGOTTEN_PLATFORM
        identity.platform_user_id = secrets.token_hex(16)
        identity.display_name = ""
        identity.private_chat_id = None
        identity.linked_how = identity.linked_at = None
    replies = await session.execute(
        update(Response).where(Response.employee_id == employee.id, Response.text.is_not(None)).values(text=None)
    )
    await session.execute(
        update(Reminder)
        .where(Reminder.employee_id == employee.id, Reminder.state == ReminderState.PENDING)
        .values(state=ReminderState.OPTED_OUT, detail=None)
    )
    await session.execute(update(Reminder).where(Reminder.employee_id == employee.id).values(detail=None))
    employee.name = FORGOTTEN_NAME
    employee.email = employee.department = employee.location = employee.language = None
    employee.quiet_start = employee.quiet_end = None
    employee.optout_all = employee.optout_reminders = True
    await session.flush()
    return keys, int(getattr(replies, "rowcount", 0) or 0)


async def purge_reply_texts(session: AsyncSession, before: datetime) -> int:
    """Erase the text of replies older than ``before`` (the reply still counts)."""
    result = await session.execute(
        update(Response)
        .where(Response.kind == ResponseKind.REPLY, Response.created_at < before, Response.text.is_not(None))
        .values(text=None)
    )
    return int(getattr(result, "rowcount", 0) or 0)
