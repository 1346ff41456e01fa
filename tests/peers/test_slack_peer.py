"""The Slack peer itself: it must refuse what Slack refuses, in Slack's words."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from tests.peers.slack import SlackPeer, Window


@pytest.fixture
async def peer() -> AsyncIterator[SlackPeer]:
    async with SlackPeer(per_channel_rate=None, workspace_rate=None) as p:
        yield p


@pytest.fixture
async def client(peer: SlackPeer) -> AsyncIterator[AsyncWebClient]:
    async with aiohttp.ClientSession() as session:
        yield AsyncWebClient(token=peer.bot_token, base_url=peer.api_base_url, session=session, retry_handlers=[])


async def _error_of(call: object) -> tuple[int, str, dict[str, object]]:
    try:
        await call  # type: ignore[misc]
    except SlackApiError as exc:
        return exc.response.status_code, exc.response["error"], dict(exc.response.data)
    raise AssertionError("the call succeeded")


async def test_unknown_method(peer: SlackPeer, client: AsyncWebClient) -> None:
    _status, error, _ = await _error_of(client.api_call("chat.postMessages", json={"channel": "C1", "text": "x"}))
    assert error == "unknown_method"


async def test_missing_required_arguments_get_slacks_errors(peer: SlackPeer, client: AsyncWebClient) -> None:
    channel = peer.add_channel("general")
    assert (await _error_of(client.api_call("chat.postMessage", json={"text": "hi"})))[1] == "channel_not_found"
    with pytest.warns(UserWarning, match="text"):  # slack_sdk warns before sending it anyway
        assert (await _error_of(client.chat_postMessage(channel=channel)))[1] == "no_text"
    assert (await _error_of(client.api_call("chat.update", json={"channel": channel, "text": "x"})))[1] == (
        "message_not_found"
    )
    _, error, data = await _error_of(client.api_call("views.publish", json={"view": {"type": "home", "blocks": []}}))
    assert error == "invalid_arguments"
    assert "user_id" in json.dumps(data["response_metadata"])


async def test_token_is_checked(peer: SlackPeer) -> None:
    async with aiohttp.ClientSession() as session:
        wrong = AsyncWebClient(token="xoxb-wrong", base_url=peer.api_base_url, session=session, retry_handlers=[])
        assert (await _error_of(wrong.auth_test()))[1] == "invalid_auth"
        anonymous = AsyncWebClient(base_url=peer.api_base_url, session=session, retry_handlers=[])
        assert (await _error_of(anonymous.auth_test()))[1] == "not_authed"


async def test_channel_state(peer: SlackPeer, client: AsyncWebClient) -> None:
    archived = peer.add_channel("old", archived=True)
    outside = peer.add_channel("secret", bot_member=False)
    assert (await _error_of(client.chat_postMessage(channel="C999999999", text="x")))[1] == "channel_not_found"
    assert (await _error_of(client.chat_postMessage(channel=archived, text="x")))[1] == "is_archived"
    assert (await _error_of(client.chat_postMessage(channel=outside, text="x")))[1] == "not_in_channel"


async def test_json_body_only_where_the_method_takes_json(peer: SlackPeer) -> None:
    channel = peer.add_channel("general")
    async with aiohttp.ClientSession() as session:
        answer = await session.post(
            peer.api_base_url + "conversations.info",
            json={"channel": channel},
            headers={"Authorization": f"Bearer {peer.bot_token}"},
        )
        assert (await answer.json())["error"] == "invalid_post_type"
        form = await session.post(
            peer.api_base_url + "conversations.info", data={"channel": channel, "token": peer.bot_token}
        )
        assert (await form.json())["ok"] is True


async def test_block_kit_limits(peer: SlackPeer, client: AsyncWebClient) -> None:
    channel = peer.add_channel("general")
    long_section = [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}]
    _, error, data = await _error_of(client.chat_postMessage(channel=channel, text="x", blocks=long_section))
    assert error == "invalid_blocks" and "3001" in json.dumps(data)
    too_many = [{"type": "divider"}] * 51
    assert (await _error_of(client.chat_postMessage(channel=channel, text="x", blocks=too_many)))[1] == "invalid_blocks"
    default_style = [
        {
            "type": "actions",
            "elements": [{"type": "button", "text": {"type": "plain_text", "text": "a"}, "style": "default"}],
        }
    ]
    assert (await _error_of(client.chat_postMessage(channel=channel, text="x", blocks=default_style)))[1] == (
        "invalid_blocks"
    )


async def test_rate_limits_per_channel_and_workspace() -> None:
    now = [1000.0]
    async with (
        SlackPeer(per_channel_rate=Window(1, 1.0), workspace_rate=Window(3, 1.0), clock=lambda: now[0]) as peer,
        aiohttp.ClientSession() as session,
    ):
        client = AsyncWebClient(token=peer.bot_token, base_url=peer.api_base_url, session=session, retry_handlers=[])
        a, b, c, d = (peer.add_channel(name) for name in "abcd")
        await client.chat_postMessage(channel=a, text="1")
        status, error, _ = await _error_of(client.chat_postMessage(channel=a, text="2"))
        assert (status, error) == (429, "ratelimited")
        try:
            await client.chat_postMessage(channel=a, text="2")
        except SlackApiError as exc:
            assert exc.response.headers["Retry-After"] == "1"
        await client.chat_postMessage(channel=b, text="1")
        await client.chat_postMessage(channel=c, text="1")
        assert (await _error_of(client.chat_postMessage(channel=d, text="1")))[0] == 429  # 3/s workspace-wide
        now[0] += 1.0
        await client.chat_postMessage(channel=a, text="2")
        await client.chat_postMessage(channel=d, text="1")
        assert peer.rate_limited == 3
        assert [len(peer.messages(ch)) for ch in (a, b, c, d)] == [2, 1, 1, 1]


async def test_answers_follow_the_response_schemas(peer: SlackPeer, client: AsyncWebClient) -> None:
    channel = peer.add_channel("general", members=("anna",))
    anna = peer.add_user("anna")
    posted = await client.chat_postMessage(
        channel=channel, text="hi", blocks=[{"type": "divider"}], metadata={"event_type": "t", "event_payload": {}}
    )
    await client.chat_update(channel=channel, ts=posted["ts"], text="hi!")
    await client.chat_postEphemeral(channel=channel, user=anna, text="psst")
    await client.conversations_info(channel=channel)
    await client.conversations_members(channel=channel)
    await client.conversations_open(users=anna)
    await client.conversations_history(channel=channel, include_all_metadata=True)
    await client.users_info(user=anna)
    await client.views_publish(user_id=anna, view={"type": "home", "blocks": [{"type": "divider"}]})
    await client.chat_delete(channel=channel, ts=posted["ts"])
    assert peer.violations == []


async def test_a_wrong_answer_is_caught(peer: SlackPeer, client: AsyncWebClient) -> None:
    peer._m_auth_test = lambda args: {"team": "no url, no ids"}  # type: ignore[method-assign]
    await client.auth_test()
    assert peer.violations
    peer.violations.clear()  # the peer would otherwise fail this test on exit, as it should


async def test_inbound_requests_are_signed_as_slack_signs(peer: SlackPeer) -> None:
    channel = peer.add_channel("general")
    verifier = SignatureVerifier(peer.signing_secret)
    for request in (peer.url_verification(), peer.slash_command("anna", channel, "help"), peer.app_home_opened("bo")):
        assert verifier.is_valid_request(request.body, request.headers)
    retried = peer.retry(peer.app_home_opened("bo"), attempt=2)
    assert retried.headers["X-Slack-Retry-Num"] == "2" and verifier.is_valid_request(retried.body, retried.headers)


async def test_users_info_tells_the_locale_only_when_asked(peer: SlackPeer, client: AsyncWebClient) -> None:
    # Slack's users.info reference: include_locale "Set this to true to receive the locale for this user".
    anna = peer.add_user("anna", locale="nl-NL")
    assert "locale" not in (await client.users_info(user=anna))["user"]
    assert (await client.users_info(user=anna, include_locale=True))["user"]["locale"] == "nl-NL"
    assert (await client.users_info(user=peer.add_user("bo"), include_locale=True))["user"]["locale"] == "en-US"
    assert [call.args.get("include_locale") for call in peer.calls_of("users.info")] == [None, True, True]
    assert peer.violations == []
