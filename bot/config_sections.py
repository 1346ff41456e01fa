"""The config sections, one pydantic model each (``Settings`` in bot/config.py holds them)."""

from __future__ import annotations

import contextlib
import math
import os
import re
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from bot.i18n import SOURCE_LANGUAGE, available_languages
from content.chats import TOPIC_SEPARATOR, topic_chat_id

if TYPE_CHECKING:
    from scheduler.quiet import QuietHours

PLATFORMS = ("console", "telegram", "slack", "matrix")
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


_DATABASE_SCHEMES = ("sqlite", "postgresql", "postgres")


class DatabaseConfig(Section):
    url: str = "sqlite:///./prikbord.db"

    @field_validator("url")
    @classmethod
    def _supported(cls, value: str) -> str:
        scheme = value.partition(":")[0].partition("+")[0].lower()
        if scheme not in _DATABASE_SCHEMES or "://" not in value:
            shown = value.partition("://")[0] or value[:20]
            raise ValueError(
                f"{shown}:// is not supported: use sqlite:///path/prikbord.db (one instance) or "
                "postgresql://user:password@host/db (several instances)"
            )
        return value


class WebConfig(Section):
    host: str = "127.0.0.1"
    port: int | None = Field(default=None, ge=0, le=65535, description="None keeps the web app off")
    admin_token: SecretStr | None = None
    public_url: str | None = None


class ConsoleConfig(Section):
    # None: on when no messenger is configured, so a bare install has something to talk to.
    enabled: bool | None = None


class TelegramConfig(Section):
    token: SecretStr | None = None
    api_base_url: str = "https://api.telegram.org/bot"
    mode: Literal["polling", "webhook"] = "polling"
    webhook_secret: SecretStr | None = None
    # Messages/s of a paid broadcast (a post with paid_broadcast): Telegram allows up to 1,000 and charges
    # 0.1 Stars per message; the bound every instance together keeps.
    paid_broadcast_rate: float = Field(default=1000.0, gt=0, le=1000)


class SlackConfig(Section):
    bot_token: SecretStr | None = None
    signing_secret: SecretStr | None = None
    api_base_url: str = "https://slack.com/api/"
    app_token: SecretStr | None = None
    # DMs opened per minute for first private copies (conversations.open is tier 3, "50+ per minute").
    open_rate_per_minute: int = Field(default=50, ge=1)


class MatrixConfig(Section):
    homeserver: str | None = None
    user_id: str | None = None
    access_token: SecretStr | None = None
    password: SecretStr | None = None
    device_id: str | None = None
    command_prefix: str = "!"
    allowed_servers: list[str] = Field(default_factory=list)


class ChannelConfig(Section):
    name: str = Field(min_length=1)
    platform: Literal["console", "telegram", "slack", "matrix"]
    chat_id: str = Field(min_length=1)
    tags: list[str] = Field(default_factory=lambda: ["everyone"])
    # The language of the posts' buttons and context line here (many read them at once); None: [i18n] default.
    language: str | None = None
    thread_id: int | None = Field(default=None, gt=0, description="Telegram: a forum topic's message_thread_id")

    @field_validator("chat_id", mode="before")
    @classmethod
    def _chat_id_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) else value

    @field_validator("language")
    @classmethod
    def _language_has_catalogue(cls, value: str | None) -> str | None:
        return None if value is None else has_catalogue(value)

    @field_validator("thread_id")
    @classmethod
    def _thread_on_telegram(cls, value: int | None, info: ValidationInfo) -> int | None:
        if value is not None and (platform := info.data.get("platform")) != "telegram":
            raise ValueError(f"thread_id is a Telegram forum's topic; {platform} channels have none: remove it")
        if value is not None and TOPIC_SEPARATOR in info.data.get("chat_id", ""):
            raise ValueError("chat_id names a topic already (chat/thread): set chat_id to the chat's id alone")
        return value

    @property
    def chat_address(self) -> str:
        """The chat id in the store and events: ``chat_id``, or a Telegram topic's ``"<chat_id>/<thread_id>"``."""
        return topic_chat_id(self.chat_id, self.thread_id)


class ModerationConfig(Section):
    moderators: list[str] = Field(default_factory=list, description="platform:user_id")
    admins: list[str] = Field(default_factory=list)
    require_call_to_action: bool = False
    open_posting: bool = False

    @field_validator("moderators", "admins")
    @classmethod
    def _platform_ids(cls, values: list[str]) -> list[str]:
        for value in values:
            platform, sep, user = value.partition(":")
            if not sep or platform not in PLATFORMS or not user:
                raise ValueError(f"{value!r} is not platform:user_id (platform one of {', '.join(PLATFORMS)})")
        return values


_MAX_DURATION_S = 3650 * 86400
_DURATION = re.compile(r"^\s*(?:(\d+)\s*d)?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m)?\s*(?:(\d+)\s*s)?\s*$")


def parse_duration(value: Any) -> timedelta:
    """``24h``, ``90m``, ``2d``, ``1h30m``, ``45s`` (or a number of seconds) → timedelta."""
    if isinstance(value, timedelta):
        return value
    too_long = "is too long a duration: use at most 3650d (ten years)"
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value) or abs(value) > _MAX_DURATION_S:
            raise ValueError(f"{value} seconds {too_long}")
        return timedelta(seconds=value)
    match = _DURATION.match(str(value)) if isinstance(value, str) else None
    if not match or not any(match.groups()):
        raise ValueError("use a duration like 24h, 90m, 2d or 1h30m")
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    total = days * 86400 + hours * 3600 + minutes * 60 + seconds
    if total > _MAX_DURATION_S:
        raise ValueError(f"{value.strip()} {too_long}")
    return timedelta(seconds=total)


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


def machine_timezone() -> str:
    """The machine's own IANA zone: ``TZ``, else ``/etc/localtime``'s target, else ``/etc/timezone``; UTC
    when none names a known zone. The one default of the top-level ``timezone`` key."""
    candidates = [os.environ.get("TZ", "").lstrip(":")]
    localtime = Path("/etc/localtime")
    if localtime.is_symlink():
        target = str(localtime.resolve())
        if "zoneinfo/" in target:
            candidates.append(target.split("zoneinfo/", 1)[1])
    with contextlib.suppress(OSError, UnicodeDecodeError):
        candidates.append(Path("/etc/timezone").read_text(encoding="utf-8").strip())
    for name in candidates:
        if name and not name.startswith("/"):
            try:
                ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
            return name
    return "UTC"


def _check_zone(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r} (use a name like Europe/Amsterdam)") from None
    return value


class SourceConfig(Section):
    """One named value of a status post: fetched over HTTP (JSON), read from a CSV, or fixed (static)."""

    type: Literal["http", "csv", "static"] = "http"
    url: str | None = None
    # http: where the value is in the JSON document (`data.count`, `items.0.name`); unset = the whole document.
    path: str | None = None
    # Header values of the form "env:NAME" are read from the environment at fetch time (keep secrets there).
    headers: dict[str, str] = Field(default_factory=dict)
    timeout: float = Field(default=10.0, gt=0, le=300, description="seconds per attempt")
    retries: int = Field(default=2, ge=0, le=10, description="extra attempts after a transient failure")
    # csv: a file path (or url); op count | sum | first over the rows matching `where`.
    file: str | None = None
    op: Literal["count", "sum", "first"] = "count"
    column: str | None = None
    where: dict[str, str | int | float | bool] = Field(default_factory=dict)
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    # static: the value itself.
    value: Any = None

    @model_validator(mode="after")
    def _complete(self) -> SourceConfig:
        if self.type == "http" and not self.url:
            raise ValueError("an http source needs url")
        if self.type == "csv":
            if bool(self.file) == bool(self.url):
                raise ValueError("a csv source needs file or url (one of them)")
            if self.op in ("sum", "first") and not self.column:
                raise ValueError(f"op = {self.op!r} needs column (the CSV column to {self.op})")
        if self.type == "static" and "value" not in self.model_fields_set:
            raise ValueError("a static source needs value")
        if self.type != "http" and (self.path or self.headers):
            raise ValueError("path and headers are for http sources (csv sources use column and where)")
        for name, header in self.headers.items():
            if header.startswith("env:") and not header[4:].strip():
                raise ValueError(f"header {name}: write env:VARIABLE_NAME")
        return self


class StatusPostConfig(Section):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,60}$")
    cron: str
    timezone: str | None = None
    to: list[str] = Field(default_factory=lambda: ["everyone"])
    # The post's title (a template too); unset: the first line of the rendered template is the title.
    title: str | None = None
    template: str
    cta: Literal["none", "like", "acknowledge", "rsvp", "poll", "reply", "link"] = "like"
    options: list[str] = Field(default_factory=list)
    url: str | None = None
    urgent: bool = False
    # A source that fails: "post" shows its value as "unavailable", "skip" posts nothing. Moderators hear either way.
    on_error: Literal["post", "skip"] = "post"
    # How late (after downtime or a failover) a firing may still post; later ones are skipped and reported.
    misfire_grace: Duration = timedelta(minutes=15)
    sources: dict[str, SourceConfig] = Field(default_factory=dict)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return _check_zone(value)

    @field_validator("cron")
    @classmethod
    def _crontab(cls, value: str) -> str:
        from apscheduler.triggers.cron import CronTrigger

        try:
            CronTrigger.from_crontab(value)
        except ValueError as exc:
            raise ValueError(f"not a crontab expression (minute hour day month weekday): {exc}") from None
        return value

    @field_validator("template", "title")
    @classmethod
    def _template_syntax(cls, value: str | None) -> str | None:
        if value is not None:
            from scheduler.template import TemplateFailure, compile_template

            try:
                compile_template(value)
            except TemplateFailure as exc:
                raise ValueError(str(exc)) from None
        return value

    @model_validator(mode="after")
    def _sources_named_well(self) -> StatusPostConfig:
        reserved = {"now", "today", "name", "failed", "unavailable"}
        for name in self.sources:
            if not name.isidentifier() or name in reserved:
                raise ValueError(
                    f"source name {name!r} must be a template variable name (letters, digits, _), "
                    f"not one of {', '.join(sorted(reserved))}"
                )
        return self


class QuietHoursConfig(Section):
    start: str | None = None
    end: str | None = None
    timezone: str | None = None
    weekends: bool = False

    @field_validator("start", "end")
    @classmethod
    def _hhmm(cls, value: str | None) -> str | None:
        if value is not None and not _HHMM.match(value):
            raise ValueError("use HH:MM, for example 18:00")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return _check_zone(value)

    def window(self, default_zone: str) -> QuietHours | None:
        """The quiet hours in force (None: never quiet); the zone defaults to the top-level timezone."""
        from scheduler.quiet import QuietHours

        return QuietHours.parse(self.start, self.end, self.timezone or default_zone, self.weekends)


class ReminderConfig(Section):
    enabled: bool = True
    # Must-read reminders go this long before the deadline to everyone who has not acknowledged.
    before: Duration = timedelta(hours=24)


class AudienceConfig(Section):
    # The channels' member lists (Slack conversations.members, Matrix joined members, Telegram's
    # member count) are read at start and again this often; join and leave events keep them current between.
    refresh: Duration = timedelta(hours=6)


class SchedulerConfig(Section):
    enabled: bool = True
    # Safety sweep: publish due posts, close expired ones and re-check jobs, this often (seconds).
    sweep_interval: float = Field(default=10.0, ge=1, le=3600)
    # Several instances on one PostgreSQL: a follower tries to become the scheduler this often (seconds);
    # keep it well under 30 so a takeover happens within 30 seconds of the leader's death.
    leader_retry: float = Field(default=5.0, gt=0, le=25)


class DispatchConfig(Section):
    # Seconds a claimed delivery stays ours without renewal (renewed every third of it while its send is
    # under way). After a crash its deliveries are sent again within about 1.25 leases.
    lease: float = Field(default=30.0, ge=1, le=3600)
    # On PostgreSQL, every instance's sends share the platforms' rate limits through the database, so
    # several instances together stay within what the platform allows one bot (bot/services/shared_rates.py).
    share_rate_limits: bool = True


class SsoConfig(Section):
    """Single sign-on (OpenID Connect) for `/link`: the company's identity provider."""

    issuer: str | None = None  # discovery at {issuer}/.well-known/openid-configuration; None: /link is off
    client_id: str | None = None
    client_secret: SecretStr | None = None
    scopes: list[str] = Field(default_factory=lambda: ["openid", "email", "profile"])
    email_claim: str = "email"  # the ID-token claim that holds the employee's email
    # A sign-in whose email is in no directory entry creates the employee (else it is refused).
    create_employees: bool = False


class PrivacyConfig(Section):
    # Reply texts older than this many days are erased by a daily job (the counts stay); None keeps them.
    keep_replies_days: int | None = Field(default=None, ge=1, le=36500)


class I18nConfig(Section):
    """The language of people whose directory entry and platform say none (bot/i18n.py chooses)."""

    default: str = SOURCE_LANGUAGE

    @field_validator("default")
    @classmethod
    def _has_catalogue(cls, value: str) -> str:
        return has_catalogue(value)


def has_catalogue(language: str) -> str:
    """``language`` when prikbord has a catalogue for it (a config value); else a ValueError naming those it has."""
    languages = available_languages()
    if language not in languages:
        raise ValueError(
            f"there is no catalogue for language {language!r}: use one of {', '.join(languages)} "
            "(the catalogues are bot/locale/<language>/LC_MESSAGES/prikbord.po)"
        )
    return language


class FeedConfig(Section):
    url: str
    interval: int = Field(default=3600, ge=60, description="seconds")
    kind: Literal["news", "agenda", "kb"] = "news"
