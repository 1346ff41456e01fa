"""The post list's reach figures are the ones each post has on its own (#16): the list counts them for all
its posts at once in the database, a post's own page and ``reach_of`` one post at a time. People linked on
several platforms, in several channels, joining and leaving between posts, partial channels whose member
count is above, below or missing beside the people known by name, a failed delivery, responders from no
channel; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

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
from tests.web.conftest import WebHarness

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
# name → (platform → user id); ann and cas are linked across platforms.
PEOPLE = {
    "ann": {"telegram": "ann", "slack": "U-ann"},
    "bob": {"telegram": "bob"},
    "cas": {"slack": "U-cas", "matrix": "@cas:x"},
    "dirk": {"telegram": "dirk"},
    "eva": {"slack": "U-eva"},
    "fay": {"matrix": "@fay:x"},
}
# name → (platform, partial member list, member count)
CHANNELS = {
    "tg-a": ("telegram", True, 40),
    "tg-b": ("telegram", True, 1),  # fewer than the members known by name: no one unknown
    "tg-c": ("telegram", True, None),  # no count read yet
    "sl-a": ("slack", False, 3),
    "sl-b": ("slack", False, 2),
    "mx": ("matrix", False, 2),
}
# (channel, person's identity on its platform, joined, left)
MEMBERS = [
    ("tg-a", "ann", T0, None),
    ("tg-a", "bob", T0, T0 + 3 * HOUR),  # left between the first posts and the second
    ("tg-a", "dirk", T0 + 3 * HOUR, None),  # joined then
    ("tg-b", "ann", T0, None),
    ("tg-b", "dirk", T0, None),
    ("tg-c", "bob", T0, None),
    ("sl-a", "ann", T0, None),
    ("sl-a", "cas", T0, None),
    ("sl-a", "eva", T0 + 5 * HOUR, None),
    ("sl-b", "cas", T0, None),
    ("mx", "cas", T0, None),
    ("mx", "fay", T0, None),
]
# post → (channel → sent at, None: failed), and its responses (person, platform, kind)
POSTS: dict[str, tuple[dict[str, datetime | None], list[tuple[str, str, str]]]] = {
    "first": ({"tg-a": T0 + HOUR, "tg-b": T0 + HOUR, "sl-a": T0 + HOUR}, [("eva", "slack", "ack")]),
    "second": ({"tg-a": T0 + 4 * HOUR, "sl-a": T0 + 4 * HOUR, "sl-b": T0 + 4 * HOUR, "mx": T0 + 4 * HOUR}, []),
    "third": ({"tg-b": None, "mx": T0 + 6 * HOUR, "sl-a": T0 + 6 * HOUR}, [("bob", "web", "click")]),
    "fourth": ({"tg-c": T0 + 7 * HOUR, "tg-a": T0 + 7 * HOUR}, [("fay", "matrix", "ack")]),
    "nothing sent": ({"tg-a": None}, []),
}


async def _seed(store: Store) -> dict[str, int]:
    """Everything above in the store → post name → id."""
    async with store.transaction() as session:
        identities: dict[tuple[str, str], Identity] = {}
        for name, accounts in PEOPLE.items():
            employee = Employee(name=name, created_at=T0)
            session.add(employee)
            await session.flush()
            for platform, user_id in accounts.items():
                identity = Identity(platform=platform, platform_user_id=user_id, display_name=name)
                identity.employee_id = employee.id
                session.add(identity)
                identities[(name, platform)] = identity
        channels: dict[str, Channel] = {}
        for name, (platform, partial, count) in CHANNELS.items():
            channel = Channel(name=name, platform=platform, chat_id=f"chat-{name}", tags=[])
            channel.members_partial, channel.member_count = partial, count
            session.add(channel)
            channels[name] = channel
        await session.flush()
        for channel_name, person, joined, left in MEMBERS:
            channel = channels[channel_name]
            identity = identities[(person, channel.platform)]
            session.add(
                Membership(
                    channel_id=channel.id,
                    identity_id=identity.id,
                    joined_at=joined,
                    left_at=left,
                    source=MembershipSource.EVENT,
                )
            )
        ids: dict[str, int] = {}
        for title, (sent, responses) in POSTS.items():
            post = Post(
                title=title,
                cta_kind=CtaKind.ACKNOWLEDGE,
                state=PostState.PUBLISHED,
                audience=["everyone"],
                created_at=T0,
                updated_at=T0,
            )
            session.add(post)
            await session.flush()
            ids[title] = post.id
            for channel_name, at in sent.items():
                channel = channels[channel_name]
                state = DeliveryState.SENT if at else DeliveryState.FAILED
                session.add(
                    Delivery(
                        post_id=post.id,
                        channel_id=channel.id,
                        platform=channel.platform,
                        state=state,
                        next_attempt_at=T0,
                        sent_at=at,
                    )
                )
            for person, platform, kind in responses:
                first = next(i for (n, _), i in identities.items() if n == person)
                responder = identities.get((person, platform), first)
                response = Response(post_id=post.id, identity_id=responder.id, kind=kind, platform=platform)
                response.employee_id = responder.employee_id
                response.created_at = T0 + 8 * HOUR
                session.add(response)
        return ids


async def test_the_list_shows_each_posts_own_reach(web: WebHarness) -> None:
    ids = await _seed(web.app.store)

    listing = (await web.client.get("/api/posts", params={"limit": 100})).json()
    listed = {p["id"]: p for p in listing}
    assert set(ids.values()) <= set(listed)
    for title, post_id in ids.items():
        async with web.app.store.sessions() as session:
            alone = (await audience.reach_of(session, [post_id]))[post_id]
            per_platform = (await audience.reach_by_platform(session, [post_id]))[post_id]
        shown = listed[post_id]
        assert (shown["reach"], shown["reach_estimate"], shown["reach_known"]) == (
            alone.value,
            alone.estimate,
            alone.known,
        ), title
        detail = (await web.client.get(f"/api/posts/{post_id}")).json()
        assert {k: detail[k] for k in ("reach", "reach_estimate", "reach_known")} == {
            k: shown[k] for k in ("reach", "reach_estimate", "reach_known")
        }, title
        # Per platform where it reached a channel (a click from the web has no channel, so no reach there).
        sent_on = {CHANNELS[c][0] for c, at in POSTS[title][0].items() if at is not None}
        platforms = {p["platform"]: (p["reach"], p["reach_estimate"]) for p in detail["platforms"] if p["channels"]}
        assert set(platforms) == sent_on, title
        assert platforms == {name: (r.value, r.estimate) for name, r in per_platform.items() if name in sent_on}, title

    # Counted by hand. First: ann, bob, dirk (tg), ann, cas (sl); eva responded → 5 by name; tg-a's 40
    # less its 2 known (ann, bob) → 38 more; tg-b's 1 is below its 2 known → none.
    first = listed[ids["first"]]
    assert (first["reach"], first["reach_estimate"], first["reach_known"]) == (43, True, 5)
    # Second: tg-a has ann and dirk now (bob left) → 38 unknown; ann, dirk, cas, fay by name.
    second = listed[ids["second"]]
    assert (second["reach"], second["reach_estimate"], second["reach_known"]) == (42, True, 4)
    # Third: the Telegram delivery failed, so nothing is estimated; ann, cas, eva, fay; bob clicked.
    third = listed[ids["third"]]
    assert (third["reach"], third["reach_estimate"], third["reach_known"]) == (5, False, 5)
    # Fourth: tg-c has no count (bob known), tg-a 40 − 2 (ann, dirk); fay acknowledged.
    fourth = listed[ids["fourth"]]
    assert (fourth["reach"], fourth["reach_estimate"], fourth["reach_known"]) == (42, True, 4)
    nothing = listed[ids["nothing sent"]]
    assert (nothing["reach"], nothing["reach_estimate"], nothing["reach_known"]) == (0, False, 0)
    async with web.app.store.sessions() as session:
        assert (await audience.reach_by_platform(session, [ids["first"]]))[ids["first"]] == {
            "telegram": audience.Reach(41, True, 3),
            "slack": audience.Reach(3, False, 3),
        }
