"""Importing the employee directory (CLI ``prikbord people import`` and ``POST /api/employees/import``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from bot.clock import Clock
from bot.config import PLATFORMS
from content import posts
from content.db import Store
from content.directory import DirectoryResult, SlackLookup, apply_directory, parse_directory


class ForgetPeople(Protocol):
    def __call__(self, keys: Iterable[tuple[str, str]]) -> None: ...


async def import_directory(
    store: Store,
    clock: Clock,
    text: str,
    actor: str,
    forget_people: ForgetPeople,
    slack_lookup: SlackLookup | None = None,
) -> DirectoryResult:
    """Upsert the directory in one transaction; a bad row fails alone. Raises
    :class:`~content.directory.MalformedDirectory` when the file as a whole is unreadable (then
    nothing changes)."""
    rows, failed = parse_directory(text, PLATFORMS)
    now = clock.now()
    async with store.transaction() as session:
        result = await apply_directory(session, rows, now, slack_lookup)
        result.failed[:0] = failed
        posts.audit(
            session,
            now,
            actor,
            "import_employees",
            None,
            created=result.created,
            updated=result.updated,
            unchanged=result.unchanged,
            identities_linked=result.identities_linked,
            failed=len(result.failed),
        )
    if result.relinked:
        forget_people(result.relinked)
    result.failed.sort(key=lambda f: f.line)
    return result
