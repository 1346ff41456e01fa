"""Matrix translation, pure: raw timeline events → normalized events; the outbound half (messages →
event content, the reaction keys of calls to action) lives in ``render.py`` and is re-exported here.

Nothing here does I/O or imports ``nio``: inbound functions take the event as the homeserver sent it
(the client-server JSON, ``event.source`` in nio) and return plain data, so they can be tested with
literal dicts.

A reaction on a bot message whose key is one of the action keys the adapter remembers for that message
(:func:`~adapters.matrix.render.action_keys`) comes back as :class:`~adapters.base.ActionPressed`, any
other key as :class:`~adapters.base.ReactionAdded` (see :func:`reaction_to_event`). The table of keys is
in ``render.py``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from adapters.base import (
    ActionPressed,
    ChannelMembershipChanged,
    ChatRef,
    CommandIssued,
    MemberJoined,
    MemberLeft,
    MemberList,
    MessagePosted,
    MessageRef,
    ReactionAdded,
    ReactionRemoved,
    ReplyPosted,
    UserRef,
)
from adapters.matrix.render import (
    ACK,
    HTML_FORMAT,
    KEYCAPS,
    LIKE,
    MAX_CONTENT_BYTES,
    RSVP_KEYS,
    Content,
    action_emoji,
    action_for_reaction,
    action_keys,
    content_size,
    default_emoji,
    edit_content,
    matrix_url,
    message_content,
    normalize_key,
    notice_content,
    preview,
    reaction_content,
)

__all__ = [
    "ACK",
    "HTML_FORMAT",
    "KEYCAPS",
    "LIKE",
    "MAX_CONTENT_BYTES",
    "PLATFORM",
    "RSVP_KEYS",
    "Content",
    "EncryptionSeen",
    "InboundContext",
    "Parsed",
    "RawEvent",
    "ReactionSeen",
    "RedactionSeen",
    "RememberedReaction",
    "ReplySeen",
    "action_emoji",
    "action_for_reaction",
    "action_keys",
    "content_size",
    "default_emoji",
    "edit_content",
    "invite_allowed",
    "joined_member_list",
    "matrix_url",
    "message_content",
    "normalize_key",
    "notice_content",
    "parse_command",
    "parse_event",
    "preview",
    "reaction_content",
    "reaction_to_event",
    "redaction_to_event",
    "reply_to_event",
    "server_of",
    "strip_reply_fallback",
    "user_ref",
]

PLATFORM = "matrix"

RawEvent = Mapping[str, Any]

# ---------------------------------------------------------------------------------------------
# Inbound: first parse (pure, no knowledge of what the bot sent) …


@dataclass(frozen=True, slots=True)
class ReactionSeen:
    event_id: str
    room_id: str
    sender: str
    target: str
    key: str


@dataclass(frozen=True, slots=True)
class RedactionSeen:
    event_id: str
    room_id: str
    sender: str
    redacts: str


@dataclass(frozen=True, slots=True)
class ReplySeen:
    event_id: str
    room_id: str
    sender: str
    # Candidates for the message replied to, best first (thread root, then the in-reply-to target):
    # the adapter picks the first that is a bot message.
    targets: tuple[str, ...]
    text: str


@dataclass(frozen=True, slots=True)
class EncryptionSeen:
    room_id: str


Parsed = (
    ReactionSeen
    | RedactionSeen
    | ReplySeen
    | EncryptionSeen
    | CommandIssued
    | MessagePosted
    | ChannelMembershipChanged
    | MemberJoined
    | MemberLeft
)


@dataclass(frozen=True, slots=True)
class InboundContext:
    own_user_id: str
    command_prefix: str = "!"
    # Display name of a room member, as the adapter's client knows it ("" when unknown).
    name_of: Callable[[str, str], str] = lambda _room, _user: ""
    # Whether a room is a direct (one-to-one) chat with the bot.
    is_direct: Callable[[str], bool] = lambda _room: False


def user_ref(ctx: InboundContext, room_id: str, user_id: str) -> UserRef:
    return UserRef(PLATFORM, user_id, ctx.name_of(room_id, user_id))


def strip_reply_fallback(body: str) -> str:
    """Drop the quoted ``> <@user> …`` lines older clients put before a reply's own text."""
    lines = body.split("\n")
    if not lines or not lines[0].startswith(">"):
        return body
    i = 0
    while i < len(lines) and lines[i].startswith(">"):
        i += 1
    if i < len(lines) and lines[i] == "":
        i += 1
    return "\n".join(lines[i:])


def parse_command(text: str, prefix: str) -> tuple[str, str] | None:
    """``!stats 12`` (or ``/stats 12``) → ``("stats", "12")``; None when ``text`` is no command."""
    stripped = text.strip()
    for p in (prefix, "/"):
        if p and stripped.startswith(p) and len(stripped) > len(p):
            rest = stripped[len(p) :]
            if rest[0].isspace() or rest.startswith(p):  # "! hi", "!!!" are chat, not commands
                continue
            match = re.match(r"(\S+)\s*(.*)", rest, re.DOTALL)
            if match:
                return match.group(1).lower(), match.group(2).strip()
    return None


def _relation(content: Mapping[str, Any]) -> Mapping[str, Any]:
    rel = content.get("m.relates_to")
    return rel if isinstance(rel, Mapping) else {}


def _chat(room_id: str) -> ChatRef:
    return ChatRef(PLATFORM, room_id)


def parse_event(raw: RawEvent, room_id: str, ctx: InboundContext) -> Parsed | None:
    """One timeline event of a joined room → what it means to prikbord, or None (chat, noise, our own)."""
    event_type = raw.get("type")
    sender = raw.get("sender")
    event_id = raw.get("event_id")
    content = raw.get("content")
    if not isinstance(sender, str) or not isinstance(event_id, str) or not isinstance(content, Mapping):
        return None
    if event_type == "m.room.member":
        return _parse_membership(raw, room_id, ctx)
    if event_type == "m.room.encryption" and raw.get("state_key") == "":
        return EncryptionSeen(room_id)
    if sender == ctx.own_user_id:
        return None  # our own posts, reactions and notices echo back through sync
    rel = _relation(content)
    if event_type == "m.reaction":
        target, key = rel.get("event_id"), rel.get("key")
        if rel.get("rel_type") == "m.annotation" and isinstance(target, str) and isinstance(key, str) and key:
            return ReactionSeen(event_id, room_id, sender, target, key)
        return None
    if event_type == "m.room.redaction":
        # Room version 11 moved "redacts" into the content; older versions have it at the top.
        redacts = content.get("redacts") or raw.get("redacts")
        return RedactionSeen(event_id, room_id, sender, redacts) if isinstance(redacts, str) else None
    if event_type != "m.room.message" or content.get("msgtype") not in ("m.text", "m.emote"):
        return None  # notices are other bots talking; edits of chat do not matter
    if rel.get("rel_type") == "m.replace":
        return None
    body = content.get("body")
    if not isinstance(body, str):
        return None
    in_reply = rel.get("m.in_reply_to")
    reply_target = in_reply.get("event_id") if isinstance(in_reply, Mapping) else None
    text = strip_reply_fallback(body) if reply_target and not rel.get("is_falling_back") else body
    command = parse_command(text, ctx.command_prefix)
    if command is not None:
        name, args = command
        return CommandIssued(
            event_id,
            user_ref(ctx, room_id, sender),
            _chat(room_id),
            name,
            args,
            private_chat=ctx.is_direct(room_id),
            message=MessageRef(_chat(room_id), event_id),
        )
    targets: list[str] = []
    if rel.get("rel_type") == "m.thread" and isinstance(rel.get("event_id"), str):
        targets.append(rel["event_id"])
        # In a thread, m.in_reply_to with is_falling_back is only for thread-unaware clients.
        if rel.get("is_falling_back"):
            reply_target = None
    if isinstance(reply_target, str) and reply_target not in targets:
        targets.append(reply_target)
    if not targets:  # plain chat: the core reads it only as an answer to a question it asked
        chat = _chat(room_id)
        user = user_ref(ctx, room_id, sender)
        return MessagePosted(event_id, user, chat, text.strip(), ctx.is_direct(room_id), MessageRef(chat, event_id))
    return ReplySeen(event_id, room_id, sender, tuple(targets), text.strip())


def _previous_content(raw: RawEvent) -> Mapping[str, Any]:
    """The state event's content before this one (``unsigned.prev_content``); empty when not given."""
    unsigned = raw.get("unsigned")
    prev = unsigned.get("prev_content") if isinstance(unsigned, Mapping) else None
    return prev if isinstance(prev, Mapping) else {}


# A leave or ban after one of these ends no membership: a declined invite, a withdrawn knock, a second leave.
_NOT_IN_ROOM = frozenset({"invite", "knock", "leave", "ban"})


def _person_membership(raw: RawEvent, room_id: str, ctx: InboundContext) -> MemberJoined | MemberLeft | None:
    """Someone else's ``m.room.member``: joining (a display name change is no join), or leaving, being
    kicked or banned while in the room. Invites and knocks are nobody in the room yet."""
    member = raw.get("state_key")
    if not isinstance(member, str) or not member.startswith("@"):
        return None
    content, before = raw["content"], _previous_content(raw)
    membership, previous = content.get("membership"), before.get("membership")
    event_id = str(raw["event_id"])
    if membership == "join" and previous != "join":
        name = content.get("displayname")
        user = UserRef(PLATFORM, member, name) if isinstance(name, str) else user_ref(ctx, room_id, member)
        return MemberJoined(event_id, user, _chat(room_id))
    if membership in ("leave", "ban") and previous not in _NOT_IN_ROOM:
        name = before.get("displayname")
        user = UserRef(PLATFORM, member, name) if isinstance(name, str) else user_ref(ctx, room_id, member)
        return MemberLeft(event_id, user, _chat(room_id))
    return None


def _parse_membership(
    raw: RawEvent, room_id: str, ctx: InboundContext
) -> ChannelMembershipChanged | MemberJoined | MemberLeft | None:
    if raw.get("state_key") != ctx.own_user_id:
        return _person_membership(raw, room_id, ctx)
    content = raw["content"]
    membership = content.get("membership")
    previous = _previous_content(raw).get("membership")
    sender = str(raw["sender"])
    user = user_ref(ctx, room_id, sender)
    reason = content.get("reason")
    because = f": {reason}" if isinstance(reason, str) and reason else ""
    if membership == "join" and previous != "join":
        return ChannelMembershipChanged(str(raw["event_id"]), user, _chat(room_id), True, f"joined {room_id}")
    if membership in ("leave", "ban"):
        if previous == "invite":
            return None  # a declined or withdrawn invite: the bot was never in the room
        if sender == ctx.own_user_id:
            why = "the bot left the room"
        elif membership == "ban":
            why = f"{sender} banned the bot{because}"
        else:
            why = f"{sender} removed the bot{because}"
        return ChannelMembershipChanged(str(raw["event_id"]), user, _chat(room_id), False, why)
    return None


# ---------------------------------------------------------------------------------------------
# … then resolve with what the adapter remembers of its own messages.


def reaction_to_event(
    seen: ReactionSeen, sent_keys: Mapping[str, str], ctx: InboundContext
) -> ActionPressed | ReactionAdded:
    """A reaction on a bot message: ActionPressed when its key is one of that message's action keys
    (``sent_keys``, from :func:`action_keys`), else ReactionAdded with the key as sent."""
    user = user_ref(ctx, seen.room_id, seen.sender)
    ref = MessageRef(_chat(seen.room_id), seen.target)
    action_id = sent_keys.get(normalize_key(seen.key))
    if action_id is not None:
        return ActionPressed(seen.event_id, user, ref, action_id)
    return ReactionAdded(seen.event_id, user, ref, seen.key)


@dataclass(frozen=True, slots=True)
class RememberedReaction:
    """What a reaction event was, kept so its redaction can be told apart and reported."""

    room_id: str
    target: str
    key: str
    sender: str

    def dumps(self) -> str:
        return json.dumps([self.room_id, self.target, self.key, self.sender])

    @classmethod
    def loads(cls, text: str) -> RememberedReaction:
        room_id, target, key, sender = json.loads(text)
        return cls(str(room_id), str(target), str(key), str(sender))


def redaction_to_event(seen: RedactionSeen, reaction: RememberedReaction, ctx: InboundContext) -> ReactionRemoved:
    """The redaction of a remembered reaction: the key as it was sent, by the person who sent it."""
    user = user_ref(ctx, reaction.room_id, reaction.sender)
    return ReactionRemoved(seen.event_id, user, MessageRef(_chat(reaction.room_id), reaction.target), reaction.key)


def reply_to_event(seen: ReplySeen, target: str, ctx: InboundContext) -> ReplyPosted:
    chat = _chat(seen.room_id)
    return ReplyPosted(
        seen.event_id,
        user_ref(ctx, seen.room_id, seen.sender),
        MessageRef(chat, target),
        seen.text,
        MessageRef(chat, seen.event_id),
    )


def joined_member_list(joined: Iterable[tuple[str, str | None]], own_user_id: str) -> MemberList:
    """A room's joined members (user id, display name in the room), the bot left out: a complete list."""
    people = {user_id: name or "" for user_id, name in joined if user_id != own_user_id}
    return MemberList(tuple(UserRef(PLATFORM, u, n) for u, n in people.items()), partial=False, count=len(people))


# ---------------------------------------------------------------------------------------------
# Invites


def server_of(matrix_id: str) -> str:
    """``@anna:example.org`` → ``example.org`` (the server part of a user or room id)."""
    return matrix_id.split(":", 1)[1] if ":" in matrix_id else ""


def invite_allowed(room_id: str, inviter: str | None, allowed: tuple[str, ...], own_server: str) -> bool:
    """Whether to accept an invite: ``allowed`` holds server names (the inviter's server must be one),
    room ids (``!…``) or ``*``; empty means only people of the bot's own homeserver."""
    entries = allowed or (own_server,)
    if "*" in entries or room_id in entries:
        return True
    return inviter is not None and server_of(inviter) in entries
