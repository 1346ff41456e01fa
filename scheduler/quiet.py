"""Quiet hours, pure: is a moment quiet, and when does the quiet end?

One shape serves both the company's ``[quiet_hours]`` (feed posts wait) and a person's own
``quiet 18:00-08:00`` (private messages wait). Windows are wall-clock times in a zone, may cross
midnight, and with ``weekends`` all of Saturday and Sunday is quiet too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo


def parse_hhmm(value: str) -> time:
    hours, _, minutes = value.strip().partition(":")
    return time(int(hours), int(minutes))


@dataclass(frozen=True, slots=True)
class QuietHours:
    start: time | None
    end: time | None
    zone: ZoneInfo
    weekends: bool = False

    @classmethod
    def parse(
        cls, start: str | None, end: str | None, zone: str | ZoneInfo, weekends: bool = False
    ) -> QuietHours | None:
        """Quiet hours from config or an employee's settings; None when nothing is ever quiet."""
        begin = parse_hhmm(start) if start else None
        finish = parse_hhmm(end) if end else None
        nightly = begin is not None and finish is not None and begin != finish
        if not nightly and not weekends:
            return None
        tz = zone if isinstance(zone, ZoneInfo) else ZoneInfo(zone)
        return cls(begin if nightly else None, finish if nightly else None, tz, weekends)

    def _in_window(self, local: datetime) -> bool:
        if self.start is None or self.end is None:
            return False
        now = local.time().replace(tzinfo=None)
        if self.start < self.end:
            return self.start <= now < self.end
        return now >= self.start or now < self.end  # crosses midnight

    def _on_weekend(self, local: datetime) -> bool:
        return self.weekends and local.weekday() >= 5

    def contains(self, moment: datetime) -> bool:
        local = moment.astimezone(self.zone)
        return self._on_weekend(local) or self._in_window(local)

    def end_after(self, moment: datetime) -> datetime:
        """The first moment at or after ``moment`` that is not quiet (``moment`` itself when it is not), UTC."""
        local = moment.astimezone(self.zone)
        # A weekend jump can land inside the nightly window and vice versa; a handful of steps always settles.
        for _ in range(8):
            if self._on_weekend(local):
                local = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=self.zone)
            elif self._in_window(local):
                assert self.end is not None
                day = local.date() if local.time() < self.end else local.date() + timedelta(days=1)
                local = datetime.combine(day, self.end, tzinfo=self.zone)
            else:
                break
        return local.astimezone(UTC)

    def describe(self) -> str:
        parts = []
        if self.start is not None and self.end is not None:
            parts.append(f"{self.start:%H:%M}–{self.end:%H:%M}")
        if self.weekends:
            parts.append("weekends")
        return f"{' and '.join(parts)} ({self.zone.key})"
