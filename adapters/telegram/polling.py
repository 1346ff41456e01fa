"""Long polling for the Telegram adapter: getUpdates as raw JSON, each update handed over on its own.

python-telegram-bot's ``Bot.get_updates`` parses the whole batch with ``Update.de_json`` and raises
(logging the batch, data included, at CRITICAL) when any one update does not parse. One update it cannot
read (a message without ``date``, a ``from`` that is a string) would make every call fail and the offset
never move, so no later press would count. The poller asks for the raw JSON instead; the adapter
translates each update itself (translate.py), and the offset moves past every update whatever it holds:
a bad one is skipped and reported once, never retried.

The updates of one batch are handled side by side, in lanes: one person's updates in one chat one after
another, in Telegram's order, everyone else's at the same time. One after another, every press waited
for its own commit and its own answerCallbackQuery before the next was even read: 2,000 presses in 11 s
took 37 s to count (issue 17); side by side, the engagement writer commits a whole batch's presses at once.
The offset only moves past updates whose handling ended (and all before them), so updates a stop cut
short are delivered again after a restart rather than confirmed unhandled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Any

from telegram import Bot
from telegram.error import Conflict, InvalidToken, RetryAfter, TelegramError

from adapters.telegram.errors import retry_seconds
from adapters.telegram.translate import MalformedUpdate

log = logging.getLogger("prikbord.adapters.telegram")

MAX_BACKOFF = 30.0  # seconds between failed getUpdates calls, at most


def lane_of(update: object) -> tuple[Hashable, Hashable]:
    """(chat, person) of an update, as far as it names them: the updates of one lane are handled in order.
    The person of a membership change (``chat_member``) is the member, not who made the change: an admin's
    kick must come after the member's own join and messages, or the member stays (or leaves) wrongly.
    Anything unreadable (no chat, no sender, ids that are not numbers) shares the lane of ``None``."""
    if not isinstance(update, dict):
        return (None, None)
    for key, value in update.items():
        if key == "update_id" or not isinstance(value, dict):
            continue
        message = value.get("message")
        holder = message if isinstance(message, dict) else value
        member = value.get("new_chat_member")
        person = member.get("user") if isinstance(member, dict) else value.get("from", value.get("user"))
        return (_id_of(holder.get("chat")), _id_of(person))
    return (None, None)


def _id_of(entity: object) -> int | None:
    found = entity.get("id") if isinstance(entity, dict) else None
    return found if isinstance(found, int) and not isinstance(found, bool) else None


class UpdatePoller:
    """getUpdates in a loop (:meth:`run`), from ``offset`` on.

    ``take(update)`` handles one update (raising MalformedUpdate for one it cannot translate);
    ``skipped(detail)`` is told about each update skipped as unparseable.
    """

    def __init__(
        self,
        bot: Bot,
        *,
        poll_timeout: float,
        read_timeout: float,
        allowed_updates: Sequence[str],
        take: Callable[[dict[str, Any]], Awaitable[None]],
        skipped: Callable[[str], None],
    ) -> None:
        self._bot = bot
        self._poll_timeout = int(poll_timeout)
        self._read_timeout = read_timeout
        self._allowed = list(allowed_updates)
        self._take = take
        self._skipped = skipped
        self.offset: int | None = None
        self._confirmed = True

    async def fetch(self, *, timeout: int, limit: int = 100) -> list[Any]:
        """One getUpdates call, the updates as Telegram sent them (the SDK's private ``_post``: its public
        ``get_updates`` parses, and ``do_api_request`` warns for a method the SDK has)."""
        params = {"offset": self.offset, "limit": limit, "timeout": timeout, "allowed_updates": self._allowed}
        result = await self._bot._post("getUpdates", params, read_timeout=self._read_timeout + timeout)
        return list(result) if isinstance(result, list) else []

    async def run(self) -> None:
        """Poll until cancelled; returns only when Telegram refuses the token."""
        backoff = 0.5
        while True:
            try:
                updates = await self.fetch(timeout=self._poll_timeout)
            except RetryAfter as exc:
                await asyncio.sleep(retry_seconds(exc))
                continue
            except InvalidToken:
                log.error("telegram: the bot token was refused while polling; polling stopped")
                return
            except Exception as exc:  # network trouble, 5xx, Conflict: polling must outlive them all
                kind = "another instance polls or a webhook is set" if isinstance(exc, Conflict) else exc
                log.warning("telegram: getUpdates failed (%s); retrying in %.1fs", kind, backoff)
                await asyncio.sleep(backoff * random.uniform(0.8, 1.2))
                backoff = min(backoff * 2, MAX_BACKOFF)
                continue
            backoff = 0.5
            # This call confirmed everything before the offset; what it returned awaits the next one.
            self._confirmed = not updates
            await self.handle_batch(updates)

    async def handle_batch(self, updates: Sequence[object]) -> None:
        """Every update of one getUpdates answer, lane by lane (:func:`lane_of`), the lanes side by side;
        the offset follows the updates handled without a gap."""
        lanes: dict[tuple[Hashable, Hashable], list[int]] = {}
        for index, update in enumerate(updates):
            lanes.setdefault(lane_of(update), []).append(index)
        done = [False] * len(updates)
        gapless = 0  # updates[:gapless] are all handled

        async def lane(indices: list[int]) -> None:
            nonlocal gapless
            for index in indices:
                await self._handle(updates[index])
                done[index] = True
                while gapless < len(updates) and done[gapless]:
                    self._passed(updates[gapless])
                    gapless += 1

        await asyncio.gather(*(lane(indices) for indices in lanes.values()))

    def _passed(self, update: object) -> None:
        """Move the offset past a handled update (one without a usable id: the next good one moves it)."""
        update_id = update.get("update_id") if isinstance(update, dict) else None
        if isinstance(update_id, int) and not isinstance(update_id, bool):
            self.offset = max(self.offset or 0, update_id + 1)

    async def _handle(self, update: object) -> None:
        update_id = update.get("update_id") if isinstance(update, dict) else None
        if not isinstance(update_id, int) or isinstance(update_id, bool):
            update_id = None
        try:
            if not isinstance(update, dict):
                raise MalformedUpdate("an update must be a JSON object")
            await self._take(update)
        except MalformedUpdate as exc:
            self._skipped(f"skipped update {update_id}: {exc}")
        except Exception:  # one bad update must not end polling
            log.exception("telegram: update %s could not be handled", update_id)

    async def confirm(self) -> None:
        """Tell Telegram the last batch was handled, or it is delivered again after a restart."""
        if self.offset is None or self._confirmed:
            return
        with contextlib.suppress(TelegramError, TimeoutError):
            await asyncio.wait_for(self.fetch(timeout=0, limit=1), 2.0)
            self._confirmed = True
