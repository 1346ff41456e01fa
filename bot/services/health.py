"""What the dispatcher knows about each platform's health: up, or down since when and why.

A platform is *down* once sends to ``threshold`` different chats failed with a transient error (network
trouble, 5xx) and no send succeeded in between (one chat failing again and again is that chat's trouble,
retried in the outbox as before); the first successful send brings it back *up*. While it is down
the dispatcher does not hammer it: it sends one delivery at a time as a probe, the probes spaced by a
backoff that doubles (with jitter) up to ``max_probe_interval``, and the deliveries that failed wait in the
outbox, due again as soon as the platform answers. ``/healthz`` and the dashboard show the state.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from bot.clock import Clock


@dataclass
class _State:
    failures: int = 0  # transient failures in a row
    failing_chats: set[str] = field(default_factory=set)  # the chats they were sent to
    down_since: datetime | None = None
    last_error: str | None = None
    probe_interval: float = 0.0
    next_probe: float = 0.0  # monotonic seconds
    probes: int = 0


@dataclass(frozen=True, slots=True)
class HealthReport:
    platform: str
    up: bool
    down_since: datetime | None
    last_error: str | None
    failures: int

    def json(self) -> dict[str, object]:
        return {
            "up": self.up,
            "down_since": self.down_since.isoformat() if self.down_since else None,
            "last_error": self.last_error,
            "failures_in_a_row": self.failures,
        }


class PlatformHealth:
    def __init__(
        self,
        clock: Clock,
        *,
        threshold: int = 3,
        first_probe_interval: float = 0.5,
        max_probe_interval: float = 10.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        self._threshold = threshold
        self._first = first_probe_interval
        self._max = max_probe_interval
        self._monotonic = monotonic
        self._states: dict[str, _State] = {}

    def _state(self, platform: str) -> _State:
        return self._states.setdefault(platform, _State())

    def is_down(self, platform: str) -> bool:
        return self._state(platform).down_since is not None

    def succeeded(self, platform: str) -> bool:
        """A send went through; → True when this brings the platform back up."""
        state = self._state(platform)
        was_down = state.down_since is not None
        self._states[platform] = _State()
        return was_down

    def failed(self, platform: str, error: str, chat_id: str) -> bool:
        """A send to ``chat_id`` failed transiently; → True when this takes the platform down."""
        state = self._state(platform)
        state.failures += 1
        state.last_error = error
        if state.down_since is not None:
            self._schedule_probe(state)
            return False
        state.failing_chats.add(chat_id)
        if len(state.failing_chats) < self._threshold:
            return False
        state.down_since = self._clock.now()
        state.probe_interval = 0.0
        self._schedule_probe(state)
        return True

    def _schedule_probe(self, state: _State) -> None:
        state.probe_interval = min(self._max, max(self._first, state.probe_interval * 2))
        state.next_probe = self._monotonic() + state.probe_interval * random.uniform(0.8, 1.2)

    def probe_delay(self, platform: str) -> float:
        """Seconds until the next probe may be sent to a platform that is down (0 when up or due)."""
        state = self._state(platform)
        if state.down_since is None:
            return 0.0
        return max(0.0, state.next_probe - self._monotonic())

    def probe_sent(self, platform: str) -> None:
        """A probe is on its way: the next one waits for its outcome (or the interval after it)."""
        state = self._state(platform)
        state.probes += 1
        state.next_probe = self._monotonic() + max(state.probe_interval, self._first)

    def report(self, platform: str) -> HealthReport:
        state = self._state(platform)
        return HealthReport(platform, state.down_since is None, state.down_since, state.last_error, state.failures)

    def reports(self, platforms: list[str]) -> list[HealthReport]:
        return [self.report(p) for p in platforms]
