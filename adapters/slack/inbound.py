"""Slack inbound translation, pure: the payloads Slack posts (Events API, interactivity, slash commands)
→ normalized events. No I/O: the adapter calls :func:`parse_request` on every signed request (and on
every Socket Mode envelope); tests call it directly.

Every payload's well-known fields are type-checked first (:func:`check_shape`): a request Slack would
never send is refused with :class:`MalformedPayload` (a 400), never half-read.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from adapters.base import (
    AccountClosed,
    ActionPressed,
    ChannelMembershipChanged,
    ChatRef,
    CommandIssued,
    Event,
    MemberJoined,
    MemberLeft,
    MessageRef,
    ReactionAdded,
    ReactionRemoved,
    ReplyPosted,
    UserRef,
)
from adapters.slack.emoji import emoji_for

PLATFORM = "slack"
MAIN_COMMAND = "/prikbord"
MAX_COMMAND_TEXT = 40_000  # a slash command's text: what the composer holds (a message's text limit)
# The value of an App Home button: the post's message (translate.home_button_value writes it).
_HOME_VALUE = re.compile(r"^@(?P<channel>[A-Z0-9]+)/(?P<ts>\d+\.\d+)$")


class MalformedPayload(ValueError):
    """A signed request whose payload is not what Slack sends: answered with 400."""


@dataclass(frozen=True, slots=True)
class Inbound:
    """What one request from Slack means for prikbord.

    ``events`` go to the core's sink; ``response_url`` answers a slash command; ``home_user`` is set
    when that person's App Home should be (re)published (opened, or a button pressed there).
    """

    events: tuple[Event, ...] = ()
    response_url: str | None = None
    home_user: UserRef | None = None


# The fields any payload may carry at its top or in the objects below it that name who, where and what:
# ids are strings (or objects with an id), the nested objects objects, lists lists of objects. bolt reads
# them all before prikbord's listener runs, and the parse functions below rely on the same types.
_ID_FIELDS = ("user", "channel", "team", "enterprise")
_TEXT_FIELDS = (
    "type", "subtype", "user_id", "channel_id", "team_id", "enterprise_id", "event_id", "trigger_id",
    "response_url", "command", "ts", "thread_ts", "event_ts", "reaction", "item_user", "parent_user_id",
    "bot_id", "action_id", "block_id", "value", "name", "username", "tab", "inviter", "actor_id", "challenge",
)  # fmt: skip
_OBJECT_FIELDS = ("event", "item", "message", "previous_message", "assistant_thread", "container", "view")
_LIST_FIELDS = ("authorizations", "actions", "response_urls")
_SHAPE_DEPTH = 6  # how far below the top the nested objects are checked


def check_shape(payload: Mapping[str, Any], where: str = "payload", depth: int = 0) -> None:
    """Refuse (MalformedPayload) a payload whose well-known fields have types Slack never sends:
    a ``user`` that is a number, an ``event`` that is a string, ``actions`` that are not objects …"""
    for key in _ID_FIELDS:
        value = payload.get(key)
        if value is not None and not isinstance(value, str | Mapping):
            raise MalformedPayload(f"{where}.{key} must be an id or an object, not {type(value).__name__}")
        if isinstance(value, Mapping) and depth < _SHAPE_DEPTH:
            check_shape(value, f"{where}.{key}", depth + 1)
    for key in _TEXT_FIELDS:
        value = payload.get(key)
        if value is not None and not isinstance(value, str):
            raise MalformedPayload(f"{where}.{key} must be a string, not {type(value).__name__}")
    for key in _OBJECT_FIELDS:
        value = payload.get(key)
        if value is None:
            continue
        if not isinstance(value, Mapping):
            raise MalformedPayload(f"{where}.{key} must be an object, not {type(value).__name__}")
        if depth < _SHAPE_DEPTH:
            check_shape(value, f"{where}.{key}", depth + 1)
    for key in _LIST_FIELDS:
        value = payload.get(key)
        if value is None:
            continue
        if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
            raise MalformedPayload(f"{where}.{key} must be a list of objects")
        if depth < _SHAPE_DEPTH:
            for n, item in enumerate(value):
                check_shape(item, f"{where}.{key}[{n}]", depth + 1)


def parse_request(body: object, bot_user_id: str | None, *, main_command: str = MAIN_COMMAND) -> Inbound:
    """A parsed request body (bolt's ``req.body``) → :class:`Inbound`. Raises MalformedPayload."""
    if not isinstance(body, Mapping) or not body:
        raise MalformedPayload("empty or non-object payload")
    check_shape(body)
    kind = body.get("type")
    if kind == "url_verification":
        _text(body, "challenge")
        return Inbound()
    if kind == "event_callback":
        return parse_event_callback(body, bot_user_id)
    if kind == "block_actions":
        return parse_block_actions(body)
    if "command" in body and kind is None:
        return parse_slash_command(body, main_command=main_command)
    if "ssl_check" in body:
        return Inbound()  # Slack probing the certificate; bolt answers it
    if not isinstance(kind, str):
        raise MalformedPayload("payload has no type")
    return Inbound()  # other interactions (shortcuts, view submissions): nothing for the core


def _text(data: Mapping[str, Any], key: str, where: str = "payload") -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise MalformedPayload(f"{where} lacks {key!r}")
    return value


def _optional_text(data: Mapping[str, Any], key: str, where: str = "payload") -> str:
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise MalformedPayload(f"{where}.{key} must be a string, not {type(value).__name__}")
    return value


def _object(data: Mapping[str, Any], key: str, where: str = "payload") -> Mapping[str, Any]:
    value = data.get(key)
    if not isinstance(value, Mapping):
        raise MalformedPayload(f"{where} lacks object {key!r}")
    return value


def parse_event_callback(body: Mapping[str, Any], bot_user_id: str | None) -> Inbound:
    event_id = _text(body, "event_id")
    event = _object(body, "event")
    kind = _text(event, "type", "event")

    def chat(channel: str) -> ChatRef:
        return ChatRef(PLATFORM, channel)

    def user(user_id: str) -> UserRef:
        return UserRef(PLATFORM, user_id)

    if kind in ("reaction_added", "reaction_removed"):
        item = _object(event, "item", "event")
        if item.get("type") != "message":
            return Inbound()
        item_user = event.get("item_user")
        if bot_user_id is not None and isinstance(item_user, str) and item_user != bot_user_id:
            return Inbound()  # a reaction on someone else's message: not a post of ours
        ref = MessageRef(chat(_text(item, "channel", "item")), _text(item, "ts", "item"))
        who = user(_text(event, "user", "event"))
        reaction = emoji_for(_text(event, "reaction", "event"))
        cls = ReactionAdded if kind == "reaction_added" else ReactionRemoved
        return Inbound(events=(cls(event_id, who, ref, reaction),))

    if kind == "message":
        return _parse_message(event_id, event, bot_user_id)

    if kind in ("member_joined_channel", "member_left_channel"):
        member = _text(event, "user", "event")
        channel = _text(event, "channel", "event")
        joined = kind == "member_joined_channel"
        if bot_user_id is None:
            return Inbound()  # who the bot is is not known yet: neither reading can be trusted
        if member != bot_user_id:  # a person: the channel's audience changes
            change = MemberJoined if joined else MemberLeft
            return Inbound(events=(change(event_id, user(member), chat(channel)),))
        actor = event.get("inviter") if joined else None
        by = f" by {actor}" if isinstance(actor, str) and actor else ""
        reason = (
            f"the bot was added to Slack channel {channel}{by}"
            if joined
            else f"the bot was removed from Slack channel {channel}: invite it again or remove the channel from config"
        )
        who = user(actor if isinstance(actor, str) and actor else member)
        return Inbound(events=(ChannelMembershipChanged(event_id, who, chat(channel), joined, reason),))

    if kind in ("channel_left", "group_left"):
        # Sent to the bot itself when it is removed from a (private) channel.
        channel = _text(event, "channel", "event")
        actor = event.get("actor_id")
        who = user(actor if isinstance(actor, str) and actor else (bot_user_id or "unknown"))
        reason = f"the bot was removed from Slack channel {channel}: invite it again or remove the channel from config"
        return Inbound(events=(ChannelMembershipChanged(event_id, who, chat(channel), False, reason),))

    if kind == "user_change":
        # A deactivated account leaves every channel's audience (scope users:read).
        changed = event.get("user")
        if not isinstance(changed, dict) or changed.get("deleted") is not True:
            return Inbound()
        return Inbound(events=(AccountClosed(event_id, user(_text(changed, "id", "event.user"))),))

    if kind == "app_home_opened":
        if event.get("tab", "home") != "home":
            return Inbound()
        return Inbound(home_user=user(_text(event, "user", "event")))

    return Inbound()


_REPLY_SUBTYPES = (None, "thread_broadcast", "file_share")


def _parse_message(event_id: str, event: Mapping[str, Any], bot_user_id: str | None) -> Inbound:
    thread_ts = event.get("thread_ts")
    ts = event.get("ts")
    if event.get("subtype") not in _REPLY_SUBTYPES or event.get("bot_id"):
        return Inbound()  # edits, deletions, joins and bots' own messages are not replies
    if not isinstance(thread_ts, str) or not thread_ts or thread_ts == ts:
        return Inbound()  # not in a thread, or the thread's parent itself
    parent_user = event.get("parent_user_id")
    if bot_user_id is not None and isinstance(parent_user, str) and parent_user != bot_user_id:
        return Inbound()  # a thread under someone else's message
    channel = ChatRef(PLATFORM, _text(event, "channel", "event"))
    who = UserRef(PLATFORM, _text(event, "user", "event"))
    text = _optional_text(event, "text", "event")
    reply = MessageRef(channel, ts) if isinstance(ts, str) and ts else None
    return Inbound(events=(ReplyPosted(event_id, who, MessageRef(channel, thread_ts), text, reply),))


def parse_block_actions(body: Mapping[str, Any]) -> Inbound:
    person = _object(body, "user")
    user = UserRef(PLATFORM, _text(person, "id", "user"), str(person.get("name") or person.get("username") or ""))
    actions = body.get("actions")
    if not isinstance(actions, list) or not actions or not all(isinstance(a, Mapping) for a in actions):
        raise MalformedPayload("block_actions without actions")
    container = _object(body, "container")
    trigger = body.get("trigger_id")
    from_home = container.get("type") == "view"
    message: MessageRef | None = None
    if not from_home:
        channel = container.get("channel_id") or _object(body, "channel").get("id")
        ts = container.get("message_ts") or _object(body, "message").get("ts")
        if not isinstance(channel, str) or not channel or not isinstance(ts, str) or not ts:
            raise MalformedPayload("block_actions without the message's channel and ts")
        message = MessageRef(ChatRef(PLATFORM, channel), ts)
    events: list[Event] = []
    for n, action in enumerate(actions):
        action_id = _text(action, "action_id", "action")
        ref = message if message is not None else _home_ref(action.get("value"))
        if ref is None:
            continue  # a button of the home view that names no post
        base = trigger if isinstance(trigger, str) and trigger else f"{user.user_id}:{action.get('action_ts', '')}"
        event_id = base if n == 0 else f"{base}:{n}"
        events.append(ActionPressed(event_id, user, ref, action_id))
    response_url = body.get("response_url")
    return Inbound(
        events=tuple(events),
        response_url=response_url if isinstance(response_url, str) and response_url else None,
        home_user=user if from_home else None,
    )


def _home_ref(value: object) -> MessageRef | None:
    match = _HOME_VALUE.match(value) if isinstance(value, str) else None
    if match is None:
        return None
    return MessageRef(ChatRef(PLATFORM, match.group("channel")), match.group("ts"))


def parse_slash_command(body: Mapping[str, Any], *, main_command: str = MAIN_COMMAND) -> Inbound:
    """``/prikbord CMD ARGS`` → CommandIssued(CMD, ARGS); another slash command ``/cmd ARGS`` → (cmd, ARGS)."""
    command = _text(body, "command").strip()
    if not command.startswith("/"):
        raise MalformedPayload("slash command does not start with '/'")
    user_id = _text(body, "user_id")
    channel_id = _text(body, "channel_id")
    text = _optional_text(body, "text").strip()
    if len(text) > MAX_COMMAND_TEXT:
        # Typed into the message composer, which holds at most a message's worth: a 900 KB `/search`
        # is no command anyone typed, and answering it would echo it back.
        raise MalformedPayload(f"slash command text is {len(text)} characters; Slack sends at most {MAX_COMMAND_TEXT}")
    if command.lower() == main_command.lower():
        head, _, args = text.partition(" ")
        name = head.lower() or "help"
    else:
        name, args = command[1:].lower(), text
    trigger = body.get("trigger_id")
    event_id = trigger if isinstance(trigger, str) and trigger else "cmd-" + _digest(body)
    user = UserRef(PLATFORM, user_id, str(body.get("user_name") or ""))
    private = channel_id.startswith("D") or body.get("channel_name") == "directmessage"
    event = CommandIssued(event_id, user, ChatRef(PLATFORM, channel_id), name, args.strip(), private_chat=private)
    response_url = body.get("response_url")
    return Inbound(events=(event,), response_url=response_url if isinstance(response_url, str) else None)


def _digest(body: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()[:20]
