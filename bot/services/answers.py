"""Answers to people (command replies, the moderators' notes) within the platform's rate budget.

During a fan-out the platform's budget is the dispatcher's: an answer sent beside it was refused with
a 429 and dropped. Here every answer takes its place in the same windows (:class:`RateBudget`), waits
its turn, and is retried on ``RateLimited`` after the platform's retry-after (tenacity).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

from tenacity import AsyncRetrying, RetryCallState, stop_after_attempt

from adapters.base import Adapter, ChatRef, CommandIssued, MessageRef, OutboundMessage, RateLimited, UserRef
from bot.services.rate_windows import RateBudget

log = logging.getLogger("prikbord.answers")

T = TypeVar("T")


def answer_chat(command: CommandIssued, private: bool) -> str:
    """The chat an answer lands in, for its windows: the person's own chat for a private answer to a
    command given elsewhere (on Telegram that chat's id is the person's id), else the command's chat."""
    if private and not command.private_chat:
        return command.user.user_id
    return command.chat.chat_id


class PacedAnswers:
    """Sends answers through the shared windows; a 429 waits its retry-after (up to ``max_wait``)."""

    def __init__(self, budget: RateBudget, *, tries: int = 5, max_wait: float = 60.0) -> None:
        self._budget = budget
        self._tries = tries
        self._max_wait = max_wait

    async def reply(self, adapter: Adapter, command: CommandIssued, text: str, private: bool) -> None:
        """``adapter.reply`` in its turn; raises the adapter's error when every try failed."""
        await self._paced(
            command.user.platform, answer_chat(command, private), lambda: adapter.reply(command, text, private=private)
        )

    def sender(self, adapters: Mapping[str, Adapter]) -> Callable[[ChatRef, OutboundMessage], Awaitable[MessageRef]]:
        """``send(chat, message)`` through the platform's adapter, in its turn: a dialog's questions."""

        async def send(chat: ChatRef, message: OutboundMessage) -> MessageRef:
            adapter = adapters[chat.platform]
            return await self._paced(chat.platform, chat.chat_id, lambda: adapter.send(chat, message))

        return send

    async def send_private(self, adapter: Adapter, user: UserRef, text: str) -> bool:
        """``adapter.send_private`` in its turn (the person's own chat), which may open that chat first (a
        Slack DM: conversations.open), so it also takes a turn in the windows of opening one."""
        return await self._paced(user.platform, user.user_id, lambda: adapter.send_private(user, text), opens=True)

    async def _paced(self, platform: str, chat_id: str, call: Callable[[], Awaitable[T]], *, opens: bool = False) -> T:
        limiter = self._budget.limiter(platform)

        def rate_limited(state: RetryCallState) -> bool:
            error = state.outcome.exception() if state.outcome else None
            return isinstance(error, RateLimited) and error.retry_after <= self._max_wait

        def retry_after(state: RetryCallState) -> float:
            error = state.outcome.exception() if state.outcome else None
            wait = error.retry_after if isinstance(error, RateLimited) else 1.0
            log.info("an answer on %s was rate limited; sending it again in %.1fs", platform, wait)
            return wait

        async for attempt in AsyncRetrying(
            retry=rate_limited, wait=retry_after, stop=stop_after_attempt(self._tries), reraise=True
        ):
            with attempt:
                async with limiter.opening() if opens else contextlib.nullcontext(), limiter.slot(chat_id):
                    return await call()
        raise AssertionError("tenacity ends with a result or the last error")  # pragma: no cover
