"""What a command handler gets and gives back. Handlers are plain async functions."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from adapters.base import CommandIssued
from bot.clock import Clock
from bot.i18n import SOURCE, Message, Translator
from bot.services.engagement import EngagementService
from bot.services.publishing import PublishingService
from bot.services.roles import Role
from content.db import Store

if TYPE_CHECKING:
    from bot.services.editing import EditingService
    from bot.services.guided import GuidedPosting
    from bot.services.languages import PersonLanguages
    from bot.services.linking import LinkingService
    from bot.services.post_forms import PostForms


@dataclass(frozen=True)
class Services:
    """Everything command handlers may use, wired in bot/app.py."""

    store: Store
    publishing: PublishingService
    engagement: EngagementService
    clock: Clock
    zone: ZoneInfo
    linking: LinkingService | None = None  # /link, /whoami, /unlink (bot/commands/people.py)
    languages: PersonLanguages | None = None  # None: every answer in the source language, English
    editing: EditingService | None = None  # `edit` (bot/commands/moderation.py)
    guided: GuidedPosting | None = None  # `post` without arguments: step by step (bot/services/guided.py)
    post_forms: PostForms | None = None  # `post` without arguments opens a form where there is one


@dataclass(frozen=True)
class CommandContext:
    command: CommandIssued
    role: Role
    services: Services
    translator: Translator = SOURCE  # the language of the person who issued the command

    def gettext(self, msgid: str, /, **params: object) -> str:
        """``msgid`` in the person's language, its ``%(name)s`` placeholders filled from ``params``."""
        return self.translator.gettext(msgid, **params)

    def ngettext(self, singular: str, plural: str, n: int, /, **params: object) -> str:
        return self.translator.ngettext(singular, plural, n, **params)

    def pgettext(self, context: str, msgid: str, /, **params: object) -> str:
        return self.translator.pgettext(context, msgid, **params)

    def render(self, text: Message | str) -> str:
        return self.translator.render(text)

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
    usage: str  # usage and summary are msgids (marked with N_), translated where help shows them
    summary: str
    handler: Handler
    aliases: tuple[str, ...] = ()
