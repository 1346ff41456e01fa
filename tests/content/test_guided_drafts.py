"""The step-by-step dialogs' store (content/guided.py): forgetting a person drops their dialog under way,
which holds their own words, and leaves other people's alone."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from content.db import Store
from content.guided import GuidedDraft
from content.models import Employee
from content.people import ensure_identity
from content.privacy import forget_person

NOW = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)


def _dialog(user_id: str) -> GuidedDraft:
    return GuidedDraft(
        platform="telegram",
        user_id=user_id,
        chat_id=user_id,
        step="body",
        answers={"title": f"Lunch met {user_id}"},
        prompt_id=None,
        started_at=NOW,
        updated_at=NOW,
    )


async def test_forgetting_a_person_drops_their_dialog_under_way(store: Store) -> None:
    async with store.transaction() as session:
        session.add_all([_dialog("41"), _dialog("42")])
        person = await ensure_identity(session, "telegram", "41", "anna", NOW)
        employee = await session.get(Employee, person.employee_id)
        assert employee is not None
        await forget_person(session, employee, NOW)
    async with store.sessions() as session:
        left = (await session.execute(select(GuidedDraft.user_id))).scalars().all()
    assert left == ["42"]
