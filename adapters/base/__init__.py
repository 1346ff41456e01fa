"""The contract between prikbord's core and its messenger adapters.

Everything here is plain data: refs are strings, never SDK objects, so the core can store them and
tests can build them. An adapter translates its platform to these types and back; it never decides a
business rule (permissions, de-duplication and counting live in ``bot/``).

The contract is kept in one module per part and re-exported here: adapters and the core import
everything of it from ``adapters.base``.

- ``refs``: :class:`ChatRef`, :class:`UserRef`, :class:`MessageRef`
- ``outbound``: :class:`OutboundMessage` and its :class:`Action` buttons, the :data:`Previewer` signature
- ``preview``: :class:`MessagePreview`, how a platform will show a message
- ``intents``: what a button press or reaction asks for, and its wire form
- ``events``: the inbound events, :data:`Event` and :data:`EventSink`
- ``limits``: :class:`Limits` and :class:`Rate`, read by the dispatcher
- ``attachments``: :class:`OutboundAttachment` and the :class:`MediaLimits` a platform declares
- ``errors``: :class:`DeliveryError` and the kinds the dispatcher tells apart
- ``adapter``: the :class:`Adapter` ABC and the answers of its optional calls
"""

from __future__ import annotations

from adapters.base.adapter import Adapter, CheckResult, DiscoveredChat, HttpReply, MemberList
from adapters.base.attachments import FILE, IMAGE, MediaLimits, OutboundAttachment, UploadHook
from adapters.base.errors import (
    AdapterAuthError,
    DeliveryError,
    MessageTooLong,
    PermanentError,
    RateLimited,
    TransientError,
)
from adapters.base.events import (
    AccountClosed,
    ActionPressed,
    Answer,
    ChannelMembershipChanged,
    ChannelMigrated,
    CommandIssued,
    Event,
    EventSink,
    InboundEvent,
    MemberJoined,
    MemberLeft,
    MessagePosted,
    ReactionAdded,
    ReactionRemoved,
    ReplyPosted,
)
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
from adapters.base.limits import Limits, Rate
from adapters.base.outbound import Action, ActionStyle, OutboundMessage, Previewer
from adapters.base.preview import MessagePreview, PreviewBlock, PreviewStyle
from adapters.base.refs import ChatRef, MessageRef, UserRef

__all__ = [
    "FILE",
    "IMAGE",
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
    "MediaLimits",
    "MemberJoined",
    "MemberLeft",
    "MemberList",
    "MessagePosted",
    "MessagePreview",
    "MessageRef",
    "MessageTooLong",
    "OpenLink",
    "OutboundAttachment",
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
    "UploadHook",
    "UserRef",
    "parse_intent",
]
