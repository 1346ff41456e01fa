"""The rest of what people read, in their language: the publishing service's refusals, /link's answer,
the stats and missing reports, the moderators' notes (each moderator in theirs), and a post's buttons and
context line in its channel's language (``[[channels]] language``) as every adapter's pure translation
renders them (Telegram, Slack, Matrix)."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from rich.console import Console

from adapters.base import OutboundMessage
from adapters.markup import MarkupParser
from adapters.matrix.render import message_content
from adapters.slack.translate import compose as slack_compose
from adapters.telegram.render import keyboard
from bot.app import App
from bot.clock import FrozenClock
from bot.config import Settings
from bot.i18n import Message, Moment, load_catalogues
from bot.services.compose import Composer
from bot.services.languages import ChannelLanguages
from content.db import Store
from content.models import CtaKind, Post, PostKind, PostState
from content.responses import Counts
from tests.bot.test_languages import import_directory, last
from tests.conftest import ConsoleApp, console_settings


@pytest.fixture
async def console_with(store: Store, clock: FrozenClock) -> AsyncIterator[object]:
    """Console apps with extra settings, stopped at the end."""
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


# -- refusals, /link, stats, moderators' notes ----------------------------------------------------


async def test_a_dutch_person_hears_the_publishing_services_refusals_in_dutch(console_with: object) -> None:
    h = await console_with(moderation={"moderators": ["console:mod", "console:anna"]})  # type: ignore[operator]
    await import_directory(h.app)  # anna: nl, bram: en
    await h.say("carla: /post Mijn eigen bericht")  # an employee without open posting: not allowed
    assert last(h, "carla") == (
        "not allowed: posting needs the moderator role (ask a moderator, or an admin to enable open posting)"
    )
    await h.say("anna: /post Peiling | Wat eten we? | cta: poll Pizza")
    assert last(h, "anna") == "een peiling heeft 2 tot 10 opties nodig, gescheiden door `;` (nu 1): `cta: poll A; B; C`"
    await h.say("mod: /post Peiling | Wat eten we? | cta: poll Pizza")  # not in the directory: the default
    assert last(h, "mod") == "a poll needs 2 to 10 options separated by `;` (got 1): `cta: poll A; B; C`"
    await h.say("anna: /post Borrel | Vrijdag | cta: like", "anna: /approve 1")
    assert last(h, "anna") == "#1 heeft de status ‘gepubliceerd’ en wacht niet op goedkeuring"
    await h.say("anna: /retract 1", "anna: /retract 1")
    assert last(h, "anna") == "#1 is al ingetrokken"
    await h.say("anna: /approve 99")
    assert last(h, "anna") == "er is geen bericht #99"


async def test_posts_to_people_are_refused_and_reported_in_the_moderators_language(console_with: object) -> None:
    h = await console_with(moderation={"moderators": ["console:mod", "console:anna"]})  # type: ignore[operator]
    await import_directory(h.app)  # anna: nl, bram: en
    await h.say("anna: /post Lunch | Wat eten we? | cta: like | direct")
    assert last(h, "anna") == (
        "alleen een bericht dat gelezen moet worden gaat `direct` naar ieder persoonlijk: voeg `cta: acknowledge` "
        "toe, of laat `direct` weg"
    )
    await h.say("anna: /post Lunch | cta: acknowledge | to: department=nobody")
    assert last(h, "anna") == (
        "niemand in de personeelsgids heeft department=nobody: controleer de spelling, of importeer eerst de "
        "personeelsgids"
    )
    await h.say("mod: /post Lunch | cta: acknowledge | to: floor=3")  # not in the directory: the default
    assert last(h, "mod") == "`to: floor=3` is no audience: select people with `department=NAME` or `location=NAME`"


async def test_an_employee_is_refused_posting_in_their_language(console_with: object) -> None:
    h = await console_with()  # type: ignore[operator]
    await import_directory(h.app)
    await h.say("anna: /post Mijn eigen bericht")
    assert last(h, "anna") == (
        "niet toegestaan: berichten plaatsen vraagt de rol moderator (vraag het een moderator, "
        "of vraag een beheerder open plaatsen aan te zetten)"
    )


async def test_link_answers_in_the_persons_language_when_single_sign_on_is_off(console_with: object) -> None:
    h = await console_with()  # type: ignore[operator]
    await import_directory(h.app)
    await h.say("anna: /link", "bram: /link")
    assert last(h, "anna") == (
        "koppelen via single sign-on is hier niet ingesteld: de beheerder stelt [sso] issuer, client_id, "
        "client_secret en [web] public_url in"
    )
    assert last(h, "bram").startswith("linking by single sign-on is not set up here")


async def test_stats_and_the_missing_report_are_in_the_moderators_language(console_with: object) -> None:
    h = await console_with(moderation={"moderators": ["console:mod", "console:anna"]})  # type: ignore[operator]
    await import_directory(h.app)
    await h.say("anna: /mine", "bram: /mine", "carla: /mine")  # seen in the console channel: reached
    await h.say("mod: /post Verlof | Lees dit | cta: acknowledge", "bram: /ack 1", "mod: /post Borrel | cta: like")
    await h.say("carla: /like 2", "anna: /stats 1", "mod: /stats 1")
    assert h.replies_to("anna")[-1] == "#1 Verlof (gepubliceerd) · bereikt: 4 · gelezen 1 · verstuurd 1"
    assert last(h, "mod") == "#1 Verlof (published) · reached 4 · ack 1 · sent 1"
    await h.say("anna: /stats 2")
    assert last(h, "anna") == "#2 Borrel (gepubliceerd) · bereikt: 4 · likes 1 · verstuurd 1"
    await h.say("anna: /stats 1 missing")
    report = last(h, "anna").splitlines()
    assert report[0] == (
        "#1 “Verlof”: 3 van de 4 mensen van wie we weten dat ze bereikt zijn, hebben niet bevestigd dat ze het lazen:"
    )
    assert "- Anna de Vries · geen afdeling · console" in report
    await h.say("anna: /stats 2 missing")
    assert last(h, "anna").startswith(
        "#2 vraagt niet om te bevestigen, te antwoorden of te stemmen, dus niemand kan het gemist hebben"
    )


async def test_each_moderator_is_told_in_their_own_language(console_with: object) -> None:
    h = await console_with(  # type: ignore[operator]
        moderation={"moderators": ["console:anna", "console:bram"], "open_posting": True}
    )
    await import_directory(h.app)
    await h.say("carla: /post Fietsenstalling | Wie heeft een sleutel?")
    assert last(h, "carla") == "#1 is waiting for a moderator's approval"
    assert last(h, "anna") == (
        "⚠ #1 “Fietsenstalling” van console:carla wacht op goedkeuring: `approve 1` of `reject 1 [reden]`."
    )
    assert last(h, "bram") == (
        "⚠ #1 “Fietsenstalling” by console:carla is waiting for approval: `approve 1` or `reject 1 [reason]`."
    )


async def test_the_deadline_summary_reaches_each_moderator_in_their_language(
    console_with: object, clock: FrozenClock
) -> None:
    h = await console_with(moderation={"moderators": ["console:anna", "console:bram"]})  # type: ignore[operator]
    await import_directory(h.app)
    await h.say("anna: /mine", "bram: /mine", "carla: /mine")
    await h.say("anna: /post Verlof | Lees dit | cta: acknowledge by 2026-12-02 10:00", "carla: /ack 1")
    clock.set(datetime(2026, 12, 2, 9, 30, tzinfo=UTC))  # past the deadline (10:00 in Amsterdam)
    returned = await h.app.reminders.summarize(1)
    assert returned == "#1 “Verlof”: 1 of 3 acknowledged by the deadline (Wed 02 Dec 10:00)"  # [i18n] default
    assert last(h, "anna") == "⚠ #1 “Verlof”: 1 van 3 bevestigden het lezen vóór de deadline (wo 02 dec 10:00)"
    assert last(h, "bram") == f"⚠ {returned}"


def test_a_message_words_its_nested_values_and_moments_in_the_readers_language() -> None:
    catalogues = load_catalogues()
    dutch, english = catalogues.translator("nl"), catalogues.translator("en")
    state = Message.pgettext("post state", "published")
    refusal = Message("#%(id)s is already %(state)s", id=3, state=state)
    assert dutch.render(refusal) == "#3 is al gepubliceerd" and str(refusal) == "#3 is already published"
    assert english.render(refusal) == "#3 is already published"
    when = Moment(datetime(2026, 12, 2, 9, 0, tzinfo=UTC), ZoneInfo("Europe/Amsterdam"))
    assert dutch.render(Message("must read by %(deadline)s", deadline=when)) == "lezen vóór wo 02 dec 10:00"
    assert str(Message("must read by %(deadline)s", deadline=when)) == "must read by Wed 02 Dec 10:00"


# -- buttons in the channel's language -------------------------------------------------------------


def _post(kind: CtaKind, options: list[str] | None = None, deadline: datetime | None = None) -> Post:
    now = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    return Post(
        id=7,
        kind=PostKind.NEWS,
        title="Nieuwe verlofregeling",
        body="Vanaf januari.",
        cta_kind=kind,
        cta_options=options or [],
        cta_deadline=deadline,
        audience=["everyone"],
        state=PostState.PUBLISHED,
        urgent=True,
        created_at=now,
        updated_at=now,
    )


def _composer() -> Composer:
    chats = [("telegram", "-1001", "nl"), ("slack", "C1", "nl"), ("matrix", "!r:hs", "nl"), ("slack", "C2", None)]
    languages = ChannelLanguages(chats, "en")
    return Composer(MarkupParser(), ZoneInfo("Europe/Amsterdam"), lambda post: None, languages.for_chat)


def _messages(platform: str, chat_id: str) -> dict[str, OutboundMessage]:
    composer = _composer()
    counts = Counts({"ack": 3}, {"yes": 2})
    deadline = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
    return {
        "ack": composer.compose_for_chat(platform, chat_id, _post(CtaKind.ACKNOWLEDGE, deadline=deadline), counts, 1),
        "rsvp": composer.compose_for_chat(platform, chat_id, _post(CtaKind.RSVP, ["yes", "no", "maybe"]), counts, 2),
        "like": composer.compose_for_chat(platform, chat_id, _post(CtaKind.LIKE), counts, 3),
    }


def _rows(message: OutboundMessage) -> list[list[dict[str, object]]]:
    markup = keyboard(message)
    assert markup is not None
    return list(markup["inline_keyboard"])


def test_a_dutch_channel_gets_dutch_buttons_on_telegram() -> None:
    dutch = _messages("telegram", "-1001")
    labels = [b["text"] for message in dutch.values() for row in _rows(message) for b in row]
    assert labels == ["✅ Gelezen · 3", "✅ Ja · 2", "❌ Nee · 0", "🤔 Misschien · 0", "👍 Leuk · 0"]
    english = _messages("telegram", "-1002")  # no language configured: [i18n] default
    assert [b["text"] for row in _rows(english["ack"]) for b in row] == ["✅ Read · 3"]


def test_a_dutch_channel_gets_dutch_buttons_and_context_on_slack() -> None:
    message = slack_compose(_messages("slack", "C1")["rsvp"])
    buttons = [e["text"]["text"] for b in message.blocks if b["type"] == "actions" for e in b["elements"]]
    assert buttons == ["✅ Ja (2)", "❌ Nee (0)", "🤔 Misschien (0)"]
    sections = [b["text"]["text"] for b in message.blocks if b["type"] == "section"]
    assert sections[-1].endswith("#7 · ⚠ dringend · aanmelden"), sections  # the context line
    ack = slack_compose(_messages("slack", "C1")["ack"])
    assert "lezen vóór wo 02 dec 10:00" in str(ack.blocks)
    english = slack_compose(_messages("slack", "C2")["rsvp"])  # language = None: [i18n] default
    buttons = [e["text"]["text"] for b in english.blocks if b["type"] == "actions" for e in b["elements"]]
    assert buttons == ["✅ Yes (2)", "❌ No (0)", "🤔 Maybe (0)"]


def test_a_dutch_room_gets_dutch_reaction_keys_on_matrix() -> None:
    content = message_content(_messages("matrix", "!r:hs")["rsvp"])
    assert "Reageer met: ✅ Ja (2) · ❌ Nee (0) · 🤔 Misschien (0)" in content["body"]
    assert "<p>Reageer met: ✅ Ja (2)" in content["formatted_body"]
    english = message_content(_messages("matrix", "!other:hs")["like"])
    assert "React with: 👍 Like (0)" in english["body"]


def test_a_channels_language_must_have_a_catalogue() -> None:
    channel = {"name": "kantoor", "platform": "telegram", "chat_id": -1001, "language": "nl"}
    assert Settings(channels=[channel]).channels[0].language == "nl"  # type: ignore[list-item]
    assert Settings(channels=[{**channel, "language": None}]).channels[0].language is None  # type: ignore[list-item]
    with pytest.raises(ValueError, match="no catalogue for language 'de'"):
        Settings(channels=[{**channel, "language": "de"}])  # type: ignore[list-item]


def test_why_someone_got_no_private_copy_is_worded_for_each_reader() -> None:
    from bot.services.direct_audience import reason_words
    from content import direct

    dutch, english = (load_catalogues().translator(language) for language in ("nl", "en"))
    assert dutch.render(reason_words(direct.NOT_STARTED)) == (
        "heeft de bot op Telegram niet gestart: open een privéchat met de bot en druk op Start"
    )
    assert english.render(reason_words(direct.NOT_RUNNING + "matrix, slack")) == (
        "only on matrix, slack, which is not running"
    )
    assert dutch.render(reason_words(direct.NOT_RUNNING + "slack")) == "alleen op slack, dat niet draait"
    # A platform's own error text is shown as it came.
    blocked = "Forbidden: bot was blocked by the user"
    assert dutch.render(reason_words(blocked)) == blocked
