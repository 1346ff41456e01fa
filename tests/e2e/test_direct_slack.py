"""Direct delivery on Slack (content/direct.py), through ``bot.app.App`` against the loopback Web API peer
(which checks every request against tests/contracts and enforces 1 message/s per channel and the
workspace rate) and presses signed as Slack signs them: a segment's people each get one DM
(``conversations.open``, then ``chat.postMessage`` to the DM), the DM is opened once and reused, a press
in the DM counts for that person, and a copy left ``sending`` by a crash is never sent twice."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from adapters.base import Rate
from adapters.slack.adapter import SlackAdapter
from bot.app import App
from bot.clock import FrozenClock
from bot.config import Settings
from bot.services.drafts import CallToAction, PostDraft
from bot.services.roles import Role
from bot.web import WebServer, create_web_app
from content import audience, direct
from content.db import Store
from content.models import Channel, CtaKind, Delivery, DeliveryState, Employee, Identity, Post, Response
from tests.e2e.matrix_bridge import wait_for
from tests.peers.slack import DEFAULT_TIER_RATES, SignedRequest, SlackPeer, Window

PEOPLE = ("anna", "bram", "carla")


@dataclass
class DirectSlack:
    app: App
    peer: SlackPeer
    http: httpx.AsyncClient
    channel: str

    async def department(self, name: str, department: str) -> None:
        async with self.app.store.transaction() as session:
            identity = (
                await session.execute(
                    select(Identity).where(Identity.platform == "slack", Identity.platform_user_id == self.user(name))
                )
            ).scalar_one()
            employee = await session.get(Employee, identity.employee_id)
            assert employee is not None
            employee.department = department

    async def employee_of(self, name: str) -> int:
        async with self.app.store.sessions() as session:
            rows = await session.execute(
                select(Identity.employee_id).where(
                    Identity.platform == "slack", Identity.platform_user_id == self.user(name)
                )
            )
            return int(rows.scalar_one())

    def user(self, name: str) -> str:
        return self.peer.add_user(name)

    def dm_of(self, name: str) -> str | None:
        user = self.user(name)
        return next((c.id for c in self.peer.channels.values() if c.im_user == user), None)

    def copies_in_dm(self, name: str, post_id: int) -> int:
        dm = self.dm_of(name)
        if dm is None:
            return 0
        return sum(1 for m in self.peer.messages(dm) if _is_post(m, post_id))

    async def post(self, draft: PostDraft) -> Post:
        post = await self.app.publishing.create(draft, "cli", Role.MODERATOR)
        await self.app.settle()
        return post

    async def deliveries(self, post_id: int) -> dict[str, Delivery]:
        """The post's private copies by the Slack user id they went to."""
        async with self.app.store.sessions() as session:
            rows = await session.execute(
                select(Identity.platform_user_id, Delivery)
                .join(Channel, Channel.id == Delivery.channel_id)
                .join(Identity, Identity.id == Channel.identity_id)
                .where(Delivery.post_id == post_id, Channel.kind == direct.DIRECT)
            )
            return {str(u): d for u, d in rows.all()}


def _is_post(message: object, post_id: int) -> bool:
    metadata = getattr(message, "metadata", None) or {}
    return str((metadata.get("event_payload") or {}).get("post_id")) == str(post_id)


def _settings(peer: SlackPeer, channel: str) -> Settings:
    return Settings(
        timezone="Europe/Amsterdam",
        console={"enabled": False},  # type: ignore[arg-type]
        slack={"bot_token": peer.bot_token, "signing_secret": peer.signing_secret, "api_base_url": peer.api_base_url},  # type: ignore[arg-type]
        web={"port": 0},  # type: ignore[arg-type]
        channels=[{"name": "algemeen", "platform": "slack", "chat_id": channel, "tags": ["everyone"]}],  # type: ignore[list-item]
    )


@pytest.fixture
async def slack(store: Store, clock: FrozenClock) -> AsyncIterator[DirectSlack]:
    async with SlackPeer() as peer:
        channel = peer.add_channel("algemeen", members=PEOPLE)
        app = App(_settings(peer, channel), clock=clock, store=store, counter_debounce=0.0)
        await app.start()
        server = WebServer(create_web_app(app.web_deps), "127.0.0.1", 0)
        await server.start()
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}", timeout=5.0) as http:
                found = DirectSlack(app, peer, http, channel)
                await wait_for(lambda: _synced(found), "the channel's member list to be read at start")
                yield found
        finally:
            await server.stop()
            await app.stop()


async def _synced(slack: DirectSlack) -> bool:
    async with slack.app.store.sessions() as session:
        rows = await session.execute(select(Identity.platform_user_id).where(Identity.platform == "slack"))
        return {slack.user(p) for p in PEOPLE} <= set(rows.scalars())


def _must_read(title: str, *to: str, direct_: bool = False) -> PostDraft:
    return PostDraft(title=title, body="Lees dit.", cta=CallToAction(CtaKind.ACKNOWLEDGE), audience=to, direct=direct_)


async def test_a_segment_gets_one_dm_each_and_a_press_there_counts_for_the_person(slack: DirectSlack) -> None:
    peer = slack.peer
    await slack.department("anna", "Sales")
    await slack.department("bram", "Sales")
    await slack.department("carla", "Support")

    post = await slack.post(_must_read("Nieuwe prijzen", "department=sales"))

    opened = peer.calls_of("conversations.open")
    assert sorted(c.args["users"] for c in opened) == sorted([slack.user("anna"), slack.user("bram")])
    copies = await slack.deliveries(post.id)
    assert {u: d.state for u, d in copies.items()} == {slack.user("anna"): "sent", slack.user("bram"): "sent"}
    assert [slack.copies_in_dm(p, post.id) for p in PEOPLE] == [1, 1, 0]
    assert not any(_is_post(m, post.id) for m in peer.messages(slack.channel))  # people, not the channel
    async with slack.app.store.sessions() as session:
        channels = {
            c.identity_id: c.chat_id for c in (await session.execute(select(Channel))).scalars() if c.kind == "direct"
        }
        private = dict((await session.execute(select(Identity.id, Identity.private_chat_id))).all())
        assert (await audience.reach_of(session, [post.id]))[post.id] == audience.Reach(2, False, 2)
    assert sorted(channels.values()) == sorted([slack.dm_of("anna"), slack.dm_of("bram")])
    assert all(private[i] == chat for i, chat in channels.items())  # remembered on the account too

    # anna presses ✅ in her DM: counted for her, and she is no longer missing.
    anna_copy = copies[slack.user("anna")]
    assert anna_copy.platform_message_id is not None
    dm = slack.dm_of("anna")
    assert dm is not None
    answer = await slack.http.post(
        "/slack/events", **_signed(peer.press("anna", dm, anna_copy.platform_message_id, "ack"))
    )
    assert answer.status_code == 200
    await wait_for(lambda: _acks(slack, post.id), "anna's acknowledgement to be stored")
    async with slack.app.store.sessions() as session:
        missing = await audience.missing(session, post.id, "ack")
        acks = (await session.execute(select(Response).where(Response.post_id == post.id))).scalars().all()
    assert [p.employee_id for p in missing] == [await slack.employee_of("bram")]
    assert [(r.kind, r.delivery_id) for r in acks] == [("ack", anna_copy.id)]

    # `direct` to the channel's members: carla's DM is opened now, anna's and bram's are reused.
    again = await slack.post(_must_read("Herhaling", "everyone", direct_=True))
    assert [c.args["users"] for c in peer.calls_of("conversations.open")[len(opened) :]] == [slack.user("carla")]
    assert [slack.copies_in_dm(p, again.id) for p in PEOPLE] == [1, 1, 1]


async def _acks(slack: DirectSlack, post_id: int) -> bool:
    async with slack.app.store.sessions() as session:
        rows = await session.execute(select(Response.id).where(Response.post_id == post_id, Response.kind == "ack"))
        return bool(rows.first())


def _signed(request: SignedRequest) -> dict[str, Any]:
    return {"content": request.body, "headers": request.headers}


async def test_a_restart_mid_fan_out_sends_no_copy_twice(slack: DirectSlack, clock: FrozenClock) -> None:
    """A crash leaves copies ``sending``: one sent before the crash (its answer never recorded) and one whose
    DM was never opened. The sweep finds the first in the DM by its metadata and sends the second once."""
    for person in PEOPLE:
        await slack.department(person, "Sales")
    post = await slack.post(_must_read("Verlof", "department=sales"))
    copies = await slack.deliveries(post.id)
    anna, bram = copies[slack.user("anna")], copies[slack.user("bram")]
    async with slack.app.store.transaction() as session:
        stale = clock.now() - timedelta(minutes=5)
        await session.execute(
            update(Delivery)
            .where(Delivery.id.in_([anna.id, bram.id]))
            .values(state=DeliveryState.SENDING, claimed_by="crashed", lease_until=stale, sent_at=None)
        )
        # bram's DM as if the crash came before it was opened: nothing can have been sent to it.
        await session.execute(
            update(Channel)
            .where(Channel.id == bram.channel_id)
            .values(chat_id=direct.unopened_chat(slack.user("bram")))
        )
        bram_dm = slack.dm_of("bram")
        assert bram_dm is not None
    del slack.peer.channels[bram_dm].messages[str(bram.platform_message_id)]  # it never reached Slack

    assert await slack.app.dispatcher.reconcile() == 2
    await slack.app.settle()

    after = await slack.deliveries(post.id)
    assert {d.state for d in after.values()} == {"sent"}
    assert after[slack.user("anna")].platform_message_id == anna.platform_message_id  # found, not resent
    assert [slack.copies_in_dm(p, post.id) for p in PEOPLE] == [1, 1, 1]


async def test_dms_are_opened_within_slacks_tier_and_none_is_refused(store: Store, clock: FrozenClock) -> None:
    """conversations.open is tier 3 (50+ a minute): a must-read to more new people than the tier allows at
    once waits its turn for each DM instead of drawing 429s (peer and adapter at 4 a second here, so the
    test is short; the default is ``[slack] open_rate_per_minute = 50``)."""
    people = [f"persoon{i:02d}" for i in range(12)]
    tiers = {**DEFAULT_TIER_RATES, "conversations.open": Window(4, 1.0)}
    async with SlackPeer(tier_rates=tiers) as peer:
        channel = peer.add_channel("algemeen", members=people)
        settings = _settings(peer, channel)
        assert settings.slack.open_rate_per_minute == 50
        adapter = SlackAdapter(
            bot_token=peer.bot_token,
            signing_secret=peer.signing_secret,
            api_base_url=peer.api_base_url,
            open_rate=Rate(4, 1.0),
        )
        app = App(settings, clock=clock, store=store, adapters={"slack": adapter}, counter_debounce=0.0)
        await app.start()
        try:
            found = DirectSlack(app, peer, httpx.AsyncClient(), channel)
            await wait_for(lambda: _synced_people(found, people), "the channel's member list to be read at start")
            for person in people:
                await found.department(person, "Sales")
            post = await found.post(_must_read("Nieuwe prijzen", "department=sales"))
            opened = peer.calls_of("conversations.open")
            assert [c.status for c in opened] == [200] * len(people)  # none refused with a 429
            assert [found.copies_in_dm(p, post.id) for p in people] == [1] * len(people)
            copies = await found.deliveries(post.id)
            assert {d.state for d in copies.values()} == {"sent"} and len(copies) == len(people)
        finally:
            await app.stop()


async def _synced_people(slack: DirectSlack, people: list[str]) -> bool:
    async with slack.app.store.sessions() as session:
        rows = await session.execute(select(Identity.platform_user_id).where(Identity.platform == "slack"))
        return {slack.user(p) for p in people} <= set(rows.scalars())


def test_the_configured_open_rate_reaches_the_adapter() -> None:
    peer = SlackPeer()
    settings = Settings(
        console={"enabled": False},  # type: ignore[arg-type]
        slack={"bot_token": peer.bot_token, "signing_secret": peer.signing_secret, "open_rate_per_minute": 120},  # type: ignore[arg-type]
    )
    adapter = App(settings).adapters["slack"]
    assert adapter.limits.open_rates == (Rate(120, 60.0),)
