"""Which chat an inbound event is in, for matching it to channels and to sent messages (pure).

A topic of a Telegram forum supergroup is named ``"<chat>/<thread>"`` (``-1001234567890/45``): one string
through the store, the outbox and the refs, split only by the Telegram adapter (adapters/telegram/render.py).
Two rules follow, and live here only:

- an event from a topic counts for the channel configured with that ``thread_id``, and when none is, for the
  group's own channel (a forum configured as one channel): :func:`chat_ids_to_match`;
- a message id is unique in its whole chat, topics included, so a sent message is found by its whole chat and
  id (:func:`whole_chat_id`), whichever topic the event names, or none (Telegram's reactions name only the chat).
"""

from __future__ import annotations

TOPIC_SEPARATOR = "/"


def chat_ids_to_match(chat_id: str) -> tuple[str, ...]:
    """The channel chat ids an event from ``chat_id`` counts for, best first: the topic's, then its chat's.
    Only a Telegram group's id (``-100…`` or ``@name``) with a numeric topic is split: a Matrix id may hold
    a ``/`` of its own (``@a/b:server``) and is one chat whatever it holds."""
    chat, sep, thread = chat_id.partition(TOPIC_SEPARATOR)
    return (chat_id, chat) if sep and _is_telegram_group(chat) and thread.isdigit() else (chat_id,)


def _is_telegram_group(chat_id: str) -> bool:
    if chat_id.startswith("-"):
        return chat_id[1:].isdigit()
    return chat_id.startswith("@") and len(chat_id) > 1 and ":" not in chat_id


def topic_chat_id(chat_id: str, thread_id: int | None) -> str:
    """The chat id of topic ``thread_id`` of ``chat_id`` (``chat_id`` itself without a topic)."""
    return chat_id if thread_id is None else f"{chat_id}{TOPIC_SEPARATOR}{thread_id}"


def whole_chat_id(chat_id: str) -> str:
    """The chat a topic is in (``"-1001/45"`` → ``"-1001"``); any other chat id as it is."""
    return chat_ids_to_match(chat_id)[-1]
