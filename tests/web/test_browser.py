"""The dashboard in a real browser: Debian's Chromium, headless, driven by Playwright.

Sign in, compose a poll, see it previewed per platform, publish it, see it in the timeline, let
people react, see the counts and the chart, save a screenshot under test-artifacts/ (gitignored);
a form posted without the CSRF token is refused.

Chromium comes from the system (``apt-get install chromium``), never from ``playwright install``.
Without it the test fails in CI and is skipped, saying why, elsewhere.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.base import UserRef
from bot.app import App
from bot.clock import FrozenClock
from bot.services.engagement import Request
from tests.conftest import REPO, unavailable
from tests.web.conftest import TOKEN, LiveServer

CHROMIUM = Path(os.environ.get("PRIKBORD_TEST_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _unavailable(reason: str) -> None:
    unavailable(
        f"{reason}: .ci/run must install it (apt-get install -y chromium; pip install playwright)",
        f"{reason} (CI installs it)",
    )


@pytest.fixture
def page(live_server: LiveServer) -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed")
    if not CHROMIUM.exists():
        _unavailable(f"no Chromium at {CHROMIUM}")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
        try:
            yield context.new_page()
        finally:
            context.close()
            browser.close()


async def _reactions(app: App, post_id: int) -> None:
    for platform, user, action in [
        ("console", "anna", "vote:1"),
        ("console", "bram", "vote:1"),
        ("console", "carla", "vote:2"),
        ("console", "dirk", "like"),
        ("slack", "U01", "vote:3"),
    ]:
        await app.engagement.submit(Request(platform, None, UserRef(platform, user, user), action, post_id=post_id))
    await app.settle()


async def _post_count(app: App) -> int:
    from content import posts

    async with app.store.sessions() as session:
        return len(await posts.recent_posts(session))


def test_compose_preview_publish_and_watch_the_reactions(page: Any, live_server: LiveServer) -> None:
    from playwright.sync_api import expect

    page.goto("/")
    expect(page).to_have_url(f"{live_server.url}/login")
    page.fill("#token", TOKEN)
    page.click("button[type=submit]")
    expect(page.locator("h2", has_text="Timeline")).to_be_visible()

    page.click("nav >> text=Compose")
    page.fill("input[name=title]", "Lunch vrijdag")
    page.fill("textarea[name=body]", "Wat **eten** we?\n\n- iets warms\n- of koud")
    page.select_option("select[name=cta]", "poll")
    page.fill("textarea[name=options]", "Pizza\nSushi\nSalade")
    page.click("button[value=preview]")

    previews = page.locator(".previews")
    expect(previews.locator("[data-platform=telegram] .bubble b", has_text="eten")).to_be_visible()
    expect(previews.locator("[data-platform=telegram] .button", has_text="Pizza · 0")).to_be_visible()
    expect(previews.locator("[data-platform=slack] .button", has_text="Sushi (0)")).to_be_visible()
    expect(previews.locator("[data-platform=matrix] .bubble")).to_contain_text("React with: 1️⃣ Pizza (0)")
    expect(previews.locator("[data-platform=matrix] .bubble li", has_text="iets warms")).to_be_visible()
    expect(previews.locator("[data-platform=console] pre")).to_contain_text("[vote:3] Salade (0)")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard-compose-preview.png"), full_page=True)
    assert live_server.call(_post_count) == 0  # previewing stores nothing

    page.click("button[value=publish]")
    expect(page.locator(".notice")).to_have_text("Post #1 was created.")
    row = page.locator("tr#post-1")
    expect(row).to_contain_text("Lunch vrijdag")
    expect(row.locator(".state")).to_have_text("published")

    live_server.call(lambda app: _reactions(app, 1))
    page.reload()
    row = page.locator("tr#post-1")
    expect(row.locator(".pill.k-vote")).to_have_text("vote 4")
    expect(row.locator(".pill.k-like")).to_have_text("like 1")
    expect(row.locator(".reach")).to_have_text("5")
    expect(row.locator(".platforms")).to_contain_text("slack 1/1")
    today = page.locator("svg.chart g.day").last
    expect(today).to_have_attribute("data-total", "5")
    bars = today.locator("rect.bar")
    expect(bars).to_have_count(2)  # votes and likes, stacked
    assert all(bars.nth(i).bounding_box()["height"] > 10 for i in range(2))
    page.screenshot(path=str(ARTIFACTS / "dashboard-timeline.png"), full_page=True)

    page.click("tr#post-1 >> text=Lunch vrijdag")
    expect(page.locator("tr[data-option=Pizza] progress")).to_have_attribute("value", "2")
    expect(page.locator("tr[data-platform=slack]")).to_contain_text("100%")
    page.screenshot(path=str(ARTIFACTS / "dashboard-post.png"), full_page=True)

    # The browser carries the session cookie, but a form without the page's CSRF token is refused.
    forged = page.request.post(
        "/compose", form={"title": "Forged", "cta": "like", "action": "publish"}, max_redirects=0
    )
    assert forged.status == 403 and "CSRF" in forged.text()
    assert live_server.call(_post_count) == 1

    # Edited from the post page: the title changes, the votes stay (the options are kept once people voted).
    page.goto("/posts/1")
    page.click("details.edit summary")
    page.fill(".edit-form input[name=title]", "Lunch vrijdag (verplaatst)")
    page.click(".edit-form button[type=submit]")
    expect(page.locator("h1")).to_contain_text("Lunch vrijdag (verplaatst)")
    expect(page.locator("details.edit summary")).to_contain_text("edited 1×")
    expect(page.locator("tr[data-option=Pizza] progress")).to_have_attribute("value", "2")


PHONE = {"width": 390, "height": 844}
BODY = (
    "Vanaf **januari** geldt de *nieuwe* regeling: lees [HR](https://hr.example.org/verlof).\n\n"
    "- meer flexibiliteit\n- aanvragen_via_het_portaal_dat_nog_een_heel_lange_naam_zonder_spaties_heeft\n\n"
    "<script>document.title = 'pwned'</script>"
)


async def _phone_posts(app: App) -> None:
    from bot.services.drafts import CallToAction, PostDraft
    from bot.services.roles import Role
    from content.models import CtaKind

    ack = CallToAction(CtaKind.ACKNOWLEDGE)
    await app.publishing.create(PostDraft(title="Nieuwe verlofregeling", body=BODY, cta=ack), "console:mod", Role.ADMIN)
    poll = CallToAction(CtaKind.POLL, ("Pizza", "Sushi", "Salade"))
    await app.publishing.create(
        PostDraft(
            title="Lunch vrijdag met een titel die op een telefoon niet op één regel past",
            body="Wat eten we?",
            cta=poll,
        ),
        "console:mod",
        Role.ADMIN,
        review=True,  # pending: approve and reject buttons in the timeline
    )
    await app.settle()


def _overflow(page: Any) -> int:
    """How far the page sticks out sideways (0: it fits the viewport)."""
    return int(page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth"))


def test_the_timeline_fits_a_phone_and_bodies_show_their_markdown(page: Any, live_server: LiveServer) -> None:
    from playwright.sync_api import expect

    live_server.call(_phone_posts)
    page.set_viewport_size(PHONE)
    page.goto("/login")
    page.fill("#token", TOKEN)
    page.click("button[type=submit]")
    expect(page.locator("tr#post-2")).to_be_visible()
    # The logo is a drawing, not an emoji that needs a font.
    assert page.locator("header .brand svg.logo").bounding_box()["width"] > 10
    assert "📌" not in page.locator("header .brand").inner_text()

    assert _overflow(page) == 0, "the timeline is wider than a 390 px phone"
    for selector in ("tr#post-1", "tr#post-2", "tr#post-2 .moderate", "header.top"):
        box = page.locator(selector).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"] + 0.5, (selector, box)
    expect(page.locator("tr#post-2 button.approve")).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard-timeline-phone.png"), full_page=True)

    # Approve from the timeline: back on the timeline, the post scheduled or published.
    page.click("tr#post-2 button.approve")
    expect(page).to_have_url(f"{live_server.url}/#post-2")
    expect(page.locator("tr#post-2 .state")).not_to_have_text("pending")
    expect(page.locator("tr#post-2 .moderate")).to_have_count(0)

    page.click("tr#post-1 >> text=Nieuwe verlofregeling")
    body = page.locator(".body.markdown")
    expect(body.locator("strong", has_text="januari")).to_be_visible()
    expect(body.locator("em", has_text="nieuwe")).to_be_visible()
    expect(body.locator("a", has_text="HR")).to_have_attribute("href", "https://hr.example.org/verlof")
    expect(body.locator("li")).to_have_count(2)
    assert "**" not in body.inner_text() and "[HR]" not in body.inner_text()
    expect(body).to_contain_text("<script>")  # shown as text, never run
    assert page.title() != "pwned"
    assert _overflow(page) == 0, "the post page is wider than a 390 px phone"
    page.screenshot(path=str(ARTIFACTS / "dashboard-post-phone.png"), full_page=True)

    page.goto("/search?q=januari")
    hit = page.locator("ol.hits li").first
    expect(hit.locator(".snippet strong mark", has_text="januari")).to_be_visible()
    assert "**" not in hit.inner_text()
    assert _overflow(page) == 0


async def _must_read_with_people(app: App) -> int:
    from bot.services.drafts import CallToAction, PostDraft
    from bot.services.roles import Role
    from content.models import CtaKind
    from tests.web.test_audience_views import members

    assert isinstance(app.clock, FrozenClock)
    await members(app, app.clock)
    created = await app.publishing.create(
        PostDraft(title="Nieuwe verlofregeling", body=BODY, cta=CallToAction(CtaKind.ACKNOWLEDGE)),
        "console:mod",
        Role.ADMIN,
    )
    await app.settle()
    for platform, user in (("console", "anna"), ("slack", "U01")):
        await app.engagement.submit(Request(platform, None, UserRef(platform, user, user), "ack", post_id=created.id))
    await app.settle()
    return int(created.id)


def test_the_post_page_shows_who_has_not_acknowledged_and_the_segments(page: Any, live_server: LiveServer) -> None:
    from playwright.sync_api import expect

    post_id = live_server.call(_must_read_with_people)
    page.set_viewport_size(PHONE)
    page.goto("/login")
    page.fill("#token", TOKEN)
    page.click("button[type=submit]")
    page.goto(f"/posts/{post_id}")

    missing = page.locator("section.missing")
    expect(missing.locator("h2")).to_contain_text("Who has not acknowledged")
    expect(missing.locator("h2")).to_contain_text("3 of 5 known by name")
    expect(missing.locator("tbody tr")).to_have_count(3)
    expect(missing.locator("tbody tr").first).to_contain_text("Bram")
    expect(missing.locator("tbody tr").first).to_contain_text("Sales")
    expect(page.locator("dd.reach")).to_have_text("5")
    sales = page.locator('table.segment[data-attribute="department"] tr[data-value="Sales"]')
    expect(sales).to_contain_text("1/2")
    assert _overflow(page) == 0, "the who-has-not list is wider than a 390 px phone"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard-post-missing-phone.png"), full_page=True)

    with page.expect_download() as download:
        missing.locator("a", has_text="As CSV").click()
    saved = Path(download.value.path()).read_text(encoding="utf-8")
    assert [line.split(",")[1] for line in saved.splitlines()[1:]] == ["Bram", "Carla", "U02"]


async def _must_read_to_support(app: App) -> int:
    """``to: department=support`` after :func:`_must_read_with_people`: Carla's console copy goes, U01's
    cannot (the stand-in Slack opens no DM)."""
    from bot.services.drafts import CallToAction, PostDraft
    from bot.services.roles import Role
    from content.models import CtaKind

    draft = PostDraft(title="Alleen Support", cta=CallToAction(CtaKind.ACKNOWLEDGE), audience=("department=support",))
    created = await app.publishing.create(draft, "console:mod", Role.ADMIN)
    await app.settle()
    return int(created.id)


def test_the_post_page_of_a_post_to_people_shows_who_was_not_reached_privately(
    page: Any, live_server: LiveServer
) -> None:
    from playwright.sync_api import expect

    live_server.call(_must_read_with_people)
    post_id = live_server.call(_must_read_to_support)
    page.goto("/login")
    page.fill("#token", TOKEN)
    page.click("button[type=submit]")
    page.goto(f"/posts/{post_id}")

    unreachable = page.locator("section.unreachable")
    expect(unreachable.locator("h2")).to_contain_text("Not reached privately (1)")
    expect(unreachable.locator("tbody tr")).to_have_count(1)
    expect(unreachable.locator("tbody tr").first).to_contain_text("slack")
    expect(page.locator("dd.reach")).to_have_text("1")
