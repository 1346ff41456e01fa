"""The catalogues (bot/locale/) against the source: every text marked for translation is in the Dutch
catalogue with a Dutch text, nothing is fuzzy or left over, the placeholders of each translation are the
message's own, and the catalogues compile. Also the rule that picks a language per person."""

from __future__ import annotations

import gettext
import io
import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from bot.i18n import (
    KEYWORDS,
    LOCALE_DIR,
    SOURCE_LANGUAGE,
    Catalogues,
    Translator,
    accepted_language,
    available_languages,
    catalogue_path,
    choose_language,
    language_tag,
    load_catalogues,
)
from bot.i18n import Message as Text

ROOT = Path(__file__).resolve().parents[2]
BOT = ROOT / "bot"
# Every package whose texts people read: the core, the adapters (their words come from the core, but a text
# marked there must be translated too) and the scheduler.
PERSON_FACING = ("bot", "adapters", "scheduler")
PLACEHOLDER = re.compile(r"%\((\w+)\)[-#0 +]?\d*(?:\.\d+)?[diouxXeEfFgGcrs]")
MsgId = str | tuple[str, ...]
Key = tuple[str | None, MsgId]  # (context, msgid)


def _key(context: str | None, msgid: object) -> Key:
    return context, tuple(msgid) if isinstance(msgid, tuple | list) else str(msgid)


def marked_messages() -> dict[Key, list[str]]:
    """Every message marked in bot/, adapters/ and scheduler/ (gettext, ngettext, pgettext, N_, Message,
    Message.pgettext), with where it is."""
    found: dict[Key, list[str]] = {}
    keywords = {**DEFAULT_KEYWORDS, **KEYWORDS}
    for package in PERSON_FACING:
        for filename, line, message, _comments, context in extract_from_dir(
            str(ROOT / package), method_map=[("**.py", "python")], keywords=keywords
        ):
            found.setdefault(_key(context, message), []).append(f"{package}/{filename}:{line}")
    return found


def read_catalogue(language: str) -> Catalog:
    with catalogue_path(language).open("rb") as source:
        return read_po(source, locale=language)


def entries(catalog: Catalog) -> dict[Key, Message]:
    return {_key(m.context, m.id): m for m in catalog if m.id}


def strings(message: Message) -> list[str]:
    return list(message.string) if isinstance(message.string, tuple | list) else [message.string]


def test_the_source_marks_its_texts() -> None:
    marked = marked_messages()
    # A few from each part people read, so an extraction that silently finds nothing fails here.
    for expected in (
        "already counted (#%(id)s)",  # engagement answers
        "commands (help COMMAND for more):",  # help
        "like a post",  # a command's summary
        "quiet hours off: private messages may reach you at any time",  # a command's answer
        "about %(value)s (%(known)s known by name)",  # reminders
        "Nothing was linked",  # the single sign-on pages
        "a post needs at least a title",  # the grammar's usage errors
    ):
        assert (None, expected) in marked, expected
    assert ("post state", "pending") in marked  # the state, apart from the command `pending`
    assert len(marked) > 100


TRANSLATIONS = [language for language in available_languages() if language != SOURCE_LANGUAGE]  # nl, and any added


@pytest.mark.parametrize("language", TRANSLATIONS)
def test_every_marked_message_has_a_translation(language: str) -> None:
    translated = entries(read_catalogue(language))
    marked = marked_messages()
    missing = {msgid: where for msgid, where in marked.items() if msgid not in translated}
    assert missing == {}, f"not in bot/locale/{language}/LC_MESSAGES/prikbord.po (README.md, Languages: pybabel update)"
    untranslated = [msgid for msgid in marked if not all(s.strip() for s in strings(translated[msgid]))]
    assert untranslated == [], f"empty msgstr in the {language} catalogue"


@pytest.mark.parametrize("language", available_languages())
def test_the_catalogues_hold_exactly_the_source_messages(language: str) -> None:
    catalog = read_catalogue(language)
    assert [m.id for m in catalog if m.id and m.fuzzy] == [], "fuzzy entries: check and unmark them"
    assert list(catalog.obsolete) == [], "obsolete (#~) entries: remove them"
    leftover = set(entries(catalog)) - set(marked_messages())
    assert leftover == set(), "in the catalogue but no longer in the source: pybabel update drops them"
    assert catalog.locale is not None and str(catalog.locale) == language


@pytest.mark.parametrize("language", available_languages())
def test_the_catalogues_pass_babels_checks_and_compile(language: str) -> None:
    catalog = read_catalogue(language)
    problems = {
        message.id: [str(error) for error in errors] for message, errors in catalog.check() if errors
    }  # python-format: placeholders of msgstr compatible with the msgid's; plural forms complete
    assert problems == {}
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    assert isinstance(gettext.GNUTranslations(compiled), gettext.GNUTranslations)


@pytest.mark.parametrize("language", TRANSLATIONS)
def test_each_translation_has_exactly_its_messages_placeholders(language: str) -> None:
    # Babel's check lets a translation leave a named placeholder out; a value people need must not vanish.
    for (_context, msgid), message in entries(read_catalogue(language)).items():
        wanted = set(PLACEHOLDER.findall(msgid[-1] if isinstance(msgid, tuple) else msgid))
        for text in strings(message):
            assert set(PLACEHOLDER.findall(text)) == wanted, (msgid, text)


def test_the_languages_are_english_and_dutch() -> None:
    assert {"en", "nl"} <= set(available_languages()) == set(load_catalogues().languages)
    assert SOURCE_LANGUAGE == "en" and "nl" in TRANSLATIONS


def test_a_translator_fills_named_placeholders_in_its_language() -> None:
    catalogues = load_catalogues()
    dutch, english = catalogues.translator("nl"), catalogues.translator("en")
    assert dutch.gettext("no posts yet") == "nog geen berichten"
    assert english.gettext("no posts yet") == "no posts yet"
    assert dutch.render(Text("already counted (#%(id)s)", id=12)) == "al geteld (#12)"
    assert str(Text("already counted (#%(id)s)", id=12)) == "already counted (#12)"
    retracted = ("#%(id)s is retracted; %(count)s message removed", "#%(id)s is retracted; %(count)s messages removed")
    assert dutch.ngettext(*retracted, 1, id=4, count=1) == "#4 is ingetrokken; 1 chatbericht verwijderd"
    assert english.ngettext(*retracted, 3, id=4, count=3) == "#4 is retracted; 3 messages removed"
    assert dutch.render("a person's own words") == "a person's own words"  # not a Message: shown as it is


def test_a_broken_translation_shows_the_source_text_instead_of_failing() -> None:
    broken = Catalog(locale="nl")
    broken.add("no post #%(id)s", "geen bericht #%(nummer)s")
    compiled = io.BytesIO()
    write_mo(compiled, broken)
    compiled.seek(0)
    translator = Translator("nl", gettext.GNUTranslations(compiled))
    assert translator.gettext("no post #%(id)s", id=3) == "no post #3"


def test_a_fresh_clone_reads_the_po_and_a_build_the_mo(tmp_path: Path) -> None:
    # Without a .mo (an editable install, a clone) the .po is compiled in memory; a built package has the .mo.
    po_only = tmp_path / "po"
    (po_only / "nl" / "LC_MESSAGES").mkdir(parents=True)
    (po_only / "nl" / "LC_MESSAGES" / "prikbord.po").write_bytes(catalogue_path("nl").read_bytes())
    assert load_catalogues(po_only).translator("nl").gettext("the agenda is empty") == "de agenda is leeg"
    mo_only = tmp_path / "mo"
    (mo_only / "nl" / "LC_MESSAGES").mkdir(parents=True)
    with (mo_only / "nl" / "LC_MESSAGES" / "prikbord.mo").open("wb") as compiled:
        write_mo(compiled, read_catalogue("nl"))
    assert load_catalogues(mo_only).translator("nl").gettext("the agenda is empty") == "de agenda is leeg"
    assert load_catalogues(tmp_path / "none").languages == ("en",)
    assert LOCALE_DIR == BOT / "locale"


def test_language_tags_find_their_catalogue() -> None:
    languages = ("en", "nl")
    assert [language_tag(tag, languages) for tag in ("nl", "NL", "nl-BE", "nl_NL", "en-GB", "de", "", None)] == [
        "nl",
        "nl",
        "nl",
        "nl",
        "en",
        None,
        None,
        None,
    ]


def test_the_directory_then_the_platform_then_the_default() -> None:
    languages = ("en", "nl")
    assert choose_language("nl", "en", "en", languages) == "nl"  # the directory wins
    assert choose_language(None, "nl-BE", "en", languages) == "nl"  # else the platform's locale
    assert choose_language(None, None, "nl", languages) == "nl"  # else the default
    assert choose_language("de", "en", "nl", languages) == "en"  # a language without catalogue is passed over
    assert choose_language("de", "fr", "nl", languages) == "nl"
    catalogues = Catalogues({})
    assert catalogues.choose("nl", None, "en").language == "en"  # nothing loaded: the source language


def test_the_browser_language_follows_accept_language_quality() -> None:
    languages = ("en", "nl")
    assert accepted_language("de-DE,de;q=0.9,nl;q=0.8,en;q=0.7", languages) == "nl"
    assert accepted_language("en;q=0.5, nl-NL", languages) == "nl"
    assert accepted_language("nl;q=0, en", languages) == "en"
    assert accepted_language("*", languages) is None
    assert accepted_language(None, languages) is None
    assert accepted_language("fr, de;q=x", languages) is None
