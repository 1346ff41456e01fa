"""A person's data on request: one export document, erasure, and the reply-text retention job."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from bot.clock import Clock
from bot.i18n import N_
from content import posts
from content.db import Store
from content.linking import employee_by_email
from content.privacy import export_person, forget_person, purge_reply_texts

log = logging.getLogger("prikbord.privacy")
DAY = 86_400.0


class ForgetPeople(Protocol):
    def __call__(self, keys: Iterable[tuple[str, str]]) -> None: ...


@dataclass(frozen=True, slots=True)
class Forgotten:
    employee_id: int
    accounts: int
    replies_erased: int


PRIVACY_TEXT = N_(
    "What prikbord stores about you: your name, email, department, location and language from the company "
    "directory; your messenger accounts and how they were linked; your likes, acknowledgements, RSVPs, votes, "
    "clicks and the text of your replies; your reminders, quiet hours and opt-outs; and audit entries of what "
    "you did. Ask the people who run prikbord (or HR) for a copy of it all (`prikbord people export`) or to "
    "erase it (`prikbord people forget`): your responses then stay only as anonymous counts."
)


class PrivacyService:
    def __init__(self, store: Store, clock: Clock, forget_people: ForgetPeople) -> None:
        self._store = store
        self._clock = clock
        self._forget_people = forget_people

    async def export(self, email: str, actor: str) -> dict[str, Any] | None:
        """Everything stored about the employee with this email; None when there is none."""
        now = self._clock.now()
        async with self._store.transaction() as session:
            employee = await employee_by_email(session, email)
            if employee is None:
                return None
            document = await export_person(session, employee)
            posts.audit(session, now, actor, "export_person", None, employee_id=employee.id)
        return document

    async def forget(self, email: str, actor: str) -> Forgotten | None:
        now = self._clock.now()
        async with self._store.transaction() as session:
            employee = await employee_by_email(session, email)
            if employee is None:
                return None
            keys, erased = await forget_person(session, employee, now)
            # No name, no email, no account: only which placeholder it was and what went.
            posts.audit(
                session, now, actor, "forget_person", None, employee_id=employee.id, accounts=len(keys), replies=erased
            )
            forgotten = Forgotten(employee.id, len(keys), erased)
        self._forget_people(keys)
        return forgotten

    async def purge_replies(self, keep_days: int) -> int:
        """Erase reply texts older than ``keep_days`` (run daily by the scheduler when configured)."""
        now = self._clock.now()
        async with self._store.transaction() as session:
            erased = await purge_reply_texts(session, now - timedelta(days=keep_days))
            if erased:
                posts.audit(session, now, "scheduler", "purge_replies", None, replies=erased, keep_days=keep_days)
        return erased

    async def purge_replies_forever(self, keep_days: int, interval: float = DAY) -> None:
        """The ``[privacy] keep_replies_days`` job: at start and then daily. Idempotent, so several
        instances may each run it."""
        while True:
            try:
                erased = await self.purge_replies(keep_days)
                if erased:
                    log.info("erased the text of %d replies older than %d days", erased, keep_days)
            except Exception:
                log.exception("erasing old reply texts failed; trying again in %.0f s", interval)
            await asyncio.sleep(interval)
