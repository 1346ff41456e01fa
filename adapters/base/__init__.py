"""The contract between prikbord's core and its messenger adapters.

Everything here is plain data: refs are strings, never SDK objects, so the core can store them and
tests can build them. An adapter translates its platform to these types and back; it never decides a
business rule (permissions, de-duplication and counting live in ``bot/``).
"""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum

# The intent and preview contracts live in their own modules; adapters and the core import them from here.
from adapters.base.intents import (
    Acknowledge,
    BadIntent,
    ChoiceKind,
    Choose,
    ChooseNamed,
    Intent,
    Like,
    OpenLink,
    React,
    Reply,
    parse_intent,
)
from adapters.base.preview import MessagePreview, PreviewBlock, PreviewStyle
from adapters.markup import Document

__all__ = [
    "AccountClosed",
    "Acknowledge",
    "Action",
    "ActionPressed",
    "ActionStyle",
    "Adapter",
    "AdapterAuthError",
    "Answer",
    "BadIntent",
    "ChannelMembershipChanged",
    "ChannelMigrated",
    "ChatRef",
    "CheckResult",
    "ChoiceKind",
    "Choose",
    "ChooseNamed",
    "CommandIssued",
    "DeliveryError",
    "DiscoveredChat",
    "Event",
    "EventSink",
    "HttpReply",
    "InboundEvent",
    "Intent",
    "Like",
    "Limits",
    "MemberJoined",
    "MemberLeft",
    "MemberList",
    "MessagePreview",
    "MessageRef",
    "MessageTooLong",
    "OpenLink",
    "OutboundMessage",
    "PermanentError",
    "PreviewBlock",
    "PreviewStyle",
    "Previewer",
    "Rate",
    "RateLimited",
    "React",
    "ReactionAdded",
    "ReactionRemoved",
    "Reply",
    "ReplyPosted",
    "TransientError",
    "UserRef",
    "parse_intent",
]

# ---------------------------------------------------------------------------------------------
# References


@dataclass(frozen=True, slots=True)
class ChatRef:
    platform: str
    chat_id: str


@dataclass(frozen=True, slots=True)
class UserRef:
    platform: str
    user_id: str
    display_name: str = ""

    @property
    def key(self) -> str:
        """``platform:user_id``, the form moderators are listed by in config."""
        return f"{self.platform}:{self.user_id}"


@dataclass(frozen=True, slots=True)
class MessageRef:
    chat: ChatRef
    message_id: str


# ---------------------------------------------------------------------------------------------
# Outbound


class ActionStyle(StrEnum):
    DEFAULT = "default"
    PRIMARY = "primary"
    DANGER = "danger"


@dataclass(frozen=True, slots=True)
class Action:
    """One button (or reaction key) under a post.

    ``action_id`` is what comes back in :class:`ActionPressed`: an :data:`Intent`'s wire form
    (``like``, ``ack``, ``rsvp:1``, ``vote:2``, ``link``; see :func:`parse_intent`). ``count`` is
    shown beside the label when not None.
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


# ---------------------------------------------------------------------------------------------
# Previews (adapters/base/preview.py) and intents (adapters/base/intents.py), re-exported here:
# adapters and the core import everything of the contract from ``adapters.base``.

Previewer = Callable[[OutboundMessage], MessagePreview]
"""``preview(message)`` of a platform's translate module: pure and cheap. Raises a
:class:`DeliveryError` (e.g. :class:`MessageTooLong`) when the platform would refuse the message."""


# ---------------------------------------------------------------------------------------------
# Inbound events: named in the past tense, each with the platform's own event id.

Answer = Callable[[str], Awaitable[None]]


async def _no_answer(_text: str) -> None:
    return None


@dataclass(frozen=True, slots=True)
class InboundEvent:
    event_id: str
    user: UserRef


@dataclass(frozen=True, slots=True)
class ActionPressed(InboundEvent):
    message: MessageRef
    action_id: str
    # Telegram answerCallbackQuery, Slack ack: the bot calls it once with a short text.
    answer: Answer = field(default=_no_answer, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class ReactionAdded(InboundEvent):
    message: MessageRef
    reaction: str


@dataclass(frozen=True, slots=True)
class ReactionRemoved(InboundEvent):
    message: MessageRef
    reaction: str


@dataclass(frozen=True, slots=True)
class ReplyPosted(InboundEvent):
    message: MessageRef  # the message replied to
    text: str
    reply: MessageRef | None = None  # the reply itself, where the platform gives it an id


@dataclass(frozen=True, slots=True)
class CommandIssued(InboundEvent):
    chat: ChatRef
    name: str
    args: str
    private_chat: bool = False
    message: MessageRef | None = None


@dataclass(frozen=True, slots=True)
class ChannelMembershipChanged(InboundEvent):
    """The bot was added to or removed from a chat (Telegram my_chat_member, Slack member_left…)."""

    chat: ChatRef
    joined: bool
    reason: str = ""


@dataclass(frozen=True, slots=True)
class ChannelMigrated(InboundEvent):
    """A chat moved to a new id (Telegram group → supergroup)."""

    chat: ChatRef
    new_chat_id: str


@dataclass(frozen=True, slots=True)
class MemberJoined(InboundEvent):
    """A person (not the bot) joined a chat: Slack ``member_joined_channel``, Matrix ``m.room.member``
    join, Telegram ``chat_member``."""

    chat: ChatRef


@dataclass(frozen=True, slots=True)
class MemberLeft(InboundEvent):
    """A person (not the bot) left a chat or was removed from it."""

    chat: ChatRef


@dataclass(frozen=True, slots=True)
class AccountClosed(InboundEvent):
    """A person's account is gone from the platform (a deactivated Slack account): they leave every chat."""


Event = (
    ActionPressed
    | ReactionAdded
    | ReactionRemoved
    | ReplyPosted
    | CommandIssued
    | ChannelMembershipChanged
    | ChannelMigrated
    | MemberJoined
    | MemberLeft
    | AccountClosed
)

EventSink = Callable[[Event], Awaitable[None]]


# ---------------------------------------------------------------------------------------------
# Limits the dispatcher reads


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
    # True where a resend with the same idempotency key cannot duplicate (Matrix txnId).
    idempotent_send: bool = False
    # Seconds between counter edits of one message.
    edit_interval: float = 1.0


# ---------------------------------------------------------------------------------------------
# Errors an adapter raises from send/edit/delete; the dispatcher decides what they mean.


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


# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HttpReply:
    """What an adapter that receives HTTP (Slack events, Telegram webhook) answers; the web app
    in ``bot/`` mounts the adapter's ``handle_http`` and sends this back unchanged."""

    status: int
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"


@dataclass(frozen=True, slots=True)
class CheckResult:
    ok: bool
    detail: str


@dataclass(frozen=True, slots=True)
class MemberList:
    """Who is in a chat, as :meth:`Adapter.list_members` tells it; the bot itself is never among them.

    ``partial``: the platform cannot list members (Telegram), so ``members`` holds only people the
    adapter knows of and ``count`` is how many people (the bot not counted) the chat has."""

    members: tuple[UserRef, ...]
    partial: bool = False
    count: int | None = None


@dataclass(frozen=True, slots=True)
class DiscoveredChat:
    """A chat the bot is in, as ``prikbord channels discover`` lists it for ``[[channels]]``.

    ``kind`` is the platform's word (``supergroup``, ``private_channel``, ``room`` …); ``encrypted``
    is None where the platform has no such notion; ``note`` is advice for the operator ("the bot is
    not an admin: reactions will not arrive")."""

    chat: ChatRef
    name: str
    kind: str
    encrypted: bool | None = None
    note: str = ""


class Adapter(abc.ABC):
    """One messenger. Implementations keep I/O here and pure translation in ``translate.py``."""

    platform: str
    limits: Limits

    @abc.abstractmethod
    async def start(self, sink: EventSink) -> None:
        """Connect and begin delivering inbound events to ``sink``. Returns once started."""

    @abc.abstractmethod
    async def stop(self) -> None: ...

    @abc.abstractmethod
    async def send(self, chat: ChatRef, message: OutboundMessage) -> MessageRef: ...

    @abc.abstractmethod
    async def edit(self, ref: MessageRef, message: OutboundMessage) -> None: ...

    @abc.abstractmethod
    async def delete(self, ref: MessageRef) -> None: ...

    @abc.abstractmethod
    async def reply(self, command: CommandIssued, text: str, private: bool = True) -> None:
        """Answer a command: privately (ephemeral/DM) where the platform can, else in the chat."""

    def validate(self, message: OutboundMessage) -> None:
        """Raise :class:`MessageTooLong` when ``message`` cannot be sent here, even split.

        Pure and cheap: the core calls it for every target platform before storing a post.
        The default checks the plain text against ``limits.text_length``, split at paragraphs.
        """
        from adapters.markup import TooLong, render_plain, split_document

        try:
            split_document(message.markup, self.limits.text_length, lambda d: len(render_plain(d)))
        except TooLong as exc:
            raise MessageTooLong(str(exc)) from None

    async def send_private(self, user: UserRef, text: str) -> bool:
        """A private message to one person (reminders). False where no private chat exists."""
        return False

    async def list_members(self, chat: ChatRef) -> MemberList | None:
        """The people in ``chat`` now (the bot left out), for the audience's membership. None where the
        platform tells nothing; the core then knows only the people it sees act there."""
        return None

    async def find_sent(self, chat: ChatRef, idempotency_key: str) -> MessageRef | None:
        """After a crash: the message already sent for this key, where the platform can tell."""
        return None

    async def check(self) -> CheckResult:
        """Reach the platform with the configured credentials (``prikbord check``)."""
        return CheckResult(True, f"{self.platform}: nothing to check")

    async def discover_chats(self) -> list[DiscoveredChat]:
        """The chats the bot is in now (``prikbord channels discover``), without starting the adapter
        and without taking anything away from a running service. The default knows of none."""
        return []

    @property
    def connected(self) -> bool:
        return True

    async def wait_idle(self) -> None:
        """Return when the adapter's input has ended (console: end of stdin). Others never end."""
        import asyncio

        await asyncio.Event().wait()
