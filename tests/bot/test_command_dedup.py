"""A command runs once however often its update arrives, and a failed answer never fails the webhook
(issue 17, item 2).

The real python-telegram-bot in webhook mode behind the real webhook route (``bot.web.webhooks``, served
by uvicorn on 127.0.0.1 port 0), talking to the loopback Bot API peer. The peer posts updates to the
webhook as Telegram does; a redelivery is the same update (same ``update_id``) posted again, as Telegram
does after a non-2xx answer. On SQLite and PostgreSQL (the ``store`` fixture).
"""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from sqlalchemy import func, select, text
from starlette.types import ASGIApp, Receive, Scope, Send

from adapters.base import Adapter, ChatRef, CommandIssued, EventSink, Limits, MessageRef, OutboundMessage, UserRef
from adapters.console.adapter import ConsoleAdapter
from adapters.console.translate import new_session_id
from bot.app import App
from bot.clock import FrozenClock
from bot.commands.router import STOPPED_BEFORE_ANSWER, CommandRouter
from bot.config import Settings
from bot.services.background import BackgroundTasks
from bot.web import WebServer
from bot.web.webhooks import WebhooksFirst
from content.db import Store
from content.models import Post
from content.processed_commands import ProcessedCommand, claim_command, event_key, processed_command
from tests.peers.telegram import FloodLimits, TelegramPeer

# PTB 22 warns while building RetryAfter that retry_after will become a timedelta; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning")

ANNA = 1101  # a moderator, writing in her private chat with the bot (chat id = her user id)
SECRET = "dedup-webhook_secret-17"


class LateAsgi:
    """The webhook route, set once the App exists: the App needs the server's port-0 URL first."""

    def __init__(self) -> None:
        self.target: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.target is not None, "the App is not built yet"
        await self.target(scope, receive, send)


async def _no_api(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 404, "headers": []})
    await send({"type": "http.response.body", "body": b""})


@dataclass
class Webhook:
    app: App
    peer: TelegramPeer

    async def anna_says(self, text: str) -> dict[str, Any]:
        """Anna sends ``text`` in her private chat; the peer posts the update to the webhook → the update
        (once its answer, which goes out beside the webhook's 200, was sent or given up)."""
        update = await self.peer.user_sends(ANNA, ANNA, text)
        assert not await self.app.answer_tasks.idle(10)
        return update

    def status_of(self, update: dict[str, Any]) -> list[int]:
        """The webhook's HTTP status for each time ``update`` was posted to it by the peer."""
        return [status for sent, status, _ in self.peer.webhook_deliveries if sent["update_id"] == update["update_id"]]

    async def redeliver(self, update: dict[str, Any]) -> int:
        """Telegram posting the very same update again → the webhook's HTTP status."""
        status, _ = await self.peer.post_webhook(json.dumps(update).encode(), SECRET)
        assert not await self.app.answer_tasks.idle(10)
        return status

    async def posts(self) -> list[Post]:
        async with self.app.store.sessions() as session:
            return list((await session.execute(select(Post).order_by(Post.id))).scalars())

    def answers(self) -> list[str]:
        """What the bot wrote into Anna's private chat."""
        return [m.text for m in self.peer.bot_messages(ANNA)]


@pytest.fixture
async def webhook(store: Store, clock: FrozenClock) -> AsyncIterator[Webhook]:
    asgi = LateAsgi()
    server = WebServer(asgi, "127.0.0.1", 0)
    await server.start()
    try:
        async with TelegramPeer(flood=FloodLimits.off()) as peer:
            peer.add_user(ANNA, "Anna", username="anna")
            settings = Settings.model_validate(
                {
                    "timezone": "Europe/Amsterdam",
                    "console": {"enabled": True},  # the channel posts go to; Telegram only carries commands
                    "telegram": {
                        "token": peer.token,
                        "api_base_url": peer.api_base_url,
                        "mode": "webhook",
                        "webhook_secret": SECRET,
                    },
                    "web": {"public_url": f"http://127.0.0.1:{server.port}"},
                    "moderation": {"moderators": [f"telegram:{ANNA}"]},
                }
            )
            app = App(settings, clock=clock, store=store, console_output=Console(file=io.StringIO()))
            await app.start()
            try:
                asgi.target = WebhooksFirst(_no_api, app.adapters, [])
                yield Webhook(app, peer)
            finally:
                await app.stop()
            assert peer.unknown_params == [], f"parameters Telegram does not know: {peer.unknown_params}"
    finally:
        await server.stop()


async def test_the_same_update_delivered_again_publishes_once(webhook: Webhook) -> None:
    update = await webhook.anna_says("/post Dagstart | Koffie staat klaar | cta: like")
    assert webhook.status_of(update) == [200]
    assert [p.title for p in await webhook.posts()] == ["Dagstart"]
    assert len(webhook.answers()) == 1

    assert await webhook.redeliver(update) == 200
    assert await webhook.redeliver(update) == 200
    assert [p.title for p in await webhook.posts()] == ["Dagstart"]
    assert len(webhook.answers()) == 1  # a redelivery is not answered again either

    async with webhook.app.store.sessions() as session:
        record = await processed_command(session, "telegram", f"tg:m:{ANNA}:{update['message']['message_id']}")
    assert record is not None and record.command == "post" and record.actor == f"telegram:{ANNA}"
    assert record.finished_at is not None and record.answer_error is None


async def test_the_same_update_delivered_concurrently_publishes_once(webhook: Webhook) -> None:
    first = await webhook.anna_says("/post Eerste | een | cta: like")  # the store is warm
    update = dict(first, update_id=first["update_id"] + 100)
    update["message"] = dict(first["message"], message_id=first["message"]["message_id"] + 100)
    update["message"]["text"] = "/post Tegelijk | twee keer bezorgd | cta: like"

    statuses = await asyncio.gather(*(webhook.redeliver(update) for _ in range(4)))
    assert statuses == [200, 200, 200, 200]
    assert [p.title for p in await webhook.posts()] == ["Eerste", "Tegelijk"]


async def test_a_429_on_the_answer_gives_200_and_the_redelivery_runs_nothing_again(webhook: Webhook) -> None:
    # Anna's private chat may get one message an hour: the second answer meets a 429, as in the field.
    webhook.peer.flood = FloodLimits(overall=None, per_chat=(1, 3600.0), per_group=None)
    one = await webhook.anna_says("/post Eén | de eerste | cta: like")
    two = await webhook.anna_says("/post Twee | de tweede | cta: like")
    assert [c.status for c in webhook.peer.calls_to("sendMessage")] == [200, 429]
    assert webhook.status_of(one) == [200]
    assert webhook.status_of(two) == [200]  # was 500 "not stored; retry"
    assert [p.title for p in await webhook.posts()] == ["Eén", "Twee"]

    assert await webhook.redeliver(two) == 200  # had the webhook failed, Telegram would do this
    assert [p.title for p in await webhook.posts()] == ["Eén", "Twee"]
    async with webhook.app.store.sessions() as session:
        record = await processed_command(session, "telegram", f"tg:m:{ANNA}:{two['message']['message_id']}")
    assert record is not None and record.finished_at is not None
    assert record.answer_error is not None and "retry after" in record.answer_error


async def test_console_commands_of_two_sessions_both_run(webhook: Webhook) -> None:
    """Console event ids carry a random id per session: line 1 of the next ``prikbord run < script``
    is a new command, while the same id twice is one command like on every platform."""
    console = ChatRef("console", "console")
    anna = UserRef("console", "anna", "Anna")
    first, second = new_session_id(), new_session_id()
    for session_id in (first, second, first):
        await webhook.app.inbound(CommandIssued(f"{session_id}.line-1", anna, console, "help", ""))
    adapter = webhook.app.adapters["console"]
    assert isinstance(adapter, ConsoleAdapter)
    assert [who for who, _ in adapter.private] == ["anna", "anna"]  # two sessions ran; the repeat did not
    async with webhook.app.store.sessions() as session:
        stored = await session.scalar(select(func.count()).select_from(ProcessedCommand))
    assert stored == 2


async def test_event_ids_that_cannot_be_stored_as_given_are_hashed_apart(webhook: Webhook) -> None:
    long_a, long_b = "x" * 300 + "a", "x" * 300 + "b"
    assert event_key(long_a) != event_key(long_b) and len(event_key(long_a)) <= 255
    assert event_key("tg:m:1101:7") == "tg:m:1101:7"
    assert event_key("bad\x00id") != "bad\x00id" and event_key("bad\ud800id") != event_key("bad\ud801id")
    user = UserRef("telegram", str(ANNA), "Anna\x00\ud800")
    chat = ChatRef("telegram", str(ANNA))
    for event_id in (long_a, long_b, long_a, "bad\x00id", "bad\ud800id"):
        await webhook.app.inbound(CommandIssued(event_id, user, chat, "help", "", private_chat=True))
    async with webhook.app.store.sessions() as session:
        stored = await session.scalar(select(func.count()).select_from(ProcessedCommand))
    assert stored == 4  # long_a twice is one command
    assert not await webhook.app.answer_tasks.idle(10)
    assert len(webhook.answers()) == 4


async def test_migration_0004_adds_the_table_and_keeps_what_was_stored(tmp_path: Path, clock: FrozenClock) -> None:
    from content.db import create_store
    from content.migrate import upgrade

    made = create_store(f"sqlite:///{tmp_path / 'old.db'}")
    try:
        await upgrade(made, "0003")
        now = clock.now()
        async with made.transaction() as session:  # the columns posts had at 0003, not today's model
            await session.execute(
                text(
                    "INSERT INTO posts (kind, title, body, cta_kind, cta_options, audience, state, urgent,"
                    " created_at, updated_at) VALUES ('news', 'Van voor de upgrade', '', 'none', '[]', '[]',"
                    " 'published', 0, '2026-11-30 09:00:00', '2026-11-30 09:00:00')"
                )
            )
        await upgrade(made, "0004")
        async with made.transaction() as session:
            assert (await session.execute(text("SELECT title FROM posts"))).scalars().all() == ["Van voor de upgrade"]
            assert await claim_command(session, "telegram", "tg:m:1:1", "post", "telegram:1", now)
            assert not await claim_command(session, "telegram", "tg:m:1:1", "post", "telegram:1", now)
    finally:
        await made.close()


async def test_a_command_claimed_before_a_crash_is_not_run_again(webhook: Webhook) -> None:
    """At most once: the claim is committed before the command runs, so a process killed between the
    claim and the command's effect loses that command (its sender got no answer and sends it again)
    rather than risking a second copy of a post for everyone."""
    next_message_id = 1  # the peer numbers each chat's messages from 1; this is Anna's first
    async with webhook.app.store.transaction() as session:  # what the killed process left behind
        assert await claim_command(
            session, "telegram", f"tg:m:{ANNA}:{next_message_id}", "post", f"telegram:{ANNA}", webhook.app.clock.now()
        )
    update = await webhook.anna_says("/post Na de crash | x | cta: like")
    assert update["message"]["message_id"] == next_message_id
    assert webhook.status_of(update) == [200]
    assert await webhook.posts() == [] and webhook.answers() == []


class BrokenAnswers(Adapter):
    """A platform whose answers fail with something that is not a DeliveryError."""

    platform = "telegram"
    limits = Limits(text_length=4096)

    async def start(self, sink: EventSink) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def send(self, chat: ChatRef, message: OutboundMessage) -> MessageRef:
        raise AssertionError("nothing is sent here")

    async def edit(self, ref: MessageRef, message: OutboundMessage) -> None:
        raise AssertionError("nothing is edited here")

    async def delete(self, ref: MessageRef) -> None:
        raise AssertionError("nothing is deleted here")

    async def reply(self, command: CommandIssued, text: str, private: bool = True) -> None:
        raise RuntimeError("the SDK broke")


async def test_an_answer_failing_in_any_way_is_recorded_and_never_raised(webhook: Webhook) -> None:
    app = webhook.app
    router = CommandRouter(app.services, app.roles, {"telegram": BrokenAnswers()})
    command = CommandIssued(
        "tg:m:1101:990", UserRef("telegram", str(ANNA), "Anna"), ChatRef("telegram", str(ANNA)), "help", ""
    )
    reply = await router.handle(command)
    assert reply is not None and reply.text.startswith("commands")
    assert await router.handle(command) is None  # and it ran once
    async with app.store.sessions() as session:
        record = await processed_command(session, "telegram", command.event_id)
    assert record is not None and record.finished_at is not None and record.answer_error == "RuntimeError"


class StuckAnswers(BrokenAnswers):
    """A platform whose answers never come back (a 429 waited out past any stop)."""

    async def reply(self, command: CommandIssued, text: str, private: bool = True) -> None:
        await asyncio.Event().wait()


async def test_an_answer_still_waiting_holds_up_nothing_and_a_stop_records_it(webhook: Webhook) -> None:
    app = webhook.app
    answers = BackgroundTasks("command answers")
    router = CommandRouter(app.services, app.roles, {"telegram": StuckAnswers()}, answer_later=answers.spawn)
    command = CommandIssued(
        "tg:m:1101:991", UserRef("telegram", str(ANNA), "Anna"), ChatRef("telegram", str(ANNA)), "help", ""
    )
    reply = await asyncio.wait_for(router.handle(command), 5)  # the event is done; its answer waits apart
    assert reply is not None and len(answers) == 1
    assert await answers.drain(0.2) == 1
    async with app.store.sessions() as session:
        record = await processed_command(session, "telegram", command.event_id)
    assert record is not None and record.finished_at is not None
    assert record.answer_error == STOPPED_BEFORE_ANSWER
