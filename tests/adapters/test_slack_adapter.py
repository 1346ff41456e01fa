"""The Slack adapter end to end: bolt and slack_sdk over HTTP against the loopback Web API peer, and
requests into ``handle_http`` signed exactly as Slack signs them."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

import pytest

from adapters.base import (
    Action,
    ActionPressed,
    ActionStyle,
    AdapterAuthError,
    ChannelMembershipChanged,
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
from adapters.slack.adapter import SlackAdapter
from tests.peers.slack import SignedRequest, SlackPeer, Window

parse_markdown = MarkupParser().parse


@dataclass
class Slack:
    peer: SlackPeer
    adapter: SlackAdapter
    events: asyncio.Queue[Event]
    channel: str

    @property
    def chat(self) -> ChatRef:
        return ChatRef("slack", self.channel)

    async def post(self, request: SignedRequest) -> int:
        return (await self.adapter.handle_http(*request)).status

    async def next_event(self) -> Event:
        return await asyncio.wait_for(self.events.get(), timeout=5)

    async def nothing_arrives(self) -> None:
        await asyncio.sleep(0.05)  # long enough for a spawned task to reach the sink
        assert self.events.empty()


@pytest.fixture
async def slack() -> AsyncIterator[Slack]:
    async with SlackPeer(per_channel_rate=None, workspace_rate=None) as peer:
        events: asyncio.Queue[Event] = asyncio.Queue()
        adapter = SlackAdapter(
            bot_token=peer.bot_token, signing_secret=peer.signing_secret, api_base_url=peer.api_base_url
        )
        await adapter.start(events.put)
        try:
            yield Slack(peer, adapter, events, peer.add_channel("general", members=("anna", "bram")))
        finally:
            await adapter.stop()


def _post(*actions: Action, body: str = "Vanaf januari geldt de nieuwe regeling.") -> OutboundMessage:
    return OutboundMessage(
        parse_markdown(f"**Nieuwe verlofregeling**\n\n{body}"),
        actions,
        post_id=12,
        delivery_id=34,
        idempotency_key="d34",
    )


ACK = Action("ack", "✅ Read", style=ActionStyle.PRIMARY, count=0)
POLL = (Action("vote:1", "Pizza", count=0), Action("vote:2", "Sushi", count=0))
LINK = Action("link", "Open", url="https://intranet.example/r/tok12")


async def test_post_with_acknowledge_poll_and_link_buttons(slack: Slack) -> None:
    other = slack.peer.add_channel("random")
    refs = [await slack.adapter.send(ChatRef("slack", ch), _post(ACK, *POLL, LINK)) for ch in (slack.channel, other)]
    for ref in refs:
        (message,) = slack.peer.messages(ref.chat.chat_id)
        assert message.ts == ref.message_id
        assert message.metadata == {
            "event_type": "prikbord_post",
            "event_payload": {"post_id": 12, "delivery_id": 34, "idempotency_key": "d34"},
        }
        assert message.blocks is not None
        buttons = [e for b in message.blocks if b["type"] == "actions" for e in b["elements"]]
        assert [b["action_id"] for b in buttons] == ["ack", "vote:1", "vote:2", "link"]
        assert buttons[3]["url"] == "https://intranet.example/r/tok12"
        assert {b["value"] for b in buttons} == {"p12.d34"}
        text = slack.peer.visible_text(ref.chat.chat_id, ref.message_id)
        assert text is not None and "Nieuwe verlofregeling" in text and "✅ Read (0)" in text
    assert all(c.method in ("auth.test", "chat.postMessage") for c in slack.peer.calls)


async def test_press_arrives_after_the_ack_and_the_count_is_edited(slack: Slack) -> None:
    ref = await slack.adapter.send(slack.chat, _post(ACK))
    assert await slack.post(slack.peer.press("anna", slack.channel, ref.message_id, "ack")) == 200
    event = await slack.next_event()
    assert isinstance(event, ActionPressed)
    assert (event.message, event.action_id, event.user.display_name) == (ref, "ack", "anna")
    await event.answer("counted")
    (note,) = slack.peer.ephemerals(slack.channel, "anna")
    assert note.text == "counted" and note.via == "chat.postEphemeral"
    await slack.adapter.edit(ref, _post(Action("ack", "✅ Read", count=1)))
    assert "✅ Read (1)" in (slack.peer.visible_text(slack.channel, ref.message_id) or "")
    assert slack.peer.calls_of("chat.update")[-1].error is None


async def test_the_ack_does_not_wait_for_the_core(slack: Slack) -> None:
    release = asyncio.Event()
    seen: list[Event] = []

    async def slow_sink(event: Event) -> None:
        seen.append(event)
        await release.wait()

    slack.adapter._sink = slow_sink  # the core is busy (a slow database)
    ref = await slack.adapter.send(slack.chat, _post(ACK))
    started = time.perf_counter()
    assert await slack.post(slack.peer.press("anna", slack.channel, ref.message_id, "ack")) == 200
    assert time.perf_counter() - started < 1.0  # Slack wants the ack within 3 s
    await asyncio.sleep(0.01)
    assert len(seen) == 1
    release.set()


async def test_repeated_presses_and_slack_retries(slack: Slack) -> None:
    ref = await slack.adapter.send(slack.chat, _post(ACK))
    first = slack.peer.press("anna", slack.channel, ref.message_id, "ack")
    await slack.post(first)
    await slack.post(slack.peer.press("anna", slack.channel, ref.message_id, "ack"))
    one, two = await slack.next_event(), await slack.next_event()
    assert one.event_id != two.event_id  # two presses: the core counts the person once
    reaction = slack.peer.reaction("bram", slack.channel, ref.message_id, "+1")
    await slack.post(reaction)
    await slack.post(slack.peer.retry(reaction, attempt=1))
    original, retried = await slack.next_event(), await slack.next_event()
    assert original.event_id == retried.event_id and original.event_id.startswith("Ev")


async def test_reactions_like_and_unlike(slack: Slack) -> None:
    ref = await slack.adapter.send(slack.chat, _post())
    await slack.post(slack.peer.reaction("bram", slack.channel, ref.message_id, "thumbsup"))
    await slack.post(slack.peer.reaction("bram", slack.channel, ref.message_id, "thumbsup", added=False))
    added, removed = await slack.next_event(), await slack.next_event()
    assert isinstance(added, ReactionAdded) and added.reaction == "👍" and added.message == ref
    assert isinstance(removed, ReactionRemoved) and removed.reaction == "👍" and removed.user == added.user


async def test_thread_reply(slack: Slack) -> None:
    ref = await slack.adapter.send(slack.chat, _post())
    assert (
        await slack.post(slack.peer.thread_reply("carla", slack.channel, ref.message_id, "Ik kom & neem taart mee"))
        == 200
    )
    event = await slack.next_event()
    assert isinstance(event, ReplyPosted) and event.message == ref and "taart" in event.text


async def test_slash_command_answered_ephemerally(slack: Slack) -> None:
    await slack.post(
        slack.peer.slash_command("anna", slack.channel, "post Lunch | Wat eten we? | cta: poll Pizza; Sushi")
    )
    command = await slack.next_event()
    assert isinstance(command, CommandIssued)
    assert (command.name, command.args) == ("post", "Lunch | Wat eten we? | cta: poll Pizza; Sushi")
    await slack.adapter.reply(command, "Only moderators can post <here>", private=True)
    (answer,) = slack.peer.ephemerals(slack.channel, "anna")
    assert answer.via == "response_url" and answer.text == "Only moderators can post &lt;here&gt;"
    assert slack.peer.messages(slack.channel) == []  # nobody else saw it
    # Without a response_url (forgotten after a restart) the answer goes through chat.postEphemeral.
    stale = CommandIssued("unknown-trigger", command.user, command.chat, "help", "")
    await slack.adapter.reply(stale, "Commands: …")
    assert [e.via for e in slack.peer.ephemerals(slack.channel, "anna")] == ["response_url", "chat.postEphemeral"]


def _stale(request: SignedRequest, peer: SlackPeer) -> SignedRequest:
    old = int(time.time()) - 6 * 60
    return SignedRequest({**request.headers, **peer.sign(request.body, timestamp=old)}, request.body)


async def test_unsigned_wrongly_signed_and_stale_requests_get_401(slack: Slack) -> None:
    ref = await slack.adapter.send(slack.chat, _post(ACK))
    press = slack.peer.press("anna", slack.channel, ref.message_id, "ack")
    unsigned = SignedRequest({"Content-Type": press.headers["Content-Type"]}, press.body)
    wrong = SignedRequest({**press.headers, **slack.peer.sign(press.body, secret="not-the-secret")}, press.body)
    tampered = SignedRequest(press.headers, press.body.replace(b"ack", b"vote:1"))
    garbage_ts = SignedRequest({**press.headers, "X-Slack-Request-Timestamp": "soon"}, press.body)
    malformed_unsigned = SignedRequest({"Content-Type": "application/json"}, b"{not json")
    for request in (unsigned, wrong, tampered, _stale(press, slack.peer), garbage_ts, malformed_unsigned):
        assert await slack.post(request) == 401
    await slack.nothing_arrives()
    assert not slack.peer.ephemerals(slack.channel)


async def test_malformed_payloads_get_400(slack: Slack) -> None:
    peer = slack.peer
    bodies = [
        (b"{not json", "application/json"),
        (json.dumps({"type": "event_callback", "event": {"type": "reaction_added"}}).encode(), "application/json"),
        (urlencode({"payload": "{broken"}).encode(), "application/x-www-form-urlencoded"),
        (
            urlencode({"payload": json.dumps({"type": "block_actions", "actions": []})}).encode(),
            "application/x-www-form-urlencoded",
        ),
        (b"\xff\xfe", "application/json"),
    ]
    for body, content_type in bodies:
        request = SignedRequest({"Content-Type": content_type, **peer.sign(body)}, body)
        assert await slack.post(request) == 400, body
    await slack.nothing_arrives()


async def test_url_verification_is_answered(slack: Slack) -> None:
    reply = await slack.adapter.handle_http(*slack.peer.url_verification("ch4llenge"))
    assert reply.status == 200 and json.loads(reply.body) == {"challenge": "ch4llenge"}


async def test_channel_errors_are_permanent_with_an_operator_action(slack: Slack) -> None:
    archived = slack.peer.add_channel("old", archived=True)
    outside = slack.peer.add_channel("secret", bot_member=False)
    cases = [("C999999999", "not found"), (archived, "archived"), (outside, "invite it")]
    for channel, hint in cases:
        with pytest.raises(PermanentError, match=hint) as raised:
            await slack.adapter.send(ChatRef("slack", channel), _post())
        assert channel in str(raised.value)


async def test_rate_limits_become_rate_limited_with_retry_after() -> None:
    now = [0.0]
    async with SlackPeer(per_channel_rate=Window(1, 1.0), workspace_rate=Window(20, 1.0), clock=lambda: now[0]) as peer:
        adapter = SlackAdapter(
            bot_token=peer.bot_token, signing_secret=peer.signing_secret, api_base_url=peer.api_base_url
        )
        await adapter.start(asyncio.Queue[Event]().put)
        try:
            chat = ChatRef("slack", peer.add_channel("general"))
            await adapter.send(chat, _post())
            with pytest.raises(RateLimited) as raised:
                await adapter.send(chat, _post())
            assert raised.value.retry_after == 1
            now[0] += 1.0
            await adapter.send(chat, _post())
            peer.fail_next("chat.update", "ratelimited", status=429, retry_after=7)
            with pytest.raises(RateLimited) as raised:
                await adapter.edit(MessageRef(chat, peer.messages(chat.chat_id)[0].ts), _post())
            assert raised.value.retry_after == 7
        finally:
            await adapter.stop()
    assert adapter.limits.per_chat_rates[0].count == 1 and adapter.limits.global_rates[0].count == 20


async def test_transient_errors(slack: Slack) -> None:
    slack.peer.fail_next("chat.postMessage", "service_unavailable", status=503)
    with pytest.raises(TransientError):
        await slack.adapter.send(slack.chat, _post())
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    nowhere = SlackAdapter(
        bot_token="xoxb-x", signing_secret="s", api_base_url=f"http://127.0.0.1:{port}/api/", timeout=2
    )
    await nowhere.start(asyncio.Queue[Event]().put)
    try:
        with pytest.raises(TransientError, match="unreachable"):
            await nowhere.send(slack.chat, _post())
        assert not (await nowhere.check()).ok
    finally:
        await nowhere.stop()


async def test_invalid_auth_stops_the_adapter_with_a_clear_error(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with SlackPeer() as peer:
        token = "xoxb-revoked-0000-secret"
        adapter = SlackAdapter(bot_token=token, signing_secret=peer.signing_secret, api_base_url=peer.api_base_url)
        result = await adapter.check()
        assert not result.ok and "invalid_auth" in result.detail and "BOT_TOKEN" in result.detail
        with pytest.raises(AdapterAuthError, match="invalid_auth"):
            await adapter.start(asyncio.Queue[Event]().put)
        assert not adapter.connected
        good = SlackAdapter(
            bot_token=peer.bot_token, signing_secret=peer.signing_secret, api_base_url=peer.api_base_url
        )
        check = await good.check()
        assert check.ok and "prikbord test (T0PRIKBORD)" in check.detail and "@prikbord" in check.detail
    for secret in (token, peer.bot_token, peer.signing_secret):
        assert secret not in caplog.text
        assert secret not in repr(adapter) + str(result)


async def test_secrets_never_reach_the_logs(slack: Slack, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    ref = await slack.adapter.send(slack.chat, _post(ACK))
    press = slack.peer.press("anna", slack.channel, ref.message_id, "ack")
    await slack.post(press)
    await slack.post(SignedRequest({**press.headers, **slack.peer.sign(press.body, secret="wrong")}, press.body))
    (await slack.next_event())
    slack.peer.fail_next("chat.postMessage", "invalid_auth")
    with pytest.raises(AdapterAuthError):
        await slack.adapter.send(slack.chat, _post())
    assert caplog.text  # bolt and slack_sdk did log at DEBUG
    assert slack.peer.bot_token not in caplog.text and slack.peer.signing_secret not in caplog.text


async def test_delete_and_find_sent(slack: Slack) -> None:
    first = await slack.adapter.send(slack.chat, _post())
    await slack.adapter.send(slack.chat, OutboundMessage(parse_markdown("other"), idempotency_key="d99"))
    assert await slack.adapter.find_sent(slack.chat, "d34") == first
    assert await slack.adapter.find_sent(slack.chat, "d35") is None
    await slack.adapter.delete(first)
    assert slack.peer.visible_text(slack.channel, first.message_id) is None
    await slack.adapter.delete(first)  # already gone: nothing to do


async def test_private_message(slack: Slack) -> None:
    anna = UserRef("slack", slack.peer.add_user("anna"), "anna")
    assert await slack.adapter.send_private(anna, "Herinnering: lees #12")
    (im,) = [c for c in slack.peer.channels.values() if c.im_user == anna.user_id]
    assert [m.text for m in im.messages.values()] == ["Herinnering: lees #12"]
    assert not await slack.adapter.send_private(UserRef("slack", "U0NOBODY01"), "hello?")


async def test_bot_removed_from_a_channel(slack: Slack) -> None:
    await slack.post(slack.peer.bot_membership(slack.channel, joined=False))
    event = await slack.next_event()
    assert isinstance(event, ChannelMembershipChanged) and not event.joined and event.chat == slack.chat
    with pytest.raises(PermanentError, match="invite"):
        await slack.adapter.send(slack.chat, _post())


async def test_app_home_shows_must_reads_and_acknowledges() -> None:
    async with SlackPeer(per_channel_rate=None, workspace_rate=None) as peer:
        events: asyncio.Queue[Event] = asyncio.Queue()
        acked: set[str] = set()
        posted: list[tuple[MessageRef, OutboundMessage]] = []

        async def must_reads(user: UserRef) -> Sequence[tuple[MessageRef, OutboundMessage]]:
            return [(ref, message) for ref, message in posted if user.user_id not in acked]

        async def sink(event: Event) -> None:
            if isinstance(event, ActionPressed) and event.action_id == "ack":
                acked.add(event.user.user_id)
            await events.put(event)

        adapter = SlackAdapter(
            bot_token=peer.bot_token,
            signing_secret=peer.signing_secret,
            api_base_url=peer.api_base_url,
            home_view=must_reads,
        )
        await adapter.start(sink)
        try:
            chat = ChatRef("slack", peer.add_channel("general"))
            message = _post(ACK)
            posted.append((await adapter.send(chat, message), message))
            assert (await adapter.handle_http(*peer.app_home_opened("anna"))).status == 200
            anna = peer.add_user("anna")
            for _ in range(100):
                if anna in peer.home_views:
                    break
                await asyncio.sleep(0.01)
            view = json.dumps(peer.home_views[anna])
            assert "Nieuwe verlofregeling" in view and '"action_id": "ack"' in view
            assert (await adapter.handle_http(*peer.press_home("anna", "ack"))).status == 200
            event = await asyncio.wait_for(events.get(), timeout=5)
            assert isinstance(event, ActionPressed) and event.message == posted[0][0]
            for _ in range(100):
                if "Nothing open" in json.dumps(peer.home_views[anna]):
                    break
                await asyncio.sleep(0.01)
            assert "Nothing open" in json.dumps(peer.home_views[anna])  # published anew after the ack
        finally:
            await adapter.stop()


async def test_socket_mode_when_an_app_token_is_set() -> None:
    async with SlackPeer(per_channel_rate=None, workspace_rate=None) as peer:
        events: asyncio.Queue[Event] = asyncio.Queue()
        adapter = SlackAdapter(
            bot_token=peer.bot_token,
            signing_secret=peer.signing_secret,
            api_base_url=peer.api_base_url,
            app_token=peer.app_token,
        )
        await adapter.start(events.put)
        try:
            chat = ChatRef("slack", peer.add_channel("general"))
            ref = await adapter.send(chat, _post(ACK))
            for _ in range(200):
                if peer.socket_connected:
                    break
                await asyncio.sleep(0.01)
            ack = await peer.over_socket(peer.press("anna", chat.chat_id, ref.message_id, "ack"))
            assert "envelope_id" in ack
            pressed = await asyncio.wait_for(events.get(), timeout=5)
            assert isinstance(pressed, ActionPressed) and pressed.message == ref
            await peer.over_socket(peer.slash_command("anna", chat.chat_id, "stats 12"))
            command = await asyncio.wait_for(events.get(), timeout=5)
            assert isinstance(command, CommandIssued) and (command.name, command.args) == ("stats", "12")
            await adapter.reply(command, "12: 3 reads")
            assert [e.text for e in peer.ephemerals(chat.chat_id, "anna")] == ["12: 3 reads"]
        finally:
            await adapter.stop()
        refused = SlackAdapter(
            bot_token=peer.bot_token,
            signing_secret=peer.signing_secret,
            api_base_url=peer.api_base_url,
            app_token="xapp-wrong",
        )
        with pytest.raises(AdapterAuthError, match="APP_TOKEN"):
            await refused.start(events.put)
