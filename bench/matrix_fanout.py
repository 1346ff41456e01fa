"""Matrix fan-out: one post to 100 rooms on a real Synapse, through the real Dispatcher (the App).

Starts its own Synapse (the test suite's generated config with generous ``rc_*`` limits; the bot is also
exempted from ``rc_message`` with the admin API), registers a bot and a room owner, and has the owner create
``--rooms`` public rooms with the bot invited. Per backend, a fresh store and a fresh bot device: the App starts
(joining the rooms on its first sync, when they are new), then each round a moderator's post with a call to
action is published to every room (``PublishingService.create`` writes its deliveries; the dispatcher sends
them, ``--rate`` messages/s announced by the adapter, at most 64 in flight).

Measured per round: from ``create`` until the dispatcher has recorded the last delivery ``sent`` (its
``on_sent`` hook, so the measurement adds no queries). Reported: messages/s, median over rounds. The first
round also pays one state lookup per room (the adapter checks once whether a room is encrypted).

Verified every round (exit 1 otherwise): every delivery ``sent`` with a distinct event id, and each room's
timeline, read back from Synapse by the owner, holds exactly one message of the post: the one recorded.

    .venv/bin/python bench/matrix_fanout.py [--rooms 100] [--rounds 3] [--postgres-url URL] [--sqlite-only]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from collections import Counter
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
from _matrix import add_matrix_args, bridge, create_rooms, exempt_from_rate_limits, start_synapse
from sqlalchemy import select

from bot.app import App
from bot.services.dispatch import SentDelivery
from bot.services.drafts import CallToAction, PostDraft
from bot.services.roles import Role
from content.models import Channel, CtaKind, Delivery, DeliveryState
from tests.adapters.harnesses.matrix import Person
from tests.e2e.matrix_bridge import is_post_event, room_events
from tests.matrix_server import SynapseServer

BOT = "fanoutbot"
OWNER = "fanoutowner"
BODY = "Vanaf **januari** geldt de nieuwe verlofregeling. Lees haar en bevestig met ✅."


class SentWatch:
    """Counts deliveries recorded ``sent`` per post (the dispatcher's ``on_sent`` hook)."""

    def __init__(self, app: App) -> None:
        self.sent: Counter[int] = Counter()
        self._changed = asyncio.Event()
        app.dispatcher.on_sent(self._on_sent)

    def _on_sent(self, sent: SentDelivery) -> None:
        self.sent[sent.post_id] += 1
        self._changed.set()

    async def until(self, post_id: int, count: int, timeout: float) -> None:
        deadline = time.perf_counter() + timeout
        while self.sent[post_id] < count:
            self._changed.clear()
            left = deadline - time.perf_counter()
            if left <= 0:
                raise TimeoutError(f"post #{post_id}: {self.sent[post_id]} of {count} sent after {timeout:g}s")
            try:
                await asyncio.wait_for(self._changed.wait(), left)
            except TimeoutError:
                continue


async def verify_round(
    app: App, owner: Person, bot_user_id: str, post_id: int, title: str, rooms: list[str]
) -> list[str]:
    problems: list[str] = []
    async with app.store.sessions() as session:
        rows = (
            await session.execute(
                select(Channel.chat_id, Delivery.state, Delivery.platform_message_id)
                .join(Channel, Channel.id == Delivery.channel_id)
                .where(Delivery.post_id == post_id)
            )
        ).all()
    recorded = {chat: message for chat, state, message in rows if state == DeliveryState.SENT and message}
    if len(rows) != len(rooms) or len(recorded) != len(rooms):
        problems.append(f"{len(recorded)} of {len(rows)} deliveries sent; expected {len(rooms)}")
    if len(set(recorded.values())) != len(recorded):
        problems.append("two deliveries share an event id")
    gate = asyncio.Semaphore(8)

    async def in_room(room: str) -> list[str]:
        async with gate:
            events = await room_events(owner, room, limit=50)
        return [e["event_id"] for e in events if is_post_event(e, bot_user_id) and title in e["content"]["body"]]

    found = await asyncio.gather(*(in_room(room) for room in rooms))
    for room, events in zip(rooms, found, strict=True):
        if events != [recorded.get(room)]:
            problems.append(f"{room} holds {len(events)} events of the post {events}, recorded {recorded.get(room)}")
    return problems


async def run_backend(
    backend: Backend, args: argparse.Namespace, server: SynapseServer, owner: Person, rooms: list[str]
) -> tuple[list[float], float, list[str]]:
    problems: list[str] = []
    rates: list[float] = []
    # A fresh device per store: the sync position and the adapter's records live in the store.
    bot = await asyncio.to_thread(server.login, BOT, True)
    async with fresh_store(backend, args.sqlite_dir) as store:
        app = bridge(server, bot, store, rooms, messages_per_second=args.rate)
        watch = SentWatch(app)
        started = time.perf_counter()
        await app.start()
        start_s = time.perf_counter() - started
        try:
            for round_no in range(1, args.rounds + 1):
                title = f"Fanout {backend.name} {round_no}"
                draft = PostDraft(title=title, body=BODY, cta=CallToAction(CtaKind.ACKNOWLEDGE))
                t0 = time.perf_counter()
                post = await app.publishing.create(draft, "matrix:@bench:localhost", Role.MODERATOR)
                await watch.until(post.id, len(rooms), args.timeout)
                elapsed = time.perf_counter() - t0
                rate = len(rooms) / elapsed
                rates.append(rate)
                found = await verify_round(app, owner, bot.user_id, post.id, title, rooms)
                problems += [f"{backend.name} round {round_no}: {p}" for p in found]
                verdict = "each room exactly one event" if not found else f"{len(found)} problems"
                print(
                    f"  {backend.name} round {round_no}: {len(rooms)} messages in {elapsed:.2f}s = {rate:,.0f}/s; "
                    f"{verdict}",
                    flush=True,
                )
        finally:
            await app.stop()
    return rates, start_s, problems


async def main_async(args: argparse.Namespace) -> int:
    backends, note = backends_from(args)
    print(f"matrix fan-out benchmark: one post to {args.rooms} rooms per round, {args.rounds} rounds per backend")
    if note:
        print(note)
    t = time.perf_counter()
    pool, server = await asyncio.to_thread(start_synapse, args, "fanout")
    owner: Person | None = None
    figures: dict[str, Any] = {"bench": "matrix_fanout", "rooms": args.rooms, "rounds": args.rounds, "backends": {}}
    failures: list[str] = []
    rows: list[list[object]] = []
    try:
        await asyncio.to_thread(server.register, BOT, OWNER)
        bot_id = server.user_id(BOT)
        await exempt_from_rate_limits(server, bot_id)
        owner = await Person.create(server, OWNER)
        rooms = await create_rooms(owner, [bot_id], args.rooms)
        setup_s = time.perf_counter() - t
        print(
            f"Synapse on {server.base_url} (data in {args.synapse_dir or 'the temp dir'}); {args.rooms} rooms "
            f"created, bot exempt from rc_message; set-up {setup_s:.1f}s"
        )
        figures["setup_s"] = round(setup_s, 1)
        for backend in backends:
            rates, start_s, problems = await run_backend(backend, args, server, owner, rooms)
            failures += problems
            rows.append([backend.name, median(rates), min(rates), max(rates), start_s])
            figures["backends"][backend.name] = {
                "median_messages_per_s": round(median(rates), 1),
                "rounds_messages_per_s": [round(r, 1) for r in rates],
                "app_start_s": round(start_s, 2),
            }
    finally:
        if owner is not None:
            await owner.close()
        await asyncio.to_thread(pool.close)
    print()
    print_table(["backend", "messages/s (median)", "min", "max", "App start s (joins)"], rows)
    return conclude(
        figures, failures, f"every round, each of the {args.rooms} rooms got exactly one event, the one recorded sent"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    add_common_args(parser)
    add_matrix_args(parser)
    parser.add_argument("--rooms", type=int, default=100, help="rooms the post goes to (default %(default)s)")
    parser.add_argument(
        "--rate", type=float, default=1000.0, help="messages/s the adapter announces (default %(default)s)"
    )
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds before a round is given up")
    args = parser.parse_args()
    quiet_logging()
    logging.getLogger("prikbord.notify").setLevel(logging.ERROR)  # "the bot was added to room-N" × rooms
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
