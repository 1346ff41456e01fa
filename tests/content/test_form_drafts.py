"""Post form drafts (content/form_drafts.py): one claim wins, a refused publish can be tried again, a
draft is its author's only, expires, and goes when its author is forgotten. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from content import form_drafts
from content.db import Store
from content.models import Employee
from content.people import ensure_identity
from content.privacy import forget_person

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
PAYLOAD = {"title": "Lunch"}


async def _save(store: Store, user_id: str = "U1") -> str:
    async with store.transaction() as session:
        return await form_drafts.save_draft(session, "slack", user_id, PAYLOAD, NOW)


async def _claim(store: Store, token: str) -> bool:
    async with store.transaction() as session:
        return await form_drafts.claim_draft(session, token, NOW)


async def test_of_concurrent_claims_one_wins_and_a_release_without_a_post_allows_another(store: Store) -> None:
    token = await _save(store)
    assert sorted(await asyncio.gather(*(_claim(store, token) for _ in range(5)))) == [False] * 4 + [True]
    async with store.transaction() as session:
        await form_drafts.release_draft(session, token, None)  # the post was refused: try again
    assert await _claim(store, token)
    async with store.transaction() as session:
        await form_drafts.release_draft(session, token, 12)
    assert not await _claim(store, token)
    async with store.sessions() as session:
        assert await form_drafts.published_post(session, token) == 12


async def test_a_draft_is_its_authors_only_and_expires(store: Store) -> None:
    token = await _save(store)
    async with store.sessions() as session:
        assert await form_drafts.draft_of(session, token, "slack", "U1", NOW) is not None
        assert await form_drafts.draft_of(session, token, "slack", "U2", NOW) is None
        assert await form_drafts.draft_of(session, token, "slack", "U1", NOW + form_drafts.DRAFT_TTL * 2) is None
    async with store.transaction() as session:
        await form_drafts.drop_draft(session, token, "slack", "U2")  # not his to cancel
    async with store.sessions() as session:
        assert await form_drafts.draft_of(session, token, "slack", "U1", NOW) is not None
    async with store.transaction() as session:
        await form_drafts.save_draft(session, "slack", "U3", PAYLOAD, NOW + form_drafts.DRAFT_TTL * 2)
    async with store.sessions() as session:
        assert await session.get(form_drafts.FormDraft, token) is None  # expired ones go with the next save


async def test_forgetting_a_person_drops_their_drafts(store: Store) -> None:
    token = await _save(store, "U9")
    async with store.transaction() as session:
        person = await ensure_identity(session, "slack", "U9", "anna", NOW)
        employee = await session.get(Employee, person.employee_id)
        assert employee is not None
        await forget_person(session, employee, NOW)
    async with store.sessions() as session:
        assert await session.get(form_drafts.FormDraft, token) is None
