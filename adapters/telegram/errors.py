"""What Telegram's failures mean for prikbord's dispatcher, and keeping the bot token out of messages and logs."""

from __future__ import annotations

import datetime as dtm
import logging
import warnings

from telegram.error import BadRequest, ChatMigrated, Forbidden, InvalidToken, RetryAfter, TelegramError, TimedOut

from adapters.base import AdapterAuthError, DeliveryError, PermanentError, RateLimited, TransientError
from adapters.telegram.render import TextTooLong


class ChatMoved(PermanentError):
    """The group became a supergroup: point the channel at ``new_chat_id``."""

    def __init__(self, chat_id: str, new_chat_id: str) -> None:
        super().__init__(
            f"chat {chat_id} was upgraded to supergroup {new_chat_id}: set the channel's chat_id to {new_chat_id}"
        )
        self.new_chat_id = new_chat_id


class MessageGone(DeliveryError):
    """The message to edit or delete no longer exists (someone deleted it)."""


class TopicClosed(DeliveryError):
    """The forum topic a copy goes to is closed: that copy fails, the channel stays (topics reopen)."""


class RequestRejected(DeliveryError):
    """Telegram refused the request as malformed (400): retrying the same request cannot help."""


def retry_seconds(exc: RetryAfter) -> float:
    # PTB 22 warns that retry_after becomes a timedelta; accept both without the warning.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value: object = exc.retry_after
    if isinstance(value, dtm.timedelta):
        return value.total_seconds()
    return float(value) if isinstance(value, int | float) else 1.0


def map_error(exc: TelegramError, chat_id: str | None, token: str) -> DeliveryError:
    """What a Bot API failure means for the dispatcher, told so an operator can act (never with the token)."""
    chat = f"chat {chat_id}" if chat_id else "Telegram"
    detail = str(exc).replace(token, "<token>")
    lowered = detail.lower()
    if isinstance(exc, RetryAfter):
        return RateLimited(retry_seconds(exc), f"telegram flood control for {chat}")
    if isinstance(exc, ChatMigrated):
        return ChatMoved(chat_id or "?", str(exc.new_chat_id))
    if isinstance(exc, InvalidToken):
        return AdapterAuthError(
            "telegram refused the bot token: set [telegram] token (PRIKBORD_TELEGRAM__TOKEN) "
            "to the token @BotFather gave, and check api_base_url"
        )
    if isinstance(exc, Forbidden) or (isinstance(exc, BadRequest) and "chat not found" in lowered):
        return PermanentError(
            f"{chat} rejected the bot ({detail}): add it to the group or remove the channel from config"
        )
    if isinstance(exc, BadRequest):
        if "message is too long" in lowered:
            return TextTooLong(f"telegram: {detail}")
        if "not enough rights" in lowered or "have no rights" in lowered:
            return PermanentError(f"{chat} does not let the bot post ({detail}): make the bot a member who may")
        if "message thread not found" in lowered:  # a channel's thread_id: no topic of the group (any more)
            topic = (chat_id or "").partition("/")[2] or "?"
            return PermanentError(
                f"{chat}: topic {topic} is not in the group ({detail}): set thread_id to an open topic of the forum "
                "or remove the channel from config"
            )
        if "topic_closed" in lowered:  # an admin closed the channel's topic; it may be reopened, so the channel stays
            topic = (chat_id or "").partition("/")[2] or "?"
            return TopicClosed(
                f"{chat}: topic {topic} is closed ({detail}): this copy was not sent; reopen the topic, or make the "
                "bot an admin who may post in closed topics"
            )
        if "message to edit not found" in lowered or "message to delete not found" in lowered:
            return MessageGone(f"telegram: {detail}")
        return RequestRejected(f"telegram rejected the request for {chat}: {detail}")
    if isinstance(exc, TimedOut):
        return TransientError(f"telegram did not answer in time ({detail}); the message may have arrived")
    return TransientError(f"telegram unreachable or failing ({detail})")


_UNPARSEABLE_ANSWER = "Can not load invalid JSON data"


class TokenRedaction(logging.Filter):
    """Keeps the bot token out of SDK and httpx log lines (httpx logs every URL, which holds the token)."""

    def __init__(self, secret: str) -> None:
        super().__init__()
        self._secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message.startswith(_UNPARSEABLE_ANSWER):
            # A proxy's 502 page during an outage: PTB logs a traceback per request, then raises the
            # NetworkError that the poller and the dispatcher report in one line each. Keep theirs.
            return False
        if self._secret in message:
            record.msg, record.args = message.replace(self._secret, "<token>"), ()
        return True
