"""The adapter contract: every adapter passes the same suite (send, edit, delete, inbound action,
reaction, reply, command, limits). Harnesses live in ``tests/adapters/harnesses/``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from adapters.base import (
    Action,
    ActionPressed,
    CommandIssued,
    Event,
    MessageRef,
    OutboundMessage,
    ReactionAdded,
    ReactionRemoved,
    ReplyPosted,
)
from adapters.markup import Bold, Document, Paragraph, Text
from tests.adapters.harnesses import HARNESSES
from tests.adapters.harnesses.base import AdapterHarness


@pytest.fixture(params=sorted(HARNESSES))
async def harness(request: pytest.FixtureRequest) -> AsyncIterator[AdapterHarness]:
    async with HARNESSES[request.param]() as h:
        yield h


def _message(title: str, body: str, counts: int | None = None, key: str = "k1") -> OutboundMessage:
    return OutboundMessage(
        markup=Document((Paragraph((Bold((Text(title),)),)), Paragraph((Text(body),)))),
        actions=(
            Action("ack", "✅ Read", count=counts, emoji="✅"),
            Action("vote:1", "Pizza", count=counts, emoji="1️⃣"),
        ),
        idempotency_key=key,
        post_id=1,
        delivery_id=1,
    )


async def _next_event(h: AdapterHarness, kind: type[Event]) -> Event:
    async def wait() -> Event:
        while True:
            event = await h.events.get()
            if isinstance(event, kind):
                return event

    return await asyncio.wait_for(wait(), timeout=20)


async def test_send_shows_title_and_body(harness: AdapterHarness) -> None:
    ref = await harness.adapter.send(harness.chat, _message("Nieuwe verlofregeling", "Vanaf januari"))
    assert ref.chat == harness.chat
    text = await harness.visible_text(ref)
    assert text is not None and "Nieuwe verlofregeling" in text and "Vanaf januari" in text


async def test_edit_changes_what_people_see(harness: AdapterHarness) -> None:
    ref = await harness.adapter.send(harness.chat, _message("Lunch", "Wat eten we?", counts=0))
    await harness.adapter.edit(ref, _message("Lunch", "Wat eten we vrijdag?", counts=3))
    text = await harness.visible_text(ref)
    assert text is not None and "vrijdag" in text


async def test_delete_removes_the_message(harness: AdapterHarness) -> None:
    ref = await harness.adapter.send(harness.chat, _message("Oops", "wrong post"))
    await harness.adapter.delete(ref)
    assert await harness.visible_text(ref) is None


async def test_button_press_arrives_as_action_pressed(harness: AdapterHarness) -> None:
    ref = await harness.adapter.send(harness.chat, _message("Lunch", "Wat eten we?"))
    await harness.press(ref, "vote:1", "anna")
    event = await _next_event(harness, ActionPressed)
    assert isinstance(event, ActionPressed)
    assert event.message == ref and event.action_id == "vote:1"
    assert event.event_id
    await event.answer("counted")


async def test_reaction_added_and_removed(harness: AdapterHarness) -> None:
    ref = await harness.adapter.send(harness.chat, _message("Borrel", "Vrijdag 16:00"))
    await harness.react(ref, "👍", "bram")
    added = await _next_event(harness, ReactionAdded)
    assert isinstance(added, ReactionAdded) and added.message == ref and added.reaction == "👍"
    await harness.react(ref, "👍", "bram", added=False)
    removed = await _next_event(harness, ReactionRemoved)
    assert isinstance(removed, ReactionRemoved) and removed.message == ref
    assert removed.user.user_id == added.user.user_id


async def test_reply_to_a_post(harness: AdapterHarness) -> None:
    ref = await harness.adapter.send(harness.chat, _message("Vraag", "Wie komt er?"))
    await harness.reply_to(ref, "Ik kom!", "carla")
    event = await _next_event(harness, ReplyPosted)
    assert isinstance(event, ReplyPosted) and event.message == ref and "Ik kom!" in event.text


async def test_command_with_arguments(harness: AdapterHarness) -> None:
    await harness.command("stats 12", "mod")
    event = await _next_event(harness, CommandIssued)
    assert isinstance(event, CommandIssued)
    assert event.name == "stats" and event.args == "12" and event.chat == harness.chat
    await harness.adapter.reply(event, "ok", private=True)


async def test_distinct_events_have_distinct_ids(harness: AdapterHarness) -> None:
    ref = await harness.adapter.send(harness.chat, _message("Lunch", "?"))
    await harness.press(ref, "ack", "anna")
    await harness.press(ref, "ack", "anna")
    first = await _next_event(harness, ActionPressed)
    second = await _next_event(harness, ActionPressed)
    assert first.event_id != second.event_id


def test_limits_are_declared(harness: AdapterHarness) -> None:
    limits = harness.adapter.limits
    assert limits.text_length >= 1000
    for rate in limits.global_rates + limits.per_chat_rates:
        assert rate.count > 0 and rate.period > 0


async def test_reference_round_trips(harness: AdapterHarness) -> None:
    ref = await harness.adapter.send(harness.chat, _message("Ref", "x"))
    assert isinstance(ref, MessageRef) and ref.message_id
