"""content/direct.py on its own: which account of a person gets a private copy, and a private chat opened
twice (two senders side by side) keeps the one recorded first."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot.clock import FrozenClock
from content import direct
from content.db import Store
from content.models import Channel, CtaKind, Delivery, Identity, Membership, Post, PostState
from content.people import ensure_identity

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def _identity(id_: int, platform: str, private_chat_id: str | None = None) -> Identity:
    return Identity(id=id_, platform=platform, platform_user_id=f"u{id_}", private_chat_id=private_chat_id)


def test_the_account_last_responded_on_gets_the_copy_else_an_open_chat_else_the_platform_order() -> None:
    slack, matrix, telegram = _identity(1, "slack"), _identity(2, "matrix"), _identity(3, "telegram", "3")
    everywhere = {"slack", "matrix", "telegram"}
    assert direct.direct_identity([matrix, slack], {}, everywhere) is slack  # Slack, Matrix, Telegram
    accounts = [telegram, matrix, slack]
    assert direct.direct_identity(accounts, {}, everywhere) is telegram  # its private chat is open already
    assert direct.direct_identity(accounts, {2: NOW, 1: NOW - timedelta(days=1)}, everywhere) is matrix
    assert direct.direct_identity(accounts, {}, {"telegram"}) is telegram  # only running platforms
    never_started = _identity(5, "telegram")
    assert direct.direct_identity([never_started], {}, everywhere) is None
    assert direct.reason_unreachable([never_started], everywhere) == direct.NOT_STARTED
    assert direct.reason_unreachable([slack, matrix], {"telegram"}) == direct.NOT_RUNNING + "matrix, slack"
    assert direct.reason_unreachable([], everywhere) == direct.NO_ACCOUNT


def test_segments_are_read_without_case_and_tags_are_no_segments() -> None:
    assert direct.segment_of(" Department = Sales ") == ("department", "sales")
    assert direct.segment_of("everyone") is None
    assert direct.segments_of(["department=sales", "department=support", "location=utrecht", "nl"]) == {
        "department": {"sales", "support"},
        "location": {"utrecht"},
    }
    assert direct.unopened_user(direct.unopened_chat("U01")) == "U01"
    assert direct.unopened_user("D01") is None


async def test_a_chat_opened_twice_keeps_the_one_recorded_first(store: Store, clock: FrozenClock) -> None:
    async with store.transaction() as session:
        person = await ensure_identity(session, "slack", "U01", "Anna", clock.now())
        channel = Channel(
            name=f"direct:{person.identity_id}",
            platform="slack",
            chat_id=direct.unopened_chat("U01"),
            tags=[],
            kind=direct.DIRECT,
            identity_id=person.identity_id,
        )
        session.add(channel)
        await session.flush()
        channel_id = channel.id
    async with store.transaction() as session:
        assert await direct.record_opened(session, channel_id, "D01") == "D01"
    async with store.transaction() as session:  # a second sender opened it too, and got another chat
        assert await direct.record_opened(session, channel_id, "D02") == "D01"
    async with store.sessions() as session:
        stored = await session.get(Channel, channel_id)
        identity = await session.get(Identity, person.identity_id)
        assert stored is not None and identity is not None
        assert (stored.chat_id, identity.private_chat_id) == ("D01", "D01")

    # The person writes to the bot from another private chat (a room of their own): copies already sent
    # are found by the chat they are in, so the channel keeps it.
    async with store.transaction() as session:
        await direct.remember_private_chat(session, person.identity_id, "D03")
    async with store.sessions() as session:
        stored = await session.get(Channel, channel_id)
        assert stored is not None and stored.chat_id == "D01"


async def test_a_private_chat_made_known_by_the_person_opens_a_waiting_channel(
    store: Store, clock: FrozenClock
) -> None:
    async with store.transaction() as session:
        person = await ensure_identity(session, "matrix", "@anna:example.org", "Anna", clock.now())
        channel = Channel(
            name=f"direct:{person.identity_id}",
            platform="matrix",
            chat_id=direct.unopened_chat("@anna:example.org"),
            tags=[],
            kind=direct.DIRECT,
            identity_id=person.identity_id,
        )
        session.add(channel)
        await session.flush()
        channel_id = channel.id
    async with store.transaction() as session:
        await direct.remember_private_chat(session, person.identity_id, "!dm:example.org")
    async with store.sessions() as session:
        stored = await session.get(Channel, channel_id)
        identity = await session.get(Identity, person.identity_id)
        assert stored is not None and identity is not None
        assert (stored.chat_id, identity.private_chat_id) == ("!dm:example.org", "!dm:example.org")


async def test_two_posts_fanned_out_at_once_share_each_persons_private_chat(store: Store, clock: FrozenClock) -> None:
    """Two publishing transactions side by side (two moderators, two instances on PostgreSQL): the second
    finds no channel yet, and its insert of the same one waits for the first and skips it instead of
    failing the publishing on the unique index."""
    now = clock.now()
    async with store.transaction() as session:
        anna = await ensure_identity(session, "slack", "U01", "Anna", now)
        bram = await ensure_identity(session, "slack", "U02", "Bram", now)
        made = [
            Post(
                title=title,
                cta_kind=CtaKind.ACKNOWLEDGE,
                state=PostState.PUBLISHED,
                audience=["department=sales"],
                created_at=now,
                updated_at=now,
            )
            for title in ("Eerste", "Tweede")
        ]
        session.add_all(made)
        await session.flush()
        first, second = made
    people = [anna.employee_id, bram.employee_id]
    first_done = asyncio.Event()

    async def fan_out(post: Post, wait: asyncio.Event | None) -> direct.DirectFanOut:
        async with store.transaction() as session:
            if wait is not None:
                await wait.wait()
            result = await direct.add_direct_deliveries(session, post, people, {"slack"}, now)
            if wait is None:
                first_done.set()
                await asyncio.sleep(0.3)  # still uncommitted while the second one looks and inserts
            return result

    results = await asyncio.gather(fan_out(first, None), fan_out(second, first_done))
    assert results == [direct.DirectFanOut(2, 0), direct.DirectFanOut(2, 0)]
    async with store.sessions() as session:
        found = await session.execute(select(Channel.id, Channel.identity_id).where(Channel.kind == "direct"))
        channels = found.all()
        deliveries = (await session.execute(select(Delivery.post_id, Delivery.channel_id))).all()
        members = (await session.execute(select(Membership.channel_id, Membership.identity_id))).all()
    assert sorted(i for _, i in channels) == sorted([anna.identity_id, bram.identity_id])
    by_identity = {i: c for c, i in channels}
    assert sorted(members) == sorted((c, i) for i, c in by_identity.items())  # one member each, once
    assert sorted(deliveries) == sorted((p.id, c) for p in (first, second) for c in by_identity.values())
