"""A Matrix room's members: ``list_members`` reads the joined members from a real Synapse (the bot left out),
and people's ``m.room.member`` events in the sync become MemberJoined / MemberLeft; the pure translation
of those events."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from adapters.base import ChatRef, Event, MemberJoined, MemberLeft, MemberList, PermanentError, UserRef
from adapters.matrix.translate import InboundContext, joined_member_list, parse_event
from tests.adapters.harnesses.matrix import MatrixHarness, matrix_harness


@pytest.fixture
async def h() -> AsyncIterator[MatrixHarness]:
    async with matrix_harness() as harness:
        yield harness


async def next_member_event(h: MatrixHarness, user_id: str, timeout: float = 15) -> MemberJoined | MemberLeft:
    """The next MemberJoined or MemberLeft about ``user_id``; other events are skipped."""

    async def wait() -> MemberJoined | MemberLeft:
        while True:
            event: Event = await h.events.get()
            if isinstance(event, MemberJoined | MemberLeft) and event.user.user_id == user_id:
                return event

    return await asyncio.wait_for(wait(), timeout)


def ids(listing: MemberList | None) -> set[str]:
    assert listing is not None
    return {u.user_id for u in listing.members}


async def test_joined_members_after_a_join_and_a_leave(h: MatrixHarness) -> None:
    anna, bram = await h.person("anna"), await h.person("bram")
    assert ids(await h.adapter.list_members(h.chat)) == {h.owner.user_id}  # the bot is in the room, not listed

    await anna.join(h.room_id)
    await bram.join(h.room_id)
    joined = [await next_member_event(h, anna.user_id), await next_member_event(h, bram.user_id)]
    assert [type(e) for e in joined] == [MemberJoined, MemberJoined]
    assert joined[0].chat == h.chat and joined[0].user == UserRef("matrix", anna.user_id, "anna")
    listing = await h.adapter.list_members(h.chat)
    assert listing is not None and (listing.partial, listing.count) == (False, 3)
    assert ids(listing) == {h.owner.user_id, anna.user_id, bram.user_id}
    assert UserRef("matrix", bram.user_id, "bram") in listing.members  # with the name shown in the room

    await bram.client.room_leave(h.room_id)
    left = await next_member_event(h, bram.user_id)
    assert isinstance(left, MemberLeft) and left.chat == h.chat
    await h.owner.client.room_kick(h.room_id, anna.user_id, reason="opruimen")
    kicked = await next_member_event(h, anna.user_id)
    assert isinstance(kicked, MemberLeft)
    assert ids(await h.adapter.list_members(h.chat)) == {h.owner.user_id}


async def test_a_room_the_bot_is_not_in_is_refused(h: MatrixHarness) -> None:
    elsewhere = await h.new_room(invite_bot=False)
    with pytest.raises(PermanentError):
        await h.adapter.list_members(ChatRef("matrix", elsewhere))


# -- pure translation --------------------------------------------------------------------------

BOT = "@prikbot:example.org"
ROOM = "!room:example.org"
CTX = InboundContext(own_user_id=BOT, name_of=lambda _room, user: user.split(":")[0][1:].title())
CHAT = ChatRef("matrix", ROOM)


def member_event(user: str, membership: str, previous: str | None = None, **content: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "type": "m.room.member",
        "sender": user,
        "state_key": user,
        "event_id": "$m1",
        "content": {"membership": membership, **content},
    }
    if previous is not None:
        raw["unsigned"] = {"prev_content": {"membership": previous, "displayname": "Anna (oud)"}}
    return raw


def test_a_persons_membership_events() -> None:
    anna = "@anna:example.org"
    joined = parse_event(member_event(anna, "join", "invite", displayname="Anna B."), ROOM, CTX)
    assert joined == MemberJoined("$m1", UserRef("matrix", anna, "Anna B."), CHAT)
    unnamed = parse_event(member_event(anna, "join"), ROOM, CTX)
    assert unnamed == MemberJoined("$m1", UserRef("matrix", anna, "Anna"), CHAT)  # the name the client knows
    left = parse_event(member_event(anna, "leave", "join"), ROOM, CTX)
    assert left == MemberLeft("$m1", UserRef("matrix", anna, "Anna (oud)"), CHAT)
    kicked = member_event(anna, "leave", "join") | {"sender": "@mod:example.org"}
    assert parse_event(kicked, ROOM, CTX) == MemberLeft("$m1", UserRef("matrix", anna, "Anna (oud)"), CHAT)
    assert isinstance(parse_event(member_event(anna, "ban", "join"), ROOM, CTX), MemberLeft)
    assert isinstance(parse_event(member_event(anna, "leave"), ROOM, CTX), MemberLeft)  # no prev_content given


def test_what_changes_no_ones_presence_is_no_event() -> None:
    anna = "@anna:example.org"
    assert parse_event(member_event(anna, "join", "join", displayname="Anna!"), ROOM, CTX) is None  # a rename
    assert parse_event(member_event(anna, "invite"), ROOM, CTX) is None
    assert parse_event(member_event(anna, "leave", "invite"), ROOM, CTX) is None  # a declined invite
    assert parse_event(member_event(anna, "leave", "knock"), ROOM, CTX) is None
    assert parse_event(member_event(anna, "ban", "leave"), ROOM, CTX) is None  # banned after leaving
    assert parse_event(member_event(anna, "knock"), ROOM, CTX) is None


def test_joined_member_list_leaves_the_bot_out() -> None:
    listing = joined_member_list([("@anna:x", "Anna"), (BOT, "prikbord"), ("@bram:x", None), ("@anna:x", "A")], BOT)
    assert listing == MemberList(
        (UserRef("matrix", "@anna:x", "A"), UserRef("matrix", "@bram:x", "")), partial=False, count=2
    )
