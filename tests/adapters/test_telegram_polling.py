"""Polled updates are handled side by side in lanes (one person's in one chat in order) and the offset
only moves past updates whose handling ended (adapters/telegram/polling.py; issue 17, bursts)."""

from __future__ import annotations

import asyncio
from typing import Any

from telegram import Bot

from adapters.telegram.polling import UpdatePoller, lane_of
from adapters.telegram.translate import MalformedUpdate

GROUP, OTHER_GROUP = -1001, -1002


def press(update_id: int, user: int, chat: int = GROUP) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "callback_query": {
            "id": f"q{update_id}",
            "from": {"id": user, "is_bot": False, "first_name": "X"},
            "message": {"message_id": 1, "date": 0, "chat": {"id": chat, "type": "supergroup"}},
            "chat_instance": "1",
            "data": "like",
        },
    }


def member_change(member: int, *, actor: int, status: str) -> dict[str, Any]:
    user = {"id": member, "is_bot": False, "first_name": "M"}
    return {
        "chat": {"id": GROUP, "type": "supergroup"},
        "from": {"id": actor, "is_bot": False, "first_name": "A"},
        "date": 0,
        "old_chat_member": {"status": "left" if status == "member" else "member", "user": user},
        "new_chat_member": {"status": status, "user": user},
    }


async def test_a_join_and_a_kick_in_one_batch_are_handled_in_order() -> None:
    take = Taker()
    polls = poller(take)
    batch = [
        {"update_id": 1, "chat_member": member_change(9, actor=9, status="member")},
        {"update_id": 2, "chat_member": member_change(9, actor=1, status="kicked")},
    ]
    handling = asyncio.create_task(polls.handle_batch(batch))
    await asyncio.sleep(0.01)
    assert take.started == [1]  # the kick waits for the join
    take.release.set()
    await handling
    assert take.finished == [1, 2]


class Taker:
    """Records when each update's handling begins and ends; each waits until ``release`` is set."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.started: list[int] = []
        self.finished: list[int] = []
        self.hold: set[int] = set()  # these never finish (until cancelled)

    async def __call__(self, update: dict[str, Any]) -> None:
        update_id = int(update["update_id"])
        self.started.append(update_id)
        if update_id == 99:
            raise MalformedUpdate("unreadable")
        await self.release.wait()
        if update_id in self.hold:
            await asyncio.Event().wait()
        self.finished.append(update_id)


def poller(take: Taker, skipped: list[str] | None = None) -> UpdatePoller:
    return UpdatePoller(
        Bot("123:abc"),
        poll_timeout=0,
        read_timeout=1,
        allowed_updates=["callback_query"],
        take=take,
        skipped=(skipped if skipped is not None else []).append,
    )


def test_a_lane_is_one_person_in_one_chat() -> None:
    assert lane_of(press(1, 7)) == lane_of(press(2, 7)) == (GROUP, 7)
    assert lane_of(press(3, 7, OTHER_GROUP)) == (OTHER_GROUP, 7)
    reaction = {"update_id": 4, "message_reaction": {"chat": {"id": GROUP}, "user": {"id": 8}, "message_id": 1}}
    assert lane_of(reaction) == (GROUP, 8)
    message = {"update_id": 5, "message": {"chat": {"id": GROUP}, "from": {"id": 9}, "text": "/help"}}
    assert lane_of(message) == (GROUP, 9)
    # A membership change is the member's lane, whoever made it: an admin's kick after the member's join.
    joined = {"update_id": 7, "chat_member": member_change(9, actor=9, status="member")}
    kicked = {"update_id": 8, "chat_member": member_change(9, actor=1, status="kicked")}
    assert lane_of(joined) == lane_of(kicked) == lane_of(message) == (GROUP, 9)
    assert lane_of("junk") == lane_of({"update_id": 6, "message": {"chat": {"id": "x"}}}) == (None, None)


async def test_different_people_side_by_side_one_person_in_order() -> None:
    take = Taker()
    polls = poller(take)
    batch = [press(1, 7), press(2, 8), press(3, 7), press(4, 9, OTHER_GROUP), press(5, 7)]
    handling = asyncio.create_task(polls.handle_batch(batch))
    await asyncio.sleep(0.01)
    # Every lane's first update is under way at once; the person's second press waits for the first.
    assert take.started == [1, 2, 4]
    take.release.set()
    await handling
    assert [u for u in take.started if u in (1, 3, 5)] == [1, 3, 5]
    assert sorted(take.finished) == [1, 2, 3, 4, 5] and polls.offset == 6


async def test_the_offset_stops_before_the_first_update_not_handled() -> None:
    take = Taker()
    take.hold = {2}
    polls = poller(take)
    handling = asyncio.create_task(polls.handle_batch([press(1, 7), press(2, 8), press(3, 9), press(4, 7)]))
    take.release.set()
    await asyncio.sleep(0.01)
    assert sorted(take.finished) == [1, 3, 4]
    assert polls.offset == 2  # 3 and 4 are handled, but 2 is not: a restart gets 2, 3 and 4 again
    handling.cancel()
    await asyncio.gather(handling, return_exceptions=True)
    assert polls.offset == 2


async def test_an_unreadable_update_is_skipped_and_passed() -> None:
    take = Taker()
    take.release.set()
    skipped: list[str] = []
    polls = poller(take, skipped)
    await polls.handle_batch([press(98, 7), press(99, 8), "junk", press(100, 9)])
    assert polls.offset == 101 and sorted(take.finished) == [98, 100]
    assert skipped == ["skipped update 99: unreadable", "skipped update None: an update must be a JSON object"]
