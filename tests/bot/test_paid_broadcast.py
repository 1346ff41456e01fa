"""Telegram paid broadcasts (#16): a post with ``paid_broadcast`` is sent with ``allow_paid_broadcast``
under the paid overall bound (1,000/s), every other post without it under the free 30/s.

Set by the chat grammar (``| broadcast``), the CLI (``--paid-broadcast``) and the API (``paid_broadcast``,
in tests/web/test_api_posts.py), each refusing a wrong value by its name; sent by the real
python-telegram-bot against the loopback peer, which counts the paid and the free sends in separate
windows and answers 429 past either bound.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from adapters.base import ChatRef, Limits, OutboundMessage, Rate
from adapters.markup import MarkupParser
from adapters.telegram.adapter import TelegramAdapter
from bot.app import App
from bot.cli import cli
from bot.commands.grammar import UsageError, parse_post, parse_schedule
from bot.config import Settings
from bot.services.drafts import CallToAction, PostDraft
from bot.services.paid_turns import PaidTurns
from bot.services.publishing import NotAllowed
from bot.services.roles import Role
from content.db import Store
from content.models import CtaKind, RateSlot
from tests.peers.telegram import FloodLimits, PeerCall, TelegramPeer

pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning")

ZONE = ZoneInfo("Europe/Amsterdam")
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
PEOPLE = list(range(9001, 9061))  # private chats: 1/s each, no per-minute limit


# -- setting the flag ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "paid"),
    [
        ("Storing | Alles ligt plat | cta: acknowledge | broadcast", True),
        ("Storing | Alles ligt plat | BROADCAST: yes", True),
        ("Storing | Alles ligt plat | broadcast: no", False),
        ("Storing | Alles ligt plat | urgent", False),
    ],
)
def test_the_grammar_sets_the_flag(text: str, paid: bool) -> None:
    assert parse_post(text, ZONE, NOW).paid_broadcast is paid
    assert parse_schedule(f"tomorrow 08:30 | {text}", ZONE, NOW).paid_broadcast is paid


def test_a_wrong_broadcast_value_names_the_key() -> None:
    with pytest.raises(UsageError) as refused:
        parse_post("Storing | broadcast: maybe", ZONE, NOW)
    assert "`broadcast`" in str(refused.value) and "maybe" in str(refused.value)


def test_the_cli_sets_the_flag_and_names_the_option(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the embedded default: ./prikbord.db and the console channel
    for name in [n for n in os.environ if n.startswith("PRIKBORD_")]:
        monkeypatch.delenv(name)
    runner = CliRunner()
    paid = runner.invoke(cli, ["post", "--title", "Storing", "--cta", "like", "--paid-broadcast"])
    free = runner.invoke(cli, ["post", "--title", "Lunch", "--cta", "like"])
    assert paid.exit_code == 0 and free.exit_code == 0, paid.output + free.output
    with sqlite3.connect(tmp_path / "prikbord.db") as db:
        flags = dict(db.execute("SELECT title, paid_broadcast FROM posts").fetchall())
    assert flags == {"Storing": 1, "Lunch": 0}
    wrong = runner.invoke(cli, ["post", "--title", "Storing", "--paid-broadcast=maybe"])
    assert wrong.exit_code == 2 and "--paid-broadcast" in wrong.output


async def test_only_moderators_spend_the_bots_stars(store: Store) -> None:
    settings = Settings.model_validate({"moderation": {"open_posting": True}})
    app = App(settings, store=store)
    await app.prepare_store()
    try:
        draft = PostDraft(title="Storing", cta=CallToAction(CtaKind.LIKE), paid_broadcast=True)
        with pytest.raises(NotAllowed, match="Telegram Stars"):
            await app.publishing.create(draft, "console:erik", Role.EMPLOYEE)
        pending = await app.publishing.create(PostDraft(title="Lunch", cta=CallToAction(CtaKind.LIKE)),
                                              "console:erik", Role.EMPLOYEE)  # fmt: skip
        assert not pending.paid_broadcast
    finally:
        await app.stop()


# -- sending ----------------------------------------------------------------------------------------


@pytest.fixture
async def peer() -> AsyncIterator[TelegramPeer]:
    flood = FloodLimits(overall=(30, 1.0), paid_overall=(1000, 1.0), per_chat=(1, 1.0), per_group=(20, 60.0))
    peer = await TelegramPeer(flood=flood).start()
    for person in PEOPLE:
        peer.add_user(person, f"Medewerker {person}", started=True)
    yield peer
    await peer.stop()


async def _ignore(event: object) -> None:
    return None


def _most_in_one_second(calls: list[PeerCall]) -> int:
    times = sorted(c.at for c in calls)
    return max((sum(1 for t in times[i:] if t < start + 1.0) for i, start in enumerate(times)), default=0)


async def test_the_adapter_asks_for_a_paid_broadcast_only_for_such_a_post(peer: TelegramPeer) -> None:
    adapter = TelegramAdapter(token=peer.token, api_base_url=peer.api_base_url, receive_on_start=False)
    message = OutboundMessage(markup=MarkupParser().parse("**Storing**"))
    await adapter.start(_ignore)
    try:
        await adapter.send(ChatRef("telegram", str(PEOPLE[0])), OutboundMessage(message.markup, paid_broadcast=True))
        await adapter.send(ChatRef("telegram", str(PEOPLE[1])), message)
    finally:
        await adapter.stop()
    paid, free = (c.params for c in peer.calls_to("sendMessage"))
    assert paid["allow_paid_broadcast"] is True and "allow_paid_broadcast" not in free
    assert [m.paid_broadcast for m in peer.bot_messages(PEOPLE[0]) + peer.bot_messages(PEOPLE[1])] == [True, False]
    assert adapter.limits.paid_global_rates[0].count == 1000  # [telegram] paid_broadcast_rate's default


def test_the_peer_enforces_each_bound_on_its_own() -> None:
    clock = [10.0]
    peer = TelegramPeer(clock=lambda: clock[0], flood=FloodLimits(overall=(2, 1.0), paid_overall=(3, 1.0),
                                                                  per_chat=None, per_group=None))  # fmt: skip
    for person in PEOPLE[:8]:
        peer.add_user(person, "x")

    def send(i: int, paid: bool) -> int:
        params = {"chat_id": PEOPLE[i], "text": "x"} | ({"allow_paid_broadcast": True} if paid else {})
        try:
            peer._send_message(params)
        except Exception as exc:  # ApiError
            return int(getattr(exc, "status", 0))
        return 200

    assert [send(i, paid=True) for i in range(4)] == [200, 200, 200, 429]  # the paid bound, strictly
    assert [send(i, paid=False) for i in range(4, 7)] == [200, 200, 429]  # the free 30/s is apart from it
    clock[0] += 1.0
    assert send(7, paid=True) == 200


async def test_a_paid_broadcast_goes_at_the_paid_bound_and_others_at_30_per_second(
    peer: TelegramPeer, store: Store
) -> None:
    settings = Settings.model_validate(
        {
            "console": {"enabled": False},
            "telegram": {"token": peer.token, "api_base_url": peer.api_base_url, "mode": "polling"},
            "channels": [
                {"name": f"p-{p}", "platform": "telegram", "chat_id": str(p), "tags": ["everyone"]} for p in PEOPLE
            ],
        }
    )
    app = App(settings, store=store)
    await app.start()
    try:
        cta = CallToAction(CtaKind.ACKNOWLEDGE)
        await app.publishing.create(PostDraft(title="Storing", cta=cta, paid_broadcast=True), "t", Role.MODERATOR)
        await app.dispatcher.settle(timeout=60)
        paid = list(peer.calls_to("sendMessage"))
        await app.publishing.create(PostDraft(title="Lunch", cta=cta), "t", Role.MODERATOR)
        await app.dispatcher.settle(timeout=60)
        free = peer.calls_to("sendMessage")[len(paid) :]
    finally:
        await app.stop()
    assert [c.status for c in paid + free] == [200] * (2 * len(PEOPLE)), "a send was refused (429)"
    assert all(c.params.get("allow_paid_broadcast") is True for c in paid)
    assert not any("allow_paid_broadcast" in c.params for c in free)
    assert _most_in_one_second(paid) > 30  # impossible under the free bound's windows
    assert _most_in_one_second(free) <= 30
    assert all(len(peer.bot_messages(p)) == 2 for p in PEOPLE)


async def test_paid_turns_are_paced_in_a_scope_of_their_own(store: Store) -> None:
    """Two instances' paid turns together keep the paid rate; the free overall limit is untouched."""
    limits = Limits(4096, global_rates=(Rate(30, 1),), per_chat_rates=(Rate(1, 1),), paid_global_rates=(Rate(20, 1),))
    instances = [PaidTurns(store, 1.0), PaidTurns(store, 1.0)]
    loop = asyncio.get_running_loop()
    started: list[float] = []

    async def one(i: int) -> None:
        await instances[i % 2].wait_turn("telegram", str(PEOPLE[i]), limits)
        started.append(loop.time())

    await asyncio.gather(*(one(i) for i in range(12)))
    started.sort()
    # 20/s: twelve turns span at least eleven intervals of 50 ms, whichever instance asked
    assert started[-1] - started[0] >= 11 * 0.05 - 0.03
    async with store.sessions() as session:
        scopes = set((await session.execute(select(RateSlot.scope))).scalars())
    assert "telegram:paid:0" in scopes and "telegram:all:0" not in scopes
    assert {f"telegram:chat:{p}:0" for p in PEOPLE[:12]} <= scopes  # each chat's own limit, reserved too
