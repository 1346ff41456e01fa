"""Telegram end to end, issue 15: forum topics. A ``[[channels]]`` entry with ``thread_id`` names one topic of
a forum supergroup: its posts go there (``message_thread_id``), edits and retractions reach them in place, and
presses and replies from the topic count for that channel. Two topics of one forum are two channels, each with
its own copy; a command given in a topic is answered in the topic. A topic no channel names counts for the
forum's own channel when the forum is configured as one. SQLite and PostgreSQL (the ``store`` fixture)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from bot.clock import FrozenClock
from bot.config import Settings
from content.db import Store
from content.models import Channel, Delivery, Identity, Membership, Response
from tests.e2e.test_telegram_e2e import (
    ANNA,
    BRAM,
    CARLA,
    Harness,
    _until_stored,
    answered,
    buttons,
    data_for,
    eventually,
    peer_with_people,
    running_app,
)
from tests.peers.telegram import PeerMessage, TelegramPeer

pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning")

FORUM, PLAIN = -1001000000010, -1001000000011  # a supergroup with topics; one without
DIRK = 1104  # never started the bot: his answers cannot go privately, so they go where he asked


def topic_settings(peer: TelegramPeer, sales: int, support: int) -> Settings:
    """Two topics of one forum as two channels (tag ``forum``), and the plain group for contrast."""
    telegram = {"token": peer.token, "api_base_url": peer.api_base_url, "mode": "polling"}
    chat = str(FORUM)
    channels = [
        {"name": "sales", "platform": "telegram", "chat_id": chat, "thread_id": sales, "tags": ["forum", "sales"]},
        {"name": "support", "platform": "telegram", "chat_id": chat, "thread_id": support, "tags": ["forum"]},
        {"name": "plain", "platform": "telegram", "chat_id": str(PLAIN), "tags": ["plain"]},
        {"name": "console", "platform": "console", "chat_id": "console", "tags": ["everyone"]},
    ]
    return Settings.model_validate(
        {
            "timezone": "Europe/Amsterdam",
            "console": {"enabled": True},
            "telegram": telegram,
            "channels": channels,
            "moderation": {"moderators": [f"telegram:{ANNA}", "console:mod"]},
        }
    )


class Topics:
    def __init__(self, harness: Harness, sales: int, support: int) -> None:
        self.harness, self.sales, self.support = harness, sales, support

    async def message_in(self, channel: str, post_id: int) -> PeerMessage:
        async with self.harness.app.store.sessions() as session:
            message_id = (
                await session.execute(
                    select(Delivery.platform_message_id)
                    .join(Channel, Channel.id == Delivery.channel_id)
                    .where(Delivery.post_id == post_id, Channel.name == channel)
                )
            ).scalar_one()
        assert message_id is not None
        msg = self.harness.peer.message(FORUM, int(message_id))
        assert msg is not None and not msg.deleted
        return msg

    async def responses_by_channel(self) -> dict[str, list[str]]:
        """Each stored response's kind, under the channel whose copy it came from."""
        async with self.harness.app.store.sessions() as session:
            rows = await session.execute(
                select(Channel.name, Response.kind)
                .join(Delivery, Delivery.id == Response.delivery_id)
                .join(Channel, Channel.id == Delivery.channel_id)
                .order_by(Response.id)
            )
            out: dict[str, list[str]] = {}
            for name, kind in rows.all():
                out.setdefault(name, []).append(str(getattr(kind, "value", kind)))
            return out


@pytest.fixture
async def topics(store: Store, clock: FrozenClock) -> AsyncIterator[Topics]:
    async with peer_with_people() as peer:
        peer.add_chat(FORUM, "supergroup", "Forum")
        peer.add_chat(PLAIN, "supergroup", "Plain")
        peer.add_user(DIRK, "Dirk", started=False)
        sales, support = peer.add_topic(FORUM, "Sales"), peer.add_topic(FORUM, "Support")
        async with running_app(topic_settings(peer, sales, support), peer, store, clock) as harness:
            yield Topics(harness, sales, support)


async def test_a_post_lands_in_its_topic_only_and_is_edited_in_place_and_retracted(topics: Topics) -> None:
    harness, peer = topics.harness, topics.harness.peer
    post = await harness.moderator_posts("Kwartaalcijfers | Q3 is binnen | cta: acknowledge | to: sales")
    msg = await topics.message_in("sales", post.id)
    assert msg.thread_id == topics.sales
    sends = [c for c in peer.calls_to("sendMessage", ok=True) if c.params["chat_id"] == FORUM]
    assert [c.params.get("message_thread_id") for c in sends] == [topics.sales]  # not in Support, not General
    assert peer.bot_messages(PLAIN) == []

    await harness.console.feed(f"mod: /edit {post.id} | Kwartaalcijfers (herzien) | Q3 is binnen, met bijlage")
    await harness.app.settle()
    edited = await topics.message_in("sales", post.id)
    assert edited.message_id == msg.message_id and edited.text.startswith("Kwartaalcijfers (herzien)")
    assert edited.thread_id == topics.sales
    (edit,) = peer.calls_to("editMessageText", ok=True)
    assert (edit.params["chat_id"], edit.params["message_id"]) == (FORUM, msg.message_id)

    await harness.console.feed(f"mod: /retract {post.id}")
    gone = peer.message(FORUM, msg.message_id)
    assert gone is not None and gone.deleted
    assert [(c.params["chat_id"], c.params["message_id"]) for c in peer.calls_to("deleteMessage", ok=True)] == [
        (FORUM, msg.message_id)
    ]


async def test_two_topics_of_one_forum_each_get_their_own_copy(topics: Topics) -> None:
    harness = topics.harness
    post = await harness.moderator_posts("Borrel | Vrijdag 16:00 | cta: like | to: forum")
    sales, support = await topics.message_in("sales", post.id), await topics.message_in("support", post.id)
    assert sales.message_id != support.message_id
    assert (sales.thread_id, support.thread_id) == (topics.sales, topics.support)
    assert sales.text.startswith("Borrel") and support.text.startswith("Borrel")
    assert (await harness.stats(post.id))["deliveries"] == {"sent": 2}


async def test_a_closed_topic_fails_its_copy_with_the_reason_and_keeps_its_channel(topics: Topics) -> None:
    """An admin closed Support: Telegram refuses the bot there (TOPIC_CLOSED). That copy fails, saying why and what
    to do; Sales still gets its copy, and Support's channel stays enabled, as a topic may be reopened."""
    harness, peer = topics.harness, topics.harness.peer
    peer.close_topic(FORUM, topics.support)
    post = await harness.moderator_posts("Borrel | Vrijdag 16:00 | cta: like | to: forum")
    assert (await topics.message_in("sales", post.id)).thread_id == topics.sales
    assert (await harness.stats(post.id))["deliveries"] == {"sent": 1, "failed": 1}
    async with harness.app.store.sessions() as session:
        error, enabled = (
            await session.execute(
                select(Delivery.last_error, Channel.enabled)
                .join(Channel, Channel.id == Delivery.channel_id)
                .where(Delivery.post_id == post.id, Channel.name == "support")
            )
        ).one()
    assert error is not None and f"topic {topics.support} is closed" in error and "reopen the topic" in error
    assert enabled is True
    assert [c.params.get("message_thread_id") for c in peer.calls_to("sendMessage", ok=False)] == [topics.support]


async def test_a_press_and_a_reply_in_a_topic_count_for_that_topics_channel(topics: Topics) -> None:
    harness, peer = topics.harness, topics.harness.peer
    post = await harness.moderator_posts("Klantdag | Wie komt er? | cta: acknowledge | to: forum")
    support = await topics.message_in("support", post.id)
    pressed = await peer.user_presses(BRAM, FORUM, support.message_id, data_for(support, "ack"))
    await eventually(answered(peer, pressed), "Bram's press is answered")
    assert peer.callback_queries[pressed].answer == {"text": f"✅ thanks, #{post.id} is marked as read"}
    await peer.user_sends(CARLA, FORUM, "Ik kom ook", reply_to=support.message_id)
    await _until_stored(harness, 2)
    await harness.app.settle()
    assert await topics.responses_by_channel() == {"support": ["ack", "reply"]}
    assert (await harness.stats(post.id))["counts"] == {"ack": 1, "reply": 1}
    assert buttons(await topics.message_in("support", post.id))[0]["text"] == "✅ Read · 1"
    assert buttons(await topics.message_in("sales", post.id))[0]["text"] == "✅ Read · 1"


async def test_a_command_in_a_topic_is_answered_in_that_topic(topics: Topics) -> None:
    peer = topics.harness.peer
    asked = await peer.user_sends(DIRK, FORUM, "/whoami@prikbord_bot", thread_id=topics.support)
    question = asked["message"]["message_id"] if "message" in asked else None
    answers = lambda: [m for m in peer.bot_messages(FORUM) if m.reply_to is not None]  # noqa: E731
    await eventually(lambda: bool(answers()), "Dirk is answered in the forum")
    assert {m.thread_id for m in answers()} == {topics.support}
    assert question is None or {m.reply_to for m in answers()} == {question}
    sends = [c for c in peer.calls_to("sendMessage", ok=True) if c.params["chat_id"] == FORUM]
    assert sends and all(c.params.get("message_thread_id") == topics.support for c in sends)


async def test_a_native_reaction_on_a_topics_post_is_counted(topics: Topics) -> None:
    """Telegram's message_reaction names the chat, not the topic: the post is found by its whole chat."""
    harness, peer = topics.harness, topics.harness.peer
    post = await harness.moderator_posts("Klantdag | Wie komt er? | cta: acknowledge | to: sales")
    sales = await topics.message_in("sales", post.id)
    await peer.react(CARLA, FORUM, sales.message_id, "👍")
    await _until_stored(harness, 1)
    await harness.app.settle()
    assert (await harness.stats(post.id))["counts"] == {"like": 1}
    assert await topics.responses_by_channel() == {"sales": ["like"]}


async def test_a_topic_no_channel_names_counts_for_the_forums_own_channel(store: Store, clock: FrozenClock) -> None:
    """A forum configured as one channel (no thread_id): what comes from a topic without a channel of its own
    counts for it (content.chats.chat_ids_to_match). Here the sales channel was a topic's and is now the
    whole forum's: a press on its copy in the topic still counts, and for it, and the presser is a member."""
    async with peer_with_people() as peer:
        peer.add_chat(FORUM, "supergroup", "Forum")
        sales, support = peer.add_topic(FORUM, "Sales"), peer.add_topic(FORUM, "Support")
        async with running_app(topic_settings(peer, sales, support), peer, store, clock) as harness:
            post = await harness.moderator_posts("Klantdag | Wie komt er? | cta: acknowledge | to: sales")
            msg = await Topics(harness, sales, support).message_in("sales", post.id)
        whole = topic_settings(peer, sales, support)
        whole.channels[0].thread_id = None  # the operator made "sales" the forum as a whole
        async with running_app(whole, peer, store, clock) as harness:
            assert msg.thread_id == sales
            pressed = await peer.user_presses(BRAM, FORUM, msg.message_id, data_for(msg, "ack"))
            await eventually(answered(peer, pressed), "Bram's press is answered")
            assert peer.callback_queries[pressed].answer == {"text": f"✅ thanks, #{post.id} is marked as read"}
            await harness.app.settle()
            await harness.app.audience.flush()
            assert await Topics(harness, sales, support).responses_by_channel() == {"sales": ["ack"]}
            assert await members_by_channel(harness) == {"sales": {str(BRAM)}}


async def members_by_channel(harness: Harness) -> dict[str, set[str]]:
    """Platform user ids of each Telegram channel's members as the store has them (here: people seen there)."""
    async with harness.app.store.sessions() as session:
        rows = await session.execute(
            select(Channel.name, Identity.platform_user_id)
            .join(Membership, Membership.channel_id == Channel.id)
            .join(Identity, Identity.id == Membership.identity_id)
            .where(Membership.left_at.is_(None), Channel.platform == "telegram")
        )
        out: dict[str, set[str]] = {}
        for name, user_id in rows.all():
            out.setdefault(name, set()).add(user_id)
        return out


async def test_what_happens_to_the_forum_happens_to_its_topics_channels(topics: Topics) -> None:
    """Joins, leaves and the bot's removal name the chat, never a topic: each topic's channel follows them."""
    harness, peer = topics.harness, topics.harness.peer
    peer.chats[FORUM].bot_status = "administrator"  # chat_member updates come to admins only
    await peer.chat_member(FORUM, DIRK, "member")
    await _until_stored_members(harness, {"sales": {str(DIRK)}, "support": {str(DIRK)}})
    await peer.chat_member(FORUM, DIRK, "left")
    await _until_stored_members(harness, {})

    await peer.bot_membership(FORUM, "kicked", ANNA)
    enabled: dict[str, bool] = {}
    for _ in range(500):
        async with harness.app.store.sessions() as session:
            enabled = {name: on for name, on in (await session.execute(select(Channel.name, Channel.enabled))).all()}
        if not enabled["support"]:
            break
        await asyncio.sleep(0.01)
    assert enabled == {"console": True, "plain": True, "sales": False, "support": False}


async def _until_stored_members(harness: Harness, expected: dict[str, set[str]]) -> None:
    for _ in range(500):
        if await members_by_channel(harness) == expected:
            return
        await asyncio.sleep(0.01)
    assert await members_by_channel(harness) == expected
