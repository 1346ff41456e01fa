"""The Matrix sync loop owned by one instance (#16): an adapter built with ``receive_on_start=False`` logs
in and sends, but hands on nothing until ``start_receiving()``; after ``stop_receiving()`` it still sends,
and the next owner goes on from the stored sync position (nothing replayed, nothing skipped). On the real
Synapse."""

from __future__ import annotations

import asyncio
import contextlib

from adapters.base import CommandIssued, Event, OutboundMessage, PermanentError
from adapters.markup import MarkupParser
from tests.adapters.harnesses.matrix import matrix_harness


async def _command(events: asyncio.Queue[Event], timeout: float) -> CommandIssued | None:
    try:
        while True:
            event = await asyncio.wait_for(events.get(), timeout)
            if isinstance(event, CommandIssued):
                return event
    except TimeoutError:
        return None


async def test_a_follower_sends_but_syncs_only_while_it_owns_the_loop() -> None:
    async with matrix_harness(receive_on_start=False) as h:
        assert h.adapter.connected and h.adapter.single_receiver
        # The bot joins the room it was invited to through its sync: own the loop once for that.
        await h.adapter.start_receiving()
        for _ in range(200):
            with contextlib.suppress(PermanentError):
                await h.adapter.list_members(h.chat)  # refused until the bot is in the room
                break
            await asyncio.sleep(0.1)
        await h.adapter.stop_receiving()
        anna = await h.person("anna")
        await anna.join(h.room_id)

        sent = await h.adapter.send(h.chat, OutboundMessage(MarkupParser().parse("**Hallo** allemaal")))
        assert sent.message_id.startswith("$")  # sending needs no sync loop
        await anna.say(h.room_id, "!help")
        assert await _command(h.events, 3) is None  # not the owner: nothing is handed on

        await h.adapter.start_receiving()
        first = await _command(h.events, 20)
        assert first is not None and first.name == "help"  # waiting in the room since before: not skipped

        await h.adapter.stop_receiving()
        assert h.adapter.connected  # still logged in, still sending
        await h.adapter.send(h.chat, OutboundMessage(MarkupParser().parse("nog steeds hier")))
        await anna.say(h.room_id, "!agenda")
        assert await _command(h.events, 3) is None

        await h.adapter.start_receiving()  # the lock came back: on from the stored position
        again = await _command(h.events, 20)
        assert again is not None and again.name == "agenda"
        assert await _command(h.events, 2) is None  # !help is not handed on a second time
