"""Contract harness of the Telegram adapter: the real python-telegram-bot against the loopback Bot API peer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from adapters.base import ChatRef, Event, MessageRef
from adapters.telegram.adapter import TelegramAdapter
from adapters.telegram.translate import decode_callback_data
from tests.peers.telegram import FloodLimits, TelegramPeer

GROUP_ID = -1001234567890


class TelegramHarness:
    def __init__(self, peer: TelegramPeer) -> None:
        self.peer = peer
        peer.add_chat(GROUP_ID, "supergroup", "Prikbord contract")
        self.adapter = TelegramAdapter(token=peer.token, api_base_url=peer.api_base_url, poll_timeout=5)
        self.chat = ChatRef("telegram", str(GROUP_ID))
        self.events: asyncio.Queue[Event] = asyncio.Queue()
        self._user_ids: dict[str, int] = {}

    async def _sink(self, event: Event) -> None:
        await self.events.put(event)

    def user(self, name: str) -> int:
        """The Telegram id of the person called ``name`` (created on first use, with a private chat)."""
        if name not in self._user_ids:
            user_id = 5_000_000 + len(self._user_ids) + 1
            self.peer.add_user(user_id, name.capitalize(), username=name)
            self._user_ids[name] = user_id
        return self._user_ids[name]

    async def press(self, message: MessageRef, action_id: str, user_id: str) -> None:
        msg = self.peer.message(GROUP_ID, int(message.message_id))
        assert msg is not None and msg.reply_markup is not None, "no keyboard under that message"
        buttons = [b for row in msg.reply_markup["inline_keyboard"] for b in row if "callback_data" in b]
        data = next(b["callback_data"] for b in buttons if decode_callback_data(b["callback_data"])[1] == action_id)
        await self.peer.user_presses(self.user(user_id), GROUP_ID, int(message.message_id), data)

    async def react(self, message: MessageRef, reaction: str, user_id: str, added: bool = True) -> None:
        await self.peer.react(self.user(user_id), GROUP_ID, int(message.message_id), reaction, added)

    async def reply_to(self, message: MessageRef, text: str, user_id: str) -> None:
        await self.peer.user_sends(self.user(user_id), GROUP_ID, text, reply_to=int(message.message_id))

    async def command(self, text: str, user_id: str) -> None:
        await self.peer.user_sends(self.user(user_id), GROUP_ID, f"/{text}")

    async def visible_text(self, message: MessageRef) -> str | None:
        return self.peer.visible_text(int(message.chat.chat_id), int(message.message_id))


@asynccontextmanager
async def telegram_harness() -> AsyncIterator[TelegramHarness]:
    async with TelegramPeer(flood=FloodLimits.off()) as peer:
        harness = TelegramHarness(peer)
        await harness.adapter.start(harness._sink)
        try:
            yield harness
        finally:
            await harness.adapter.stop()
        assert peer.unknown_params == [], f"the adapter sent parameters Telegram does not know: {peer.unknown_params}"
        assert peer.unimplemented == []
