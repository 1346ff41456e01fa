"""Which chats a Telegram bot is in, read from pending updates (pure: JSON in, chats out).

The Bot API cannot list a bot's chats. What it has are updates: ``my_chat_member`` when someone adds
the bot to a group or removes it, and every message, button press or reaction, each with its chat.
``prikbord channels discover`` reads the pending updates without confirming them (no ``offset``), so
the running service still gets every one of them; this module turns them into chats, and the topics
of a forum supergroup seen in them into entries with ``thread_id`` (chat id ``"<chat>/<thread>"``, named
after the topic's ``forum_topic_created`` message, which every message in a topic answers).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from adapters.base import ChatRef, DiscoveredChat
from adapters.telegram.translate import PLATFORM, topic_chat_id

_IN = frozenset({"member", "administrator", "creator", "restricted"})
_OUT = frozenset({"left", "kicked"})
_GROUPS = frozenset({"group", "supergroup", "channel"})
PERSON = "private"  # a private chat with a person: no channel, but their user id (moderators = …)


@dataclass
class _Seen:
    title: str
    kind: str
    status: str | None = None  # the bot's own status from my_chat_member, when one came
    gone: bool = False
    moved_to: str | None = None


def _chats_of(update: Mapping[str, Any]) -> Iterable[tuple[Mapping[str, Any], Mapping[str, Any]]]:
    """(chat, the object it came in) for every chat an update names."""
    for key in ("message", "edited_message", "channel_post", "edited_channel_post", "message_reaction"):
        obj = update.get(key)
        if isinstance(obj, Mapping) and isinstance(obj.get("chat"), Mapping):
            yield obj["chat"], obj
    query = update.get("callback_query")
    if isinstance(query, Mapping) and isinstance(query.get("message"), Mapping):
        message = query["message"]
        if isinstance(message.get("chat"), Mapping):
            yield message["chat"], message
    member = update.get("my_chat_member")
    if isinstance(member, Mapping) and isinstance(member.get("chat"), Mapping):
        yield member["chat"], member


def _title(chat: Mapping[str, Any]) -> str:
    if chat.get("type") == PERSON:
        return " ".join(str(chat[k]) for k in ("first_name", "last_name") if chat.get(k))
    return str(chat.get("title") or "")


def _note(seen: _Seen) -> str:
    if seen.kind == PERSON:
        return "wrote to the bot: a private chat, whose id is the person's user id"
    if seen.kind == "group":
        return "a basic group: when it becomes a supergroup its id changes (prikbord follows the move)"
    if seen.status == "administrator" or seen.status == "creator":
        return "the bot is an admin: reactions arrive"
    if seen.status is not None:
        return "the bot is not an admin here: make it one, or reactions and most messages will not arrive"
    return ""


def _topic(obj: Mapping[str, Any]) -> tuple[int, str] | None:
    """(message_thread_id, the topic's name or "") of a message in a forum topic; None for any other."""
    thread = obj.get("message_thread_id")
    if obj.get("is_topic_message") is not True or not isinstance(thread, int):
        return None
    for source in (obj, obj.get("reply_to_message")):
        created = source.get("forum_topic_created") if isinstance(source, Mapping) else None
        if isinstance(created, Mapping) and isinstance(created.get("name"), str):
            return thread, str(created["name"])
    return thread, ""


def chats_in_updates(updates: Iterable[Mapping[str, Any]]) -> list[DiscoveredChat]:
    """The groups, supergroups and channels the bot is in according to ``updates`` (oldest first),
    and the people who wrote to it privately (kind ``private``: no channel, but the id a moderator
    entry needs).

    A chat the bot was removed from afterwards is left out; a group that moved to a supergroup is
    listed under its new id.
    """
    seen: dict[str, _Seen] = {}
    topics: dict[str, dict[int, str]] = {}  # chat id → thread id → name
    for update in updates:
        for chat, obj in _chats_of(update):
            chat_id = str(chat.get("id", ""))
            kind = str(chat.get("type", ""))
            if not chat_id or (kind not in _GROUPS and kind != PERSON):
                continue
            title = _title(chat)
            entry = seen.setdefault(chat_id, _Seen(title or chat_id, kind))
            entry.title = title or entry.title
            topic = _topic(obj)
            if topic is not None:
                named = topics.setdefault(chat_id, {})
                named[topic[0]] = topic[1] or named.get(topic[0], "")
            if isinstance(obj.get("new_chat_member"), Mapping):  # my_chat_member: the bot's own status
                entry.status = str(obj["new_chat_member"].get("status", ""))
                entry.gone = entry.status in _OUT
            moved = obj.get("migrate_to_chat_id")
            if moved is not None:
                entry.moved_to = str(moved)
                successor = seen.setdefault(entry.moved_to, _Seen(entry.title, "supergroup", entry.status))
                successor.gone = entry.gone
    found: list[DiscoveredChat] = []
    for chat_id, entry in seen.items():
        if entry.gone or entry.moved_to is not None:
            continue
        found.append(DiscoveredChat(ChatRef(PLATFORM, chat_id), entry.title, entry.kind, None, _note(entry)))
        for thread, name in sorted(topics.get(chat_id, {}).items()):
            note = f"topic {thread} of forum {entry.title!r}: a channel of its own, or part of the forum's"
            title = f"{entry.title} / {name or f'topic {thread}'}"
            found.append(DiscoveredChat(ChatRef(PLATFORM, topic_chat_id(chat_id, thread)), title, "topic", None, note))
    return found
