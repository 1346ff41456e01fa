"""Who may do what: employee < moderator < admin, by platform identity (``telegram:123``)."""

from __future__ import annotations

from collections.abc import Iterable
from enum import IntEnum

from adapters.base import UserRef


class Role(IntEnum):
    EMPLOYEE = 1
    MODERATOR = 2
    ADMIN = 3


class Roles:
    def __init__(self, moderators: Iterable[str], admins: Iterable[str] = ()) -> None:
        self._moderators = {m.strip() for m in moderators}
        self._admins = {a.strip() for a in admins}

    def role_of(self, user: UserRef) -> Role:
        if user.key in self._admins:
            return Role.ADMIN
        if user.key in self._moderators:
            return Role.MODERATOR
        return Role.EMPLOYEE

    @property
    def moderator_keys(self) -> list[str]:
        return sorted(self._moderators | self._admins)

    def user_ids(self, platform: str) -> list[str]:
        """Bare user ids of the moderators and admins on one platform (for command menus)."""
        prefix = f"{platform}:"
        return [key.removeprefix(prefix) for key in self.moderator_keys if key.startswith(prefix)]
