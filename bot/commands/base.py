"""What a command handler gets and gives back. Handlers are plain async functions."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from adapters.base import CommandIssued
from bot.clock import Clock
from bot.services.engagement import EngagementService
from bot.services.publishing import PublishingService
from bot.services.roles import Role
from content.db import Store

if TYPE_CHECKING:
    from bot.services.linking import LinkingService


@dataclass(frozen=True)
class Services:
    """Everything command handlers may use, wired in bot/app.py."""

    store: Store
    publishing: PublishingService
    engagement: EngagementService
    clock: Clock
    zone: ZoneInfo
    linking: LinkingService | None = None  # /link, /whoami, /unlink (bot/commands/people.py)


@dataclass(frozen=True)
class CommandContext:
    command: CommandIssued
    role: Role
    services: Services

    @property
    def now(self) -> datetime:
        return self.services.clock.now()

    @property
    def actor(self) -> str:
        return self.command.user.key


@dataclass(frozen=True)
class Reply:
    text: str
    private: bool = True


Handler = Callable[[CommandContext, str], Awaitable[Reply]]


@dataclass(frozen=True)
class CommandSpec:
    name: str
    role: Role
    usage: str
    summary: str
    handler: Handler
    aliases: tuple[str, ...] = ()
