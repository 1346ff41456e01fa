"""Regression tests of issue 17's poison input (items 4, 6 and 9): each defect as it was reported, against
the whole App and its real web app, on SQLite and PostgreSQL.

- Deeply nested JSON on both webhooks (100k arrays, 50k objects, 5k levels inside a callback_query): 400,
  refused before anything parses it. A Slack event whose ``user`` is a number, an interactivity
  ``payload`` that is a JSON array, ``/search`` with 900 KB of text: 400. Each is logged once without a
  traceback, counted in ``prikbord_refused_input``, and stores nothing.
- Telegram polling skips an update it cannot parse (a message without ``date``, a ``from`` that is a
  string): the offset moves past it and the next update is handled.
- Control characters and bidi overrides are stripped from posts, a title with nothing visible is refused,
  whatever the input path; a 422 echoes only an excerpt of a 10 MB body.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from bot.clock import FrozenClock
from bot.services.drafts import DraftError, PostDraft, clean_text, has_visible, normalized
from bot.web.webhooks import WebhooksFirst, json_depth_exceeds
from content import posts
from content.db import Store
from tests.faults.webhooks import (
    ANNA,
    GROUP,
    SlackSide,
    TelegramSide,
    eventually,
    refused_metric,
    slack_side,
    stored_rows,
    telegram_command,
    telegram_press,
    telegram_side,
    watching_logs,
)

ADMIN = {"Authorization": "Bearer poison-admin-token-0123456789"}
FORM = "application/x-www-form-urlencoded"


def nested_arrays(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


def nested_objects(levels: int) -> bytes:
    return b'{"a":' * levels + b"1" + b"}" * levels


async def metrics_text(side: SlackSide | TelegramSide) -> str:
    assert side.http is not None
    answer = await side.http.get("/metrics")
    assert answer.status_code == 200
    return answer.text


# -- deep nesting -------------------------------------------------------------------------------------


async def test_deeply_nested_json_gets_400_on_the_telegram_webhook(store: Store, clock: FrozenClock) -> None:
    async with telegram_side(store, clock) as telegram, watching_logs() as logs:
        before = await stored_rows(store)
        press = telegram_press(900_000_001)
        inside = (
            json.dumps(press).encode().replace(b'"chat_instance": "42"', b'"chat_instance": ' + nested_arrays(5000))
        )
        assert inside != json.dumps(press).encode()
        for body in (nested_arrays(100_000), nested_objects(50_000), inside):
            mark = logs.mark()
            answer = await telegram.deliver(body)
            assert answer.status_code == 400, answer.text
            assert "nested deeper" in answer.text
            refused = logs.since(mark, prefix="bot.web")
            assert len(refused) == 1 and len(refused[0].getMessage()) < 300  # once, and without the body
        assert logs.tracebacks() == []
        await telegram.app.settle()
        assert await stored_rows(store) == before
        # Still serving: the same press, not nested, is answered in the webhook's reply.
        good = await telegram.deliver(json.dumps(press).encode())
        assert good.status_code == 200 and good.json()["method"] == "answerCallbackQuery"
        await telegram.app.settle()
        assert (await stored_rows(store))["responses"] == before["responses"]  # on a message never sent


async def test_deeply_nested_json_gets_400_on_the_slack_endpoint(store: Store, clock: FrozenClock) -> None:
    async with slack_side(store, clock) as slack, watching_logs() as logs:
        before = await stored_rows(store)
        interactivity = urlencode({"payload": '{"type": "block_actions", "actions": ' + "[" * 5000 + "]" * 5000 + "}"})
        requests = [
            slack.signed(nested_arrays(100_000)),
            slack.signed(nested_objects(50_000)),
            slack.signed(interactivity.encode(), FORM),
        ]
        for request in requests:
            answer = await slack.deliver(request)
            assert answer.status_code == 400, answer.text
            assert "nested deeper" in answer.text
        assert logs.tracebacks() == []
        assert await stored_rows(store) == before


async def test_the_webhook_gate_counts_what_it_refuses(store: Store, clock: FrozenClock) -> None:
    async def no_api(scope: Scope, receive: Receive, send: Send) -> None:
        raise AssertionError("a webhook path reached the API")

    async with slack_side(store, clock) as slack:
        gate = WebhooksFirst(no_api, slack.app.adapters, [], on_refused=slack.app.metrics.observe_refused)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gate), base_url="http://gate.test") as http:
            for body in (nested_arrays(65), nested_objects(1000)):
                request = slack.signed(body)
                answer = await http.post("/slack/events", content=request.body, headers=request.headers)
                assert answer.status_code == 400
            request = slack.signed(b"[" * 64 + b"]" * 64)  # 64 levels pass the gate; the adapter refuses an array
            answer = await http.post("/slack/events", content=request.body, headers=request.headers)
            assert answer.status_code == 400 and "nested" not in answer.text
        text = (await slack.http.get("/metrics")).text
        assert 'prikbord_refused_input_total{platform="slack",reason="too_deep"} 2.0' in text


def test_the_depth_scan_counts_brackets_outside_strings_only() -> None:
    assert not json_depth_exceeds(json.dumps({"text": "[" * 10_000, "more": '{\\"[[[['}).encode())
    assert json_depth_exceeds(json.dumps([[[[1]]]]).encode(), limit=3)
    assert not json_depth_exceeds(json.dumps([[[1]], [[2]], [[3]]] * 100).encode(), limit=3)
    assert not json_depth_exceeds(b"[" * 64 + b"]" * 64)
    assert json_depth_exceeds(b"[" * 65 + b"]" * 65)


# -- wrong types ---------------------------------------------------------------------------------------


def _reaction_event(slack: SlackSide, user: Any, event_id: str) -> bytes:
    """A reaction_added event as Slack wraps it, on a message prikbord never sent, by ``user``."""
    peer = slack.peer
    envelope = {
        "token": "legacy-verification-token",
        "team_id": peer.team_id,
        "api_app_id": peer.app_id,
        "event": {
            "type": "reaction_added",
            "user": user,
            "reaction": "+1",
            "item": {"type": "message", "channel": slack.channel, "ts": "1700000000.000100"},
            "event_ts": "1700000001.000200",
        },
        "type": "event_callback",
        "event_id": event_id,
        "event_time": 1700000001,
        "authorizations": [{"team_id": peer.team_id, "user_id": peer.bot_user_id, "is_bot": True}],
    }
    return json.dumps(envelope).encode()


async def test_a_slack_user_that_is_a_number_and_a_payload_that_is_an_array_get_400(
    store: Store, clock: FrozenClock
) -> None:
    async with slack_side(store, clock) as slack, watching_logs() as logs:
        before = await stored_rows(store)
        requests = [
            slack.signed(_reaction_event(slack, 12345, "Ev0000000001")),
            slack.signed(_reaction_event(slack, ["U1"], "Ev0000000002")),
            slack.signed(urlencode({"payload": "[1, 2, 3]"}).encode(), FORM),
            slack.signed(urlencode({"payload": '[{"type": "block_actions"}]'}).encode(), FORM),
            slack.signed(urlencode({"payload": json.dumps({"type": "block_actions", "user": 7})}).encode(), FORM),
        ]
        for request in requests:
            mark = logs.mark()
            answer = await slack.deliver(request)
            assert answer.status_code == 400, (answer.status_code, request.body[:80])
            refused = logs.since(mark, prefix="adapters.slack")
            assert len(refused) == 1, [r.getMessage() for r in refused]
        assert logs.tracebacks() == []
        assert refused_metric(await metrics_text(slack), "slack") == len(requests)
        await slack.drained()
        await slack.app.settle()
        assert await stored_rows(store) == before
        # The same reaction with a string user is taken (on a message prikbord never sent: no response).
        assert (await slack.deliver(slack.signed(_reaction_event(slack, "U0ANNA", "Ev0000000003")))).status_code == 200
        await slack.drained()
    assert (await stored_rows(store))["responses"] == before["responses"]


# -- oversized commands ----------------------------------------------------------------------------------


async def test_a_900_kb_search_is_refused_on_slack_and_nothing_is_answered(store: Store, clock: FrozenClock) -> None:
    async with slack_side(store, clock) as slack, watching_logs() as logs:
        before = await stored_rows(store)
        huge = slack.peer.slash_command("anna", slack.channel, "search " + "verlof " * 130_000)
        assert 900_000 < len(huge.body) < 1024 * 1024
        answer = await slack.deliver(huge)
        assert answer.status_code == 400 and "at most 40000" in answer.text
        await slack.app.settle()
        assert await stored_rows(store) == before
        # An ordinary search still works and is answered (ephemerally, through the response URL).
        calls = len(slack.peer.calls)
        assert (
            await slack.deliver(slack.peer.slash_command("anna", slack.channel, "search verlof"))
        ).status_code == 200
        await eventually(lambda: len(slack.peer.calls) > calls, "the answer to the ordinary search")
        assert logs.tracebacks() == []
    after = await stored_rows(store)
    assert after["responses"] == before["responses"] and after["posts"] == before["posts"]


async def test_a_900_kb_search_is_refused_on_telegram_and_nothing_is_answered(store: Store, clock: FrozenClock) -> None:
    async with telegram_side(store, clock) as telegram, watching_logs() as logs:
        before = await stored_rows(store)
        body = json.dumps(telegram_command("/search " + "verlof " * 130_000, 900_000_010)).encode()
        assert 900_000 < len(body) < 1024 * 1024
        answer = await telegram.deliver(body)
        assert answer.status_code == 400 and "at most 4096" in answer.text
        assert telegram.peer.calls_to("sendMessage") == []
        ordinary = await telegram.deliver(json.dumps(telegram_command("/search verlof", 900_000_011)).encode())
        assert ordinary.status_code == 200
        # Its answer goes out beside the webhook's 200 (bot/services/background.py).
        await eventually(lambda: telegram.peer.calls_to("sendMessage") != [], "the answer to the ordinary search")
        assert logs.tracebacks() == []
        assert refused_metric(await metrics_text(telegram), "telegram") == 1
    after = await stored_rows(store)
    assert after["responses"] == before["responses"] and after["posts"] == before["posts"]


# -- polling --------------------------------------------------------------------------------------------

UNPARSEABLE: list[dict[str, Any]] = [
    # A message without date, as the issue found it.
    {
        "message": {
            "message_id": 1,
            "chat": {"id": GROUP, "type": "supergroup"},
            "from": {"id": ANNA, "is_bot": False, "first_name": "A"},
            "text": "/help",
        }
    },
    # A from that is a string, in a message and in a press.
    {
        "message": {
            "message_id": 2,
            "date": 1,
            "chat": {"id": GROUP, "type": "supergroup"},
            "from": "anna",
            "text": "/help",
        }
    },
    {"callback_query": {"id": "1", "from": "anna", "chat_instance": "1", "data": "-:like"}},
    # Wrong types further in.
    {"message_reaction": {"chat": {"id": "kantoor"}, "message_id": 3, "date": 1, "user": {"id": ANNA}}},
    {"my_chat_member": [1, 2, 3]},
    {"message": {"message_id": 4, "date": 1, "chat": {"id": GROUP, "type": "supergroup"}, "text": {"nested": True}}},
]


async def test_polling_skips_an_unparseable_update_and_handles_the_next(store: Store, clock: FrozenClock) -> None:
    async with telegram_side(store, clock, mode="polling") as telegram, watching_logs() as logs:
        peer = telegram.peer
        mark = logs.mark()
        for update in UNPARSEABLE:
            peer.deliver_raw(update)
        await peer.user_sends(ANNA, GROUP, "/help")  # a good update after the bad ones
        # Answered: the bad updates did not stop polling.
        await eventually(lambda: peer.calls_to("sendMessage", ok=True) != [], "the answer to /help")
        await eventually(lambda: peer.pending_updates() == 0, "the offset to move past every update")
        skipped = [
            r for r in logs.since(mark, prefix="prikbord.adapters.telegram") if "refused an update" in r.getMessage()
        ]
        assert len(skipped) == len(UNPARSEABLE)  # each logged once
        assert all(len(r.getMessage()) < 400 for r in skipped)
        assert logs.tracebacks() == []
        assert telegram.adapter.connected


# -- what a post may carry --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("Hal\x07lo \x1b[31mrood\x08!", "Hallo [31mrood!"),
        ("\u202eevil\u202c title \u2066x\u2069", "evil title x"),
        ("  spaced\tout\r\nover lines ", "spaced out over lines"),
        ("lone \ud800 surrogate", "lone \ufffd surrogate"),
    ],
)
def test_clean_text_strips_control_and_bidi_characters(typed: str, kept: str) -> None:
    assert clean_text(typed, multiline=False) == kept
    assert normalized(PostDraft(title=typed), require_call_to_action=False).title == kept


def test_a_body_keeps_its_lines_and_tabs_but_not_control_characters() -> None:
    body = "eerste\x00 regel\r\n\tinspringen\x1b\n\nalinea\u202d\x7f"
    assert clean_text(body, multiline=True) == "eerste regel\n\tinspringen\n\nalinea"
    draft = normalized(PostDraft(title="Titel", body=body), require_call_to_action=False)
    assert draft.body == "eerste regel\n\tinspringen\n\nalinea"


@pytest.mark.parametrize("title", ["\u200b\u200b", "\u3164", "\u202e\u202c", "\x07\x08\x1b", " \u2800 ", "\u0301", ""])
def test_a_title_with_nothing_visible_is_refused(title: str) -> None:
    assert not has_visible(clean_text(title, multiline=False))
    with pytest.raises(DraftError, match="needs a title"):
        normalized(PostDraft(title=title, body="tekst"), require_call_to_action=False)


async def test_every_input_path_strips_and_refuses(store: Store, clock: FrozenClock) -> None:
    async with slack_side(store, clock) as slack:
        http = slack.http
        # The admin API.
        made = await http.post("/api/posts", headers=ADMIN, json={"title": "API\x07 \u202etitel", "body": "a\x1bb"})
        assert made.status_code == 201, made.text
        refused = await http.post("/api/posts", headers=ADMIN, json={"title": "\u200b\u2066\u2069", "body": "x"})
        assert refused.status_code == 422 and "needs a title" in refused.text
        # A chat command: the moderator's slash command.
        command = slack.peer.slash_command("mod", slack.channel, "post \u202bChat\x1b titel | tekst\x08 hier")
        assert (await slack.deliver(command)).status_code == 200
        empty = slack.peer.slash_command("mod", slack.channel, "post \u200b\u3164 | alleen tekst")
        assert (await slack.deliver(empty)).status_code == 200
        await eventually(lambda: len(slack.peer.ephemerals(slack.channel)) >= 2, "both commands answered")

        async def titles() -> dict[str, str]:
            async with store.sessions() as session:
                return {p.title: p.body for p in await posts.recent_posts(session, 10)}

        assert await titles() == {"API titel": "ab", "Chat titel": "tekst hier"}
        answers = [e.text for e in slack.peer.ephemerals(slack.channel)]
        assert any("needs a title" in a for a in answers), answers


async def test_a_422_shows_only_an_excerpt_of_a_10_mb_body(store: Store, clock: FrozenClock) -> None:
    async with slack_side(store, clock) as slack:
        ten_mb = "x" * (10 * 1024 * 1024)
        for body in ({"title": ten_mb}, {"title": 1, "body": ["y" * 1000] * 10_000}, {"title": {"k" * 5000: ten_mb}}):
            answer = await slack.http.post("/api/posts", headers=ADMIN, json=body)
            assert answer.status_code == 422
            assert len(answer.content) < 8 * 1024, len(answer.content)
        async with store.sessions() as session:
            assert await posts.recent_posts(session, 1) == []
