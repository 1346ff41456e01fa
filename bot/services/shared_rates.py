"""One rate budget per bot account, whatever the number of instances (#16).

Each process paces its own sends in :mod:`bot.services.rate_windows`; with several ``prikbord run`` on
one PostgreSQL that alone would let three instances send three times what the platform allows the
bot's token. Here every send also reserves its turn in the limits all instances share
(:mod:`content.rate_slots`): the platform's overall rates (evenly paced) and the chat's rates (their
burst allowed). A 429 one instance meets pauses that chat for all of them.

Why reservations in the database rather than one sender of record per platform: every instance keeps
sending (a dead one costs nothing but its claims, which the sweep reclaims), the budget holds for
answers and reminders sent by whichever instance got the command, and the cost is one short
transaction per send, far below the platforms' rates (30/s on Telegram).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from sqlalchemy.ext.asyncio import AsyncSession

from adapters.base import Limits, Rate, RateLimited
from bot.services.background import BackgroundTasks
from bot.services.paid_turns import PaidTurns, chat_scopes, pause_scope
from content import rate_slots
from content.db import Store, finished_even_if_cancelled, store_error_line

log = logging.getLogger("prikbord.rates")

# The shared pacing is a little slower than the platform's figure, so the places (the hard cap) are
# rarely all taken when a paced turn comes.
MARGIN = 1.01


def interval_of(rate: Rate) -> float:
    """Seconds between sends under ``rate``, with the margin."""
    return rate.period / rate.count * MARGIN


def paced_scopes(platform: str, chat_id: str, limits: Limits) -> list[tuple[str, float, float]]:
    """(scope, interval, burst tolerance) of the paced limits a send to ``chat_id`` falls under: the
    chat's own (:func:`~bot.services.paid_turns.chat_scopes`) and the overall rates (evenly spaced, so
    the instances take turns instead of racing for places)."""
    overall = [(f"{platform}:all:{i}", interval_of(r), 0.0) for i, r in enumerate(limits.global_rates)]
    return chat_scopes(platform, chat_id, limits, MARGIN) + overall


def place_scopes(platform: str, limits: Limits) -> list[tuple[str, int, float]]:
    """(scope, places, period) of the overall limits: at most ``places`` sends started and not yet
    ``period`` past their end, across all instances — pacing alone lets sends whose requests were slow
    (a loaded host) arrive bunched, and the platform counts arrivals."""
    return [(f"{platform}:places:{i}", max(1, int(r.count)), r.period) for i, r in enumerate(limits.global_rates)]


class SharedRates:
    # A place whose sender died (kill -9) frees itself after this long. Short, so a restarted process
    # gets its platform's full rate back within seconds (Matrix has five places); a send still under
    # way past it lets one more start early, and a 429 that may bring pauses that chat for everyone.
    HOLD = 5.0

    def __init__(self, store: Store) -> None:
        self._store = store
        self._places_ready: set[str] = set()
        self._releases = BackgroundTasks("shared rate releases")
        self._paid = PaidTurns(store, MARGIN)

    async def close(self) -> None:
        """Free the places of the sends that finished (a stop)."""
        await self._releases.drain(5.0)

    @contextlib.asynccontextmanager
    async def turn(self, platform: str, chat_id: str, limits: Limits, paid: bool = False) -> AsyncIterator[None]:
        """Wait for this send's turn in every shared limit, send (the body), then free its places.
        ``paid``: a paid broadcast's send, under the paid overall limit (:mod:`bot.services.paid_turns`).
        When the database cannot be reached the send goes on under this process's own windows (one
        log line): delivering late beats not delivering, and the outcome's commit retries anyway."""
        if not limits.global_rates and not limits.per_chat_rates:
            yield  # the platform declares no limits (the console)
            return
        taken: list[tuple[str, int, float]] = []
        try:
            if paid and limits.paid_global_rates:
                await self._paid.wait_turn(platform, chat_id, limits)
            else:
                taken = await self._pace_and_take(platform, chat_id, limits)
        except Exception as exc:
            self._cannot_read(platform, exc)
            yield
            return
        try:
            yield
        except RateLimited as exc:  # the platform says wait: every instance waits for this chat
            await self._rate_limited(platform, chat_id, exc.retry_after)
            raise
        finally:
            # Freed beside the next send rather than before it: every instance sends one Telegram message
            # at a time (max_unrecorded), so each round trip on its path costs throughput.
            if taken:
                self._releases.spawn(self._release(taken))

    def _cannot_read(self, platform: str, exc: Exception) -> None:
        log.warning(
            "the shared rate limits of %s could not be read (%s); pacing locally", platform, store_error_line(exc)
        )

    async def _pace_and_take(self, platform: str, chat_id: str, limits: Limits) -> list[tuple[str, int, float]]:
        """Wait for the chat's paced turn, then take a place in each overall limit: one transaction
        when nothing has to wait (a fan-out to many chats). Paced first: a place held while waiting
        for the paced turn would stand idle."""
        paced = paced_scopes(platform, chat_id, limits)
        places = place_scopes(platform, limits)
        taken: list[tuple[str, int, float]] = []

        async def first_look() -> float:
            async with self._store.transaction() as session:
                delay = await rate_slots.reserve_each(session, paced)
                if delay <= 0:
                    for scope, count, period in places:
                        place = await self._take(session, scope, count)
                        if place is None:
                            break
                        taken.append((scope, place, period))
            return delay

        try:
            # A stop cancels the sends still waiting here: their transaction ends first (content/db.py).
            delay = await finished_even_if_cancelled(first_look())
            if delay > 0:
                await asyncio.sleep(delay)
            for scope, count, period in places[len(taken) :]:
                taken.append((scope, await self._wait_for_place(scope, count), period))
        except BaseException:
            self._releases.spawn(self._release(taken))
            raise
        return taken

    async def _take(self, session: AsyncSession, scope: str, count: int) -> int | None:
        if scope not in self._places_ready:
            await rate_slots.ensure_places(session, scope, count)
            self._places_ready.add(scope)
        return await rate_slots.take_place(session, scope, self.HOLD)

    async def _wait_for_place(self, scope: str, count: int) -> int:
        async def look() -> tuple[int | None, float]:
            async with self._store.transaction() as session:
                place = await self._take(session, scope, count)
                return place, 0.0 if place is not None else await rate_slots.next_free(session, scope)

        while True:
            place, wait = await finished_even_if_cancelled(look())
            if place is not None:
                return place
            await asyncio.sleep(min(max(wait, 0.005), 1.0))

    async def _release(self, taken: list[tuple[str, int, float]]) -> None:
        if not taken:
            return
        try:
            async with self._store.transaction() as session:
                for scope, place, period in taken:
                    await rate_slots.release_place(session, scope, place, period)
        except Exception as exc:  # the place frees itself after HOLD
            log.warning("could not free a shared rate place (%s)", store_error_line(exc))

    async def _rate_limited(self, platform: str, chat_id: str, retry_after: float) -> None:
        try:
            async with self._store.transaction() as session:
                await rate_slots.pause(session, pause_scope(platform, chat_id), retry_after)
        except Exception as exc:
            log.warning("could not share a 429 on %s with the other instances (%s)", platform, store_error_line(exc))
