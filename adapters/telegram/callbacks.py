"""Answering callback queries: exactly once, with the core's text, inside the webhook reply when possible."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from telegram import Bot
from telegram.error import TelegramError

from adapters.telegram.render import ANSWER_TEXT_LIMIT

log = logging.getLogger("prikbord.adapters.telegram")


@dataclass
class CallbackAnswer:
    """Makes sure each callback query is answered exactly once, with the core's text if it gives one.

    While ``deferred`` (inside a webhook request) the answer is held and returned in the HTTP reply,
    which Telegram executes as a method call: no extra round trip.
    """

    query_id: str
    bot: Bot
    deferred: bool
    answered: bool = False
    held: str | None = None

    async def answer(self, text: str) -> None:
        if self.answered:
            log.debug("callback %s already answered", self.query_id)
            return
        self.answered = True
        if self.deferred:
            self.held = text
            return
        await self._call(text)

    async def _call(self, text: str | None) -> None:
        try:
            await self.bot.answer_callback_query(self.query_id, text=text[:ANSWER_TEXT_LIMIT] if text else None)
        except TelegramError as exc:  # too old or already answered: nothing the core can do about it
            log.warning("answering callback %s failed: %s", self.query_id, exc)

    async def finish(self) -> dict[str, Any] | None:
        """After the sink: answer if the core did not; return the held answer as a webhook reply."""
        deferred, self.deferred = self.deferred, False
        if not self.answered:
            self.answered = True
            self.held = ""
            if not deferred:
                await self._call(None)
                return None
        if not deferred:
            return None
        reply: dict[str, Any] = {"method": "answerCallbackQuery", "callback_query_id": self.query_id}
        if self.held:
            reply["text"] = self.held[:ANSWER_TEXT_LIMIT]
        return reply
