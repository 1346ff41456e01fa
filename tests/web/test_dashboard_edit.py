"""The post page's edit form (issue 15): CSRF-protected like every form, an edit goes into the chats,
options stay once someone voted, and a bad edit is an error page that says why."""

from __future__ import annotations

from adapters.markup import render_plain
from tests.web.conftest import Admin, WebHarness, csrf_of

POLL = {"title": "Lunch", "body": "Wat eten we?", "call_to_action": {"kind": "poll", "options": ["Pizza", "Sushi"]}}


async def test_the_edit_form_updates_the_post_and_its_copies(web: WebHarness, admin: Admin) -> None:
    await web.client.post("/api/posts", json=POLL)
    await web.app.settle()
    browser, _ = admin
    page = (await browser.get("/posts/1")).text
    assert 'action="/posts/1/edit"' in page and 'name="options"' in page
    csrf = csrf_of(page)
    form = {"title": "Lunch vrijdag", "body": "Wat eten we vrijdag?", "options": "Pizza\nPasta"}
    forged = await browser.post("/posts/1/edit", data=form)
    assert forged.status_code == 403 and "CSRF" in forged.text

    saved = await browser.post("/posts/1/edit", data={**form, "csrf": csrf})
    assert saved.status_code == 303 and saved.headers["location"] == "/posts/1"
    await web.app.settle()
    detail = (await web.client.get("/api/posts/1")).json()
    assert (detail["title"], detail["revision"], detail["call_to_action"]["options"]) == (
        "Lunch vrijdag",
        1,
        ["Pizza", "Pasta"],
    )
    assert "vrijdag" in render_plain(next(iter(web.slack.sent.values())).markup)
    assert "edited 1×" in (await browser.get("/posts/1")).text

    await web.react(1, "anna", "vote:1")
    refused = await browser.post("/posts/1/edit", data={"csrf": csrf, "options": "Sushi\nSalade"})
    assert refused.status_code == 422 and "#1 already has answers (1)" in refused.text
    blank = await browser.post("/posts/1/edit", data={"csrf": csrf, "title": "x" * 400})
    assert blank.status_code == 422 and "title" in blank.text
    assert (await web.client.get("/api/posts/1")).json()["call_to_action"]["options"] == ["Pizza", "Pasta"]
