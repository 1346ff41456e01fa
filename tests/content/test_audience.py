"""Memberships, reach, who has not acknowledged and segments: the store's queries on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from content import audience
from content.db import Store
from content.models import (
    Channel,
    CtaKind,
    Delivery,
    DeliveryState,
    Employee,
    Identity,
    Membership,
    MembershipSource,
    Post,
    PostState,
    Response,
)

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


async def _person(store: Store, name: str, platform: str, *, department: str | None = None, **more: str) -> int:
    """An employee with one identity on ``platform`` (and one per extra ``platform=user`` in ``more``)."""
    async with store.transaction() as session:
        employee = Employee(name=name, department=department, location=more.pop("location", None), created_at=T0)
        session.add(employee)
        await session.flush()
        session.add(Identity(platform=platform, platform_user_id=name, display_name=name, employee_id=employee.id))
        for other, user_id in more.items():
            session.add(Identity(platform=other, platform_user_id=user_id, display_name=name, employee_id=employee.id))
        return employee.id


async def _identity(store: Store, platform: str, user_id: str) -> int:
    async with store.sessions() as session:
        found = await session.scalar(
            select(Identity.id).where(Identity.platform == platform, Identity.platform_user_id == user_id)
        )
        assert found is not None
        return found


async def _channel(store: Store, name: str, platform: str) -> int:
    async with store.transaction() as session:
        channel = Channel(name=name, platform=platform, chat_id=f"{platform}-{name}", tags=["everyone"])
        session.add(channel)
        await session.flush()
        return channel.id


async def _post(store: Store, sent: dict[int, datetime | None], cta: CtaKind = CtaKind.ACKNOWLEDGE) -> int:
    async with store.transaction() as session:
        post = Post(
            title="Must-read",
            cta_kind=cta,
            state=PostState.PUBLISHED,
            audience=["everyone"],
            created_at=T0,
            updated_at=T0,
        )
        session.add(post)
        await session.flush()
        for channel_id, at in sent.items():
            channel = await session.get(Channel, channel_id)
            assert channel is not None
            session.add(
                Delivery(
                    post_id=post.id,
                    channel_id=channel_id,
                    platform=channel.platform,
                    state=DeliveryState.SENT if at else DeliveryState.FAILED,
                    next_attempt_at=T0,
                    sent_at=at,
                )
            )
        return post.id


async def _join(store: Store, channel_id: int, identities: list[int], at: datetime) -> int:
    async with store.transaction() as session:
        return await audience.join(session, channel_id, identities, MembershipSource.EVENT, at)


async def _leave(store: Store, channel_id: int, identities: list[int], at: datetime) -> int:
    async with store.transaction() as session:
        return await audience.leave(session, channel_id, identities, at)


async def _respond(store: Store, post_id: int, identity_id: int, kind: str) -> None:
    async with store.transaction() as session:
        identity = await session.get(Identity, identity_id)
        assert identity is not None
        session.add(
            Response(
                post_id=post_id,
                identity_id=identity_id,
                employee_id=identity.employee_id,
                kind=kind,
                platform=identity.platform,
                created_at=T0 + timedelta(hours=2),
            )
        )


async def _reach(store: Store, post_id: int) -> audience.Reach:
    async with store.sessions() as session:
        return (await audience.reach_of(session, [post_id]))[post_id]


async def test_reach_counts_members_at_delivery_time_once_per_person(store: Store) -> None:
    slack = await _channel(store, "general", "slack")
    matrix = await _channel(store, "room", "matrix")
    await _person(store, "ann", "slack", matrix="@ann:hq")  # linked: one person on two platforms
    await _person(store, "bob", "slack")
    await _person(store, "cas", "matrix")
    await _person(store, "dee", "slack")
    ann_s, ann_m = await _identity(store, "slack", "ann"), await _identity(store, "matrix", "@ann:hq")
    bob, cas, dee = (
        await _identity(store, "slack", "bob"),
        await _identity(store, "matrix", "cas"),
        await _identity(store, "slack", "dee"),
    )
    await _join(store, slack, [ann_s, bob], T0)
    await _join(store, matrix, [ann_m, cas], T0)
    await _join(store, slack, [dee], T0 + timedelta(hours=2))  # joined after the post arrived
    await _leave(store, matrix, [cas], T0 + timedelta(minutes=30))  # left before it arrived
    post = await _post(store, {slack: T0 + timedelta(hours=1), matrix: T0 + timedelta(hours=1)})

    reach = await _reach(store, post)

    assert reach == audience.Reach(2, False, 2)  # ann (once) and bob
    async with store.sessions() as session:
        names = [p.name for p in await audience.reached_people(session, post)]
        ann = next(p for p in await audience.reached_people(session, post) if p.name == "ann")
    assert names == ["ann", "bob"]
    assert ann.platforms == ("matrix", "slack")


async def test_leaving_and_rejoining_is_one_member_and_each_period_counts_for_its_own_posts(store: Store) -> None:
    channel = await _channel(store, "general", "slack")
    await _person(store, "ann", "slack")
    ann = await _identity(store, "slack", "ann")
    await _join(store, channel, [ann], T0)
    assert await _join(store, channel, [ann], T0 + timedelta(minutes=5)) == 0  # already a member
    await _leave(store, channel, [ann], T0 + timedelta(hours=1))
    await _join(store, channel, [ann], T0 + timedelta(hours=3))
    during_first = await _post(store, {channel: T0 + timedelta(minutes=30)})
    while_away = await _post(store, {channel: T0 + timedelta(hours=2)})
    during_second = await _post(store, {channel: T0 + timedelta(hours=4)})
    twice = await _post(store, {channel: T0 + timedelta(hours=4)})

    assert (await _reach(store, during_first)).value == 1
    assert (await _reach(store, while_away)).value == 0
    assert (await _reach(store, during_second)).value == 1
    async with store.sessions() as session:
        periods = (await session.execute(select(Membership).where(Membership.identity_id == ann))).scalars().all()
        assert len(periods) == 2
        assert await audience.open_members(session, channel) == {ann}
        assert (await audience.reach_of(session, [during_first, twice])) == {
            during_first: audience.Reach(1, False, 1),
            twice: audience.Reach(1, False, 1),
        }


async def test_a_failed_delivery_reaches_nobody_and_responders_are_reached(store: Store) -> None:
    slack = await _channel(store, "general", "slack")
    console = await _channel(store, "console", "console")
    await _person(store, "ann", "slack")
    await _person(store, "eve", "console")
    ann, eve = await _identity(store, "slack", "ann"), await _identity(store, "console", "eve")
    await _join(store, slack, [ann], T0)
    post = await _post(store, {slack: None, console: T0 + timedelta(hours=1)})
    assert await _reach(store, post) == audience.Reach(0, False, 0)
    await _respond(store, post, eve, "like")  # eve was never listed as a member, but she acted
    assert await _reach(store, post) == audience.Reach(1, False, 1)


async def test_a_partial_channel_gives_an_estimate_from_its_member_count(store: Store) -> None:
    group = await _channel(store, "tg", "telegram")
    slack = await _channel(store, "general", "slack")
    await _person(store, "ann", "telegram", slack="ann")
    await _person(store, "bob", "telegram")
    await _person(store, "cas", "slack")
    ann_t, bob, ann_s, cas = (
        await _identity(store, "telegram", "ann"),
        await _identity(store, "telegram", "bob"),
        await _identity(store, "slack", "ann"),
        await _identity(store, "slack", "cas"),
    )
    async with store.transaction() as session:
        channel = await session.get(Channel, group)
        assert channel is not None
        await audience.apply_member_list(session, channel, [ann_t], T0, partial=True, count=40)
        other = await session.get(Channel, slack)
        assert other is not None
        await audience.apply_member_list(session, other, [ann_s, cas], T0, partial=False, count=None)
    await _join(store, group, [bob], T0)  # seen in the group
    post = await _post(store, {group: T0 + timedelta(hours=1), slack: T0 + timedelta(hours=1)})

    reach = await _reach(store, post)

    # Known by name: ann (in both), bob and cas = 3; the group has 40 of whom 2 are known → 38 more.
    assert reach == audience.Reach(41, True, 3)
    assert reach.as_json() == {"value": 41, "estimate": True, "known": 3}
    async with store.sessions() as session:
        per_platform = (await audience.reach_by_platform(session, [post]))[post]
    # ann counts on both platforms here, and once overall; only Telegram's figure is an estimate.
    assert per_platform == {"telegram": audience.Reach(40, True, 2), "slack": audience.Reach(2, False, 2)}


async def test_a_complete_member_list_ends_the_membership_of_those_no_longer_on_it(store: Store) -> None:
    channel_id = await _channel(store, "general", "slack")
    for name in ("ann", "bob", "cas"):
        await _person(store, name, "slack")
    ann, bob, cas = [await _identity(store, "slack", n) for n in ("ann", "bob", "cas")]
    async with store.transaction() as session:
        channel = await session.get(Channel, channel_id)
        assert channel is not None
        first = await audience.apply_member_list(session, channel, [ann, bob], T0, partial=False, count=None)
        second = await audience.apply_member_list(
            session, channel, [bob, cas], T0 + timedelta(hours=6), partial=False, count=None
        )
        assert (first, second) == (audience.SyncOutcome(2, 0), audience.SyncOutcome(1, 1))
        assert channel.member_count == 2 and channel.members_partial is False
        assert await audience.open_members(session, channel_id) == {bob, cas}


async def test_who_has_not_acknowledged_and_segments(store: Store) -> None:
    channel = await _channel(store, "general", "slack")
    await _person(store, "ann", "slack", department="Sales", location="Utrecht")
    await _person(store, "bob", "slack", department="Sales")
    await _person(store, "cas", "slack", department="Support", location="Utrecht")
    await _person(store, "dee", "slack")
    ids = {n: await _identity(store, "slack", n) for n in ("ann", "bob", "cas", "dee")}
    await _join(store, channel, list(ids.values()), T0)
    post = await _post(store, {channel: T0 + timedelta(hours=1)})
    await _respond(store, post, ids["ann"], "ack")
    await _respond(store, post, ids["bob"], "like")

    async with store.sessions() as session:
        missing = await audience.missing(session, post, "ack")
        people = await audience.reached_people(session, post)
        engaged = await audience.responders(session, post)
        completed = await audience.responders(session, post, ["ack"])
    assert [(p.name, p.department, p.platforms) for p in missing] == [
        ("bob", "Sales", ("slack",)),
        ("cas", "Support", ("slack",)),
        ("dee", None, ("slack",)),
    ]
    parts = audience.segments(people, engaged, completed)
    assert [(s.value, s.reached, s.engaged, s.completed) for s in parts["department"]] == [
        ("Sales", 2, 2, 1),
        ("Support", 1, 0, 0),
        ("unknown", 1, 0, 0),
    ]
    assert [(s.value, s.reached, s.engaged, s.completed) for s in parts["location"]] == [
        ("Utrecht", 2, 1, 1),
        ("unknown", 2, 1, 0),
    ]
