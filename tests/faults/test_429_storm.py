"""429 storms (#17 fault suite item 4): a fan-out, command answers and reminders competing for a
Telegram that answers in waves of ``429 Too Many Requests``.

``prikbord run`` (a real child process) publishes a must-read to 30 groups; while it goes out the peer
turns its flood control into a storm: for ``STORM_SECONDS`` every ``sendMessage`` inside a blocked window
gets 429 with ``retry_after`` up to ``RETRY_AFTER`` seconds, then a second of the usual limits, again and
again. Meanwhile 20 people send ``/like 1`` to the bot in their private chats (each wants an answer) and
the must-read's reminder round comes due (each of them is reminded in private). When the storm is over:
every group has the must-read once, every command got its one answer, every person one reminder; none
dropped, nothing twice.

The storm is scaled down here (``retry_after`` up to 4 s for 12 s); ``FAULT_STORM_RETRY_AFTER=60
FAULT_STORM_SECONDS=180`` runs the issue's full size by hand.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.faults.prikbord_process import (
    RunningPrikbord,
    cli,
    no_traceback,
    wait_for,
    wait_until_polling,
    write_config,
)
from tests.peers.telegram import FloodLimits, TelegramPeer

RETRY_AFTER = float(os.environ.get("FAULT_STORM_RETRY_AFTER", "4"))
STORM_SECONDS = float(os.environ.get("FAULT_STORM_SECONDS", "12"))
GROUPS = 30
PEOPLE = 20
FIRST_GROUP = -1005000000000
FIRST_PERSON = 60_000
# The must-read's deadline is "in 2m"; its reminder round comes ``before`` that: 10 s after it is posted
# (inside the storm, while commands still arrive) or 40 s after (once the storm is over).
ROUND_IN_THE_STORM = pytest.param(
    "110s",
    marks=pytest.mark.xfail(
        strict=True,
        reason="known defect (#17 item 10): a command's answer waiting out a 429 holds back the next updates, "
        "so people whose commands arrive later are not yet known when the round picks who to remind",
    ),
    id="round-during-storm",
)


@pytest.fixture
async def peer() -> AsyncIterator[TelegramPeer]:
    async with TelegramPeer(flood=FloodLimits()) as peer:
        for i in range(GROUPS):
            peer.add_chat(FIRST_GROUP - i, "supergroup", f"Vestiging {i}")
        for i in range(PEOPLE):
            peer.add_user(FIRST_PERSON + i, f"Collega {i}")  # each has opened a private chat with the bot
        yield peer


def private(peer: TelegramPeer, person: int) -> tuple[list[str], list[str]]:
    """(answers, reminders) the bot sent a person in their private chat."""
    texts = [m.text for m in peer.bot_messages(person)]
    reminders = [t for t in texts if t.startswith("Reminder:")]
    return [t for t in texts if not t.startswith("Reminder:")], reminders


@pytest.mark.parametrize("before", [ROUND_IN_THE_STORM, pytest.param("80s", id="round-after-storm")])
async def test_storm_of_429s_drops_nothing_and_sends_nothing_twice(
    peer: TelegramPeer, tmp_path: Path, before: str
) -> None:
    chats = [FIRST_GROUP - i for i in range(GROUPS)]
    people = [FIRST_PERSON + i for i in range(PEOPLE)]
    reminders = f'[reminders]\nbefore = "{before}"\n'
    config = write_config(tmp_path, peer, chats, f"sqlite:///{tmp_path / 'prikbord.db'}", extra=reminders)
    run = await RunningPrikbord(config).start()
    try:
        await wait_until_polling(peer, run)
        liked = await cli(config, "post", "--title", "Lunch", "--body", "Vind je het lekker?", "--cta", "like")
        assert liked.ok(), liked.stderr
        await wait_for(lambda: len(peer.bot_messages()) >= GROUPS, 30, "the first post in every group")

        must_read = await cli(
            config, "post", "--title", "Verlofregeling", "--body", "Lees en bevestig.", "--cta", "acknowledge",
            "--deadline", "in 2m",
        )  # fmt: skip
        assert must_read.ok(), must_read.stderr
        storm = peer.flood_storm(STORM_SECONDS, RETRY_AFTER)
        for person in people:  # commands during the storm: every one wants its answer
            await peer.user_sends(person, person, "/like 1")
            await asyncio.sleep(STORM_SECONDS / 2 / PEOPLE)

        def everything_arrived() -> bool:
            groups_done = all(len(peer.bot_messages(c)) >= 2 for c in chats)
            people_done = all(len(a) >= 1 and len(r) >= 1 for a, r in (private(peer, p) for p in people))
            return groups_done and people_done

        try:
            await wait_for(
                everything_arrived, STORM_SECONDS + 4 * RETRY_AFTER + 60, "the must-read, answers, reminders"
            )
        except AssertionError as exc:
            missing_groups = [c for c in chats if len(peer.bot_messages(c)) < 2]
            seen = {p: tuple(map(len, private(peer, p))) for p in people}
            log = run.stderr_text()[-4000:]
            raise AssertionError(
                f"{exc}: groups without the must-read {len(missing_groups)}; "
                f"(answers, reminders) per person {seen}\n{log}"
            ) from None
        await asyncio.sleep(2 * RETRY_AFTER)  # a second copy of anything would arrive by now
        storm_429s = [c for c in peer.calls_to("sendMessage") if c.status == 429]
        assert storm_429s, "the storm never hit a send"
        assert all(c.description.startswith("Too Many Requests") for c in storm_429s)
        assert peer.now() > storm.until or not storm_429s  # the sends that went through waited it out
    finally:
        code = await run.stop()

    for chat_id in chats:
        titles = [m.text.split("\n")[0] for m in peer.bot_messages(chat_id)]
        assert len(titles) == 2 and titles[0] != titles[1], f"group {chat_id} got {titles}"
    for person in people:
        answers, reminders = private(peer, person)
        assert len(answers) == 1, f"{person} got {len(answers)} answers to one /like: {answers}"
        assert len(reminders) == 1, f"{person} got {len(reminders)} reminders: {reminders}"
    log = run.stderr_text()
    no_traceback(log)
    assert code == 0, log[-3000:]
    assert not peer.unknown_params
