"""How a post with images or files goes to Telegram (pure: no I/O).

- One image or file whose post fits a caption (1,024 characters): ``sendPhoto`` / ``sendDocument``
  with the post as caption and the buttons; that message is the copy presses and counters refer to.
- Otherwise the files first — two or more images as one ``sendMediaGroup`` (an album: 2–10, and media
  groups carry no buttons), two or more files likewise as a group of documents, a single one alone,
  without caption — then the post as text messages with the buttons, the last being the copy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from adapters.base import MediaLimits, MessageRef, OutboundAttachment, OutboundMessage
from adapters.telegram.render import MessagePart, compose, keyboard, split_text, visible_length

MB = 1024 * 1024
CAPTION_LIMIT = 1024  # characters of a caption after entity parsing
ALBUM_SIZE = (2, 10)
# The Bot API's limits for uploads (https://core.telegram.org/bots/api#sendphoto, #senddocument): photos
# at most 10 MB, width + height at most 10,000, a ratio of at most 20; other files at most 50 MB.
TELEGRAM_MEDIA = MediaLimits(
    image_bytes=10 * MB,
    file_bytes=50 * MB,
    image_types=frozenset({"image/jpeg", "image/png", "image/webp"}),
    caption_length=CAPTION_LIMIT,
    album_size=ALBUM_SIZE,
    image_side_sum=10_000,
    image_ratio=20.0,
)


@dataclass(frozen=True, slots=True)
class MediaSend:
    """One sendPhoto, sendDocument or sendMediaGroup."""

    method: str
    items: tuple[OutboundAttachment, ...]
    caption: str | None = None
    reply_markup: dict[str, Any] | None = None
    reply_to: MessageRef | None = None

    def field(self) -> str:
        return "photo" if self.method == "sendPhoto" else "document"


def captioned(message: OutboundMessage) -> bool:
    """Whether the post rides as the caption of its only attachment (the copy is then that photo or file)."""
    if len(message.attachments) != 1:
        return False
    texts = split_text(message.markup)
    return len(texts) == 1 and visible_length(texts[0]) <= CAPTION_LIMIT


def _grouped(items: Sequence[OutboundAttachment], single: str) -> list[MediaSend]:
    if len(items) == 1:
        return [MediaSend(single, (items[0],))]
    most = ALBUM_SIZE[1]
    return [MediaSend("sendMediaGroup", tuple(items[i : i + most])) for i in range(0, len(items), most)]


def media_plan(message: OutboundMessage) -> tuple[list[MediaSend], list[MessagePart]]:
    """The media sends of a post, then its text messages (none when the post is the caption)."""
    if captioned(message):
        item = message.attachments[0]
        method = "sendPhoto" if item.is_image else "sendDocument"
        text = split_text(message.markup)[0]
        return [MediaSend(method, (item,), text, keyboard(message), message.reply_to)], []
    images = [a for a in message.attachments if a.is_image]
    files = [a for a in message.attachments if not a.is_image]
    sends = _grouped(images, "sendPhoto") if images else []
    sends += _grouped(files, "sendDocument") if files else []
    first = sends[0]
    sends[0] = MediaSend(first.method, first.items, reply_to=message.reply_to)
    parts = compose(message)
    parts[0] = MessagePart(parts[0].text, parts[0].reply_markup, None, parts[0].parse_mode)  # the reply is on the media
    return sends, parts


def input_media(item: OutboundAttachment, attach_name: str) -> dict[str, Any]:
    """One entry of sendMediaGroup's ``media``: an earlier upload's file_id, or ``attach://`` a file part."""
    kind = "photo" if item.is_image else "document"
    return {"type": kind, "media": item.remote_ref or f"attach://{attach_name}"}


def uploaded_file_id(sent: dict[str, Any], item: OutboundAttachment) -> str | None:
    """The file_id of ``item`` in the answer to its send: the largest size of a photo, a document's own."""
    if item.is_image:
        sizes = sent.get("photo")
        if isinstance(sizes, list) and sizes and isinstance(sizes[-1], dict):
            found = sizes[-1].get("file_id")
            return found if isinstance(found, str) else None
        return None
    document = sent.get("document")
    found = document.get("file_id") if isinstance(document, dict) else None
    return found if isinstance(found, str) else None
