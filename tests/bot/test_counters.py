"""bot/services/counters.py: the counters on posted messages follow the store, debounced per post.

A :class:`CounterRefresher` of its own, on a recording adapter (an ``adapters.base.Adapter`` that keeps
every message as sent or last edited), over the store of a running App that published the posts and
counted the presses (SQLite and PostgreSQL, the ``store`` fixture). The App's own refresher waits an hour,
so every edit seen here is this refresher's.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from rich.console import Console
from sqlalchemy import select, update

from adapters.base import (
    ActionPressed,
    Adapter,
    ChatRef,
    CommandIssued,
    DeliveryError,
    EventSink,
    Limits,
    MessageRef,
    OutboundMessage,
    RateLimited,
    TransientError,
    UserRef,
)
from bot.app import App
from bot.clock import FrozenClock
from bot.services.counters import CounterRefresher
from content import posts
from content.db import Store
from content.models import Channel, Delivery, DeliveryState, Post, PostState
from tests.conftest import console_settings

DEBOUNCE = 0.2

MOD = UserRef("console", "mod", "Mod")
KANTOOR, LAGER = ChatRef("console", "kantoor"), ChatRef("console", "lager")


@dataclass
class RecordingAdapter(Adapter):
    """Keeps what each message shows; ``failures[message id]`` are raised by the next edits of it."""

    platform = "console"
    limits = Limits(text_length=20_000, edit_interval=0.0)
    shown: dict[MessageRef, OutboundMessage] = field(default_factory=dict)
    edits: list[MessageRef] = field(default_factory=list)  # every edit attempt, in order
    deleted: list[MessageRef] = field(default_factory=list)
    failures: dict[str, list[DeliveryError]] = field(default_factory=dict)
    private: list[tuple[str, str]] = field(default_factory=list)
    sent: int = 0
    hold: asyncio.Event | None = None  # while set to an unset event, edits wait for it (a slow platform)

    async def start(self, sink: EventSink) -> None:
        self.sink = sink

    async def stop(self) -> None:
        return None

    async def send(self, chat: ChatRef, message: OutboundMessage) -> MessageRef:
        self.sent += 1
        ref = MessageRef(chat, f"m{self.sent}")
        self.shown[ref] = message
        return ref

    async def edit(self, ref: MessageRef, message: OutboundMessage) -> None:
        self.edits.append(ref)
        if self.hold is not None:
            await self.hold.wait()
        pending = self.failures.get(ref.message_id)
        if pending:
            raise pending.pop(0)
        self.shown[ref] = message

    async def delete(self, ref: MessageRef) -> None:
        self.deleted.append(ref)
        self.shown.pop(ref, None)

    async def reply(self, command: CommandIssued, text: str, private: bool = True) -> None:
        self.private.append((command.user.user_id, text))

    async def send_private(self, user: UserRef, text: str) -> bool:
        self.private.append((user.user_id, text))
        return True


def read_count(message: OutboundMessage) -> int | None:
    """The count on the "✅ Read" button of a must-read."""
    return next(a.count for a in message.actions if a.action_id == "ack")


@dataclass
class Counters:
    app: App
    adapter: RecordingAdapter
    refresher: CounterRefresher
    presses: int = 0

    async def must_read(self, title: str = "Lees dit") -> tuple[Post, dict[ChatRef, MessageRef]]:
        """A published must-read in both chats → the post and its message in each chat."""
        command = CommandIssued(f"c-{title}", MOD, KANTOOR, "post", f"{title} | Belangrijk | cta: acknowledge")
        await self.app.inbound(command)
        await self.app.settle()
        async with self.app.store.sessions() as session:
            post = (await posts.recent_posts(session, 1))[0]
            sent = await posts.sent_messages(session, [post.id])
        assert post.title == title
        return post, {
            ChatRef(s.platform, s.chat_id): MessageRef(ChatRef(s.platform, s.chat_id), s.message_id) for s in sent
        }

    async def acknowledge(self, message: MessageRef, *people: str) -> None:
        for person in people:
            self.presses += 1
            await self.app.inbound(
                ActionPressed(f"p{self.presses}", UserRef("console", person, person), message, "ack")
            )

    def edits_of(self, ref: MessageRef) -> int:
        return self.adapter.edits.count(ref)

    async def until(self, condition: Callable[[], bool], what: str) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 15 * DEBOUNCE + 2
        while not condition():
            assert loop.time() < deadline, f"timed out waiting until {what}"
            await asyncio.sleep(DEBOUNCE / 10)

    async def quiet_for(self, windows: float = 3) -> None:
        """Let ``windows`` debounce windows pass (to show that nothing more happens)."""
        await asyncio.sleep(windows * DEBOUNCE)


@pytest.fixture
async def counters(store: Store, clock: FrozenClock) -> AsyncIterator[Counters]:
    adapter = RecordingAdapter()
    channels = [
        {"name": "kantoor", "platform": "console", "chat_id": "kantoor", "tags": ["everyone"]},
        {"name": "lager", "platform": "console", "chat_id": "lager", "tags": ["everyone"]},
        {"name": "finance", "platform": "console", "chat_id": "finance", "tags": ["finance"]},
    ]
    app = App(
        console_settings(channels=channels),
        clock=clock,
        store=store,
        adapters={"console": adapter},
        console_output=Console(file=io.StringIO()),
        counter_debounce=3600.0,
    )
    await app.start()
    refresher = CounterRefresher(app.store, app.adapters, app.composer, DEBOUNCE)
    try:
        yield Counters(app, adapter, refresher)
    finally:
        await refresher.stop()
        await app.stop()


async def test_a_burst_of_touches_becomes_one_edit_per_message_after_the_window(counters: Counters) -> None:
    post, messages = await counters.must_read()
    await counters.acknowledge(messages[KANTOOR], "anna", "bram", "carla")
    for _ in range(5):
        counters.refresher.touch({post.id})
    await asyncio.sleep(0)
    assert counters.adapter.edits == []  # nothing before the window has passed

    await counters.until(lambda: len(counters.adapter.edits) == 2, "both messages are edited")
    await counters.quiet_for()
    assert {ref: counters.edits_of(ref) for ref in messages.values()} == {messages[KANTOOR]: 1, messages[LAGER]: 1}
    assert [read_count(counters.adapter.shown[ref]) for ref in messages.values()] == [3, 3]


async def test_touches_after_a_refresh_start_another_window(counters: Counters) -> None:
    post, messages = await counters.must_read()
    await counters.acknowledge(messages[KANTOOR], "anna")
    counters.refresher.touch({post.id})
    await counters.until(lambda: counters.edits_of(messages[LAGER]) == 1, "the first refresh")
    await counters.acknowledge(messages[LAGER], "bram")
    counters.refresher.touch({post.id})
    await counters.until(lambda: counters.edits_of(messages[LAGER]) == 2, "the second refresh")
    assert read_count(counters.adapter.shown[messages[KANTOOR]]) == 2


async def test_presses_counted_while_a_refresh_is_under_way_are_shown_too(counters: Counters) -> None:
    post, messages = await counters.must_read()
    counters.adapter.hold = asyncio.Event()
    await counters.acknowledge(messages[KANTOOR], "anna")
    counters.refresher.touch({post.id})
    await counters.until(lambda: len(counters.adapter.edits) == 1, "the refresh is under way")
    await counters.acknowledge(messages[KANTOOR], "bram")  # counted while the platform is slow
    counters.refresher.touch({post.id})
    counters.adapter.hold.set()
    await counters.until(
        lambda: all(read_count(counters.adapter.shown[ref]) == 2 for ref in messages.values()),
        "both messages show the second acknowledgement",
    )


async def test_only_sent_copies_are_edited(counters: Counters) -> None:
    post, messages = await counters.must_read()
    async with counters.app.store.transaction() as session:  # a copy to finance still waiting to be sent
        finance = (await session.execute(select(Channel).where(Channel.name == "finance"))).scalar_one()
        now = counters.app.clock.now()
        session.add(
            Delivery(
                post_id=post.id,
                channel_id=finance.id,
                platform="console",
                state=DeliveryState.PENDING,
                next_attempt_at=now + timedelta(hours=1),
            )
        )
    await counters.acknowledge(messages[KANTOOR], "anna")
    await counters.refresher.flush()  # nothing dirty yet: flush alone edits nothing
    assert counters.adapter.edits == []
    counters.refresher.touch({post.id})
    await counters.refresher.flush()
    assert sorted(r.chat.chat_id for r in counters.adapter.edits) == ["kantoor", "lager"]


async def test_a_rate_limited_edit_is_tried_again_after_the_window(counters: Counters) -> None:
    post, messages = await counters.must_read()
    counters.adapter.failures[messages[LAGER].message_id] = [RateLimited(0.1)]
    await counters.acknowledge(messages[LAGER], "anna", "bram")
    counters.refresher.touch({post.id})
    await counters.until(lambda: counters.edits_of(messages[LAGER]) == 2, "the rate-limited edit is retried")
    await counters.quiet_for()
    assert counters.edits_of(messages[LAGER]) == 2
    assert read_count(counters.adapter.shown[messages[LAGER]]) == 2
    assert read_count(counters.adapter.shown[messages[KANTOOR]]) == 2


async def test_an_edit_that_fails_otherwise_is_logged_and_not_retried(
    counters: Counters, caplog: pytest.LogCaptureFixture
) -> None:
    post, messages = await counters.must_read()
    counters.adapter.failures[messages[LAGER].message_id] = [TransientError("the chat is read-only")]
    await counters.acknowledge(messages[KANTOOR], "anna")
    counters.refresher.touch({post.id})
    await counters.until(lambda: counters.edits_of(messages[LAGER]) == 1, "the edits are tried")
    await counters.quiet_for()
    assert counters.edits_of(messages[LAGER]) == 1
    assert read_count(counters.adapter.shown[messages[KANTOOR]]) == 1  # the other message still got it
    assert read_count(counters.adapter.shown[messages[LAGER]]) == 0
    assert f"could not refresh counters of post #{post.id}" in caplog.text and "read-only" in caplog.text


async def test_a_disabled_channel_keeps_its_message_as_it_is(counters: Counters) -> None:
    post, messages = await counters.must_read()
    async with counters.app.store.transaction() as session:
        lager = (await session.execute(select(Channel).where(Channel.name == "lager"))).scalar_one()
        await posts.disable_channel(session, lager, "the bot was removed", "test", counters.app.clock.now())
    await counters.acknowledge(messages[KANTOOR], "anna")
    counters.refresher.touch({post.id})
    await counters.refresher.flush()
    assert counters.adapter.edits == [messages[KANTOOR]]


async def test_retracted_posts_are_not_edited_but_expired_ones_are(counters: Counters) -> None:
    retracted, retracted_messages = await counters.must_read("Ingetrokken")
    expired, expired_messages = await counters.must_read("Verlopen")
    await counters.acknowledge(retracted_messages[KANTOOR], "anna")
    await counters.acknowledge(expired_messages[KANTOOR], "anna")
    await counters.app.publishing.retract(retracted.id, "console:mod")
    async with counters.app.store.transaction() as session:
        await session.execute(update(Post).where(Post.id == expired.id).values(state=PostState.EXPIRED))
    counters.refresher.touch({retracted.id, expired.id})
    await counters.refresher.flush()
    assert sorted(counters.adapter.edits, key=lambda r: r.chat.chat_id) == [
        expired_messages[KANTOOR],
        expired_messages[LAGER],
    ]
    assert set(counters.adapter.deleted) == set(retracted_messages.values())  # the retract removed them


async def test_stopping_sends_the_refresh_still_waiting(counters: Counters) -> None:
    post, messages = await counters.must_read()
    await counters.acknowledge(messages[KANTOOR], "anna")
    refresher = CounterRefresher(counters.app.store, counters.app.adapters, counters.app.composer, 3600.0)
    refresher.touch({post.id})
    await asyncio.wait_for(refresher.stop(), 10)
    assert sorted(r.chat.chat_id for r in counters.adapter.edits) == ["kantoor", "lager"]
    assert [read_count(counters.adapter.shown[ref]) for ref in messages.values()] == [1, 1]
