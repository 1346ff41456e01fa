"""Helpers shared by the Matrix benchmarks: their own Synapse, the bot exempt from rate limits, rooms, the bridge.

The homeserver is the test suite's (``tests/matrix_server.py``: generated config, offline, generous ``rc_*``),
started here as an instance of its own and stopped at the end. The bridge is the real ``App`` with the real
``MatrixAdapter``; the benchmark builds the adapter itself only to raise the send rate it announces to the
dispatcher (``messages_per_second``, 5/s by default, which a benchmark would merely measure).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import urllib.parse
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # the scripts run as ``python bench/x.py``; the test helpers live in tests/
    sys.path.insert(0, str(REPO))

from adapters.matrix.adapter import MatrixAdapter  # noqa: E402
from bot.app import App  # noqa: E402
from content.db import Store  # noqa: E402
from tests.adapters.harnesses.matrix import Person  # noqa: E402
from tests.e2e.matrix_bridge import StoreState, matrix_settings, new_room, room_channel  # noqa: E402
from tests.matrix_server import Login, SynapsePool, SynapseServer  # noqa: E402

ADMIN = "benchadmin"


def add_matrix_args(parser: argparse.ArgumentParser) -> None:
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
    parser.add_argument(
        "--synapse-dir",
        default=shm,
        help="where Synapse's directory and SQLite database go (default %(default)s: tmpfs, so fsyncs of the "
        "homeserver do not dominate; prikbord's own store stays in --sqlite-dir)",
    )


def start_synapse(args: argparse.Namespace, name: str) -> tuple[SynapsePool, SynapseServer]:
    pool = SynapsePool(parent=args.synapse_dir)
    return pool, pool.server(name)


async def exempt_from_rate_limits(server: SynapseServer, user_id: str) -> None:
    """Synapse's admin API: no ``rc_message`` for the bot (as an operator sets it up for a busy bridge)."""
    await asyncio.to_thread(server.register, ADMIN, admin=True)
    admin = await asyncio.to_thread(server.login, ADMIN)
    path = f"/_synapse/admin/v1/users/{urllib.parse.quote(user_id)}/override_ratelimit"
    body = {"messages_per_second": 0, "burst_count": 0}
    await asyncio.to_thread(server.request, "POST", path, body, admin.access_token)


async def create_rooms(owner: Person, invite: Sequence[str], count: int, concurrency: int = 4) -> list[str]:
    """``count`` public rooms created by ``owner`` with ``invite`` invited, ``concurrency`` at a time."""
    gate = asyncio.Semaphore(concurrency)

    async def one(n: int) -> str:
        async with gate:
            return await new_room(owner, invite, name=f"bench {n}")

    return list(await asyncio.gather(*(one(n) for n in range(count))))


def bridge(
    server: SynapseServer,
    bot: Login,
    store: Store,
    rooms: Sequence[str],
    *,
    messages_per_second: float,
    counter_debounce: float | None = None,
) -> App:
    """The App as ``prikbord run`` builds it for a ``[matrix]`` config with one channel per room, except that
    the adapter announces ``messages_per_second`` to the dispatcher (the bot is exempt on the homeserver)."""
    channels = [room_channel(f"room-{n}", room) for n, room in enumerate(rooms)]
    settings = matrix_settings(server, bot, channels)
    state = StoreState(store)
    adapter = MatrixAdapter(
        homeserver=server.base_url,
        user_id=bot.user_id,
        access_token=bot.access_token,
        device_id=bot.device_id,
        state_load=state.load,
        state_save=state.save,
        messages_per_second=messages_per_second,
    )
    return App(settings, store=store, adapters={"matrix": adapter}, counter_debounce=counter_debounce)


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) by the nearest-rank method; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q * len(ordered) + 0.5)))
    return float(ordered[rank - 1])
