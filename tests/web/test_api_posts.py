"""The admin API's posts over HTTP, on SQLite and PostgreSQL: create → schedule → approve →
published with deliveries; counts, reach and engagement after reactions; 401 and 422."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from adapters.base import ChatRef, UserRef
from adapters.console.adapter import ConsoleAdapter
from tests.web.conftest import TOKEN, WebHarness

POLL = {
    "title": "Lunch vrijdag",
    "body": "Wat eten we?",
    "call_to_action": {"kind": "poll", "options": ["Pizza", "Sushi", "Salade"]},
}


async def _post(web: WebHarness, body: dict[str, Any]) -> dict[str, Any]:
    response = await web.client.post("/api/posts", json=body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_create_schedule_approve_publish(web: WebHarness) -> None:
    at = (web.clock.now() + timedelta(hours=2)).isoformat()
    created = await _post(
        web,
        {
            "title": "Nieuwe verlofregeling",
            "body": "Vanaf **januari**.",
            "call_to_action": {"kind": "acknowledge", "deadline": (web.clock.now() + timedelta(days=5)).isoformat()},
            "to": ["everyone"],
            "publish_at": at,
            "review": True,
        },
    )
    post_id = created["id"]
    assert created["state"] == "pending" and created["deliveries"] == {} and created["author"] == "api"

    approved = await web.client.post(f"/api/posts/{post_id}/approve")
    assert approved.status_code == 200 and approved.json()["state"] == "scheduled"
    assert (await web.client.post(f"/api/posts/{post_id}/approve")).status_code == 409

    web.clock.advance(hours=2, minutes=1)
    await web.app.settle()  # the due loop's work: publish what is due, send it
    detail = (await web.client.get(f"/api/posts/{post_id}")).json()
    assert detail["state"] == "published"
    assert detail["deliveries"] == {"sent": 2}
    assert sorted((c["channel"], c["platform"], c["state"]) for c in detail["channels"]) == [
        ("console", "console", "sent"),
        ("general", "slack", "sent"),
    ]
    assert len(web.slack.sent) == 1
    audit = (await web.client.get("/api/audit", params={"post_id": post_id})).json()
    assert [e["action"] for e in audit] == ["publish", "approve", "create"]


async def test_counts_reach_and_engagement_after_reactions(web: WebHarness) -> None:
    post = await _post(web, POLL)
    await web.app.settle()
    assert await web.react(post["id"], "anna", "vote:1") == "vote for Pizza counted (#1)"
    await web.react(post["id"], "bram", "vote:2")
    await web.react(post["id"], "bram", "vote:1")  # changed his mind: the latest vote wins
    await web.react(post["id"], "carla", "like")
    await web.react(post["id"], "U01", "vote:2", platform="slack")

    detail = (await web.client.get(f"/api/posts/{post['id']}")).json()
    assert detail["counts"] == {"like": 1, "vote": 3}
    assert detail["votes"] == {"Pizza": 2, "Sushi": 1, "Salade": 0}
    assert detail["engaged"] == 4 and detail["reach"] == 4
    assert detail["engagement_rate"] == 1.0 and detail["cta_completion"] == 0.75
    platforms = {p["platform"]: p for p in detail["platforms"]}
    assert platforms["console"]["engaged"] == 3 and platforms["console"]["completed"] == 2
    assert platforms["slack"]["engaged"] == 1 and platforms["slack"]["completion_rate"] == 1.0

    # The votes came as commands, from no channel: the first post's reach is its responders. Seen in the
    # channels now, the four are members when the second post arrives: they are its reach.
    console = web.app.adapters["console"]
    assert isinstance(console, ConsoleAdapter)
    for user in ("anna", "bram", "carla"):
        web.app.audience.note_seen(console.chat, UserRef("console", user, user.title()))
    web.app.audience.note_seen(ChatRef("slack", "C01"), UserRef("slack", "U01", "U01"))
    await web.app.audience.flush()
    web.clock.advance(minutes=1)
    other = await _post(web, {"title": "Koffie", "call_to_action": {"kind": "like"}})
    await web.app.settle()
    await web.react(other["id"], "anna", "like")
    second = (await web.client.get(f"/api/posts/{other['id']}")).json()
    assert second["reach"] == 4 and second["engaged"] == 1 and second["engagement_rate"] == 0.25
    assert second["reach_estimate"] is False and second["reach_known"] == 4
    by_platform = {
        p["platform"]: p["reach"] for p in (await web.client.get(f"/api/posts/{other['id']}")).json()["platforms"]
    }
    assert by_platform == {"console": 3, "slack": 1}

    listing = (await web.client.get("/api/posts")).json()
    assert [p["id"] for p in listing] == [other["id"], post["id"]]
    assert (await web.client.get("/api/posts", params={"state": "pending"})).json() == []


async def test_reject_and_retract(web: WebHarness) -> None:
    pending = await _post(web, {"title": "Voorstel", "review": True})
    rejected = await web.client.post(f"/api/posts/{pending['id']}/reject", json={"reason": "te vaag"})
    assert rejected.json()["state"] == "rejected" and rejected.json()["reject_reason"] == "te vaag"

    live = await _post(web, {"title": "Vergissing", "call_to_action": {"kind": "like"}})
    await web.app.settle()
    assert len(web.slack.sent) == 1
    retracted = await web.client.post(f"/api/posts/{live['id']}/retract")
    assert retracted.status_code == 200 and retracted.json()["state"] == "retracted"
    assert web.slack.sent == {}  # the sent message was deleted
    again = await web.client.post(f"/api/posts/{live['id']}/retract")
    assert again.status_code == 409 and "already retracted" in again.json()["detail"]
    assert (await web.client.get("/api/posts/999")).status_code == 404
    assert (await web.client.post("/api/posts/999/approve")).status_code == 404


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}, {"Authorization": "Bearer"}],
)
async def test_401_without_the_token(web: WebHarness, headers: dict[str, str]) -> None:
    web.client.headers.pop("Authorization")
    for method, path in [
        ("GET", "/api/posts"),
        ("POST", "/api/posts"),
        ("GET", "/api/posts/1"),
        ("GET", "/api/channels"),
        ("GET", "/api/responses.csv"),
        ("GET", "/api/search?q=x"),
        ("POST", "/api/employees/import"),
    ]:
        response = await web.client.request(method, path, headers=headers, json=POLL if method == "POST" else None)
        assert response.status_code == 401, (method, path, response.text)
        assert response.headers["www-authenticate"] == "Bearer"
    assert (await web.client.get("/api/openapi.json")).status_code == 200  # the schema itself is public


CTA = "body.call_to_action"


def _cta(**call_to_action: object) -> dict[str, object]:
    return {"title": "x", "call_to_action": call_to_action}


def _errors(response: Any) -> dict[str, str]:
    assert response.status_code == 422, response.text
    return {".".join(str(p) for p in e["loc"]): e["msg"] for e in response.json()["detail"]}


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"title": ""}, "body.title", "at least 1 character"),
        ({"title": "x" * 301}, "body.title", "at most 300"),
        ({"title": "   "}, "body.title", "must not be blank"),
        ({"title": "a\x00b"}, "body.title", "NUL"),
        ({"title": "x", "kind": "blog"}, "body.kind", "Input should be"),
        (_cta(kind="poll", options=["A"]), f"{CTA}.options", "2 to 10"),
        (_cta(kind="link"), f"{CTA}.url", "http(s) URL"),
        (_cta(kind="link", url="javascript:alert(1)"), f"{CTA}.url", "http(s) URL"),
        (_cta(kind="like", deadline="2026-12-01T10:00:00+01:00"), f"{CTA}.deadline", "only acknowledge"),
        ({"title": "x", "publish_at": "2026-12-01T10:00:00"}, "body.publish_at", "timezone"),
        ({"title": "x", "publish_at": "9999-12-31T23:59:59-23:59"}, "body.publish_at", "out of range"),
        ({"title": "x", "to": []}, "body.to", "at least 1 item"),
        ({"title": "x", "extra": 1}, "body.extra", "Extra inputs"),
        ({"title": "x", "to": ["nobody-has-this-tag"]}, "body", "no enabled channel carries"),
    ],
)  # fmt: skip
async def test_422_names_the_field(web: WebHarness, body: dict[str, Any], field: str, message: str) -> None:
    errors = _errors(await web.client.post("/api/posts", json=body))
    assert field in errors, errors
    assert message in errors[field], errors


async def test_422_for_bad_json_paths_and_queries(web: WebHarness) -> None:
    broken = await web.client.post("/api/posts", content=b"{not json", headers={"content-type": "application/json"})
    assert list(_errors(broken).values()) == ["JSON decode error"]
    assert "path.post_id" in _errors(await web.client.get("/api/posts/99999999999999999999"))
    assert "path.post_id" in _errors(await web.client.get("/api/posts/0"))
    assert "query.limit" in _errors(await web.client.get("/api/posts", params={"limit": 100000}))
    assert "query.state" in _errors(await web.client.get("/api/posts", params={"state": "lost"}))


async def test_paid_broadcast_is_set_and_a_wrong_value_names_the_field(web: WebHarness) -> None:
    created = await web.client.post("/api/posts", json={"title": "Storing", "call_to_action": {"kind": "like"},
                                                        "paid_broadcast": True})  # fmt: skip
    assert created.status_code == 201, created.text
    assert created.json()["paid_broadcast"] is True
    detail = (await web.client.get(f"/api/posts/{created.json()['id']}")).json()
    assert detail["paid_broadcast"] is True
    wrong = await web.client.post("/api/posts", json={"title": "Storing", "paid_broadcast": "maybe"})
    assert wrong.status_code == 422
    assert [e["loc"] for e in wrong.json()["detail"]] == [["body", "paid_broadcast"]]
