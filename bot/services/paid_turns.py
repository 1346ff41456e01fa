"""A paid broadcast's turns among all instances, reserved many sends to one statement (#16).

Telegram's ``allow_paid_broadcast`` lets a bot send up to 1,000 messages/s. One shared-rate transaction
per send (the way :class:`~bot.services.shared_rates.SharedRates` paces the free 30/s) would be three
round trips per message at that rate, more than the database and two cores have to give. So the sends
waiting for their turn are gathered while the previous reservation runs, and one upsert reserves them
all: each chat's own limits (its pause, its per-chat rates) and ``n`` evenly spaced turns of the paid
overall limit, the first after the delay returned and the others one interval apart.

The paid overall limit is a scope of its own (``telegram:paid:0``), apart from the free one
(``telegram:all:0``): Telegram counts the two separately as far as its documentation says. It is paced
only, without the places (the hard cap) of the free limit: each instance's own window already caps what
it has on its way, and a place is one more statement per send.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from dataclasses import dataclass, field

from adapters.base import Limits, Rate
from content import rate_slots
from content.db import Store

# Sends reserved in one statement at most (their rows: three per chat plus one).
MAX_BATCH = 250


def interval_of(rate: Rate, margin: float) -> float:
    """Seconds between sends under ``rate``, stretched by ``margin``."""
    return rate.period / rate.count * margin


def pause_scope(platform: str, chat_id: str) -> str:
    return f"{platform}:pause:{chat_id}"


def chat_scopes(platform: str, chat_id: str, limits: Limits, margin: float) -> list[tuple[str, float, float]]:
    """(scope, interval, burst tolerance) of the chat's own limits: its pause (a 429 one instance met; no
    pacing of its own) and its rates (bursts allowed). The free path and the paid one reserve the same
    rows, so a chat has one budget whichever path sends to it."""
    per_chat = [
        (f"{platform}:chat:{chat_id}:{i}", interval_of(r, margin), max(0.0, r.count - 1) * interval_of(r, margin))
        for i, r in enumerate(limits.per_chat_rates)
    ]
    return [(pause_scope(platform, chat_id), 0.0, 0.0), *per_chat]


def paid_scopes(platform: str, limits: Limits, margin: float) -> list[tuple[str, float]]:
    """(scope, interval) of the paid overall limits."""
    return [(f"{platform}:paid:{i}", interval_of(r, margin)) for i, r in enumerate(limits.paid_global_rates)]


@dataclass
class _Waiting:
    chat_id: str
    limits: Limits
    turn: asyncio.Future[float] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class PaidTurns:
    def __init__(self, store: Store, margin: float) -> None:
        self._store = store
        self._margin = margin
        self._waiting: dict[str, list[_Waiting]] = defaultdict(list)
        self._reservers: dict[str, asyncio.Task[None]] = {}

    async def wait_turn(self, platform: str, chat_id: str, limits: Limits) -> None:
        """Wait until this send may start under every shared limit it falls under. Raises what the
        database raised (the caller paces locally then)."""
        waiting = _Waiting(chat_id, limits)
        self._waiting[platform].append(waiting)
        if platform not in self._reservers:
            self._reservers[platform] = asyncio.create_task(self._reserve_while_waiting(platform))
        try:
            delay = await asyncio.shield(waiting.turn)
        except asyncio.CancelledError:
            with contextlib.suppress(ValueError):
                self._waiting[platform].remove(waiting)  # not reserved yet: nothing to give back
            raise
        if delay > 0:
            await asyncio.sleep(delay)

    async def _reserve_while_waiting(self, platform: str) -> None:
        try:
            while self._waiting[platform]:
                batch = self._take_batch(platform)
                try:
                    delays = await self._reserve(platform, batch)
                except Exception as exc:
                    for waiting in batch:
                        if not waiting.turn.done():
                            waiting.turn.set_exception(exc)
                    continue
                for waiting, delay in zip(batch, delays, strict=True):
                    if not waiting.turn.done():
                        waiting.turn.set_result(delay)
        finally:
            del self._reservers[platform]

    def _take_batch(self, platform: str) -> list[_Waiting]:
        """Up to MAX_BATCH waiting sends to different chats (a chat's rows take one step per statement);
        a second send to a chat waits for the next batch."""
        batch: list[_Waiting] = []
        later: list[_Waiting] = []
        chats: set[str] = set()
        for waiting in self._waiting[platform]:
            if len(batch) < MAX_BATCH and waiting.chat_id not in chats:
                chats.add(waiting.chat_id)
                batch.append(waiting)
            else:
                later.append(waiting)
        self._waiting[platform] = later
        return batch

    async def _reserve(self, platform: str, batch: list[_Waiting]) -> list[float]:
        """One statement for the batch → each send's delay: its chat's, or its turn in the overall limit."""
        limits = batch[0].limits
        rows: list[tuple[str, float, float]] = []
        for waiting in batch:
            rows += chat_scopes(platform, waiting.chat_id, waiting.limits, self._margin)
        overall = paid_scopes(platform, limits, self._margin)
        rows += [(scope, interval * len(batch), 0.0) for scope, interval in overall]
        async with self._store.transaction() as session:
            delays = await rate_slots.reserve_rows(session, rows)
        turns = []
        for i, waiting in enumerate(batch):
            own = max(delays[s] for s, _, _ in chat_scopes(platform, waiting.chat_id, waiting.limits, self._margin))
            turns.append(max([own, *(delays[s] + i * interval for s, interval in overall)]))
        return turns
