"""Direct delivery on Matrix (content/direct.py), through ``bot.app.App`` against a real Synapse: `direct`
on a must-read sends each member of the room one copy in a direct room the bot creates once (createRoom
with ``is_direct`` and an invite) and remembers in its ``m.direct`` account data; the next post reuses
it; a ✅ in the direct room counts for that person."""

from __future__ import annotations

import asyncio
import urllib.parse
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from adapters.base import UserRef
from adapters.matrix.adapter import MatrixAdapter
from adapters.matrix.translate import default_emoji
from bot.app import App
from bot.clock import SystemClock
from bot.services.drafts import CallToAction, PostDraft
from bot.services.roles import Role
from content import audience, direct
from content.db import Store
from content.models import Channel, CtaKind, Delivery, Identity, Response
from tests.adapters.harnesses.matrix import MemoryState, Person
from tests.e2e.matrix_bridge import matrix_settings, new_room, room_channel, wait_for
from tests.matrix_server import Login, SynapseServer

BOT = "directbot"


@pytest.fixture
async def people(synapse: SynapseServer) -> AsyncIterator[dict[str, Person]]:
    await asyncio.to_thread(synapse.register, BOT, "downer", "danna", "dbram")
    found = {name: await Person.create(synapse, name) for name in ("downer", "danna", "dbram")}
    try:
        yield found
    finally:
        for person in found.values():
            await person.close()


async def _m_direct(synapse: SynapseServer, bot: Login) -> dict[str, Any]:
    path = f"/_matrix/client/v3/user/{urllib.parse.quote(bot.user_id)}/account_data/m.direct"
    return await asyncio.to_thread(synapse.request, "GET", path, None, bot.access_token)


async def _copies(app: App, post_id: int) -> dict[str, tuple[str, str, str | None]]:
    """Matrix user id → (room, state, event id) of each private copy of the post."""
    async with app.store.sessions() as session:
        rows = await session.execute(
            select(Identity.platform_user_id, Channel.chat_id, Delivery.state, Delivery.platform_message_id)
            .join(Channel, Channel.id == Delivery.channel_id)
            .join(Identity, Identity.id == Channel.identity_id)
            .where(Delivery.post_id == post_id, Channel.kind == direct.DIRECT)
        )
        return {str(u): (str(c), str(s), m) for u, c, s, m in rows.all()}


async def test_direct_rooms_are_created_once_remembered_in_m_direct_and_reused(
    store: Store, synapse: SynapseServer, people: dict[str, Person]
) -> None:
    bot = await asyncio.to_thread(synapse.login, BOT, True)
    room = await new_room(people["downer"], [bot.user_id])
    for name in ("danna", "dbram"):
        await people[name].join(room)
    app = App(matrix_settings(synapse, bot, [room_channel("kantoor", room)]), clock=SystemClock(), store=store)
    await app.start()
    try:
        owner, anna, bram = (people[n].user_id for n in ("downer", "danna", "dbram"))
        await wait_for(lambda: _members_known(app, {owner, anna, bram}), "the room's members to be read")
        draft = PostDraft(title="Verlof", body="Lees dit.", cta=CallToAction(CtaKind.ACKNOWLEDGE), direct=True)
        post = await app.publishing.create(draft, "cli", Role.MODERATOR)
        # A second must-read before the first one's rooms exist: its copies are sent alongside, and each
        # person still gets one direct room, not one per post.
        second = PostDraft(title="Rooster", cta=CallToAction(CtaKind.ACKNOWLEDGE), direct=True)
        beside = await app.publishing.create(second, "cli", Role.MODERATOR)
        await app.settle()

        copies = await _copies(app, post.id)
        assert set(copies) == {owner, anna, bram}
        assert {state for _, state, _ in copies.values()} == {"sent"}
        rooms = {user: room_id for user, (room_id, _, _) in copies.items()}
        assert len(set(rooms.values())) == 3 and room not in rooms.values()  # one direct room each
        assert {user: state for user, (_, state, _) in (await _copies(app, beside.id)).items()} == dict.fromkeys(
            rooms, "sent"
        )
        remembered = await _m_direct(synapse, bot)
        assert remembered == {user: [room_id] for user, room_id in rooms.items()}

        # Anna accepts the invite, sees the post and presses ✅: counted for her, on her copy.
        anna_room, _, event_id = copies[anna]
        assert event_id is not None
        await people["danna"].join(anna_room)
        bodies = [
            e["content"].get("body", "")
            for e in await people["danna"].messages(anna_room)
            if e["type"] == "m.room.message"
        ]
        assert any("Verlof" in b for b in bodies) and any("Rooster" in b for b in bodies)  # both in her one room
        key = default_emoji("ack")
        assert key is not None
        await people["danna"].react(anna_room, event_id, key)
        await wait_for(lambda: _acked(app, post.id), "Anna's acknowledgement to be stored")
        async with app.store.sessions() as session:
            missing = {p.employee_id for p in await audience.missing(session, post.id, "ack")}
            reach = (await audience.reach_of(session, [post.id]))[post.id]
        assert reach == audience.Reach(3, False, 3)
        assert len(missing) == 2

        # The next must-read goes to the same rooms (read back from m.direct): no room is created again.
        again = await app.publishing.create(
            PostDraft(title="Herhaling", cta=CallToAction(CtaKind.ACKNOWLEDGE), direct=True), "cli", Role.MODERATOR
        )
        await app.settle()
        assert {user: room_id for user, (room_id, _, _) in (await _copies(app, again.id)).items()} == rooms
        assert await _m_direct(synapse, bot) == remembered
    finally:
        await app.stop()

    # A bot that lost its own memory (a new store) finds the rooms again in m.direct: none created anew.
    fresh = MemoryState()
    adapter = MatrixAdapter(
        homeserver=synapse.base_url,
        user_id=bot.user_id,
        access_token=bot.access_token,
        state_load=fresh.load,
        state_save=fresh.save,
    )
    try:
        assert {user: await adapter.open_private(UserRef("matrix", user, "")) for user in rooms} == rooms
    finally:
        await adapter.stop()
    assert await _m_direct(synapse, bot) == remembered


async def _members_known(app: App, expected: set[str]) -> bool:
    async with app.store.sessions() as session:
        rows = await session.execute(select(Identity.platform_user_id).where(Identity.platform == "matrix"))
        return expected <= set(rows.scalars())


async def _acked(app: App, post_id: int) -> bool:
    async with app.store.sessions() as session:
        rows = await session.execute(select(Response.id).where(Response.post_id == post_id, Response.kind == "ack"))
        return rows.first() is not None
