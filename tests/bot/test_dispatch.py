"""The dispatcher honours retry-after, backs off on transient errors, and on a permanent error fails
the delivery, disables the channel and tells the moderators. Nothing is dropped silently."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from rich.console import Console

from adapters.base import (
    AdapterAuthError,
    ChatRef,
    MessageRef,
    OutboundMessage,
    PermanentError,
    RateLimited,
    TransientError,
)
from adapters.console.adapter import ConsoleAdapter
from bot.app import App
from bot.clock import FrozenClock
from bot.services.dispatch import DispatchPolicy
from content import posts
from content.db import Store
from content.models import Channel, DeliveryState
from tests.conftest import console_settings


class ScriptedAdapter(ConsoleAdapter):
    """A console whose sends fail as scripted (one entry per send; None = succeed)."""

    def __init__(self) -> None:
        super().__init__(output=Console(file=io.StringIO()))
        self.script: list[Exception | None] = []
        self.calls = 0

    async def send(self, chat: ChatRef, message: OutboundMessage) -> MessageRef:
        self.calls += 1
        if self.script:
            error = self.script.pop(0)
            if error is not None:
                raise error
        return await super().send(chat, message)


@pytest.fixture
async def scripted(store: Store, clock: FrozenClock) -> AsyncIterator[tuple[App, ScriptedAdapter]]:
    adapter = ScriptedAdapter()
    settings = console_settings(
        channels=[
            {"name": "a", "platform": "console", "chat_id": "a", "tags": ["everyone"]},
            {"name": "b", "platform": "console", "chat_id": "b", "tags": ["everyone"]},
        ]
    )
    app = App(
        settings,
        clock=clock,
        store=store,
        adapters={"console": adapter},
        dispatch_policy=DispatchPolicy(in_process_tries=2, backoff_initial=0.01, idle_poll=0.05),
        counter_debounce=0.0,
    )
    await app.start()
    yield app, adapter
    await app.stop()


async def _states(app: App, post_id: int) -> dict[str, list[str]]:
    async with app.store.sessions() as session:
        found: dict[str, list[str]] = {}
        for delivery in await posts.deliveries_of(session, post_id):
            channel = await session.get(Channel, delivery.channel_id)
            assert channel is not None
            found[channel.name] = [delivery.state, delivery.last_error or "", str(delivery.attempts)]
        return found


async def _post(app: App) -> int:
    await app.adapters["console"].feed("mod: /post Nieuws | tekst | cta: like")  # type: ignore[attr-defined]
    async with app.store.sessions() as session:
        return (await posts.recent_posts(session, 1))[0].id


async def test_short_retry_after_is_waited_out(scripted: tuple[App, ScriptedAdapter]) -> None:
    app, adapter = scripted
    adapter.script = [RateLimited(0.01), None]
    post_id = await _post(app)
    states = await _states(app, post_id)
    assert {s[0] for s in states.values()} == {DeliveryState.SENT}
    assert adapter.calls == 3  # one 429, then both channels


async def test_long_retry_after_goes_back_to_the_outbox(
    scripted: tuple[App, ScriptedAdapter], clock: FrozenClock
) -> None:
    app, adapter = scripted
    adapter.script = [RateLimited(120)]
    post_id = await _post(app)
    states = await _states(app, post_id)
    waiting = [s for s in states.values() if s[0] == DeliveryState.PENDING]
    assert len(waiting) == 1 and "retry after 120s" in waiting[0][1] and waiting[0][2] == "0"  # a 429 is no failure
    clock.advance(seconds=121)
    await app.settle()
    assert {s[0] for s in (await _states(app, post_id)).values()} == {DeliveryState.SENT}


async def test_transient_errors_back_off_then_succeed(
    scripted: tuple[App, ScriptedAdapter], clock: FrozenClock
) -> None:
    app, adapter = scripted
    adapter.script = [TransientError("connection reset")] * 3  # one delivery fails both tries
    post_id = await _post(app)
    states = await _states(app, post_id)
    pending = [s for s in states.values() if s[0] == DeliveryState.PENDING]
    assert len(pending) == 1 and pending[0][1] == "connection reset"
    clock.advance(minutes=5)
    await app.settle()
    assert {s[0] for s in (await _states(app, post_id)).values()} == {DeliveryState.SENT}


async def test_permanent_error_disables_channel_and_tells_moderators(scripted: tuple[App, ScriptedAdapter]) -> None:
    app, adapter = scripted
    adapter.script = [PermanentError("chat a rejected the bot: add it to the group or remove the channel")]
    post_id = await _post(app)
    states = await _states(app, post_id)
    assert sorted(s[0] for s in states.values()) == [DeliveryState.FAILED, DeliveryState.SENT]
    told = [text for who, text in adapter.private if who == "mod"]
    assert any("could not be delivered" in t and "rejected the bot" in t and "disabled" in t for t in told)
    async with app.store.sessions() as session:
        channels = {c.name: c for c in await posts.all_channels(session)}
    disabled = [c for c in channels.values() if not c.enabled]
    assert len(disabled) == 1 and "rejected the bot" in (disabled[0].disabled_reason or "")
    # The next post skips the disabled channel.
    second = await _post(app)
    assert len(await _states(app, second)) == 1


async def test_credentials_refused_keeps_deliveries(scripted: tuple[App, ScriptedAdapter]) -> None:
    app, adapter = scripted
    adapter.script = [AdapterAuthError("token revoked"), AdapterAuthError("token revoked")]
    await adapter.feed("mod: /post Nieuws | tekst | cta: like")
    async with app.store.sessions() as session:
        post_id = (await posts.recent_posts(session, 1))[0].id
    states = await _states(app, post_id)
    assert DeliveryState.PENDING in {s[0] for s in states.values()}, (states, adapter.calls, adapter.script)
    assert DeliveryState.FAILED not in {s[0] for s in states.values()}


def test_policy_defaults_are_sane() -> None:
    policy = DispatchPolicy()
    # Short enough that a crash costs seconds, long enough for a slow send between two renewals.
    assert timedelta(seconds=10) <= policy.lease <= timedelta(minutes=2) and policy.max_attempts >= 3
