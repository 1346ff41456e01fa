"""Telling the moderators: a bot removed from a chat, a delivery that failed, a source that broke."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING

from adapters.base import Adapter, DeliveryError, UserRef
from bot.i18n import SOURCE, Message
from bot.services.roles import Roles

if TYPE_CHECKING:
    from bot.services.languages import PersonLanguages

log = logging.getLogger("prikbord.notify")

# How a private message goes out (bot/app.py passes the rate-paced one); default: the adapter's own call.
PrivateSender = Callable[[Adapter, UserRef, str], Awaitable[bool]]


async def send_directly(adapter: Adapter, user: UserRef, text: str) -> bool:
    return await adapter.send_private(user, text)


class ModeratorNotifier:
    def __init__(
        self,
        adapters: Mapping[str, Adapter],
        roles: Roles,
        send_private: PrivateSender = send_directly,
        languages: PersonLanguages | None = None,
    ) -> None:
        self._adapters = adapters
        self._roles = roles
        self._send_private = send_private
        self._languages = languages  # None: every note in English

    async def tell(self, text: Message | str) -> int:
        """Send ``text`` privately to every moderator on a running platform, each in their language;
        returns how many got it. Always logged too (in English), so an operator without a moderator chat sees it.
        """
        log.warning("moderators: %s", text)
        reached = 0
        for key in self._roles.moderator_keys:
            platform, _, user_id = key.partition(":")
            adapter = self._adapters.get(platform)
            if adapter is None:
                continue
            moderator = UserRef(platform, user_id, user_id)
            t = SOURCE if self._languages is None else await self._languages.for_user(moderator)
            try:
                if await self._send_private(adapter, moderator, f"⚠ {t.render(text)}"):
                    reached += 1
            except DeliveryError as exc:
                log.warning("could not tell moderator %s: %s", key, exc)
        return reached
