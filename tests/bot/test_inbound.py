"""bot/services/inbound.py: the sink every adapter delivers to. Commands go to the command router,
presses, reactions and replies to engagement, the bot leaving a chat disables its channel (pending
deliveries fail, the audit log says who, moderators are told), a chat moving to a new id moves its channel.

In process on the console adapter: an :class:`InboundRouter` built from a running App's real parts, on
SQLite and PostgreSQL (the ``store`` fixture). Console user ``mod`` is the moderator.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from rich.console import Console
from sqlalchemy import select

from adapters.base import (
    ActionPressed,
    ChannelMembershipChanged,
    ChannelMigrated,
    ChatRef,
    CommandIssued,
    MessageRef,
    ReactionAdded,
    ReactionRemoved,
    ReplyPosted,
    UserRef,
)
from adapters.console.adapter import ConsoleAdapter
from bot.app import App
from bot.clock import FrozenClock
from bot.services.inbound import InboundRouter
from bot.services.stats import post_stats
from content import posts
from content.db import Store
from content.models import Channel, Delivery, DeliveryState, Post, PostState
from tests.conftest import console_settings

MAIN, OTHER = ChatRef("console", "console"), ChatRef("console", "other")
MOD, ANNA, BRAM = (
    UserRef("console", "mod", "Mod"),
    UserRef("console", "anna", "Anna"),
    UserRef("console", "bram", "Bram"),
)


@dataclass
class Inbound:
    app: App
    router: InboundRouter
    clock: FrozenClock
    events: int = 0

    @property
    def console(self) -> ConsoleAdapter:
        adapter = self.app.adapters["console"]
        assert isinstance(adapter, ConsoleAdapter)
        return adapter

    def next_id(self) -> str:
        self.events += 1
        return f"evt-{self.events}"

    async def command(self, user: UserRef, name: str, args: str = "", chat: ChatRef = MAIN) -> None:
        await self.router(CommandIssued(self.next_id(), user, chat, name, args))
        await self.app.settle()

    def told(self, user: str) -> list[str]:
        return [text for who, text in self.console.private if who == user]

    async def channel(self, name: str) -> Channel:
        async with self.app.store.sessions() as session:
            found = (await session.execute(select(Channel).where(Channel.name == name))).scalar_one()
        return found

    async def counts(self, post_id: int) -> dict[str, int]:
        async with self.app.store.sessions() as session:
            post = await posts.get_post(session, post_id)
            assert post is not None
            counts: dict[str, int] = (await post_stats(session, [post]))[0]["counts"]
        return counts

    async def deliveries(self, post_id: int) -> dict[str, tuple[str, str | None]]:
        """channel name → (state, last error) of the post's deliveries."""
        async with self.app.store.sessions() as session:
            rows = await session.execute(
                select(Channel.name, Delivery.state, Delivery.last_error)
                .join(Channel, Channel.id == Delivery.channel_id)
                .where(Delivery.post_id == post_id)
            )
            return {name: (state, error) for name, state, error in rows.all()}

    async def waiting_post(self) -> int:
        """A published post whose deliveries to both channels wait for a retry an hour from now."""
        now = self.clock.now()
        async with self.app.store.transaction() as session:
            post = Post(title="Wacht", body="", state=PostState.PUBLISHED, created_at=now, updated_at=now)
            session.add(post)
            await session.flush()
            for channel in await posts.all_channels(session):
                session.add(
                    Delivery(
                        post_id=post.id,
                        channel_id=channel.id,
                        platform=channel.platform,
                        state=DeliveryState.PENDING,
                        next_attempt_at=now + timedelta(hours=1),
                    )
                )
            return post.id


@pytest.fixture
async def inbound(store: Store, clock: FrozenClock) -> AsyncIterator[Inbound]:
    channels = [
        {"name": "console", "platform": "console", "chat_id": "console", "tags": ["everyone"]},
        {"name": "other", "platform": "console", "chat_id": "other", "tags": ["everyone"]},
    ]
    app = App(
        console_settings(channels=channels),
        clock=clock,
        store=store,
        console_output=Console(file=io.StringIO(), width=120),
        counter_debounce=0.0,
    )
    await app.start()
    try:
        yield Inbound(app, InboundRouter(app.store, app.clock, app.commands, app.engagement, app.notifier), clock)
    finally:
        await app.stop()


async def _published(inbound: Inbound, text: str) -> Post:
    await inbound.command(MOD, "post", text)
    async with inbound.app.store.sessions() as session:
        post = (await posts.recent_posts(session, 1))[0]
    assert post.state == PostState.PUBLISHED
    return post


def _message_of(inbound: Inbound, post: Post) -> MessageRef:
    """The console message that shows ``post`` in the main chat."""
    for message_id, text in inbound.console.messages.items():
        if f"#{post.id}" in text:
            return MessageRef(MAIN, message_id)
    raise AssertionError(f"#{post.id} is not on the console: {inbound.console.messages}")


# -- commands -------------------------------------------------------------------------------------


async def test_a_command_is_run_and_answered_to_the_person(inbound: Inbound) -> None:
    await inbound.command(ANNA, "help")
    assert inbound.told("anna")[-1].startswith("commands (help COMMAND for more):")
    await inbound.command(ANNA, "post", "Mijn post | hallo")
    assert "needs the moderator role" in inbound.told("anna")[-1]

    post = await _published(inbound, "Dagstart | Koffie staat klaar | cta: like")
    assert post.title == "Dagstart" and post.author == "console:mod"
    assert await inbound.deliveries(post.id) == {"console": ("sent", None), "other": ("sent", None)}


# -- engagement -----------------------------------------------------------------------------------


async def test_presses_reactions_and_replies_on_a_sent_message_are_counted(inbound: Inbound) -> None:
    post = await _published(inbound, "Lees dit | Belangrijk | cta: acknowledge")
    message = _message_of(inbound, post)
    answers: list[str] = []

    async def answer(text: str) -> None:
        answers.append(text)

    await inbound.router(ActionPressed(inbound.next_id(), ANNA, message, "ack", answer=answer))
    assert answers == [f"✅ thanks, #{post.id} is marked as read"]
    await inbound.router(ReactionAdded(inbound.next_id(), BRAM, message, "👍"))
    await inbound.router(ReplyPosted(inbound.next_id(), BRAM, message, "Gelezen, dank"))
    assert await inbound.counts(post.id) == {"ack": 1, "like": 1, "reply": 1}

    await inbound.router(ReactionRemoved(inbound.next_id(), BRAM, message, "👍"))
    assert await inbound.counts(post.id) == {"ack": 1, "reply": 1}

    replayed = ActionPressed("evt-replayed", BRAM, message, "ack", answer=answer)
    await inbound.router(replayed)
    await inbound.router(replayed)  # the same platform event again
    assert answers[-1] == f"already counted (#{post.id})"
    assert await inbound.counts(post.id) == {"ack": 2, "reply": 1}


# -- membership -----------------------------------------------------------------------------------


async def test_the_bot_removed_from_a_chat_disables_its_channel_and_fails_what_waits_for_it(inbound: Inbound) -> None:
    sent = await _published(inbound, "Al verstuurd | x | cta: like")
    waiting = await inbound.waiting_post()

    removed = ChannelMembershipChanged(inbound.next_id(), ANNA, MAIN, joined=False, reason="kicked by Anna")
    await inbound.router(removed)

    channel = await inbound.channel("console")
    assert not channel.enabled and channel.disabled_reason == "kicked by Anna"
    assert (await inbound.channel("other")).enabled
    assert await inbound.deliveries(waiting) == {
        "console": ("failed", "channel disabled: kicked by Anna"),
        "other": ("pending", None),  # the other chat still gets it
    }
    assert await inbound.deliveries(sent.id) == {"console": ("sent", None), "other": ("sent", None)}
    async with inbound.app.store.sessions() as session:
        latest = (await posts.audit_entries(session, 1))[0]
    assert (latest.actor, latest.action) == ("console:anna", "channel_disabled")
    assert latest.detail == {"channel": "console", "reason": "kicked by Anna"}
    assert inbound.told("mod")[-1] == "⚠ the bot was removed from console; the channel is disabled"


async def test_removal_without_a_reason_says_the_bot_was_removed(inbound: Inbound) -> None:
    await inbound.router(ChannelMembershipChanged(inbound.next_id(), ANNA, OTHER, joined=False))
    assert (await inbound.channel("other")).disabled_reason == "the bot was removed from the chat"
    assert (await inbound.channel("console")).enabled


async def test_joining_tells_the_moderators_and_names_an_unconfigured_chat(inbound: Inbound) -> None:
    await inbound.router(ChannelMembershipChanged(inbound.next_id(), ANNA, OTHER, joined=True))
    assert inbound.told("mod")[-1] == "⚠ the bot was added to other."
    stranger = ChatRef("console", "nieuw")
    await inbound.router(ChannelMembershipChanged(inbound.next_id(), ANNA, stranger, joined=True))
    assert inbound.told("mod")[-1] == (
        "⚠ the bot was added to console chat nieuw. It is not configured as a channel yet: add it under [[channels]]."
    )
    async with inbound.app.store.sessions() as session:
        assert [c.name for c in await posts.all_channels(session)] == ["console", "other"]  # nothing made up
        assert await posts.audit_entries(session) == []


async def test_removal_from_an_unknown_chat_disables_nothing(inbound: Inbound) -> None:
    await inbound.router(ChannelMembershipChanged(inbound.next_id(), ANNA, ChatRef("console", "x"), joined=False))
    assert (await inbound.channel("console")).enabled and (await inbound.channel("other")).enabled
    assert inbound.told("mod")[-1] == "⚠ the bot was removed from console chat x; the channel is disabled"
    async with inbound.app.store.sessions() as session:
        assert await posts.audit_entries(session) == []


# -- migration ------------------------------------------------------------------------------------


async def test_a_chat_that_moved_takes_its_channel_along(inbound: Inbound) -> None:
    await inbound.router(ChannelMigrated(inbound.next_id(), ANNA, OTHER, "other-2"))
    channel = await inbound.channel("other")
    assert channel.chat_id == "other-2" and channel.enabled
    async with inbound.app.store.sessions() as session:
        assert await posts.channel_by_chat(session, "console", "other") is None
        latest = (await posts.audit_entries(session, 1))[0]
    assert (latest.actor, latest.action) == ("prikbord", "channel_migrated")
    assert latest.detail == {"channel": "other", "old": "other", "new": "other-2"}
    assert inbound.told("mod")[-1] == "⚠ other moved to chat id other-2: update chat_id in the config to keep it"

    post = await _published(inbound, "Na de verhuizing | x | cta: like")
    assert await inbound.deliveries(post.id) == {"console": ("sent", None), "other": ("sent", None)}


async def test_a_move_of_an_unknown_chat_changes_nothing(inbound: Inbound) -> None:
    await inbound.router(ChannelMigrated(inbound.next_id(), ANNA, ChatRef("console", "x"), "y"))
    async with inbound.app.store.sessions() as session:
        assert [(c.name, c.chat_id) for c in await posts.all_channels(session)] == [
            ("console", "console"),
            ("other", "other"),
        ]
        assert await posts.audit_entries(session) == []
    assert not any("moved" in text for text in inbound.told("mod"))
