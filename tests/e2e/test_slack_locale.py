"""A Slack person's language end to end: Slack sends no locale with its requests, so prikbord asks
``users.info`` with ``include_locale=true`` (the loopback peer answers ``locale`` only then, as Slack's
reference says) once per person, and a person whose Slack is in Dutch and who has no directory language
reads Dutch; the directory's language still wins over Slack's."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import httpx
import pytest
from rich.console import Console

from bot.app import App
from bot.clock import FrozenClock
from bot.config import SsoConfig
from bot.web import WebServer, create_web_app
from content.db import Store
from content.directory import apply_directory, parse_directory
from tests.e2e.test_slack_e2e import PUBLIC_URL, WAIT, SlackE2E, _settings
from tests.peers.slack import SlackPeer


@pytest.fixture
async def slack(store: Store, clock: FrozenClock) -> AsyncIterator[SlackE2E]:
    async with SlackPeer() as peer:
        peer.add_user("anna", locale="nl-NL")  # Slack in Dutch, nowhere in the directory
        peer.add_user("bram", locale="en-GB")
        peer.add_user("carla", locale="nl-NL")  # Slack in Dutch, the directory says English
        channels = {"algemeen": peer.add_channel("algemeen", members=("anna", "bram", "carla", "mod"))}
        for name in ("amsterdam", "sales"):
            channels[name] = peer.add_channel(name, members=("mod",))
        settings = _settings(peer, channels, peer.add_user("mod"))
        # An issuer nobody is asked: an expired link is refused before the provider is contacted.
        sso = SsoConfig(issuer="http://127.0.0.1:9", client_id="prikbord", client_secret="x")  # type: ignore[arg-type]
        app = App(
            settings.model_copy(update={"sso": sso}),
            clock=clock,
            store=store,
            console_output=Console(file=io.StringIO(), width=120),
            counter_debounce=0.0,
        )
        await app.start()
        server = WebServer(create_web_app(app.web_deps), "127.0.0.1", 0)
        await server.start()
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}", timeout=WAIT) as http:
                yield SlackE2E(app, peer, http, io.StringIO(), channels)
        finally:
            await server.stop()
            await app.stop()


async def test_a_slack_person_whose_slack_is_dutch_reads_dutch(slack: SlackE2E) -> None:
    carla = slack.peer.add_user("carla")
    rows, failed = parse_directory(f"email,name,language,slack\ncarla@example.org,Carla,en,{carla}\n", ("slack",))
    assert failed == []
    async with slack.app.store.transaction() as session:
        await apply_directory(session, rows, slack.app.clock.now())

    await slack.command("anna", "mine")
    await slack.command("bram", "mine")
    await slack.command("carla", "mine")
    for person in ("anna", "bram", "carla"):
        await slack.answered(person, 1)
    assert slack.ephemerals("anna") == ["je hebt niets meer dat je moet lezen 🎉"]
    assert slack.ephemerals("bram") == ["you have no open must-reads 🎉"]
    assert slack.ephemerals("carla") == ["you have no open must-reads 🎉"]  # the directory wins

    await slack.command("anna", "help")
    await slack.answered("anna", 2)
    assert slack.ephemerals("anna")[1].startswith("opdrachten (help OPDRACHT voor meer):")
    asked = [call.args for call in slack.peer.calls_of("users.info")]
    anna = slack.peer.add_user("anna")
    assert [args for args in asked if args.get("user") == anna] == [{"user": anna, "include_locale": True}]  # once
    assert all(args.get("include_locale") is True for args in asked)
    assert slack.peer.violations == []


async def test_the_link_page_of_a_dutch_slack_account_is_dutch(slack: SlackE2E, clock: FrozenClock) -> None:
    await slack.command("anna", "link")
    await slack.command("bram", "link")
    await slack.answered("anna", 1)
    await slack.answered("bram", 1)
    (anna,) = slack.ephemerals("anna")
    (bram,) = slack.ephemerals("bram")
    assert anna.startswith("Open deze link om je aan te melden") and bram.startswith("Open this link to sign in")
    clock.advance(minutes=16)
    for answer, lang, expired in (
        (anna, "nl", "Deze link is verlopen: links werken 15 minuten."),
        (bram, "en", "This link has expired"),
    ):
        path = answer[answer.index(PUBLIC_URL) :].split()[0].removeprefix(PUBLIC_URL)
        page = await slack.http.get(path, headers={"Accept-Language": "de, en;q=0.5, nl;q=0.1"})
        assert page.status_code == 400 and f'<html lang="{lang}">' in page.text and expired in page.text
