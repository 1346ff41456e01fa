"""What the dispatcher reads of a platform: its text length and the rates it allows."""

from __future__ import annotations

from dataclasses import dataclass

from adapters.base.attachments import MediaLimits


@dataclass(frozen=True, slots=True)
class Rate:
    """At most ``count`` messages per ``period`` seconds."""

    count: float
    period: float


@dataclass(frozen=True, slots=True)
class Limits:
    text_length: int
    global_rates: tuple[Rate, ...] = ()
    per_chat_rates: tuple[Rate, ...] = ()
    # The overall rates of a paid broadcast (Telegram's allow_paid_broadcast), in place of global_rates for
    # its sends; empty where the platform has none (its sends keep global_rates). Per-chat rates still apply.
    paid_global_rates: tuple[Rate, ...] = ()
    # Opening a private chat before a first private copy (Slack's conversations.open, a tier-3 method):
    # at most these, in windows of their own beside the message rates. Empty: opening is not limited.
    open_rates: tuple[Rate, ...] = ()
    # True where a resend with the same idempotency key cannot duplicate (Matrix txnId).
    idempotent_send: bool = False
    # Seconds between counter edits of one message.
    edit_interval: float = 1.0
    # What attachments the platform takes; None: this adapter sends none yet (a post with one is refused).
    media: MediaLimits | None = None
