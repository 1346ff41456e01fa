"""Slack fan-out: one post to many channels through the loopback Web API peer enforcing Slack's rate limits.

- **Work:** one post (call to action acknowledge) to ``--channels`` Slack channels (300), one ``[[channels]]``
  entry each, through the App as ``prikbord run`` builds it: the real ``SlackAdapter`` (slack_sdk over HTTP) and
  the real ``Dispatcher`` (its default ``DispatchPolicy``) on a fresh store. The adapter declares 1 message/s per
  channel and the workspace rate; with ``--workspace-rate`` other than the adapter's default (20/s) the App gets
  a ``SlackAdapter(workspace_rate=…)`` built here, so the dispatcher and the peer agree on the limit.
- **Peer:** ``tests/peers/slack.py`` on 127.0.0.1 with ``per_channel_rate`` 1 message/1 s and ``workspace_rate``
  ``--workspace-rate``/1 s (sliding windows on the real clock): a chat.postMessage over either is answered HTTP 429
  ``ratelimited`` with ``Retry-After``. Every call is checked against Slack's Web API contract. ``--latency-ms``
  delays every call (loopback answers in about a millisecond; Slack itself is further away).
- **Bound:** with at most W messages in any 1 s and N channels, one message each, the last message cannot be
  accepted earlier than ``(ceil(N / W) - 1)`` s after the first (bursts of W, a second apart): 14 s for 300 at 20/s.
  (The plainer N / W = 15 s is printed too.) The per-channel limit does not bind with one message per channel.
- **Measured:** from ``PublishingService.create`` (the post is stored, published and its deliveries written) until
  the peer accepted the last message; ratio = bound / that time (goal ≥ 0.95). Also the time until every outcome
  is recorded (``App.settle``), and the 429s the peer answered.
- **Baseline, same run:** a naive loop awaiting slack_sdk ``AsyncWebClient.chat_postMessage`` channel by channel
  (same text, blocks and metadata; one aiohttp session) against a fresh peer with the same limits; on 429 it sleeps
  ``Retry-After`` and sends again.
- **Verified (exit 1 otherwise):** every channel got exactly one message from the bot, carrying its delivery's
  metadata; every delivery is ``sent`` in the store with the ``ts`` the peer gave; the peer saw no call outside
  the contract.

    .venv/bin/python bench/slack_fanout.py [--channels 300] [--workspace-rate 20] [--rounds 1] [--sqlite-only]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from _common import (
    Backend,
    add_common_args,
    backends_from,
    conclude,
    fresh_store,
    median,
    print_table,
    quiet_logging,
)
from aiohttp import web
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select

from adapters.base import Adapter, Rate
from adapters.slack.adapter import DEFAULT_WORKSPACE_RATE, SlackAdapter
from bot.app import App
from bot.config import Settings
from bot.services.dispatch import DispatchPolicy
from bot.services.drafts import CallToAction, PostDraft
from bot.services.roles import Role
from content.db import Store
from content.models import Channel, CtaKind, Delivery, DeliveryState

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: tests.peers is not installed
from tests.peers.slack import SlackPeer, Window

GOAL_RATIO = 0.95
BODY = "Vanaf **januari** geldt de nieuwe verlofregeling. Lees haar en bevestig hieronder dat je dat deed."


def bound_seconds(channels: int, workspace_rate: int) -> float:
    """The earliest the last of ``channels`` messages can be accepted after the first, W per sliding second."""
    return float(max(0, math.ceil(channels / workspace_rate) - 1))


@dataclass
class Run:
    seconds: float  # start → last message accepted by the peer
    settled: float  # start → every outcome recorded (dispatcher only; the same as seconds for the naive loop)
    sent: int
    http_429: int
    first_to_last: float  # first → last accepted message
    bound: float
    problems: list[str] = field(default_factory=list)

    @property
    def per_s(self) -> float:
        return self.sent / self.seconds

    @property
    def ratio(self) -> float:
        return self.bound / self.seconds

    def row(self, name: str, backend: str) -> list[object]:
        exact = "yes" if not self.problems else "NO"
        return [name, backend, self.sent, self.seconds, self.settled, self.per_s, self.ratio, self.http_429, exact]

    def figures(self) -> dict[str, Any]:
        return {
            "seconds": round(self.seconds, 2),
            "settled_seconds": round(self.settled, 2),
            "first_to_last_s": round(self.first_to_last, 2),
            "msgs_per_s": round(self.per_s, 2),
            "ratio_of_bound": round(self.ratio, 3),
            "http_429": self.http_429,
            "exactly_once": not self.problems,
        }


class TimedPeer(SlackPeer):
    """The peer, noting when each chat.postMessage was accepted (perf_counter)."""

    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__(
            per_channel_rate=Window(args.per_channel_rate, 1.0), workspace_rate=Window(args.workspace_rate, 1.0)
        )
        self.accepted: list[float] = []
        self.latency = args.latency_ms / 1000

    async def _handle(self, request: web.Request) -> web.Response:
        if self.latency:
            await asyncio.sleep(self.latency)  # the way to Slack and back, before Slack looks at the call
        return await super()._handle(request)

    def _m_chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        answer = super()._m_chat_postMessage(args)  # raises (a 429 among them) before anything is recorded
        self.accepted.append(time.perf_counter())
        return answer

    def add_channels(self, n: int) -> list[str]:
        return [self.add_channel(f"vestiging-{i:03d}") for i in range(n)]

    def http_429(self) -> int:
        return sum(1 for c in self.calls_of("chat.postMessage") if c.status == 429)

    def one_each(self, channels: list[str]) -> list[str]:
        problems: list[str] = []
        wrong = {c: len(self.messages(c)) for c in channels if len(self.messages(c)) != 1}
        if wrong:
            problems.append(f"{len(wrong)} channels did not get exactly one message, e.g. {sorted(wrong.items())[:5]}")
        elsewhere = [c.id for c in self.channels.values() if c.id not in set(channels) and c.messages]
        if elsewhere:
            problems.append(f"messages in channels that are not the bench's: {elsewhere[:5]}")
        if self.violations:
            problems.append(f"calls outside Slack's contract: {self.violations[:3]}")
        return problems


def settings_for(peer: SlackPeer, channels: list[str]) -> Settings:
    return Settings.model_validate(
        {
            "console": {"enabled": False},
            "slack": {
                "bot_token": peer.bot_token,
                "signing_secret": peer.signing_secret,
                "api_base_url": peer.api_base_url,
            },
            "channels": [
                {"name": f"vestiging-{i:03d}", "platform": "slack", "chat_id": chat_id, "tags": ["everyone"]}
                for i, chat_id in enumerate(channels)
            ],
        }
    )


def adapters_for(peer: SlackPeer, workspace_rate: int) -> dict[str, Adapter] | None:
    """None (the App builds the adapter from settings) unless the workspace rate is not the adapter's default."""
    if Rate(workspace_rate, 1.0) == DEFAULT_WORKSPACE_RATE:
        return None
    adapter = SlackAdapter(
        bot_token=peer.bot_token,
        signing_secret=peer.signing_secret,
        api_base_url=peer.api_base_url,
        workspace_rate=Rate(workspace_rate, 1.0),
    )
    return {"slack": adapter}


async def verify_store(store: Store, peer: SlackPeer) -> list[str]:
    async with store.sessions() as session:
        rows = (
            await session.execute(
                select(
                    Channel.chat_id, Delivery.id, Delivery.post_id, Delivery.state, Delivery.platform_message_id
                ).join(Channel, Channel.id == Delivery.channel_id)
            )
        ).all()
    problems: list[str] = []
    if len(rows) != len(peer.channels):
        problems.append(f"{len(rows)} deliveries in the store, expected {len(peer.channels)}")
    not_sent = [r for r in rows if r.state != DeliveryState.SENT]
    if not_sent:
        problems.append(f"{len(not_sent)} deliveries not sent, e.g. {not_sent[:3]}")
    unmatched = 0
    for row in rows:
        message = peer.message(row.chat_id, row.platform_message_id or "")
        payload = (message.metadata or {}).get("event_payload", {}) if message else {}
        if payload.get("delivery_id") != row.id or payload.get("post_id") != row.post_id:
            unmatched += 1
    if unmatched:
        problems.append(f"{unmatched} deliveries whose ts the peer does not know or whose metadata is not theirs")
    return problems


async def run_dispatcher(backend: Backend, args: argparse.Namespace) -> tuple[Run, dict[str, Any]]:
    """One post to every channel through the App; returns the run and the message as sent (for the naive loop)."""
    bound = bound_seconds(args.channels, args.workspace_rate)
    peer = TimedPeer(args)
    async with peer:
        channels = peer.add_channels(args.channels)
        async with fresh_store(backend, args.sqlite_dir) as store:
            app = App(
                settings_for(peer, channels),
                store=store,
                adapters=adapters_for(peer, args.workspace_rate),
                dispatch_policy=DispatchPolicy(),
            )
            await app.start()
            try:
                draft = PostDraft(title="Nieuwe verlofregeling", body=BODY, cta=CallToAction(CtaKind.ACKNOWLEDGE))
                started = time.perf_counter()
                await app.publishing.create(draft, "bench", Role.MODERATOR)
                await app.dispatcher.settle(timeout=args.timeout)
                settled = time.perf_counter() - started
            finally:
                await app.stop()
            problems = peer.one_each(channels) + await verify_store(store, peer)
        first = peer.messages(channels[0])[:1]
        sample = {"text": first[0].text, "blocks": first[0].blocks} if first else {"text": "?", "blocks": None}
        accepted = peer.accepted or [float("nan")]
        run = Run(
            max(accepted) - started,
            settled,
            len(peer.accepted),
            peer.http_429(),
            max(accepted) - min(accepted),
            bound,
            problems,
        )
    return run, sample


async def run_naive(args: argparse.Namespace, sample: dict[str, Any]) -> Run:
    """``await client.chat_postMessage`` channel by channel; on 429 sleep Retry-After and send again."""
    peer = TimedPeer(args)
    async with peer, aiohttp.ClientSession() as session:
        channels = peer.add_channels(args.channels)
        client = AsyncWebClient(token=peer.bot_token, base_url=peer.api_base_url, session=session)
        started = time.perf_counter()
        for n, channel in enumerate(channels, start=1):
            metadata = {"event_type": "prikbord_post", "event_payload": {"post_id": 1, "delivery_id": n}}
            while True:
                try:
                    await client.chat_postMessage(
                        channel=channel, text=sample["text"], blocks=sample["blocks"], metadata=metadata
                    )
                    break
                except SlackApiError as exc:
                    if exc.response.status_code != 429:
                        raise
                    await asyncio.sleep(float(exc.response.headers.get("Retry-After", 1)))
        elapsed = time.perf_counter() - started
        last = max(peer.accepted) - started
        spread = max(peer.accepted) - min(peer.accepted)
        bound = bound_seconds(args.channels, args.workspace_rate)
        return Run(last, elapsed, len(peer.accepted), peer.http_429(), spread, bound, peer.one_each(channels))


def pick_median(runs: list[Run]) -> Run:
    target = median([r.seconds for r in runs])
    return min(runs, key=lambda r: abs(r.seconds - target))


async def main_async(args: argparse.Namespace) -> int:
    backends, note = backends_from(args)
    policy = DispatchPolicy()
    bound = bound_seconds(args.channels, args.workspace_rate)
    plain = args.channels / args.workspace_rate
    print(
        f"slack fan-out: 1 post to {args.channels} channels; peer limits {args.per_channel_rate} msg/s per channel, "
        f"{args.workspace_rate} msg/s per workspace (sliding 1 s windows, real clock), {args.latency_ms:g} ms added "
        "latency per call; "
        f"{args.rounds} round(s) per backend"
    )
    print(
        f"bound: the last message no earlier than {bound:.1f}s after the first (bursts of {args.workspace_rate}, "
        f"1 s apart; N/rate would be {plain:.1f}s); goal ≥ {GOAL_RATIO} of it, "
        f"i.e. done within {bound / GOAL_RATIO:.2f}s"
    )
    print(
        f"dispatcher: the App's (SlackAdapter + Dispatcher, concurrency={policy.concurrency}, "
        f"batch_size={policy.batch_size}); naive: await chat_postMessage per channel, sleeping Retry-After on 429"
    )
    if note:
        print(note)
    rows: list[list[object]] = []
    figures: dict[str, Any] = {
        "bench": "slack_fanout",
        "channels": args.channels,
        "workspace_rate": args.workspace_rate,
        "per_channel_rate": args.per_channel_rate,
        "latency_ms": args.latency_ms,
        "bound_seconds": bound,
        "goal_ratio": GOAL_RATIO,
        "rounds": args.rounds,
        "dispatcher": {},
    }
    if note:
        figures["note"] = note
    failures: list[str] = []
    sample: dict[str, Any] | None = None
    for backend in backends:
        runs: list[Run] = []
        for round_no in range(1, args.rounds + 1):
            run, sample = await run_dispatcher(backend, args)
            failures += [f"dispatcher {backend.name} round {round_no}: {p}" for p in run.problems]
            runs.append(run)
            print(
                f"  dispatcher {backend.name} round {round_no}: {run.sent} messages, last accepted after "
                f"{run.seconds:.2f}s ({run.ratio:.3f} of the bound), {run.http_429} x 429, "
                f"settled after {run.settled:.2f}s",
                flush=True,
            )
        chosen = pick_median(runs)
        rows.append(chosen.row("dispatcher (App)", backend.name))
        figures["dispatcher"][backend.name] = chosen.figures() | {"rounds_seconds": [round(r.seconds, 2) for r in runs]}
    if not args.skip_naive:
        assert sample is not None
        naive = await run_naive(args, sample)
        failures += [f"naive loop: {p}" for p in naive.problems]
        print(
            f"  naive loop: {naive.sent} messages, last accepted after {naive.seconds:.2f}s "
            f"({naive.ratio:.3f} of the bound), {naive.http_429} x 429",
            flush=True,
        )
        rows.append(naive.row("naive chat_postMessage loop", "-"))
        figures["naive"] = naive.figures()
    print()
    print_table(
        ["mode", "store", "messages", "seconds", "settled s", "msgs/s", "of bound", "429s", "1 per channel"], rows
    )
    goal_met = all(b["ratio_of_bound"] >= GOAL_RATIO for b in figures["dispatcher"].values())
    figures["goal_met"] = goal_met
    print(f"\ngoal ≥ {GOAL_RATIO} of the bound ({bound:.1f}s): {'met' if goal_met else 'NOT met'}")
    return conclude(
        figures,
        failures,
        "every channel got exactly one message with its delivery's metadata; every delivery sent",
        goal_met=goal_met,
        enforce_goal=args.enforce_goal,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    add_common_args(parser, rounds=1)
    parser.add_argument("--channels", type=int, default=300, help="Slack channels, one message each (%(default)s)")
    parser.add_argument(
        "--workspace-rate", type=int, default=20, help="messages/s per workspace, peer and adapter (%(default)s)"
    )
    parser.add_argument("--per-channel-rate", type=int, default=1, help="messages/s per channel at the peer (1)")
    parser.add_argument(
        "--latency-ms", type=float, default=0.0, help="delay the peer adds to every Web API call (%(default)s)"
    )
    parser.add_argument("--skip-naive", action="store_true", help="leave out the naive chat_postMessage loop")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds before a round is given up")
    args = parser.parse_args()
    quiet_logging()
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
