"""Contract harness of the Slack adapter: slack_sdk over HTTP to the loopback Web API peer, and
people's actions as requests signed exactly as Slack signs them, into ``handle_http``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from adapters.base import ChatRef, Event, MessageRef
from adapters.slack.adapter import SlackAdapter
from adapters.slack.emoji import name_for
from tests.peers.slack import SignedRequest, SlackPeer


class SlackHarness:
    def __init__(self, peer: SlackPeer) -> None:
        self.peer = peer
        self.adapter = SlackAdapter(
            bot_token=peer.bot_token, signing_secret=peer.signing_secret, api_base_url=peer.api_base_url
        )
        self.chat = ChatRef("slack", peer.add_channel("general"))
        self.events: asyncio.Queue[Event] = asyncio.Queue()

    async def _sink(self, event: Event) -> None:
        await self.events.put(event)

    async def _deliver(self, request: SignedRequest) -> None:
        reply = await self.adapter.handle_http(*request)
        assert reply.status == 200, reply

    async def press(self, message: MessageRef, action_id: str, user_id: str) -> None:
        await self._deliver(self.peer.press(user_id, message.chat.chat_id, message.message_id, action_id))

    async def react(self, message: MessageRef, reaction: str, user_id: str, added: bool = True) -> None:
        name = name_for(reaction) or reaction
        chat, ts = message.chat.chat_id, message.message_id
        await self._deliver(self.peer.reaction(user_id, chat, ts, name, added=added))

    async def reply_to(self, message: MessageRef, text: str, user_id: str) -> None:
        await self._deliver(self.peer.thread_reply(user_id, message.chat.chat_id, message.message_id, text))

    async def command(self, text: str, user_id: str) -> None:
        await self._deliver(self.peer.slash_command(user_id, self.chat.chat_id, text))

    async def visible_text(self, message: MessageRef) -> str | None:
        return self.peer.visible_text(message.chat.chat_id, message.message_id)


@asynccontextmanager
async def slack_harness() -> AsyncIterator[SlackHarness]:
    # Rates relaxed: the contract suite tests behaviour, test_slack_adapter tests the limits.
    async with SlackPeer(per_channel_rate=None, workspace_rate=None) as peer:
        harness = SlackHarness(peer)
        await harness.adapter.start(harness._sink)
        try:
            yield harness
        finally:
            await harness.adapter.stop()
