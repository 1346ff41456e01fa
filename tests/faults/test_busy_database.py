"""A busy SQLite database (#17 item 7): the CLI next to a ``prikbord run`` under full write load.

``prikbord run`` fans a post out to many Telegram groups (the loopback peer, no flood limits, so the
outcomes are written as fast as the sends come back) while hundreds of people press its button; next to
it the operator runs ``prikbord stats`` and ``prikbord post`` again and again. Every command succeeds,
nothing anywhere says ``database is locked``, and every post and press is accounted for.

Reads take no write lock: while another process holds SQLite's write lock (``BEGIN IMMEDIATE``, held
open by the test), ``prikbord stats`` still answers, before the lock is let go.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.telegram.render import decode_callback_data
from tests.faults.prikbord_process import (
    CliResult,
    RunningPrikbord,
    cli,
    wait_for,
    wait_until_polling,
    write_config,
)
from tests.peers.telegram import FloodLimits, TelegramPeer

GROUPS = 100
PEOPLE = 200
ROUNDS = 2
FIRST_GROUP = -1003000000000
FIRST_PERSON = 50_000


@pytest.fixture
async def peer() -> AsyncIterator[TelegramPeer]:
    async with TelegramPeer(flood=FloodLimits.off()) as peer:
        for i in range(GROUPS):
            peer.add_chat(FIRST_GROUP - i, "supergroup", f"Vestiging {i}")
        for i in range(PEOPLE):
            peer.add_user(FIRST_PERSON + i, f"Collega {i}")
        yield peer


def like_button(peer: TelegramPeer, chat_id: int, message_id: int) -> str:
    msg = peer.message(chat_id, message_id)
    assert msg is not None and msg.reply_markup is not None
    for row in msg.reply_markup["inline_keyboard"]:
        for button in row:
            data = button.get("callback_data")
            if data and decode_callback_data(data)[1] == "like":
                return str(data)
    raise AssertionError(f"no like button under message {message_id} in {chat_id}")


async def press_everywhere(peer: TelegramPeer, post_title: str, stop: asyncio.Event) -> set[int]:
    """People press Like on the post's messages as they arrive, round after round, until ``stop``."""
    pressed: set[int] = set()
    people = itertools.cycle(range(PEOPLE))
    while not stop.is_set():
        messages = [m for m in peer.bot_messages() if m.source.startswith(f"<b>{post_title}")]
        for msg in messages:
            person = FIRST_PERSON + next(people)
            await peer.user_presses(person, msg.chat_id, msg.message_id, like_button(peer, msg.chat_id, msg.message_id))
            pressed.add(person)
        await asyncio.sleep(0.01 if messages else 0.05)
    return pressed


def hold_write_lock(path: Path, held: threading.Event, release: threading.Event) -> None:
    """Another process's writer: the SQLite write lock, held until ``release``."""
    connection = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
        held.set()
        release.wait(60)
        connection.execute("ROLLBACK")
    finally:
        connection.close()


def _read(database: Path, sql: str, *params: object) -> list[tuple[int, int]]:
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)
    try:
        return [(int(a), int(b)) for a, b in connection.execute(sql, params).fetchall()]
    finally:
        connection.close()


def sent_per_post(database: Path) -> dict[int, int]:
    return dict(_read(database, "SELECT post_id, count(*) FROM deliveries WHERE state = 'sent' GROUP BY post_id"))


def likes_of(database: Path, post_id: int) -> int:
    sql = "SELECT ?, count(DISTINCT identity_id) FROM responses WHERE post_id = ? AND kind = 'like'"
    return _read(database, sql, post_id, post_id)[0][1]


async def stats_while_locked(config: Path, database: Path) -> CliResult:
    held, release = threading.Event(), threading.Event()
    holder = asyncio.create_task(asyncio.to_thread(hold_write_lock, database, held, release))
    try:
        await asyncio.to_thread(held.wait, 30)
        assert held.is_set(), "the test could not take the write lock"
        # Without a write lock needed, the read answers while the lock is still held.
        return await cli(config, "stats", "--json", timeout=25)
    finally:
        release.set()
        await holder


async def test_cli_reads_and_writes_next_to_run_under_full_load(peer: TelegramPeer, tmp_path: Path) -> None:
    database = tmp_path / "prikbord.db"
    chats = [FIRST_GROUP - i for i in range(GROUPS)]
    config = write_config(tmp_path, peer, chats, f"sqlite:///{database}")
    run = await RunningPrikbord(config).start()
    stop_pressing = asyncio.Event()
    presser: asyncio.Task[set[int]] | None = None
    try:
        await wait_until_polling(peer, run)
        first = await cli(config, "post", "--title", "Drukte", "--body", "Like als je dit leest", "--cta", "like")
        assert first.ok(), first.stderr
        first_id = int(first.stdout.strip())
        presser = asyncio.create_task(press_everywhere(peer, "Drukte", stop_pressing))

        results: list[CliResult] = [first]
        for round_no in range(ROUNDS):
            results.append(await cli(config, "stats", "--json"))
            results.append(await cli(config, "stats", str(first_id), "--json"))
            results.append(
                await cli(config, "post", "--title", f"Extra {round_no}", "--body", "Nog een", "--cta", "acknowledge")
            )
        locked_read = await stats_while_locked(config, database)
        results.append(locked_read)

        for result in results:
            assert result.ok(), f"prikbord {' '.join(result.args)} failed:\n{result.stderr[-2000:]}"
            assert "database is locked" not in result.stderr + result.stdout
        extra_ids = [int(r.stdout.strip()) for r in results if r.args[0] == "post"][1:]
        assert len(extra_ids) == ROUNDS

        # Everything the CLI posted under load is delivered to every group, once.
        posted = {first_id, *extra_ids}

        async def all_sent() -> bool:
            done = await cli(config, "stats", "--json")
            assert done.ok(), done.stderr
            by_id = {p["id"]: p for p in json.loads(done.stdout)}
            return all(by_id[i]["deliveries"] == {"sent": GROUPS} for i in posted)

        await wait_for(all_sent, 90, f"{len(posted)} posts sent to {GROUPS} groups", interval=1.0)
        stop_pressing.set()
        pressed = await presser
        presser = None

        # Every person who pressed is counted once (the presses already queued are read in time).
        async def counted() -> bool:
            done = await cli(config, "stats", str(first_id), "--json")
            assert done.ok(), done.stderr
            return bool(json.loads(done.stdout)["counts"].get("like") == len(pressed))

        await wait_for(counted, 30, f"{len(pressed)} likes counted", interval=1.0)
        for chat_id in chats:
            titles = [m.source.split("</b>")[0] for m in peer.bot_messages(chat_id)]
            assert len(titles) == len(set(titles)) == len(posted), f"group {chat_id} got {titles}"
        assert len(pressed) == PEOPLE
        assert run.alive()
    finally:
        stop_pressing.set()
        if presser is not None:
            with contextlib.suppress(Exception):
                await presser
        code = await run.stop()
    log = run.stderr_text()
    assert "database is locked" not in log, log[-3000:]
    assert "Traceback" not in log, log[-3000:]
    assert code == 0, log[-3000:]
    assert not peer.unknown_params
