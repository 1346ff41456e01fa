"""The Telegram Bot API peer in a process of its own, for bench/paid_broadcast.py: its CPU is measured
apart from prikbord's, and it does not share prikbord's interpreter (one GIL each).

    python bench/_paid_peer.py --chats N   → prints ``READY <api_base_url>``, then answers lines on stdin:
    ``COUNT`` → JSON {accepted, cpu}; ``REPORT`` → JSON summary of the sendMessage calls; ``EXIT``.

Flood limits as Telegram documents them: 30/s overall without ``allow_paid_broadcast``, 1,000/s with it,
1/s per chat, 20/min per group (tests/contracts/README.md). Private chats ``FIRST_CHAT + i``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: tests is not installed
from tests.peers.telegram import FloodLimits, TelegramPeer

FIRST_CHAT = 6_000_000_000


def most_in_one_second(times: list[float]) -> int:
    """The most accepted sends inside any one-second window (two pointers over the sorted times)."""
    times = sorted(times)
    most, start = 0, 0
    for end, t in enumerate(times):
        while times[start] <= t - 1.0:
            start += 1
        most = max(most, end - start + 1)
    return most


def report(peer: TelegramPeer, chats: int, since: int) -> dict[str, Any]:
    calls = peer.calls_to("sendMessage")[since:]
    ok = [c for c in calls if c.status == 200]
    per_chat = Counter(int(c.params["chat_id"]) for c in ok)
    wanted = range(FIRST_CHAT, FIRST_CHAT + chats)
    times = [c.at for c in ok]
    return {
        "accepted": len(ok),
        "http_429": sum(1 for c in calls if c.status == 429),
        "other_errors": sum(1 for c in calls if c.status not in (200, 429)),
        "paid": sum(1 for c in ok if c.params.get("allow_paid_broadcast") is True),
        "chats_once": sum(1 for chat in wanted if per_chat[chat] == 1),
        "chats_missing": sum(1 for chat in wanted if per_chat[chat] == 0),
        "chats_doubled": sum(1 for chat in wanted if per_chat[chat] > 1),
        "first": min(times, default=0.0),
        "last": max(times, default=0.0),
        "most_in_one_second": most_in_one_second(times),
        "unknown_params": sorted(set(peer.unknown_params)),
        "cpu": time.process_time(),
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chats", type=int, required=True)
    parser.add_argument("--paid-rate", type=int, default=1000)
    args = parser.parse_args()
    flood = FloodLimits(overall=(30, 1.0), paid_overall=(args.paid_rate, 1.0), per_chat=(1, 1.0), per_group=(20, 60.0))
    peer = await TelegramPeer(flood=flood).start()
    for i in range(args.chats):
        peer.add_user(FIRST_CHAT + i, f"Medewerker {i}", started=True)
    print(f"READY {peer.api_base_url}", flush=True)
    loop = asyncio.get_running_loop()
    since = 0  # calls before the last RESET are not reported
    counted, accepted = 0, 0  # COUNT goes on from where it last looked: polled often, it must stay cheap
    try:
        while True:
            line = (await loop.run_in_executor(None, sys.stdin.readline)).strip()
            if line in ("", "EXIT"):
                return
            if line == "COUNT":
                new = peer.calls[counted:]
                counted += len(new)
                accepted += sum(1 for c in new if c.method == "sendMessage" and c.status == 200)
                print(json.dumps({"accepted": accepted, "cpu": time.process_time()}), flush=True)
            elif line == "REPORT":
                print(json.dumps(report(peer, args.chats, since)), flush=True)
            elif line == "RESET":
                since, counted, accepted = len(peer.calls_to("sendMessage")), len(peer.calls), 0
                print("{}", flush=True)
    finally:
        await peer.stop()


if __name__ == "__main__":
    asyncio.run(main())
