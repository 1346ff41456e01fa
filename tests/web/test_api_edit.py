"""``PATCH /api/posts/{id}`` (issue 15): an edit goes into every copy in place and keeps the counts; bad
input and refused edits are 422s naming the field; unknown posts 404, retracted ones 409; the token is needed."""

from __future__ import annotations

from typing import Any

from adapters.markup import render_plain
from tests.web.conftest import WebHarness

POLL = {"title": "Lunch", "body": "Wat eten we?", "call_to_action": {"kind": "poll", "options": ["Pizza", "Sushi"]}}


async def _published(web: WebHarness, body: dict[str, Any]) -> int:
    response = await web.client.post("/api/posts", json=body)
    assert response.status_code == 201, response.text
    await web.app.settle()
    return int(response.json()["id"])


def _locs(response: Any) -> list[list[Any]]:
    assert response.status_code == 422, response.text
    return [e["loc"] for e in response.json()["detail"]]


async def test_patch_edits_every_copy_and_keeps_the_counts(web: WebHarness) -> None:
    post_id = await _published(web, POLL)
    edited = await web.client.patch(
        f"/api/posts/{post_id}",
        json={"body": "Wat eten we vrijdag?", "call_to_action": {"kind": "poll", "options": ["Pizza", "Pasta"]}},
    )
    assert edited.status_code == 200, edited.text
    detail = edited.json()
    assert (detail["body"], detail["revision"], detail["call_to_action"]["options"]) == (
        "Wat eten we vrijdag?",
        1,
        ["Pizza", "Pasta"],
    )
    await web.app.settle()
    slack_copy = next(iter(web.slack.sent.values()))
    assert "vrijdag" in render_plain(slack_copy.markup)
    assert [a.label for a in slack_copy.actions if a.action_id.startswith("vote")][:2] == ["Pizza", "Pasta"]
    console_copy = web.app.adapters["console"].messages["m1"]  # type: ignore[attr-defined]
    assert "vrijdag" in console_copy

    assert await web.react(post_id, "anna", "vote:2") == "vote for Pasta counted (#1)"
    again = await web.client.patch(f"/api/posts/{post_id}", json={"title": "Lunch!"})
    assert again.status_code == 200 and again.json()["counts"] == {"vote": 1}
    audit = (await web.client.get("/api/audit", params={"post_id": post_id})).json()
    edits = [e for e in audit if e["action"] == "edit"]
    assert len(edits) == 2
    assert edits[-1]["detail"]["old"]["body"] == "Wat eten we?"
    assert edits[-1]["detail"]["new"]["options"] == ["Pizza", "Pasta"]


async def test_field_level_422s(web: WebHarness) -> None:
    post_id = await _published(web, POLL)
    assert _locs(await web.client.patch(f"/api/posts/{post_id}", json={})) == [["body"]]
    assert _locs(await web.client.patch(f"/api/posts/{post_id}", json={"title": "  "})) == [["body", "title"]]
    assert _locs(await web.client.patch(f"/api/posts/{post_id}", json={"title": "x" * 301})) == [["body", "title"]]
    assert _locs(await web.client.patch(f"/api/posts/{post_id}", json={"colour": "red"})) == [["body", "colour"]]
    kind = await web.client.patch(f"/api/posts/{post_id}", json={"call_to_action": {"kind": "acknowledge"}})
    assert _locs(kind) == [["body", "call_to_action", "kind"]]
    assert "cannot change that to acknowledge" in kind.json()["detail"][0]["msg"]
    one = await web.client.patch(f"/api/posts/{post_id}", json={"call_to_action": {"kind": "poll", "options": ["A"]}})
    assert _locs(one) == [["body", "call_to_action", "options"]]

    await web.react(post_id, "anna", "vote:1")
    voted = await web.client.patch(
        f"/api/posts/{post_id}", json={"call_to_action": {"kind": "poll", "options": ["Pizza", "Pasta"]}}
    )
    assert _locs(voted) == [["body", "call_to_action", "options"]]
    same = await web.client.patch(f"/api/posts/{post_id}", json={"title": "Lunch"})
    assert _locs(same) == [["body", "body"]]  # nothing would change
    detail = (await web.client.get(f"/api/posts/{post_id}")).json()
    assert (detail["revision"], detail["call_to_action"]["options"]) == (0, ["Pizza", "Sushi"])


async def test_unknown_retracted_and_unauthorised(web: WebHarness) -> None:
    assert (await web.client.patch("/api/posts/99", json={"title": "x"})).status_code == 404
    post_id = await _published(web, POLL)
    assert (await web.client.post(f"/api/posts/{post_id}/retract")).status_code == 200
    assert (await web.client.patch(f"/api/posts/{post_id}", json={"title": "x"})).status_code == 409
    async with web.browser() as anonymous:
        assert (await anonymous.patch(f"/api/posts/{post_id}", json={"title": "x"})).status_code == 401
