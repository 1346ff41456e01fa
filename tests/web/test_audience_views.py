"""Who a post reached and who has not acknowledged, in the API, on the post page and as CSV: the reach
is the channels' members at delivery (a linked person once), an estimate where a channel's list is
partial, and completion per department and location."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

from adapters.base import ChatRef, UserRef
from adapters.console.adapter import ConsoleAdapter
from bot.app import App
from bot.clock import FrozenClock
from content import audience, posts
from content.models import Employee
from content.people import ensure_identity
from tests.web.conftest import Admin, WebHarness

MUST_READ = {
    "title": "Nieuwe verlofregeling",
    "body": "Lees dit voor vrijdag.",
    "call_to_action": {"kind": "acknowledge", "deadline": "2026-12-04T17:00:00+01:00"},
}
# (platform, chat, user, department, location)
MEMBERS = [
    ("console", None, "anna", "Sales", "Utrecht"),
    ("console", None, "bram", "Sales", None),
    ("console", None, "carla", "Support", "Utrecht"),
    ("slack", "C01", "U01", "Support", None),
    ("slack", "C01", "U02", None, None),
]


async def members(app: App, clock: FrozenClock) -> None:
    """The five people above are members of their channel before the post is sent."""
    console = app.adapters["console"]
    assert isinstance(console, ConsoleAdapter)
    now = clock.now()
    for platform, chat, user, department, location in MEMBERS:
        async with app.store.transaction() as session:
            person = await ensure_identity(session, platform, user, user.title(), now)
            employee = await session.get(Employee, person.employee_id)
            assert employee is not None
            employee.department, employee.location = department, location
        where = ChatRef(platform, chat) if chat else console.chat
        app.audience.note_seen(where, UserRef(platform, user, user.title()))
    # Someone who has an account on Slack but is in none of the channels: not reached.
    async with app.store.transaction() as session:
        await ensure_identity(session, "slack", "U99", "Outsider", now)
    await app.audience.flush()
    clock.advance(minutes=1)


async def _must_read(web: WebHarness) -> int:
    await members(web.app, web.clock)
    created = await web.client.post("/api/posts", json=MUST_READ)
    assert created.status_code == 201, created.text
    await web.app.settle()
    post_id = int(created.json()["id"])
    await web.react(post_id, "anna", "ack")
    await web.react(post_id, "U01", "ack", platform="slack")
    return post_id


async def test_the_api_tells_who_was_reached_and_who_has_not_acknowledged(web: WebHarness) -> None:
    post_id = await _must_read(web)

    found = (await web.client.get(f"/api/posts/{post_id}/audience")).json()

    assert found["reach"] == {"value": 5, "estimate": False, "known": 5}
    assert found["done"] == "ack"
    assert [(p["name"], p["department"], p["platforms"]) for p in found["missing"]] == [
        ("Bram", "Sales", ["console"]),
        ("Carla", "Support", ["console"]),
        ("U02", None, ["slack"]),
    ]
    departments = {s["value"]: (s["reached"], s["engaged"], s["completed"]) for s in found["segments"]["department"]}
    assert departments == {"Sales": (2, 1, 1), "Support": (2, 1, 1), "unknown": (1, 0, 0)}
    locations = {s["value"]: s["completed"] for s in found["segments"]["location"]}
    assert locations == {"Utrecht": 1, "unknown": 1}
    assert found["segments"]["location"][0] == {
        "value": "unknown",
        "reached": 3,
        "engaged": 1,
        "completed": 1,
        "completion_rate": 0.3333,
    }

    export = await web.client.get(f"/api/posts/{post_id}/missing.csv")
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert [(r["name"], r["department"], r["platforms"]) for r in rows] == [
        ("Bram", "Sales", "console"),
        ("Carla", "Support", "console"),
        ("U02", "", "slack"),
    ]

    detail = (await web.client.get(f"/api/posts/{post_id}")).json()
    assert (detail["reach"], detail["reach_estimate"], detail["reach_known"]) == (5, False, 5)
    assert detail["cta_completion"] == 0.4


async def test_a_partial_member_list_makes_the_reach_an_estimate(web: WebHarness) -> None:
    post_id = await _must_read(web)
    async with web.app.store.transaction() as session:
        channel = await posts.channel_by_chat(session, "slack", "C01")
        assert channel is not None
        known = await audience.open_members(session, channel.id)
        # As if Slack, like Telegram, could only say how many: 10 members, of whom two are known.
        await audience.apply_member_list(
            session, channel, known, web.clock.now() - timedelta(hours=1), partial=True, count=10
        )

    found = (await web.client.get(f"/api/posts/{post_id}/audience")).json()
    assert found["reach"] == {"value": 13, "estimate": True, "known": 5}
    assert len(found["missing"]) == 3  # only people known by name can be listed
    detail = (await web.client.get(f"/api/posts/{post_id}")).json()
    platforms = {p["platform"]: (p["reach"], p["reach_estimate"]) for p in detail["platforms"]}
    assert platforms == {"console": (3, False), "slack": (10, True)}


async def test_a_post_without_something_to_miss_lists_nobody(web: WebHarness) -> None:
    await members(web.app, web.clock)
    created = await web.client.post("/api/posts", json={"title": "Koffie", "call_to_action": {"kind": "like"}})
    await web.app.settle()
    found = (await web.client.get(f"/api/posts/{created.json()['id']}/audience")).json()
    assert found["done"] is None and found["missing"] is None and found["reach"]["value"] == 5
    assert (await web.client.get("/api/posts/999/audience")).status_code == 404


async def test_the_post_page_lists_who_has_not_acknowledged(web: WebHarness, admin: Admin) -> None:
    browser, _ = admin
    post_id = await _must_read(web)

    page = (await browser.get(f"/posts/{post_id}")).text

    section = re.search(r'<section class="card missing">.*?</section>', page, re.S)
    assert section, "no who-has-not section"
    assert "Who has not acknowledged" in section.group(0) and "(3 of 5 known by name)" in section.group(0)
    names = re.findall(r"<tr data-employee=\"\d+\"><td>([^<]+)</td>", section.group(0))
    assert names == ["Bram", "Carla", "U02"]
    assert 'data-attribute="department"' in page and 'data-value="Sales"' in page
    export = await browser.get(f"/posts/{post_id}/missing.csv")
    assert export.status_code == 200 and export.text.splitlines()[0] == (
        "employee_id,name,email,department,location,platforms"
    )
    async with web.browser() as stranger:
        assert (await stranger.get(f"/posts/{post_id}/missing.csv")).status_code == 303


async def test_a_post_to_people_lists_who_could_not_be_sent_it_privately(web: WebHarness, admin: Admin) -> None:
    """``to: department=support``: Carla's copy goes to her console chat; U01's Slack has no DM to open (the
    stand-in Slack opens none), so that copy fails; Dirk is in the directory on no messenger at all."""
    browser, _ = admin
    await members(web.app, web.clock)
    async with web.app.store.transaction() as session:
        session.add(Employee(name="Dirk", department="Support", created_at=web.clock.now()))
    created = await web.client.post("/api/posts", json={**MUST_READ, "to": ["department=support"]})
    assert created.status_code == 201, created.text
    await web.app.settle()
    post_id = int(created.json()["id"])

    detail = (await web.client.get(f"/api/posts/{post_id}")).json()
    assert detail["direct"] is True
    assert web.slack.sent == {}  # nothing went to the Slack channel: a segment selects people
    found = (await web.client.get(f"/api/posts/{post_id}/audience")).json()
    assert found["reach"] == {"value": 1, "estimate": False, "known": 1}
    assert [p["name"] for p in found["missing"]] == ["Carla"]
    assert [(u["name"], u["platform"]) for u in found["unreachable"]] == [("Dirk", None), ("U01", "slack")]
    assert "no messenger account linked" in found["unreachable"][0]["reason"]
    assert "no private chat with U01" in found["unreachable"][1]["reason"]

    page = (await browser.get(f"/posts/{post_id}")).text
    section = re.search(r'<section class="card unreachable">.*?</section>', page, re.S)
    assert section, "no not-reached-privately section"
    assert "Not reached privately" in section.group(0) and "(2)" in section.group(0)
    assert re.findall(r"<tr data-employee=\"\d+\"><td>([^<]+)</td>", section.group(0)) == ["Dirk", "U01"]

    # A post to the channels lists nobody as unreachable and is not direct.
    channel_post = await _must_read(web)
    assert (await web.client.get(f"/api/posts/{channel_post}")).json()["direct"] is False
    assert (await web.client.get(f"/api/posts/{channel_post}/audience")).json()["unreachable"] == []
    assert "Not reached privately" not in (await browser.get(f"/posts/{channel_post}")).text
