"""Response semantics in the store, on SQLite and PostgreSQL: one like/ack per person and post,
latest vote wins, removal unlikes, platform event ids de-duplicate."""

from __future__ import annotations

from datetime import UTC, datetime

from content.db import Store
from content.models import Post, PostState, ResponseKind
from content.people import ensure_identity
from content.responses import Interaction, Op, Outcome, apply_batch, counts_for

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


async def _post(store: Store) -> int:
    async with store.transaction() as session:
        post = Post(
            title="p",
            body="",
            cta_kind="poll",
            cta_options=["A", "B"],
            audience=["everyone"],
            state=PostState.PUBLISHED,
            created_at=NOW,
            updated_at=NOW,
        )
        session.add(post)
        await session.flush()
        return post.id


async def test_batch_semantics(store: Store) -> None:
    post_id = await _post(store)
    async with store.transaction() as session:
        anna = await ensure_identity(session, "console", "anna", "Anna", NOW)
        bram = await ensure_identity(session, "console", "bram", "Bram", NOW)
        again = await ensure_identity(session, "console", "anna", "Anna", NOW)
    assert again == anna

    def act(person, kind, event, op=Op.ADD, value=None):  # type: ignore[no-untyped-def]
        return Interaction("console", event, post_id, person.identity_id, person.employee_id, kind, op, value)

    async with store.transaction() as session:
        outcomes = await apply_batch(
            session,
            [
                act(anna, ResponseKind.LIKE, "e1"),
                act(anna, ResponseKind.LIKE, "e2"),  # second like by the same person
                act(anna, ResponseKind.LIKE, "e1"),  # the same event again (retry)
                act(bram, ResponseKind.VOTE, "e3", value="A"),
                act(bram, ResponseKind.VOTE, "e4", value="B"),  # latest vote wins
                act(bram, ResponseKind.LIKE, "e5"),
                act(bram, ResponseKind.LIKE, "e6", Op.REMOVE),  # unlike
                act(anna, ResponseKind.REPLY, "e7"),
                act(anna, ResponseKind.REPLY, "e8"),
            ],
            NOW,
        )
    assert outcomes == [
        Outcome.COUNTED,
        Outcome.ALREADY,
        Outcome.DUPLICATE_EVENT,
        Outcome.COUNTED,
        Outcome.CHANGED,
        Outcome.COUNTED,
        Outcome.REMOVED,
        Outcome.COUNTED,
        Outcome.COUNTED,
    ]
    async with store.transaction() as session:
        # A later batch replaying old events changes nothing; a new vote changes it back.
        outcomes = await apply_batch(
            session, [act(bram, ResponseKind.VOTE, "e3", value="A"), act(bram, ResponseKind.VOTE, "e9", value="A")], NOW
        )
    assert outcomes == [Outcome.DUPLICATE_EVENT, Outcome.CHANGED]
    async with store.sessions() as session:
        counts = (await counts_for(session, [post_id]))[post_id]
    assert counts.by_kind == {"like": 1, "vote": 1, "reply": 1}
    assert counts.by_value == {"A": 1}


async def test_bulk_identities_match_one_by_one(store: Store) -> None:
    from content.people import ensure_identities

    async with store.transaction() as session:
        known = await ensure_identity(session, "slack", "U1", "Anna", NOW)
    async with store.transaction() as session:
        found = await ensure_identities(
            session, [("slack", "U1", "Anna"), ("slack", "U2", "Bram"), ("telegram", "7", "Carla")], NOW
        )
    assert found[("slack", "U1")] == known
    assert len({p.employee_id for p in found.values()}) == 3
    async with store.transaction() as session:
        again = await ensure_identities(session, [("slack", "U2", "Bram"), ("telegram", "7", "Carla")], NOW)
        one = await ensure_identity(session, "telegram", "7", "Carla", NOW)
    assert again[("telegram", "7")] == found[("telegram", "7")] == one
