"""Outbound: a post as the core hands it to an adapter, with its buttons (or reaction keys)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from adapters.base.attachments import OutboundAttachment, UploadHook
from adapters.base.preview import MessagePreview
from adapters.base.refs import MessageRef
from adapters.markup import Document


class ActionStyle(StrEnum):
    DEFAULT = "default"
    PRIMARY = "primary"
    DANGER = "danger"


@dataclass(frozen=True, slots=True)
class Action:
    """One button (or reaction key) under a post.

    ``action_id`` is what comes back in :class:`~adapters.base.ActionPressed`: an
    :data:`~adapters.base.Intent`'s wire form (``like``, ``ack``, ``rsvp:1``, ``vote:2``, ``link``; see
    :func:`~adapters.base.parse_intent`). ``count`` is shown beside the label when not None.
    """

    action_id: str
    label: str
    style: ActionStyle = ActionStyle.DEFAULT
    url: str | None = None
    count: int | None = None
    emoji: str | None = None  # the reaction key on platforms that use reactions for actions


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    markup: Document
    actions: tuple[Action, ...] = ()
    reply_to: MessageRef | None = None
    # Stable per delivery: Matrix uses it as txnId, Slack carries it in metadata.
    idempotency_key: str | None = None
    # Opaque routing context the adapter may embed (Slack metadata, Telegram callback data).
    post_id: int | None = None
    delivery_id: int | None = None
    # The words before the reaction keys where a platform has no buttons (Matrix), in the readers' language.
    reaction_prompt: str = "React with:"
    # Telegram: send with allow_paid_broadcast (the paid overall limit); other platforms ignore it.
    paid_broadcast: bool = False
    # Images and files, in order; the adapter reports each first upload to ``uploaded``.
    attachments: tuple[OutboundAttachment, ...] = ()
    uploaded: UploadHook | None = None
    # A question that wants a typed answer: Telegram shows the reply field (ForceReply) when there are no buttons.
    asks_reply: bool = False


Previewer = Callable[[OutboundMessage], MessagePreview]
"""``preview(message)`` of a platform's translate module: pure and cheap. Raises a
:class:`~adapters.base.DeliveryError` (e.g. :class:`~adapters.base.MessageTooLong`) when the platform
would refuse the message."""
