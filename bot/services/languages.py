"""Which language each person reads prikbord in: :func:`bot.i18n.choose_language` with their language
from the company directory, looked up in the store for the account that is acting (or that a /link
link belongs to)."""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession

from adapters.base import UserRef
from bot.i18n import Catalogues, Translator, accepted_language, load_catalogues
from content.db import Store
from content.linking import link_token, link_token_for_state
from content.models import Employee
from content.people import find_identity

log = logging.getLogger("prikbord.languages")


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

    def __init__(self, store: Store, default: str, catalogues: Callable[[], Catalogues] = load_catalogues) -> None:
        self._store = store
        self._default = default
        self._catalogues = catalogues
        self._known: OrderedDict[tuple[str, str], tuple[float, str | None]] = OrderedDict()

    @property
    def default(self) -> Translator:
        return self._catalogues().translator(self._default)

    def choose(self, directory: str | None, platform_locale: str | None = None) -> Translator:
        """For someone whose directory language (or its absence) is known already, as a reminder's employee."""
        return self._catalogues().choose(directory, platform_locale, self._default)

    async def for_user(self, user: UserRef) -> Translator:
        """For the person behind an event: the directory, else the locale their platform sent along."""
        return self.choose(await self._directory(user.platform, user.user_id), user.locale)

    async def for_link(self, *, token: str = "", state: str = "", accept_language: str | None = None) -> Translator:
        """For the browser of a /link sign-in: the directory language of the account the link (or its
        sign-in ``state``) belongs to, else the browser's Accept-Language, else the default."""
        directory = await self._link_directory(token, state) if token or state else None
        catalogues = self._catalogues()
        return catalogues.choose(directory, accepted_language(accept_language, catalogues.languages), self._default)

    async def _link_directory(self, token: str, state: str) -> str | None:
        try:
            async with self._store.sessions() as session:
                found = await (link_token(session, token) if token else link_token_for_state(session, state))
                if found is None:
                    return None
                return await directory_language(session, found.platform, found.platform_user_id)
        except Exception:
            log.warning("the language of a /link page could not be looked up; it uses the browser's", exc_info=True)
            return None

    async def _directory(self, platform: str, user_id: str) -> str | None:
        key = (platform, user_id)
        kept = self._known.get(key)
        if kept is not None and time.monotonic() - kept[0] < self.KEPT_SECONDS:
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
