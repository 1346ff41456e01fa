"""Membership sync at scale: a 5,000-member Slack workspace over 200 channels, read within Slack's tier.

- **Work:** per run a fresh loopback Slack peer (``tests/peers/slack.py``, conversations.members limited to
  tier 4, 100 calls a minute, with 429 and ``Retry-After`` beyond it, as Slack does) and a fresh store with
  the 200 channels configured. 5,000 people (``--people``); channel sizes from a seeded log-normal spread:
  one "general" with everyone, a few large ones that page many times at the page limit (200), most a
  page or less. The real sync code reads them: ``AudienceService.sync_all`` (bot/services/audience.py)
  through the Slack adapter's ``list_members`` (adapters/slack/members.py, slack-sdk), which stores every
  channel's members (``audience.apply_member_list``).
- **Runs, each a fresh peer and store:** ``prikbord`` — the tier is fresh; ``prikbord, tier spent`` — a
  previous process spent the tier's 100 calls just before (a restart), so the first calls meet 429s and
  must wait them out; ``naive`` (baseline, same run) — the same service and storage, but each channel
  listed the way slack-sdk's documentation suggests: a loop of pages with no pacing, and slack-sdk's
  ``AsyncRateLimitErrorRetryHandler`` (its default one retry) waiting out a 429's ``Retry-After``; a channel
  whose listing still fails is skipped, keeping what was known; ``naive, no 429 retry`` — the same loop with
  the client as slack-sdk builds it (it retries connection errors only).
- **Reported per kind (median of ``--rounds``):** wall time of ``sync_all``; the calls made, the calls
  needed (each channel's members and the bot, 200 a page); the 429s received, how many of them were
  asked again and answered; channels not stored as the peer has them (lost); and the bound: the least time
  the tier allows for the calls needed (100 in any 60 s, beyond what the previous process spent).
- **Verified (exit 1 otherwise):** for prikbord's runs the stored open memberships of every channel equal
  the peer's members (the bot left out), every 429 was asked again and answered, no page was read twice.
  The baseline's losses are reported, not failed.

    .venv/bin/python bench/membership_sync.py [--rounds 3] [--postgres-url URL] [--sqlite-only]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _common import Backend, add_common_args, backends_from, conclude, fresh_store, median, print_table, quiet_logging
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select

from adapters.base import ChatRef, EventSink, MemberList, UserRef
from adapters.slack.adapter import SlackAdapter
from adapters.slack.members import MEMBERS_RATE, PAGE_SIZE, member_ids, next_cursor
from bot.clock import SystemClock
from bot.services.audience import AudienceService
from content import posts
from content.db import Store
from content.models import Channel, Identity, Membership

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: tests.peers is not installed
from tests.peers.slack import SlackPeer

METHOD = "conversations.members"
KINDS = ("prikbord", "prikbord, tier spent", "naive", "naive, no 429 retry")


class NaiveListing(SlackAdapter):
    """The baseline's listing: pages in a loop, unpaced; with ``retry`` slack-sdk's stock 429 handler (one
    retry after ``Retry-After``), without it the client as slack-sdk builds it (connection errors only)."""

    def __init__(self, peer: SlackPeer, *, retry: bool) -> None:
        super().__init__(bot_token=peer.bot_token, signing_secret=peer.signing_secret, api_base_url=peer.api_base_url)
        self._peer = peer
        self._retry = retry

    async def list_members(self, chat: ChatRef) -> MemberList | None:
        client = AsyncWebClient(token=self._peer.bot_token, base_url=self._peer.api_base_url)
        if self._retry:
            client.retry_handlers.append(AsyncRateLimitErrorRetryHandler())
        pages: list[Mapping[str, Any]] = []
        cursor = ""
        try:
            while True:
                answer = await client.conversations_members(channel=chat.chat_id, limit=PAGE_SIZE, cursor=cursor)
                page = answer.data if isinstance(answer.data, Mapping) else {}
                pages.append(page)
                cursor = next_cursor(page)
                if not cursor:
                    break
        except SlackApiError:
            return None  # keep what is known
        people = tuple(UserRef("slack", u) for u in member_ids(pages, self._peer.bot_user_id))
        return MemberList(people, partial=False, count=len(people))


def channel_sizes(args: argparse.Namespace) -> list[int]:
    """Members per channel: everyone in the first; then a log-normal spread (median ~40, a long tail)."""
    rng = random.Random(args.seed)
    rest = [max(2, min(args.people, round(rng.lognormvariate(math.log(40), 1.3)))) for _ in range(args.channels - 1)]
    return [args.people, *sorted(rest, reverse=True)]


def pages_needed(members: int) -> int:
    return max(1, math.ceil((members + 1) / PAGE_SIZE))  # the bot is a member too


def tier_bound(calls: int, spent: list[float], start: float) -> float:
    """Least seconds from ``start`` to the last of ``calls`` calls when at most the tier's count start in any
    of its periods, after the previous process's calls at ``spent``."""
    count, period = int(MEMBERS_RATE.count), MEMBERS_RATE.period
    times = list(spent)
    for _ in range(calls):
        times.append(max(start, times[-count] + period) if len(times) >= count else start)
    return times[-1] - start if calls else 0.0


@dataclass
class Run:
    wall_s: float
    bound_s: float
    calls: int
    needed: int
    limited: int
    retried: int
    lost: int
    problems: list[str] = field(default_factory=list)


async def stored_members(store: Store) -> dict[str, set[str]]:
    async with store.sessions() as session:
        rows = await session.execute(
            select(Channel.chat_id, Identity.platform_user_id)
            .join(Membership, Membership.channel_id == Channel.id)
            .join(Identity, Identity.id == Membership.identity_id)
            .where(Membership.left_at.is_(None))
        )
        found: dict[str, set[str]] = {}
        for chat_id, user_id in rows.all():
            found.setdefault(chat_id, set()).add(user_id)
        return found


async def spend_tier(peer: SlackPeer) -> list[float]:
    """Another process's reading just before: the tier's calls spent, as fast as the peer answers."""
    client = AsyncWebClient(token=peer.bot_token, base_url=peer.api_base_url)
    channel = next(iter(peer.channels))
    times = []
    for _ in range(int(MEMBERS_RATE.count)):
        times.append(time.monotonic())
        await client.conversations_members(channel=channel, limit=PAGE_SIZE)
    peer.calls.clear()
    return times


async def one_run(kind: str, backend: Backend, args: argparse.Namespace, sizes: list[int]) -> Run:
    async with SlackPeer(per_channel_rate=None, workspace_rate=None) as peer, fresh_store(backend) as store:
        people = [peer.add_user(f"person{n:05d}") for n in range(args.people)]
        rng = random.Random(args.seed + 1)
        chats = [peer.add_channel(f"c{n:03d}", members=()) for n in range(len(sizes))]
        for chat, size in zip(chats, sizes, strict=True):
            peer.channels[chat].members = {peer.bot_user_id, *rng.sample(people, size)}
        async with store.transaction() as session:
            await posts.sync_channels(session, [(f"c{n:03d}", "slack", c, ["everyone"]) for n, c in enumerate(chats)])
        adapter = (
            NaiveListing(peer, retry=kind == "naive")
            if kind.startswith("naive")
            else SlackAdapter(
                bot_token=peer.bot_token, signing_secret=peer.signing_secret, api_base_url=peer.api_base_url
            )
        )

        async def sink(_event: object) -> None:
            return None

        events: EventSink = sink
        await adapter.start(events)
        spent = await spend_tier(peer) if kind == "prikbord, tier spent" else []
        service = AudienceService(store, SystemClock(), {"slack": adapter}, refresh=None)
        try:
            started = time.monotonic()
            synced = await service.sync_all()
            wall = time.monotonic() - started
        finally:
            await adapter.stop()
        calls = peer.calls_of(METHOD)
        refused = [c for c in calls if c.status == 429]
        answered = {(c.args["channel"], c.args.get("cursor", "")) for c in calls if c.error is None}
        retried = sum(1 for c in refused if (c.args["channel"], c.args.get("cursor", "")) in answered)
        stored = await stored_members(store)
        wrong = [c for c in chats if stored.get(c, set()) != peer.channels[c].members - {peer.bot_user_id}]
        needed = sum(pages_needed(n) for n in sizes)
        run = Run(wall, tier_bound(needed, spent, started), len(calls), needed, len(refused), retried, len(wrong))
        if not kind.startswith("naive"):
            pages = [(c.args["channel"], c.args.get("cursor", "")) for c in calls if c.error is None]
            if wrong or len(synced) != len(chats):
                run.problems.append(
                    f"{len(wrong)} channels stored unlike the peer, {len(synced)} of {len(chats)} synced"
                )
            if retried != len(refused):
                run.problems.append(f"{len(refused) - retried} of {len(refused)} 429s not asked again")
            if len(pages) != len(set(pages)) or len(pages) != needed:
                run.problems.append(f"{len(pages)} pages read ({len(set(pages))} distinct), {needed} needed")
        return run


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


async def main_async(args: argparse.Namespace) -> int:
    backends, note = backends_from(args)
    if args.postgres_only:
        backends = [b for b in backends if b.name != "sqlite"]
    sizes = channel_sizes(args)
    needed = sum(pages_needed(n) for n in sizes)
    paging = sum(1 for n in sizes if pages_needed(n) > 1)
    print(
        f"membership sync benchmark: {args.people:,} Slack people over {len(sizes)} channels "
        f"({sum(sizes):,} memberships; sizes {sizes[0]:,}, {sizes[1]:,}, {sizes[2]:,} … median "
        f"{int(median(sizes))}, smallest {sizes[-1]}; {paging} channels page beyond {PAGE_SIZE}); {needed} calls of "
        f"{METHOD} needed at tier 4 ({MEMBERS_RATE.count:.0f}/{MEMBERS_RATE.period:.0f} s); {args.rounds} rounds"
    )
    if note:
        print(note)
    figures: dict[str, Any] = {"bench": "membership_sync", "people": args.people, "channels": len(sizes)}
    figures |= {"calls_needed": needed, "rounds": args.rounds, "backends": {}}
    failures: list[str] = []
    rows: list[list[object]] = []
    for backend in backends:
        runs: dict[str, list[Run]] = {k: [] for k in KINDS}
        for round_no in range(1, args.rounds + 1):
            for kind in KINDS:
                run = await one_run(kind, backend, args, sizes)
                runs[kind].append(run)
                failures += [f"{backend.name} {kind} round {round_no}: {p}" for p in run.problems]
                print(
                    f"  {backend.name} round {round_no} {kind}: {run.wall_s:.1f} s (bound {run.bound_s:.1f} s), "
                    f"{run.calls} calls ({run.needed} needed), {run.limited} × 429, {run.retried} asked again, "
                    f"{run.lost} channels lost; load {loadavg()}",
                    flush=True,
                )
        per_backend: dict[str, Any] = {}
        for kind in KINDS:
            done = runs[kind]
            wall, bound = median([r.wall_s for r in done]), median([r.bound_s for r in done])
            calls, limited = median([r.calls for r in done]), median([r.limited for r in done])
            retried, lost = median([r.retried for r in done]), max(r.lost for r in done)
            rows.append([backend.name, kind, wall, bound, bound / wall, calls, needed, limited, retried, lost])
            per_backend[kind] = {
                "wall_s_median": round(wall, 1),
                "wall_s": [round(r.wall_s, 1) for r in done],
                "bound_s_median": round(bound, 1),
                "calls_median": calls,
                "limited_median": limited,
                "retried_median": retried,
                "channels_lost_max": lost,
            }
        figures["backends"][backend.name] = per_backend
    print()
    headers = ["backend", "run", "wall s", "bound s", "bound ÷ wall", "calls", "needed", "429s", "asked again", "lost"]
    print_table(headers, rows)
    print(f"load average at the end: {loadavg()} (2 cores)")
    figures["load"] = loadavg()
    return conclude(figures, failures, "prikbord stored every channel as the peer has it; every 429 asked again")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    add_common_args(parser, rounds=3)
    parser.add_argument("--people", type=int, default=5_000, help="people in the workspace (default %(default)s)")
    parser.add_argument("--channels", type=int, default=200, help="channels (default %(default)s)")
    parser.add_argument("--seed", type=int, default=13, help="seed of the channel sizes (default %(default)s)")
    parser.add_argument("--postgres-only", action="store_true", help="skip SQLite (run it separately, in parallel)")
    args = parser.parse_args()
    quiet_logging()
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
