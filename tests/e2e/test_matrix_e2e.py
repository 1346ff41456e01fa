"""Matrix end to end: the whole App (store, publishing, dispatcher, engagement, counters, commands) with its
Matrix adapter logged in to a real Synapse (the session's ``synapse`` fixture, and ``synapse_low_rate`` for
429s). Employees act through their own matrix-nio clients; what they see is read back from Synapse, what was
counted from the store. Every test runs on SQLite and PostgreSQL (the ``store`` fixture).
"""

from __future__ import annotations

import asyncio
import io
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import pytest
from rich.console import Console
from sqlalchemy import select, update

from adapters.base import ChatRef, MessageRef, OutboundMessage, RateLimited, ReactionAdded
from adapters.console.adapter import ConsoleAdapter
from adapters.matrix.translate import reaction_content
from bot.app import App
from bot.clock import SystemClock
from bot.services.drafts import CallToAction, PostDraft
from bot.services.roles import Role
from bot.services.stats import post_stats
from content import posts
from content.db import Store
from content.models import AdapterState, Channel, CtaKind, Delivery, DeliveryState, Post, ProcessedEvent, Response
from content.responses import Outcome
from tests.adapters.harnesses.matrix import Person
from tests.e2e.matrix_bridge import (
    BOT,
    MODERATOR,
    OWNER,
    EngagementRecorder,
    matrix_settings,
    new_room,
    posts_in_room,
    room_channel,
    room_events,
    wait_for,
)
from tests.matrix_server import Login, SynapseServer

PEOPLE = ("anna", "bram", "carla", "dirk", "erik")
MOD_KEY = f"matrix:@{MODERATOR}:localhost"
POLL = CallToAction(CtaKind.POLL, ("Pizza", "Sushi", "Salade"))


@dataclass
class World:
    """One test's Matrix world: the bot's login (a fresh device), the room owner, people, running Apps."""

    server: SynapseServer
    bot: Login
    owner: Person
    people: dict[str, Person] = field(default_factory=dict)
    running: list[App] = field(default_factory=list)

    async def person(self, name: str) -> Person:
        if name not in self.people:
            self.people[name] = await Person.create(self.server, name)
        return self.people[name]

    async def room(self) -> str:
        return await new_room(self.owner, [self.bot.user_id])

    def app(
        self,
        store: Store,
        channels: list[dict[str, Any]],
        *,
        moderators: tuple[str, ...] = (MOD_KEY,),
        console: io.StringIO | None = None,
    ) -> App:
        settings = matrix_settings(self.server, self.bot, channels, moderators=moderators, console=console is not None)
        return App(
            settings,
            clock=SystemClock(),
            store=store,
            console_output=Console(file=console or io.StringIO(), width=120),
            counter_debounce=0.0,
        )

    async def start(self, app: App) -> App:
        await app.start()
        self.running.append(app)
        return app

    async def stop(self, app: App) -> None:
        self.running.remove(app)
        await app.stop()

    async def close(self) -> None:
        for app in reversed(self.running):
            await app.stop()
        for person in [self.owner, *self.people.values()]:
            await person.close()


async def _world(server: SynapseServer, bot_name: str = BOT) -> World:
    await asyncio.to_thread(server.register, bot_name, OWNER, MODERATOR, *PEOPLE)
    # A fresh device per test: the store is fresh too, and Synapse caches a device's first /sync for a while.
    bot = await asyncio.to_thread(server.login, bot_name, True)
    return World(server, bot, await Person.create(server, OWNER))


@pytest.fixture
async def world(synapse: SynapseServer) -> AsyncIterator[World]:
    made = await _world(synapse)
    try:
        yield made
    finally:
        await made.close()


@pytest.fixture
async def low_rate_world(synapse_low_rate: SynapseServer) -> AsyncIterator[World]:
    # A bot account of its own per test: rc_message counts per user, so each test starts with a full burst.
    made = await _world(synapse_low_rate, f"{BOT}-{uuid.uuid4().hex[:8]}")
    try:
        yield made
    finally:
        await made.close()


# ---------------------------------------------------------------------------------------------
# helpers


async def publish(app: App, title: str, body: str = "", cta: CallToAction | None = None, to: str = "everyone") -> int:
    draft = PostDraft(title=title, body=body, cta=cta or CallToAction(CtaKind.LIKE), audience=(to,))
    post = await app.publishing.create(draft, MOD_KEY, Role.MODERATOR)
    return post.id


async def stats(app: App, post_id: int) -> dict[str, Any]:
    async with app.store.sessions() as session:
        post = await posts.get_post(session, post_id)
        assert post is not None
        return (await post_stats(session, [post]))[0]


async def sent_events(app: App, post_id: int) -> dict[str, str]:
    """chat id → platform message id of the post's sent deliveries."""
    async with app.store.sessions() as session:
        rows = await session.execute(
            select(Channel.chat_id, Delivery.platform_message_id)
            .join(Channel, Channel.id == Delivery.channel_id)
            .where(Delivery.post_id == post_id, Delivery.state == DeliveryState.SENT)
        )
        return {chat: str(message) for chat, message in rows.all()}


async def count_of(app: App, post_id: int, kind: str, expected: int) -> bool:
    counts: dict[str, int] = (await stats(app, post_id))["counts"]
    return counts.get(kind, 0) == expected


async def bot_notices(person: Person, room_id: str, bot_user_id: str) -> list[str]:
    return [
        e["content"]["body"]
        for e in await room_events(person, room_id)
        if e.get("sender") == bot_user_id and e.get("content", {}).get("msgtype") == "m.notice"
    ]


async def stored_posts(app: App) -> list[Post]:
    async with app.store.sessions() as session:
        return await posts.recent_posts(session)


# ---------------------------------------------------------------------------------------------
# Outbound


async def test_acknowledge_and_poll_posts_appear_formatted_in_their_rooms(store: Store, world: World) -> None:
    rooms = [await world.room(), await world.room()]
    app = await world.start(world.app(store, [room_channel(f"room-{n}", r) for n, r in enumerate(rooms)]))
    must_read = await publish(
        app,
        "Nieuwe verlofregeling",
        "Vanaf **januari** geldt de nieuwe regeling. <script>x</script>",
        CallToAction(CtaKind.ACKNOWLEDGE),
    )
    poll = await publish(app, "Lunch vrijdag", "Wat eten we?", POLL)
    await app.settle()
    anna = await world.person("anna")
    for post_id in (must_read, poll):
        assert set(await sent_events(app, post_id)) == set(rooms)
    for room in rooms:
        shown = {e["event_id"]: e["content"] for e in await posts_in_room(anna, room, world.bot.user_id)}
        expected = [(await sent_events(app, p))[room] for p in (must_read, poll)]
        assert sorted(shown) == sorted(expected)  # each post once (sent concurrently, so in either order)
        first, second = (shown[event_id] for event_id in expected)
        for content in (first, second):
            assert content["format"] == "org.matrix.custom.html" and content["msgtype"] == "m.text"
            assert "<p>" not in content["body"] and "<strong>" not in content["body"]  # plain fallback
        assert first["formatted_body"].startswith("<p><strong>Nieuwe verlofregeling</strong></p>")
        assert "<strong>januari</strong>" in first["formatted_body"]
        assert "<script>" not in first["formatted_body"] and "&lt;script&gt;" in first["formatted_body"]
        assert f"#{must_read} · must read" in first["body"]
        assert "React with: ✅ Read (0)" in first["body"] and "React with: ✅ Read (0)" in first["formatted_body"]
        assert second["formatted_body"].startswith("<p><strong>Lunch vrijdag</strong></p><p>Wat eten we?</p>")
        keys = "React with: 1️⃣ Pizza (0) · 2️⃣ Sushi (0) · 3️⃣ Salade (0)"
        assert keys in second["body"] and keys in second["formatted_body"]


# ---------------------------------------------------------------------------------------------
# Inbound


async def test_like_counts_once_and_redacting_it_removes_it(store: Store, world: World) -> None:
    room = await world.room()
    app = world.app(store, [room_channel("kantoor", room)])
    recorder = EngagementRecorder().attach(app)
    await world.start(app)
    post_id = await publish(app, "Lunch vrijdag", "Wat eten we?", POLL)
    await app.settle()
    message = (await sent_events(app, post_id))[room]
    anna, bram = await world.person("anna"), await world.person("bram")

    like = await anna.react(room, message, "👍")
    await wait_for(lambda: count_of(app, post_id, "like", 1), "anna's 👍 counted as a like")
    # A second identical reaction: Synapse refuses it outright …
    again = await anna.client.room_send(room, "m.reaction", reaction_content(message, "👍"))
    assert getattr(again, "status_code", None) == "M_DUPLICATE_ANNOTATION"
    # … and the same reaction event delivered twice (a replayed sync) counts once.
    [first] = recorder.of(like)
    assert isinstance(first.event, ReactionAdded) and first.result.outcome == Outcome.COUNTED
    assert (await app.engagement.handle_event(first.event)).outcome == Outcome.DUPLICATE_EVENT
    await bram.react(room, message, "👍")
    await wait_for(lambda: count_of(app, post_id, "like", 2), "bram's 👍 counted")
    assert (await stats(app, post_id))["counts"] == {"like": 2}

    await anna.redact(room, like)
    await wait_for(lambda: count_of(app, post_id, "like", 1), "anna's like removed by the redaction")
    async with store.sessions() as session:
        likers = (await session.execute(select(Response.identity_id).where(Response.post_id == post_id))).all()
    assert len(likers) == 1
    # The counter on the message follows (an m.replace edit): the like count is shown in the context line.
    await app.settle()
    shown = await wait_for(
        lambda: _visible_if(anna, room, message, f"#{post_id} · poll · 👍 1"), "the edited counter shows 👍 1"
    )
    assert "React with: 1️⃣ Pizza (0)" in shown


async def _visible_if(person: Person, room: str, event_id: str, needle: str) -> str | None:
    content = await person.visible_content(room, event_id)
    body = str((content or {}).get("body", ""))
    return body if needle in body else None


async def test_check_mark_acknowledges_a_must_read(store: Store, world: World) -> None:
    room = await world.room()
    app = await world.start(world.app(store, [room_channel("kantoor", room)]))
    post_id = await publish(app, "Nieuwe verlofregeling", "Lees dit.", CallToAction(CtaKind.ACKNOWLEDGE))
    await app.settle()
    message = (await sent_events(app, post_id))[room]
    anna, bram = await world.person("anna"), await world.person("bram")
    await anna.react(room, message, "✅")
    await bram.react(room, message, "✅")
    await wait_for(lambda: count_of(app, post_id, "ack", 2), "both ✅ counted as acknowledgements")
    await bram.react(room, message, "🎉")  # any other reaction on a post is a like
    await wait_for(lambda: count_of(app, post_id, "like", 1), "🎉 counted as a like")
    assert (await stats(app, post_id))["counts"] == {"ack": 2, "like": 1}
    await app.settle()
    await wait_for(lambda: _visible_if(anna, room, message, "✅ Read (2)"), "the edited counter shows ✅ Read (2)")


async def test_a_reply_and_a_thread_message_are_stored(store: Store, world: World) -> None:
    room = await world.room()
    app = await world.start(world.app(store, [room_channel("kantoor", room)]))
    post_id = await publish(app, "Open dag", "Wie helpt mee?", CallToAction(CtaKind.REPLY))
    await app.settle()
    message = (await sent_events(app, post_id))[room]
    carla = await world.person("carla")
    await carla.say(room, f"> <{world.bot.user_id}> Open dag\n\nIk kom!", **{"m.in_reply_to": {"event_id": message}})
    await carla.say(room, "Ik neem taart mee", rel_type="m.thread", event_id=message)
    await carla.say(room, "gewoon een praatje")  # not about a post: nothing is stored

    async def replies() -> list[tuple[str, str | None, int | None]] | None:
        async with store.sessions() as session:
            rows = await session.execute(select(Response.kind, Response.text, Response.delivery_id))
            found = sorted((kind, text, delivery) for kind, text, delivery in rows.all())
        return found if len(found) >= 2 else None

    stored = await wait_for(replies, "the reply and the thread message stored")
    async with store.sessions() as session:
        [delivery] = await posts.deliveries_of(session, post_id)
    assert stored == [("reply", "Ik kom!", delivery.id), ("reply", "Ik neem taart mee", delivery.id)]
    assert (await stats(app, post_id))["counts"] == {"reply": 1}  # counts are people: carla replied


# ---------------------------------------------------------------------------------------------
# Commands


async def test_a_moderators_post_command_reaches_every_tagged_channel_on_every_platform(
    store: Store, world: World
) -> None:
    kantoor, lager, finance = await world.room(), await world.room(), await world.room()
    console_out = io.StringIO()
    channels = [
        room_channel("kantoor", kantoor, "everyone", "nl"),
        room_channel("lager", lager, "everyone", "nl"),
        room_channel("finance", finance, "en"),
        {"name": "console", "platform": "console", "chat_id": "console", "tags": ["nl"]},
    ]
    app = await world.start(world.app(store, channels, console=console_out))
    mod = await world.person(MODERATOR)
    await mod.say(
        kantoor, "!post Nieuwe regeling | Vanaf januari geldt de nieuwe regeling. | cta: acknowledge | to: nl"
    )
    answer = await wait_for(
        lambda: bot_notices(mod, kantoor, world.bot.user_id), "the bot answers the moderator with an m.notice"
    )
    assert answer == ["#1 is published"]
    await app.settle()
    sent = await sent_events(app, 1)
    assert set(sent) == {kantoor, lager, "console"}  # every channel tagged nl, on both platforms
    for room in (kantoor, lager):
        [shown] = await posts_in_room(mod, room, world.bot.user_id)
        assert shown["event_id"] == sent[room] and "Nieuwe regeling" in shown["content"]["body"]
    assert await posts_in_room(mod, finance, world.bot.user_id) == []
    console = app.adapters["console"]
    assert isinstance(console, ConsoleAdapter) and "Nieuwe regeling" in console.messages[sent["console"]]
    assert "Nieuwe regeling" in console_out.getvalue()
    assert (await stats(app, 1))["deliveries"] == {"sent": 3}


async def test_a_non_moderator_is_refused(store: Store, world: World) -> None:
    room = await world.room()
    console_out = io.StringIO()
    app = await world.start(world.app(store, [room_channel("kantoor", room)], console=console_out))
    anna = await world.person("anna")
    await anna.say(room, "!post Mijn post | hallo allemaal | cta: like")
    [answer] = await wait_for(lambda: bot_notices(anna, room, world.bot.user_id), "the bot answers the refusal")
    assert answer.startswith("not allowed: posting needs the moderator role")
    await app.settle()
    assert await stored_posts(app) == []
    assert await posts_in_room(anna, room, world.bot.user_id) == []
    console = app.adapters["console"]
    assert isinstance(console, ConsoleAdapter) and console.messages == {}


# ---------------------------------------------------------------------------------------------
# Restarts and crashes


async def test_restart_mid_stream_neither_counts_twice_nor_misses(store: Store, world: World) -> None:
    room = await world.room()
    channels = [room_channel("kantoor", room)]
    first = world.app(store, channels)
    before = EngagementRecorder().attach(first)
    await world.start(first)
    must_read = await publish(first, "Lees dit", "Belangrijk.", CallToAction(CtaKind.ACKNOWLEDGE))
    poll = await publish(first, "Lunch vrijdag", "Wat eten we?", POLL)
    await first.settle()
    m_read, m_poll = (await sent_events(first, must_read))[room], (await sent_events(first, poll))[room]
    people = {name: await world.person(name) for name in PEOPLE}
    for person in people.values():
        await person.join(room)
    sent: list[str] = []  # every event the bridge must store, in order

    async def act(name: str, target: str, key: str) -> str:
        event_id = await people[name].react(room, target, key)
        sent.append(event_id)
        return event_id

    anna_like = await act("anna", m_poll, "👍")
    await act("anna", m_read, "✅")
    await act("bram", m_poll, "1️⃣")
    await wait_for(lambda: _all_handled(sent, before), lambda: _diagnosis("before the restart", sent, before))

    # Mid-stream: the bridge shuts down while people keep reacting, and stays down for a while.
    stopping = asyncio.create_task(world.stop(first))
    await act("carla", m_poll, "2️⃣")
    await act("dirk", m_read, "✅")
    await stopping
    await act("bram", m_poll, "3️⃣")  # bram changes his vote while the bridge is down
    await act("erik", m_poll, "🎉")
    await people["anna"].redact(room, anna_like)
    reply = await people["carla"].say(room, "Sushi graag", **{"m.in_reply_to": {"event_id": m_poll}})
    sent.append(reply)
    down_since = len(sent)

    second = world.app(store, channels)
    after = EngagementRecorder().attach(second)
    await world.start(second)
    await act("dirk", m_poll, "1️⃣")
    await act("erik", m_read, "✅")
    await wait_for(
        lambda: _all_handled(sent, before, after, extra=1),
        lambda: _diagnosis("after the restart (+1 redaction)", sent, before, after),
    )
    await asyncio.sleep(0.3)  # a replay would arrive now
    await second.settle()

    assert set(before.event_ids).isdisjoint(after.event_ids), "the restarted bridge replayed events"
    handled = before.event_ids + after.event_ids
    redaction = [e for e in handled if e not in sent]
    assert len(redaction) == 1 and sorted(handled) == sorted([*sent, *redaction]), "an event was missed or doubled"
    assert all(h.result.outcome != Outcome.DUPLICATE_EVENT for h in before.handled + after.handled)
    assert sent[down_since - 1] in after.event_ids  # events sent while it was down came in after the restart
    async with store.sessions() as session:
        processed = set((await session.execute(select(ProcessedEvent.event_id))).scalars())
    assert processed == set(handled)
    assert (await stats(second, must_read))["counts"] == {"ack": 3}
    poll_stats = await stats(second, poll)
    assert poll_stats["counts"] == {"like": 1, "reply": 1, "vote": 3}  # erik's 🎉; anna's 👍 was redacted
    assert poll_stats["votes"] == {"Pizza": 1, "Sushi": 1, "Salade": 1}  # dirk, carla, bram (changed)


async def _all_handled(sent: list[str], *recorders: EngagementRecorder, extra: int = 0) -> bool:
    """Whether every id in ``sent`` (and ``extra`` more, e.g. redactions) has been stored."""
    done = {i for r in recorders for i in r.event_ids}
    return set(sent) <= done and len(done) >= len(set(sent)) + extra


def _diagnosis(when: str, sent: list[str], *recorders: EngagementRecorder) -> str:
    seen = [r.event_ids for r in recorders]
    missing = set(sent) - {i for ids in seen for i in ids}
    return f"every event stored {when}: sent {sent}, stored per App {seen}, missing {sorted(missing)}"


async def test_a_delivery_interrupted_after_its_send_and_retried_leaves_one_event(store: Store, world: World) -> None:
    lost, known, again = await world.room(), await world.room(), await world.room()
    channels = [room_channel("lost", lost), room_channel("known", known), room_channel("again", again)]
    first = await world.start(world.app(store, channels))
    post_id = await publish(first, "Dagstart", "Koffie staat klaar.")
    await first.settle()
    original = await sent_events(first, post_id)
    assert set(original) == {lost, known, again}
    await world.stop(first)

    # The crash, written into the store as a crashed process leaves it:
    # lost  — sent, but the process died before the answer: `sending` with an expired lease, and the
    #         adapter's record of the transaction without an event id;
    # known — the same, but the adapter had recorded the event id before the outbox row was updated;
    # again — put back to pending although it was sent (an operator's retry).
    now = SystemClock().now()
    async with store.transaction() as session:
        rows = await session.execute(
            select(Delivery, Channel.chat_id)
            .join(Channel, Channel.id == Delivery.channel_id)
            .where(Delivery.post_id == post_id)
        )
        by_room = {chat: delivery for delivery, chat in rows.all()}
        for room in (lost, known):
            delivery = by_room[room]
            delivery.state, delivery.claimed_by = DeliveryState.SENDING, "prikbord-crashed"
            delivery.lease_until = now - timedelta(minutes=1)
        by_room[again].state, by_room[again].next_attempt_at = DeliveryState.PENDING, now
        await session.execute(
            update(Delivery).where(Delivery.post_id == post_id).values(platform_message_id=None, sent_at=None)
        )
        record = await session.get(AdapterState, f"matrix:{world.bot.user_id}:txn:{lost}:prikbord-d{by_room[lost].id}")
        assert record is not None and json.loads(record.value)["event_id"] == original[lost]
        record.value = json.dumps({**json.loads(record.value), "event_id": None})

    second = world.app(store, channels)
    resent: list[tuple[str, str | None]] = []
    adapter = second.adapters["matrix"]
    send = adapter.send

    async def recording_send(chat: ChatRef, message: OutboundMessage) -> MessageRef:
        resent.append((chat.chat_id, message.idempotency_key))
        return await send(chat, message)

    adapter.send = recording_send  # type: ignore[method-assign]
    await world.start(second)  # Dispatcher.reconcile runs first, then the resend
    await second.settle()

    assert sorted(resent) == sorted(
        [(lost, f"prikbord-d{by_room[lost].id}"), (again, f"prikbord-d{by_room[again].id}")]
    )
    assert await sent_events(second, post_id) == original  # Synapse answered the resend with the same event
    owner = world.owner
    for room in (lost, known, again):
        assert [e["event_id"] for e in await posts_in_room(owner, room, world.bot.user_id)] == [original[room]]


async def test_with_a_low_rc_message_every_post_still_arrives(store: Store, low_rate_world: World) -> None:
    world = low_rate_world
    room = await world.room()
    app = world.app(store, [room_channel("kantoor", room)], moderators=())
    adapter = app.adapters["matrix"]
    send = adapter.send
    limited: list[RateLimited] = []

    async def recording_send(chat: ChatRef, message: OutboundMessage) -> MessageRef:
        try:
            return await send(chat, message)
        except RateLimited as exc:
            limited.append(exc)
            raise

    adapter.send = recording_send  # type: ignore[method-assign]
    await world.start(app)
    ids = [await publish(app, f"Bericht {n}", "Een van meerdere berichten achter elkaar.") for n in range(1, 5)]
    # An invite while the bot's budget is spent: its join (a membership event, counted by rc_message too) is
    # refused at first and must be asked again, since later syncs do not repeat the invite.
    later = await world.room()

    async def all_sent() -> bool:
        # A send refused more often than the dispatcher retries in process goes back to the outbox with the
        # server's retry-after (settle() does not wait for those), so wait for the store to say "sent".
        async with store.sessions() as session:
            states = (await session.execute(select(Delivery.state))).scalars().all()
        return sorted(states) == [DeliveryState.SENT] * len(ids)

    await wait_for(all_sent, "every post delivered despite the 429s", timeout=60)
    assert limited, "the low rc_message should have refused some sends with M_LIMIT_EXCEEDED"
    assert all(0 < exc.retry_after <= 10 for exc in limited)
    events = {post_id: (await sent_events(app, post_id))[room] for post_id in ids}
    shown = await posts_in_room(world.owner, room, world.bot.user_id)
    assert sorted(e["event_id"] for e in shown) == sorted(events.values())  # each post exactly once
    titles = sorted(e["content"]["body"].split("\n")[0] for e in shown)
    assert titles == [f"Bericht {n}" for n in range(1, 5)]

    async def joined() -> bool:
        path = f"/_matrix/client/v3/rooms/{quote(later)}/state/m.room.member/{quote(world.bot.user_id)}"
        return (await world.owner.api("GET", path)).get("membership") == "join"

    await wait_for(joined, "the bot joined the room it was invited to while rate limited", timeout=40)
