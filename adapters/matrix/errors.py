"""Matrix error responses → the adapter errors the dispatcher understands (pure).

Messages go to moderators and logs: they say what to do, and never carry a token or password.
"""

from __future__ import annotations

from adapters.base import (
    AdapterAuthError,
    DeliveryError,
    MessageTooLong,
    PermanentError,
    RateLimited,
    TransientError,
)

# Without a hint from the server, wait this long after a 429.
DEFAULT_RETRY_AFTER = 1.0
AUTH_ERRCODES = frozenset({"M_UNKNOWN_TOKEN", "M_MISSING_TOKEN", "M_USER_DEACTIVATED"})


def error_for(
    *,
    errcode: str | None,
    message: str,
    http_status: int | None,
    retry_after_ms: int | None,
    retry_after_header: str | None = None,
    what: str,
    room_id: str | None,
    bot_user_id: str,
) -> DeliveryError:
    """The error to raise for a failed request; ``what`` names the attempted action ("send to room")."""
    detail = f"{errcode or 'HTTP ' + str(http_status)}: {message}" if message else str(errcode or http_status)
    room = f"room {room_id}" if room_id else "the homeserver"
    if errcode == "M_LIMIT_EXCEEDED" or http_status == 429:
        return RateLimited(_retry_after(retry_after_ms, retry_after_header), f"matrix: {what} rate limited ({detail})")
    if errcode in AUTH_ERRCODES or http_status == 401:
        return AdapterAuthError(
            f"matrix: the homeserver refused the credentials of {bot_user_id} ({detail}): "
            "set a valid [matrix] access_token, or a password so the bot can log in again"
        )
    if errcode == "M_TOO_LARGE" or http_status == 413:
        return MessageTooLong(f"matrix: {room} refused the message as too large ({detail}): shorten the post")
    if errcode == "M_FORBIDDEN" or http_status == 403:
        return PermanentError(
            f"matrix: {room} rejected {bot_user_id} ({detail}): invite the bot to the room and allow it to post, "
            "or remove the channel from config"
        )
    if errcode == "M_NOT_FOUND" or http_status == 404 or (errcode == "M_INVALID_PARAM" and room_id):
        return PermanentError(
            f"matrix: {room} was not found ({detail}): check the channel's chat_id (a room id like "
            "!abc:example.org) or remove the channel from config"
        )
    if http_status is None or http_status >= 500:
        return TransientError(f"matrix: the homeserver failed to {what} ({detail}); will retry")
    return PermanentError(f"matrix: the homeserver refused to {what} in {room} ({detail})")


def _retry_after(retry_after_ms: int | None, header: str | None) -> float:
    if retry_after_ms is not None and retry_after_ms >= 0:
        return retry_after_ms / 1000
    if header:
        try:
            return max(0.0, float(header))
        except ValueError:
            pass
    return DEFAULT_RETRY_AFTER


def connection_error(exc: BaseException, homeserver: str, what: str) -> TransientError:
    kind = type(exc).__name__
    return TransientError(f"matrix: cannot reach the homeserver {homeserver} to {what} ({kind}: {exc}); will retry")
