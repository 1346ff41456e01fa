"""The Telegram adapter end to end: the real python-telegram-bot over HTTP against the loopback Bot API peer."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiohttp import web

from adapters.base import (
    Action,
    ActionPressed,
    AdapterAuthError,
    ChannelMembershipChanged,
    ChannelMigrated,
    ChatRef,
    CommandIssued,
    Event,
    MessageRef,
    OutboundMessage,
    PermanentError,
    RateLimited,
    ReactionAdded,
    ReactionRemoved,
    ReplyPosted,
    TransientError,
    UserRef,
)
from adapters.markup import MarkupParser
from adapters.telegram.adapter import SECRET_HEADER, TelegramAdapter, bot_api_base_url
from adapters.telegram.errors import ChatMoved
from adapters.telegram.translate import ComposeError, decode_callback_data
from tests.peers.telegram import FloodLimits, TelegramPeer

# PTB 22 itself warns while building RetryAfter that retry_after will become a timedelta; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning")

GROUP = -1001234500000
ANNA, BRAM, CARLA = 1101, 1102, 1103
CHAT = ChatRef("telegram", str(GROUP))
SECRET = "webhook-secret_123"


class Recorder:
    """The sink: keeps events; answers presses with ``answer_text`` unless it is None."""

    def __init__(self) -> None:
        self.events: asyncio.Queue[Event] = asyncio.Queue()
        self.answer_text: str | None = "counted"
        self.fail_next = False

    async def __call__(self, event: Event) -> None:
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("store unavailable")
        if isinstance(event, ActionPressed) and self.answer_text is not None:
            await event.answer(self.answer_text)
        await self.events.put(event)

    async def next(self, kind: type[Event] = Event, timeout: float = 5) -> Any:  # type: ignore[assignment]
        async def wait() -> Event:
            while True:
                event = await self.events.get()
                if isinstance(event, kind):
                    return event

        return await asyncio.wait_for(wait(), timeout)


@pytest.fixture
async def peer() -> AsyncIterator[TelegramPeer]:
    async with TelegramPeer(flood=FloodLimits.off()) as p:
        p.add_chat(GROUP, "supergroup", "Kantoor")
        p.add_user(ANNA, "Anna", username="anna")
        p.add_user(BRAM, "Bram", username="bram")
        p.add_user(CARLA, "Carla", started=False)  # never opened a chat with the bot
        yield p
        assert p.unknown_params == [], f"parameters Telegram does not know: {p.unknown_params}"
        assert p.unimplemented == []


@asynccontextmanager
async def running(peer: TelegramPeer, sink: Recorder | None = None, **kw: Any) -> AsyncIterator[TelegramAdapter]:
    adapter = TelegramAdapter(token=peer.token, api_base_url=peer.api_base_url, poll_timeout=5, **kw)
    await adapter.start(sink or Recorder())
    try:
        yield adapter
    finally:
        await adapter.stop()


@pytest.fixture
async def sink() -> Recorder:
    return Recorder()


@pytest.fixture
async def adapter(peer: TelegramPeer, sink: Recorder) -> AsyncIterator[TelegramAdapter]:
    async with running(peer, sink, moderator_ids=[str(ANNA)]) as a:
        yield a


def post(
    *actions: Action, body: str = "Vanaf januari geldt de nieuwe regeling.", delivery_id: int = 77
) -> OutboundMessage:
    doc = MarkupParser().parse(f"**Nieuwe verlofregeling**\n\n{body}")
    return OutboundMessage(doc, actions, post_id=12, delivery_id=delivery_id)


CTA = (
    Action("ack", "✅ Read", count=0),
    Action("vote:1", "Pizza", count=0),
    Action("vote:2", "Sushi", count=0),
    Action("link", "Lees meer", url="https://prikbord.example/r/Xy12"),
)


def buttons(peer: TelegramPeer, ref: MessageRef) -> list[dict[str, Any]]:
    msg = peer.message(int(ref.chat.chat_id), int(ref.message_id))
    assert msg is not None and msg.reply_markup is not None
    return [b for row in msg.reply_markup["inline_keyboard"] for b in row]


def data_for(peer: TelegramPeer, ref: MessageRef, action_id: str) -> str:
    data: str = next(
        b["callback_data"]
        for b in buttons(peer, ref)
        if "callback_data" in b and decode_callback_data(b["callback_data"])[1] == action_id
    )
    return data


# -- outbound ----------------------------------------------------------------------------------


async def test_post_with_acknowledge_poll_and_link_arrives_with_the_right_keyboard(
    peer: TelegramPeer, adapter: TelegramAdapter
) -> None:
    ref = await adapter.send(CHAT, post(*CTA))
    msg = peer.message(GROUP, int(ref.message_id))
    assert msg is not None and msg.parse_mode == "HTML"
    assert msg.text.startswith("Nieuwe verlofregeling") and "<b>Nieuwe verlofregeling</b>" in msg.source
    keys = buttons(peer, ref)
    assert [b["text"] for b in keys] == ["✅ Read · 0", "Pizza · 0", "Sushi · 0", "Lees meer"]
    assert [decode_callback_data(b["callback_data"]) for b in keys[:3]] == [(77, "ack"), (77, "vote:1"), (77, "vote:2")]
    assert keys[3] == {"text": "Lees meer", "url": "https://prikbord.example/r/Xy12"}


async def test_long_post_is_split_with_the_keyboard_on_the_last_part(
    peer: TelegramPeer, adapter: TelegramAdapter
) -> None:
    body = "\n\n".join(f"Alinea {i}: " + "tekst " * 400 for i in range(5))  # ~2400 characters each
    ref = await adapter.send(CHAT, post(Action("ack", "✅ Read"), body=body))
    sent = peer.bot_messages(GROUP)
    assert len(sent) == 5 and sent[-1].message_id == int(ref.message_id)
    assert [m.reply_markup is not None for m in sent] == [False] * 4 + [True]
    await adapter.delete(ref)
    assert peer.bot_messages(GROUP) == []


async def test_counter_refresh_edits_only_the_keyboard(peer: TelegramPeer, adapter: TelegramAdapter) -> None:
    ref = await adapter.send(CHAT, post(Action("ack", "✅ Read", count=0)))
    await adapter.edit(ref, post(Action("ack", "✅ Read", count=3)))
    assert [c.method for c in peer.calls[-1:]] == ["editMessageReplyMarkup"]
    assert buttons(peer, ref)[0]["text"] == "✅ Read · 3"
    calls = len(peer.calls)
    await adapter.edit(ref, post(Action("ack", "✅ Read", count=3)))
    assert len(peer.calls) == calls  # nothing changed, nothing sent
    await adapter.edit(ref, post(Action("ack", "✅ Read", count=3), body="Gewijzigd."))
    assert peer.calls[-1].method == "editMessageText"
    assert peer.visible_text(GROUP, int(ref.message_id)) == "Nieuwe verlofregeling\n\nGewijzigd."


async def test_edit_without_memory_of_the_message_tolerates_not_modified(
    peer: TelegramPeer, adapter: TelegramAdapter
) -> None:
    ref = await adapter.send(CHAT, post(Action("ack", "✅ Read", count=1)))
    fresh = TelegramAdapter(token=peer.token, api_base_url=peer.api_base_url)  # as after a restart
    try:
        await fresh.edit(ref, post(Action("ack", "✅ Read", count=1)))
    finally:
        await fresh.stop()
    assert "not modified" in peer.calls[-1].description


async def test_split_post_counters_refresh_after_a_restart(peer: TelegramPeer, adapter: TelegramAdapter) -> None:
    body = "\n\n".join(f"Alinea {i}: " + "tekst " * 400 for i in range(3))
    ref = await adapter.send(CHAT, post(Action("ack", "✅ Read", count=0), body=body))
    fresh = TelegramAdapter(token=peer.token, api_base_url=peer.api_base_url)  # knows nothing of the parts
    try:
        await fresh.edit(ref, post(Action("ack", "✅ Read", count=5), body=body))
    finally:
        await fresh.stop()
    assert buttons(peer, ref)[0]["text"] == "✅ Read · 5"
    assert len(peer.bot_messages(GROUP)) == 3 and all(not m.edits for m in peer.bot_messages(GROUP)[:-1])


def test_api_base_url_gets_the_bot_path_once() -> None:
    assert bot_api_base_url("https://api.telegram.org") == "https://api.telegram.org/bot"
    assert bot_api_base_url("http://127.0.0.1:8081/bot/") == "http://127.0.0.1:8081/bot"
    assert bot_api_base_url("http://tg.local/{token}/x") == "http://tg.local/{token}/x"


async def test_retract_deletes_or_blanks_a_message_too_old_to_delete(
    peer: TelegramPeer, adapter: TelegramAdapter
) -> None:
    ref = await adapter.send(CHAT, post(*CTA))
    await adapter.delete(ref)
    assert peer.visible_text(GROUP, int(ref.message_id)) is None
    old = await adapter.send(CHAT, post(*CTA))
    peer.advance(49 * 3600)
    await adapter.delete(old)
    msg = peer.message(GROUP, int(old.message_id))
    assert msg is not None and not msg.deleted and "retracted" in msg.text and msg.reply_markup is None


async def test_what_telegram_would_refuse_is_refused_before_any_request(
    peer: TelegramPeer, adapter: TelegramAdapter
) -> None:
    with pytest.raises(ComposeError, match="64"):
        await adapter.send(CHAT, post(Action("vote:" + "x" * 70, "Te lang")))
    assert peer.calls_to("sendMessage") == []


# -- inbound -----------------------------------------------------------------------------------


async def test_button_press_is_an_action_answered_with_the_cores_text(
    peer: TelegramPeer, adapter: TelegramAdapter, sink: Recorder
) -> None:
    ref = await adapter.send(CHAT, post(*CTA))
    first = await peer.user_presses(ANNA, GROUP, int(ref.message_id), data_for(peer, ref, "vote:2"))
    event = await sink.next(ActionPressed)
    assert event.action_id == "vote:2" and event.message == ref and event.user == UserRef("telegram", str(ANNA), "Anna")
    sink.answer_text = "already counted"
    second = await peer.user_presses(ANNA, GROUP, int(ref.message_id), data_for(peer, ref, "vote:2"))
    again = await sink.next(ActionPressed)
    assert again.event_id != event.event_id
    await asyncio.sleep(0)  # the answer call follows the sink
    assert peer.callback_queries[first].answer == {"text": "counted"}
    assert peer.callback_queries[second].answer == {"text": "already counted"}


async def test_a_press_is_answered_even_when_the_core_does_not_or_fails(
    peer: TelegramPeer, adapter: TelegramAdapter, sink: Recorder
) -> None:
    ref = await adapter.send(CHAT, post(*CTA))
    sink.answer_text = None
    quiet = await peer.user_presses(BRAM, GROUP, int(ref.message_id), data_for(peer, ref, "ack"))
    await sink.next(ActionPressed)
    sink.fail_next = True
    failing = await peer.user_presses(BRAM, GROUP, int(ref.message_id), data_for(peer, ref, "ack"))
    await peer.user_sends(BRAM, GROUP, "/help")  # polling goes on after a failing sink
    await sink.next(CommandIssued)
    assert peer.callback_queries[quiet].answer == {}
    assert peer.callback_queries[failing].answer == {}


async def test_native_reactions_are_added_and_removed(
    peer: TelegramPeer, adapter: TelegramAdapter, sink: Recorder
) -> None:
    ref = await adapter.send(CHAT, post(*CTA))
    await peer.react(ANNA, GROUP, int(ref.message_id), "👍")
    added = await sink.next(ReactionAdded)
    assert (added.message, added.reaction, added.user.user_id) == (ref, "👍", str(ANNA))
    await peer.user_reacts(ANNA, GROUP, int(ref.message_id), ["❤"])
    removed = await sink.next(ReactionRemoved)
    assert removed.reaction == "👍"
    assert (await sink.next(ReactionAdded)).reaction == "❤"


async def test_reply_to_a_post_is_a_reply(peer: TelegramPeer, adapter: TelegramAdapter, sink: Recorder) -> None:
    ref = await adapter.send(CHAT, post(*CTA))
    await peer.user_sends(BRAM, GROUP, "Ik kom!", reply_to=int(ref.message_id))
    event = await sink.next(ReplyPosted)
    assert event.message == ref and event.text == "Ik kom!" and event.user.display_name == "Bram"


async def test_commands_addressed_to_the_bot_only(peer: TelegramPeer, adapter: TelegramAdapter, sink: Recorder) -> None:
    await peer.user_sends(ANNA, GROUP, "/stats@other_bot 3")
    await peer.user_sends(ANNA, GROUP, "/stats@prikbord_bot 12")
    event = await sink.next()
    assert isinstance(event, CommandIssued)
    assert (event.name, event.args, event.chat, event.private_chat) == ("stats", "12", CHAT, False)
    await peer.user_sends(ANNA, ANNA, "/mine")
    private = await sink.next(CommandIssued)
    assert private.private_chat and private.chat == ChatRef("telegram", str(ANNA))


async def test_bot_removed_and_group_migrated(peer: TelegramPeer, adapter: TelegramAdapter, sink: Recorder) -> None:
    peer.add_chat(-42, "group", "Oud")
    await peer.bot_membership(-42, "kicked", by_user=ANNA)
    removed = await sink.next(ChannelMembershipChanged)
    assert removed.chat == ChatRef("telegram", "-42") and not removed.joined and "Anna" in removed.reason
    await peer.bot_membership(-42, "member", by_user=ANNA)
    assert (await sink.next(ChannelMembershipChanged)).joined
    await peer.migrate_chat(-42, -1004200000, by_user=ANNA)
    migrated = await sink.next(ChannelMigrated)
    assert migrated.chat == ChatRef("telegram", "-42") and migrated.new_chat_id == "-1004200000"
    with pytest.raises(ChatMoved) as moved:
        await adapter.send(ChatRef("telegram", "-42"), post())
    assert moved.value.new_chat_id == "-1004200000" and isinstance(moved.value, PermanentError)


async def test_commands_menu_in_dutch_and_english(peer: TelegramPeer, adapter: TelegramAdapter) -> None:
    default_nl = [c["command"] for c in peer.commands_for(language_code="nl")]
    assert "post" in default_nl and "approve" not in default_nl
    assert peer.commands_for(language_code="en") and peer.commands_for()
    moderator = [c["command"] for c in peer.commands_for({"type": "chat", "chat_id": ANNA}, "nl")]
    assert {"post", "approve", "reject", "pending"} <= set(moderator)


async def test_replies_go_private_or_fall_back_to_the_group(
    peer: TelegramPeer, adapter: TelegramAdapter, sink: Recorder
) -> None:
    await peer.user_sends(ANNA, GROUP, "/stats 12")
    command = await sink.next(CommandIssued)
    await adapter.reply(command, "Bereikt: 40")
    assert [m.text for m in peer.bot_messages(ANNA)] == ["Bereikt: 40"]
    await peer.user_sends(CARLA, GROUP, "/mine")
    command = await sink.next(CommandIssued)
    await adapter.reply(command, "Niets open")
    (in_group,) = peer.bot_messages(GROUP)
    assert in_group.text == "Niets open" and in_group.reply_to == int(command.message.message_id)
    assert await adapter.send_private(UserRef("telegram", str(BRAM)), "Herinnering") is True
    assert await adapter.send_private(UserRef("telegram", str(CARLA)), "Herinnering") is False


# -- errors ------------------------------------------------------------------------------------


async def test_flood_429_becomes_rate_limited_with_retry_after(sink: Recorder) -> None:
    clock = [0.0]
    async with TelegramPeer(clock=lambda: clock[0]) as strict:
        strict.add_chat(GROUP, "supergroup", "Kantoor")
        async with running(strict, sink) as adapter:
            await adapter.send(CHAT, post())
            with pytest.raises(RateLimited) as limited:
                await adapter.send(CHAT, post())
            assert limited.value.retry_after == 1
            clock[0] += 1
            await adapter.send(CHAT, post())
        assert strict.unknown_params == []


async def test_forbidden_and_unknown_chats_are_permanent_with_an_operator_message(
    peer: TelegramPeer, adapter: TelegramAdapter
) -> None:
    peer.chats[GROUP].bot_status = "kicked"
    with pytest.raises(PermanentError) as kicked:
        await adapter.send(CHAT, post())
    message = str(kicked.value)
    assert f"chat {GROUP} rejected the bot" in message and "add it to the group or remove the channel" in message
    with pytest.raises(PermanentError, match="chat -1009 rejected the bot"):
        await adapter.send(ChatRef("telegram", "-1009"), post())


async def test_a_wrong_token_is_an_auth_error_that_never_shows_the_token(peer: TelegramPeer) -> None:
    wrong = "123456789:wrong-token-that-must-not-leak"
    adapter = TelegramAdapter(token=wrong, api_base_url=peer.api_base_url)
    with pytest.raises(AdapterAuthError) as refused:
        await adapter.start(Recorder())
    assert "wrong-token" not in str(refused.value) and "token" in str(refused.value)
    result = await adapter.check()
    assert not result.ok and "refused" in result.detail and "wrong-token" not in result.detail


async def test_check_reports_the_bots_name(peer: TelegramPeer) -> None:
    adapter = TelegramAdapter(token=peer.token, api_base_url=peer.api_base_url)
    result = await adapter.check()
    assert result.ok and "@prikbord_bot" in result.detail and "Prikbord" in result.detail


async def test_unreachable_server_is_transient() -> None:
    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    adapter = TelegramAdapter(token="1:x", api_base_url=f"http://127.0.0.1:{port}", request_timeout=2)
    try:
        with pytest.raises(TransientError):
            await adapter.send(CHAT, post())
        result = await adapter.check()
        assert not result.ok and "cannot reach" in result.detail
    finally:
        await adapter.stop()


async def test_the_token_stays_out_of_the_logs(peer: TelegramPeer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with running(peer) as adapter:
        await adapter.send(CHAT, post())
    assert caplog.records and peer.token not in caplog.text


# -- webhook -----------------------------------------------------------------------------------

Post = Callable[[dict[str, str], bytes], Awaitable[tuple[int, bytes]]]


@asynccontextmanager
async def webhook_adapter(peer: TelegramPeer, sink: Recorder) -> AsyncIterator[TelegramAdapter]:
    """The adapter in webhook mode behind a minimal web app, as bot/ mounts it at /telegram/webhook."""
    holder: list[TelegramAdapter] = []

    async def route(request: web.Request) -> web.Response:
        reply = await holder[0].handle_http(request.headers, await request.read())
        return web.Response(status=reply.status, body=reply.body, headers={"Content-Type": reply.content_type})

    app = web.Application()
    app.router.add_post("/telegram/webhook", route)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/telegram/webhook"
    adapter = TelegramAdapter(
        token=peer.token, api_base_url=peer.api_base_url, mode="webhook", webhook_url=url, webhook_secret=SECRET
    )
    holder.append(adapter)
    try:
        await adapter.start(sink)
        yield adapter
    finally:
        await adapter.stop()
        await runner.cleanup()


async def test_webhook_registration_and_answer_in_the_reply(peer: TelegramPeer, sink: Recorder) -> None:
    async with webhook_adapter(peer, sink) as adapter:
        (registered,) = peer.calls_to("setWebhook")
        assert registered.params["secret_token"] == SECRET
        assert set(registered.params["allowed_updates"]) == {
            "message",
            "callback_query",
            "message_reaction",
            "my_chat_member",
            "chat_member",
        }
        ref = await adapter.send(CHAT, post(*CTA))
        query = await peer.user_presses(ANNA, GROUP, int(ref.message_id), data_for(peer, ref, "ack"))
        assert (await sink.next(ActionPressed)).action_id == "ack"
        # Answered inside the webhook's HTTP reply: no separate answerCallbackQuery request.
        assert peer.callback_queries[query].answer == {"text": "counted"}
        assert peer.webhook_deliveries[-1][1] == 200
        await peer.react(BRAM, GROUP, int(ref.message_id), "👍")
        assert (await sink.next(ReactionAdded)).reaction == "👍"


async def test_webhook_refuses_wrong_secrets_and_malformed_updates(peer: TelegramPeer, sink: Recorder) -> None:
    async with webhook_adapter(peer, sink) as adapter:
        update = {
            "update_id": 1,
            "message": {
                "message_id": 1,
                "date": 1,
                "chat": {"id": GROUP, "type": "supergroup"},
                "from": {"id": ANNA, "is_bot": False, "first_name": "A"},
                "text": "/help",
            },
        }
        body = json.dumps(update).encode()
        assert (await peer.post_webhook(body, None))[0] == 403
        assert (await peer.post_webhook(body, SECRET + "x"))[0] == 403
        assert (await peer.post_webhook(b"{not json", SECRET))[0] == 400
        assert (await peer.post_webhook(b"[1, 2]", SECRET))[0] == 400
        assert (await peer.post_webhook(json.dumps({"message": update["message"]}).encode(), SECRET))[0] == 400
        assert sink.events.empty()  # nothing of those reached the core
        reply = await adapter.handle_http({SECRET_HEADER.lower(): SECRET}, body)
        assert reply.status == 200
        assert (await sink.next(CommandIssued)).name == "help"


async def test_a_topic_that_is_gone_is_permanent_with_an_operator_message(
    peer: TelegramPeer, adapter: TelegramAdapter
) -> None:
    """Forum topics (#15): a channel's thread_id names a topic Telegram does not know (deleted, or the group
    is no forum): the channel cannot be reached until the config changes."""
    with pytest.raises(PermanentError) as gone:
        await adapter.send(ChatRef("telegram", f"{GROUP}/77"), post())
    message = str(gone.value)
    assert f"chat {GROUP}/77: topic 77 is not in the group" in message and "message thread not found" in message.lower()
    assert "set thread_id to an open topic of the forum or remove the channel" in message
