"""The channels' member lists through the core, per platform: ``prikbord run`` (``App``) reads them at start
(``AudienceService``), join and leave events keep them current, ``sync_all`` reads them again, and a post
delivered to the channel has the members as its reach. Slack and Telegram against their loopback peers,
Matrix against the real Synapse; every test on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from adapters.slack.adapter import SlackAdapter
from bot.app import App
from bot.clock import FrozenClock, SystemClock
from bot.config import Settings
from bot.services.audience import ChannelSync
from bot.services.drafts import CallToAction, PostDraft
from bot.services.roles import Role
from content import audience, posts
from content.db import Store
from content.models import CtaKind, Identity
from tests.adapters.harnesses.matrix import Person
from tests.e2e.matrix_bridge import matrix_settings as matrix_settings_for
from tests.e2e.matrix_bridge import new_room, room_channel, wait_for
from tests.matrix_server import SynapseServer
from tests.peers.slack import SlackPeer
from tests.peers.telegram import FloodLimits, TelegramPeer

CHANNEL = "algemeen"
GROUP = -1001234500077
ANNA, BRAM = 2101, 2102


def settings(platform: dict[str, Any], chat_id: str) -> Settings:
    (name,) = platform
    config: dict[str, Any] = {
        "timezone": "Europe/Amsterdam",
        "console": {"enabled": False},
        **platform,
        "channels": [{"name": CHANNEL, "platform": name, "chat_id": chat_id, "tags": ["everyone"]}],
    }
    return Settings(**config)


async def started(app: App) -> App:
    await app.start()
    # The first reading of the member lists runs in the background from the start: wait for it.
    await wait_for(lambda: _synced(app), "the channel's member list to be read at start")
    return app


async def _synced(app: App) -> bool:
    async with app.store.sessions() as session:
        channel = await posts.channel_by_chat(session, *_chat(app))
        return channel is not None and channel.members_synced_at is not None


def _chat(app: App) -> tuple[str, str]:
    (channel,) = app.settings.channels
    return channel.platform, channel.chat_id


async def members(app: App) -> set[str]:
    """The platform user ids of the channel's members now, as the store has them."""
    async with app.store.sessions() as session:
        channel = await posts.channel_by_chat(session, *_chat(app))
        assert channel is not None
        ids = await audience.open_members(session, channel.id)
        rows = await session.execute(select(Identity.platform_user_id).where(Identity.id.in_(ids)))
        return set(rows.scalars())


async def member_count(app: App) -> int | None:
    async with app.store.sessions() as session:
        channel = await posts.channel_by_chat(session, *_chat(app))
        assert channel is not None
        return channel.member_count


async def reach_of_a_post(app: App) -> tuple[audience.Reach, set[str]]:
    """Publish a must-read to everyone, deliver it, and return its reach and who it reached."""
    draft = PostDraft(title="Nieuwe verlofregeling", body="Lees dit.", cta=CallToAction(CtaKind.ACKNOWLEDGE))
    post = await app.publishing.create(draft, "cli", Role.MODERATOR)
    await app.settle()
    async with app.store.sessions() as session:
        assert {d.state for d in await posts.deliveries_of(session, post.id)} == {"sent"}
        reach = (await audience.reach_of(session, [post.id]))[post.id]
        reached = await audience.reached_identities(session, post.id)
        rows = await session.execute(
            select(Identity.platform_user_id).where(Identity.id.in_([r.identity_id for r in reached]))
        )
        return reach, set(rows.scalars())


# -- Slack --------------------------------------------------------------------------------------


@pytest.fixture
async def slack_peer() -> AsyncIterator[SlackPeer]:
    async with SlackPeer(per_channel_rate=None, workspace_rate=None) as peer:
        yield peer


async def test_slack_a_post_reaches_the_channels_members(
    store: Store, clock: FrozenClock, slack_peer: SlackPeer
) -> None:
    peer = slack_peer
    people = tuple(f"person{n:03d}" for n in range(230))  # two pages of conversations.members
    channel = peer.add_channel(CHANNEL, members=people)
    config = {
        "slack": {"bot_token": peer.bot_token, "signing_secret": peer.signing_secret, "api_base_url": peer.api_base_url}
    }
    app = await started(App(settings(config, channel), clock=clock, store=store, counter_debounce=0.0))
    try:
        everyone = {peer.add_user(p) for p in people}
        assert await members(app) == everyone  # the bot is no member of the audience
        assert await member_count(app) == 230

        clock.advance(minutes=1)
        gone, new = peer.add_user("person007"), peer.add_user("dirk")
        peer.leave(channel, gone)
        peer.join(channel, new)
        assert await app.audience.sync_all() == [ChannelSync(CHANNEL, 230, False, 1, 1)]

        clock.advance(minutes=1)
        reach, reached = await reach_of_a_post(app)
        assert reach == audience.Reach(230, False, 230)
        assert reached == everyone - {gone} | {new}
    finally:
        await app.stop()


async def test_slack_people_joining_leaving_and_deactivated_between_refreshes(
    store: Store, clock: FrozenClock, slack_peer: SlackPeer
) -> None:
    peer = slack_peer
    channel = peer.add_channel(CHANNEL, members=("anna", "bram", "carla"))
    config = {
        "slack": {"bot_token": peer.bot_token, "signing_secret": peer.signing_secret, "api_base_url": peer.api_base_url}
    }
    app = await started(App(settings(config, channel), clock=clock, store=store, counter_debounce=0.0))
    try:
        anna, bram, carla = (peer.add_user(p) for p in ("anna", "bram", "carla"))
        assert await members(app) == {anna, bram, carla}
        adapter = app.adapters["slack"]
        assert isinstance(adapter, SlackAdapter)
        clock.advance(minutes=1)
        dirk = peer.add_user("dirk")
        for request in (
            peer.person_membership(channel, dirk, joined=True),
            peer.person_membership(channel, bram, joined=False),
            peer.account_deactivated(carla),
        ):
            reply = await adapter.handle_http(*request)
            assert reply.status == 200, reply.body
        for _ in range(200):  # the work runs after the acknowledgement
            if not adapter._work.busy:
                break
            await asyncio.sleep(0.05)
        assert await members(app) == {anna, dirk}  # no refresh needed: the events said it
        clock.advance(minutes=1)
        reach, reached = await reach_of_a_post(app)
        assert reach == audience.Reach(2, False, 2) and reached == {anna, dirk}
    finally:
        await app.stop()


# -- Telegram -----------------------------------------------------------------------------------


@pytest.fixture
async def telegram_peer() -> AsyncIterator[TelegramPeer]:
    async with TelegramPeer(flood=FloodLimits.off()) as peer:
        peer.add_user(ANNA, "Anna")
        peer.add_user(BRAM, "Bram")
        # The bot is an admin, so Telegram tells it who joins and leaves; 40 people nobody here acts as.
        peer.add_chat(GROUP, "supergroup", "Kantoor", bot_status="administrator", others=40)
        yield peer
        assert peer.unknown_params == [] and peer.unimplemented == []


async def test_telegram_a_post_reaches_an_estimate_from_the_member_count(
    store: Store, clock: FrozenClock, telegram_peer: TelegramPeer
) -> None:
    peer = telegram_peer
    config = {"telegram": {"token": peer.token, "api_base_url": peer.api_base_url, "mode": "polling"}}
    app = await started(App(settings(config, str(GROUP)), clock=clock, store=store, counter_debounce=0.0))
    try:
        assert await members(app) == set()  # bots cannot list a group's members
        assert await member_count(app) == 40  # getChatMemberCount less the bot

        # A chat_member update through the adapter: the person is a member, by name.
        clock.advance(minutes=1)
        await peer.chat_member(GROUP, ANNA, "member")
        await wait_for(lambda: _has_members(app, {str(ANNA)}), "Anna's join to be stored")
        await peer.chat_member(GROUP, BRAM, "member")
        await wait_for(lambda: _has_members(app, {str(ANNA), str(BRAM)}), "Bram's join to be stored")
        await peer.chat_member(GROUP, BRAM, "left")
        await wait_for(lambda: _has_members(app, {str(ANNA)}), "Bram's leave to be stored")
        assert await member_count(app) == 41

        clock.advance(minutes=1)
        assert await app.audience.sync_all() == [ChannelSync(CHANNEL, 41, True, 0, 0)]
        assert await members(app) == {str(ANNA)}  # a partial list only adds: Anna stays known

        clock.advance(minutes=1)
        reach, reached = await reach_of_a_post(app)
        assert reach == audience.Reach(41, True, 1)  # about 41, one of them known by name
        assert reached == {str(ANNA)}
    finally:
        await app.stop()


async def _has_members(app: App, expected: set[str]) -> bool:
    return await members(app) == expected


# -- Matrix -------------------------------------------------------------------------------------

BOT = "audiencebot"
OWNER = "owner"


@pytest.fixture
async def matrix(synapse: SynapseServer) -> AsyncIterator[dict[str, Person]]:
    await asyncio.to_thread(synapse.register, BOT, OWNER, "anna", "bram", "carla")
    people = {name: await Person.create(synapse, name) for name in (OWNER, "anna", "bram", "carla")}
    try:
        yield people
    finally:
        for person in people.values():
            await person.close()


async def test_matrix_a_post_reaches_the_rooms_joined_members(
    store: Store, synapse: SynapseServer, matrix: dict[str, Person]
) -> None:
    bot = await asyncio.to_thread(synapse.login, BOT, True)
    room = await new_room(matrix[OWNER], [bot.user_id])
    for name in ("anna", "bram"):
        await matrix[name].join(room)
    config = matrix_settings_for(synapse, bot, [room_channel(CHANNEL, room)])
    app = await started(App(config, clock=SystemClock(), store=store, counter_debounce=0.0))
    try:
        owner, anna, bram, carla = (matrix[n].user_id for n in (OWNER, "anna", "bram", "carla"))
        assert await members(app) == {owner, anna, bram}  # the bot left out

        await matrix["carla"].join(room)
        await matrix["bram"].client.room_leave(room)
        await wait_for(lambda: _has_members(app, {owner, anna, carla}), lambda: "the join and leave to be stored")
        assert await app.audience.sync_all() == [ChannelSync(CHANNEL, 3, False, 0, 0)]  # the events kept it right

        reach, reached = await reach_of_a_post(app)
        assert reach == audience.Reach(3, False, 3)
        assert reached == {owner, anna, carla}
    finally:
        await app.stop()
