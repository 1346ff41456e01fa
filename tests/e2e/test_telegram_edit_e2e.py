"""Telegram end to end, issue 15: an edit by a moderator reaches every copy in place (editMessageText, once
per message, the buttons and their counts kept); an employee's edit is refused and edits nothing; a post
older than Telegram's 48 hours cannot be deleted (the peer answers deleteMessage with 400 "message can't be
deleted", as the Bot API reference says), so retracting it edits the copy into a short "withdrawn"
placeholder without buttons, while a younger copy is deleted. SQLite and PostgreSQL (the ``store`` fixture)."""

from __future__ import annotations

import pytest

from tests.e2e.test_telegram_e2e import (
    ANNA,
    BRAM,
    KANTOOR,
    LAGER,
    Harness,
    answered,
    buttons,
    data_for,
    eventually,
    polling,
)

pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning")
__all__ = ["polling"]  # the fixture, used by name

HOURS_48 = 48 * 3600


def edit_calls(harness: Harness) -> list[tuple[int, int]]:
    return [(c.params["chat_id"], c.params["message_id"]) for c in harness.peer.calls_to("editMessageText", ok=True)]


async def test_a_moderators_edit_reaches_every_copy_in_place_and_keeps_the_counts(polling: Harness) -> None:
    peer = polling.peer
    post = await polling.moderator_posts("Borrel | Vrijdag 16:00 in de kantine | cta: acknowledge")
    kantoor = await polling.message_in(KANTOOR, post.id)
    pressed = await peer.user_presses(BRAM, KANTOOR, kantoor.message_id, data_for(kantoor, "ack"))
    await eventually(answered(peer, pressed), "Bram's press is answered")
    await polling.app.settle()
    before = edit_calls(polling)

    edit = f"/edit@prikbord_bot {post.id} | Borrel (verzet) | Vrijdag 17:00 in de kantine"
    await peer.user_sends(ANNA, KANTOOR, edit)
    await eventually(lambda: bool(peer.bot_messages(ANNA)), "Anna hears back")
    assert peer.bot_messages(ANNA)[-1].text == f"#{post.id} is edited; 3 messages are being updated"
    await polling.app.settle()

    lager = await polling.message_in(LAGER, post.id)
    for msg in (await polling.message_in(KANTOOR, post.id), lager):
        assert msg.text.startswith("Borrel (verzet)") and "17:00" in msg.text and "16:00" not in msg.text
        assert buttons(msg)[0]["text"] == "✅ Read · 1"  # Bram's acknowledgement stayed
        assert msg.message_id in (kantoor.message_id, lager.message_id)  # the same message, edited
    assert sorted(edit_calls(polling)[len(before) :]) == sorted(
        [(KANTOOR, kantoor.message_id), (LAGER, lager.message_id)]
    )  # once per message
    assert "Borrel (verzet)" in polling.console.messages["m1"]
    assert (await polling.stats(post.id))["counts"] == {"ack": 1}


async def test_an_employees_edit_is_refused_and_edits_nothing(polling: Harness) -> None:
    peer = polling.peer
    post = await polling.moderator_posts("Borrel | Vrijdag 16:00 | cta: like")
    before = edit_calls(polling)
    await peer.user_sends(BRAM, KANTOOR, f"/edit {post.id} | Mijn borrel")
    await eventually(lambda: bool(peer.bot_messages(BRAM)), "Bram hears back")
    assert "needs the moderator role" in peer.bot_messages(BRAM)[-1].text
    await polling.app.settle()
    assert edit_calls(polling) == before
    assert (await polling.message_in(KANTOOR, post.id)).text.startswith("Borrel")


async def test_past_48_hours_a_retracted_copy_becomes_a_withdrawn_placeholder_without_buttons(
    polling: Harness,
) -> None:
    peer = polling.peer
    old = await polling.moderator_posts("Oud nieuws | Van eergisteren | cta: acknowledge")
    old_kantoor = await polling.message_in(KANTOOR, old.id)
    peer.advance(HOURS_48 + 60)
    young = await polling.moderator_posts("Vers nieuws | Van vandaag | cta: acknowledge")
    young_kantoor = await polling.message_in(KANTOOR, young.id)

    await polling.console.feed(f"mod: /retract {old.id}")
    refused = [
        c
        for c in peer.calls_to("deleteMessage")
        if (c.params["chat_id"], c.params["message_id"]) == (KANTOOR, old_kantoor.message_id)
    ]
    assert [(c.status, c.description) for c in refused] == [(400, "Bad Request: message can't be deleted")]
    placeholder = peer.message(KANTOOR, old_kantoor.message_id)
    assert placeholder is not None and not placeholder.deleted
    assert "ingetrokken" in placeholder.text and "Oud nieuws" not in placeholder.text
    assert placeholder.reply_markup is None  # no buttons left to press
    assert polling.console.private[-1][1] == f"#{old.id} is retracted; 3 messages removed"

    await polling.console.feed(f"mod: /retract {young.id}")
    gone = peer.message(KANTOOR, young_kantoor.message_id)
    assert gone is not None and gone.deleted  # younger than 48 hours: deleted outright


async def test_an_edit_during_an_outage_is_retried_and_reaches_every_copy_once(polling: Harness) -> None:
    peer = polling.peer
    post = await polling.moderator_posts("Storing | Het netwerk ligt plat | cta: acknowledge")
    peer.outage(True)  # Telegram answers 502 to everything
    await polling.console.feed(f"mod: /edit {post.id} | Storing voorbij | Het netwerk werkt weer")
    await polling.app.settle()  # the copies' edits failed and wait out their backoff
    assert not edit_calls(polling)
    assert (await polling.message_in(KANTOOR, post.id)).text.startswith("Storing\n")
    peer.outage(False)
    polling.app.clock.advance(seconds=5)  # type: ignore[attr-defined]  # the test's FrozenClock
    await polling.app.settle()
    kantoor, lager = await polling.message_in(KANTOOR, post.id), await polling.message_in(LAGER, post.id)
    assert kantoor.text.startswith("Storing voorbij") and lager.text.startswith("Storing voorbij")
    assert sorted(edit_calls(polling)) == sorted([(KANTOOR, kantoor.message_id), (LAGER, lager.message_id)])
    assert "Storing voorbij" in polling.console.messages["m1"]
