"""Status posts: live values from an HTTP JSON source on loopback, a CSV file and a static value,
rendered in the sandbox, posted once per cron firing; failing sources follow on_error."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bot.clock import FrozenClock
from content.db import Store
from content.models import PostKind, PostState
from scheduler.template import TemplateFailure, Unavailable, render
from tests.scheduler.conftest import settings, start_harness

MONDAY_0829 = datetime(2026, 11, 30, 7, 29, tzinfo=UTC)  # 08:29 in Amsterdam
FIRING = datetime(2026, 11, 30, 7, 30, tzinfo=UTC)
TOKEN = "Bearer s3cret-token"
TEMPLATE = """Dagstart {{ now.strftime('%d-%m') }}
Aan het werk: **{{ at_work }}** collega's, eerste binnen: {{ first }}.
Aanwezig volgens rooster: {{ present }} ({{ hours }} uur). {{ motto }}"""


@pytest.fixture
async def hr_server() -> AsyncIterator[str]:
    """A tiny HR API on 127.0.0.1, port 0."""
    seen: list[str] = []

    async def today(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Authorization", ""))
        if request.headers.get("Authorization") != TOKEN:
            return web.json_response({"error": "unauthorized"}, status=401)
        return web.json_response({"data": {"count": 42}, "items": [{"name": "Anna"}, {"name": "Bram"}]})

    async def broken(request: web.Request) -> web.Response:
        return web.Response(status=503, text="down for maintenance")

    app = web.Application()
    app.router.add_get("/api/today", today)
    app.router.add_get("/api/broken", broken)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@pytest.fixture
def roster(tmp_path: Path) -> Path:
    path = tmp_path / "rooster.csv"
    path.write_text("naam,status,uren\nanna,aanwezig,8\nbram,afwezig,0\ncarla,aanwezig,6\n", encoding="utf-8")
    return path


def dagstart(base: str, roster: Path, **overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "name": "dagstart",
        "cron": "30 8 * * mon-fri",
        "timezone": "Europe/Amsterdam",
        "template": TEMPLATE,
        "cta": "like",
        "sources": {
            "at_work": {"url": f"{base}/api/today", "path": "data.count", "headers": {"Authorization": "env:HR_TOKEN"}},
            "first": {"url": f"{base}/api/today", "path": "items.0.name", "headers": {"Authorization": "env:HR_TOKEN"}},
            "present": {"type": "csv", "file": str(roster), "op": "count", "where": {"status": "aanwezig"}},
            "hours": {"type": "csv", "file": str(roster), "op": "sum", "column": "uren"},
            "motto": {"type": "static", "value": "Samen sterk!"},
        },
    }
    config.update(overrides)
    return config


async def test_a_status_post_gathers_http_json_and_csv_values_at_its_cron_time(
    store: Store, hr_server: str, roster: Path
) -> None:
    clock = FrozenClock(MONDAY_0829)
    h = await start_harness(store, clock, settings(status_posts=[dagstart(hr_server, roster)]), env={"HR_TOKEN": TOKEN})
    try:
        assert "status:dagstart" in await h.scheduler.job_ids()
        await h.tick()
        assert await h.posts() == []  # not before 08:30
        clock.set(FIRING)
        await h.tick()
        [post] = await h.posts()
        assert post.kind == PostKind.STATUS and post.state == PostState.PUBLISHED
        assert post.source == "status" and post.source_key == "status:dagstart:2026-11-30T07:30:00+00:00"
        assert post.title == "Dagstart 30-11"
        assert "Aan het werk: **42** collega's, eerste binnen: Anna." in post.body
        assert "Aanwezig volgens rooster: 2 (14 uur). Samen sterk!" in post.body
        assert post.cta_kind == "like"
        assert any("Dagstart 30-11" in m and "42" in m for m in h.console.messages.values())
        assert h.told() == []

        # The same firing again (a retry, a second instance): still one post.
        outcome = await h.status.run("dagstart", FIRING)
        assert outcome.state == "already" and len(await h.posts()) == 1
        # The next firing is the next weekday.
        clock.set(FIRING + timedelta(days=1))
        await h.tick()
        assert len(await h.posts()) == 2
    finally:
        await h.stop()


async def test_a_failing_source_with_on_error_post_shows_unavailable_and_tells_the_moderators(
    store: Store, hr_server: str, roster: Path
) -> None:
    config = dagstart(hr_server, roster, on_error="post")
    config["sources"]["at_work"] = {"url": f"{hr_server}/api/broken?key=hidden", "path": "data.count", "retries": 1}
    clock = FrozenClock(MONDAY_0829)  # the scheduler itself does not fire; the test runs the firing
    h = await start_harness(store, clock, settings(status_posts=[config]), env={"HR_TOKEN": TOKEN})
    try:
        outcome = await h.status.run("dagstart", FIRING)
        assert outcome.state == "posted"
        [post] = await h.posts()
        assert "Aan het werk: **unavailable** collega's, eerste binnen: Anna." in post.body
        [told] = h.told()
        assert f"went out as #{post.id}" in told and "source at_work" in told
        assert f"{hr_server}/api/broken answered HTTP 503 (2 attempts)" in told
        assert "hidden" not in told  # query strings may hold secrets
    finally:
        await h.stop()


async def test_a_failing_source_with_on_error_skip_posts_nothing_and_tells_the_moderators(
    store: Store, hr_server: str, roster: Path
) -> None:
    clock = FrozenClock(MONDAY_0829)  # the scheduler itself does not fire; the test runs the firing
    # No HR_TOKEN in the environment: the header cannot be built.
    h = await start_harness(store, clock, settings(status_posts=[dagstart(hr_server, roster, on_error="skip")]), env={})
    try:
        outcome = await h.status.run("dagstart", FIRING)
        assert outcome.state == "skipped" and await h.posts() == []
        [told] = h.told()
        assert "was skipped (on_error = skip)" in told
        assert "header Authorization needs the environment variable HR_TOKEN, which is not set" in told
    finally:
        await h.stop()


async def test_a_wrong_path_and_a_missing_column_say_what_is_there(store: Store, hr_server: str, roster: Path) -> None:
    config = dagstart(hr_server, roster)
    config["sources"]["at_work"]["path"] = "data.total"
    config["sources"]["hours"]["column"] = "hours"
    h = await start_harness(store, FrozenClock(MONDAY_0829), settings(status_posts=[config]), env={"HR_TOKEN": TOKEN})
    try:
        outcome = await h.status.render("dagstart", FIRING)
        assert outcome.failures == {
            "at_work": "path data.total: data has no key 'total' (keys: count)",
            "hours": "the CSV has no column 'hours' (columns: naam, status, uren)",
        }
    finally:
        await h.stop()


ESCAPES = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ motto.__class__.__base__ }}",
    "{{ cycler.__init__.__globals__.os }}",
    "{% set x = [] %}{{ x.append(1) }}",
    "{{ 'x' * 1000000000 }}",
]


@pytest.mark.parametrize("template", ESCAPES)
def test_sandbox_escapes_fail_with_a_clear_error(template: str) -> None:
    with pytest.raises(TemplateFailure, match="stopped by the sandbox"):
        render(template, {"motto": "hi"})


def test_unknown_values_and_unavailable_ones_render_clearly() -> None:
    with pytest.raises(TemplateFailure, match="unknown value: 'nope' is undefined"):
        render("{{ nope }}", {"x": 1})
    gone = Unavailable("hr")
    assert render("{{ hr }} / {{ hr.count + 1 }} / {% if hr %}yes{% else %}no{% endif %}", {"hr": gone}) == (
        "unavailable / unavailable / no"
    )


async def test_a_template_reaching_for_internals_posts_nothing_and_tells_the_moderators(
    store: Store, hr_server: str, roster: Path
) -> None:
    config = dagstart(hr_server, roster, template="Status\n{{ ''.__class__.__mro__ }}")
    clock = FrozenClock(MONDAY_0829)
    h = await start_harness(store, clock, settings(status_posts=[config]), env={"HR_TOKEN": TOKEN})
    try:
        clock.set(FIRING)
        await h.tick()
        assert await h.posts() == []
        [told] = h.told()
        assert "status post dagstart of Mon 30 Nov 08:30 was not posted" in told
        assert "access to attribute '__class__' of 'str' object is unsafe" in told
        assert "never Python internals" in told
    finally:
        await h.stop()


async def test_a_firing_missed_beyond_its_grace_is_reported_not_posted(
    store: Store, hr_server: str, roster: Path
) -> None:
    clock = FrozenClock(MONDAY_0829)
    h = await start_harness(store, clock, settings(status_posts=[dagstart(hr_server, roster)]), env={"HR_TOKEN": TOKEN})
    try:
        clock.set(FIRING + timedelta(hours=2))  # the scheduler was not running at 08:30
        await h.tick()
        assert await h.posts() == []
        [told] = h.told()
        assert "status post dagstart of Mon 30 Nov 08:30 was not posted" in told and "120 min late" in told
    finally:
        await h.stop()
