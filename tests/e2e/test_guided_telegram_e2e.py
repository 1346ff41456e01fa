"""Posting step by step on Telegram, end to end: the real python-telegram-bot against the loopback Bot API
peer. `post` in a group answers with a t.me deep link; the dialog runs in the private chat with ForceReply
questions, inline buttons for the call to action, the audience and urgency, and a preview with Publish /
Cancel. Every test runs on SQLite and PostgreSQL; the peer must have seen no unknown parameter."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from adapters.telegram.render import decode_callback_data
from bot.clock import FrozenClock
from content.db import Store
from content.guided import GuidedDraft
from content.models import Post
from tests.e2e.test_telegram_e2e import (
    ANNA,
    BRAM,
    KANTOOR,
    LAGER,
    Harness,
    answered,
    eventually,
    peer_with_people,
    running_app,
    settings_for,
)
from tests.peers.telegram import PeerMessage

pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning")


@pytest.fixture
async def polling(store: Store, clock: FrozenClock) -> AsyncIterator[Harness]:
    async with peer_with_people() as peer, running_app(settings_for(peer), peer, store, clock) as harness:
        yield harness


def private_messages(harness: Harness, user_id: int) -> list[PeerMessage]:
    return harness.peer.bot_messages(user_id)


async def next_question(harness: Harness, user_id: int, seen: int, what: str) -> PeerMessage:
    """Wait for the bot's next message in the private chat (after ``seen`` of them)."""
    await eventually(lambda: len(private_messages(harness, user_id)) > seen, what)
    return private_messages(harness, user_id)[-1]


def choice_data(msg: PeerMessage, value: str) -> str:
    for row in (msg.reply_markup or {}).get("inline_keyboard", []):
        for button in row:
            if decode_callback_data(button.get("callback_data", ""))[1] == f"g:{value}":
                return str(button["callback_data"])
    raise AssertionError(f"no {value!r} choice on message {msg.message_id}: {msg.reply_markup}")


async def typed(harness: Harness, text: str, question: PeerMessage, what: str) -> PeerMessage:
    """Anna types ``text`` into the reply field the ForceReply opened (a reply to the question)."""
    seen = len(private_messages(harness, ANNA))
    await harness.peer.user_sends(ANNA, ANNA, text, reply_to=question.message_id)
    return await next_question(harness, ANNA, seen, what)


async def pressed(harness: Harness, question: PeerMessage, value: str, what: str) -> PeerMessage:
    seen = len(private_messages(harness, ANNA))
    query = await harness.peer.user_presses(ANNA, ANNA, question.message_id, choice_data(question, value))
    await eventually(answered(harness.peer, query), f"the press of {value} is answered")
    return await next_question(harness, ANNA, seen, what)


async def stored_posts(harness: Harness) -> list[Post]:
    async with harness.app.store.sessions() as session:
        return list((await session.execute(select(Post).order_by(Post.id))).scalars())


async def to_preview(harness: Harness) -> PeerMessage:
    await harness.peer.user_sends(ANNA, ANNA, "/start post")  # the deep link opened
    title = await next_question(harness, ANNA, 0, "the title is asked")
    assert title.force_reply and title.reply_markup is None
    body = await typed(harness, "Nieuwe verlofregeling", title, "the body is asked")
    cta = await typed(harness, "Vanaf januari geldt de nieuwe regeling.", body, "the call to action is asked")
    assert not cta.force_reply
    deadline = await pressed(harness, cta, "acknowledge", "the deadline is asked")
    audience = await typed(harness, "2026-12-05", deadline, "the audience is asked")
    schedule = await pressed(harness, audience, "everyone", "the schedule is asked")
    urgent = await pressed(harness, schedule, "now", "urgency is asked")
    return await pressed(harness, urgent, "no", "the preview is shown")


async def test_post_in_a_group_points_to_the_private_chat_with_a_deep_link(polling: Harness) -> None:
    await polling.peer.user_sends(ANNA, KANTOOR, "/post")
    await eventually(lambda: bool(polling.peer.bot_messages(KANTOOR)), "the group is answered")
    note = polling.peer.bot_messages(KANTOOR)[-1]
    assert "https://t.me/" in note.text and "?start=post" in note.text
    async with polling.app.store.sessions() as session:
        assert list((await session.execute(select(GuidedDraft))).scalars()) == []  # it starts in private


async def test_from_the_deep_link_to_a_published_must_read(polling: Harness) -> None:
    preview = await to_preview(polling)
    assert "Nieuwe verlofregeling" in preview.text and "acknowledge by" in preview.text
    assert await stored_posts(polling) == []
    seen = len(private_messages(polling, ANNA))
    query = await polling.peer.user_presses(ANNA, ANNA, preview.message_id, choice_data(preview, "publish"))
    await eventually(answered(polling.peer, query), "the Publish press is answered")
    done = await next_question(polling, ANNA, seen, "the post's number is told")
    posts = await stored_posts(polling)
    assert len(posts) == 1, done.text
    [post] = posts
    assert done.text == f"#{post.id} is published"
    assert (post.cta_kind, post.audience, post.urgent) == ("acknowledge", ["everyone"], False)
    assert post.cta_deadline is not None
    await eventually(lambda: bool(polling.peer.bot_messages(LAGER)), "the post reaches the groups")
    assert "Nieuwe verlofregeling" in polling.peer.bot_messages(LAGER)[-1].text


async def test_publish_pressed_twice_makes_one_post(polling: Harness) -> None:
    preview = await to_preview(polling)
    data = choice_data(preview, "publish")
    first = await polling.peer.user_presses(ANNA, ANNA, preview.message_id, data)
    second = await polling.peer.user_presses(ANNA, ANNA, preview.message_id, data)
    await eventually(answered(polling.peer, first), "the first press is answered")
    await eventually(answered(polling.peer, second), "the second press is answered")
    await eventually(lambda: "is published" in private_messages(polling, ANNA)[-1].text, "the post is told")
    assert len(await stored_posts(polling)) == 1


async def test_cancel_button_and_a_bad_answer(polling: Harness) -> None:
    await polling.peer.user_sends(ANNA, ANNA, "/post")
    title = await next_question(polling, ANNA, 0, "the title is asked")
    body = await typed(polling, "Lunch", title, "the body is asked")
    cta = await pressed(polling, body, "skip", "the call to action is asked")
    options = await pressed(polling, cta, "poll", "the options are asked")
    again = await typed(polling, "Pizza", options, "the options are asked again")
    assert "a poll needs 2 to 10 options" in again.text and again.force_reply
    seen = len(private_messages(polling, ANNA))
    await polling.peer.user_sends(ANNA, ANNA, "cancel")  # typed without replying: a plain message
    gone = await next_question(polling, ANNA, seen, "the cancel is confirmed")
    assert gone.text == "cancelled; nothing was posted"
    assert await stored_posts(polling) == []


async def test_an_employee_without_open_posting_is_refused(polling: Harness) -> None:
    await polling.peer.user_sends(BRAM, BRAM, "/post")
    await eventually(lambda: bool(private_messages(polling, BRAM)), "Bram is answered")
    assert "posting needs the moderator role" in private_messages(polling, BRAM)[-1].text


async def test_a_restart_mid_dialog_continues_it_and_it_expires_15_minutes_after_the_last_answer(
    store: Store, clock: FrozenClock
) -> None:
    async with peer_with_people() as peer:
        settings = settings_for(peer)
        async with running_app(settings, peer, store, clock) as first:
            await peer.user_sends(ANNA, ANNA, "/post")
            title = await next_question(first, ANNA, 0, "the title is asked")
            body = await typed(first, "Herstart", title, "the body is asked")
        async with running_app(settings, peer, store, clock) as second:  # another process, the same database
            cta = await typed(second, "Na de herstart", body, "the call to action is asked")
            assert "What should readers do?" in cta.text
            clock.advance(minutes=15)
            seen = len(private_messages(second, ANNA))
            await peer.user_sends(ANNA, ANNA, "like")
            gone = await next_question(second, ANNA, seen, "the expiry is told")
            assert gone.text == "your post draft expired after 15 minutes; nothing was posted"
            query = await peer.user_presses(ANNA, ANNA, cta.message_id, choice_data(cta, "like"))
            await eventually(answered(peer, query), "the late press is answered")
            assert peer.callback_queries[query].answer == {"text": "this post draft is no longer open"}
            assert await stored_posts(second) == []
