"""Which language each person reads prikbord in: :func:`bot.i18n.choose_language` with their language
from the company directory, looked up in the store for the account that is acting (or that a /link
link belongs to)."""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping

from sqlalchemy.ext.asyncio import AsyncSession

from adapters.base import Adapter, UserRef
from bot.i18n import Catalogues, Translator, accepted_language, language_tag, load_catalogues
from content.db import Store
from content.linking import link_token, link_token_for_state
from content.models import Employee
from content.people import find_identity

log = logging.getLogger("prikbord.languages")


class ChannelLanguages:
    """The language of each channel's posts (buttons, context line): a group's post is read by many people at
    once, so it is worded once for all of them, in ``[[channels]] language``, else ``[i18n] default``. A
    channel made outside the config (the admin API, discovery) reads the default."""

    def __init__(
        self,
        channels: Iterable[tuple[str, str, str | None]],
        default: str,
        catalogues: Callable[[], Catalogues] = load_catalogues,
    ) -> None:
        self._languages = {(platform, chat_id): language for platform, chat_id, language in channels if language}
        self._default = default
        self._catalogues = catalogues

    def for_chat(self, platform: str, chat_id: str) -> Translator:
        return self._catalogues().translator(self._languages.get((platform, chat_id), self._default))


async def directory_language(session: AsyncSession, platform: str, user_id: str) -> str | None:
    """The directory's language of the employee this account belongs to; None for an account prikbord
    has not seen, or an employee without one."""
    identity = await find_identity(session, platform, user_id)
    if identity is None:
        return None
    employee = await session.get(Employee, identity.employee_id)
    return employee.language if employee is not None else None


class PersonLanguages:
    """Translators per person. ``default`` is ``[i18n] default``; the catalogues are read on first use
    (once per process), so a command line that never words an answer never loads them."""

    # A burst of presses must not cost a store read each before its answer (SQLite's reads queue behind
    # the writer there): a person's directory language is kept this long, then read again.
    KEPT_SECONDS = 60.0
    KEPT_PEOPLE = 10_000

    def __init__(
        self,
        store: Store,
        default: str,
        catalogues: Callable[[], Catalogues] = load_catalogues,
        adapters: Mapping[str, Adapter] | None = None,
    ) -> None:
        self._store = store
        self._default = default
        self._catalogues = catalogues
        self._adapters = adapters or {}  # a platform that tells the locale only when asked (Slack)
        self._known: OrderedDict[tuple[str, str], tuple[float, str | None]] = OrderedDict()

    @property
    def default(self) -> Translator:
        return self._catalogues().translator(self._default)

    def choose(self, directory: str | None, platform_locale: str | None = None) -> Translator:
        """For someone whose directory language (or its absence) is known already, as a reminder's employee."""
        return self._catalogues().choose(directory, platform_locale, self._default)

    async def for_user(self, user: UserRef, *, fresh: bool = False) -> Translator:
        """For the person behind an event: the directory, else the locale their platform sent along (or
        tells when asked: Slack's users.info), else the default. ``fresh`` reads the directory again (a
        link just made)."""
        directory = await self._directory(user.platform, user.user_id, fresh=fresh)
        catalogues = self._catalogues()
        if directory is None or language_tag(directory, catalogues.languages) is None:
            locale = user.locale or await self._asked_locale(user)
            return catalogues.choose(directory, locale, self._default)
        return catalogues.choose(directory, None, self._default)

    async def _asked_locale(self, user: UserRef) -> str | None:
        adapter = self._adapters.get(user.platform)
        if adapter is None:
            return None
        try:
            return await adapter.user_locale(user.user_id)
        except Exception:  # an answer in the default language beats no answer
            log.warning("the locale of %s could not be asked", user.key, exc_info=True)
            return None

    async def for_link(self, *, token: str = "", state: str = "", accept_language: str | None = None) -> Translator:
        """For the browser of a /link sign-in: the language of the messenger account the link (or its
        sign-in ``state``) belongs to (its directory's, else the one its platform tells when asked: Slack's),
        else the browser's Accept-Language, else the default."""
        directory, account = await self._link_account(token, state) if token or state else (None, None)
        catalogues = self._catalogues()
        if language_tag(directory, catalogues.languages) is None and account is not None:
            directory = await self._asked_locale(account)  # a platform's locale, ahead of the browser's
        return catalogues.choose(directory, accepted_language(accept_language, catalogues.languages), self._default)

    async def _link_account(self, token: str, state: str) -> tuple[str | None, UserRef | None]:
        """The directory language of the account a /link link belongs to, and that account."""
        try:
            async with self._store.sessions() as session:
                found = await (link_token(session, token) if token else link_token_for_state(session, state))
                if found is None:
                    return None, None
                account = UserRef(found.platform, found.platform_user_id, found.display_name or "")
                return await directory_language(session, found.platform, found.platform_user_id), account
        except Exception:
            log.warning("the language of a /link page could not be looked up; it uses the browser's", exc_info=True)
            return None, None

    async def _directory(self, platform: str, user_id: str, *, fresh: bool = False) -> str | None:
        key = (platform, user_id)
        kept = self._known.get(key)
        if not fresh and kept is not None and time.monotonic() - kept[0] < self.KEPT_SECONDS:
            return kept[1]
        # An answer in the default language beats no answer: a store that cannot be read here says so in
        # the log, and the command or press goes on.
        try:
            async with self._store.sessions() as session:
                language = await directory_language(session, platform, user_id)
        except Exception:
            log.warning("the directory language of %s:%s could not be looked up", platform, user_id, exc_info=True)
            return None
        self._known[key] = (time.monotonic(), language)
        self._known.move_to_end(key)
        while len(self._known) > self.KEPT_PEOPLE:
            self._known.popitem(last=False)
        return language
