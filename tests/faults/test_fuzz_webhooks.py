"""Fuzzing the inbound side (issue 17, fault suite item 5): for each webhook (Telegram, Slack events, Slack
interactivity, Slack slash commands) 1,000 structure-aware mutations of real payloads, correctly signed (the
signature is not what is under test), plus random bytes of random sizes; and in polling mode updates the
Telegram peer serves that prikbord cannot parse.

Whatever arrives: no 5xx, no traceback in the logs, memory bounded (tracemalloc's peak while the requests
are handled), and nothing stored: no response or post (the payloads are presses and reactions on
messages prikbord never sent and commands that only read), and no identity but those of the people the
genuine payloads name (whoever acts in a channel is recorded as its member, issue 13), none made of a
mutant's junk. A seeded mutator (``SEED``), so a failure names the mutant that caused it and repeats.
"""

from __future__ import annotations

import copy
import json
import math
import random
import tracemalloc
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest

from bot.clock import FrozenClock
from content.db import Store, create_store
from content.migrate import upgrade
from tests.faults.webhooks import (
    ANNA,
    BRAM,
    GROUP,
    SlackSide,
    TelegramSide,
    eventually,
    slack_side,
    stored_people,
    stored_rows,
    telegram_command,
    telegram_press,
    telegram_side,
    watching_logs,
)

SEED = 1717
MUTANTS = 1000  # per webhook
RANDOM_BODIES = 40  # per webhook, of random bytes and sizes
MEMORY_PEAK = 96 * 1024 * 1024  # bytes traced while one webhook's requests are handled (bodies up to 1 MB)
FORM = "application/x-www-form-urlencoded"


# -- the mutator -------------------------------------------------------------------------------------------


def _junk(rng: random.Random) -> Any:
    """A value of a type or size Slack and Telegram never send where it lands."""
    choice = rng.randrange(22)
    if choice == 0:
        return None
    if choice == 1:
        return rng.choice([True, False])
    if choice == 2:
        return rng.choice([0, -1, 1, 2**31, 2**63, -(2**64), 10**30])
    if choice == 3:
        return rng.choice([0.5, -1e308, 1e308, math.inf, -math.inf, math.nan])
    if choice == 4:
        return ""
    if choice == 5:
        return "x" * rng.choice([1, 100, 5000, 50_000]) if rng.random() < 0.5 else "x"
    if choice == 6:
        return rng.choice(["\x00", "\x07\x08\x1b[2J", "\ud800", "\udfff\ud800", "\u202e\u2066", "\u200b", "🙂" * 300])
    if choice == 7:
        return []
    if choice == 8:
        return {}
    if choice == 9:
        return [None, 1, "a", {}, []]
    if choice == 10:
        return {"id": rng.choice([None, [], {}, 1.5])}
    if choice == 11:
        depth = rng.choice([3, 20, 63, 64, 65, 200, 3000])
        value: Any = rng.choice([1, "a", None])
        for _ in range(depth):
            value = [value] if rng.random() < 0.5 else {"a": value}
        return value
    if choice == 12:
        return [rng.randrange(100) for _ in range(rng.choice([10, 1000, 20_000] if rng.random() < 0.2 else [10]))]
    if choice == 13:
        return {f"k{n}": n for n in range(rng.choice([10, 2000] if rng.random() < 0.2 else [10]))}
    if choice == 14:
        return (
            "/"
            + rng.choice(["help", "search", "stats", "like", "post", "x" * 70])
            + rng.choice(["", "@", "@other_bot"])
        )
    if choice == 15:
        return str(rng.randrange(-(10**12), 10**12))
    if choice == 16:
        return "verlof " * rng.choice([1, 1000, 150_000] if rng.random() < 0.2 else [1, 1000])
    if choice == 17:
        return rng.choice(["1700000000.000100", "not.a.ts", "C0NOPE", "U0NOPE", "D0DIRECT", "-:like", "z" * 65])
    if choice == 18:
        return {"type": rng.choice(["message", "emoji", "block_actions", "view", None])}
    if choice == 19:
        return [{"type": "emoji", "emoji": rng.choice(["👍", 1, None])}] * rng.choice([1, 500])
    if choice == 20:
        return rng.choice(["private", "supergroup", "channel", "directmessage"])
    return "".join(chr(rng.randrange(0x20, 0x2FFF)) for _ in range(rng.choice([1, 10, 300])))


def _slots(value: Any, path: tuple[Any, ...] = (), depth: int = 0) -> list[tuple[Any, ...]]:
    """Every path into a payload (object keys and list indices), down to a bounded depth."""
    found = [path]
    if depth > 8:
        return found
    if isinstance(value, dict):
        for key, child in value.items():
            found += _slots(child, (*path, key), depth + 1)
    elif isinstance(value, list):
        for index, child in enumerate(value[:5]):
            found += _slots(child, (*path, index), depth + 1)
    return found


def _get(value: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        value = value[step]
    return value


def mutate(rng: random.Random, payload: Any) -> Any:
    """One to three structure-aware changes: a field replaced by junk, removed, added, its type swapped,
    doubled, or buried under many levels of nesting."""
    mutant = copy.deepcopy(payload)
    for _ in range(rng.choice([1, 1, 2, 3])):
        slots = _slots(mutant)
        path = rng.choice(slots)
        if not path:
            if rng.random() < 0.3:
                mutant = _junk(rng)
            continue
        parent, key = _get(mutant, path[:-1]), path[-1]
        old = parent[key]
        operation = rng.randrange(7)
        if operation == 0 and isinstance(parent, dict):
            del parent[key]
        elif operation == 1 and isinstance(parent, dict):
            parent[rng.choice(["extra", "from", "user", "date", "type", "text", "payload"])] = _junk(rng)
        elif operation == 2:
            if isinstance(old, str):
                parent[key] = int(old) if old.isdigit() else [old]
            else:  # a number or boolean as text; an object or list as the text of its type
                parent[key] = type(old).__name__ if isinstance(old, dict | list) else str(old)
        elif operation == 3:
            parent[key] = [old, old] if not isinstance(old, list) else old * rng.choice([2, 50])
        elif operation == 4:
            wrapped = old
            for _ in range(rng.choice([2, 70, 5000])):
                wrapped = [wrapped]
            parent[key] = wrapped
        else:
            parent[key] = _junk(rng)
    return mutant


def encode_json(rng: random.Random, value: Any) -> bytes:
    """As JSON, sometimes with raw non-ASCII (and then lone surrogates become invalid UTF-8)."""
    try:
        if rng.random() < 0.3:
            return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")
        return json.dumps(value).encode()
    except RecursionError:  # a 5000-deep mutant: what such a body looks like, without json.dumps
        return b"[" * 5000 + json.dumps(None).encode() + b"]" * 5000


def random_body(rng: random.Random) -> bytes:
    size = rng.choice([0, 1, 2, 17, 500, 4096, 70_000, 1024 * 1024, 1024 * 1024 + 1, 1_200_000])
    style = rng.randrange(4)
    if style == 0:
        return rng.randbytes(size)
    if style == 1:
        return bytes(rng.choice(b'{}[]":,0123456789truefalsn \\') for _ in range(min(size, 300_000)))
    if style == 2:
        return (b"payload=" + bytes(rng.choice(b"%5B%7B%22abc&=+") for _ in range(min(size, 200_000))))[:size]
    return b'{"update_id": 1, "message": ' * (size // 30) + b"}" * (size // 30)


# -- running the requests ------------------------------------------------------------------------------------


@dataclass
class Verdicts:
    statuses: dict[int, int]
    peak: int

    def add(self, status: int) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1


Requests = list[tuple[str, Callable[[], Any]]]


async def bombard(mutants: Requests, sized: Requests) -> Verdicts:
    """Send every request (``name`` says which), failing on a 5xx. The ``sized`` ones (random bytes up to
    a little over the 1 MB limit) run under tracemalloc, whose peak bounds what one request may cost;
    tracing all of them would make the suite several times slower for the same bound."""
    verdicts = Verdicts({}, 0)

    async def send(name: str, request: Callable[[], Any]) -> None:
        answer = await request()
        assert answer.status_code < 500, f"{name}: {answer.status_code} {answer.text[:300]}"
        verdicts.add(answer.status_code)

    for name, request in mutants:
        await send(name, request)
    tracemalloc.start()
    try:
        for name, request in sized:
            await send(name, request)
        verdicts.peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return verdicts


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[Store]:
    """One backend is enough here: parsing does not depend on it (the regression tests run on both)."""
    store = create_store(f"sqlite:///{tmp_path / 'fuzz.db'}")
    await upgrade(store)
    yield store
    await store.close()


UNTOUCHED = ("responses", "posts")


async def untouched(store: Store, before: dict[str, int], people: set[tuple[str, str]]) -> None:
    """No response or post stored, and no identity beyond ``people`` (the genuine actors of the bases)."""
    after = await stored_rows(store)
    assert {k: after[k] for k in UNTOUCHED} == {k: before[k] for k in UNTOUCHED}
    assert await stored_people(store) <= people
    assert after["employees"] - before["employees"] <= len(people)


# -- Telegram --------------------------------------------------------------------------------------------


def telegram_bases() -> list[dict[str, Any]]:
    reaction = {
        "update_id": 1,
        "message_reaction": {
            "chat": {"id": GROUP, "type": "supergroup", "title": "Kantoor"},
            "message_id": 4040,
            "user": {"id": BRAM, "is_bot": False, "first_name": "Bram"},
            "date": 1_790_000_000,
            "old_reaction": [],
            "new_reaction": [{"type": "emoji", "emoji": "👍"}],
        },
    }
    reply = telegram_command("/help", 2)
    reply["message"]["text"] = "mee eens"
    del reply["message"]["entities"]
    reply["message"]["reply_to_message"] = {
        "message_id": 4040,
        "date": 1_790_000_000,
        "chat": {"id": GROUP, "type": "supergroup", "title": "Kantoor"},
        "from": {"id": 123456789, "is_bot": True, "first_name": "Prikbord", "username": "prikbord_bot"},
        "text": "Nieuwe verlofregeling",
    }
    return [telegram_press(3), telegram_command("/help", 4), telegram_command("/search verlof", 5), reaction, reply]


async def test_fuzz_the_telegram_webhook(sqlite_store: Store, clock: FrozenClock) -> None:
    rng = random.Random(SEED)
    bases = telegram_bases()
    async with telegram_side(sqlite_store, clock) as telegram, watching_logs() as logs:
        before = await stored_rows(sqlite_store)
        mutants: Requests = []
        for n in range(MUTANTS):
            body = encode_json(rng, mutate(rng, rng.choice(bases)))
            mutants.append((f"telegram mutant {n}", _telegram_send(telegram, body)))
        sized = [
            (f"telegram random body {n}", _telegram_send(telegram, random_body(rng))) for n in range(RANDOM_BODIES)
        ]
        verdicts = await bombard(mutants, sized)
        await telegram.app.settle()
    assert verdicts.peak < MEMORY_PEAK, verdicts
    assert sum(n for status, n in verdicts.statuses.items() if status >= 400) > MUTANTS // 4, verdicts
    assert logs.tracebacks() == []
    await untouched(sqlite_store, before, {("telegram", str(BRAM))})


def _telegram_send(telegram: TelegramSide, body: bytes) -> Callable[[], Any]:
    return lambda: telegram.deliver(body)


async def test_fuzz_telegram_polling_with_unparseable_updates(sqlite_store: Store, clock: FrozenClock) -> None:
    rng = random.Random(SEED + 1)
    bases = telegram_bases()
    async with telegram_side(sqlite_store, clock, mode="polling") as telegram, watching_logs() as logs:
        peer = telegram.peer
        before = await stored_rows(sqlite_store)
        crafted = 0
        while crafted < 300:
            mutant = mutate(rng, rng.choice(bases))
            if not isinstance(mutant, dict) or not any(k != "update_id" for k in mutant):
                continue
            try:
                json.dumps(mutant)
            except (RecursionError, ValueError):
                continue  # the peer serves JSON; Telegram's own never nests that deep
            mutant.pop("update_id", None)
            if not mutant:
                continue
            peer.deliver_raw(mutant)
            crafted += 1
        await peer.user_sends(ANNA, GROUP, "/help")
        await eventually(lambda: peer.pending_updates() == 0, "the offset to move past every update", timeout=30)
        await eventually(
            lambda: any("/help" not in str(c.params.get("text")) for c in peer.calls_to("sendMessage", ok=True)),
            "the answer to the /help after the crafted updates",
        )
        await telegram.app.settle()
        assert telegram.adapter.connected
    assert logs.tracebacks() == []
    await untouched(sqlite_store, before, {("telegram", str(BRAM)), ("telegram", str(ANNA))})


# -- Slack -----------------------------------------------------------------------------------------------


def _envelope(slack: SlackSide, event: dict[str, Any], n: int) -> dict[str, Any]:
    peer = slack.peer
    return {
        "token": "legacy-verification-token",
        "team_id": peer.team_id,
        "api_app_id": peer.app_id,
        "event": {"event_ts": "1700000001.000200", **event},
        "type": "event_callback",
        "event_id": f"Ev{n:010d}",
        "event_time": 1_700_000_001,
        "authed_users": [peer.bot_user_id],
        "authorizations": [
            {"team_id": peer.team_id, "user_id": peer.bot_user_id, "is_bot": True, "is_enterprise_install": False}
        ],
        "is_ext_shared_channel": False,
    }


def slack_event_bases(slack: SlackSide) -> list[dict[str, Any]]:
    anna, channel = slack.peer.add_user("anna"), slack.channel
    never_sent = {"type": "message", "channel": channel, "ts": "1700000000.000100"}
    return [
        _envelope(slack, {"type": "reaction_added", "user": anna, "reaction": "+1", "item": never_sent}, 1),
        _envelope(
            slack, {"type": "reaction_removed", "user": anna, "reaction": "white_check_mark", "item": never_sent}, 2
        ),
        _envelope(
            slack,
            {
                "type": "message",
                "channel": channel,
                "user": anna,
                "text": "mee eens",
                "ts": "1700000002.000300",
                "thread_ts": "1700000000.000100",
                "parent_user_id": slack.peer.bot_user_id,
                "channel_type": "channel",
            },
            3,
        ),
        {
            "token": "legacy-verification-token",
            "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmd",
            "type": "url_verification",
        },
    ]


def slack_press_base(slack: SlackSide) -> dict[str, Any]:
    """A press of a button under a message prikbord never sent, as Slack sends block_actions."""
    peer, channel = slack.peer, slack.channel
    anna = peer.add_user("anna")
    return {
        "type": "block_actions",
        "user": {"id": anna, "username": "anna", "name": "anna", "team_id": peer.team_id},
        "api_app_id": peer.app_id,
        "token": "legacy-verification-token",
        "container": {
            "type": "message",
            "message_ts": "1700000000.000100",
            "channel_id": channel,
            "is_ephemeral": False,
        },
        "trigger_id": "12345.98765.abcdef0123456789",
        "team": {"id": peer.team_id, "domain": "prikbord-test"},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel, "name": "algemeen"},
        "message": {
            "type": "message",
            "user": peer.bot_user_id,
            "ts": "1700000000.000100",
            "text": "Nieuwe verlofregeling",
            "blocks": [{"type": "section", "block_id": "body-0", "text": {"type": "mrkdwn", "text": "Vanaf januari."}}],
        },
        "state": {"values": {}},
        "response_url": f"{peer.base_url}/respond/never",
        "actions": [
            {
                "type": "button",
                "action_id": "like",
                "block_id": "actions",
                "text": {"type": "plain_text", "text": "👍 Like", "emoji": True},
                "value": "p9999.d9999",
                "action_ts": "1700000003.000400",
            }
        ],
    }


async def _fuzz_slack(slack: SlackSide, make_body: Callable[[random.Random], tuple[bytes, str]], seed: int) -> Verdicts:
    rng = random.Random(seed)
    mutants: Requests = []
    for n in range(MUTANTS):
        body, content_type = make_body(rng)
        mutants.append((f"slack mutant {n}", _slack_send(slack, body, content_type)))
    sized: Requests = []
    for n in range(RANDOM_BODIES):
        content_type = rng.choice(["application/json", FORM, "text/plain", ""])
        sized.append((f"slack random body {n}", _slack_send(slack, random_body(rng), content_type)))
    return await bombard(mutants, sized)


def _slack_send(slack: SlackSide, body: bytes, content_type: str) -> Callable[[], Any]:
    return lambda: slack.deliver(slack.signed(body, content_type))


async def _fuzzed_slack(
    store: Store,
    clock: FrozenClock,
    bodies: Callable[[SlackSide], Callable[[random.Random], tuple[bytes, str]]],
    seed: int,
) -> None:
    async with watching_logs() as logs:
        async with slack_side(store, clock) as slack:
            before = await stored_rows(store)
            verdicts = await _fuzz_slack(slack, bodies(slack), seed)
            await slack.drained()
            await slack.app.settle()
            people = {("slack", user_id) for user_id in slack.peer.users if user_id != slack.peer.bot_user_id}
        # Stopped: the work accepted requests started (after the acknowledgement) has finished.
        await untouched(store, before, people)
    assert verdicts.peak < MEMORY_PEAK, verdicts
    # The mutations bite: a good share is refused (slash commands are flat forms, so fewer of them).
    assert sum(n for status, n in verdicts.statuses.items() if status >= 400) > MUTANTS // 10, verdicts
    assert logs.tracebacks() == []


async def test_fuzz_slack_events(sqlite_store: Store, clock: FrozenClock) -> None:
    def bodies(slack: SlackSide) -> Callable[[random.Random], tuple[bytes, str]]:
        bases = slack_event_bases(slack)
        return lambda rng: (encode_json(rng, mutate(rng, rng.choice(bases))), "application/json")

    await _fuzzed_slack(sqlite_store, clock, bodies, SEED + 2)


async def test_fuzz_slack_interactivity(sqlite_store: Store, clock: FrozenClock) -> None:
    def bodies(slack: SlackSide) -> Callable[[random.Random], tuple[bytes, str]]:
        base = slack_press_base(slack)

        def make(rng: random.Random) -> tuple[bytes, str]:
            payload = encode_json(rng, mutate(rng, base)).decode("utf-8", "surrogateescape")
            return urlencode({"payload": payload}, errors="surrogateescape").encode(), FORM

        return make

    await _fuzzed_slack(sqlite_store, clock, bodies, SEED + 3)


async def test_fuzz_slack_slash_commands(sqlite_store: Store, clock: FrozenClock) -> None:
    def bodies(slack: SlackSide) -> Callable[[random.Random], tuple[bytes, str]]:
        bases = [
            dict(parse_qsl(request.body.decode(), keep_blank_values=True))
            for request in (
                # Several people: Slack work is ordered per person, so one person's thousand commands would queue.
                slack.peer.slash_command(f"person{n}", slack.channel, text)
                for n in range(8)
                for text in ("search verlof", "help", "help post", "zoek lunch")
            )
        ]

        def make(rng: random.Random) -> tuple[bytes, str]:
            fields = list(rng.choice(bases).items())
            for _ in range(rng.choice([1, 2, 3])):
                n = rng.randrange(len(fields))
                operation = rng.randrange(4)
                if operation == 0:
                    del fields[n]
                elif operation == 1:
                    fields.append(fields[n])  # a field twice
                else:
                    junk = _junk(rng)
                    try:
                        value = junk if isinstance(junk, str) else json.dumps(junk)
                    except (RecursionError, ValueError):
                        value = "[" * 5000
                    fields[n] = (fields[n][0], value)
                if not fields:
                    break
            plain = [(k, v) for k, v in fields if "=" not in k]
            encoded = (
                urlencode(plain, errors="surrogatepass")
                if rng.random() < 0.9
                else "&".join(f"{k}={v}" for k, v in plain)
            )
            return encoded.encode("utf-8", "surrogateescape"), FORM

        return make

    await _fuzzed_slack(sqlite_store, clock, bodies, SEED + 4)
