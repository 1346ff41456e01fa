"""Forum topics (#15) share their chat's flood limits: Telegram limits the chat, not the topic, so two
channels on two topics of one forum must not get a per-chat budget each."""

from __future__ import annotations

import asyncio

import pytest

from adapters.base import Limits, Rate
from bot.services.rate_windows import PlatformLimiter


async def _send(limiter: PlatformLimiter, chat_id: str) -> None:
    async with limiter.slot(chat_id):
        pass


async def test_two_topics_of_one_chat_share_its_per_chat_window() -> None:
    limiter = PlatformLimiter(Limits(text_length=4096, per_chat_rates=(Rate(1, 60),)))
    await _send(limiter, "-1001/45")
    with pytest.raises(TimeoutError):  # the chat's one message a minute is spent, whichever topic asks
        await asyncio.wait_for(_send(limiter, "-1001/46"), 0.05)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(_send(limiter, "-1001"), 0.05)
    await asyncio.wait_for(_send(limiter, "-1002/45"), 0.05)  # another chat has its own
