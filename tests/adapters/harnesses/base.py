"""What the contract suite needs from each adapter's test harness."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from adapters.base import Adapter, ChatRef, Event, MessageRef


class AdapterHarness(Protocol):
    adapter: Adapter  # started, its sink is ``events`` below
    chat: ChatRef  # a chat (group/channel/room) the bot may post to
    events: asyncio.Queue[Event]  # every event the adapter gave its sink

    async def press(self, message: MessageRef, action_id: str, user_id: str) -> None:
        """Act as a person pressing the button ``action_id`` under ``message``."""

    async def react(self, message: MessageRef, reaction: str, user_id: str, added: bool = True) -> None:
        """Act as a person adding (or removing) a reaction on ``message``."""

    async def reply_to(self, message: MessageRef, text: str, user_id: str) -> None:
        """Act as a person replying to ``message``."""

    async def command(self, text: str, user_id: str) -> None:
        """Act as a person typing the command ``text`` (without prefix, e.g. ``stats 12``) in the chat."""

    async def visible_text(self, message: MessageRef) -> str | None:
        """What a person sees of ``message`` now (after edits); None when deleted."""


HarnessFactory = Callable[[], AbstractAsyncContextManager[AdapterHarness]]
