"""Health, metrics, the platforms' webhooks and the click redirect."""

from __future__ import annotations

import re

import pytest

from bot.web import Metrics
from tests.web.conftest import PUBLIC_URL, WebHarness

TARGET = "https://intranet.example/verlof?tab=regels&lang=nl"


async def _link_post(web: WebHarness, url: str = TARGET) -> dict[str, object]:
    response = await web.client.post(
        "/api/posts", json={"title": "Lees de regeling", "call_to_action": {"kind": "link", "url": url}}
    )
    assert response.status_code == 201, response.text
    await web.app.settle()
    return response.json()  # type: ignore[no-any-return]


async def test_click_redirects_to_the_stored_url_and_counts_once_per_browser(web: WebHarness) -> None:
    post = await _link_post(web)
    click_url = str(post["click_url"])
    assert click_url.startswith(f"{PUBLIC_URL}/r/")
    sent = next(iter(web.slack.sent.values()))
    assert sent.actions[0].url == click_url  # the button in the chat goes through the redirect
    path = click_url.removeprefix(PUBLIC_URL)

    async with web.browser() as anna, web.browser() as bram:
        first = await anna.get(path)
        assert first.status_code == 302 and first.headers["location"] == TARGET
        assert first.headers["referrer-policy"] == "no-referrer" and first.headers["cache-control"] == "no-store"
        assert "prikbord_visitor=" in first.headers["set-cookie"] and "Path=/r" in first.headers["set-cookie"]
        await anna.get(path)  # the same browser again: the same person
        await bram.get(path)
    detail = (await web.client.get(f"/api/posts/{post['id']}")).json()
    assert detail["counts"] == {"click": 2}
    assert {p["platform"]: p["engaged"] for p in detail["platforms"]}["web"] == 2


async def test_link_previews_are_redirected_but_not_counted(web: WebHarness) -> None:
    post = await _link_post(web)
    path = str(post["click_url"]).removeprefix(PUBLIC_URL)
    for agent in ("Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", "TelegramBot (like TwitterBot)"):
        async with web.browser(**{"User-Agent": agent}) as bot:
            assert (await bot.get(path)).status_code == 302
    assert (await web.client.get(f"/api/posts/{post['id']}")).json()["counts"] == {}


@pytest.mark.parametrize(
    "path",
    [
        "/r/unknown-token-123",
        "/r/x",
        "/r/https:%2F%2Fevil.example",
        "/r/..%2F..%2Fapi%2Fposts",
        "/r/%0d%0aLocation:%20https:%2F%2Fevil.example",
    ],
)
async def test_unknown_tokens_are_404_and_nothing_else_is_a_target(web: WebHarness, path: str) -> None:
    await _link_post(web)
    async with web.browser() as browser:
        response = await browser.get(path)
    assert response.status_code == 404
    assert "location" not in response.headers


async def test_a_retracted_posts_link_is_gone(web: WebHarness) -> None:
    post = await _link_post(web)
    await web.client.post(f"/api/posts/{post['id']}/retract")
    async with web.browser() as browser:
        response = await browser.get(str(post["click_url"]).removeprefix(PUBLIC_URL))
    assert response.status_code == 410


async def test_healthz_says_which_adapters_are_connected(web: WebHarness) -> None:
    response = await web.client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["database"] is True
    assert sorted(body["adapters"]) == ["console", "slack"]
    for adapter in body["adapters"].values():
        # Connected, and up by what the sends say (see bot/services/health.py).
        assert adapter["connected"] is True and adapter["up"] is True and adapter["down_since"] is None


async def test_metrics_per_app_registry(web: WebHarness) -> None:
    post = await _link_post(web)
    await web.react(int(str(post["id"])), "anna", "like")
    # The app's own registry: the dispatcher observed the real sends of the post already.
    sample = web.metrics.registry.get_sample_value
    sent_before = sample("prikbord_send_seconds_count", {"platform": "slack"}) or 0.0
    assert sent_before >= 1.0
    fast_before = sample("prikbord_send_seconds_bucket", {"le": "0.25", "platform": "slack"}) or 0.0
    web.metrics.observe_send("slack", 0.12)
    web.metrics.observe_send("slack", 0.3)
    web.metrics.observe_rate_limited("slack", 2.0)
    text = (await web.client.get("/metrics")).text
    assert 'prikbord_deliveries{platform="slack",state="sent"} 1.0' in text
    assert 'prikbord_deliveries{platform="console",state="sent"} 1.0' in text
    assert 'prikbord_responses{kind="like"} 1.0' in text
    assert f'prikbord_send_seconds_count{{platform="slack"}} {sent_before + 2}' in text
    assert f'prikbord_send_seconds_bucket{{le="0.25",platform="slack"}} {fast_before + 1}' in text
    assert 'prikbord_rate_limited_total{platform="slack"} 1.0' in text
    # A second app's metrics start from nothing: no process-global registry.
    assert Metrics().registry.get_sample_value("prikbord_send_seconds_count", {"platform": "slack"}) is None


async def test_webhooks_go_to_the_adapter_that_runs(web: WebHarness) -> None:
    async with web.browser() as slack:
        response = await slack.post(
            "/slack/events", content=b'{"type":"url_verification"}', headers={"X-Slack-Signature": "v0=abc"}
        )
        assert response.status_code == 200 and response.json() == {"ok": True}
        headers, body = web.slack.webhooks[-1]
        assert body == b'{"type":"url_verification"}' and headers["x-slack-signature"] == "v0=abc"
        assert (await slack.post("/telegram/webhook", content=b"{}")).status_code == 404  # not configured here
        too_big = await slack.post("/slack/events", content=b"x" * (1024 * 1024 + 1))
        assert too_big.status_code == 413


async def test_security_headers(web: WebHarness) -> None:
    response = await web.client.get("/login")
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp  # so no script may run at all
    assert response.headers["x-frame-options"] == "DENY"
    assert re.search(r"HttpOnly; Max-Age=\d+; Path=/; SameSite=strict", response.headers["set-cookie"])
