"""Telegram webhook ingest: button presses (callback queries) POSTed to ``/telegram/webhook`` over HTTP.

- **Server:** the App in Telegram webhook mode (real ``TelegramAdapter``, default engagement batching and counter
  refresh) with its web app, ``bot.web.create_web_app(app)``, served by uvicorn (``bot.web.WebServer``) on
  127.0.0.1 port 0, on a fresh store per round. The loopback Bot API peer only answers the adapter's start-up
  calls, the posts' sendMessage and the counter edits: the presses go straight to the web app, as Telegram sends them.
- **Work:** three published posts (acknowledge, poll of three, like) in 10 group chats = 30 messages with buttons;
  a seeded stream of ``--events`` (10,000) callback queries, each a distinct press (own update id and callback query
  id) by one of ``--people`` (2,000) on a random button of a random message: first acts, repeats (already counted)
  and changed votes. ``--warmup`` (320) presses by other people go first, untimed.
- **Client:** a separate process (so it does not share the server's core) running ``--concurrency`` (32) lanes
  over one ``httpx.AsyncClient``; each lane owns a fixed set of people and awaits each answer before its next
  press (per person the stream's order). Timed from the first request to the last answer; latency is per request,
  from sending it to reading the HTTP answer (which carries answerCallbackQuery, so the count is committed by then).
- **Verified (exit 1 otherwise):** every answer is 200 with ``answerCallbackQuery`` for that query and the text a
  pure-Python model of the stream expects (counted / already counted / changed to …); ``processed_events`` holds
  every press's ``tg:cb:<id>`` exactly once and nothing else; the stored responses (one ack/like per person and post,
  the latest vote) equal the model's.
- **Goal:** ≥ 1,500 events/s and p99 ≤ 100 ms on a 2-core machine (SQLite); figures are medians over rounds.

    .venv/bin/python bench/telegram_ingest.py [--rounds 3] [--events 10000] [--postgres-url URL] [--sqlite-only]
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import gc
import json
import multiprocessing
import random
import resource
import sys
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
from sqlalchemy import select
from starlette.types import ASGIApp, Receive, Scope, Send

from bot.app import App
from bot.clock import SystemClock
from bot.config import Settings
from bot.runtime import tune_gc
from bot.services.drafts import CallToAction, PostDraft
from bot.services.roles import Role
from bot.web import WebServer, create_web_app
from content.db import Store
from content.models import Channel, CtaKind, Delivery, Identity, ProcessedEvent, Response
from content.people import ensure_identity

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: tests.peers is not installed
from tests.peers.telegram import FloodLimits, TelegramPeer

GOAL_EVENTS_PER_S = 1500.0
GOAL_P99_MS = 100.0
SECRET = "bench-webhook_secret"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
GROUPS = [-1004000000000 - i for i in range(10)]
FIRST_PERSON = 7_000_000
FIRST_WARMUP_PERSON = 6_000_000
POLL = ("Pizza", "Sushi", "Salade")


class LateAsgi:
    """The web app, set once the App exists (the App needs the URL the server got on port 0)."""

    def __init__(self) -> None:
        self.target: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.target is not None
        await self.target(scope, receive, send)


@dataclass(frozen=True)
class Button:
    chat_id: int
    message_id: int
    date: int
    text: str
    post_id: int
    kind: str  # ack | vote | like
    value: str | None  # the poll option
    data: str  # callback_data


@dataclass
class Press:
    index: int
    person: int
    query_id: str
    body: bytes
    expected: str  # the answer text the model expects


@dataclass
class Model:
    """What the store must hold after the stream: one ack/like per person and post, the latest vote."""

    acts: dict[tuple[int, int, str], str | None] = field(default_factory=dict)  # (person, post, kind) → value

    def press(self, person: int, button: Button) -> str:
        key = (person, button.post_id, button.kind)
        post = button.post_id
        if button.kind in ("ack", "like"):
            if key in self.acts:
                return f"already counted (#{post})"
            self.acts[key] = None
            return f"✅ thanks, #{post} is marked as read" if button.kind == "ack" else f"👍 counted (#{post})"
        before = self.acts.get(key, "")
        self.acts[key] = button.value
        if before == "":
            return f"vote for {button.value} counted (#{post})"
        if before == button.value:
            return f"already counted (#{post})"
        return f"changed to {button.value} (#{post})"


def press_body(update_id: int, query_id: str, person: int, button: Button) -> bytes:
    update = {
        "update_id": update_id,
        "callback_query": {
            "id": query_id,
            "from": {"id": person, "is_bot": False, "first_name": f"Medewerker {person}", "language_code": "nl"},
            "message": {
                "message_id": button.message_id,
                "from": {"id": 123456789, "is_bot": True, "first_name": "Prikbord", "username": "prikbord_bot"},
                "date": button.date,
                "chat": {"id": button.chat_id, "type": "supergroup", "title": "Vestiging"},
                "text": button.text,
            },
            "chat_instance": str(abs(button.chat_id) * 7919 % 10**12),
            "data": button.data,
        },
    }
    return json.dumps(update, ensure_ascii=False).encode()


def make_stream(
    buttons: list[Button], model: Model, n: int, people: int, first_person: int, first_index: int, rng: random.Random
) -> list[Press]:
    presses = []
    for k in range(n):
        index = first_index + k
        person = first_person + rng.randrange(people)
        button = rng.choice(buttons)
        query_id = str(5_000_000_000_000_000 + index)
        body = press_body(900_000_000 + index, query_id, person, button)
        presses.append(Press(index, person, query_id, body, model.press(person, button)))
    return presses


def lanes_of(presses: list[Press], concurrency: int) -> list[list[tuple[int, bytes]]]:
    """Each lane owns the people with ``person % concurrency == lane``, in stream order."""
    lanes: list[list[tuple[int, bytes]]] = [[] for _ in range(concurrency)]
    for press in presses:
        lanes[press.person % concurrency].append((press.index, press.body))
    return lanes


# -- the client (a separate process) ---------------------------------------------------------------


@dataclass
class ClientResult:
    elapsed: float
    latencies: dict[int, float]  # press index → seconds
    answers: dict[int, tuple[int, bytes]]  # press index → (status, body)


def run_client(
    url: str, warmup: list[list[tuple[int, bytes]]], lanes: list[list[tuple[int, bytes]]], kind: str
) -> ClientResult:
    try:
        import uvloop  # the load generator only (the server runs on asyncio's own loop, as `prikbord run` does)

        uvloop.install()
    except ImportError:
        pass
    return asyncio.run(_client(url, warmup, lanes, kind))


Post = Callable[[bytes], Awaitable[tuple[int, bytes]]]


async def _client(
    url: str, warmup: list[list[tuple[int, bytes]]], lanes: list[list[tuple[int, bytes]]], kind: str
) -> ClientResult:
    """One connection per lane. httpx gets one AsyncClient per lane: a single client shared by 32 lanes spends
    its time in its own connection pool (measured here: ~180 requests/s against a server answering at once)."""
    import aiohttp
    import httpx

    latencies: dict[int, float] = {}
    answers: dict[int, tuple[int, bytes]] = {}
    headers = {"Content-Type": "application/json", SECRET_HEADER: SECRET}
    async with contextlib.AsyncExitStack() as stack:

        async def poster() -> Post:
            if kind == "aiohttp":
                session = await stack.enter_async_context(
                    aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1), headers=headers)
                )

                async def post_aiohttp(body: bytes) -> tuple[int, bytes]:
                    async with session.post(url, data=body) as response:
                        return response.status, await response.read()

                return post_aiohttp
            client = await stack.enter_async_context(
                httpx.AsyncClient(limits=httpx.Limits(max_connections=1), timeout=60, headers=headers)
            )

            async def post_httpx(body: bytes) -> tuple[int, bytes]:
                response = await client.post(url, content=body)
                return response.status_code, response.content

            return post_httpx

        posters = [await poster() for _ in lanes]

        async def lane(post: Post, items: list[tuple[int, bytes]]) -> None:
            for index, body in items:
                started = time.perf_counter()
                answers[index] = await post(body)
                latencies[index] = time.perf_counter() - started

        await asyncio.gather(*(lane(post, items) for post, items in zip(posters, warmup, strict=True)))
        started = time.perf_counter()
        await asyncio.gather(*(lane(post, items) for post, items in zip(posters, lanes, strict=True)))
        elapsed = time.perf_counter() - started
    return ClientResult(elapsed, latencies, answers)


# -- the server ------------------------------------------------------------------------------------


def settings_for(peer: TelegramPeer, public_url: str) -> Settings:
    channels = [
        {"name": f"vestiging-{i}", "platform": "telegram", "chat_id": str(chat_id), "tags": ["everyone"]}
        for i, chat_id in enumerate(GROUPS)
    ]
    return Settings.model_validate(
        {
            "console": {"enabled": False},
            "web": {"host": "127.0.0.1", "port": 0, "public_url": public_url},
            "telegram": {
                "token": peer.token,
                "api_base_url": peer.api_base_url,
                "mode": "webhook",
                "webhook_secret": SECRET,
            },
            "channels": channels,
        }
    )


async def publish(app: App, peer: TelegramPeer) -> list[Button]:
    drafts = [
        ("ack", PostDraft("Nieuwe verlofregeling", "Lees en bevestig.", cta=CallToAction(CtaKind.ACKNOWLEDGE))),
        ("vote", PostDraft("Lunch vrijdag", "Wat eten we?", cta=CallToAction(CtaKind.POLL, POLL))),
        ("like", PostDraft("Koffieautomaat", "Staat op de tweede verdieping.", cta=CallToAction(CtaKind.LIKE))),
    ]
    kinds: dict[int, str] = {}
    for kind, draft in drafts:
        post = await app.publishing.create(draft, "bench", Role.MODERATOR)
        kinds[post.id] = kind
    await app.settle()
    async with app.store.sessions() as session:
        sent = await session.execute(
            select(Channel.chat_id, Delivery.platform_message_id, Delivery.post_id).join(
                Channel, Channel.id == Delivery.channel_id
            )
        )
        post_of = {(int(chat), int(message)): post_id for chat, message, post_id in sent.all() if message}
    buttons = []
    for msg in peer.bot_messages():
        assert msg.reply_markup is not None
        post_id = post_of[(msg.chat_id, msg.message_id)]
        kind = kinds[post_id]
        for row in msg.reply_markup["inline_keyboard"]:
            for button in row:
                value = button["text"].rsplit(" · ", 1)[0] if kind == "vote" else None
                buttons.append(
                    Button(
                        msg.chat_id, msg.message_id, msg.date, msg.text, post_id, kind, value, button["callback_data"]
                    )
                )
    assert len(buttons) == len(GROUPS) * 5, f"expected 50 buttons, found {len(buttons)}"
    return buttons


async def verify(store: Store, presses: list[Press], model: Model, result: ClientResult) -> list[str]:
    problems: list[str] = []
    wrong_status = wrong_answer = 0
    example = ""
    for press in presses:
        status, body = result.answers.get(press.index, (0, b""))
        if status != 200:
            wrong_status += 1
            example = example or f"press {press.index}: HTTP {status} {body[:120]!r}"
            continue
        answer = json.loads(body)
        expected = {"method": "answerCallbackQuery", "callback_query_id": press.query_id, "text": press.expected}
        if answer != expected:
            wrong_answer += 1
            example = example or f"press {press.index}: {answer} != {expected}"
    if wrong_status:
        problems.append(f"{wrong_status} presses not answered 200")
    if wrong_answer:
        problems.append(f"{wrong_answer} answers differ from the model's")
    if example:
        problems.append(f"first: {example}")
    async with store.sessions() as session:
        stored = list((await session.execute(select(ProcessedEvent.event_id))).scalars())
        query = select(Identity.platform_user_id, Response.post_id, Response.kind, Response.value).join(
            Identity, Identity.id == Response.identity_id
        )
        rows = (await session.execute(query)).all()
    wanted = {f"tg:cb:{p.query_id}" for p in presses}
    if len(stored) != len(set(stored)):
        problems.append(f"{len(stored) - len(set(stored))} event ids stored twice")
    if set(stored) != wanted:
        problems.append(
            f"processed_events: {len(wanted - set(stored))} missing, {len(set(stored) - wanted)} unexpected"
        )
    found: dict[tuple[int, int, str], list[str | None]] = defaultdict(list)
    for user_id, post_id, kind, value in rows:
        found[(int(user_id), post_id, str(kind))].append(value)
    expected_rows = {(person, post, kind): [value] for (person, post, kind), value in model.acts.items()}
    if dict(found) != expected_rows:
        differing = [k for k in set(found) | set(expected_rows) if found.get(k) != expected_rows.get(k)]
        problems.append(f"{len(differing)} (person, post, kind) responses differ from the model, e.g. {differing[:3]}")
    return problems


def _cpu_seconds() -> float:
    """CPU time of this (the server's) process, every thread: the event loop, aiosqlite's, uvicorn's."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def know(store: Store, people: int) -> None:
    """Make the stream's people known to the store beforehand (they pressed something before)."""
    now = SystemClock().now()
    async with store.transaction() as session:
        for i in range(people):
            person = FIRST_PERSON + i
            await ensure_identity(session, "telegram", str(person), f"Medewerker {person}", now)


@dataclass
class Round:
    per_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    events: int
    cpu_ms_per_event: float  # the server process's CPU per press (warm-up included), load-independent-ish
    problems: list[str]


async def run_round(
    backend: Backend, args: argparse.Namespace, pool: concurrent.futures.ProcessPoolExecutor, seed: int
) -> Round:
    async with TelegramPeer(flood=FloodLimits.off()) as peer:
        for chat_id in GROUPS:
            peer.add_chat(chat_id, "supergroup", f"Vestiging {chat_id}")
        asgi = LateAsgi()
        server = WebServer(asgi, "127.0.0.1", 0)
        await server.start()
        public_url = f"http://127.0.0.1:{server.port}"
        try:
            async with fresh_store(backend, args.sqlite_dir) as store:
                app = App(settings_for(peer, public_url), store=store)
                await app.start()
                try:
                    asgi.target = create_web_app(app.web_deps)
                    buttons = await publish(app, peer)
                    model, rng = Model(), random.Random(seed)
                    warm = make_stream(buttons, model, args.warmup, args.people, FIRST_WARMUP_PERSON, 0, rng)
                    timed = make_stream(buttons, model, args.events, args.people, FIRST_PERSON, args.warmup, rng)
                    if args.known_people:
                        await know(store, args.people)
                    if args.gc_freeze:
                        tune_gc()  # what `prikbord run` does after start-up
                    loop = asyncio.get_running_loop()
                    cpu_before = _cpu_seconds()
                    result = await loop.run_in_executor(
                        pool,
                        run_client,
                        f"{public_url}/telegram/webhook",
                        lanes_of(warm, args.concurrency),
                        lanes_of(timed, args.concurrency),
                        args.client,
                    )
                    cpu = _cpu_seconds() - cpu_before  # warm-up included: both are in the client's run
                    await app.settle()
                finally:
                    await app.stop()
                    gc.unfreeze()
                problems = await verify(store, warm + timed, model, result)
        finally:
            await server.stop()
        if peer.unknown_params:
            problems.append(f"parameters Telegram does not know: {sorted(set(peer.unknown_params))}")
    latencies = sorted(result.latencies[p.index] * 1000 for p in timed)
    return Round(
        per_s=len(timed) / result.elapsed,
        p50_ms=latencies[len(latencies) // 2],
        p99_ms=latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        max_ms=latencies[-1],
        events=len(timed),
        cpu_ms_per_event=cpu * 1000 / (len(timed) + len(warm)),
        problems=problems,
    )


async def main_async(args: argparse.Namespace) -> int:
    backends, note = backends_from(args)
    print(
        f"telegram webhook ingest: {args.events:,} callback queries (+{args.warmup} warm-up) at concurrency "
        f"{args.concurrency}, {args.people:,} people, 3 posts x {len(GROUPS)} groups; {args.rounds} rounds per backend"
    )
    print(
        "route: POST /telegram/webhook of bot.web.create_web_app(app) on uvicorn (bot.web.WebServer, 127.0.0.1:0, "
        f"real HTTP); client: {args.client} in a separate process, one connection per lane"
    )
    if note:
        print(note)
    figures: dict[str, Any] = {
        "bench": "telegram_ingest",
        "route": "http: bot.web.create_web_app on uvicorn (WebServer)",
        "client": args.client,
        "events": args.events,
        "concurrency": args.concurrency,
        "people": args.people,
        "rounds": args.rounds,
        "goal": {"events_per_s": GOAL_EVENTS_PER_S, "p99_ms": GOAL_P99_MS},
        "backends": {},
    }
    if note:
        figures["note"] = note
    rows: list[list[object]] = []
    failures: list[str] = []
    context = multiprocessing.get_context("spawn")  # a clean client process: no inherited loop or threads
    with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        for backend in backends:
            rounds: list[Round] = []
            for round_no in range(1, args.rounds + 1):
                r = await run_round(backend, args, pool, args.seed + round_no)
                failures += [f"{backend.name} round {round_no}: {p}" for p in r.problems]
                rounds.append(r)
                print(
                    f"  {backend.name} round {round_no}: {r.per_s:,.0f} events/s, p50 {r.p50_ms:.1f} ms, "
                    f"p99 {r.p99_ms:.1f} ms, max {r.max_ms:.1f} ms, server CPU {r.cpu_ms_per_event:.2f} ms/event",
                    flush=True,
                )
            per_s, p50, p99 = (median([getattr(r, k) for r in rounds]) for k in ("per_s", "p50_ms", "p99_ms"))
            rows.append([backend.name, per_s, min(r.per_s for r in rounds), p50, p99, max(r.max_ms for r in rounds)])
            figures["backends"][backend.name] = {
                "median_events_per_s": round(per_s, 1),
                "median_p50_ms": round(p50, 2),
                "median_p99_ms": round(p99, 2),
                "rounds_events_per_s": [round(r.per_s, 1) for r in rounds],
                "rounds_p99_ms": [round(r.p99_ms, 2) for r in rounds],
            }
    print()
    print_table(["backend", "events/s (median)", "min", "p50 ms", "p99 ms", "max ms"], rows)
    sqlite = figures["backends"]["sqlite"]
    goal_met = sqlite["median_events_per_s"] >= GOAL_EVENTS_PER_S and sqlite["median_p99_ms"] <= GOAL_P99_MS
    figures["goal_met"] = goal_met
    print(
        f"\ngoal ≥ {GOAL_EVENTS_PER_S:,.0f} events/s and p99 ≤ {GOAL_P99_MS:.0f} ms (SQLite medians): "
        f"{'met' if goal_met else 'NOT met'}"
    )
    return conclude(
        figures,
        failures,
        "every press answered as the model expects and stored exactly once; responses match",
        goal_met=goal_met,
        enforce_goal=args.enforce_goal,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    add_common_args(parser, rounds=3)
    parser.add_argument("--events", type=int, default=10_000, help="timed presses per round (default %(default)s)")
    parser.add_argument("--warmup", type=int, default=320, help="untimed presses first (default %(default)s)")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight (default %(default)s)")
    parser.add_argument("--people", type=int, default=2000, help="distinct people pressing (default %(default)s)")
    parser.add_argument(
        "--known-people",
        action="store_true",
        help="the people are known to the store before the timed stream (default: first seen in it, the cold case)",
    )
    parser.add_argument(
        "--client",
        choices=("httpx", "aiohttp"),
        default="aiohttp",
        help="the load generator's HTTP client (one httpx client tops out near 180 requests/s at 32 in flight)",
    )
    parser.add_argument(
        "--gc-freeze",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="bot.runtime.tune_gc() in the server process after start-up, as `prikbord run` does (default on)",
    )
    parser.add_argument("--seed", type=int, default=7, help="seed of the press stream (default %(default)s)")
    args = parser.parse_args()
    quiet_logging()
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
