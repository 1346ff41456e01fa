"""What Slack's failures mean for prikbord's dispatcher (pure: no I/O, no SDK objects).

Slack answers a refused Web API call with HTTP 200 and ``{"ok": false, "error": "…"}`` (429 with a
``Retry-After`` header when rate limited). :func:`error_for` turns the status, the error code and the
response data into the adapter error the dispatcher acts on; every message says what to do, and none
carries a token.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.base import (
    AdapterAuthError,
    DeliveryError,
    MessageTooLong,
    PermanentError,
    RateLimited,
    TransientError,
)

AUTH_ERRORS = frozenset({"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired"})
TOO_LONG_ERRORS = frozenset({"msg_too_long", "invalid_blocks", "invalid_blocks_format", "too_many_attachments"})
TRANSIENT_ERRORS = frozenset({"internal_error", "fatal_error", "request_timeout", "service_unavailable"})
RATE_LIMITED_ERRORS = frozenset({"ratelimited", "rate_limited"})
DEFAULT_RETRY_AFTER = 1.0  # seconds, when a 429 names none


class SlackCallFailed(DeliveryError):
    """Slack refused a call for a reason that is neither the chat's, the token's nor a transient one."""

    def __init__(self, method: str, error: str) -> None:
        super().__init__(f"Slack {method} failed: {error}")
        self.error = error


class TokenRefused(AdapterAuthError):
    """Slack refused the bot token itself (revoked, expired, wrong): the adapter is no longer connected."""


def channel_problem(error: str, chat_id: str) -> str | None:
    """What an operator should do about a channel Slack refuses (None when it is no channel error)."""
    if error == "channel_not_found":
        return f"Slack channel {chat_id} was not found: check its chat_id in [[channels]] or remove it"
    if error == "not_in_channel":
        return f"the bot is not in Slack channel {chat_id}: invite it (/invite @prikbord) or remove the channel"
    if error in ("is_archived", "is_inactive"):
        return f"Slack channel {chat_id} is archived: unarchive it or remove the channel from config"
    return None


def error_for(method: str, status: int, data: Mapping[str, Any], headers: Any, chat_id: str = "") -> DeliveryError:
    """The error to raise for a failed ``method`` call: ``status`` is the HTTP status, ``data`` the parsed
    response body, ``headers`` the response headers (a mapping; only ``Retry-After`` is read)."""
    error = str(data.get("error") or f"HTTP {status}")
    if status == 429 or error in RATE_LIMITED_ERRORS:
        return RateLimited(retry_after(headers), f"Slack {method} rate limited")
    if error in AUTH_ERRORS:
        return TokenRefused(
            f"Slack refused the bot token ({error}): set PRIKBORD_SLACK__BOT_TOKEN to a valid xoxb- token"
        )
    if error == "missing_scope":
        needed = data.get("needed") or "?"
        return AdapterAuthError(f"the Slack app lacks the scope {needed} for {method}: add it and reinstall the app")
    problem = channel_problem(error, chat_id)
    if problem is not None:
        return PermanentError(problem)
    if error in TOO_LONG_ERRORS:
        return MessageTooLong(f"Slack refused the message ({error}){_details(data)}")
    if status >= 500 or error in TRANSIENT_ERRORS:
        return TransientError(f"Slack {method} failed for now ({error}); will retry")
    return SlackCallFailed(method, error)


def _details(data: Mapping[str, Any]) -> str:
    """Slack's own explanation of refused blocks (``response_metadata.messages``), the first three."""
    metadata = data.get("response_metadata")
    messages = metadata.get("messages") if isinstance(metadata, Mapping) else None
    if not isinstance(messages, list) or not messages:
        return ""
    return ": " + "; ".join(str(m) for m in messages[:3])


def retry_after(headers: Any) -> float:
    """Seconds to wait after a 429: its ``Retry-After`` header, at least one second."""
    try:
        return max(DEFAULT_RETRY_AFTER, float(headers.get("Retry-After", DEFAULT_RETRY_AFTER)))
    except (TypeError, ValueError, AttributeError):
        return DEFAULT_RETRY_AFTER
