"""A Telegram group's members: bots cannot list them, so ``list_members`` gives the member count
(getChatMemberCount, the bot not counted) as a partial list; people joining and leaving arrive as
``chat_member`` updates (sent only to a bot that is an admin) and become MemberJoined / MemberLeft.
Against the loopback Bot API peer with the real python-telegram-bot, and the pure translation."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from adapters.base import ChatRef, Event, MemberJoined, MemberLeft, MemberList, PermanentError, UserRef
from adapters.telegram.adapter import TelegramAdapter
from adapters.telegram.translate import BotIdentity, MalformedUpdate, translate_update
from tests.peers.telegram import FloodLimits, TelegramPeer

GROUP = -1001234500000
CHANNEL = -1009999000000
ANNA, BRAM = 1101, 1102
BOT_ID = 123456789
ME = BotIdentity(BOT_ID, "prikbord_bot", "Prikbord")


class Events:
    def __init__(self) -> None:
        self.queue: asyncio.Queue[Event] = asyncio.Queue()

    async def __call__(self, event: Event) -> None:
        await self.queue.put(event)

    async def next(self, timeout: float = 5.0) -> Event:
        return await asyncio.wait_for(self.queue.get(), timeout)


@pytest.fixture
async def peer() -> AsyncIterator[TelegramPeer]:
    async with TelegramPeer(flood=FloodLimits.off()) as p:
        p.add_user(ANNA, "Anna", username="anna")
        p.add_user(BRAM, "Bram")
        p.add_chat(GROUP, "supergroup", "Kantoor", bot_status="administrator", members={BRAM}, others=40)
        p.add_chat(CHANNEL, "channel", "Nieuws", bot_status="administrator", others=250)
        yield p
        assert p.unknown_params == [], f"parameters Telegram does not know: {p.unknown_params}"
        assert p.unimplemented == []


@pytest.fixture
async def events() -> Events:
    return Events()


@pytest.fixture
async def adapter(peer: TelegramPeer, events: Events) -> AsyncIterator[TelegramAdapter]:
    made = TelegramAdapter(token=peer.token, api_base_url=peer.api_base_url, poll_timeout=5)
    await made.start(events)
    try:
        yield made
    finally:
        await made.stop()


async def test_a_group_is_its_member_count_without_names(peer: TelegramPeer, adapter: TelegramAdapter) -> None:
    assert await adapter.list_members(ChatRef("telegram", str(GROUP))) == MemberList((), partial=True, count=41)
    assert await adapter.list_members(ChatRef("telegram", str(CHANNEL))) == MemberList((), partial=True, count=250)
    asked = [c.params["chat_id"] for c in peer.calls_to("getChatMemberCount", ok=True)]
    assert asked == [GROUP, CHANNEL]
    # A private chat is one person, no audience: nothing is asked.
    assert await adapter.list_members(ChatRef("telegram", str(ANNA))) is None
    assert len(peer.calls_to("getChatMemberCount")) == 2


async def test_a_group_the_bot_was_removed_from_is_refused(peer: TelegramPeer, adapter: TelegramAdapter) -> None:
    peer.chats[GROUP].bot_status = "kicked"
    with pytest.raises(PermanentError):
        await adapter.list_members(ChatRef("telegram", str(GROUP)))


async def test_people_joining_and_leaving_arrive_as_member_events(
    peer: TelegramPeer, adapter: TelegramAdapter, events: Events
) -> None:
    chat = ChatRef("telegram", str(GROUP))
    await peer.chat_member(GROUP, ANNA, "member")
    joined = await events.next()
    assert "chat_member" in (peer.allowed_updates or ())  # asked for: Telegram leaves it out by default
    assert isinstance(joined, MemberJoined)
    assert (joined.user, joined.chat) == (UserRef("telegram", str(ANNA), "Anna"), chat)
    await peer.chat_member(GROUP, BRAM, "kicked", by_user=ANNA)
    left = await events.next()
    assert isinstance(left, MemberLeft) and (left.user.user_id, left.chat) == (str(BRAM), chat)
    assert joined.event_id != left.event_id
    assert await adapter.list_members(chat) == MemberList((), partial=True, count=41)  # +Anna, -Bram


async def test_no_updates_while_the_bot_is_no_admin(
    peer: TelegramPeer, adapter: TelegramAdapter, events: Events
) -> None:
    peer.chats[GROUP].bot_status = "member"
    assert await peer.chat_member(GROUP, ANNA, "member") is None  # Telegram tells only admins
    assert await adapter.list_members(ChatRef("telegram", str(GROUP))) == MemberList((), partial=True, count=42)
    await asyncio.sleep(0.2)
    assert events.queue.empty()


# -- pure translation --------------------------------------------------------------------------


def _member(user: dict[str, Any], status: str, **extra: Any) -> dict[str, Any]:
    return {"status": status, "user": user, **extra}


def _update(old: dict[str, Any], new: dict[str, Any], update_id: int = 9) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "chat_member": {
            "chat": {"id": GROUP, "type": "supergroup", "title": "Kantoor"},
            "from": {"id": ANNA, "is_bot": False, "first_name": "Anna"},
            "date": 1_700_000_000,
            "old_chat_member": old,
            "new_chat_member": new,
        },
    }


ANNA_JSON = {"id": ANNA, "is_bot": False, "first_name": "Anna", "last_name": "de Vries"}


def test_joins_and_leaves_are_translated() -> None:
    chat = ChatRef("telegram", str(GROUP))
    anna = UserRef("telegram", str(ANNA), "Anna de Vries")
    assert translate_update(_update(_member(ANNA_JSON, "left"), _member(ANNA_JSON, "member")), ME) == [
        MemberJoined("tg:u9:chat_member", anna, chat)
    ]
    assert translate_update(_update(_member(ANNA_JSON, "member"), _member(ANNA_JSON, "left")), ME) == [
        MemberLeft("tg:u9:chat_member", anna, chat)
    ]
    banned = _member(ANNA_JSON, "kicked", until_date=0)
    assert translate_update(_update(_member(ANNA_JSON, "administrator"), banned), ME) == [
        MemberLeft("tg:u9:chat_member", anna, chat)
    ]
    # A restricted person is still in the group while is_member holds.
    restricted = _member(ANNA_JSON, "restricted", is_member=False)
    assert translate_update(_update(_member(ANNA_JSON, "member"), restricted), ME) == [
        MemberLeft("tg:u9:chat_member", anna, chat)
    ]


def test_what_is_no_join_or_leave_of_a_person_is_ignored() -> None:
    promoted = _update(_member(ANNA_JSON, "member"), _member(ANNA_JSON, "administrator"))
    assert translate_update(promoted, ME) == []
    bot = {"id": BOT_ID, "is_bot": True, "first_name": "Prikbord"}
    assert translate_update(_update(_member(bot, "left"), _member(bot, "member")), ME) == []
    other_bot = {"id": 555, "is_bot": True, "first_name": "Otherbot"}
    assert translate_update(_update(_member(other_bot, "left"), _member(other_bot, "member")), ME) == []
    with pytest.raises(MalformedUpdate):
        translate_update(_update(_member(ANNA_JSON, "left"), {"status": "member"}), ME)
