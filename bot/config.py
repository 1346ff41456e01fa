"""Configuration: one TOML file plus ``PRIKBORD_<SECTION>__<KEY>`` environment overrides.

No file at all is the embedded default: SQLite at ./prikbord.db, the console adapter with one
channel ``console`` tagged ``everyone``, web off, and the machine's own time zone (``machine_timezone``).
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from bot.config_sections import (  # noqa: F401  (re-exported: callers import them from bot.config)
    _DATABASE_SCHEMES,
    _DURATION,
    _HHMM,
    _MAX_DURATION_S,
    PLATFORMS,
    AudienceConfig,
    ChannelConfig,
    ConsoleConfig,
    DatabaseConfig,
    DispatchConfig,
    FeedConfig,
    I18nConfig,
    MatrixConfig,
    ModerationConfig,
    PrivacyConfig,
    QuietHoursConfig,
    ReminderConfig,
    SchedulerConfig,
    Section,
    SlackConfig,
    SourceConfig,
    SsoConfig,
    StatusPostConfig,
    TelegramConfig,
    WebConfig,
    _check_zone,
    machine_timezone,
    parse_duration,
)

__all__ = [
    "PLATFORMS",
    "AudienceConfig",
    "ChannelConfig",
    "ConfigError",
    "ConsoleConfig",
    "DatabaseConfig",
    "DispatchConfig",
    "FeedConfig",
    "I18nConfig",
    "MatrixConfig",
    "ModerationConfig",
    "PrivacyConfig",
    "QuietHoursConfig",
    "ReminderConfig",
    "SchedulerConfig",
    "Section",
    "Settings",
    "SlackConfig",
    "SourceConfig",
    "SsoConfig",
    "StatusPostConfig",
    "TelegramConfig",
    "WebConfig",
    "environment_overrides",
    "load_settings",
    "machine_timezone",
    "merged",
    "parse_duration",
    "resolve_config_path",
    "startup_problems",
]


# ``PRIKBORD_<SECTION>__<KEY>``: an environment variable's name is the prefix, then the key's path.
ENV_PREFIX = "PRIKBORD_"
ENV_NESTING = "__"


class Settings(BaseModel):
    # Defaults are validated too: the machine's own time zone may be one Python does not know.
    model_config = ConfigDict(extra="forbid", validate_default=True)

    timezone: str = Field(default_factory=machine_timezone)
    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    web: WebConfig = Field(default_factory=WebConfig)
    console: ConsoleConfig = Field(default_factory=ConsoleConfig)
    telegram: TelegramConfig = Field(default_factory=TelegramConfig)
    slack: SlackConfig = Field(default_factory=SlackConfig)
    matrix: MatrixConfig = Field(default_factory=MatrixConfig)
    channels: list[ChannelConfig] = Field(default_factory=list)
    moderation: ModerationConfig = Field(default_factory=ModerationConfig)
    status_posts: list[StatusPostConfig] = Field(default_factory=list)
    quiet_hours: QuietHoursConfig = Field(default_factory=QuietHoursConfig)
    reminders: ReminderConfig = Field(default_factory=ReminderConfig)
    audience: AudienceConfig = Field(default_factory=AudienceConfig)
    scheduler: SchedulerConfig = Field(default_factory=SchedulerConfig)
    dispatch: DispatchConfig = Field(default_factory=DispatchConfig)
    feeds: list[FeedConfig] = Field(default_factory=list)
    sso: SsoConfig = Field(default_factory=SsoConfig)
    privacy: PrivacyConfig = Field(default_factory=PrivacyConfig)
    i18n: I18nConfig = Field(default_factory=I18nConfig)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use a name like Europe/Amsterdam)") from None
        return value

    @field_validator("channels")
    @classmethod
    def _one_entry_per_channel(cls, channels: list[ChannelConfig]) -> list[ChannelConfig]:
        names: set[str] = set()
        chats: dict[tuple[str, str], str] = {}
        for channel in channels:
            if channel.name in names:
                raise ValueError(f"channel name {channel.name!r} is used twice")
            names.add(channel.name)
            # Two topics of one forum group (thread_id) are two channels; the same chat and topic twice is not.
            other = chats.setdefault((channel.platform, channel.chat_address), channel.name)
            if other != channel.name:
                topic = "" if channel.thread_id is None else f", thread_id = {channel.thread_id}"
                raise ValueError(
                    f"channels {other!r} and {channel.name!r} both have platform = {channel.platform!r}, "
                    f"chat_id = {channel.chat_id!r}{topic}: keep one [[channels]] entry per chat (give it both tags)"
                )
        return channels

    @model_validator(mode="after")
    def _channels_consistent(self) -> Settings:
        status_names = [s.name for s in self.status_posts]
        for name in status_names:
            if status_names.count(name) > 1:
                raise ValueError(f"status post name {name!r} is used twice")
        if self.telegram.mode == "webhook" and self.telegram.token and not self.telegram.webhook_secret:
            raise ValueError("telegram.mode = 'webhook' needs telegram.webhook_secret")
        return self

    # -- what runs -------------------------------------------------------------------------

    @property
    def telegram_enabled(self) -> bool:
        return self.telegram.token is not None

    @property
    def slack_enabled(self) -> bool:
        return self.slack.bot_token is not None

    @property
    def matrix_enabled(self) -> bool:
        return self.matrix.homeserver is not None

    @property
    def console_enabled(self) -> bool:
        if self.console.enabled is not None:
            return self.console.enabled
        return not (self.telegram_enabled or self.slack_enabled or self.matrix_enabled)

    @property
    def web_enabled(self) -> bool:
        return self.web.port is not None

    def enabled_platforms(self) -> list[str]:
        flags = {
            "console": self.console_enabled,
            "telegram": self.telegram_enabled,
            "slack": self.slack_enabled,
            "matrix": self.matrix_enabled,
        }
        return [p for p in PLATFORMS if flags[p]]

    def effective_channels(self) -> list[ChannelConfig]:
        """Configured channels; with the console on and no console channel, the default one."""
        channels = list(self.channels)
        if self.console_enabled and not any(c.platform == "console" for c in channels):
            channels.append(ChannelConfig(name="console", platform="console", chat_id="console"))
        return channels


def environment_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    """The settings ``PRIKBORD_<SECTION>__<KEY>=value`` variables give, as ``{"section": {"key": value}}``.

    Names are case-insensitive; variables that name no setting (``PRIKBORD_CONFIG``, ``PRIKBORD_LOG_LEVEL``)
    are not settings. A value written as a JSON array or object (``PRIKBORD_MODERATION__ADMINS='["slack:U1"]'``)
    is decoded; any other value stays text, which the key's own type parses (``8080``, ``true``).
    """
    found: dict[str, Any] = {}
    for name, value in environ.items():
        if not name.upper().startswith(ENV_PREFIX):
            continue
        path = name[len(ENV_PREFIX) :].lower().split(ENV_NESTING)
        if path[0] not in Settings.model_fields or not all(path):
            continue
        setting = _environment_value(value)
        for key in reversed(path):
            setting = {key: setting}
        found = merged(found, setting)
    return found


def _environment_value(value: str) -> Any:
    if value.lstrip().startswith(("[", "{")):
        try:
            return json.loads(value)
        except ValueError:
            pass  # not JSON after all: the key's type says what is wrong
    return value


def merged(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``override`` laid over it, section by section (the environment over the file)."""
    result = dict(base)
    for key, value in override.items():
        below = result.get(key)
        result[key] = merged(below, value) if isinstance(below, dict) and isinstance(value, Mapping) else value
    return result


def startup_problems(settings: Settings) -> list[str]:
    """What ``check`` and ``run`` refuse although it parses: each names the key and what to do."""
    problems: list[str] = []
    enabled = settings.enabled_platforms()
    if not enabled and not settings.web_enabled:
        problems.append(
            "console.enabled: nothing would run: the only channel, console, is disabled ([console] enabled = "
            "false) and no messenger is configured: set [console] enabled = true (PRIKBORD_CONSOLE__ENABLED=true), "
            "or configure [telegram], [slack] or [matrix] with their [[channels]]"
        )
    for index, channel in enumerate(settings.channels):
        if channel.platform not in enabled:
            how = (
                "set [console] enabled = true"
                if channel.platform == "console"
                else f"configure [{channel.platform}] (see config.example.toml)"
            )
            problems.append(
                f"channels[{index}].platform: channel {channel.name!r} is on {channel.platform}, which is not "
                f"configured, so nothing would reach it: {how}, or remove the channel"
            )
    if settings.web_enabled and settings.web.admin_token is None:
        problems.append(
            "web.admin_token: the web app is on ([web] port) without an admin token: set "
            "PRIKBORD_WEB__ADMIN_TOKEN to a long random string, or remove [web] port"
        )
    if settings.telegram_enabled and settings.telegram.mode == "webhook":
        if not settings.web.public_url:
            problems.append(
                "web.public_url: telegram.mode = 'webhook' needs the https address Telegram posts to: set "
                "[web] public_url (e.g. https://bot.example.org), or use telegram.mode = 'polling'"
            )
        if not settings.web_enabled:
            problems.append(
                "web.port: telegram.mode = 'webhook' needs the web app on to receive the webhook: set [web] port"
            )
    return problems


class ConfigError(Exception):
    """An operator-facing message: names the file, the key and what is wrong."""


def _describe(error: ValidationError, origin: str) -> str:
    """One line per wrong key (just one line when one key is wrong), each naming the file and the key."""
    lines = []
    for item in error.errors():
        key = ".".join(str(p) for p in item["loc"]) or "(top level)"
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown key (see config.example.toml for the keys there are)"
        lines.append(f"{key}: {message}")
    if len(lines) == 1:
        return f"invalid configuration in {origin}: {lines[0]}"
    return "\n".join([f"invalid configuration in {origin}:", *(f"  {line}" for line in lines)])


def resolve_config_path(explicit: str | Path | None) -> Path | None:
    if explicit:
        return Path(explicit)
    from_env = os.environ.get("PRIKBORD_CONFIG")
    return Path(from_env) if from_env else None


def load_settings(path: str | Path | None = None) -> Settings:
    """Load and validate. Raises :class:`ConfigError` with an operator-facing message."""
    config_path = resolve_config_path(path)
    origin = "the environment (no config file)"
    from_file: dict[str, Any] = {}
    if config_path is not None:
        origin = str(config_path)
        if not config_path.is_file():
            raise ConfigError(f"config file {config_path} does not exist (check --config or PRIKBORD_CONFIG)")
        try:
            with config_path.open("rb") as handle:
                from_file = tomllib.load(handle)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{config_path} is not valid TOML: {exc}") from None
        except UnicodeDecodeError:
            raise ConfigError(
                f"{config_path} is not a UTF-8 text file: give --config (or PRIKBORD_CONFIG) a TOML file"
            ) from None
        except OSError as exc:
            raise ConfigError(f"cannot read {config_path}: {exc.strerror}: check --config or PRIKBORD_CONFIG") from None
    try:
        settings = Settings.model_validate(merged(from_file, environment_overrides(os.environ)))
    except ValidationError as exc:
        raise ConfigError(_describe(exc, origin)) from None
    if config_path is None and not (settings.moderation.moderators or settings.moderation.admins):
        # The embedded default is for trying prikbord out: the console's `mod` may moderate.
        settings.moderation.moderators = ["console:mod"]
    return settings
