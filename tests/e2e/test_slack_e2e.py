"""Slack end to end: prikbord as ``bot.app.App`` with its web app on a loopback socket, slack_sdk
talking HTTP to the loopback Web API peer (``tests/peers/slack.py``), and Slack's side played by
requests signed exactly as Slack signs them, POSTed over HTTP to ``/slack/events`` (uvicorn → the
web app → bolt in the adapter). Runs on SQLite and on PostgreSQL.

bolt acknowledges first and the adapter hands the work to the core in a task, so a test waits for
the store to show the result (:meth:`SlackE2E.eventually`, bounded) and then calls ``app.settle()``
(deliveries sent, counter edits flushed). Nothing sleeps for a fixed time.
"""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from rich.console import Console
from sqlalchemy import func, select
from sqlalchemy.sql.elements import ColumnElement

from adapters.console.adapter import ConsoleAdapter
from bot.app import App
from bot.clock import FrozenClock
from bot.config import Settings
from bot.web import WebServer, create_web_app
from content.db import Store
from content.models import Channel, Delivery, DeliveryState, Post, ProcessedEvent, Response
from tests.peers.slack import Message, SignedRequest, SlackPeer

PUBLIC_URL = "https://prikbord.example"
LINK = "https://intranet.example/verlof"
FORM = "application/x-www-form-urlencoded"
WAIT = 5.0  # seconds: the bound on any wait for background work


@dataclass
class SlackE2E:
    app: App
    peer: SlackPeer
    http: httpx.AsyncClient
    console_out: io.StringIO
    channels: dict[str, str]  # channel name → Slack channel id

    # -- Slack's side -----------------------------------------------------------------------------

    async def deliver(self, request: SignedRequest) -> httpx.Response:
        """POST what Slack would POST, over HTTP, to /slack/events."""
        return await self.http.post("/slack/events", content=request.body, headers=request.headers)

    async def accepted(self, request: SignedRequest) -> None:
        answer = await self.deliver(request)
        assert answer.status_code == 200, answer.text

    async def command(self, user: str, text: str, channel: str = "algemeen") -> None:
        await self.accepted(self.peer.slash_command(user, self.channels[channel], f"{text}"))

    async def post(self, text: str) -> Post:
        """The moderator posts with ``/prikbord post …``; returns the post once it is sent everywhere."""
        before = await self.count(Post.id)
        await self.command("mod", f"post {text}")
        await self.eventually(self.more_than(Post.id, before), "the post to be stored")
        await self.app.settle()
        post = await self.latest_post()
        assert await self.delivery_states(post.id) == {DeliveryState.SENT}
        return post

    async def latest_post(self) -> Post:
        async with self.app.store.sessions() as session:
            return (await session.execute(select(Post).order_by(Post.id.desc()).limit(1))).scalar_one()

    # -- waiting and reading the store ----------------------------------------------------------------

    async def eventually(self, check: Callable[[], Awaitable[bool]], what: str) -> None:
        """Poll ``check`` (a store query) until it holds; fail after WAIT seconds."""
        deadline = time.monotonic() + WAIT
        while not await check():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {WAIT}s waiting for {what}")
            await asyncio.sleep(0.01)

    async def count(self, column: Any, *where: ColumnElement[bool]) -> int:
        async with self.app.store.sessions() as session:
            return int((await session.execute(select(func.count(column)).where(*where))).scalar_one())

    async def _more(self, column: Any, before: int) -> bool:
        return await self.count(column) > before

    def more_than(self, column: Any, before: int) -> Callable[[], Awaitable[bool]]:
        """A check for :meth:`eventually`: more than ``before`` rows of ``column``."""
        return lambda: self._more(column, before)

    async def processed(self, *event_ids: str) -> bool:
        return await self.count(ProcessedEvent.event_id, ProcessedEvent.event_id.in_(event_ids)) == len(event_ids)

    async def responses(self, post_id: int, kind: str) -> list[Response]:
        async with self.app.store.sessions() as session:
            rows = await session.execute(select(Response).where(Response.post_id == post_id, Response.kind == kind))
            return list(rows.scalars())

    async def delivery_states(self, post_id: int) -> set[str]:
        async with self.app.store.sessions() as session:
            rows = await session.execute(select(Delivery.state).where(Delivery.post_id == post_id))
            return set(rows.scalars())

    async def deliveries(self, post_id: int) -> dict[str, Delivery]:
        """The post's deliveries by channel name."""
        async with self.app.store.sessions() as session:
            rows = await session.execute(
                select(Channel.name, Delivery)
                .join(Channel, Channel.id == Delivery.channel_id)
                .where(Delivery.post_id == post_id)
            )
            return {name: delivery for name, delivery in rows.all()}

    async def snapshot(self) -> tuple[int, int, int]:
        return await self.count(Post.id), await self.count(Response.id), await self.count(ProcessedEvent.event_id)

    # -- the Slack side of a post ---------------------------------------------------------------------

    async def message_of(self, post_id: int, channel: str) -> Message:
        delivery = (await self.deliveries(post_id))[channel]
        assert delivery.platform_message_id is not None
        message = self.peer.message(self.channels[channel], delivery.platform_message_id)
        assert message is not None, f"post #{post_id} is not in {channel}"
        return message

    def seen(self, channel: str, message: Message) -> str:
        return self.peer.visible_text(self.channels[channel], message.ts) or ""

    def ephemerals(self, user: str, channel: str = "algemeen") -> list[str]:
        return [e.text for e in self.peer.ephemerals(self.channels[channel], user)]

    async def answered(self, user: str, count: int, channel: str = "algemeen") -> None:
        """Wait until ``user`` has ``count`` ephemeral answers in ``channel`` (sent after the ack)."""

        async def check() -> bool:
            return len(self.ephemerals(user, channel)) >= count

        await self.eventually(check, f"{count} answer(s) to {user} in {channel}")


def _settings(peer: SlackPeer, channels: dict[str, str], moderator: str) -> Settings:
    def slack_channel(name: str, *tags: str) -> dict[str, object]:
        return {"name": name, "platform": "slack", "chat_id": channels[name], "tags": ["everyone", *tags]}

    config: dict[str, object] = {
        "timezone": "Europe/Amsterdam",
        "console": {"enabled": True},
        "slack": {
            "bot_token": peer.bot_token,
            "signing_secret": peer.signing_secret,
            "api_base_url": peer.api_base_url,
        },
        "web": {"port": 0, "public_url": PUBLIC_URL},  # on: link buttons go through the click redirect
        "channels": [
            slack_channel("algemeen", "nl"),
            slack_channel("amsterdam", "nl"),
            slack_channel("sales", "sales"),
            {"name": "console", "platform": "console", "chat_id": "console", "tags": ["everyone", "nl"]},
        ],
        "moderation": {"moderators": [f"slack:{moderator}"]},
    }
    return Settings(**config)  # type: ignore[arg-type]


@pytest.fixture
async def slack(store: Store, clock: FrozenClock) -> AsyncIterator[SlackE2E]:
    # The peer enforces Slack's limits (1 message/s per channel, 20/s per workspace) with 429s.
    async with SlackPeer() as peer:
        people = ("anna", "bram", "carla", "erik", "mod")
        channels = {name: peer.add_channel(name, members=people) for name in ("algemeen", "amsterdam", "sales")}
        console_out = io.StringIO()
        app = App(
            _settings(peer, channels, peer.add_user("mod")),
            clock=clock,
            store=store,
            console_output=Console(file=console_out, width=120),
            counter_debounce=0.0,
        )
        assert set(app.adapters) == {"console", "slack"}
        await app.start()
        server = WebServer(create_web_app(app.web_deps), "127.0.0.1", 0)
        await server.start()
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}", timeout=WAIT) as http:
                yield SlackE2E(app, peer, http, console_out, channels)
        finally:
            await server.stop()
            await app.stop()


def _buttons(message: Message) -> list[dict[str, Any]]:
    return [e for b in message.blocks or [] if b["type"] == "actions" for e in b["elements"]]


async def test_posts_with_acknowledge_poll_and_link_buttons_appear_in_their_channels(slack: SlackE2E) -> None:
    ack = await slack.post("Nieuwe verlofregeling | Vanaf januari geldt de nieuwe regeling. | cta: acknowledge")
    poll = await slack.post("Lunch vrijdag | Wat eten we? | cta: poll Pizza; Sushi; Salade")
    link = await slack.post(f"Verlof aanvragen | Het formulier staat op intranet. | cta: link {LINK}")
    expected_buttons = {ack.id: ["ack"], poll.id: ["vote:1", "vote:2", "vote:3"], link.id: ["link"]}
    for post in (ack, poll, link):
        deliveries = await slack.deliveries(post.id)
        assert set(deliveries) == {"algemeen", "amsterdam", "sales", "console"}  # all tagged `everyone`
        for channel in ("algemeen", "amsterdam", "sales"):
            message = await slack.message_of(post.id, channel)
            delivery = deliveries[channel]
            assert message.metadata == {
                "event_type": "prikbord_post",
                "event_payload": {
                    "post_id": post.id,
                    "delivery_id": delivery.id,
                    "idempotency_key": f"prikbord-d{delivery.id}",
                },
            }
            blocks = message.blocks or []
            assert blocks[0] == {
                "type": "header",
                "block_id": "title",
                "text": {"type": "plain_text", "text": post.title, "emoji": True},
            }
            assert [b["type"] for b in blocks[1:]] == ["section", "context", "actions"]
            assert post.body in blocks[1]["text"]["text"] and f"#{post.id}" in blocks[1]["text"]["text"]
            buttons = _buttons(message)
            assert [b["action_id"] for b in buttons] == expected_buttons[post.id]
            assert {b["value"] for b in buttons} == {f"p{post.id}.d{delivery.id}"}
    ack_message = await slack.message_of(ack.id, "algemeen")
    assert _buttons(ack_message)[0]["style"] == "primary"
    assert "✅ Read (0)" in slack.seen("algemeen", ack_message)
    poll_text = slack.seen("algemeen", await slack.message_of(poll.id, "algemeen"))
    assert "Pizza (0)  Sushi (0)  Salade (0)" in poll_text
    # The link button goes through the click-tracking redirect, which sends the reader on and counts.
    (link_button,) = _buttons(await slack.message_of(link.id, "amsterdam"))
    assert link_button["url"] == f"{PUBLIC_URL}/r/{link.click_token}"
    redirect = await slack.http.get(f"/r/{link.click_token}", headers={"User-Agent": "Mozilla/5.0"})
    assert redirect.status_code == 302 and redirect.headers["location"] == LINK
    assert [r.kind for r in await slack.responses(link.id, "click")] == ["click"]
    assert all(c.error in (None, "ratelimited") for c in slack.peer.calls)


async def test_a_press_updates_the_count_and_repeats_and_retries_count_once(slack: SlackE2E) -> None:
    post = await slack.post("Nieuwe verlofregeling | Vanaf januari. | cta: acknowledge")
    message = await slack.message_of(post.id, "algemeen")
    first = slack.peer.press("anna", slack.channels["algemeen"], message.ts, "ack")
    await slack.accepted(first)
    await slack.accepted(slack.peer.retry(first, attempt=1))  # the same request again, X-Slack-Retry-Num: 1
    again = slack.peer.press("anna", slack.channels["algemeen"], message.ts, "ack")  # pressed a second time
    await slack.accepted(again)
    # The same person in the other channel: still one acknowledgement of the post.
    other = await slack.message_of(post.id, "amsterdam")
    await slack.accepted(slack.peer.press("anna", slack.channels["amsterdam"], other.ts, "ack"))
    await slack.accepted(slack.peer.press("bram", slack.channels["algemeen"], message.ts, "ack"))
    await slack.eventually(slack.more_than(ProcessedEvent.event_id, 3), "the presses to be processed")
    await slack.app.settle()

    assert len(await slack.responses(post.id, "ack")) == 2  # anna and bram, once each
    assert await slack.count(ProcessedEvent.event_id) == 4  # the retry had the same trigger: no fifth
    updates = [c for c in slack.peer.calls_of("chat.update") if c.error is None]
    assert {c.args["channel"] for c in updates} == set(slack.channels.values())  # the post is in all three
    assert "✅ Read (2)" in slack.seen("algemeen", message)
    assert "✅ Read (2)" in slack.seen("amsterdam", other)
    # In order: the press, its retry and the second press (one person's presses on a message keep their order).
    thanks, already = f"✅ thanks, #{post.id} is marked as read", f"already counted (#{post.id})"
    await slack.answered("anna", 3)
    await slack.answered("anna", 1, "amsterdam")
    assert slack.ephemerals("anna") == [thanks, already, already]
    assert slack.ephemerals("anna", "amsterdam") == [already]


async def test_a_poll_vote_changes_and_the_buttons_show_it(slack: SlackE2E) -> None:
    post = await slack.post("Lunch vrijdag | Wat eten we? | cta: poll Pizza; Sushi; Salade")
    message = await slack.message_of(post.id, "algemeen")
    channel = slack.channels["algemeen"]
    for n, option in enumerate(("vote:1", "vote:2")):
        await slack.accepted(slack.peer.press("carla", channel, message.ts, option))
        await slack.eventually(slack.more_than(ProcessedEvent.event_id, n), f"vote {n + 1}")
    await slack.app.settle()
    assert [r.value for r in await slack.responses(post.id, "vote")] == ["Sushi"]
    assert "Pizza (0)  Sushi (1)  Salade (0)" in slack.seen("algemeen", message)


async def test_thumbs_up_reaction_likes_and_its_removal_unlikes(slack: SlackE2E) -> None:
    post = await slack.post("Nieuwe verlofregeling | Vanaf januari. | cta: acknowledge")
    message = await slack.message_of(post.id, "algemeen")
    channel = slack.channels["algemeen"]
    added = slack.peer.reaction("bram", channel, message.ts, "+1")
    await slack.accepted(added)
    await slack.accepted(slack.peer.retry(added, attempt=1, reason="http_timeout"))  # Slack redelivers
    await slack.eventually(slack.more_than(ProcessedEvent.event_id, 0), "the reaction")
    await slack.app.settle()
    assert len(await slack.responses(post.id, "like")) == 1
    assert await slack.count(ProcessedEvent.event_id) == 1  # the retry carried the same event_id
    assert "👍 1" in slack.seen("algemeen", message)

    await slack.accepted(slack.peer.reaction("bram", channel, message.ts, "+1", added=False))
    await slack.eventually(slack.more_than(ProcessedEvent.event_id, 1), "the removal")
    await slack.app.settle()
    assert await slack.responses(post.id, "like") == []
    assert "👍" not in slack.seen("algemeen", message)


async def test_a_thread_reply_is_stored(slack: SlackE2E) -> None:
    post = await slack.post("Open dag | Wie helpt er mee? | cta: reply")
    message = await slack.message_of(post.id, "amsterdam")
    reply = slack.peer.thread_reply("carla", slack.channels["amsterdam"], message.ts, "Ik help & neem <taart> mee")
    await slack.accepted(reply)
    await slack.eventually(slack.more_than(Response.id, 0), "the reply")
    await slack.app.settle()
    (stored,) = await slack.responses(post.id, "reply")
    assert stored.text == "Ik help & neem <taart> mee" and stored.platform == "slack"
    assert stored.delivery_id == (await slack.deliveries(post.id))["amsterdam"].id
    assert "💬 1" in slack.seen("amsterdam", message)


async def test_a_moderators_slash_command_publishes_to_every_tagged_channel_on_every_platform(
    slack: SlackE2E,
) -> None:
    await slack.command("mod", "post Nieuwe verlofregeling | Vanaf januari geldt de nieuwe regeling. | to: nl")
    await slack.eventually(slack.more_than(Post.id, 0), "the post")
    await slack.app.settle()
    post_id = (await slack.latest_post()).id
    assert set(await slack.deliveries(post_id)) == {"algemeen", "amsterdam", "console"}
    assert await slack.delivery_states(post_id) == {DeliveryState.SENT}
    for channel in ("algemeen", "amsterdam"):
        assert "Nieuwe verlofregeling" in slack.seen(channel, await slack.message_of(post_id, channel))
    assert slack.peer.messages(slack.channels["sales"]) == []  # not tagged nl
    console = slack.app.adapters["console"]
    assert isinstance(console, ConsoleAdapter)
    assert [text for text in console.messages.values() if "Nieuwe verlofregeling" in text]
    assert "Nieuwe verlofregeling" in slack.console_out.getvalue()
    await slack.answered("mod", 1)
    (answer,) = slack.peer.ephemerals(slack.channels["algemeen"], "mod")
    assert answer.text == f"#{post_id} is published" and answer.via == "response_url"


async def test_a_non_moderator_is_refused_ephemerally(slack: SlackE2E) -> None:
    await slack.command("erik", "post Mijn eigen post | hallo allemaal | cta: like")
    await slack.answered("erik", 1)
    (refusal,) = slack.peer.ephemerals(slack.channels["algemeen"], "erik")
    assert refusal.via == "response_url" and "needs the moderator role" in refusal.text
    assert await slack.count(Post.id) == 0
    assert all(slack.peer.messages(ch) == [] for ch in slack.channels.values())  # nobody else saw anything
    assert slack.peer.ephemerals(slack.channels["algemeen"], "anna") == []


def _resigned(request: SignedRequest, headers: dict[str, str]) -> SignedRequest:
    return SignedRequest({**request.headers, **headers}, request.body)


async def test_unsigned_wrong_or_stale_requests_get_401_malformed_ones_400_and_nothing_is_stored(
    slack: SlackE2E,
) -> None:
    post = await slack.post("Nieuwe verlofregeling | Vanaf januari. | cta: acknowledge")
    message = await slack.message_of(post.id, "algemeen")
    peer, channel = slack.peer, slack.channels["algemeen"]
    before = await slack.snapshot()
    calls_before = len(peer.calls)
    ephemerals_before = len(peer.ephemerals(channel))

    genuine = [
        ("anna", peer.press("anna", channel, message.ts, "ack")),
        ("mod", peer.slash_command("mod", channel, "post Ingebroken | via een vervalst verzoek")),
        ("bram", peer.reaction("bram", channel, message.ts, "+1")),
    ]
    stale = int(time.time()) - 6 * 60  # Slack's rule: older than 5 minutes is a replay
    erik = peer.add_user("erik").encode()
    unauthorized: list[SignedRequest] = []
    for who, request in genuine:
        unsigned = {k: v for k, v in request.headers.items() if not k.startswith("X-Slack")}
        tampered = request.body.replace(peer.add_user(who).encode(), erik)
        assert tampered != request.body
        unauthorized += [
            SignedRequest(unsigned, request.body),
            _resigned(request, peer.sign(request.body, secret="not-the-signing-secret")),
            _resigned(request, peer.sign(request.body, timestamp=stale)),
            SignedRequest(request.headers, tampered),  # signed, then changed on the way
        ]
    for request in unauthorized:
        answer = await slack.deliver(request)
        assert answer.status_code == 401, (answer.status_code, request.headers)

    malformed_bodies = [
        (b"{not json", "application/json"),
        (b'{"type": "event_callback", "event": {"type": "reaction_added"}}', "application/json"),
        (urlencode({"payload": "{broken"}).encode(), FORM),
        (urlencode({"payload": '{"type": "block_actions", "actions": []}'}).encode(), FORM),
        (urlencode({"command": "/prikbord", "text": "post x"}).encode(), FORM),  # no user, no channel
        (b"\xff\xfe\x00", "application/json"),
    ]
    for body, content_type in malformed_bodies:
        request = SignedRequest({"Content-Type": content_type, **peer.sign(body)}, body)
        answer = await slack.deliver(request)
        assert answer.status_code == 400, (answer.status_code, body)

    # A good request after the bad ones: once it is stored, anything the bad ones started would be too.
    sentinel = peer.press("carla", channel, message.ts, "ack")
    await slack.accepted(sentinel)
    await slack.eventually(slack.more_than(ProcessedEvent.event_id, before[2]), "the sentinel press")
    await slack.answered("carla", 1)
    await slack.app.settle()
    posts_after, responses_after, events_after = await slack.snapshot()
    assert (posts_after, responses_after, events_after) == (before[0], before[1] + 1, before[2] + 1)
    assert len(await slack.responses(post.id, "ack")) == 1  # carla's
    assert [e.user for e in peer.ephemerals(channel)[ephemerals_before:]] == [peer.add_user("carla")]
    new_calls = [c.method for c in peer.calls[calls_before:]]
    assert "chat.postMessage" not in new_calls  # the forged `post` published nothing
    assert all(len(peer.messages(ch)) == 1 for ch in slack.channels.values())
