"""Channels, responses and their CSV export, the employee directory, the audit log and search."""

from __future__ import annotations

import csv
import io

from adapters.base import UserRef
from bot.services.engagement import Request
from tests.web.conftest import WebHarness

FORMULA = '=HYPERLINK("http://evil.example")'


async def _poll(web: WebHarness) -> int:
    response = await web.client.post(
        "/api/posts",
        json={
            "title": "Lunch",
            "body": "Wat eten we?",
            "call_to_action": {"kind": "poll", "options": ["Pizza", "Sushi"]},
        },
    )
    assert response.status_code == 201
    await web.app.settle()
    return int(response.json()["id"])


async def test_channels_disable_and_enable(web: WebHarness) -> None:
    channels = (await web.client.get("/api/channels")).json()
    general = next(c for c in channels if c["name"] == "general")
    assert general["platform"] == "slack" and general["enabled"] and general["tags"] == ["everyone", "nl"]

    off = await web.client.post(f"/api/channels/{general['id']}/disable", json={"reason": "migrating workspace"})
    assert off.json()["enabled"] is False and off.json()["disabled_reason"] == "migrating workspace"
    post_id = await _poll(web)
    detail = (await web.client.get(f"/api/posts/{post_id}")).json()
    assert [c["platform"] for c in detail["channels"]] == ["console"]  # nothing more goes to a disabled channel

    on = await web.client.post(f"/api/channels/{general['id']}/enable")
    assert on.json()["enabled"] is True and on.json()["disabled_reason"] is None
    assert (await web.client.post("/api/channels/999/enable")).status_code == 404
    actions = [e["action"] for e in (await web.client.get("/api/audit")).json()]
    assert actions[:2] == ["channel_enabled", "create"] and "channel_disabled" in actions


async def test_responses_list_and_csv_export(web: WebHarness) -> None:
    post_id = await _poll(web)
    await web.react(post_id, "anna", "vote:1")
    await web.react(post_id, "bram", "like")
    reply = Request("console", None, UserRef("console", "carla", "Carla"), "reply", post_id=post_id, text=FORMULA)
    await web.app.engagement.submit(reply)
    listed = (await web.client.get("/api/responses", params={"post_id": post_id})).json()
    assert [(r["kind"], r["value"], r["identity"]) for r in listed] == [
        ("vote", "Pizza", "console:anna"),
        ("like", None, "console:bram"),
        ("reply", None, "console:carla"),
    ]
    assert len((await web.client.get("/api/responses", params={"kind": "like"})).json()) == 1

    export = await web.client.get("/api/responses.csv", params={"post_id": post_id})
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    assert 'filename="responses-post-1.csv"' in export.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert [(r["kind"], r["employee_name"], r["post_title"]) for r in rows] == [
        ("vote", "Anna", "Lunch"),
        ("like", "Bram", "Lunch"),
        ("reply", "Carla", "Lunch"),
    ]
    assert rows[2]["text"] == "'" + FORMULA  # a spreadsheet shows it, never runs it


async def test_employee_directory_links_identities(web: WebHarness) -> None:
    post_id = await _poll(web)
    await web.react(post_id, "anna", "vote:1")  # seen on the console before the directory arrives
    await web.react(post_id, "U01", "vote:2", platform="slack")  # the same Anna on Slack
    before = (await web.client.get(f"/api/posts/{post_id}")).json()
    assert before["engaged"] == 2

    directory = (
        "name,email,department,identities\n"
        "Anna de Vries,Anna@Example.org,HR,console:anna;slack:U01\n"
        "Bram Bakker,bram@example.org,IT,telegram:123\n"
        ",nobody@example.org,IT,\n"
        "Carla,carla@example.org,IT,fax:1\n"
    )
    imported = await web.client.post("/api/employees/import", content=directory, headers={"content-type": "text/csv"})
    assert imported.status_code == 200, imported.text
    result = imported.json()
    assert (result["created"], result["updated"], result["identities_linked"]) == (1, 1, 2)
    assert result["failed"] == [
        {"line": 4, "reason": "name is empty"},
        {"line": 5, "reason": "unknown platform 'fax' in 'fax:1' (one of console, telegram, slack, matrix)"},
    ]
    after = (await web.client.get(f"/api/posts/{post_id}")).json()
    assert after["engaged"] == 1 and after["counts"] == {"vote": 1}  # one person now, latest vote of hers
    employees = {e["name"]: e for e in (await web.client.get("/api/employees")).json()}
    assert employees["Anna de Vries"]["identities"] == ["console:anna", "slack:U01"]
    assert employees["Anna de Vries"]["email"] == "anna@example.org"
    assert employees["Bram Bakker"]["identities"] == ["telegram:123"]

    again = await web.client.post("/api/employees/import", json={"csv": directory})
    # Idempotent: the same file again changes nothing, and the report says so.
    assert (again.json()["created"], again.json()["updated"], again.json()["unchanged"]) == (0, 0, 2)


async def test_employee_import_refuses_what_it_cannot_read(web: WebHarness) -> None:
    no_header = await web.client.post("/api/employees/import", json={"csv": "anna,anna@example.org\n"})
    assert no_header.status_code == 422 and "name" in no_header.json()["detail"][0]["msg"]
    not_utf8 = await web.client.post(
        "/api/employees/import", content=b"name\n\xff\xfe", headers={"content-type": "text/csv"}
    )
    assert not_utf8.status_code == 422
    wrong_shape = await web.client.post("/api/employees/import", json={"rows": []})
    assert wrong_shape.status_code == 422


async def test_search_endpoint(web: WebHarness) -> None:
    for title, body, kind in [
        ("Nieuwe verlofregeling", "Vanaf januari geldt de nieuwe regeling.", "news"),
        ("Wifi voor gasten", "Het wachtwoord ligt bij de receptie.", "kb"),
        ("Team meetings", "All meetings move to Tuesday.", "news"),
    ]:
        assert (
            await web.client.post("/api/posts", json={"title": title, "body": body, "kind": kind})
        ).status_code == 201
    hits = (await web.client.get("/api/search", params={"q": "wachtwoord"})).json()
    assert [(h["title"], h["kind"]) for h in hits] == [("Wifi voor gasten", "kb")]
    assert "**wachtwoord**" in hits[0]["snippet"]
    assert [h["title"] for h in (await web.client.get("/api/search", params={"q": "meeting"})).json()] == [
        "Team meetings"
    ]
    assert (await web.client.get("/api/search", params={"q": "meeting", "kind": "kb"})).json() == []
    assert (await web.client.get("/api/search", params={"q": ""})).status_code == 422
