"""The rate windows (bot/services/rate_windows.py): paced starts that came late are made up for within a
tenth of the period, and opening private chats has windows of its own. The loop's clock and asyncio.sleep
are replaced, so nothing here depends on how fast the machine is."""

from __future__ import annotations

import asyncio

import pytest

from adapters.base import Limits, Rate
from bot.services import rate_windows
from bot.services.rate_windows import PlatformLimiter, Window


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds


REAL_SLEEP = asyncio.sleep


@pytest.fixture
async def fake_time(monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    fake = FakeTime()
    loop = asyncio.get_running_loop()
    monkeypatch.setattr(rate_windows.asyncio, "sleep", fake.sleep)
    monkeypatch.setattr(loop, "time", lambda: fake.now)
    return fake


async def test_paced_starts_are_spaced_and_late_ones_made_up_within_a_tenth_of_the_period(
    fake_time: FakeTime,
) -> None:
    window = Window(Rate(100, 1.0), paced=True)  # a start every 10 ms; up to 100 ms of them made up
    await window.acquire()
    fake_time.now = 0.005
    await window.acquire()
    assert fake_time.slept == [0.005]  # the second start waits for its turn
    fake_time.slept.clear()
    fake_time.now = 0.5  # the loop was busy for half a second
    for _ in range(12):
        await window.acquire()
    # The ten starts the stall cost (100 ms' worth) go at once, the next is on time, then the pace again.
    assert [round(s, 3) for s in fake_time.slept if s > 1e-6] == [0.01]  # (sub-µs: the float sum of gaps)


async def test_opening_private_chats_waits_for_its_own_window(fake_time: FakeTime) -> None:
    limiter = PlatformLimiter(Limits(text_length=1, open_rates=(Rate(2, 60.0),)))
    async with limiter.opening():
        pass
    async with limiter.opening():
        pass
    third = asyncio.ensure_future(limiter.opening().__aenter__())
    await REAL_SLEEP(0)  # one turn of the loop: the third opening is under way and waiting
    assert not third.done()  # both places are held until 60 s after their opening finished
    third.cancel()
    unlimited = PlatformLimiter(Limits(text_length=1))
    for _ in range(5):
        async with unlimited.opening():
            pass
