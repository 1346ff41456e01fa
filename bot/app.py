"""The composition root: every part of prikbord is built and wired here, explicitly. No globals, no
service locator: a test builds an App with its own settings, clock and adapters."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, TextIO
from zoneinfo import ZoneInfo

from rich.console import Console

from adapters.base import Adapter, Rate
from adapters.console.adapter import ConsoleAdapter
from adapters.markup import MarkupParser
from bot.clock import Clock, SystemClock
from bot.commands.base import Services
from bot.commands.router import CommandRouter
from bot.config import ConfigError, Settings
from bot.services.adapter_state import AdapterStateStore
from bot.services.answers import PacedAnswers
from bot.services.audience import AudienceService
from bot.services.background import BackgroundTasks
from bot.services.compose import Composer, click_url_for
from bot.services.counters import CounterRefresher
from bot.services.dispatch import Dispatcher, DispatchPolicy
from bot.services.edit_sync import EditSync
from bot.services.editing import EditingService
from bot.services.engagement import EngagementService
from bot.services.form_words import created_text
from bot.services.guided import GuidedPosting, start_links
from bot.services.importing import Importer, poll_feed
from bot.services.inbound import InboundRouter
from bot.services.languages import ChannelLanguages, PersonLanguages
from bot.services.linking import LinkingService, private_sender
from bot.services.notify import ModeratorNotifier
from bot.services.post_forms import PostForms, serve_post_forms
from bot.services.privacy import PrivacyService
from bot.services.publishing import ModerationPolicy, PublishingService
from bot.services.rate_windows import RateBudget
from bot.services.receivers import ReceiverOwnership
from bot.services.reminders import ReminderService
from bot.services.roles import Roles
from bot.services.shared_rates import SharedRates
from bot.services.slack_home import must_reads_home
from bot.services.status import StatusPostService
from bot.web.deps import WebDeps
from bot.web.metrics import Metrics
from bot.web.previews import preview_functions
from content import posts
from content.db import Store, create_store
from content.migrate import upgrade
from scheduler.service import SchedulerOptions, SchedulerService

if TYPE_CHECKING:
    from bot.web.server import WebServer
    from content.directory import SlackLookup

log = logging.getLogger("prikbord.app")

# How long a stop waits for command answers still waiting their turn (a 429's retry_after) before it
# gives them up; each given-up answer is recorded on its command.
ANSWER_DRAIN_SECONDS = 5.0


class App:
    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock | None = None,
        store: Store | None = None,
        adapters: Mapping[str, Adapter] | None = None,
        console_input: TextIO | None = None,
        console_output: Console | None = None,
        dispatch_policy: DispatchPolicy | None = None,
        counter_debounce: float | None = None,
        engagement_batch: int = 256,
    ) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self.zone = ZoneInfo(settings.timezone)
        self.store = store or create_store(settings.database.url)
        self._owns_store = store is None
        self.roles = Roles(settings.moderation.moderators, settings.moderation.admins)
        self.adapter_state = AdapterStateStore(self.store)
        # The directory import's Slack accounts given by email: looked up through the Slack adapter built
        # from the config (scope users:read.email); None without one.
        self.slack_lookup: SlackLookup | None = None
        self.adapters: dict[str, Adapter] = (
            dict(adapters) if adapters is not None else self._build_adapters(console_input, console_output)
        )
        # Only with the web app on and a public URL can a click come back to us.
        channel_languages = ChannelLanguages(
            ((c.platform, c.chat_address, c.language) for c in settings.channels), settings.i18n.default
        )
        self.composer = Composer(
            MarkupParser(),
            self.zone,
            click_url_for(settings.web.public_url if settings.web_enabled else None),
            channel_languages.for_chat,
        )
        # One rate budget per platform, shared by deliveries and answers, so answers wait their turn.
        shared = settings.dispatch.share_rate_limits and self.store.is_postgres  # several instances possible
        self.rate_budget = RateBudget(self.adapters, SharedRates(self.store) if shared else None)
        self.answers = PacedAnswers(self.rate_budget)
        # Who reads which language (bot/i18n.py): the directory's, else the platform's, else [i18n] default.
        self.languages = PersonLanguages(self.store, settings.i18n.default, adapters=self.adapters)
        self.notifier = ModeratorNotifier(self.adapters, self.roles, self.answers.send_private, self.languages)
        self.dispatcher = Dispatcher(
            self.store,
            self.adapters,
            self.composer,
            self.notifier,
            self.clock,
            dispatch_policy or DispatchPolicy(lease=timedelta(seconds=settings.dispatch.lease)),
            budget=self.rate_budget,
        )
        self.metrics = Metrics()
        self.dispatcher.on_send_timed(self.metrics.observe_send)
        self.dispatcher.on_rate_limited(self.metrics.observe_rate_limited)
        self.web: WebServer | None = None
        debounce = counter_debounce if counter_debounce is not None else (0.0 if self._console_only else 2.0)
        self.counters = CounterRefresher(self.store, self.adapters, self.composer, debounce)
        self.engagement = EngagementService(
            self.store, self.clock, self.counters, max_batch=engagement_batch, languages=self.languages
        )
        self.dispatcher.on_sent(self.engagement.remember_message)
        self.publishing = PublishingService(
            self.store,
            self.clock,
            self.adapters,
            self.composer,
            ModerationPolicy(settings.moderation.require_call_to_action, settings.moderation.open_posting),
            self.dispatcher.wake,
            quiet_hours=settings.quiet_hours.window(settings.timezone),
            tell_moderators=self.notifier.tell,
        )
        # Edits of published posts: stored at once, the copies edited by the worker within the rate windows.
        self.edit_sync = EditSync(self.store, self.adapters, self.composer, self.clock, self.rate_budget)
        self.editing = EditingService(self.store, self.clock, self.adapters, self.composer, self.edit_sync.wake)
        self.status_posts = StatusPostService(
            settings.status_posts, self.store, self.publishing, self.notifier.tell, self.clock, settings.timezone
        )
        self.reminders = ReminderService(
            self.store,
            self.clock,
            self.adapters,
            self.notifier.tell,
            self.zone,
            settings.reminders.before,
            enabled=settings.reminders.enabled,
            send_private=self.answers.send_private,
            languages=self.languages,
        )
        self.scheduler = SchedulerService(
            self.store,
            self.clock,
            self.publishing,
            status=self.status_posts,
            reminders=self.reminders,
            tell=self.notifier.tell,
            options=SchedulerOptions(
                sweep_interval=settings.scheduler.sweep_interval, leader_retry=settings.scheduler.leader_retry
            ),
        )
        self.publishing.on_change(self.scheduler.post_changed)
        self.linking = LinkingService(
            self.store, self.clock, settings.sso, settings.web.public_url,
            private_sender(self.adapters, self.answers.send_private), self.engagement.forget_people, self.languages,
        )
        self.privacy = PrivacyService(self.store, self.clock, self.engagement.forget_people)
        self.guided = GuidedPosting(  # `post` without arguments, step by step
            self.store, self.clock, self.zone, self.publishing, self.roles, self.answers.sender(self.adapters),
            created_text, self.languages, start_links(self.adapters),
        )
        self.post_forms = PostForms(  # `post` without arguments on Slack: its modal, served by the Slack adapter
            self.store, self.clock, self.zone, self.publishing, self.roles, self.composer, self.adapters,
            languages=self.languages, require_call_to_action=settings.moderation.require_call_to_action,
        )
        serve_post_forms(self.adapters, self.post_forms)
        self.services = Services(
            self.store, self.publishing, self.engagement, self.clock, self.zone, self.linking, self.languages,
            editing=self.editing, guided=self.guided, post_forms=self.post_forms,
        )
        # Answers go out beside the inbound path, so one waiting out a 429 holds back no later update;
        # the console alone answers inline, as a conversation in a terminal does.
        self.answer_tasks = BackgroundTasks("command answers")
        self.commands = CommandRouter(
            self.services,
            self.roles,
            self.adapters,
            send_answer=self.answers.reply,
            answer_later=None if self._console_only else self.answer_tasks.spawn,
        )
        self.importer = Importer(
            self.store, self.clock, self.publishing, require_call_to_action=settings.moderation.require_call_to_action
        )
        self.web_deps = WebDeps(
            settings=settings,
            store=self.store,
            clock=self.clock,
            zone=self.zone,
            adapters=self.adapters,
            previewers=preview_functions() if settings.web_enabled else {},
            composer=self.composer,
            publishing=self.publishing,
            engagement=self.engagement,
            wake_dispatcher=self.dispatcher.wake,
            click_url=self.composer.click_url,
            metrics=self.metrics,
            linking=self.linking,
            privacy=self.privacy,
            platform_health=self.dispatcher.health,
            slack_lookup=self.slack_lookup,
            languages=self.languages,
            editing=self.editing,
        )
        self.audience = AudienceService(self.store, self.clock, self.adapters, settings.audience.refresh)
        self.inbound = InboundRouter(
            self.store, self.clock, self.commands, self.engagement, self.notifier, self.audience, self.guided
        )
        self._started: list[Adapter] = []
        # Telegram polling and the Matrix sync: on PostgreSQL, in one instance at a time.
        self.receivers = ReceiverOwnership(self.store, self.adapters.values(), settings.scheduler.leader_retry)
        # Member lists too, by one instance: three reading 300 Slack channels would spend the tier three times.
        self.receivers.also(
            "prikbord-audience", "the member-list refresh", self.audience.start, self.audience.stop_refreshing
        )
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def _console_only(self) -> bool:
        return list(self.adapters) == ["console"]

    def _build_adapters(self, console_input: TextIO | None, console_output: Console | None) -> dict[str, Adapter]:
        """One adapter per configured platform. SDK packages are imported only when configured."""
        settings = self.settings
        built: dict[str, Adapter] = {}
        if settings.console_enabled:
            built["console"] = ConsoleAdapter(input_stream=console_input, output=console_output)
        if settings.telegram_enabled:
            from adapters.telegram.adapter import TelegramAdapter

            telegram = settings.telegram
            assert telegram.token is not None
            public = (settings.web.public_url or "").rstrip("/")
            try:
                built["telegram"] = TelegramAdapter(
                    token=telegram.token.get_secret_value(),
                    api_base_url=telegram.api_base_url,
                    mode=telegram.mode,
                    webhook_url=f"{public}/telegram/webhook" if public else None,
                    webhook_secret=telegram.webhook_secret.get_secret_value() if telegram.webhook_secret else None,
                    moderator_ids=self.roles.user_ids("telegram"),
                    receive_on_start=not self.store.is_postgres,  # there: while this instance owns it
                    paid_broadcast_rate=telegram.paid_broadcast_rate,
                )
            except ValueError as exc:
                raise ConfigError(str(exc)) from None
        if settings.matrix_enabled:
            from adapters.matrix.adapter import MatrixAdapter

            matrix = settings.matrix
            if not matrix.user_id:
                raise ConfigError("matrix.homeserver is set but matrix.user_id is not")
            try:
                built["matrix"] = MatrixAdapter(
                    homeserver=matrix.homeserver or "",
                    user_id=matrix.user_id,
                    access_token=matrix.access_token.get_secret_value() if matrix.access_token else None,
                    password=matrix.password.get_secret_value() if matrix.password else None,
                    device_id=matrix.device_id,
                    command_prefix=matrix.command_prefix,
                    allowed_servers=matrix.allowed_servers,
                    state_load=self.adapter_state.load,
                    state_save=self.adapter_state.save,
                    receive_on_start=not self.store.is_postgres,
                )
            except ValueError as exc:
                raise ConfigError(f"[matrix] {exc}") from None
        if settings.slack_enabled:
            from adapters.slack.adapter import SlackAdapter

            slack = settings.slack
            assert slack.bot_token is not None
            if slack.signing_secret is None:
                # Socket Mode too: the app's signing secret is what bolt verifies requests with.
                raise ConfigError(
                    "slack.bot_token is set but slack.signing_secret is not: set PRIKBORD_SLACK__SIGNING_SECRET "
                    "to the app's signing secret (Basic Information in the Slack app settings)"
                )
            try:
                slack_adapter = SlackAdapter(
                    bot_token=slack.bot_token.get_secret_value(),
                    signing_secret=slack.signing_secret.get_secret_value(),
                    api_base_url=slack.api_base_url,
                    app_token=slack.app_token.get_secret_value() if slack.app_token else None,
                    open_rate=Rate(slack.open_rate_per_minute, 60.0),
                    home_view=lambda user: must_reads_home(self.store, self.clock, self.composer, user, self.languages),
                )
            except ValueError as exc:
                raise ConfigError(str(exc)) from None
            built["slack"] = slack_adapter
            self.slack_lookup = slack_adapter.lookup_emails
        return built

    # -- lifecycle ------------------------------------------------------------------------------

    async def prepare_store(self) -> None:
        """Migrate the schema and make the channels table match the config."""
        await upgrade(self.store)
        configured = [(c.name, c.platform, c.chat_address, c.tags) for c in self.settings.effective_channels()]
        async with self.store.transaction() as session:
            await posts.sync_channels(session, configured)

    async def start(self) -> None:
        await self.prepare_store()
        await self.engagement.start()
        await self.dispatcher.start()
        await self.edit_sync.start()
        for adapter in self.adapters.values():
            if isinstance(adapter, ConsoleAdapter):
                adapter.set_settle(self.settle)
            await adapter.start(self.inbound)
            self._started.append(adapter)
        if self.store.is_postgres:
            await self.receivers.start()
        else:
            await self.audience.start()  # member lists now, then every [audience] refresh
        if self.settings.web_enabled:
            assert self.settings.web.port is not None
            # The web stack (FastAPI, uvicorn) loads only when the web side runs.
            from bot.web.app import create_web_app
            from bot.web.server import WebServer

            self.web = WebServer(create_web_app(self.web_deps), self.settings.web.host, self.settings.web.port)
            await self.web.start()
        for index, _feed in enumerate(self.settings.feeds):
            self._tasks.append(asyncio.create_task(self._poll_feed_forever(index), name=f"feed-{index}"))
        if self.settings.privacy.keep_replies_days:
            purge = self.privacy.purge_replies_forever(self.settings.privacy.keep_replies_days)
            self._tasks.append(asyncio.create_task(purge, name="purge-replies"))
        if self.settings.scheduler.enabled:
            # Scheduled posts, the due-post sweep, status posts and reminders (leader-elected on PostgreSQL).
            await self.scheduler.start()

    async def settle(self) -> None:
        """Let everything triggered so far finish: due posts published, deliveries sent, counts
        stored and counters edited. Scripts and tests call it between steps."""
        await self.publishing.publish_due()
        await self.dispatcher.settle()
        await self.edit_sync.settle()
        await self.counters.flush()
        await self.audience.flush()

    async def run_until_input_ends(self) -> None:
        """Console-only runs end when the script ends, after outstanding deliveries are sent."""
        await asyncio.gather(*(a.wait_idle() for a in self.adapters.values()))
        await self.settle()

    async def stop(self) -> None:
        if self.web is not None:
            await self.web.stop()
            self.web = None
        await self.receivers.stop()  # no more polling or syncing; what was handled is confirmed
        await self.scheduler.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        # Sends under way finish and the last counter edits go out while the adapters still run.
        await self.answer_tasks.drain(ANSWER_DRAIN_SECONDS)
        await self.edit_sync.stop()
        await self.dispatcher.stop()
        await self.counters.stop()
        await self.rate_budget.close()
        for adapter in reversed(self._started):
            with contextlib.suppress(Exception):
                await adapter.stop()
        await self.audience.stop()
        await self.engagement.stop()
        await self.adapter_state.stop()
        if self._owns_store:
            await self.store.close()

    async def _poll_feed_forever(self, index: int) -> None:
        """Import one ``[[feeds]]`` entry every ``interval`` seconds. Polling is idempotent (items are
        de-duplicated by guid or URL), so several instances polling the same feed store each item once."""
        feed = self.settings.feeds[index]
        while True:
            await poll_feed(self.importer, feed)  # never raises: failures are logged and reported
            await asyncio.sleep(feed.interval)
