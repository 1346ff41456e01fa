"""What ``prikbord run`` prints once everything has started: adapters with their bot names, channels per
platform, the web URL, the database (never its password) and whether this instance runs the scheduler.

Pure: it takes plain values and returns lines, so it is tested without starting anything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True, slots=True)
class AdapterLine:
    platform: str
    connected: bool
    detail: str  # what the platform said about the bot ("connected as @prikbord_bot …"), or why not


@dataclass(frozen=True, slots=True)
class StartupFacts:
    version: str
    adapters: Sequence[AdapterLine]
    channels: Mapping[str, Sequence[str]]  # platform → channel names
    web_url: str | None  # None: the web app is off
    public_url: str | None
    database_url: str
    scheduler: str  # "leader", "follower" or "off"
    timezone: str


def hide_password(url: str) -> str:
    """``postgresql://user:secret@host/db`` → ``postgresql://user:***@host/db``."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return "(an unparsable URL)"
    if password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return parts._replace(netloc=f"{parts.username or ''}:***@{host}").geturl()


def _scheduler_line(state: str) -> str:
    if state == "leader":
        return "scheduler: this instance is the leader (runs scheduled posts, status posts, reminders)"
    if state == "follower":
        return "scheduler: follower (another instance leads; this one takes over if it stops)"
    return "scheduler: off ([scheduler] enabled = false)"


def startup_lines(facts: StartupFacts) -> list[str]:
    """The summary, one fact per line."""
    lines = [f"prikbord {facts.version} started"]
    for adapter in facts.adapters:
        state = "connected" if adapter.connected else "NOT connected"
        detail = adapter.detail.removeprefix(f"{adapter.platform}: ")
        lines.append(f"  {adapter.platform}: {state}" + (f" — {detail}" if detail else ""))
    if not facts.adapters:
        lines.append("  no adapters configured")
    for platform, names in facts.channels.items():
        shown = ", ".join(names) if names else "none (add [[channels]] with this platform)"
        lines.append(f"  channels on {platform} ({len(names)}): {shown}")
    if facts.web_url is None:
        lines.append("  web: off (set [web] port to serve webhooks, the admin API and the dashboard)")
    else:
        public = f", public at {facts.public_url}" if facts.public_url else ""
        lines.append(f"  web: {facts.web_url}{public}")
    lines.append(f"  database: {hide_password(facts.database_url)}")
    lines.append(f"  {_scheduler_line(facts.scheduler)}")
    lines.append(f"  timezone: {facts.timezone}")
    return lines
