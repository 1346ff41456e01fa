"""Errors an adapter raises from send/edit/delete; the dispatcher decides what they mean."""

from __future__ import annotations


class DeliveryError(Exception):
    """Base of send errors. ``str()`` must be safe to show to moderators (no secrets)."""


class RateLimited(DeliveryError):
    def __init__(self, retry_after: float, detail: str = "rate limited") -> None:
        super().__init__(f"{detail} (retry after {retry_after:g}s)")
        self.retry_after = retry_after


class TransientError(DeliveryError):
    """Network trouble, 5xx: try again later."""


class PermanentError(DeliveryError):
    """The chat is gone or rejected the bot: retrying cannot help; disable the channel."""


class MessageTooLong(DeliveryError):
    """The rendered message exceeds what the platform accepts and cannot be split."""


class AdapterAuthError(DeliveryError):
    """The adapter's credentials were refused: stop it and tell the operator."""
