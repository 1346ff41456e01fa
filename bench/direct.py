"""Direct delivery: one must-read to ``--people`` people privately (``to: department=sales``), on Telegram and
on Slack, through the loopback peers enforcing the platforms' limits.

- **Work:** ``--people`` (2,000) people in the directory, department Sales, each with one account: on Telegram
  one who started the bot (private chat known), on Slack one whose DM is not opened yet. One post
  ``to: department=sales`` with ``cta: acknowledge`` through the App as ``prikbord run`` builds it (the real
  adapters over HTTP and the real ``Dispatcher`` with its default policy) on a fresh store: each person gets a
  private copy (content/direct.py), a delivery in the outbox like any other.
- **Peers, real clock:** Telegram ``FloodLimits(overall=30/1 s, per_chat=1/1 s, per_group=20/60 s)``; Slack 1
  message/s per channel (each DM is a channel of its own) and ``--workspace-rate`` (20/s, the adapter's default
  workspace budget) per workspace, and ``conversations.open`` (Slack's tier 3) at ``--open-rate`` a minute,
  the same figure given to prikbord as ``[slack] open_rate_per_minute``. Slack documents tier 3 as "50+ per
  minute"; at 50 the first must-read to 2,000 people whose DMs were never opened is bounded by the tier
  (40 minutes), so the bench grants 1,200 a minute by default to measure the sender in 100 s.
- **Measured:** from ``PublishingService.create`` until the peer accepted the last copy; messages/s against the
  bound (Telegram 30/s overall; Slack the workspace rate, ``ceil(n / W) - 1`` seconds from first to last, or the
  tier of opening the DMs, ``(ceil(n / O) - 1) * 60`` for ``O`` a minute, whichever is longer), goal
  ≥ 0.95. Also until every outcome is recorded (``settle``) and the 429s.
- **Baseline, same run:** a naive loop per person on a fresh peer with the same limits (Telegram ``send_message``
  to the private chat; Slack ``conversations.open`` then ``chat.postMessage``), sleeping each 429's retry-after.
- **Verified (exit 1 otherwise):** every person got exactly one copy in their private chat, nothing went to a
  group channel, and every delivery is ``sent`` in the store.

    .venv/bin/python bench/direct.py [--people 2000] [--rounds 1] [--platform telegram|slack|both]
        [--postgres-url URL] [--sqlite-only]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from _common import Backend, add_common_args, backends_from, conclude, fresh_store, median, print_table, quiet_logging
from sqlalchemy import func, select, text

from bot.app import App
from bot.config import Settings
from bot.services.drafts import CallToAction, PostDraft
from bot.services.roles import Role
from content.db import Store
from content.models import CtaKind, Delivery, DeliveryState, Employee, Identity, table_of

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: tests.peers is not installed
from tests.peers.slack import DEFAULT_TIER_RATES, SlackPeer, Window
from tests.peers.telegram import FloodLimits, TelegramPeer

GOAL_RATIO = 0.95
TELEGRAM_BOUND = 30.0
GROUP = -1003000000000
FIRST_USER = 7_000_000
BODY = "Vanaf **januari** geldt de nieuwe prijslijst. Lees haar en bevestig hieronder dat je dat deed."


@dataclass
class Run:
    seconds: float  # start → last copy accepted by the peer
    settled: float  # start → every outcome recorded (the same as seconds for the naive loop)
    sent: int
    http_429: int
    bound_s: float  # the earliest the last copy can be accepted after the first
    problems: list[str] = field(default_factory=list)
    first: float = float("nan")  # start → first copy accepted (the post stored, its copies claimed)

    @property
    def per_s(self) -> float:
        return self.sent / self.seconds

    @property
    def ratio(self) -> float:
        return self.bound_s / self.seconds if self.seconds else float("nan")

    def row(self, name: str, backend: str) -> list[object]:
        exact = "yes" if not self.problems else "NO"
        row = [name, backend, self.sent, self.first, self.seconds, self.settled, self.per_s, self.ratio, self.http_429]
        return [*row, exact]

    def figures(self) -> dict[str, Any]:
        return {
            "first_copy_seconds": round(self.first, 2),
            "seconds": round(self.seconds, 2),
            "settled_seconds": round(self.settled, 2),
            "msgs_per_s": round(self.per_s, 2),
            "ratio_of_bound": round(self.ratio, 3),
            "http_429": self.http_429,
            "exactly_once": not self.problems,
        }


def bound_seconds(n: int, rate: float) -> float:
    """First to last of ``n`` messages at ``rate`` per sliding second."""
    return float(max(0, math.ceil(n / rate) - 1))


async def seed_people(store: Store, platform: str, user_ids: list[str], private_chats: list[str | None]) -> None:
    """``len(user_ids)`` people of Sales in the directory, one account each (bulk, before the App starts)."""
    now = datetime.now(UTC)
    async with store.transaction() as session:
        first = int(await session.scalar(select(func.coalesce(func.max(Employee.id), 0))) or 0) + 1
        employees = [
            {"id": first + i, "name": f"Persoon {i}", "department": "Sales", "created_at": now}
            for i in range(len(user_ids))
        ]
        await session.execute(table_of(Employee).insert(), employees)
        identities = [
            {
                "platform": platform,
                "platform_user_id": user,
                "display_name": f"Persoon {i}",
                "employee_id": first + i,
                "private_chat_id": chat,
            }
            for i, (user, chat) in enumerate(zip(user_ids, private_chats, strict=True))
        ]
        await session.execute(table_of(Identity).insert(), identities)
        if session.get_bind().dialect.name == "postgresql":  # explicit ids do not move the id sequence
            await session.execute(
                text("SELECT setval(pg_get_serial_sequence('employees', 'id'), (SELECT max(id) FROM employees))")
            )


async def post_and_settle(app: App, timeout: float) -> tuple[float, float]:
    draft = PostDraft(
        title="Nieuwe prijzen", body=BODY, cta=CallToAction(CtaKind.ACKNOWLEDGE), audience=("department=sales",)
    )
    started = time.perf_counter()
    await app.publishing.create(draft, "bench", Role.MODERATOR)
    await app.dispatcher.settle(timeout=timeout)
    return started, time.perf_counter() - started


async def all_sent(store: Store, n: int) -> list[str]:
    async with store.sessions() as session:
        states = list((await session.execute(select(Delivery.state))).scalars())
    problems = []
    if len(states) != n:
        problems.append(f"{len(states)} deliveries in the store, expected {n}")
    if any(s != DeliveryState.SENT for s in states):
        problems.append(f"{sum(s != DeliveryState.SENT for s in states)} deliveries not sent")
    return problems


# -- Telegram ---------------------------------------------------------------------------------------


async def telegram_peer(users: list[int]) -> tuple[TelegramPeer, list[float]]:
    peer = await TelegramPeer(flood=FloodLimits(overall=(30, 1.0), per_chat=(1, 1.0), per_group=(20, 60.0))).start()
    peer.add_chat(GROUP, "supergroup", "Kantoor")
    for user in users:
        peer.add_user(user, f"P{user}")
    accepted: list[float] = []
    send: Callable[[dict[str, Any]], Any] = peer._handlers["sendMessage"]

    def timed(params: dict[str, Any]) -> Any:
        result = send(params)  # raises (a 429 among them) before anything is recorded
        accepted.append(time.perf_counter())
        return result

    peer._handlers["sendMessage"] = timed
    return peer, accepted


def telegram_one_each(peer: TelegramPeer, users: list[int]) -> list[str]:
    counts = {u: 0 for u in users}
    stray = 0
    for message in peer.bot_messages():
        if message.chat_id in counts:
            counts[message.chat_id] += 1
        else:
            stray += 1
    problems = [f"{stray} messages outside the people's private chats"] if stray else []
    wrong = {u: n for u, n in counts.items() if n != 1}
    if wrong:
        problems.append(f"{len(wrong)} people did not get exactly one copy, e.g. {sorted(wrong.items())[:5]}")
    return problems


def telegram_429(peer: TelegramPeer) -> int:
    return sum(1 for c in peer.calls_to("sendMessage") if c.status == 429)


async def telegram_dispatcher(backend: Backend, args: argparse.Namespace) -> tuple[Run, dict[str, Any]]:
    users = [FIRST_USER + i for i in range(args.people)]
    peer, accepted = await telegram_peer(users)
    try:
        async with fresh_store(backend, args.sqlite_dir) as store:
            await seed_people(store, "telegram", [str(u) for u in users], [str(u) for u in users])
            settings = Settings.model_validate(
                {
                    "console": {"enabled": False},
                    "telegram": {"token": peer.token, "api_base_url": peer.api_base_url, "mode": "polling"},
                    "channels": [
                        {"name": "kantoor", "platform": "telegram", "chat_id": str(GROUP), "tags": ["everyone"]}
                    ],
                }
            )
            app = App(settings, store=store)
            await app.start()
            try:
                started, settled = await post_and_settle(app, args.timeout)
            finally:
                await app.stop()
            problems = telegram_one_each(peer, users) + await all_sent(store, len(users))
        first = peer.bot_messages(users[0])
        sample = {"text": first[0].source, "parse_mode": first[0].parse_mode, "reply_markup": first[0].reply_markup}
        run = Run(
            max(accepted) - started,
            settled,
            len(accepted),
            telegram_429(peer),
            bound_seconds(len(users), TELEGRAM_BOUND),
            problems,
            min(accepted) - started,
        )
    finally:
        await peer.stop()
    return run, sample


def _retry_seconds(exc: Any) -> float:
    with warnings.catch_warnings():  # PTB 22 warns that retry_after becomes a timedelta
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


async def telegram_naive(args: argparse.Namespace, sample: dict[str, Any]) -> Run:
    from telegram import Bot, InlineKeyboardMarkup
    from telegram.error import RetryAfter

    users = [FIRST_USER + i for i in range(args.people)]
    peer, accepted = await telegram_peer(users)
    try:
        async with Bot(peer.token, base_url=f"{peer.api_base_url}/bot") as bot:
            markup = InlineKeyboardMarkup.de_json(sample["reply_markup"], bot) if sample["reply_markup"] else None
            started = time.perf_counter()
            for user in users:
                while True:
                    try:
                        await bot.send_message(
                            user, sample["text"], parse_mode=sample["parse_mode"], reply_markup=markup
                        )
                        break
                    except RetryAfter as exc:
                        await asyncio.sleep(_retry_seconds(exc))
            elapsed = time.perf_counter() - started
        last = max(accepted) - started
        bound = bound_seconds(len(users), TELEGRAM_BOUND)
        problems = telegram_one_each(peer, users)
        return Run(last, elapsed, len(accepted), telegram_429(peer), bound, problems, min(accepted) - started)
    finally:
        await peer.stop()


# -- Slack ------------------------------------------------------------------------------------------


class TimedSlackPeer(SlackPeer):
    def __init__(self, workspace_rate: int, open_rate: int) -> None:
        super().__init__(
            per_channel_rate=Window(1, 1.0),
            workspace_rate=Window(workspace_rate, 1.0),
            tier_rates={**DEFAULT_TIER_RATES, "conversations.open": Window(open_rate, 60.0)},
        )
        self.accepted: list[float] = []

    def _m_chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        answer = super()._m_chat_postMessage(args)  # raises (a 429 among them) before anything is recorded
        self.accepted.append(time.perf_counter())
        return answer

    def one_each(self, users: list[str]) -> list[str]:
        ims = {c.im_user: c for c in self.channels.values() if c.im_user is not None}
        wrong = {u: len(ims[u].messages) if u in ims else 0 for u in users}
        wrong = {u: n for u, n in wrong.items() if n != 1}
        problems = (
            [f"{len(wrong)} people did not get exactly one DM, e.g. {sorted(wrong.items())[:5]}"] if wrong else []
        )
        stray = [c.id for c in self.channels.values() if c.im_user is None and c.messages]
        if stray:
            problems.append(f"messages in group channels: {stray[:5]}")
        if self.violations:
            problems.append(f"calls outside Slack's contract: {self.violations[:3]}")
        return problems

    def http_429(self) -> int:
        calls = [*self.calls_of("conversations.open"), *self.calls_of("chat.postMessage")]
        return sum(1 for c in calls if c.status == 429)


def slack_bound(people: int, args: argparse.Namespace) -> float:
    """Seconds from the first copy to the last that Slack's limits allow: the workspace's message rate, or
    opening the DMs in the tier's windows (a burst of ``O``, then ``O`` more a minute later), whichever is longer."""
    return max(bound_seconds(people, args.workspace_rate), (math.ceil(people / args.open_rate) - 1) * 60.0)


async def slack_dispatcher(backend: Backend, args: argparse.Namespace) -> tuple[Run, dict[str, Any]]:
    async with TimedSlackPeer(args.workspace_rate, args.open_rate) as peer:
        channel = peer.add_channel("algemeen")
        users = [peer.add_user(f"persoon{i:05d}") for i in range(args.people)]
        async with fresh_store(backend, args.sqlite_dir) as store:
            await seed_people(store, "slack", users, [None] * len(users))  # no DM opened yet
            settings = Settings.model_validate(
                {
                    "console": {"enabled": False},
                    "slack": {
                        "bot_token": peer.bot_token,
                        "signing_secret": peer.signing_secret,
                        "api_base_url": peer.api_base_url,
                        "open_rate_per_minute": args.open_rate,
                    },
                    "channels": [{"name": "algemeen", "platform": "slack", "chat_id": channel, "tags": ["everyone"]}],
                }
            )
            app = App(settings, store=store)
            await app.start()
            try:
                started, settled = await post_and_settle(app, args.timeout)
            finally:
                await app.stop()
            problems = peer.one_each(users) + await all_sent(store, len(users))
        first = next(c for c in peer.channels.values() if c.im_user == users[0])
        message = next(iter(first.messages.values()))
        sample = {"text": message.text, "blocks": message.blocks}
        bound = slack_bound(len(users), args)
        first_copy = min(peer.accepted) - started
        run = Run(
            max(peer.accepted) - started, settled, len(peer.accepted), peer.http_429(), bound, problems, first_copy
        )
        return run, sample


async def slack_naive(args: argparse.Namespace, sample: dict[str, Any]) -> Run:
    from slack_sdk.errors import SlackApiError
    from slack_sdk.web.async_client import AsyncWebClient

    async def call(make: Callable[[], Any]) -> Any:
        while True:
            try:
                return await make()
            except SlackApiError as exc:
                if exc.response.status_code != 429:
                    raise
                await asyncio.sleep(float(exc.response.headers.get("Retry-After", 1)))

    peer = TimedSlackPeer(args.workspace_rate, args.open_rate)
    async with peer, aiohttp.ClientSession() as session:
        peer.add_channel("algemeen")
        users = [peer.add_user(f"persoon{i:05d}") for i in range(args.people)]
        client = AsyncWebClient(token=peer.bot_token, base_url=peer.api_base_url, session=session)
        started = time.perf_counter()
        for user in users:
            opened = await call(lambda user=user: client.conversations_open(users=user))
            dm = opened["channel"]["id"]
            await call(lambda dm=dm: client.chat_postMessage(channel=dm, text=sample["text"], blocks=sample["blocks"]))
        elapsed = time.perf_counter() - started
        bound = slack_bound(len(users), args)
        return Run(
            max(peer.accepted) - started,
            elapsed,
            len(peer.accepted),
            peer.http_429(),
            bound,
            peer.one_each(users),
            min(peer.accepted) - started,
        )


# -- the run ----------------------------------------------------------------------------------------


def pick_median(runs: list[Run]) -> Run:
    target = median([r.per_s for r in runs])
    return min(runs, key=lambda r: abs(r.per_s - target))


async def main_async(args: argparse.Namespace) -> int:
    backends, note = backends_from(args)
    platforms = ["telegram", "slack"] if args.platform == "both" else [args.platform]
    print(
        f"direct must-read to {args.people} people, {args.rounds} round(s); bounds: Telegram "
        f"{TELEGRAM_BOUND:g}/s overall, Slack {args.workspace_rate}/s per workspace (DMs are channels of their own), "
        f"DMs opened at {args.open_rate}/min; "
        f"load {_load()}"
    )
    if note:
        print(note)
    rows: list[list[object]] = []
    figures: dict[str, Any] = {"people": args.people}
    failures: list[str] = []
    goal_met = True
    runners = {"telegram": (telegram_dispatcher, telegram_naive), "slack": (slack_dispatcher, slack_naive)}
    for platform in platforms:
        dispatcher, naive = runners[platform]
        sample: dict[str, Any] = {}
        for backend in backends:
            runs = []
            for _ in range(args.rounds):
                run, sample = await dispatcher(backend, args)
                runs.append(run)
            chosen = pick_median(runs)
            rows.append(chosen.row(f"{platform} prikbord", backend.name))
            figures[f"{platform}_{backend.name}"] = chosen.figures()
            failures += [f"{platform} {backend.name}: {p}" for r in runs for p in r.problems]
            if backend.name == "sqlite" and chosen.ratio < GOAL_RATIO:
                goal_met = False
        baseline = await naive(args, sample)
        rows.append(baseline.row(f"{platform} naive loop", "-"))
        figures[f"{platform}_naive"] = baseline.figures()
        failures += [f"{platform} naive: {p}" for p in baseline.problems]
    print_table(
        ["run", "store", "copies", "to first s", "to last s", "settled s", "msgs/s", "of bound", "429s", "one each"],
        rows,
    )
    print(f"load after: {_load()}")
    return conclude(
        figures,
        failures,
        "every person got exactly one private copy, nothing went to a group, every delivery is sent",
        goal_met=goal_met,
        enforce_goal=args.enforce_goal,
    )


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(parser, rounds=1)
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--platform", choices=("telegram", "slack", "both"), default="both")
    parser.add_argument("--workspace-rate", type=int, default=20, help="Slack messages/s per workspace (peer)")
    parser.add_argument(
        "--open-rate", type=int, default=1200, help="Slack conversations.open calls a minute (peer and prikbord)"
    )
    parser.add_argument("--timeout", type=float, default=900.0)
    args = parser.parse_args()
    quiet_logging()
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
