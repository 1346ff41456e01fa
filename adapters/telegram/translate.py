"""Telegram translation, pure: Bot API update JSON → normalized events; posts → ``sendMessage`` parameters.

No I/O and no SDK objects here, so every rule can be tested with plain dicts (``adapter.py`` does the I/O).
The outbound half lives in ``render.py`` and is re-exported here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from adapters.base import (
    ActionPressed,
    ChannelMembershipChanged,
    ChannelMigrated,
    ChatRef,
    CommandIssued,
    Event,
    MemberJoined,
    MemberLeft,
    MemberList,
    MessagePosted,
    MessagePreview,
    MessageRef,
    OutboundMessage,
    PreviewBlock,
    PreviewStyle,
    ReactionAdded,
    ReactionRemoved,
    ReplyPosted,
    UserRef,
)
from adapters.telegram.render import (
    ANSWER_TEXT_LIMIT,
    CALLBACK_DATA_LIMIT,
    TEXT_LIMIT,
    CallbackDataTooLong,
    ComposeError,
    EmptyMessage,
    InvalidButton,
    MessagePart,
    TextTooLong,
    chat_id_param,
    compose,
    decode_callback_data,
    encode_callback_data,
    keyboard,
    render_text,
    reply_parameters,
    send_message_params,
    split_chat_id,
    split_plain,
    split_text,
    telegram_document,
    topic_chat_id,
    validate,
    visible_length,
    visible_text,
)

__all__ = [
    "ALLOWED_UPDATES",
    "ANSWER_TEXT_LIMIT",
    "CALLBACK_DATA_LIMIT",
    "PLATFORM",
    "TEXT_LIMIT",
    "BotIdentity",
    "CallbackDataTooLong",
    "ComposeError",
    "EmptyMessage",
    "InvalidButton",
    "MalformedUpdate",
    "MessagePart",
    "TextTooLong",
    "callback_query_id",
    "chat_id_param",
    "compose",
    "decode_callback_data",
    "encode_callback_data",
    "is_private_chat",
    "keyboard",
    "member_list",
    "preview",
    "render_text",
    "reply_parameters",
    "send_message_params",
    "split_chat_id",
    "split_plain",
    "split_text",
    "telegram_document",
    "topic_chat_id",
    "translate_update",
    "validate",
    "visible_length",
    "visible_text",
]

PLATFORM = "telegram"
CAPTION_LIMIT = 1024  # characters of a media caption (TEXT_LIMIT: of a message's text)
# What prikbord listens to; message_reaction and chat_member (people joining and leaving a group, sent only
# to a bot that is an admin there) must be asked for explicitly, Telegram leaves them out by default.
ALLOWED_UPDATES = ("message", "callback_query", "message_reaction", "my_chat_member", "chat_member")


def preview(message: OutboundMessage) -> MessagePreview:
    """The messages a post is sent as and its inline keyboard, from the same :func:`compose` that sends it."""
    parts = compose(message)
    rows: tuple[tuple[str, ...], ...] = ()
    for part in parts:
        if part.reply_markup is not None:
            keyboard_rows = part.reply_markup["inline_keyboard"]
            rows = tuple(tuple(str(button["text"]) for button in row) for row in keyboard_rows)
    split = len(parts) > 1
    notes = (f"sent as {len(parts)} messages: Telegram takes {TEXT_LIMIT} characters each",) if split else ()
    return MessagePreview(tuple((PreviewBlock(part.text, PreviewStyle.LINES),) for part in parts), rows, notes)


class MalformedUpdate(ValueError):
    """The update JSON lacks what the Bot API promises (webhook mode answers 400)."""


@dataclass(frozen=True, slots=True)
class BotIdentity:
    """Who we are (from getMe): needed to tell replies to us and commands addressed to us."""

    id: int
    username: str
    name: str = ""


# ---------------------------------------------------------------------------------------------
# Inbound


def _obj(parent: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = parent.get(key)
    if not isinstance(value, Mapping):
        raise MalformedUpdate(f"{key} must be an object")
    return value


def _int(parent: Mapping[str, Any], key: str) -> int:
    value = parent.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise MalformedUpdate(f"{key} must be an integer")
    return value


def _str(parent: Mapping[str, Any], key: str) -> str:
    value = parent.get(key)
    if not isinstance(value, str):
        raise MalformedUpdate(f"{key} must be a string")
    return value


def _optional_str(parent: Mapping[str, Any], key: str) -> str:
    value = parent.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise MalformedUpdate(f"{key} must be a string")
    return value


def _user(user: Mapping[str, Any]) -> UserRef:
    user_id = _int(user, "id")
    first = _str(user, "first_name")  # the Bot API's User always has one
    last = _optional_str(user, "last_name")
    name = f"{first} {last}".strip() or _optional_str(user, "username")
    language = user.get("language_code")  # IETF tag of the person's Telegram language, when it tells
    return UserRef(PLATFORM, str(user_id), name, language if isinstance(language, str) and language else None)


def _chat(message: Mapping[str, Any]) -> ChatRef:
    return ChatRef(PLATFORM, str(_int(_obj(message, "chat"), "id")))


def _message_chat(message: Mapping[str, Any]) -> ChatRef:
    """Where a message is: its chat, or for a message in a topic of a forum supergroup the topic, as
    ``"<chat>/<thread>"`` (the id a ``[[channels]]`` entry with ``thread_id`` has). Only ``is_topic_message``
    says so: replies in an ordinary supergroup carry a ``message_thread_id`` too (their reply thread)."""
    chat = _chat(message)
    if message.get("is_topic_message") is not True:
        return chat
    return ChatRef(PLATFORM, topic_chat_id(chat.chat_id, _int(message, "message_thread_id")))


def callback_query_id(update: Mapping[str, Any]) -> str | None:
    query = update.get("callback_query")
    if isinstance(query, Mapping) and isinstance(query.get("id"), str):
        return str(query["id"])
    return None


def translate_update(update: Mapping[str, Any], me: BotIdentity) -> list[Event]:
    """One update → the events it means for prikbord (often none). Raises :class:`MalformedUpdate`."""
    if not isinstance(update, Mapping):
        raise MalformedUpdate("an update must be a JSON object")
    update_id = _int(update, "update_id")
    if "callback_query" in update:
        return _callback_query(_obj(update, "callback_query"))
    if "message_reaction" in update:
        return _reaction(_obj(update, "message_reaction"), update_id)
    if "my_chat_member" in update:
        return _membership(_obj(update, "my_chat_member"), update_id)
    if "chat_member" in update:
        return _member_change(_obj(update, "chat_member"), update_id, me)
    if "message" in update:
        return _message(_obj(update, "message"), me)
    return []


def _callback_query(query: Mapping[str, Any]) -> list[Event]:
    query_id = _str(query, "id")
    user = _user(_obj(query, "from"))
    message = query.get("message")
    data = query.get("data")
    # Inline-mode and game callbacks carry no message or data: not ours, but still answered by the adapter.
    if not isinstance(message, Mapping) or not isinstance(data, str):
        return []
    ref = MessageRef(_message_chat(message), str(_int(message, "message_id")))
    _, action_id = decode_callback_data(data)
    # The callback id is Telegram's own: a redelivered update carries the same one.
    return [ActionPressed(f"tg:cb:{query_id}", user, ref, action_id)]


def _reaction_keys(reactions: object) -> list[str]:
    if reactions is None:  # the SDK's to_dict() drops empty lists
        return []
    if not isinstance(reactions, list):
        raise MalformedUpdate("old_reaction/new_reaction must be arrays")
    keys: list[str] = []
    for r in reactions:
        if not isinstance(r, Mapping):
            raise MalformedUpdate("a reaction must be an object")
        if r.get("type") == "emoji" and isinstance(r.get("emoji"), str):
            keys.append(str(r["emoji"]))
        elif r.get("type") == "custom_emoji" and isinstance(r.get("custom_emoji_id"), str):
            keys.append(f"custom:{r['custom_emoji_id']}")
    return keys


def _reaction(update: Mapping[str, Any], update_id: int) -> list[Event]:
    ref = MessageRef(_chat(update), str(_int(update, "message_id")))
    if isinstance(update.get("user"), Mapping):
        user = _user(_obj(update, "user"))
    else:  # an anonymous admin reacts as the chat itself
        actor = _obj(update, "actor_chat")
        user = UserRef(PLATFORM, str(_int(actor, "id")), str(actor.get("title") or ""))
    old = _reaction_keys(update.get("old_reaction"))
    new = _reaction_keys(update.get("new_reaction"))
    events: list[Event] = [ReactionRemoved(f"tg:u{update_id}:-{k}", user, ref, k) for k in old if k not in new]
    events += [ReactionAdded(f"tg:u{update_id}:+{k}", user, ref, k) for k in new if k not in old]
    return events


_MEMBER = frozenset({"creator", "administrator", "member"})


def _is_member(member: Mapping[str, Any]) -> bool:
    status = _str(member, "status")
    return status in _MEMBER or (status == "restricted" and bool(member.get("is_member")))


def _membership(update: Mapping[str, Any], update_id: int) -> list[Event]:
    chat = _obj(update, "chat")
    by = _user(_obj(update, "from"))
    was = _is_member(_obj(update, "old_chat_member"))
    now = _is_member(_obj(update, "new_chat_member"))
    if was == now:  # promotions and restrictions do not change whether we can post
        return []
    who = by.display_name or by.user_id
    if now:
        reason = f"added by {who}"
    elif chat.get("type") == "private":
        reason = f"{who} blocked the bot"
    else:
        reason = f"removed by {who} ({_str(_obj(update, 'new_chat_member'), 'status')})"
    ref = ChatRef(PLATFORM, str(_int(chat, "id")))
    return [ChannelMembershipChanged(f"tg:u{update_id}:member", by, ref, now, reason)]


def _member_change(update: Mapping[str, Any], update_id: int, me: BotIdentity) -> list[Event]:
    """chat_member: a person joined or left a group (or was added or removed). The bot's own membership
    comes as my_chat_member; other bots are nobody a post reaches."""
    new = _obj(update, "new_chat_member")
    member = _obj(new, "user")
    if _int(member, "id") == me.id or member.get("is_bot") is True:
        return []
    was, now = _is_member(_obj(update, "old_chat_member")), _is_member(new)
    if was == now:  # promoted, restricted, or left while not a member
        return []
    chat = ChatRef(PLATFORM, str(_int(_obj(update, "chat"), "id")))
    kind = MemberJoined if now else MemberLeft
    return [kind(f"tg:u{update_id}:chat_member", _user(member), chat)]


def is_private_chat(chat_id: str) -> bool:
    """A private chat's id is the person's user id, a positive number; groups, supergroups and channels
    have negative ids (or an ``@username``)."""
    return chat_id.isdigit()


def member_list(count: int) -> MemberList:
    """What a group's member count (``getChatMemberCount``, the bot among them) tells: nobody by name, so a
    partial list, and how many people besides the bot are in it."""
    return MemberList((), partial=True, count=max(0, count - 1))


_COMMAND = re.compile(r"^/(?P<name>[A-Za-z0-9_]{1,64})(?:@(?P<bot>[A-Za-z0-9_]{1,64}))?(?=\s|$)(?P<args>.*)$", re.S)


def _message_text(message: Mapping[str, Any]) -> str | None:
    """The text (or a media message's caption); refused when it is longer than Telegram lets anyone send,
    so an oversized command never reaches the core (a 900 KB ``/search`` would be answered with it)."""
    key = "text" if "text" in message else "caption" if "caption" in message else None
    if key is None:
        return None
    text = _str(message, key)
    limit = TEXT_LIMIT if key == "text" else CAPTION_LIMIT
    if len(text) > limit:  # len() never exceeds the UTF-16 length Telegram's limits count
        raise MalformedUpdate(f"{key} is {len(text)} characters; Telegram sends at most {limit}")
    return text


def _message(message: Mapping[str, Any], me: BotIdentity) -> list[Event]:
    chat = _message_chat(message)
    message_id = _int(message, "message_id")
    _int(message, "date")  # every Message has one: without it this is no update Telegram sent
    # Message ids are per chat (topics share them), so chat and id together name a message for good.
    whole_chat = _chat(message).chat_id
    event_id = f"tg:m:{whole_chat}:{message_id}"
    # Absent in channel posts (the chat speaks); present, it must be a User.
    user = _user(_obj(message, "from")) if "from" in message else UserRef(PLATFORM, whole_chat, "")
    if "migrate_to_chat_id" in message:
        return [ChannelMigrated(event_id, user, chat, str(_int(message, "migrate_to_chat_id")))]
    text = _message_text(message)
    if text is None:
        return []
    ref = MessageRef(chat, str(message_id))
    command = _COMMAND.match(text) if "text" in message else None
    if command:
        addressed = command.group("bot")
        if addressed and addressed.lower() != me.username.lower():
            return []  # /cmd@otherbot in a group with several bots
        private = _obj(message, "chat").get("type") == "private"
        name, args = deep_linked(command.group("name").lower(), command.group("args").strip())
        return [CommandIssued(event_id, user, chat, name, args, private, ref)]
    replied = message.get("reply_to_message")
    # In a topic every message answers the topic's forum_topic_created message: no reply to a post.
    if isinstance(replied, Mapping) and "forum_topic_created" not in replied:
        author = replied.get("from")
        if isinstance(author, Mapping) and author.get("id") == me.id:
            original = MessageRef(chat, str(_int(replied, "message_id")))
            return [ReplyPosted(event_id, user, original, text, ref)]
    if _obj(message, "chat").get("type") == "private" and "text" in message:
        # Plain text to the bot: read only as the answer to a question it asked (a post step by step).
        return [MessagePosted(event_id, user, chat, text, True, ref)]
    return []


# The deep links the bot hands out (t.me/BOT?start=PAYLOAD) and the command each one starts.
DEEP_LINKS = {"post": "post"}


def deep_linked(name: str, args: str) -> tuple[str, str]:
    """``/start post`` (a ``t.me/BOT?start=post`` link opened) → the command ``post``; others unchanged."""
    if name == "start" and args in DEEP_LINKS:
        return DEEP_LINKS[args], ""
    return name, args


def start_link(username: str, payload: str) -> str | None:
    """``https://t.me/BOT?start=PAYLOAD``; None without the bot's username."""
    return f"https://t.me/{username}?start={payload}" if username else None


def header_value(headers: Mapping[str, str], name: str) -> str | None:
    """A request header by name, whatever its case (the web app hands them on as they came)."""
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    for key, val in headers.items():
        if key.lower() == lowered:
            return val
    return None
