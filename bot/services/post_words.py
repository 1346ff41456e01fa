"""A post's state in the words people read, for every part that names one (refusals, ``pending``,
``stats``); kept apart from the publishing service so the ``stats`` command line loads no adapters."""

from __future__ import annotations

from bot.i18n import Message
from content.models import PostState


def state_word(state: str) -> Message:
    """``state`` as people read it (in the context "post state": "pending" is a command too)."""
    words: dict[str, Message] = {  # a StrEnum key is found by its value too
        PostState.DRAFT: Message.pgettext("post state", "draft"),
        PostState.PENDING: Message.pgettext("post state", "pending"),
        PostState.SCHEDULED: Message.pgettext("post state", "scheduled"),
        PostState.PUBLISHED: Message.pgettext("post state", "published"),
        PostState.RETRACTED: Message.pgettext("post state", "retracted"),
        PostState.EXPIRED: Message.pgettext("post state", "expired"),
        PostState.REJECTED: Message.pgettext("post state", "rejected"),
    }
    return words.get(state) or Message(state)
