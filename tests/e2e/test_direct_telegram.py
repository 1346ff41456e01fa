"""Direct delivery on Telegram (content/direct.py), through ``bot.app.App`` against the loopback Bot API
peer (which checks every request against tests/contracts and refuses private messages to people who never
started the bot): a private copy goes only to people whose private chat is known from their /start; the
others are listed as unreachable with the reason; a press in the private chat counts for the person."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from bot.app import App
from bot.clock import FrozenClock
from bot.config import Settings
from bot.services.drafts import CallToAction, PostDraft
from bot.services.roles import Role
from content import audience, direct, posts
from content.db import Store
from content.models import CtaKind, Employee, Identity, Response
from tests.e2e.matrix_bridge import wait_for
from tests.peers.telegram import FloodLimits, TelegramPeer

GROUP = -1001234500088
ANNA, BRAM = 3101, 3102


@pytest.fixture
async def telegram(store: Store, clock: FrozenClock) -> AsyncIterator[tuple[App, TelegramPeer]]:
    async with TelegramPeer(flood=FloodLimits.off()) as peer:
        peer.add_user(ANNA, "Anna")
        peer.add_user(BRAM, "Bram", started=False)  # never opened a private chat with the bot
        peer.add_chat(GROUP, "supergroup", "Kantoor", bot_status="administrator", others=10)
        settings = Settings(
            timezone="Europe/Amsterdam",
            console={"enabled": False},  # type: ignore[arg-type]
            telegram={"token": peer.token, "api_base_url": peer.api_base_url, "mode": "polling"},  # type: ignore[arg-type]
            channels=[{"name": "kantoor", "platform": "telegram", "chat_id": str(GROUP), "tags": ["everyone"]}],  # type: ignore[list-item]
        )
        app = App(settings, clock=clock, store=store, counter_debounce=0.0)
        await app.start()
        try:
            yield app, peer
        finally:
            await app.stop()
        assert peer.unknown_params == [] and peer.unimplemented == []


async def _identity(app: App, user_id: int) -> Identity | None:
    async with app.store.sessions() as session:
        rows = await session.execute(
            select(Identity).where(Identity.platform == "telegram", Identity.platform_user_id == str(user_id))
        )
        return rows.scalar_one_or_none()


async def _started(app: App, user_id: int) -> bool:
    identity = await _identity(app, user_id)
    return identity is not None and identity.private_chat_id == str(user_id)


async def _in_sales(app: App, *user_ids: int) -> None:
    async with app.store.transaction() as session:
        for user_id in user_ids:
            identity = (
                await session.execute(select(Identity).where(Identity.platform_user_id == str(user_id)))
            ).scalar_one()
            employee = await session.get(Employee, identity.employee_id)
            assert employee is not None
            employee.department = "Sales"


async def test_a_private_copy_only_to_people_who_started_the_bot(
    telegram: tuple[App, TelegramPeer], clock: FrozenClock
) -> None:
    app, peer = telegram
    await peer.user_sends(ANNA, ANNA, "/start")  # in her private chat: the bot now knows where it is
    await wait_for(lambda: _started(app, ANNA), "Anna's private chat to be remembered")
    await peer.chat_member(GROUP, BRAM, "member")  # Bram is only known from the group
    await wait_for(lambda: _identity(app, BRAM), "Bram to be known")
    await _in_sales(app, ANNA, BRAM)

    draft = PostDraft(
        title="Verlof", body="Lees dit.", cta=CallToAction(CtaKind.ACKNOWLEDGE), audience=("department=sales",)
    )
    post = await app.publishing.create(draft, "cli", Role.MODERATOR)
    await app.settle()

    copies = [m for m in peer.bot_messages(ANNA) if "Verlof" in (m.text or "")]
    assert len(copies) == 1
    assert [m for m in peer.bot_messages(GROUP) if "Verlof" in (m.text or "")] == []
    assert [m for m in peer.bot_messages(BRAM) if "Verlof" in (m.text or "")] == []
    assert peer.calls_to("sendMessage", ok=False) == []  # nothing was tried towards Bram
    async with app.store.sessions() as session:
        deliveries = await posts.deliveries_of(session, post.id)
        unreachable = await direct.unreachable(session, post.id)
        assert (await audience.reach_of(session, [post.id]))[post.id] == audience.Reach(1, False, 1)
    assert [(d.state, d.platform_message_id) for d in deliveries] == [("sent", str(copies[0].message_id))]
    assert [(u.platform, u.reason) for u in unreachable] == [(None, direct.NOT_STARTED)]

    # Anna presses ✅ in her private chat: counted for her, on that copy.
    buttons = [b for row in (copies[0].reply_markup or {}).get("inline_keyboard", []) for b in row]
    ack = next(b["callback_data"] for b in buttons if "callback_data" in b and "Read" in b["text"])
    await peer.user_presses(ANNA, ANNA, copies[0].message_id, ack)
    await wait_for(lambda: _acked(app, post.id), "Anna's acknowledgement to be stored")
    async with app.store.sessions() as session:
        assert await audience.missing(session, post.id, "ack") == []
        (response,) = (await session.execute(select(Response).where(Response.post_id == post.id))).scalars().all()
    assert response.delivery_id == deliveries[0].id

    # Once Bram starts the bot, the next must-read reaches him privately too.
    peer.users[BRAM].started = True
    await peer.user_sends(BRAM, BRAM, "/start")
    await wait_for(lambda: _started(app, BRAM), "Bram's private chat to be remembered")
    clock.advance(minutes=1)
    later = PostDraft(
        title="Nog een", body="Lees dit.", cta=CallToAction(CtaKind.ACKNOWLEDGE), audience=("department=sales",)
    )
    await app.publishing.create(later, "cli", Role.MODERATOR)
    await app.settle()
    assert [len([m for m in peer.bot_messages(u) if "Nog een" in (m.text or "")]) for u in (ANNA, BRAM)] == [1, 1]


async def _acked(app: App, post_id: int) -> bool:
    async with app.store.sessions() as session:
        rows = await session.execute(select(Response.id).where(Response.post_id == post_id, Response.kind == "ack"))
        return rows.first() is not None
