"""Inbound events: named in the past tense, each with the platform's own event id for de-duplication."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from adapters.base.refs import ChatRef, MessageRef, UserRef

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
class MessagePosted(InboundEvent):
    """A plain message (no command, no reply to a post) that the bot sees: in the console, a Matrix room,
    a private Telegram chat. The core reads it only as an answer to a question it asked that person there
    (a post composed step by step); everything else is chat and stays untouched."""

    chat: ChatRef
    text: str
    private_chat: bool = False
    message: MessageRef | None = None


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
    | MessagePosted
    | CommandIssued
    | ChannelMembershipChanged
    | ChannelMigrated
    | MemberJoined
    | MemberLeft
    | AccountClosed
)

EventSink = Callable[[Event], Awaitable[None]]
