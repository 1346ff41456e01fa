"""What Slack's failures mean for the dispatcher (adapters/slack/errors.py, pure), and that the adapter
raises exactly those for real Web API answers of the loopback peer."""

from __future__ import annotations

import pytest

from adapters.base import (
    AdapterAuthError,
    ChatRef,
    MessageTooLong,
    OutboundMessage,
    PermanentError,
    RateLimited,
    TransientError,
)
from adapters.markup import MarkupParser
from adapters.slack.adapter import SlackAdapter
from adapters.slack.errors import SlackCallFailed, channel_problem, error_for, retry_after
from tests.peers.slack import SlackPeer


@pytest.mark.parametrize("error", ["invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired"])
def test_a_refused_token_is_an_auth_error_that_says_which_setting(error: str) -> None:
    failure = error_for("chat.postMessage", 200, {"ok": False, "error": error}, {})
    assert isinstance(failure, AdapterAuthError)
    assert error in str(failure) and "PRIKBORD_SLACK__BOT_TOKEN" in str(failure)


def test_a_missing_scope_names_the_scope_and_the_method() -> None:
    failure = error_for("conversations.history", 200, {"error": "missing_scope", "needed": "channels:history"}, {})
    assert isinstance(failure, AdapterAuthError)
    assert "channels:history" in str(failure) and "conversations.history" in str(failure)


@pytest.mark.parametrize(
    ("status", "data", "headers", "seconds"),
    [
        (429, {}, {"Retry-After": "30"}, 30.0),
        (200, {"error": "ratelimited"}, {"Retry-After": "2.5"}, 2.5),
        (429, {"error": "rate_limited"}, {}, 1.0),
        (429, {}, {"Retry-After": "soon"}, 1.0),
        (429, {}, {"Retry-After": "0"}, 1.0),  # never a hot loop
    ],
)
def test_rate_limits_carry_the_retry_after(
    status: int, data: dict[str, str], headers: dict[str, str], seconds: float
) -> None:
    failure = error_for("chat.postMessage", status, data, headers)
    assert isinstance(failure, RateLimited)
    assert failure.retry_after == seconds


@pytest.mark.parametrize("error", ["channel_not_found", "not_in_channel", "is_archived", "is_inactive"])
def test_channel_errors_are_permanent_and_say_what_to_do(error: str) -> None:
    failure = error_for("chat.postMessage", 200, {"error": error}, {}, "C0123")
    assert isinstance(failure, PermanentError)
    assert "C0123" in str(failure)
    assert str(failure) == channel_problem(error, "C0123")
    assert channel_problem("msg_too_long", "C0123") is None


def test_refused_blocks_are_too_long_with_slacks_own_explanation() -> None:
    data = {"error": "invalid_blocks", "response_metadata": {"messages": ["[ERROR] too long [json-pointer:/blocks/0]"]}}
    failure = error_for("chat.postMessage", 200, data, {})
    assert isinstance(failure, MessageTooLong)
    assert "invalid_blocks" in str(failure) and "json-pointer:/blocks/0" in str(failure)
    odd = error_for("chat.postMessage", 200, {"error": "msg_too_long", "response_metadata": "junk"}, {})
    assert isinstance(odd, MessageTooLong) and str(odd) == "Slack refused the message (msg_too_long)"


@pytest.mark.parametrize(
    ("status", "error"), [(200, "internal_error"), (200, "fatal_error"), (200, "service_unavailable"), (503, "")]
)
def test_server_trouble_is_transient(status: int, error: str) -> None:
    assert isinstance(error_for("chat.update", status, {"error": error} if error else {}, {}), TransientError)


def test_anything_else_is_a_failed_call_that_keeps_slacks_error_code() -> None:
    failure = error_for("chat.delete", 200, {"error": "message_not_found"}, {})
    assert isinstance(failure, SlackCallFailed) and failure.error == "message_not_found"
    assert str(failure) == "Slack chat.delete failed: message_not_found"
    bare = error_for("chat.delete", 400, {}, {})
    assert isinstance(bare, SlackCallFailed) and bare.error == "HTTP 400"


def test_retry_after_reads_only_a_sane_header() -> None:
    assert retry_after({"Retry-After": "12"}) == 12.0
    assert retry_after(None) == 1.0
    assert retry_after({}) == 1.0


async def test_the_adapter_raises_the_mapped_errors_for_real_answers() -> None:
    async with SlackPeer(per_channel_rate=None, workspace_rate=None) as peer:
        channel = peer.add_channel("general", members=("anna",))
        adapter = SlackAdapter(
            bot_token=peer.bot_token, signing_secret=peer.signing_secret, api_base_url=peer.api_base_url
        )
        await adapter.start(lambda event: _nothing())
        try:
            message = OutboundMessage(MarkupParser().parse("**Titel**\n\nTekst"), ())
            with pytest.raises(PermanentError, match="was not found"):
                await adapter.send(ChatRef("slack", "C404NOTFOUND"), message)
            peer.fail_next("chat.postMessage", "invalid_auth")
            with pytest.raises(AdapterAuthError, match="PRIKBORD_SLACK__BOT_TOKEN"):
                await adapter.send(ChatRef("slack", channel), message)
            assert not adapter.connected  # a refused token marks the adapter down
        finally:
            await adapter.stop()


async def _nothing() -> None:
    return None
