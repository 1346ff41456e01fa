"""The platforms' rate budgets: sliding windows per declared global rate and per chat.

One :class:`RateBudget` is built in ``bot/app.py`` and shared by everything that sends on a
platform's behalf (the dispatcher's deliveries, the answers to commands, the moderators' notes), so
they all wait their turn in the same windows instead of each being refused with a 429.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager

from adapters.base import Adapter, Limits, Rate
from bot.services.shared_rates import SharedRates
from content.chats import whole_chat_id


class Window:
    """At most ``count`` sends in any ``period`` seconds, each counted until ``period`` after it *finished*.

    Telegram (and the loopback peer) count a message in a sliding window when it arrives, which is somewhere
    between our start and our finish; holding the slot until ``finish + period`` can therefore never put more
    than ``count`` into any window, whatever the latency does. aiolimiter's leaky bucket let a full burst
    through and the steady rate on top of it (up to twice ``count`` in the first period: 429s).

    ``paced``: sends also start evenly spaced (``period / count`` apart) instead of in bursts of ``count``.
    The rate is the same; but at any moment only about one send is on its way, so a crash catches few
    sends whose answer was not recorded yet (on Telegram each of those is a second copy after restart).
    Starts that came late (the event loop was busy) are made up for, up to a tenth of the period's sends
    at once: without that every late start was lost for good, ~7 % of a 1,000/s paid broadcast.
    """

    def __init__(self, rate: Rate, *, paced: bool = False) -> None:
        slots = max(1, int(rate.count))  # a fractional rate (0.5/s) becomes 1 per 2 s
        self._free = asyncio.Semaphore(slots)
        self._period = rate.period * slots / rate.count
        self._gap = self._period / slots if paced else 0.0
        self._catch_up = self._period / 10  # how far behind the pace starts may still be made up
        self._next_start = 0.0

    async def acquire(self) -> None:
        await self._free.acquire()
        if not self._gap:
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        earliest = max(self._next_start, now - self._catch_up)
        start = max(now, earliest)
        self._next_start = earliest + self._gap
        if start > now:
            try:
                await asyncio.sleep(start - now)
            except BaseException:
                self._free.release()  # not held yet by the caller: give the slot back
                raise

    def release_later(self) -> None:
        asyncio.get_running_loop().call_later(self._period, self._free.release)


class PlatformLimiter:
    """One platform's global windows and one set of windows per chat; a paid broadcast's sends take the
    paid overall windows instead of the global ones (Telegram keeps the two budgets apart as far as its
    documentation says; the per-chat windows hold for both)."""

    def __init__(self, limits: Limits, platform: str = "", shared: SharedRates | None = None) -> None:
        self._limits = limits
        self._platform = platform
        self._shared = shared
        self._global = [Window(r, paced=True) for r in limits.global_rates]
        self._paid = [Window(r, paced=True) for r in limits.paid_global_rates] or self._global
        self._chat_rates = limits.per_chat_rates
        self._chats: dict[str, list[Window]] = {}
        self._opening = [Window(r) for r in limits.open_rates]

    @contextlib.asynccontextmanager
    async def slot(
        self, chat_id: str, paid: bool = False, ready: AbstractAsyncContextManager[None] | None = None
    ) -> AsyncIterator[None]:
        """Hold a place in every window for one send; the places free up ``period`` after it ends.
        ``paid``: a paid broadcast's send, under the paid overall rates. The topics of a Telegram forum
        share their chat's windows (Telegram limits the chat): content/chats.py. ``ready``: what the
        send still waits for in this process (sending.py's gate of unrecorded sends), entered after this
        process's windows."""
        chat_id = whole_chat_id(chat_id)
        chat = self._chats.get(chat_id)
        if chat is None:
            chat = self._chats[chat_id] = [Window(r) for r in self._chat_rates]
        ready = ready or contextlib.nullcontext()
        # Per-chat first: waiting for a chat's slot must not hold a global slot meanwhile.
        async with _held([*chat, *(self._paid if paid else self._global)]):
            if self._shared is None:
                async with ready:
                    yield
            elif paid:
                # A paid broadcast's turns come 1 ms apart, reserved many at once: sleeping until one's
                # turn while holding the gate would leave less of the gate to the sends under way.
                async with self._shared.turn(self._platform, chat_id, self._limits, paid), ready:
                    yield
            else:
                # The free turn holds a place of the overall limit shared by all instances: a send queued at
                # the gate must not hold one (three instances held all 30 of Telegram's and sent 10 a second).
                async with ready, self._shared.turn(self._platform, chat_id, self._limits, paid):
                    yield

    @contextlib.asynccontextmanager
    async def opening(self) -> AsyncIterator[None]:
        """Hold a place in the windows of opening a private chat (Slack's tier 3 on conversations.open),
        so a must-read to many new people waits its turn instead of drawing 429s. Not shared between
        instances: a person's private chat is opened once and then remembered (content/direct.py)."""
        async with _held(self._opening):
            yield


@contextlib.asynccontextmanager
async def _held(windows: list[Window]) -> AsyncIterator[None]:
    """A place in each of ``windows``, taken in order; each frees up its period after the holder ends."""
    held: list[Window] = []
    try:
        for window in windows:
            await window.acquire()
            held.append(window)
        yield
    finally:
        for window in held:
            window.release_later()


class RateBudget:
    """The limiter of every platform, by platform name; with ``shared`` (several instances on one
    PostgreSQL) every send also waits its turn among all instances' sends."""

    def __init__(self, adapters: Mapping[str, Adapter], shared: SharedRates | None = None) -> None:
        self._limiters = {
            platform: PlatformLimiter(adapter.limits, platform, shared) for platform, adapter in adapters.items()
        }
        self._limits = {platform: adapter.limits for platform, adapter in adapters.items()}
        self._shared = shared

    async def close(self) -> None:
        """Free the shared places of the sends that finished (at stop, after the last send)."""
        if self._shared is not None:
            await self._shared.close()

    def limiter(self, platform: str) -> PlatformLimiter:
        limiter = self._limiters.get(platform)
        if limiter is None:  # an adapter added after start-up (tests): no declared limits known yet
            limiter = self._limiters[platform] = PlatformLimiter(Limits(text_length=0))
        return limiter

    def sends_per_second(self, platform: str, paid: bool = False) -> float | None:
        """The platform's tightest global rate in messages per second (None: it declares none); ``paid``:
        of a paid broadcast (its global rate where it has no paid one)."""
        limits = self._limits.get(platform)
        rates = () if limits is None else (limits.paid_global_rates if paid else ()) or limits.global_rates
        if not rates:
            return None
        return min(rate.count / rate.period for rate in rates)


def in_flight_cap(sends_per_second: float | None, horizon: float, ceiling: int) -> int:
    """How many deliveries to hold claimed at once: what the platform lets us send within ``horizon``
    seconds (so a crash leaves few claims behind and an unanswered send is rare), never above ``ceiling``."""
    if sends_per_second is None:
        return ceiling
    return max(1, min(ceiling, math.ceil(sends_per_second * horizon)))
