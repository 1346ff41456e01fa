"""Slack users' languages. Slack sends no locale with its events (nor slash commands or button presses), so
the person's ``locale`` (like "nl-NL") is asked with ``users.info`` and ``include_locale=true`` (scope
``users:read``), once per person, and kept.

Kept in memory, not stored on the person's Identity: it is Slack's setting, which the person changes in
Slack without any event telling us, so a stored copy would go stale just the same, and a store write
on the path of an answer (a press's toast) is what SQLite queues behind the writer under a burst. The
cost is one users.info per person per process start; users.info is a tier-4 method (100+ a minute).

An answer never waits on the lookup for long: a few lookups at a time, a short timeout, and while Slack
says 429 none; a person whose locale is not known yet gets ``[i18n] default`` this time and is asked again.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from adapters.base import DeliveryError, RateLimited

log = logging.getLogger(__name__)

METHOD = "users.info"
AT_ONCE = 4  # lookups in flight; an answer finding them all busy does not wait
TIMEOUT = 5.0  # seconds an answer waits for its person's locale at most
KEPT_PEOPLE = 10_000
# Slack's user ids: U or W and capitals and digits ("U0PRIKBOT1"). Anything else in a payload is not asked
# about: a forged or mangled id of 50,000 characters would otherwise become a users.info URL no server takes.
_USER_ID = re.compile(r"[UW][A-Z0-9]{2,31}")

WebCall = Callable[[str, Awaitable[Any]], Awaitable[Mapping[str, Any]]]
"""The adapter's ``_call(method, call)``: Slack's answer's data, or a DeliveryError (RateLimited on 429)."""


def could_be_user_id(text: str) -> bool:
    """Whether ``text`` has the shape of a Slack user id, so it is worth a users.info."""
    return _USER_ID.fullmatch(text) is not None


def locale_in(data: Mapping[str, Any]) -> str | None:
    """The ``user.locale`` of a users.info answer (asked with include_locale), or None when it has none."""
    user = data.get("user")
    locale = user.get("locale") if isinstance(user, Mapping) else None
    return locale if isinstance(locale, str) and locale.strip() else None


class UserLocales:
    """``locale_of(user_id)``: the person's Slack locale, asked once and kept (at most ``KEPT_PEOPLE``)."""

    def __init__(self, call: WebCall, client: Callable[[], AsyncWebClient]) -> None:
        self._call = call
        self._client = client
        self._known: OrderedDict[str, str | None] = OrderedDict()
        self._slots = asyncio.Semaphore(AT_ONCE)
        self._paused_until = 0.0

    async def locale_of(self, user_id: str) -> str | None:
        if user_id in self._known:
            self._known.move_to_end(user_id)
            return self._known[user_id]
        if not could_be_user_id(user_id):
            return None
        if self._slots.locked() or time.monotonic() < self._paused_until:
            return None  # not known yet: the default language this time, asked again next time
        async with self._slots:
            try:
                asked = self._client().users_info(user=user_id, include_locale=True)
                data = await asyncio.wait_for(self._call(METHOD, asked), TIMEOUT)
            except RateLimited as exc:
                self._paused_until = time.monotonic() + exc.retry_after
                return None
            except (DeliveryError, TimeoutError) as exc:
                log.info("slack: the locale of %s is unknown for now (%s)", user_id, exc)
                return None
        locale = locale_in(data)
        self._known[user_id] = locale
        while len(self._known) > KEPT_PEOPLE:
            self._known.popitem(last=False)
        return locale
