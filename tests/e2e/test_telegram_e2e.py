"""Telegram end to end: the whole App (store, publishing, dispatcher, engagement, counters, commands) with the
real python-telegram-bot talking HTTP to the loopback Bot API peer. People act through the peer the way they
act in Telegram; what they see is read back from the peer, what was counted from the store.

Polling mode for the conversation; webhook mode behind the real web app (``bot.web.create_web_app`` served by
uvicorn on 127.0.0.1, port 0) for presses, the click redirect and the HTTP guard: a wrong or missing secret is
403, a malformed update 400, and neither stores anything. The flood test runs the peer's limits on the real clock.
Every test runs on SQLite and PostgreSQL (the ``store`` fixture); the peer must have seen no unknown parameter.
"""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from rich.console import Console
from sqlalchemy import func, select
from starlette.types import ASGIApp, Receive, Scope, Send

from adapters.console.adapter import ConsoleAdapter
from adapters.telegram.adapter import SECRET_HEADER, TelegramAdapter
from adapters.telegram.render import decode_callback_data
from bot.app import App
from bot.clock import FrozenClock
from bot.config import Settings
from bot.services.drafts import CallToAction, PostDraft
from bot.services.roles import Role
from bot.services.stats import post_stats
from bot.web import WebServer, create_web_app
from content import posts
from content.db import Store
from content.models import Channel, CtaKind, Delivery, Post, ProcessedEvent, Response, ResponseKind
from tests.peers.telegram import FloodLimits, PeerMessage, TelegramPeer

# PTB 22 warns while building RetryAfter that retry_after will become a timedelta; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning")

KANTOOR, LAGER, FINANCE = -1001000000001, -1001000000002, -1001000000003  # Telegram group chats
ANNA, BRAM, CARLA = 1101, 1102, 1103  # Anna moderates; Bram and Carla are employees
SECRET = "e2e-webhook_secret-42"
PUBLIC_URL = "https://prikbord.example"


def settings_for(peer: TelegramPeer, *, mode: str = "polling", public_url: str | None = PUBLIC_URL) -> Settings:
    """Two Telegram groups and the console share the tag ``kantoor``; a third group does not."""
    web: dict[str, object] = {"port": 8080, "public_url": public_url} if public_url else {}
    telegram: dict[str, object] = {"token": peer.token, "api_base_url": peer.api_base_url, "mode": mode}
    if mode == "webhook":
        telegram["webhook_secret"] = SECRET
    channels = [
        {"name": "kantoor", "platform": "telegram", "chat_id": str(KANTOOR), "tags": ["everyone", "kantoor"]},
        {"name": "lager", "platform": "telegram", "chat_id": str(LAGER), "tags": ["everyone", "kantoor"]},
        {"name": "finance", "platform": "telegram", "chat_id": str(FINANCE), "tags": ["finance"]},
        {"name": "console", "platform": "console", "chat_id": "console", "tags": ["everyone", "kantoor"]},
    ]
    return Settings.model_validate(
        {
            "timezone": "Europe/Amsterdam",
            "console": {"enabled": True},
            "telegram": telegram,
            "web": web,
            "channels": channels,
            "moderation": {"moderators": [f"telegram:{ANNA}", "console:mod"]},
        }
    )


@dataclass
class Harness:
    app: App
    peer: TelegramPeer
    output: io.StringIO

    @property
    def telegram(self) -> TelegramAdapter:
        adapter = self.app.adapters["telegram"]
        assert isinstance(adapter, TelegramAdapter)
        return adapter

    @property
    def console(self) -> ConsoleAdapter:
        adapter = self.app.adapters["console"]
        assert isinstance(adapter, ConsoleAdapter)
        return adapter

    async def moderator_posts(self, text: str) -> Post:
        """The console moderator posts (the line settles: published and sent everywhere)."""
        await self.console.feed(f"mod: /post {text}")
        async with self.app.store.sessions() as session:
            return (await posts.recent_posts(session, 1))[0]

    async def message_in(self, chat_id: int, post_id: int) -> PeerMessage:
        """The Telegram message that carries ``post_id`` in ``chat_id``, found through its delivery."""
        async with self.app.store.sessions() as session:
            row = await session.execute(
                select(Delivery.platform_message_id)
                .join(Channel, Channel.id == Delivery.channel_id)
                .where(Delivery.post_id == post_id, Channel.platform == "telegram", Channel.chat_id == str(chat_id))
            )
            message_id = row.scalar_one()
        assert message_id is not None
        msg = self.peer.message(chat_id, int(message_id))
        assert msg is not None and not msg.deleted
        return msg

    async def stats(self, post_id: int) -> dict[str, Any]:
        async with self.app.store.sessions() as session:
            post = await posts.get_post(session, post_id)
            assert post is not None
            return (await post_stats(session, [post]))[0]

    async def stored(self) -> tuple[int, int, int]:
        """(posts, responses, processed events) in the store."""
        async with self.app.store.sessions() as session:
            found = []
            for model in (Post, Response, ProcessedEvent):
                found.append((await session.execute(select(func.count()).select_from(model))).scalar_one())
        return found[0], found[1], found[2]


def buttons(msg: PeerMessage) -> list[dict[str, Any]]:
    assert msg.reply_markup is not None, f"message {msg.message_id} has no keyboard"
    return [b for row in msg.reply_markup["inline_keyboard"] for b in row]


def data_for(msg: PeerMessage, action_id: str) -> str:
    for button in buttons(msg):
        if "callback_data" in button and decode_callback_data(button["callback_data"])[1] == action_id:
            return str(button["callback_data"])
    raise AssertionError(f"no {action_id!r} button on message {msg.message_id}: {buttons(msg)}")


async def eventually(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    """Wait (polling) until ``condition()`` holds: updates reach the App through long polling."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        await asyncio.sleep(0.01)


def answered(peer: TelegramPeer, query_id: str) -> Callable[[], bool]:
    return lambda: peer.callback_queries[query_id].answer is not None


@asynccontextmanager
async def peer_with_people() -> AsyncIterator[TelegramPeer]:
    async with TelegramPeer(flood=FloodLimits.off()) as peer:
        for chat_id, title in ((KANTOOR, "Kantoor"), (LAGER, "Lager"), (FINANCE, "Finance")):
            peer.add_chat(chat_id, "supergroup", title)
        peer.add_user(ANNA, "Anna", username="anna")
        peer.add_user(BRAM, "Bram", username="bram")
        peer.add_user(CARLA, "Carla")
        yield peer
        assert peer.unknown_params == [], f"parameters Telegram does not know: {peer.unknown_params}"
        assert peer.unimplemented == []


@asynccontextmanager
async def running_app(
    settings: Settings, peer: TelegramPeer, store: Store, clock: FrozenClock
) -> AsyncIterator[Harness]:
    output = io.StringIO()
    app = App(
        settings,
        clock=clock,
        store=store,
        console_output=Console(file=output, width=120),
        counter_debounce=0.0,
    )
    await app.start()
    try:
        yield Harness(app, peer, output)
    finally:
        await app.stop()


@pytest.fixture
async def polling(store: Store, clock: FrozenClock) -> AsyncIterator[Harness]:
    async with peer_with_people() as peer, running_app(settings_for(peer), peer, store, clock) as harness:
        yield harness


# -- outbound ------------------------------------------------------------------------------------


async def test_acknowledge_poll_and_link_posts_arrive_with_the_right_keyboard(polling: Harness) -> None:
    peer = polling.peer
    ack = await polling.moderator_posts("Nieuwe verlofregeling | Vanaf januari. | cta: acknowledge")
    poll = await polling.moderator_posts("Lunch vrijdag | Wat eten we? | cta: poll Pizza; Sushi; Salade")
    link = await polling.moderator_posts("Intranet | Lees het hele verhaal | cta: link https://intranet.example/x")
    for post in (ack, poll, link):
        assert (await polling.stats(post.id))["deliveries"] == {"sent": 3}  # kantoor, lager, console
    assert peer.bot_messages(FINANCE) == []  # tagged finance only

    for chat_id in (KANTOOR, LAGER):
        msg = await polling.message_in(chat_id, ack.id)
        assert msg.parse_mode == "HTML" and "<b>Nieuwe verlofregeling</b>" in msg.source
        assert msg.text.startswith("Nieuwe verlofregeling") and f"#{ack.id} · must read" in msg.text
        (read,) = buttons(msg)
        assert read["text"] == "✅ Read · 0" and read["style"] == "primary"
        delivery_id, action = decode_callback_data(read["callback_data"])
        assert action == "ack" and delivery_id is not None

        msg = await polling.message_in(chat_id, poll.id)
        options = buttons(msg)
        assert [b["text"] for b in options] == ["Pizza · 0", "Sushi · 0", "Salade · 0"]
        assert [decode_callback_data(b["callback_data"])[1] for b in options] == ["vote:1", "vote:2", "vote:3"]
        assert all(len(b["callback_data"].encode()) <= 64 for b in options)

        msg = await polling.message_in(chat_id, link.id)
        assert link.click_token
        assert buttons(msg) == [{"text": "🔗 Open", "url": f"{PUBLIC_URL}/r/{link.click_token}"}]
    # Each delivery's buttons name that delivery: a press tells which message it came from.
    named = [
        decode_callback_data(buttons(await polling.message_in(c, ack.id))[0]["callback_data"])[0]
        for c in (KANTOOR, LAGER)
    ]
    assert named[0] != named[1]


async def test_link_without_the_web_app_points_straight_at_the_url(store: Store, clock: FrozenClock) -> None:
    async with peer_with_people() as peer, running_app(settings_for(peer, public_url=None), peer, store, clock) as h:
        link = await h.moderator_posts("Intranet | Lees meer | cta: link https://intranet.example/x")
        msg = await h.message_in(KANTOOR, link.id)
        assert buttons(msg) == [{"text": "🔗 Open", "url": "https://intranet.example/x"}]


# -- engagement ----------------------------------------------------------------------------------


async def test_pressing_counts_once_and_updates_the_count_on_the_message(polling: Harness) -> None:
    peer = polling.peer
    ack = await polling.moderator_posts("Nieuwe verlofregeling | Vanaf januari. | cta: acknowledge")
    msg = await polling.message_in(KANTOOR, ack.id)
    edits_before = len(peer.calls_to("editMessageReplyMarkup", ok=True))

    first = await peer.user_presses(BRAM, KANTOOR, msg.message_id, data_for(msg, "ack"))
    await eventually(answered(peer, first), "the first press is answered")
    assert peer.callback_queries[first].answer == {"text": f"✅ thanks, #{ack.id} is marked as read"}
    await polling.app.settle()  # counter edits flushed
    edits = peer.calls_to("editMessageReplyMarkup", ok=True)[edits_before:]
    assert {(c.params["chat_id"], c.params["message_id"]) for c in edits} == {
        (KANTOOR, msg.message_id),
        (LAGER, (await polling.message_in(LAGER, ack.id)).message_id),  # every message of the post shows it
    }
    assert buttons(msg)[0]["text"] == "✅ Read · 1"
    assert buttons(await polling.message_in(LAGER, ack.id))[0]["text"] == "✅ Read · 1"

    # The same person again, and from the other group's message: still one acknowledgement.
    second = await peer.user_presses(BRAM, KANTOOR, msg.message_id, data_for(msg, "ack"))
    await eventually(answered(peer, second), "the second press is answered")
    assert peer.callback_queries[second].answer == {"text": f"already counted (#{ack.id})"}
    lager = await polling.message_in(LAGER, ack.id)
    third = await peer.user_presses(BRAM, LAGER, lager.message_id, data_for(lager, "ack"))
    await eventually(answered(peer, third), "the press in the other group is answered")
    assert peer.callback_queries[third].answer == {"text": f"already counted (#{ack.id})"}
    await polling.app.settle()
    assert buttons(msg)[0]["text"] == "✅ Read · 1"
    assert (await polling.stats(ack.id))["counts"] == {"ack": 1}
    assert "✅ Read (1)" in polling.console.messages["m1"]  # the console's copy of the post too


async def test_votes_count_per_option_and_the_latest_vote_wins(polling: Harness) -> None:
    peer = polling.peer
    poll = await polling.moderator_posts("Lunch vrijdag | Wat eten we? | cta: poll Pizza; Sushi; Salade")
    msg = await polling.message_in(KANTOOR, poll.id)
    pizza = await peer.user_presses(BRAM, KANTOOR, msg.message_id, data_for(msg, "vote:1"))
    sushi = await peer.user_presses(CARLA, KANTOOR, msg.message_id, data_for(msg, "vote:2"))
    await eventually(lambda: answered(peer, pizza)() and answered(peer, sushi)(), "both votes are answered")
    changed = await peer.user_presses(BRAM, KANTOOR, msg.message_id, data_for(msg, "vote:2"))
    await eventually(answered(peer, changed), "the changed vote is answered")
    assert peer.callback_queries[changed].answer == {"text": f"changed to Sushi (#{poll.id})"}
    await polling.app.settle()
    assert [b["text"] for b in buttons(msg)] == ["Pizza · 0", "Sushi · 2", "Salade · 0"]
    assert (await polling.stats(poll.id))["votes"] == {"Pizza": 0, "Sushi": 2, "Salade": 0}


async def test_a_native_thumbs_up_is_a_like_and_taking_it_back_removes_it(polling: Harness) -> None:
    peer = polling.peer
    ack = await polling.moderator_posts("Nieuwe verlofregeling | Vanaf januari. | cta: acknowledge")
    msg = await polling.message_in(KANTOOR, ack.id)

    async def likes() -> int:
        return int((await polling.stats(ack.id))["counts"].get("like", 0))

    await peer.react(CARLA, KANTOOR, msg.message_id, "👍")
    await _until_stored(polling, 1)
    assert await likes() == 1
    await polling.app.settle()
    assert "👍 1" in msg.text  # the context line under the post shows the like

    await peer.react(CARLA, KANTOOR, msg.message_id, "👍", added=False)
    await _until_stored(polling, 2)
    assert await likes() == 0
    await polling.app.settle()
    assert "👍" not in msg.text
    async with polling.app.store.sessions() as session:
        assert (await session.execute(select(func.count()).select_from(Response))).scalar_one() == 0


async def _until_stored(harness: Harness, events: int, timeout: float = 10.0) -> None:
    """Wait until ``events`` platform events are in ``processed_events`` (each is stored once)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while (await harness.stored())[2] < events:
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"only {(await harness.stored())[2]} of {events} events were stored")
        await asyncio.sleep(0.01)


async def test_a_reply_to_the_post_is_stored(polling: Harness) -> None:
    peer = polling.peer
    post = await polling.moderator_posts("Open dag | Wie helpt mee? | cta: reply")
    msg = await polling.message_in(LAGER, post.id)
    await peer.user_sends(BRAM, LAGER, "Ik kom om 9 uur", reply_to=msg.message_id)
    await _until_stored(polling, 1)
    async with polling.app.store.sessions() as session:
        (reply,) = (await session.execute(select(Response))).scalars().all()
    assert (reply.post_id, reply.kind, reply.text) == (post.id, ResponseKind.REPLY, "Ik kom om 9 uur")
    await polling.app.settle()
    assert "💬 1" in msg.text


# -- commands ------------------------------------------------------------------------------------


async def test_a_moderators_post_in_a_group_reaches_every_tagged_channel(polling: Harness) -> None:
    peer = polling.peer
    await peer.user_sends(
        ANNA, KANTOOR, "/post@prikbord_bot Borrel | Vrijdag 16:00 in de kantine | cta: rsvp | to: kantoor"
    )
    await eventually(lambda: bool(peer.bot_messages(ANNA)), "Anna hears back")
    (told,) = peer.bot_messages(ANNA)  # privately, not in the group
    assert told.text == "#1 is published"
    await polling.app.settle()
    for chat_id in (KANTOOR, LAGER):
        (msg,) = [m for m in peer.bot_messages(chat_id) if m.reply_markup]
        assert msg.text.startswith("Borrel") and [b["text"] for b in buttons(msg)] == [
            "✅ Yes · 0",
            "❌ No · 0",
            "🤔 Maybe · 0",
        ]
    assert peer.bot_messages(FINANCE) == []
    assert list(polling.console.messages) == ["m1"] and "Borrel" in polling.console.messages["m1"]
    stats = await polling.stats(1)
    assert stats["state"] == "published" and stats["deliveries"] == {"sent": 3}


async def test_the_same_command_from_an_employee_is_refused_and_stores_nothing(polling: Harness) -> None:
    peer = polling.peer
    before = await polling.stored()
    await peer.user_sends(BRAM, KANTOOR, "/post Borrel | Vrijdag 16:00 | cta: rsvp | to: kantoor")
    await eventually(lambda: bool(peer.bot_messages(BRAM)), "Bram hears back")
    (told,) = peer.bot_messages(BRAM)
    assert "needs the moderator role" in told.text
    await polling.app.settle()
    assert await polling.stored() == before == (0, 0, 0)
    assert all(not peer.bot_messages(chat_id) for chat_id in (KANTOOR, LAGER, FINANCE))
    assert polling.console.messages == {}


# -- the webhook ---------------------------------------------------------------------------------


class LateAsgi:
    """The web app, resolved once the App exists: the App needs the URL the server got on port 0 first."""

    def __init__(self) -> None:
        self.target: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.target is not None, "the web app is not built yet"
        await self.target(scope, receive, send)


@dataclass
class WebhookHarness(Harness):
    http: httpx.AsyncClient  # to the uvicorn server that serves create_web_app(app.web_deps)
    public_url: str  # that server's address, [web] public_url

    async def post_update(self, body: bytes, headers: dict[str, str]) -> httpx.Response:
        return await self.http.post(
            "/telegram/webhook", content=body, headers={"Content-Type": "application/json", **headers}
        )


@pytest.fixture
async def webhook(store: Store, clock: FrozenClock) -> AsyncIterator[WebhookHarness]:
    """Webhook mode behind the real web app (``bot.web.create_web_app``) on uvicorn, 127.0.0.1 port 0."""
    asgi = LateAsgi()
    server = WebServer(asgi, "127.0.0.1", 0)
    await server.start()
    public_url = f"http://127.0.0.1:{server.port}"
    try:
        async with peer_with_people() as peer:
            settings = settings_for(peer, mode="webhook", public_url=public_url)
            async with running_app(settings, peer, store, clock) as harness:
                asgi.target = create_web_app(harness.app.web_deps)
                async with httpx.AsyncClient(base_url=public_url, timeout=10) as http:
                    yield WebhookHarness(harness.app, peer, harness.output, http, public_url)
    finally:
        await server.stop()


def command_update(user_id: int, chat_id: int, text: str, update_id: int = 900_000_001) -> dict[str, Any]:
    length = len(text.split(" ", 1)[0])
    return {
        "update_id": update_id,
        "message": {
            "message_id": 5000 + update_id % 1000,
            "date": 1_790_000_000,
            "chat": {"id": chat_id, "type": "supergroup", "title": "Kantoor"},
            "from": {"id": user_id, "is_bot": False, "first_name": "Anna"},
            "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": length}],
        },
    }


def press_update(msg: PeerMessage, data: str, user_id: int = BRAM, update_id: int = 900_000_002) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "callback_query": {
            "id": "7700000000000001",
            "from": {"id": user_id, "is_bot": False, "first_name": "Bram"},
            "message": {
                "message_id": msg.message_id,
                "date": msg.date,
                "chat": {"id": msg.chat_id, "type": "supergroup", "title": "Kantoor"},
                "text": msg.text,
            },
            "chat_instance": "42",
            "data": data,
        },
    }


async def test_webhook_mode_registers_the_secret_and_counts_presses(webhook: WebhookHarness) -> None:
    peer = webhook.peer
    (registered,) = peer.calls_to("setWebhook", ok=True)
    assert registered.params["secret_token"] == SECRET
    assert registered.params["url"] == f"{webhook.public_url}/telegram/webhook"
    ack = await webhook.moderator_posts("Lees dit | Belangrijk | cta: acknowledge")
    msg = await webhook.message_in(KANTOOR, ack.id)
    query = await peer.user_presses(BRAM, KANTOOR, msg.message_id, data_for(msg, "ack"))  # POSTed with the secret
    # Answered inside the webhook's HTTP reply (which Telegram executes): no separate request.
    (_, status, body) = peer.webhook_deliveries[-1]
    assert status == 200 and json.loads(body)["method"] == "answerCallbackQuery"
    assert peer.callback_queries[query].answer == {"text": f"✅ thanks, #{ack.id} is marked as read"}
    again = await peer.user_presses(BRAM, KANTOOR, msg.message_id, data_for(msg, "ack"))
    assert peer.callback_queries[again].answer == {"text": f"already counted (#{ack.id})"}
    await webhook.app.settle()
    assert buttons(msg)[0]["text"] == "✅ Read · 1"
    assert (await webhook.stats(ack.id))["counts"] == {"ack": 1}


async def test_the_link_button_goes_through_the_click_redirect(webhook: WebhookHarness) -> None:
    link = await webhook.moderator_posts("Intranet | Lees het hele verhaal | cta: link https://intranet.example/x")
    (button,) = buttons(await webhook.message_in(LAGER, link.id))
    assert button["url"] == f"{webhook.public_url}/r/{link.click_token}"
    opened = await webhook.http.get(button["url"], headers={"User-Agent": "Mozilla/5.0 (Android) Telegram"})
    assert opened.status_code == 302 and opened.headers["location"] == "https://intranet.example/x"
    assert (await webhook.stats(link.id))["counts"] == {"click": 1}


async def test_webhook_without_or_with_a_wrong_secret_is_forbidden_and_stores_nothing(
    webhook: WebhookHarness,
) -> None:
    peer = webhook.peer
    ack = await webhook.moderator_posts("Lees dit | Belangrijk | cta: acknowledge")
    msg = await webhook.message_in(KANTOOR, ack.id)
    before = await webhook.stored()
    assert before == (1, 0, 0)
    post_command = json.dumps(command_update(ANNA, KANTOOR, "/post Nep | niet echt | cta: like")).encode()
    press = json.dumps(press_update(msg, data_for(msg, "ack"))).encode()
    for body in (post_command, press):
        assert (await peer.post_webhook(body, None))[0] == 403  # as Telegram posts it, to the registered URL
        assert (await peer.post_webhook(body, SECRET + "x"))[0] == 403
        for headers in ({}, {SECRET_HEADER: ""}, {SECRET_HEADER: SECRET[:-1]}, {SECRET_HEADER: SECRET.upper()}):
            assert (await webhook.post_update(body, headers)).status_code == 403
    await webhook.app.settle()
    assert await webhook.stored() == before
    assert len(peer.bot_messages(KANTOOR)) == 1 and peer.bot_messages(ANNA) == []  # no post, no answer
    assert peer.calls_to("answerCallbackQuery") == []
    # The same press with the right secret (any header case) does count: the refusals were the secret's doing.
    accepted = await webhook.post_update(press, {SECRET_HEADER.lower(): SECRET})
    assert accepted.status_code == 200 and accepted.json()["method"] == "answerCallbackQuery"
    assert await webhook.stored() == (1, 1, 1)


async def test_malformed_updates_get_400_and_store_nothing(webhook: WebhookHarness) -> None:
    peer = webhook.peer
    ack = await webhook.moderator_posts("Lees dit | Belangrijk | cta: acknowledge")
    msg = await webhook.message_in(KANTOOR, ack.id)
    before = await webhook.stored()
    good = press_update(msg, data_for(msg, "ack"))
    no_update_id = {k: v for k, v in good.items() if k != "update_id"}
    query_without_sender = {**good, "callback_query": {k: v for k, v in good["callback_query"].items() if k != "from"}}
    command_without_chat = command_update(ANNA, KANTOOR, "/post Nep | niet echt")
    del command_without_chat["message"]["chat"]
    bodies = [
        b"{not json",
        b"[1, 2, 3]",
        b"\xff\xfe not utf-8",
        json.dumps(no_update_id).encode(),
        json.dumps({**good, "update_id": "twelve"}).encode(),
        json.dumps(query_without_sender).encode(),
        json.dumps(command_without_chat).encode(),
        json.dumps({**good, "callback_query": "pressed"}).encode(),
    ]
    for body in bodies:
        status, _ = await peer.post_webhook(body, SECRET)
        assert status == 400, body
    await webhook.app.settle()
    assert await webhook.stored() == before == (1, 0, 0)
    assert peer.calls_to("answerCallbackQuery") == [] and peer.bot_messages(ANNA) == []
    assert (await webhook.post_update(json.dumps(good).encode(), {SECRET_HEADER: SECRET})).status_code == 200
    assert await webhook.stored() == (1, 1, 1)


# -- flood limits --------------------------------------------------------------------------------


async def test_a_fan_out_past_the_flood_limit_gets_no_429(store: Store, clock: FrozenClock) -> None:
    """45 groups at 30 messages/s (the peer enforces Telegram's windows on the real clock): two windows, no 429."""
    groups = [-1003000000000 - i for i in range(45)]
    async with TelegramPeer(flood=FloodLimits()) as peer:
        for chat_id in groups:
            peer.add_chat(chat_id, "supergroup", f"Vestiging {chat_id}")
        channels = [{"name": f"v{i}", "platform": "telegram", "chat_id": str(c)} for i, c in enumerate(groups)]
        settings = Settings.model_validate(
            {"telegram": {"token": peer.token, "api_base_url": peer.api_base_url}, "channels": channels}
        )
        app = App(settings, clock=clock, store=store)
        await app.start()
        try:
            started = asyncio.get_running_loop().time()
            draft = PostDraft("Nieuwe verlofregeling", "Lees en bevestig.", cta=CallToAction(CtaKind.ACKNOWLEDGE))
            post = await app.publishing.create(draft, "telegram:1", Role.MODERATOR)
            await app.settle()
            elapsed = asyncio.get_running_loop().time() - started
        finally:
            await app.stop()
        assert [c for c in peer.calls_to("sendMessage") if c.status == 429] == []
        assert sorted(m.chat_id for m in peer.bot_messages()) == sorted(groups)  # one message each
        assert 1.0 <= elapsed < 5.0  # the second window waited for the first, and not much longer
        async with store.sessions() as session:
            assert (await post_stats(session, [post]))[0]["deliveries"] == {"sent": 45}
        assert peer.unknown_params == []
