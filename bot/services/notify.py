"""Telling the moderators: a bot removed from a chat, a delivery that failed, a source that broke."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping

from adapters.base import Adapter, DeliveryError, UserRef
from bot.services.roles import Roles

log = logging.getLogger("prikbord.notify")

# How a private message goes out (bot/app.py passes the rate-paced one); default: the adapter's own call.
PrivateSender = Callable[[Adapter, UserRef, str], Awaitable[bool]]


async def send_directly(adapter: Adapter, user: UserRef, text: str) -> bool:
    return await adapter.send_private(user, text)


class ModeratorNotifier:
    def __init__(
        self, adapters: Mapping[str, Adapter], roles: Roles, send_private: PrivateSender = send_directly
    ) -> None:
        self._adapters = adapters
        self._roles = roles
        self._send_private = send_private

    async def tell(self, text: str) -> int:
        """Send ``text`` privately to every moderator on a running platform; returns how many got it.

        Always logged too, so an operator without a moderator chat still sees it.
        """
        log.warning("moderators: %s", text)
        reached = 0
        for key in self._roles.moderator_keys:
            platform, _, user_id = key.partition(":")
            adapter = self._adapters.get(platform)
            if adapter is None:
                continue
            try:
                if await self._send_private(adapter, UserRef(platform, user_id, user_id), f"⚠ {text}"):
                    reached += 1
            except DeliveryError as exc:
                log.warning("could not tell moderator %s: %s", key, exc)
        return reached
