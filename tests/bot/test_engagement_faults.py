"""One bad event never discards its batch (#17 item 3), on SQLite and PostgreSQL: names that no column
or driver takes are made storable, an event that still cannot be stored fails alone, and presses on
messages prikbord never sent create nobody."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError

from adapters.base import ActionPressed, ChatRef, MessageRef, ReactionAdded, ReactionRemoved, UserRef
from bot.clock import FrozenClock
from bot.services.engagement import EngagementService, Result
from content.db import Store, fails_alone
from content.models import Channel, Delivery, DeliveryState, Employee, Identity, Post, PostState, ResponseKind
from content.people import NAME_LENGTH, storable_name
from content.responses import Outcome, counts_for

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
CHAT = ChatRef("telegram", "-1001")
SENT = MessageRef(CHAT, "42")
# Valid JSON ("\ud800" is a legal escape) that no database driver encodes, a NUL PostgreSQL refuses
# in text, and a length over the column's 200 characters.
POISONED_NAME = "Eve \ud800\x00 " + "x" * 300


async def _sent_post(store: Store, state: PostState = PostState.PUBLISHED) -> int:
    async with store.transaction() as session:
        post = Post(
            title="Nieuwe verlofregeling",
            cta_kind="like",
            audience=["everyone"],
            state=state,
            created_at=NOW,
            updated_at=NOW,
        )
        channel = Channel(name="general", platform=CHAT.platform, chat_id=CHAT.chat_id, tags=["everyone"])
        session.add_all([post, channel])
        await session.flush()
        session.add(
            Delivery(
                post_id=post.id,
                channel_id=channel.id,
                platform=CHAT.platform,
                state=DeliveryState.SENT,
                next_attempt_at=NOW,
                platform_message_id=SENT.message_id,
                sent_at=NOW,
            )
        )
        return post.id


async def _people(store: Store) -> tuple[int, int]:
    async with store.sessions() as session:
        employees = (await session.execute(select(func.count()).select_from(Employee))).scalar_one()
        identities = (await session.execute(select(func.count()).select_from(Identity))).scalar_one()
    return employees, identities


def _press(n: int, name: str | None = None, event_id: str | None = None, message: MessageRef = SENT) -> ActionPressed:
    user = UserRef("telegram", str(1000 + n), name if name is not None else f"Person {n}")
    return ActionPressed(event_id or f"tg:cb:{n}", user, message, "like")


async def _in_one_batch(service: EngagementService, events: list[ActionPressed]) -> list[Result]:
    # All queued before the writer runs: they form one batch (asserted through the log where it matters).
    return list(await asyncio.gather(*(service.handle_event(e) for e in events)))


async def test_a_poisoned_name_is_stored_sanitized_and_the_batch_counts(store: Store, clock: FrozenClock) -> None:
    post_id = await _sent_post(store)
    service = EngagementService(store, clock, None)
    events = [_press(n) for n in range(79)] + [_press(79, POISONED_NAME)]
    try:
        results = await _in_one_batch(service, events)
    finally:
        await service.stop()
    assert [r.outcome for r in results] == [Outcome.COUNTED] * 80
    async with store.sessions() as session:
        assert (await counts_for(session, [post_id]))[post_id].by_kind == {ResponseKind.LIKE: 80}
        stored = (
            await session.execute(
                select(Identity.display_name, Employee.name)
                .join(Employee, Employee.id == Identity.employee_id)
                .where(Identity.platform_user_id == "1079")
            )
        ).one()
    assert stored == (storable_name(POISONED_NAME), storable_name(POISONED_NAME))
    assert stored[0].startswith("Eve \ufffd x") and len(stored[0]) == NAME_LENGTH and "\x00" not in stored[0]


async def test_an_event_that_cannot_be_stored_fails_alone(
    store: Store, clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    post_id = await _sent_post(store)
    service = EngagementService(store, clock, None)
    # A lone surrogate in the platform's own event id: sanitizing it would change what de-duplicates.
    events = [_press(n) for n in range(40)] + [_press(40, event_id="tg:cb:\ud800")] + [_press(n) for n in range(41, 80)]
    caplog.set_level(logging.INFO, logger="prikbord.engagement")
    try:
        results = await _in_one_batch(service, events)
        again = await service.handle_event(_press(3))  # the service goes on: a replay is recognised
    finally:
        await service.stop()
    outcomes = [r.outcome for r in results]
    assert outcomes[:40] + outcomes[41:] == [Outcome.COUNTED] * 79
    assert outcomes[40] is None and "could not be counted" in results[40].text
    assert again.outcome == Outcome.DUPLICATE_EVENT
    async with store.sessions() as session:
        assert (await counts_for(session, [post_id]))[post_id].by_kind == {ResponseKind.LIKE: 79}
        assert await session.scalar(select(Identity.id).where(Identity.platform_user_id == "1040")) is None
    assert await _people(store) == (79, 79)
    together = [r for r in caplog.records if "failed together" in r.getMessage()]
    assert len(together) == 1 and "80 engagement events" in together[0].getMessage()  # it was one batch
    alone = [r for r in caplog.records if "could not be stored" in r.getMessage()]
    assert len(alone) == 1 and "tg:cb:\\ud800" in alone[0].getMessage()  # logged once, escaped


async def test_presses_on_messages_prikbord_never_sent_create_nobody(store: Store, clock: FrozenClock) -> None:
    retracted = await _sent_post(store, PostState.RETRACTED)
    stranger = MessageRef(CHAT, "999")
    service = EngagementService(store, clock, None)
    user = UserRef("telegram", "7", "Mallory")
    try:
        results = [
            await service.handle_event(_press(1, message=stranger)),
            await service.handle_event(ReactionAdded("tg:u1:+👍", user, stranger, "👍")),
            await service.handle_event(ReactionRemoved("tg:u2:-👍", user, stranger, "👍")),
            await service.handle_event(_press(2)),  # the retracted post's own message
            await service.handle_event(ActionPressed("tg:cb:junk", user, SENT, "drop table")),
        ]
    finally:
        await service.stop()
    assert [r.outcome for r in results] == [None] * 5
    assert [r.text for r in results] == [
        "that is not a prikbord post",
        "that is not a prikbord post",
        "that is not a prikbord post",
        f"#{retracted} was retracted",
        "that button is not one of prikbord's",
    ]
    assert await _people(store) == (0, 0)


def _caused_by(cause: BaseException) -> Exception:
    try:
        raise RuntimeError("invalid input for query argument $2") from cause
    except RuntimeError as exc:
        return exc


def test_only_a_refused_value_fails_alone_a_database_in_trouble_fails_the_batch() -> None:
    encode = UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed")
    assert fails_alone(encode)
    assert fails_alone(IntegrityError("INSERT …", {}, Exception("FOREIGN KEY constraint failed")))
    assert fails_alone(DataError("INSERT …", {}, Exception("value too long for type character varying(255)")))
    assert fails_alone(DBAPIError("INSERT …", {}, _caused_by(encode)))  # asyncpg refusing before sending
    # Locked, gone or unknown: the whole batch fails and every caller may retry.
    assert not fails_alone(OperationalError("INSERT …", {}, Exception("database is locked")))
    assert not fails_alone(DBAPIError("INSERT …", {}, _caused_by(ConnectionResetError())))
    assert not fails_alone(RuntimeError("no"))


def test_a_store_that_is_only_away_for_now_is_told_from_a_bug() -> None:
    from content.db import store_unavailable

    assert store_unavailable(OperationalError("INSERT …", {}, Exception("database or disk is full")))
    assert store_unavailable(ConnectionRefusedError(111, "Connect call failed"))
    # asyncpg's "connection was closed in the middle of operation" arrives as a plain DBAPIError.
    gone = DBAPIError("SELECT …", {}, Exception("connection was closed"), connection_invalidated=True)
    assert store_unavailable(gone)
    assert not store_unavailable(DBAPIError("SELECT …", {}, Exception("syntax error")))
    assert not store_unavailable(IntegrityError("INSERT …", {}, Exception("UNIQUE constraint failed")))
    assert not store_unavailable(RuntimeError("a bug"))
