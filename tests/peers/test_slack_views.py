"""The Slack peer's modals (tests/peers/slack_views.py): it refuses what Slack refuses, in Slack's words."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qsl

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.modal import FormWords, form_view
from tests.peers.slack import SlackPeer


@pytest.fixture
async def peer() -> AsyncIterator[SlackPeer]:
    async with SlackPeer(per_channel_rate=None, workspace_rate=None) as p:
        yield p


@pytest.fixture
async def client(peer: SlackPeer) -> AsyncIterator[AsyncWebClient]:
    async with aiohttp.ClientSession() as session:
        yield AsyncWebClient(token=peer.bot_token, base_url=peer.api_base_url, session=session, retry_handlers=[])


async def _error_of(call: Any) -> tuple[str, list[str]]:
    try:
        await call
    except SlackApiError as exc:
        return exc.response["error"], list((exc.response.data.get("response_metadata") or {}).get("messages") or [])
    raise AssertionError("the call succeeded")


def _trigger(peer: SlackPeer, user: str = "anna") -> str:
    channel = peer.add_channel("general") if not peer.channels else next(iter(peer.channels))
    form = dict(parse_qsl(peer.slash_command(user, channel, "post").body.decode()))
    return form["trigger_id"]


FORM = form_view(FormWords())


async def test_a_trigger_opens_one_modal_once_and_expires(peer: SlackPeer, client: AsyncWebClient) -> None:
    trigger = _trigger(peer)
    opened = await client.views_open(trigger_id=trigger, view=FORM)
    assert opened["view"]["id"].startswith("V") and opened["view"]["callback_id"] == "prikbord_post_form"
    assert (await _error_of(client.views_open(trigger_id=trigger, view=FORM)))[0] == "exchanged_trigger_id"
    assert await _error_of(client.views_open(trigger_id="1.2.nothing", view=FORM)) == (
        "invalid_arguments",
        ["invalid `trigger_id`"],
    )
    late = _trigger(peer)
    peer.triggers[late].issued = time.monotonic() - 3.5  # the person's command was 3.5 s ago
    assert (await _error_of(client.views_open(trigger_id=late, view=FORM)))[0] == "expired_trigger_id"


async def test_views_are_checked_as_slack_checks_them(peer: SlackPeer, client: AsyncWebClient) -> None:
    too_large = {**FORM, "blocks": [*FORM["blocks"], *({"type": "divider"} for _ in range(20_000))]}
    assert (await _error_of(client.views_open(trigger_id=_trigger(peer), view=too_large)))[0] == "view_too_large"
    long_title = {**FORM, "title": {"type": "plain_text", "text": "A title longer than twenty-four"}}
    error, messages = await _error_of(client.views_open(trigger_id=_trigger(peer), view=long_title))
    assert error == "invalid_arguments" and "/view/title" in messages[0]
    no_submit = {k: v for k, v in FORM.items() if k != "submit"}
    error, messages = await _error_of(client.views_open(trigger_id=_trigger(peer), view=no_submit))
    assert error == "invalid_arguments" and any("must define submit" in m for m in messages)
    big_metadata = {**FORM, "private_metadata": "x" * 3001}
    assert (await _error_of(client.views_open(trigger_id=_trigger(peer), view=big_metadata)))[0] == "invalid_arguments"
    assert (await _error_of(client.views_update(view_id="VNONE", view=FORM)))[0] == "not_found"


async def test_the_answer_to_a_submission_is_checked(peer: SlackPeer, client: AsyncWebClient) -> None:
    view_id = (await client.views_open(trigger_id=_trigger(peer), view=FORM))["view"]["id"]
    with pytest.raises(AssertionError, match="does not submit the form without 'title'"):
        peer.view_submission("anna", view_id, {"body": "no title"})
    with pytest.raises(AssertionError, match="no option"):
        peer.view_submission("anna", view_id, {"title": "T", "cta": "vote-twice"})
    request = peer.view_submission("anna", view_id, {"title": "T", "cta": "poll", "options": "A\nB"})
    payload = json.loads(dict(parse_qsl(request.body.decode()))["payload"])
    assert payload["view"]["state"]["values"]["cta"]["value"]["selected_option"]["value"] == "poll"
    errors = {"response_action": "errors", "errors": {"title": "too short"}}
    assert peer.apply_answer(view_id, 200, json.dumps(errors).encode()).errors == {"title": "too short"}
    unknown = {"response_action": "errors", "errors": {"nowhere": "x"}}
    with pytest.raises(AssertionError, match="no input block"):
        peer.apply_answer(view_id, 200, json.dumps(unknown).encode())
    peer.view_violations.clear()  # recorded, and would fail the test when the peer stops
    assert peer.apply_answer(view_id, 200, b'{"response_action": "clear"}').action == "clear"
    with pytest.raises(AssertionError, match="closed modal"):
        peer.view_submission("anna", view_id, {"title": "T"})
