"""The loopback Bot API rejects what Telegram rejects (raw HTTP, no SDK in between)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from tests.peers.telegram import SECRET_HEADER, FloodLimits, TelegramPeer, load_telegram_contract

GROUP = -1009876543210
ANNA = 7001


@pytest.fixture
async def peer() -> AsyncIterator[TelegramPeer]:
    async with TelegramPeer(flood=FloodLimits.off()) as p:
        p.add_chat(GROUP, "supergroup", "Kantoor")
        p.add_user(ANNA, "Anna", username="anna")
        yield p


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def api(
    http: aiohttp.ClientSession,
    peer: TelegramPeer,
    method: str,
    form: dict[str, str] | None = None,
    json_body: dict[str, Any] | None = None,
    token: str | None = None,
) -> tuple[int, dict[str, Any]]:
    url = f"{peer.base_url}/bot{token or peer.token}/{method}"
    async with http.post(url, data=form, json=json_body) as response:
        return response.status, await response.json()


def keyboard(*data: str) -> str:
    return json.dumps({"inline_keyboard": [[{"text": f"b{i}", "callback_data": d} for i, d in enumerate(data)]]})


async def test_get_me_answers_in_telegrams_envelope(peer: TelegramPeer, http: aiohttp.ClientSession) -> None:
    status, body = await api(http, peer, "getMe")
    assert status == 200 and body["ok"] is True
    assert body["result"]["username"] == "prikbord_bot" and body["result"]["is_bot"] is True


async def test_unknown_method_is_not_found(peer: TelegramPeer, http: aiohttp.ClientSession) -> None:
    status, body = await api(http, peer, "sendMesage", {"chat_id": str(GROUP), "text": "x"})
    assert status == 404
    assert body == {"ok": False, "error_code": 404, "description": "Not Found"}


async def test_method_names_are_case_insensitive(peer: TelegramPeer, http: aiohttp.ClientSession) -> None:
    status, _ = await api(http, peer, "getme")
    assert status == 200


async def test_wrong_token_is_unauthorized(peer: TelegramPeer, http: aiohttp.ClientSession) -> None:
    status, body = await api(http, peer, "getMe", token="123456789:wrong")
    assert (status, body["description"]) == (401, "Unauthorized")
    status, _ = await api(http, peer, "getMe", token="not-a-token")
    assert status == 404  # Telegram answers malformed tokens with Not Found


async def test_missing_required_parameter(peer: TelegramPeer, http: aiohttp.ClientSession) -> None:
    status, body = await api(http, peer, "sendMessage", {"chat_id": str(GROUP)})
    assert status == 400 and body["ok"] is False and body["error_code"] == 400
    assert body["description"].startswith("Bad Request:") and '"text"' in body["description"]


async def test_wrong_types_are_rejected(peer: TelegramPeer, http: aiohttp.ClientSession) -> None:
    status, body = await api(http, peer, "deleteMessage", {"chat_id": str(GROUP), "message_id": "abc"})
    assert status == 400 and "message_id" in body["description"]
    status, body = await api(http, peer, "getUpdates", {"timeout": "soon"})
    assert status == 400 and "timeout" in body["description"]
    bad_markup = json.dumps({"inline_keyboard": {"text": "not rows"}})
    status, body = await api(
        http, peer, "sendMessage", {"chat_id": str(GROUP), "text": "x", "reply_markup": bad_markup}
    )
    assert status == 400 and "reply_markup" in body["description"]
    no_text = json.dumps({"inline_keyboard": [[{"callback_data": "x"}]]})
    status, body = await api(http, peer, "sendMessage", {"chat_id": str(GROUP), "text": "x", "reply_markup": no_text})
    assert status == 400 and "text" in body["description"]


async def test_unknown_parameters_are_accepted_but_recorded(peer: TelegramPeer, http: aiohttp.ClientSession) -> None:
    markup = json.dumps({"inline_keyboard": [[{"text": "a", "callback_data": "1:ack", "colour": "red"}]]})
    form = {"chat_id": str(GROUP), "text": "hallo", "reply_markup": markup, "disable_previews": "true"}
    status, _ = await api(http, peer, "sendMessage", form)
    assert status == 200
    assert sorted(peer.unknown_params) == [
        "sendMessage.disable_previews",
        "sendMessage.reply_markup.inline_keyboard[0][0].colour",
    ]


async def test_form_and_json_bodies_are_both_understood(peer: TelegramPeer, http: aiohttp.ClientSession) -> None:
    status, body = await api(http, peer, "sendMessage", json_body={"chat_id": GROUP, "text": "json"})
    assert status == 200 and body["result"]["text"] == "json"
    status, body = await api(http, peer, "sendMessage", {"chat_id": str(GROUP), "text": "form"})
    assert status == 200 and body["result"]["chat"]["id"] == GROUP


async def test_callback_data_over_64_bytes_is_button_data_invalid(
    peer: TelegramPeer, http: aiohttp.ClientSession
) -> None:
    ok = await api(http, peer, "sendMessage", {"chat_id": str(GROUP), "text": "x", "reply_markup": keyboard("a" * 64)})
    assert ok[0] == 200
    for data in ("a" * 65, "€" * 22):  # bytes count, not characters
        status, body = await api(
            http, peer, "sendMessage", {"chat_id": str(GROUP), "text": "x", "reply_markup": keyboard(data)}
        )
        assert (status, body["description"]) == (400, "Bad Request: BUTTON_DATA_INVALID")


async def test_force_reply_is_true_only_never_in_channels_and_noted_on_the_message(
    peer: TelegramPeer, http: aiohttp.ClientSession
) -> None:
    peer.add_chat(-1005, "channel", "Nieuws")
    asked = {"chat_id": str(ANNA), "text": "Titel?", "reply_markup": json.dumps({"force_reply": True})}
    status, sent = await api(http, peer, "sendMessage", asked)
    assert status == 200 and "reply_markup" not in sent["result"]  # a Message carries inline keyboards only
    shown = peer.message(ANNA, sent["result"]["message_id"])
    assert shown is not None and shown.force_reply and shown.reply_markup is None
    status, body = await api(http, peer, "sendMessage", {**asked, "reply_markup": json.dumps({"force_reply": False})})
    assert (status, body["description"]) == (400, "Bad Request: can't parse reply keyboard markup JSON object")
    placeholder = json.dumps({"force_reply": True, "input_field_placeholder": "x" * 65})
    status, body = await api(http, peer, "sendMessage", {**asked, "reply_markup": placeholder})
    assert status == 400 and "placeholder" in body["description"]
    status, body = await api(http, peer, "sendMessage", {**asked, "chat_id": "-1005"})
    assert status == 400 and "not supported in channels" in body["description"]
    plain = await api(http, peer, "sendMessage", {"chat_id": str(ANNA), "text": "x"})
    assert not peer.message(ANNA, plain[1]["result"]["message_id"]).force_reply  # type: ignore[union-attr]


async def test_text_over_4096_characters_is_too_long(peer: TelegramPeer, http: aiohttp.ClientSession) -> None:
    status, body = await api(http, peer, "sendMessage", {"chat_id": str(GROUP), "text": "x" * 4097})
    assert (status, body["description"]) == (400, "Bad Request: message is too long")
    assert (await api(http, peer, "sendMessage", {"chat_id": str(GROUP), "text": "x" * 4096}))[0] == 200
    # Length counts after entity parsing: tags are free.
    html = {"chat_id": str(GROUP), "text": "<b>" + "x" * 4096 + "</b>", "parse_mode": "HTML"}
    assert (await api(http, peer, "sendMessage", html))[0] == 200
    status, body = await api(http, peer, "sendMessage", {"chat_id": str(GROUP), "text": "  "})
    assert (status, body["description"]) == (400, "Bad Request: message text is empty")


@pytest.mark.parametrize("text", ["<b>open", "a < b", "<p>para</p>", "Tom &amp Jerry &nbsp;", "<b>x</i>", "x<br/>y"])
async def test_html_telegram_cannot_parse_is_rejected(
    peer: TelegramPeer, http: aiohttp.ClientSession, text: str
) -> None:
    status, body = await api(http, peer, "sendMessage", {"chat_id": str(GROUP), "text": text, "parse_mode": "HTML"})
    assert status == 400 and body["description"].startswith("Bad Request: can't parse entities")


async def test_unknown_chat_and_kicked_bot(peer: TelegramPeer, http: aiohttp.ClientSession) -> None:
    status, body = await api(http, peer, "sendMessage", {"chat_id": "-1001", "text": "x"})
    assert (status, body["description"]) == (400, "Bad Request: chat not found")
    peer.chats[GROUP].bot_status = "kicked"
    status, body = await api(http, peer, "sendMessage", {"chat_id": str(GROUP), "text": "x"})
    assert status == 403 and body["description"].startswith("Forbidden: bot was kicked")


async def test_flood_limit_per_chat_answers_429_with_retry_after(http: aiohttp.ClientSession) -> None:
    clock = [1000.0]
    async with TelegramPeer(clock=lambda: clock[0]) as peer:
        peer.add_user(ANNA, "Anna")
        assert (await api(http, peer, "sendMessage", {"chat_id": str(ANNA), "text": "1"}))[0] == 200
        status, body = await api(http, peer, "sendMessage", {"chat_id": str(ANNA), "text": "2"})
        assert status == 429 and body["error_code"] == 429
        assert body["parameters"] == {"retry_after": 1}
        assert body["description"] == "Too Many Requests: retry after 1"
        clock[0] += 1.0
        assert (await api(http, peer, "sendMessage", {"chat_id": str(ANNA), "text": "2"}))[0] == 200


async def test_flood_limit_overall_30_per_second(http: aiohttp.ClientSession) -> None:
    clock = [50.0]
    async with TelegramPeer(clock=lambda: clock[0], flood=FloodLimits(per_chat=None, per_group=None)) as peer:
        for i in range(31):
            peer.add_chat(-2000 - i, "group", f"g{i}")
        for i in range(30):
            assert (await api(http, peer, "sendMessage", {"chat_id": str(-2000 - i), "text": "x"}))[0] == 200
        status, body = await api(http, peer, "sendMessage", {"chat_id": "-2030", "text": "x"})
        assert status == 429 and body["parameters"]["retry_after"] >= 1


async def test_flood_limit_20_per_minute_in_a_group(http: aiohttp.ClientSession) -> None:
    clock = [0.0]
    async with TelegramPeer(clock=lambda: clock[0]) as peer:
        peer.add_chat(GROUP, "supergroup", "Kantoor")
        for _ in range(20):
            assert (await api(http, peer, "sendMessage", {"chat_id": str(GROUP), "text": "x"}))[0] == 200
            clock[0] += 1.5  # well inside 1/s per chat
        status, body = await api(http, peer, "sendMessage", {"chat_id": str(GROUP), "text": "x"})
        assert status == 429 and 25 <= body["parameters"]["retry_after"] <= 31
        # Private chats have no per-minute limit.
        peer.add_user(ANNA, "Anna")
        assert (await api(http, peer, "sendMessage", {"chat_id": str(ANNA), "text": "x"}))[0] == 200


async def test_get_updates_long_polls_and_confirms_by_offset(peer: TelegramPeer, http: aiohttp.ClientSession) -> None:
    async def inject_later() -> None:
        await asyncio.sleep(0.05)
        await peer.user_sends(ANNA, GROUP, "hallo")

    task = asyncio.create_task(inject_later())
    status, body = await api(http, peer, "getUpdates", {"timeout": "10"})
    await task
    assert status == 200 and [u["message"]["text"] for u in body["result"]] == ["hallo"]
    first = body["result"][0]["update_id"]
    # Not confirmed yet: returned again; an offset past it confirms it.
    assert (await api(http, peer, "getUpdates", {"offset": str(first)}))[1]["result"][0]["update_id"] == first
    assert (await api(http, peer, "getUpdates", {"offset": str(first + 1)}))[1]["result"] == []


async def test_reactions_are_delivered_only_when_asked_for(peer: TelegramPeer, http: aiohttp.ClientSession) -> None:
    _, sent = await api(http, peer, "sendMessage", {"chat_id": str(GROUP), "text": "post"})
    await peer.react(ANNA, GROUP, sent["result"]["message_id"], "👍")
    assert (await api(http, peer, "getUpdates"))[1]["result"] == []  # Telegram's default leaves them out
    await peer.react(ANNA, GROUP, sent["result"]["message_id"], "👍", added=False)
    _, body = await api(http, peer, "getUpdates", {"allowed_updates": json.dumps(["message_reaction"])})
    reaction = body["result"][0]["message_reaction"]
    assert reaction["old_reaction"] == [{"type": "emoji", "emoji": "👍"}] and reaction["new_reaction"] == []


async def test_edit_rules(peer: TelegramPeer, http: aiohttp.ClientSession) -> None:
    _, sent = await api(http, peer, "sendMessage", {"chat_id": str(GROUP), "text": "post"})
    ids = {"chat_id": str(GROUP), "message_id": str(sent["result"]["message_id"])}
    status, body = await api(http, peer, "editMessageText", {**ids, "text": "post"})
    assert status == 400 and "message is not modified" in body["description"]
    assert (await api(http, peer, "editMessageText", {**ids, "text": "post!"}))[0] == 200
    assert peer.visible_text(GROUP, sent["result"]["message_id"]) == "post!"
    peer.advance(49 * 3600)
    status, body = await api(http, peer, "deleteMessage", ids)
    assert (status, body["description"]) == (400, "Bad Request: message can't be deleted")


async def test_callback_answers_are_recorded_once(peer: TelegramPeer, http: aiohttp.ClientSession) -> None:
    _, sent = await api(
        http, peer, "sendMessage", {"chat_id": str(GROUP), "text": "p", "reply_markup": keyboard("1:a")}
    )
    query_id = await peer.user_presses(ANNA, GROUP, sent["result"]["message_id"], "1:a")
    assert (await api(http, peer, "answerCallbackQuery", {"callback_query_id": query_id, "text": "ok"}))[0] == 200
    assert peer.callback_queries[query_id].answer == {"text": "ok"}
    status, _ = await api(http, peer, "answerCallbackQuery", {"callback_query_id": query_id})
    assert status == 400


async def test_webhook_posts_with_secret_and_runs_the_reply_method(
    peer: TelegramPeer, http: aiohttp.ClientSession
) -> None:
    seen: list[tuple[str | None, dict[str, Any]]] = []

    async def receive(request: web.Request) -> web.Response:
        update = await request.json()
        seen.append((request.headers.get(SECRET_HEADER), update))
        if "callback_query" in update:
            answer = {"method": "answerCallbackQuery", "callback_query_id": update["callback_query"]["id"]}
            return web.json_response(answer | {"text": "counted"})
        return web.Response()

    app = web.Application()
    app.router.add_post("/hook", receive)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
        form = {"url": url, "secret_token": "s3cret", "allowed_updates": json.dumps(["message", "callback_query"])}
        assert (await api(http, peer, "setWebhook", form))[0] == 200
        status, body = await api(http, peer, "getUpdates")
        assert status == 409 and body["description"].startswith("Conflict")
        _, sent = await api(
            http, peer, "sendMessage", {"chat_id": str(GROUP), "text": "p", "reply_markup": keyboard("x")}
        )
        query_id = await peer.user_presses(ANNA, GROUP, sent["result"]["message_id"], "x")
        assert seen and seen[-1][0] == "s3cret" and seen[-1][1]["callback_query"]["data"] == "x"
        assert peer.callback_queries[query_id].answer == {"text": "counted"}
        status, _ = await api(http, peer, "setWebhook", {"url": url, "secret_token": "no spaces allowed"})
        assert status == 400
    finally:
        await runner.cleanup()


async def test_webhook_connections_deliver_chats_side_by_side_and_each_chat_in_order(
    http: aiohttp.ClientSession,
) -> None:
    """As Telegram with max_connections: several requests in flight, never two of one chat, each chat in order."""
    groups = [GROUP - i for i in range(3)]
    in_flight: list[int] = []
    most = 0
    overlapped_chat = False
    order: dict[int, list[str]] = {}

    async def receive(request: web.Request) -> web.Response:
        nonlocal most, overlapped_chat
        query = (await request.json())["callback_query"]
        chat = query["message"]["chat"]["id"]
        overlapped_chat = overlapped_chat or chat in in_flight
        in_flight.append(chat)
        most = max(most, len(in_flight))
        await asyncio.sleep(0.05)
        in_flight.remove(chat)
        order.setdefault(chat, []).append(query["data"])
        return web.json_response({"method": "answerCallbackQuery", "callback_query_id": query["id"]})

    app = web.Application()
    app.router.add_post("/hook", receive)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    async with TelegramPeer(flood=FloodLimits.off(), webhook_connections=2) as peer:
        try:
            peer.add_user(ANNA, "Anna")
            data = [f"{n}" for n in range(4)]
            messages = {}
            for chat in groups:
                peer.add_chat(chat, "supergroup", "Kantoor")
                form = {"chat_id": str(chat), "text": "p", "reply_markup": keyboard(*data)}
                messages[chat] = (await api(http, peer, "sendMessage", form))[1]["result"]["message_id"]
            url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
            assert (await api(http, peer, "setWebhook", {"url": url}))[0] == 200
            presses = [peer.user_presses(ANNA, chat, messages[chat], d) for d in data for chat in groups]
            queries = await asyncio.gather(*presses)
            assert most == 2 and not overlapped_chat
            assert order == {chat: data for chat in groups}
            assert all(peer.callback_queries[q].answer == {} for q in queries) and peer.pending_updates() == 0
        finally:
            await runner.cleanup()


def test_missing_contract_is_a_failure_not_a_skip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.fail.Exception, match="contract not found"):
        load_telegram_contract(tmp_path)


def test_the_contract_lives_inside_the_repository() -> None:
    spec = load_telegram_contract()
    assert spec["methods"]["sendMessage"]["fields"] and spec["version"].startswith("Bot API")


async def test_message_thread_id_goes_to_a_forums_topic_and_is_refused_elsewhere(
    peer: TelegramPeer, http: aiohttp.ClientSession
) -> None:
    forum = -1009876543211
    peer.add_chat(forum, "supergroup", "Forum")
    topic = peer.add_topic(forum, "Sales")
    status, body = await api(http, peer, "sendMessage", {"chat_id": str(forum), "text": "x", "message_thread_id": "9"})
    assert (status, body["description"]) == (400, "Bad Request: message thread not found")  # no such topic
    status, body = await api(http, peer, "sendMessage", {"chat_id": str(GROUP), "text": "x", "message_thread_id": "1"})
    assert (status, body["description"]) == (400, "Bad Request: message thread not found")  # not a forum
    status, body = await api(
        http, peer, "sendMessage", {"chat_id": str(forum), "text": "x", "message_thread_id": str(topic)}
    )
    assert status == 200
    sent = body["result"]
    assert (sent["message_thread_id"], sent["is_topic_message"], sent["chat"]["is_forum"]) == (topic, True, True)
    (msg,) = peer.bot_messages(forum)  # the topic's forum_topic_created message is no message of the bot's
    assert msg.thread_id == topic
    update = await peer.user_sends(ANNA, forum, "hallo", thread_id=topic)
    message = update["message"]
    assert (message["message_thread_id"], message["is_topic_message"]) == (topic, True)
    assert message["reply_to_message"]["forum_topic_created"] == {"name": "Sales", "icon_color": 7322096}


async def test_a_closed_topic_takes_posts_from_admins_only(peer: TelegramPeer, http: aiohttp.ClientSession) -> None:
    forum = -1009876543212
    peer.add_chat(forum, "supergroup", "Forum")
    topic = peer.add_topic(forum, "Sales")
    peer.close_topic(forum, topic)
    send = {"chat_id": str(forum), "text": "x", "message_thread_id": str(topic)}
    status, body = await api(http, peer, "sendMessage", send)
    assert (status, body["description"]) == (400, "Bad Request: TOPIC_CLOSED")
    assert peer.bot_messages(forum) == []
    peer.chats[forum].bot_status = "administrator"
    status, _ = await api(http, peer, "sendMessage", send)
    assert status == 200
