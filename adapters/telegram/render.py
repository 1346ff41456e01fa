"""Telegram rendering, pure: a post → the ``sendMessage`` parameters Telegram accepts, or a clear refusal.

Telegram HTML (escaped, balanced, no nesting Telegram refuses), bodies over 4096 characters split at
paragraphs with the keyboard on the last part, and ``callback_data`` that always fits 64 bytes.
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from adapters.base import ActionStyle, DeliveryError, MessageRef, MessageTooLong, OutboundMessage
from adapters.markup import (
    TELEGRAM_HTML,
    Block,
    Bold,
    Code,
    CodeBlock,
    Document,
    Inline,
    Italic,
    Link,
    ListBlock,
    Paragraph,
    Quote,
    Text,
    TooLong,
    render_html,
    split_document,
)

TEXT_LIMIT = 4096  # characters after entity parsing (sendMessage, editMessageText)
CALLBACK_DATA_LIMIT = 64  # bytes
ANSWER_TEXT_LIMIT = 200  # answerCallbackQuery text

# ---------------------------------------------------------------------------------------------
# Errors


class ComposeError(DeliveryError, ValueError):
    """The post cannot be sent to Telegram as it is; raised before any request is made."""


class CallbackDataTooLong(ComposeError):
    pass


class InvalidButton(ComposeError):
    pass


class EmptyMessage(ComposeError):
    pass


class TextTooLong(MessageTooLong, ComposeError):
    pass


# ---------------------------------------------------------------------------------------------
# callback_data: "<delivery id base36 or ->:<action id>", e.g. "2s:vote:3". Base36 keeps the id short;
# the action id goes last so it may itself contain colons.


def _b36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


_DELIVERY = re.compile(r"^(?:-|[0-9a-z]+)$")


def encode_callback_data(delivery_id: int | None, action_id: str) -> str:
    if delivery_id is not None and delivery_id < 0:
        raise ComposeError(f"delivery id {delivery_id} is negative")
    data = f"{'-' if delivery_id is None else _b36(delivery_id)}:{action_id}"
    size = len(data.encode("utf-8"))
    if not action_id or size > CALLBACK_DATA_LIMIT:
        raise CallbackDataTooLong(
            f"button {action_id!r} needs {size} bytes of callback data; Telegram allows {CALLBACK_DATA_LIMIT}: "
            "use a shorter action id (options are numbered, e.g. vote:3)"
        )
    return data


def decode_callback_data(data: str) -> tuple[int | None, str]:
    """→ (delivery id, action id). Data we did not encode comes back whole as the action id."""
    head, sep, action = data.partition(":")
    if not sep or not action or not _DELIVERY.match(head):
        return None, data
    return (None if head == "-" else int(head, 36)), action


# ---------------------------------------------------------------------------------------------
# Rendering


def _inlines(nodes: Sequence[Inline], inside_entity: bool) -> tuple[Inline, ...]:
    # Telegram: code cannot sit inside other entities and a link cannot contain a link.
    out: list[Inline] = []
    for n in nodes:
        if isinstance(n, Code) and inside_entity:
            out.append(Text(n.text))
        elif isinstance(n, Bold):
            out.append(Bold(_inlines(n.children, True)))
        elif isinstance(n, Italic):
            out.append(Italic(_inlines(n.children, True)))
        elif isinstance(n, Link):
            children = _inlines(n.children, True)
            out.append(Link(n.url, tuple(_unlink(children))))
        else:
            out.append(n)
    return tuple(out)


def _unlink(nodes: Sequence[Inline]) -> list[Inline]:
    out: list[Inline] = []
    for n in nodes:
        if isinstance(n, Link):
            out.extend(_unlink(n.children))
        elif isinstance(n, Bold):
            out.append(Bold(tuple(_unlink(n.children))))
        elif isinstance(n, Italic):
            out.append(Italic(tuple(_unlink(n.children))))
        else:
            out.append(n)
    return out


def _blocks(blocks: Sequence[Block], in_quote: bool) -> list[Block]:
    # Telegram: blockquotes cannot nest and pre cannot sit inside one; flatten rather than fail.
    out: list[Block] = []
    for b in blocks:
        if isinstance(b, Paragraph):
            out.append(Paragraph(_inlines(b.children, False)))
        elif isinstance(b, CodeBlock):
            out.append(Paragraph((Text(b.text),)) if in_quote else b)
        elif isinstance(b, Quote):
            inner = _blocks(b.children, True)
            if in_quote:
                out.extend(inner)
            else:
                out.append(Quote(tuple(inner)))
        else:
            items = tuple(tuple(_blocks(item, in_quote)) for item in b.items)
            out.append(ListBlock(b.ordered, items, b.start))
    return out


def telegram_document(doc: Document) -> Document:
    """The document reshaped to what Telegram's HTML accepts (no nested quotes, no code in entities)."""
    return Document(tuple(_blocks(doc.blocks, False)))


def render_text(doc: Document) -> str:
    """Telegram HTML (parse_mode HTML): escaped and balanced."""
    return render_html(telegram_document(doc), TELEGRAM_HTML)


_TAG = re.compile(r"<[^>]*>")


def visible_text(html_text: str) -> str:
    """What a reader sees of our HTML (tags removed, entities decoded)."""
    return html.unescape(_TAG.sub("", html_text))


def visible_length(html_text: str) -> int:
    # UTF-16 code units: how Telegram measures text, and never less than the count of characters.
    return len(visible_text(html_text).encode("utf-16-le")) // 2


def _measure(doc: Document) -> int:
    return visible_length(render_html(doc, TELEGRAM_HTML))


@functools.lru_cache(maxsize=256)
def split_text(doc: Document, limit: int = TEXT_LIMIT) -> tuple[str, ...]:
    """The body as one or more HTML texts each within ``limit``, split at paragraph boundaries. Kept for
    the last few documents: a fan-out sends the same post to every chat (a Document is immutable)."""
    shaped = telegram_document(doc)
    try:
        docs = [shaped] if _measure(shaped) <= limit else split_document(shaped, limit, _measure)
    except TooLong as exc:
        raise TextTooLong(str(exc)) from exc
    texts = [render_html(d, TELEGRAM_HTML) for d in docs]
    texts = [t for t in texts if visible_text(t).strip()]
    if not texts:
        raise EmptyMessage("the post has no text; Telegram refuses empty messages")
    return tuple(texts)


_URL_SCHEMES = ("http://", "https://", "tg://")
_STYLES = {ActionStyle.PRIMARY: "primary", ActionStyle.DANGER: "danger"}


def button_label(label: str, count: int | None) -> str:
    return label if count is None else f"{label} · {count}"


def keyboard(message: OutboundMessage) -> dict[str, Any] | None:
    """The inline keyboard: one button per action; URL buttons on their own row. A question without
    buttons that wants a typed answer gets ForceReply (the reply field opens on it)."""
    if not message.actions:
        return {"force_reply": True} if message.asks_reply else None
    rows: list[list[dict[str, Any]]] = []
    row: list[dict[str, Any]] = []
    row_short = True
    for action in message.actions:
        if not action.label.strip():
            raise InvalidButton(f"action {action.action_id!r} has no label")
        button: dict[str, Any] = {"text": button_label(action.label, action.count)}
        if action.style in _STYLES:
            button["style"] = _STYLES[action.style]
        if action.url is not None:
            if not action.url.lower().startswith(_URL_SCHEMES):
                raise InvalidButton(f"link {action.url!r} is not an http(s) or tg:// URL; Telegram refuses it")
            button["url"] = action.url
            if row:
                rows.append(row)
                row = []
            rows.append([button])
            continue
        button["callback_data"] = encode_callback_data(message.delivery_id, action.action_id)
        # Short labels share a row (up to three); long ones get a row each to stay readable on phones.
        # Judged without the count, so the layout does not jump as counts grow.
        short = len(action.label) <= 12
        if row and (len(row) == 3 or not short or not row_short):
            rows.append(row)
            row = []
        row_short = short if not row else row_short and short
        row.append(button)
    if row:
        rows.append(row)
    return {"inline_keyboard": rows}


@dataclass(frozen=True, slots=True)
class MessagePart:
    """One sendMessage of a post; the keyboard rides on the last part, the reply on the first."""

    text: str
    reply_markup: dict[str, Any] | None = None
    reply_to: MessageRef | None = None
    parse_mode: str = "HTML"

    def params(self, chat_id: str) -> dict[str, Any]:
        """Bot API ``sendMessage`` parameters (a topic's ``chat/thread`` id adds ``message_thread_id``)."""
        out: dict[str, Any] = {"chat_id": chat_id_param(chat_id), "text": self.text, "parse_mode": self.parse_mode}
        out.update(thread_param(chat_id))
        if self.reply_markup is not None:
            out["reply_markup"] = self.reply_markup
        if self.reply_to is not None:
            out["reply_parameters"] = reply_parameters(self.reply_to, chat_id)
        return out


def reply_parameters(ref: MessageRef, chat_id: str) -> dict[str, Any]:
    # A deleted original must not block the reply: Telegram then sends it as a plain message.
    out: dict[str, Any] = {"message_id": int(ref.message_id), "allow_sending_without_reply": True}
    if split_chat_id(ref.chat.chat_id)[0] != split_chat_id(chat_id)[0]:
        out["chat_id"] = chat_id_param(ref.chat.chat_id)
    return out


def compose(message: OutboundMessage) -> list[MessagePart]:
    """The parts a post is sent as. Raises :class:`ComposeError` for anything Telegram would refuse."""
    texts = split_text(message.markup)
    markup = keyboard(message)
    last = len(texts) - 1
    return [
        MessagePart(text, markup if i == last else None, message.reply_to if i == 0 else None)
        for i, text in enumerate(texts)
    ]


def send_message_params(chat_id: str, message: OutboundMessage) -> list[dict[str, Any]]:
    return [part.params(chat_id) for part in compose(message)]


def validate(message: OutboundMessage) -> None:
    """Raise :class:`ComposeError` (a ValueError and a DeliveryError) if Telegram cannot take the post."""
    compose(message)


# A topic of a forum supergroup is named by one string through the whole system, "<chat>/<thread>"
# (``-1001234567890/45``): the chat id Telegram knows and the topic's ``message_thread_id``. Sends go to the
# topic; edits and deletions need only the chat, as a message id is unique in the whole chat.
TOPIC_SEPARATOR = "/"


def topic_chat_id(chat_id: str, thread_id: int | None) -> str:
    """The chat id prikbord uses for ``thread_id`` of ``chat_id`` (``chat_id`` itself without a topic)."""
    return chat_id if thread_id is None else f"{chat_id}{TOPIC_SEPARATOR}{thread_id}"


def split_chat_id(chat_id: str) -> tuple[str, int | None]:
    """``"-1001/45"`` → ``("-1001", 45)``; ``"-1001"`` → ``("-1001", None)``."""
    chat, sep, thread = chat_id.partition(TOPIC_SEPARATOR)
    if not sep:
        return chat_id, None
    try:
        return chat, int(thread)
    except ValueError:
        raise ComposeError(f"{chat_id!r} is not a Telegram chat id with a topic (chat/thread, e.g. -1001/45)") from None


def thread_param(chat_id: str) -> dict[str, int]:
    """``message_thread_id`` for a send to a topic's chat id; nothing for a whole chat."""
    thread = split_chat_id(chat_id)[1]
    return {} if thread is None else {"message_thread_id": thread}


def chat_id_param(chat_id: str) -> int | str:
    """Numeric chat ids go as integers, ``@channelname`` as it is; a topic's id as its chat's."""
    chat_id = split_chat_id(chat_id)[0]
    try:
        return int(chat_id)
    except ValueError:
        if chat_id.startswith("@"):
            return chat_id
        raise ComposeError(f"{chat_id!r} is not a Telegram chat id (a number, or @channelname)") from None


def split_plain(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Plain text (command answers) in chunks Telegram accepts, at paragraph or line breaks where possible."""

    def size(s: str) -> int:
        return len(s.encode("utf-16-le")) // 2

    chunks: list[str] = []
    rest = text.strip() or "…"
    while size(rest) > limit:
        window = rest[:limit]
        while size(window) > limit:
            window = window[:-1]
        cut = max(window.rfind("\n\n"), window.rfind("\n"))
        cut = cut if cut > 0 else len(window)
        chunks.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip("\n")
    chunks.append(rest)
    return [c for c in chunks if c.strip()]
