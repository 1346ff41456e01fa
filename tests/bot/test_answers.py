"""Answers to commands share the platform's rate budget with deliveries and are retried on 429
(#17 item 5: during a fan-out 59 of 60 private answers to ``/like`` failed with RateLimited and were lost).

With the real python-telegram-bot against the loopback Bot API peer and Telegram's flood limits, people
ask the bot something while a post fans out to 45 groups: every one of them gets the answer, every group
the post once, and the peer never had to answer 429 — answers waited their turn in the same windows.
A 429 that comes anyway (another bot on the token, say) is waited out and the answer sent again.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator

import pytest
from rich.console import Console

from adapters.base import CommandIssued, RateLimited
from adapters.console.adapter import ConsoleAdapter
from bot.app import App
from bot.clock import FrozenClock
from bot.config import Settings
from bot.services.drafts import CallToAction, PostDraft
from bot.services.roles import Role
from content.db import Store
from content.models import CtaKind
from tests.conftest import console_settings
from tests.peers.telegram import FloodLimits, TelegramPeer

pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning")

GROUPS = [-1006000000000 - i for i in range(45)]
PEOPLE = list(range(7001, 7021))


@pytest.fixture
async def peer() -> AsyncIterator[TelegramPeer]:
    peer = await TelegramPeer(flood=FloodLimits(overall=(30, 1.0), per_chat=(1, 1.0), per_group=(20, 60.0))).start()
    for i, chat in enumerate(GROUPS):
        peer.add_chat(chat, "supergroup", f"Vestiging {i}")
    for person in PEOPLE:
        peer.add_user(person, f"Medewerker {person}", started=True)
    yield peer
    await peer.stop()


async def test_answers_during_a_fanout_wait_their_turn(peer: TelegramPeer, store: Store) -> None:
    settings = Settings.model_validate(
        {
            "console": {"enabled": False},
            "telegram": {"token": peer.token, "api_base_url": peer.api_base_url, "mode": "polling"},
            "channels": [
                {"name": f"vestiging-{i}", "platform": "telegram", "chat_id": str(c), "tags": ["everyone"]}
                for i, c in enumerate(GROUPS)
            ],
        }
    )
    app = App(settings, store=store)
    await app.start()
    try:
        cta = CallToAction(CtaKind.ACKNOWLEDGE)
        draft = PostDraft(title="Nieuwe verlofregeling", body="Lees en bevestig.", cta=cta)
        await app.publishing.create(draft, "test", Role.MODERATOR)
        await asyncio.sleep(0.3)  # the fan-out is under way: the first burst of the budget is spent
        for person in PEOPLE:
            await peer.user_sends(person, person, "/help")

        deadline = asyncio.get_running_loop().time() + 30
        while not all(peer.bot_messages(person) for person in PEOPLE):
            assert asyncio.get_running_loop().time() < deadline, "not everyone got an answer within 30 s"
            await asyncio.sleep(0.05)
        await app.dispatcher.settle(timeout=30)
    finally:
        await app.stop()
    assert all(len(peer.bot_messages(group)) == 1 for group in GROUPS)
    assert all(len(peer.bot_messages(person)) >= 1 for person in PEOPLE)
    refused = [c for c in peer.calls_to("sendMessage") if c.status == 429]
    assert refused == [], f"{len(refused)} sends refused with 429: answers and deliveries overran the budget"


class RateLimitedReplies(ConsoleAdapter):
    """A console whose first answers are refused with a 429, as a busy platform does."""

    def __init__(self, refusals: int) -> None:
        super().__init__(output=Console(file=io.StringIO()))
        self.refusals = refusals
        self.tries = 0

    async def reply(self, command: CommandIssued, text: str, private: bool = True) -> None:
        self.tries += 1
        if self.refusals:
            self.refusals -= 1
            raise RateLimited(0.05, "console answer rate limited")
        await super().reply(command, text, private)


async def test_an_answer_refused_with_429_is_sent_after_retry_after(store: Store, clock: FrozenClock) -> None:
    adapter = RateLimitedReplies(refusals=2)
    app = App(console_settings(), clock=clock, store=store, adapters={"console": adapter}, counter_debounce=0.0)
    await app.start()
    try:
        await adapter.feed("anna: /help")
    finally:
        await app.stop()
    assert adapter.tries == 3
    answers = [text for who, text in adapter.private if who == "anna"]
    assert len(answers) == 1 and "commands" in answers[0]
