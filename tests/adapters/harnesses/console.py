"""Contract harness of the console adapter: people type lines."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from rich.console import Console

from adapters.base import Event, MessageRef
from adapters.console.adapter import ConsoleAdapter


class ConsoleHarness:
    def __init__(self) -> None:
        self.adapter = ConsoleAdapter(output=Console(file=io.StringIO(), width=120))
        self.chat = self.adapter.chat
        self.events: asyncio.Queue[Event] = asyncio.Queue()

    async def _sink(self, event: Event) -> None:
        await self.events.put(event)

    async def press(self, message: MessageRef, action_id: str, user_id: str) -> None:
        await self.adapter.feed(f"{user_id}: @{message.message_id} press {action_id}")

    async def react(self, message: MessageRef, reaction: str, user_id: str, added: bool = True) -> None:
        verb = "react" if added else "unreact"
        await self.adapter.feed(f"{user_id}: @{message.message_id} {verb} {reaction}")

    async def reply_to(self, message: MessageRef, text: str, user_id: str) -> None:
        await self.adapter.feed(f"{user_id}: @{message.message_id} {text}")

    async def command(self, text: str, user_id: str) -> None:
        await self.adapter.feed(f"{user_id}: /{text}")

    async def visible_text(self, message: MessageRef) -> str | None:
        return self.adapter.messages.get(message.message_id)


@asynccontextmanager
async def console_harness() -> AsyncIterator[ConsoleHarness]:
    harness = ConsoleHarness()
    await harness.adapter.start(harness._sink)
    try:
        yield harness
    finally:
        await harness.adapter.stop()
