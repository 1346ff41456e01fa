"""Matrix translation, pure: outbound messages → event content; raw timeline events → normalized events.

Nothing here does I/O or imports ``nio``: inbound functions take the event as the homeserver sent it
(the client-server JSON, ``event.source`` in nio) and return plain data, so they can be tested with
literal dicts.

Calls to action are reactions. Each action's reaction key is :func:`action_emoji` (``Action.emoji``, else
the table below) and is shown in the text beside its label and count. The adapter remembers, per sent
message, which key stands for which ``action_id``; a reaction whose key is one of them comes back as
:class:`~adapters.base.ActionPressed`, any other key as :class:`~adapters.base.ReactionAdded` (see
:func:`reaction_to_event`). :func:`action_for_reaction` is the same table the other way round, for the
core to map free reactions (e.g. a 👍 on a post whose call to action is a poll).

=========  ==========================  ======================================
key        action id                   when
=========  ==========================  ======================================
👍          ``like``                    always (skin tones ignored)
✅          ``ack``                     ``rsvp:yes`` on an RSVP post
❌          ``rsvp:no``                 RSVP posts only
🤔          ``rsvp:maybe``              RSVP posts only
1️⃣ … 🔟     ``vote:1`` … ``vote:10``    poll options
=========  ==========================  ======================================
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from adapters.base import (
    Action,
    ActionPressed,
    ChannelMembershipChanged,
    ChatRef,
    CommandIssued,
    MessagePreview,
    MessageRef,
    OutboundMessage,
    PreviewBlock,
    ReactionAdded,
    ReactionRemoved,
    ReplyPosted,
    UserRef,
)
from adapters.markup import MATRIX_HTML, render_html, render_plain

PLATFORM = "matrix"
HTML_FORMAT = "org.matrix.custom.html"
# The homeserver refuses events over 65536 bytes (the whole signed PDU); keep headroom for hashes,
# signatures and the relation fields the server adds.
MAX_CONTENT_BYTES = 60_000

Content = dict[str, Any]
RawEvent = Mapping[str, Any]

# ---------------------------------------------------------------------------------------------
# Reaction keys

KEYCAPS: tuple[str, ...] = ("1️⃣", "2️⃣", "3️⃣", "4️⃣", "5️⃣", "6️⃣", "7️⃣", "8️⃣", "9️⃣", "🔟")
LIKE = "👍"
ACK = "✅"
RSVP_KEYS: Mapping[str, str] = {"yes": "✅", "no": "❌", "maybe": "🤔"}

_VARIATION_SELECTOR = "\ufe0f"
_SKIN_TONES = re.compile("[\U0001f3fb-\U0001f3ff]")


def normalize_key(key: str) -> str:
    """Reaction keys compare without emoji presentation selectors and skin tones.

    Clients differ: some send ``1⃣`` for ``1️⃣`` (no U+FE0F), some ``👍🏽`` for ``👍``.
    """
    return _SKIN_TONES.sub("", key.strip().replace(_VARIATION_SELECTOR, ""))


_BY_KEY: dict[str, str] = {normalize_key(k): f"vote:{n}" for n, k in enumerate(KEYCAPS, start=1)}
_BY_KEY[normalize_key(LIKE)] = "like"
_RSVP_BY_KEY: dict[str, str] = {normalize_key(k): f"rsvp:{v}" for v, k in RSVP_KEYS.items()}


def default_emoji(action_id: str) -> str | None:
    """The reaction key for an action that did not name one (``Action.emoji`` is None)."""
    kind, _, value = action_id.partition(":")
    if kind == "like":
        return LIKE
    if kind == "ack":
        return ACK
    if kind == "rsvp":
        return RSVP_KEYS.get(value)
    if kind == "vote" and value.isdigit() and 1 <= int(value) <= len(KEYCAPS):
        return KEYCAPS[int(value) - 1]
    return None


def action_emoji(action: Action) -> str | None:
    """The reaction key that presses ``action``; None for link actions and actions without a key."""
    if action.url:
        return None
    return action.emoji or default_emoji(action.action_id)


def action_for_reaction(key: str, *, rsvp: bool = False) -> str | None:
    """The action a free reaction stands for (the table in the module doc), or None.

    ``rsvp`` says the post asks for an RSVP, where ✅/❌/🤔 answer yes/no/maybe instead of ✅ = ack.
    """
    norm = normalize_key(key)
    if rsvp and norm in _RSVP_BY_KEY:
        return _RSVP_BY_KEY[norm]
    if norm == normalize_key(ACK):
        return "ack"
    return _BY_KEY.get(norm)


def action_keys(message: OutboundMessage) -> dict[str, str]:
    """Normalized reaction key → action id for the actions of ``message`` (what the adapter remembers)."""
    keys: dict[str, str] = {}
    for action in message.actions:
        emoji = action_emoji(action)
        if emoji:
            keys.setdefault(normalize_key(emoji), action.action_id)
    return keys


# ---------------------------------------------------------------------------------------------
# Outbound


def _action_text(action: Action, emoji: str | None) -> str:
    label = action.label.strip()
    # Labels like "✅ Read" already start with their key; do not show it twice.
    if emoji and not normalize_key(label).startswith(normalize_key(emoji)):
        label = f"{emoji} {label}" if label else emoji
    if action.count is not None:
        label = f"{label} ({action.count})"
    return label


def _actions_plain(actions: tuple[Action, ...]) -> list[str]:
    lines: list[str] = []
    reacts = [_action_text(a, action_emoji(a)) for a in actions if not a.url and action_emoji(a)]
    if reacts:
        lines.append("React with: " + " · ".join(reacts))
    for action in actions:
        if action.url:
            lines.append(f"🔗 {_action_text(action, None)}: {action.url}")
        elif not action_emoji(action):
            lines.append(_action_text(action, None))
    return lines


def _actions_html(actions: tuple[Action, ...]) -> list[str]:
    parts: list[str] = []
    reacts = [
        html.escape(_action_text(a, action_emoji(a)), quote=False) for a in actions if not a.url and action_emoji(a)
    ]
    if reacts:
        parts.append("<p>React with: " + " · ".join(reacts) + "</p>")
    for action in actions:
        if action.url:
            label = html.escape(_action_text(action, None), quote=False)
            target = matrix_url(action.url)
            if target is None:
                parts.append(f"<p>🔗 {label}: {html.escape(action.url, quote=False)}</p>")
            else:
                parts.append(f'<p>🔗 <a href="{html.escape(target, quote=True)}">{label}</a></p>')
        elif not action_emoji(action):
            parts.append(f"<p>{html.escape(_action_text(action, None), quote=False)}</p>")
    return parts


def matrix_url(url: str) -> str | None:
    """Link targets Matrix clients accept (the spec's list, less ftp and magnet); others become plain text."""
    stripped = url.strip()
    return stripped if stripped.lower().startswith(("https://", "http://", "mailto:")) else None


def message_content(message: OutboundMessage, msgtype: str = "m.text") -> Content:
    """``m.room.message`` content: sanitized HTML ``formatted_body`` and its plain ``body`` fallback."""
    plain = "\n\n".join([p for p in [render_plain(message.markup), "\n".join(_actions_plain(message.actions))] if p])
    formatted = render_html(message.markup, MATRIX_HTML, matrix_url) + "".join(_actions_html(message.actions))
    content: Content = {
        "msgtype": msgtype,
        "body": plain,
        "format": HTML_FORMAT,
        "formatted_body": formatted,
        # Intentional mentions: an empty set keeps "@room" or names in a post from pinging anyone.
        "m.mentions": {},
    }
    if message.reply_to is not None:
        content["m.relates_to"] = {"m.in_reply_to": {"event_id": message.reply_to.message_id}}
    return content


def preview(message: OutboundMessage) -> MessagePreview:
    """The ``formatted_body`` :func:`message_content` sends; calls to action are reactions, shown in the text."""
    body = str(message_content(message)["formatted_body"])
    reacts = any(action_emoji(action) for action in message.actions)
    notes = ("Matrix has no buttons: people react with the keys shown in the text",) if reacts else ()
    return MessagePreview(((PreviewBlock(body),),), notes=notes)


def edit_content(original_event_id: str, message: OutboundMessage) -> Content:
    """An ``m.replace`` edit: the new content in ``m.new_content``, a ``* ``-prefixed fallback outside.

    The fallback is for clients without edits; when the whole would be too large it keeps only a
    shortened plain body, since ``m.new_content`` is what edit-aware clients show.
    """
    new = message_content(message)
    new.pop("m.relates_to", None)  # a reply relation cannot be changed by an edit
    content: Content = {
        "msgtype": new["msgtype"],
        "body": "* " + new["body"],
        "format": HTML_FORMAT,
        "formatted_body": "* " + new["formatted_body"],
        "m.mentions": {},
        "m.new_content": new,
        "m.relates_to": {"rel_type": "m.replace", "event_id": original_event_id},
    }
    if content_size(content) > MAX_CONTENT_BYTES:
        del content["format"], content["formatted_body"]
        content["body"] = "* " + new["body"][:200] + "…"
    return content


def notice_content(text: str, in_reply_to: str | None = None) -> Content:
    """A bot answer (``m.notice``: clients and other bots know it is automated)."""
    content: Content = {"msgtype": "m.notice", "body": text, "m.mentions": {}}
    if in_reply_to:
        content["m.relates_to"] = {"m.in_reply_to": {"event_id": in_reply_to}}
    return content


def reaction_content(target_event_id: str, key: str) -> Content:
    return {"m.relates_to": {"rel_type": "m.annotation", "event_id": target_event_id, "key": key}}


def content_size(content: Content) -> int:
    return len(json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode())


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


Parsed = ReactionSeen | RedactionSeen | ReplySeen | EncryptionSeen | CommandIssued | ChannelMembershipChanged


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
    if not targets:
        return None
    return ReplySeen(event_id, room_id, sender, tuple(targets), text.strip())


def _parse_membership(raw: RawEvent, room_id: str, ctx: InboundContext) -> ChannelMembershipChanged | None:
    if raw.get("state_key") != ctx.own_user_id:
        return None
    content = raw["content"]
    membership = content.get("membership")
    unsigned = raw.get("unsigned")
    prev = unsigned.get("prev_content") if isinstance(unsigned, Mapping) else None
    previous = prev.get("membership") if isinstance(prev, Mapping) else None
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
