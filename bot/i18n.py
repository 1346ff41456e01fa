"""The languages people read prikbord in: gettext catalogues per language, and the rule that picks one.

The catalogues are ``bot/locale/<language>/LC_MESSAGES/prikbord.po`` (Babel's format; the messages,
``msgid``, are the English texts in the source). A built package carries them compiled (``.mo``, made by
the ``build_py`` hook in bot/locale_build.py); an editable install or a fresh clone has only the ``.po``,
which is compiled in memory with Babel when first needed. Either way each catalogue is read once per process.

Texts are marked for extraction (``pybabel extract -k Message``) by how they are written:
``gettext("…")`` / ``ngettext("…", "…", n)`` / ``pgettext("context", "…")`` where a translator is at hand
(command handlers: ``ctx.gettext``), :class:`Message` where the text is made before anyone knows who will read it (the
grammar's usage errors, the engagement answers), and :func:`N_` for constants translated where shown
(command summaries, the SSO explanations). Values go in as named placeholders, ``%(name)s``, so a
translation may put them in another order.
"""

from __future__ import annotations

import functools
import gettext
import io
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

log = logging.getLogger("prikbord.i18n")

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "prikbord"
SOURCE_LANGUAGE = "en"  # the language the msgids are written in
# What extraction looks for besides Babel's own keywords (_, gettext, ngettext, N_, …): ``pybabel extract -k Message``.
KEYWORDS: Mapping[str, None] = {"Message": None}
MOMENT_PATTERN = "EEE dd MMM HH:mm"  # a deadline as people read it: "Mon 30 Nov 17:00", "ma 30 nov. 17:00"


def N_(msgid: str) -> str:  # the gettext convention for "marked, translated later"
    """Marks a constant text for extraction; it is translated where it is shown."""
    return msgid


def _fill(text: str, params: Mapping[str, object], fallback: str | None = None) -> str:
    """``text`` with its named placeholders filled; a translation that does not fit its values (which the
    catalogue tests forbid) falls back to the source text rather than failing an answer."""
    if not params:
        return text
    try:
        return text % params
    except (KeyError, ValueError, TypeError):
        if fallback is None or fallback == text:
            raise
        log.warning("the translation %r does not fit its values; the source text is shown", text)
        return fallback % params


@dataclass(frozen=True, slots=True, init=False)
class Message:
    """A text for a person made before it is known who reads it: the English msgid and the values of its
    named placeholders. ``str()`` is the English; :meth:`Translator.render` words it in a language. A value
    may be a Message itself (a post's state) or a :class:`Moment`: the reader's language words those too."""

    msgid: str
    params: tuple[tuple[str, object], ...]
    context: str | None

    def __init__(self, msgid: str, /, **params: object) -> None:
        object.__setattr__(self, "msgid", msgid)
        object.__setattr__(self, "params", tuple(params.items()))
        object.__setattr__(self, "context", None)

    @classmethod
    def pgettext(cls, context: str, msgid: str, /, **params: object) -> Message:
        """``msgid`` as meant in ``context`` (see :meth:`Translator.pgettext`); named so extraction finds it."""
        made = cls(msgid, **params)
        object.__setattr__(made, "context", context)
        return made

    def __str__(self) -> str:
        return _fill(self.msgid, {key: _english(value) for key, value in self.params})


@dataclass(frozen=True, slots=True)
class Moment:
    """A date and time inside a :class:`Message`, written the reader's way (:meth:`Translator.moment`)."""

    when: datetime
    zone: ZoneInfo

    def __str__(self) -> str:
        return SOURCE.moment(self.when, self.zone)


def _english(value: object) -> object:
    return str(value) if isinstance(value, Message | Moment) else value


class Refusal(Exception):
    """A refusal worded for a person: ``message`` in the reader's language where a person reads it
    (:meth:`Translator.render`), ``str()`` in English for logs, the API and the command line."""

    def __init__(self, message: Message | str) -> None:
        super().__init__(str(message))
        self.message = message


class Translator:
    """The texts of one language: ``gettext`` and ``ngettext`` fill named placeholders, ``render`` words a
    :class:`Message`, ``moment`` writes a date and time."""

    __slots__ = ("_translations", "language")

    def __init__(self, language: str, translations: gettext.NullTranslations) -> None:
        self.language = language
        self._translations = translations

    def gettext(self, msgid: str, /, **params: object) -> str:
        return _fill(self._translations.gettext(msgid), params, msgid)

    def ngettext(self, singular: str, plural: str, n: int, /, **params: object) -> str:
        source = singular if n == 1 else plural
        return _fill(self._translations.ngettext(singular, plural, n), params, source)

    def pgettext(self, context: str, msgid: str, /, **params: object) -> str:
        """``msgid`` as meant in ``context``: a word that means two things (a post's state "pending", the
        command ``pending``) gets a translation per meaning."""
        return _fill(self._translations.pgettext(context, msgid), params, msgid)

    def render(self, text: Message | str) -> str:
        """A :class:`Message` in this language; a plain string (a text from a part that is not translated
        yet, or a person's own words) as it is."""
        if isinstance(text, Message):
            params = {key: self._value(value) for key, value in text.params}
            if text.context is not None:
                return self.pgettext(text.context, text.msgid, **params)
            return self.gettext(text.msgid, **params)
        return text

    def _value(self, value: object) -> object:
        if isinstance(value, Message):
            return self.render(value)
        if isinstance(value, Moment):
            return self.moment(value.when, value.zone)
        return value

    def moment(self, when: datetime, zone: ZoneInfo) -> str:
        from babel.dates import format_datetime  # Babel only where a date is written for a person

        return str(format_datetime(when, MOMENT_PATTERN, tzinfo=zone, locale=self.language))

    def __repr__(self) -> str:
        return f"Translator({self.language!r})"


# The source language itself: every msgid as written. What a part without catalogues (a test) shows.
SOURCE = Translator(SOURCE_LANGUAGE, gettext.NullTranslations())


def language_tag(tag: str | None, languages: Iterable[str]) -> str | None:
    """The catalogue language a language tag asks for: ``nl``, ``nl-BE``, ``NL`` and ``nl_NL`` are
    ``nl``; None when there is no catalogue for it (or no tag)."""
    if not tag or not tag.strip():
        return None
    wanted = tag.strip().replace("-", "_").lower()
    known = {language.lower(): language for language in languages}
    return known.get(wanted) or known.get(wanted.partition("_")[0])


def choose_language(directory: str | None, platform_locale: str | None, default: str, languages: Iterable[str]) -> str:
    """The language a person reads prikbord in: their language in the company directory, else the locale
    their platform tells (Telegram's ``language_code``, a browser's Accept-Language), else the configured
    default. A language without a catalogue is passed over for the next one."""
    known = tuple(languages)
    return language_tag(directory, known) or language_tag(platform_locale, known) or default


def accepted_language(header: str | None, languages: Iterable[str]) -> str | None:
    """The most preferred language of an HTTP ``Accept-Language`` header that has a catalogue, or None."""
    known = tuple(languages)
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate((header or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag and tag != "*" and quality > 0:
            ranked.append((-quality, index, tag))
    for _, _, tag in sorted(ranked):
        found = language_tag(tag, known)
        if found is not None:
            return found
    return None


def catalogue_path(language: str, locale_dir: Path = LOCALE_DIR, suffix: str = ".po") -> Path:
    return locale_dir / language / "LC_MESSAGES" / f"{DOMAIN}{suffix}"


def available_languages(locale_dir: Path = LOCALE_DIR) -> tuple[str, ...]:
    """The languages with a catalogue (compiled or not), the source language always among them."""
    found = {SOURCE_LANGUAGE}
    if locale_dir.is_dir():
        for entry in locale_dir.iterdir():
            if any(catalogue_path(entry.name, locale_dir, suffix).is_file() for suffix in (".po", ".mo")):
                found.add(entry.name)
    return tuple(sorted(found))


def compile_catalogue(po: Path) -> bytes:
    """A ``.po`` file compiled to ``.mo`` bytes with Babel (fuzzy entries left out, as msgfmt does)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with po.open("rb") as source:
        catalog = read_po(source)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    return compiled.getvalue()


def _read_catalogue(language: str, locale_dir: Path) -> gettext.NullTranslations:
    po = catalogue_path(language, locale_dir)
    mo = catalogue_path(language, locale_dir, ".mo")
    if mo.is_file() and (not po.is_file() or mo.stat().st_mtime >= po.stat().st_mtime):
        with mo.open("rb") as compiled:
            return gettext.GNUTranslations(compiled)
    if po.is_file():
        return gettext.GNUTranslations(io.BytesIO(compile_catalogue(po)))
    return gettext.NullTranslations()


class Catalogues:
    """Every language's translator, read once."""

    def __init__(self, translations: Mapping[str, gettext.NullTranslations]) -> None:
        self._translators = {language: Translator(language, found) for language, found in translations.items()}
        self._translators.setdefault(SOURCE_LANGUAGE, SOURCE)

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(sorted(self._translators))

    def translator(self, language: str) -> Translator:
        """The translator of ``language``; the source language's for one without a catalogue."""
        return self._translators.get(language) or self._translators[SOURCE_LANGUAGE]

    def choose(self, directory: str | None, platform_locale: str | None, default: str) -> Translator:
        return self.translator(choose_language(directory, platform_locale, default, self._translators))


@functools.cache
def load_catalogues(locale_dir: Path = LOCALE_DIR) -> Catalogues:
    """The catalogues under ``locale_dir``, read (and, from ``.po``, compiled) once per process."""
    return Catalogues({language: _read_catalogue(language, locale_dir) for language in available_languages(locale_dir)})
