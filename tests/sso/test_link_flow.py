"""/link end to end against a real OpenID Connect provider, on SQLite and PostgreSQL: the whole
authorization-code flow with PKCE, and every way it can go wrong (each: a page that says what
happened and what to do, an audit entry, nothing linked)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import httpx

from adapters.base import UserRef
from content.db import Store
from tests.sso.conftest import PUBLIC_URL, Provider, SsoHarness, build_sso

DIRECTORY = "email,name,department\nanna@example.org,Anna de Vries,HR\nbram@example.org,Bram Bakker,IT\n"


async def _directory(sso: SsoHarness) -> None:
    answer = await sso.admin.post("/api/employees/import", content=DIRECTORY, headers={"content-type": "text/csv"})
    assert answer.status_code == 200 and answer.json()["created"] == 2, answer.text


def _outcome(page: httpx.Response) -> str:
    marker = 'data-outcome="'
    start = page.text.index(marker) + len(marker)
    return page.text[start : page.text.index('"', start)]


async def _nothing_linked(sso: SsoHarness, account: str = "console:anna") -> None:
    accounts = await sso.accounts()
    assert account not in accounts.get("anna@example.org", [])


async def _failure_audited(sso: SsoHarness, failure: str) -> None:
    entries = await sso.audit("link_failed")
    assert failure in [e["detail"]["failure"] for e in entries], entries


async def test_link_signs_in_and_links_the_account(sso: SsoHarness) -> None:
    await _directory(sso)
    link = await sso.link_command("anna")
    assert link.startswith(f"{PUBLIC_URL}/sso/start/")

    async with sso.browser() as browser:
        first = await browser.get(link.removeprefix(PUBLIC_URL))
        assert first.status_code == 303
        authorize = urlparse(first.headers["location"])
        query = parse_qs(authorize.query)
        assert authorize.geturl().startswith(sso.provider.issuer)
        assert query["code_challenge_method"] == ["S256"] and query["code_challenge"][0]
        assert query["state"][0] and query["nonce"][0] and query["response_type"] == ["code"]
        page = await sso.sign_in(link, "anna", browser)

    assert page.status_code == 200, page.text
    assert _outcome(page) == "linked" and "Anna de Vries" in page.text
    assert (await sso.accounts())["anna@example.org"] == ["console:anna"]
    confirmations = [text for who, text in sso.console.private if who == "anna" and "now linked" in text]
    assert confirmations and "anna@example.org" in confirmations[0]
    assert [e["detail"]["how"] for e in await sso.audit("link_account")] == ["sso"]

    await sso.console.feed("anna: /whoami")
    await sso.app.settle()
    whoami = sso.console.private[-1][1]
    assert "Anna de Vries (anna@example.org)" in whoami and "console: anna (by single sign-on" in whoami

    await sso.console.feed("anna: /unlink console")
    await sso.app.settle()
    assert "no longer linked" in sso.console.private[-1][1]
    assert "console:anna" not in (await sso.accounts())["anna@example.org"]


async def test_a_used_link_works_once(sso: SsoHarness) -> None:
    await _directory(sso)
    link = await sso.link_url("console", "anna", "Anna")
    assert _outcome(await sso.sign_in(link)) == "linked"
    await sso.app.linking.unlink(UserRef("console", "anna"), "console")
    again = await sso.sign_in(link)
    assert again.status_code == 400 and _outcome(again) == "reused_link"
    assert "/link" in again.text and "again" in again.text
    await _nothing_linked(sso)
    await _failure_audited(sso, "reused_link")


async def test_an_expired_link_links_nothing(sso: SsoHarness) -> None:
    await _directory(sso)
    link = await sso.link_url("console", "anna", "Anna")
    sso.clock.advance(minutes=15, seconds=1)
    page = await sso.sign_in(link)
    assert page.status_code == 400 and _outcome(page) == "expired_link" and "15 minutes" in page.text
    await _nothing_linked(sso)
    await _failure_audited(sso, "expired_link")


async def test_a_foreign_link_links_nothing(sso: SsoHarness) -> None:
    await _directory(sso)
    page = await sso.sign_in(f"{PUBLIC_URL}/sso/start/not-a-link-this-prikbord-gave-out")
    assert page.status_code == 400 and _outcome(page) == "unknown_link"
    await _failure_audited(sso, "unknown_link")


async def test_a_callback_in_another_browser_is_a_state_mismatch(sso: SsoHarness) -> None:
    await _directory(sso)
    link = await sso.link_url("console", "anna", "Anna")
    async with sso.browser() as victim, sso.browser() as attacker:
        # The sign-in starts in one browser; its callback arrives in another (without the state cookie).
        started = await attacker.get(link.removeprefix(PUBLIC_URL))
        state = parse_qs(urlparse(started.headers["location"]).query)["state"][0]
        page = await victim.get("/sso/callback", params={"state": state, "code": "whatever"})
        assert page.status_code == 400 and _outcome(page) == "state_mismatch"
        forged = await attacker.get("/sso/callback", params={"state": "forged-state", "code": "whatever"})
        assert _outcome(forged) == "state_mismatch"
    await _nothing_linked(sso)
    await _failure_audited(sso, "state_mismatch")


async def test_a_tampered_id_token_links_nothing(sso: SsoHarness) -> None:
    await _directory(sso)
    sso.provider.misbehave("tamper")
    page = await sso.sign_in(await sso.link_url("console", "anna", "Anna"))
    assert page.status_code == 400 and _outcome(page) == "bad_signature"
    await _nothing_linked(sso)
    assert "console:anna" not in str(await sso.accounts())
    await _failure_audited(sso, "bad_signature")


async def test_a_wrong_issuer_links_nothing(sso: SsoHarness) -> None:
    await _directory(sso)
    sso.provider.misbehave("issuer")
    page = await sso.sign_in(await sso.link_url("console", "anna", "Anna"))
    assert page.status_code == 400 and _outcome(page) == "wrong_issuer"
    await _nothing_linked(sso)
    await _failure_audited(sso, "wrong_issuer")


async def test_a_wrong_audience_links_nothing(sso: SsoHarness) -> None:
    await _directory(sso)
    sso.provider.misbehave("audience")
    page = await sso.sign_in(await sso.link_url("console", "anna", "Anna"))
    assert page.status_code == 400 and _outcome(page) == "wrong_audience"
    await _nothing_linked(sso)
    await _failure_audited(sso, "wrong_audience")


async def test_an_email_outside_the_directory_links_nothing(sso: SsoHarness) -> None:
    await _directory(sso)
    page = await sso.sign_in(await sso.link_url("console", "nobody", "Nobody"), login="nobody")
    assert page.status_code == 400 and _outcome(page) == "unknown_employee" and "directory" in page.text
    assert "nobody@example.org" not in await sso.accounts()
    await _failure_audited(sso, "unknown_employee")


async def test_create_employees_makes_the_employee(store: Store, oidc_provider: Provider) -> None:
    async for sso in build_sso(store, oidc_provider, create_employees=True):
        page = await sso.sign_in(await sso.link_url("console", "nobody", "Nobody"), login="nobody")
        assert _outcome(page) == "linked"
        assert (await sso.accounts())["nobody@example.org"] == ["console:nobody"]


async def test_an_unreachable_provider_links_nothing(store: Store, oidc_provider: Provider) -> None:
    import socket

    with socket.socket() as probe:  # a loopback port with nobody listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    down = Provider(f"http://127.0.0.1:{port}")
    async for sso in build_sso(store, down):
        sso.provider = oidc_provider  # for the fixture's clean-up only
        await _directory(sso)
        page = await sso.sign_in(await sso.link_url("console", "anna", "Anna"))
        assert page.status_code == 502 and _outcome(page) == "provider_unreachable"
        assert "Try again" in page.text
        await _nothing_linked(sso)
        await _failure_audited(sso, "provider_unreachable")
