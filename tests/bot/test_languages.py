"""People read prikbord in their own language, end to end: the directory's ``language`` first, else the
locale their platform sends (Telegram's ``language_code``), else ``[i18n] default``. On the console
(commands, help, refusals, reminders), through the real python-telegram-bot against the loopback Bot API
peer (a Dutch Telegram app without a directory entry gets Dutch answers and toasts), and on the /link pages."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from rich.console import Console

from adapters.base import UserRef
from adapters.telegram.translate import BotIdentity, translate_update
from bot.app import App
from bot.clock import FrozenClock
from bot.config import ConfigError, Settings, load_settings
from content.db import Store
from content.directory import apply_directory, parse_directory
from tests.conftest import ConsoleApp, console_settings
from tests.e2e.test_telegram_e2e import (
    ANNA,
    BRAM,
    CARLA,
    KANTOOR,
    answered,
    data_for,
    eventually,
    peer_with_people,
    running_app,
    settings_for,
)
from tests.web.conftest import PUBLIC_URL, web_settings

DIRECTORY = (
    "email,name,language,identities\n"
    "anna@example.org,Anna de Vries,nl,console:anna\n"
    "bram@example.org,Bram Bakker,en,console:bram\n"
    "carla@example.org,Carla Jansen,,console:carla\n"
)


async def import_directory(app: App, text: str = DIRECTORY, platforms: tuple[str, ...] = ("console",)) -> None:
    rows, failed = parse_directory(text, platforms)
    assert failed == []
    async with app.store.transaction() as session:
        await apply_directory(session, rows, app.clock.now())


@pytest.fixture
async def console_with(store: Store, clock: FrozenClock) -> AsyncIterator[object]:
    """Console apps with extra settings (``[i18n] default``), stopped at the end."""
    made: list[App] = []

    async def build(**overrides: object) -> ConsoleApp:
        output = io.StringIO()
        app = App(
            console_settings(**overrides),
            clock=clock,
            store=store,
            console_output=Console(file=output, width=120),
            counter_debounce=0.0,
        )
        await app.start()
        made.append(app)
        return ConsoleApp(app, output)

    yield build
    for app in made:
        await app.stop()


def last(h: ConsoleApp, who: str) -> str:
    replies = h.replies_to(who)
    assert replies, f"{who} heard nothing"
    return replies[-1]


# -- the console ---------------------------------------------------------------------------------


async def test_the_directory_language_chooses_dutch_or_english(console_app: ConsoleApp) -> None:
    await import_directory(console_app.app)
    await console_app.say("mod: /post Nieuwe verlofregeling | Vanaf januari. | cta: acknowledge")

    await console_app.say("anna: /like 1")
    assert last(console_app, "anna") == "👍 geteld (#1)"
    await console_app.say("bram: /like 1")
    assert last(console_app, "bram") == "👍 counted (#1)"
    await console_app.say("anna: /like 1")
    assert last(console_app, "anna") == "al geteld (#1)"

    await console_app.say("anna: /mine")
    assert last(console_app, "anna") == "nog te lezen (antwoord met `ack ID`):\n#1 Nieuwe verlofregeling"
    await console_app.say("bram: /mine")
    assert last(console_app, "bram") == "open must-reads (answer with `ack ID`):\n#1 Nieuwe verlofregeling"
    await console_app.say("anna: /ack 1", "anna: /mine")
    assert last(console_app, "anna") == "je hebt niets meer dat je moet lezen 🎉"

    await console_app.say("anna: /help")
    dutch_help = last(console_app, "anna")
    assert dutch_help.startswith("opdrachten (help OPDRACHT voor meer):\n")
    assert "  like #ID — een bericht liken" in dutch_help and "  help [OPDRACHT] — deze lijst" in dutch_help
    assert "retract" not in dutch_help  # employees see their own commands
    await console_app.say("bram: /help")
    english_help = last(console_app, "bram")
    assert english_help.startswith("commands (help COMMAND for more):\n") and "  like #ID — like a post" in english_help
    await console_app.say("anna: /help vote")
    assert last(console_app, "anna") == (
        "vote #ID OPTIE\nstemmen in een peiling of je aan- of afmelden (vraagt de rol medewerker)"
    )

    # Without a language in the directory, the console (which tells none) gets the default: English.
    await console_app.say("carla: /like 1")
    assert last(console_app, "carla") == "👍 counted (#1)"


async def test_refusals_usage_errors_and_the_moderators_answers_are_translated(console_with: object) -> None:
    h = await console_with(moderation={"moderators": ["console:mod", "console:anna"]})  # type: ignore[operator]
    await import_directory(h.app)
    await h.say("anna: /post Lunch vrijdag | Wat eten we? | cta: poll Pizza; Sushi")
    assert last(h, "anna") == "#1 is gepubliceerd"
    await h.say("anna: /vote 1 Salade")
    assert last(h, "anna") == "#1 heeft geen optie 'Salade'; kies uit: 1 Pizza, 2 Sushi"
    await h.say("anna: /vote 1")
    assert last(h, "anna") == "zeg welke optie: `vote 12 2` of `vote 12 Sushi`\ngebruik: vote #ID OPTIE"
    await h.say("anna: /like twaalf")
    assert last(h, "anna").startswith("'twaalf' is geen berichtnummer; berichten heten #12 of 12\ngebruik: like #ID")
    await h.say("anna: /frobnicate")
    assert last(h, "anna").startswith("onbekende opdracht 'frobnicate'.\nopdrachten (help OPDRACHT voor meer):")
    await h.say("anna: /retract 1")
    assert last(h, "anna") == "#1 is ingetrokken; 1 chatbericht verwijderd"
    await h.say("anna: /schedule tomorrow 08:30 | Dagstart | Koffie staat klaar | cta: like", "anna: /pending")
    assert h.replies_to("anna")[-2] == "#2 is ingepland voor 2026-12-01 07:30 UTC"
    assert last(h, "anna") == "#2 Dagstart (ingepland op 2026-12-01 07:30 UTC, door console:anna)"
    await h.say("anna: /help pending")  # the command keeps its name; the state "pending" is another word
    assert (
        last(h, "anna") == "pending\nberichten die op goedkeuring wachten of ingepland zijn (vraagt de rol moderator)"
    )
    await h.say("bram: /retract 1")
    assert last(h, "bram") == "`retract` needs the moderator role; you have the employee role"
    await h.say("carla: /quiet 18:00-08:00")
    assert last(h, "carla") == "quiet hours set: no private messages between 18:00 and 08:00"
    await h.say("anna: /quiet 18:00-08:00", "anna: /privacy")
    assert h.replies_to("anna")[-2] == "stille uren ingesteld: geen privéberichten tussen 18:00 en 08:00"
    assert last(h, "anna").startswith("Wat prikbord over je bewaart:")


async def test_the_default_language_speaks_to_everyone_the_directory_does_not_place(console_with: object) -> None:
    h = await console_with(i18n={"default": "nl"})  # type: ignore[operator]
    await import_directory(h.app)
    await h.say("mod: /post Borrel | Vrijdag 16:00 | cta: like")
    await h.say("carla: /like 1", "bram: /like 1", "dirk: /like 1")
    assert last(h, "carla") == "👍 geteld (#1)"  # in the directory, without a language
    assert last(h, "dirk") == "👍 geteld (#1)"  # not in the directory at all
    assert last(h, "bram") == "👍 counted (#1)"  # the directory says English


async def test_a_reminder_is_written_in_the_readers_language(console_app: ConsoleApp, clock: FrozenClock) -> None:
    await import_directory(console_app.app)
    await console_app.say("anna: /mine", "bram: /mine")  # seen in the console channel: the post reaches them
    await console_app.say("mod: /post Nieuwe verlofregeling | Vanaf januari. | cta: acknowledge by 2026-12-02 10:00")
    clock.set(datetime(2026, 12, 1, 9, 0, tzinfo=UTC))  # 24 hours before the deadline
    await console_app.app.reminders.remind(1)
    assert last(console_app, "anna") == (
        "Herinnering: #1 “Nieuwe verlofregeling” moet je lezen, uiterlijk wo 02 dec 10:00. Antwoord `ack 1` "
        "(of druk op ✅ onder het bericht). `optout reminders` stopt deze herinneringen."
    )
    assert last(console_app, "bram").startswith(
        "Reminder: #1 “Nieuwe verlofregeling” is a must-read, due Wed 02 Dec 10:00."
    )


def test_the_default_language_must_have_a_catalogue(tmp_path: object) -> None:
    assert Settings().i18n.default == "en"
    assert Settings(i18n={"default": "nl"}).i18n.default == "nl"  # type: ignore[arg-type]
    config = tmp_path / "prikbord.toml"  # type: ignore[operator]
    config.write_text('[i18n]\ndefault = "de"\n')
    with pytest.raises(ConfigError, match="no catalogue for language 'de'"):
        load_settings(config)


# -- Telegram ------------------------------------------------------------------------------------


def test_telegram_tells_the_persons_language_without_changing_who_they_are() -> None:
    update = {
        "update_id": 7,
        "message": {
            "message_id": 1,
            "date": 0,
            "chat": {"id": 1102, "type": "private"},
            "from": {"id": 1102, "is_bot": False, "first_name": "Bram", "language_code": "nl"},
            "text": "/mine",
        },
    }
    (command,) = translate_update(update, BotIdentity(1, "prikbord_bot"))
    assert command.user.locale == "nl"  # type: ignore[union-attr]
    assert command.user == UserRef("telegram", "1102", "Bram")  # type: ignore[union-attr]
    assert {command.user: 1}[UserRef("telegram", "1102", "Bram", "en")] == 1  # type: ignore[union-attr]
    del update["message"]["from"]["language_code"]  # type: ignore[attr-defined]
    (command,) = translate_update(update, BotIdentity(1, "prikbord_bot"))
    assert command.user.locale is None  # type: ignore[union-attr]


async def test_a_dutch_telegram_app_gets_dutch_answers_and_toasts(store: Store, clock: FrozenClock) -> None:
    async with (
        peer_with_people() as peer,
        running_app(settings_for(peer, public_url=None), peer, store, clock) as h,
    ):  # no web
        peer.users[BRAM].language_code = "nl"  # Bram's Telegram is in Dutch; the directory knows nothing of him
        peer.users[CARLA].language_code = "nl"  # Carla's too, but the directory says English
        peer.users[ANNA].language_code = "en"
        await import_directory(h.app, f"email,name,language,telegram\ncarla@example.org,Carla,en,{CARLA}\n", ())
        ack = await h.moderator_posts("Nieuwe verlofregeling | Vanaf januari. | cta: acknowledge")
        msg = await h.message_in(KANTOOR, ack.id)

        bram = await peer.user_presses(BRAM, KANTOOR, msg.message_id, data_for(msg, "ack"))
        carla = await peer.user_presses(CARLA, KANTOOR, msg.message_id, data_for(msg, "ack"))
        anna = await peer.user_presses(ANNA, KANTOOR, msg.message_id, data_for(msg, "ack"))
        await eventually(lambda: all(answered(peer, q)() for q in (bram, carla, anna)), "the presses are answered")
        assert peer.callback_queries[bram].answer == {"text": f"✅ bedankt, #{ack.id} is gemarkeerd als gelezen"}
        assert peer.callback_queries[carla].answer == {"text": f"✅ thanks, #{ack.id} is marked as read"}
        assert peer.callback_queries[anna].answer == {"text": f"✅ thanks, #{ack.id} is marked as read"}
        again = await peer.user_presses(BRAM, KANTOOR, msg.message_id, data_for(msg, "ack"))
        await eventually(answered(peer, again), "the second press is answered")
        assert peer.callback_queries[again].answer == {"text": f"al geteld (#{ack.id})"}

        await peer.user_sends(BRAM, KANTOOR, "/mine")
        await peer.user_sends(BRAM, KANTOOR, "/help")
        await eventually(lambda: len(peer.bot_messages(BRAM)) == 2, "Bram hears back twice")
        mine, help_text = (m.text for m in peer.bot_messages(BRAM))
        assert mine == "je hebt niets meer dat je moet lezen 🎉"
        assert help_text.startswith("opdrachten (help OPDRACHT voor meer):")
        await peer.user_sends(CARLA, KANTOOR, "/mine")
        await eventually(lambda: bool(peer.bot_messages(CARLA)), "Carla hears back")
        assert peer.bot_messages(CARLA)[0].text == "you have no open must-reads 🎉"


# -- the /link pages -------------------------------------------------------------------------------


async def test_the_link_pages_speak_the_persons_or_the_browsers_language(store: Store) -> None:
    from bot.web import create_web_app

    clock = FrozenClock(datetime(2026, 11, 30, 9, 0, tzinfo=UTC))
    # An issuer nobody is asked: an expired or unknown link is refused before the provider is contacted.
    settings = web_settings(sso={"issuer": "http://127.0.0.1:9", "client_id": "prikbord", "client_secret": "x"})
    app = App(settings, clock=clock, store=store, console_output=Console(file=io.StringIO()), counter_debounce=0.0)
    await app.start()
    try:
        await import_directory(app)
        anna = await app.linking.issue_link(UserRef("console", "anna", "Anna"))
        bram = await app.linking.issue_link(UserRef("console", "bram", "Bram"))
        clock.advance(minutes=16)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_web_app(app.web_deps)), base_url=PUBLIC_URL
        ) as browser:
            page = await browser.get(anna.removeprefix(PUBLIC_URL), headers={"Accept-Language": "en"})
            assert page.status_code == 400 and '<html lang="nl">' in page.text
            assert "<h1>Er is niets gekoppeld</h1>" in page.text
            assert "Deze link is verlopen: links werken 15 minuten." in page.text
            assert "Stuur /link opnieuw naar prikbord" in page.text

            page = await browser.get(bram.removeprefix(PUBLIC_URL), headers={"Accept-Language": "nl"})
            assert '<html lang="en">' in page.text and "This link has expired" in page.text  # the directory wins

            unknown = "/sso/start/" + "x" * 40
            page = await browser.get(unknown, headers={"Accept-Language": "de-DE,nl;q=0.8,en;q=0.5"})
            assert page.status_code == 400 and "Deze link is niet door deze prikbord uitgegeven" in page.text
            page = await browser.get(unknown)
            assert "This link was not given out by this prikbord" in page.text  # nobody known: the default
            page = await browser.get("/sso/callback?state=nope&code=x", headers={"Accept-Language": "nl"})
            assert "Deze aanmelding is niet in deze browser begonnen" in page.text
    finally:
        await app.stop()
