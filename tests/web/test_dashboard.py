"""The dashboard over HTTP (the browser test drives the same pages in Chromium): sign-in, CSRF on
every form, compose with a per-platform preview, the timeline, one post, channels, search."""

from __future__ import annotations

import re

import pytest

from tests.web.conftest import TOKEN, Admin, WebHarness, csrf_of

POLL_FORM = {
    "title": "Lunch vrijdag",
    "body": "Wat **eten** we? <script>alert(1)</script>",
    "kind": "news",
    "cta": "poll",
    "options": "Pizza\nSushi\nSalade",
    "to": "everyone",
}


async def test_pages_need_signing_in(web: WebHarness) -> None:
    async with web.browser() as browser:
        for path in ("/", "/compose", "/channels", "/posts/1", "/search?q=x"):
            response = await browser.get(path)
            assert response.status_code == 303 and response.headers["location"] == "/login", path
        page = await browser.get("/login")
        wrong = await browser.post("/login", data={"csrf": csrf_of(page.text), "token": "guess"})
        assert wrong.status_code == 401 and "not the admin token" in wrong.text
        assert (await browser.get("/")).status_code == 303


async def test_every_form_needs_the_csrf_token(web: WebHarness, admin: Admin) -> None:
    browser, csrf = admin
    for path, form in [
        ("/compose", {**POLL_FORM, "action": "publish"}),
        ("/channels/1/disable", {}),
        ("/posts/1/retract", {}),
        ("/logout", {}),
    ]:
        missing = await browser.post(path, data=form)
        assert missing.status_code == 403 and "CSRF" in missing.text, path
        # Change the first character to one it is not, so the forgery always differs.
        forged_token = ("y" if csrf[0] == "x" else "x") + csrf[1:]
        forged = await browser.post(path, data={**form, "csrf": forged_token})
        assert forged.status_code == 403, path
    assert (await web.client.get("/api/posts")).json() == []  # nothing was published
    # The login form is protected too: no session cookie, no sign-in.
    async with web.browser() as stranger:
        assert (await stranger.post("/login", data={"token": TOKEN, "csrf": csrf})).status_code == 403


async def test_compose_preview_publish_and_timeline(web: WebHarness, admin: Admin) -> None:
    browser, csrf = admin
    preview = await browser.post("/compose", data={**POLL_FORM, "csrf": csrf, "action": "preview"})
    assert preview.status_code == 200
    html = preview.text
    for platform in ("console", "telegram", "slack", "matrix"):
        assert f'data-platform="{platform}"' in html
    assert "<b>eten</b>" in html  # Telegram's and Slack's bold
    assert "<strong>eten</strong>" in html  # Matrix's
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    assert "1️⃣ Pizza (0)" in html  # Matrix asks for reactions
    assert (await web.client.get("/api/posts")).json() == []  # a preview stores nothing

    bad = await browser.post("/compose", data={**POLL_FORM, "options": "Pizza", "csrf": csrf, "action": "publish"})
    assert bad.status_code == 422 and "options: a poll needs 2 to 10 options" in bad.text
    assert 'value="Lunch vrijdag"' in bad.text  # what was typed is kept

    published = await browser.post("/compose", data={**POLL_FORM, "csrf": csrf, "action": "publish"})
    assert published.status_code == 303 and published.headers["location"] == "/?created=1"
    await web.app.settle()
    await web.react(1, "anna", "vote:1")
    await web.react(1, "U01", "vote:2", platform="slack")
    timeline = (await browser.get("/?created=1")).text
    assert "Post #1 was created." in timeline
    row = re.search(r'<tr id="post-1".*?</tr>', timeline, re.S)
    assert row and "Lunch vrijdag" in row.group(0) and 'class="num reach">2<' in row.group(0)
    assert "<strong>console</strong> 1/1" in row.group(0) and "<strong>slack</strong> 1/1" in row.group(0)
    assert re.search(r'<g class="day" data-day="2026-11-30" data-total="2">', timeline)

    page = (await browser.get("/posts/1")).text
    assert 'data-option="Pizza"' in page and 'data-platform="slack"' in page
    assert '<rect class="bar k-vote" data-kind="vote" data-count="2"' in page
    export = await browser.get("/posts/1/responses.csv")
    assert export.status_code == 200 and export.text.count("\n") == 3  # the header and two votes
    async with web.browser() as stranger:
        assert (await stranger.get("/posts/1/responses.csv")).status_code == 303


async def test_scheduled_review_post_is_approved_from_its_page(web: WebHarness, admin: Admin) -> None:
    browser, csrf = admin
    form = {"title": "Open dag", "cta": "rsvp", "to": "nl", "review": "on", "publish_at": "2026-12-01T08:30"}
    created = await browser.post("/compose", data={**form, "csrf": csrf, "action": "publish"})
    assert created.status_code == 303
    post = (await web.client.get("/api/posts/1")).json()
    assert post["state"] == "pending" and post["publish_at"] == "2026-12-01T07:30:00Z"  # Amsterdam time
    assert (await browser.post("/posts/1/approve", data={"csrf": csrf})).status_code == 303
    assert (await web.client.get("/api/posts/1")).json()["state"] == "scheduled"
    conflict = await browser.post("/posts/1/approve", data={"csrf": csrf})
    assert conflict.status_code == 409 and "not waiting for approval" in conflict.text


async def test_must_reads_have_progress_bars(web: WebHarness, admin: Admin) -> None:
    browser, csrf = admin
    form = {"title": "Nieuwe verlofregeling", "cta": "acknowledge", "deadline": "2026-12-05T17:00"}
    await browser.post("/compose", data={**form, "csrf": csrf, "action": "publish"})
    await web.app.settle()
    for person in ("anna", "bram", "carla"):
        await web.react(1, person, "like")
    await web.react(1, "anna", "ack")
    section = re.search(r'<section class="card" id="must-reads">.*?</section>', (await browser.get("/")).text, re.S)
    assert section and '<progress max="3" value="1" aria-label="read by">' in section.group(0)


async def test_channels_page_switches_a_channel(web: WebHarness, admin: Admin) -> None:
    browser, csrf = admin
    page = (await browser.get("/channels")).text
    assert 'data-channel="general"' in page
    channel_id = re.search(r'action="/channels/(\d+)/disable"', page)
    assert channel_id
    switched = await browser.post(f"/channels/{channel_id.group(1)}/disable", data={"csrf": csrf, "reason": "x"})
    assert switched.status_code == 303
    assert "disabled" in (await browser.get("/channels")).text


@pytest.mark.parametrize("query", ["wachtwoord", "wachtwoord <b>"])
async def test_search_page_marks_matches_and_escapes_input(web: WebHarness, admin: Admin, query: str) -> None:
    await web.client.post(
        "/api/posts", json={"title": "Wifi", "body": "Het wachtwoord <i>staat</i> hier.", "kind": "kb"}
    )
    browser, _ = admin
    page = (await browser.get("/search", params={"q": query})).text
    if query == "wachtwoord":
        assert "<mark>wachtwoord</mark>" in page
    else:
        assert "Nothing found for “wachtwoord &lt;b&gt;”" in page
    assert "<i>staat</i>" not in page and "<b>" not in page


async def test_sign_out(web: WebHarness, admin: Admin) -> None:
    browser, csrf = admin
    out = await browser.post("/logout", data={"csrf": csrf})
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert (await browser.get("/")).status_code == 303


def _row(page: str, post_id: int) -> str:
    found = re.search(rf'<tr id="post-{post_id}".*?</tr>', page, re.S)
    assert found, f"the timeline has no row for #{post_id}"
    return found.group(0)


def _form_fields(form_html: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="([a-z]+)" value="([^"]*)"', form_html))


async def test_pending_posts_are_approved_and_rejected_from_the_timeline(web: WebHarness, admin: Admin) -> None:
    browser, csrf = admin
    for title in ("Open dag", "Borrel"):
        form = {"title": title, "cta": "rsvp", "to": "nl", "review": "on"}
        assert (await browser.post("/compose", data={**form, "csrf": csrf, "action": "publish"})).status_code == 303
    published = {"title": "Koffie", "cta": "like", "to": "nl"}
    await browser.post("/compose", data={**published, "csrf": csrf, "action": "publish"})
    await web.app.settle()

    timeline = (await browser.get("/")).text
    assert "/posts/3/approve" not in _row(timeline, 3)  # published: nothing to moderate
    forms = {}
    for post_id in (1, 2):
        row = _row(timeline, post_id)
        for action in ("approve", "reject"):
            form = re.search(rf'<form method="post" action="/posts/{post_id}/{action}">.*?</form>', row, re.S)
            assert form, f"no {action} form in the timeline row of #{post_id}"
            forms[post_id, action] = _form_fields(form.group(0))
    assert all(f == {"csrf": csrf, "back": "timeline"} for f in forms.values())

    # Without the page's CSRF token the same form is refused and changes nothing.
    forged = await browser.post("/posts/1/approve", data={**forms[1, "approve"], "csrf": "forged"})
    assert forged.status_code == 403
    assert (await web.client.get("/api/posts/1")).json()["state"] == "pending"

    approved = await browser.post("/posts/1/approve", data=forms[1, "approve"])
    assert approved.status_code == 303 and approved.headers["location"] == "/#post-1"
    rejected = await browser.post("/posts/2/reject", data={**forms[2, "reject"], "reason": "dubbel"})
    assert rejected.status_code == 303 and rejected.headers["location"] == "/#post-2"
    await web.app.settle()

    first, second = (await web.client.get("/api/posts/1")).json(), (await web.client.get("/api/posts/2")).json()
    assert first["state"] == "published" and second["state"] == "rejected" and second["reject_reason"] == "dubbel"
    timeline = (await browser.get("/")).text
    assert "/approve" not in _row(timeline, 1) + _row(timeline, 2)  # moderated: the buttons are gone
    assert 's-published">published' in _row(timeline, 1) and 's-rejected">rejected' in _row(timeline, 2)
    # From the post page the same endpoint still returns to the post.
    again = await browser.post("/posts/1/retract", data={"csrf": csrf})
    assert again.status_code == 303 and again.headers["location"] == "/posts/1"


async def test_post_pages_and_search_render_the_body_markdown_sanitised(web: WebHarness, admin: Admin) -> None:
    body = "Vanaf **januari** geldt [HR](https://hr.example.org) en [dit](javascript:alert(1)).\n\n"
    body += "- een\n- twee <b>vet</b>"
    await web.client.post("/api/posts", json={"title": "Verlof", "body": body, "kind": "kb"})
    browser, _ = admin
    page = (await browser.get("/posts/1")).text
    shown = re.search(r'<div class="body markdown">(.*?)</div>', page, re.S)
    assert shown, "the post page shows no body"
    html = shown.group(1)
    assert (
        "<strong>januari</strong>" in html
        and '<a href="https://hr.example.org" rel="noopener noreferrer nofollow">HR</a>' in html
    )
    assert "<ul><li><p>een</p></li>" in html and "&lt;b&gt;vet&lt;/b&gt;" in html
    assert "**" not in html and "javascript:" not in html.replace("[dit](javascript:alert(1))", "")
    assert '<a href="javascript' not in html

    hits = (await browser.get("/search", params={"q": "januari"})).text
    snippet = re.search(r'<div class="snippet markdown">(.*?)</div>', hits, re.S)
    assert snippet and "<strong><mark>januari</mark></strong>" in snippet.group(1) and "**" not in snippet.group(1)
