"""The states of reminders (content.models.Reminder), apart so content/models.py stays small."""

from __future__ import annotations

from enum import StrEnum


class ReminderKind(StrEnum):
    ROUND = "round"  # the reminder round of a post has run (so a restart does not start it again)
    REMINDER = "reminder"  # one person's private reminder
    SUMMARY = "summary"  # the moderators' summary at the deadline


class ReminderState(StrEnum):
    PENDING = "pending"  # waiting for its due time (the end of the person's quiet hours)
    SENT = "sent"
    OPTED_OUT = "opted_out"
    ACKED = "acked"  # acknowledged before the reminder went
    UNREACHABLE = "unreachable"  # no private chat on any of the person's platforms
    LATE = "late"  # quiet hours lasted past the deadline
