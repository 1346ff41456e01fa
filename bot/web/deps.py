"""What the HTTP side may use, built by bot/app.py: a small frozen set, not the whole App."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from adapters.base import Adapter, Previewer
from bot.clock import Clock
from bot.config import Settings
from bot.services.compose import ClickUrl, Composer
from bot.services.editing import EditingService
from bot.services.engagement import EngagementService
from bot.services.health import PlatformHealth
from bot.services.linking import LinkingService
from bot.services.privacy import PrivacyService
from bot.services.publishing import PublishingService
from bot.web.metrics import Metrics
from content.db import Store

if TYPE_CHECKING:
    from bot.services.languages import PersonLanguages
    from content.directory import SlackLookup


@dataclass(frozen=True, slots=True)
class WebDeps:
    settings: Settings
    store: Store
    clock: Clock
    zone: ZoneInfo
    adapters: Mapping[str, Adapter]  # the running platforms: webhooks, previews, health
    previewers: Mapping[str, Previewer]  # platform → its translate.preview, for the compose page
    composer: Composer
    publishing: PublishingService
    engagement: EngagementService
    wake_dispatcher: Callable[[str], None]  # a channel switched back on may have work waiting
    click_url: ClickUrl
    metrics: Metrics
    linking: LinkingService | None = None  # /sso/… (bot/web/sso.py)
    privacy: PrivacyService | None = None  # /api/employees/{email}/export|forget (bot/web/api_people.py)
    platform_health: PlatformHealth | None = None  # the dispatcher's view: /healthz and the dashboard
    slack_lookup: SlackLookup | None = None  # the directory import's Slack emails → user ids (Slack configured)
    languages: PersonLanguages | None = None  # the language of each person's /sso/… pages (bot/web/sso.py)
    editing: EditingService | None = None  # PATCH /api/posts/{id} and the post page's edit form
