"""The loopback Telegram peer's photos, documents and albums: sendPhoto, sendDocument, sendMediaGroup
and editMessageCaption, as strict as the Bot API.

Uploads arrive as multipart file parts (a sendMediaGroup's as ``attach://NAME`` parts); each upload is
counted (``uploads``) and gets a ``file_id`` the peer issued; a string in place of a file must be one
of those (the peer fetches no URLs). Facts, from https://core.telegram.org/bots/api: photos at most
10 MB, other files 50 MB via upload (#sending-files); captions 0-1,024 characters after entity parsing;
a media group holds 2-10 items, documents only with documents, and carries no reply_markup (the method
has no such parameter: sendMediaGroup). Error texts as Telegram answers them where known
("wrong file identifier/HTTP URL specified", "message caption is too long", "there is no text in the
message to edit"); the media-group count's wording is unverified.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tests.peers.telegram import ApiError, _bad, parse_html, utf16_length

if TYPE_CHECKING:
    from tests.peers.telegram import PeerMessage, TelegramPeer

MB = 1024 * 1024
PHOTO_BYTES = 10 * MB
DOCUMENT_BYTES = 50 * MB
CAPTION_LIMIT = 1024
ALBUM = (2, 10)
MEDIA_METHODS = frozenset({"sendPhoto", "sendDocument", "sendMediaGroup"})


@dataclass(frozen=True)
class PeerFile:
    file_id: str
    file_unique_id: str
    kind: str  # photo | document
    sha256: str
    size: int
    file_name: str
    mime_type: str


@dataclass(frozen=True)
class Upload:
    """One file part that arrived (what "one upload per post" counts)."""

    method: str
    chat_id: int
    file_name: str
    size: int
    sha256: str


class PeerMedia:
    def __init__(self, peer: TelegramPeer) -> None:
        self._peer = peer
        self.files: dict[str, PeerFile] = {}
        self.uploads: list[Upload] = []
        self._ids = itertools.count(1)
        self.attached: Mapping[str, Any] = {}  # the current call's attach:// parts
        self.sent_keys: frozenset[str] = frozenset()  # the current call's parameter names, unknown ones too
        # hold_reuses(): sends by file_id wait here (counted in ``held``) and then fail without a message, as
        # a request Telegram never got; a crash test kills prikbord while they wait.
        self._hold: asyncio.Event | None = None
        self.held = 0

    @staticmethod
    def attach_names(raw: Mapping[str, Any]) -> list[str]:
        """The file parts a sendMediaGroup's ``media`` refers to (``attach://NAME``)."""
        media = raw.get("media")
        try:
            items = json.loads(media) if isinstance(media, str) else []
        except ValueError:
            return []
        names = []
        for item in items if isinstance(items, list) else []:
            ref = item.get("media") if isinstance(item, dict) else None
            if isinstance(ref, str) and ref.startswith("attach://"):
                names.append(ref[len("attach://") :])
        return names

    # -- files ----------------------------------------------------------------------------------

    def _file(self, value: Any, kind: str, method: str, chat_id: int) -> PeerFile:
        """A file part (an upload) or a file_id this peer issued for the same kind of file."""
        if isinstance(value, str):
            if value.startswith("attach://"):
                part = self.attached.get(value[len("attach://") :])
                if part is None:
                    raise _bad("can't parse InputMedia: media not found")
                value = part
            else:
                found = self.files.get(value)
                if found is None or found.kind != kind:
                    raise _bad("wrong file identifier/HTTP URL specified")
                return found
        data = value.file.read() if hasattr(value, "file") else None
        if not isinstance(data, bytes):
            raise _bad(f"there is no {kind} in the request")
        if not data:
            raise _bad("file must be non-empty")
        if len(data) > (PHOTO_BYTES if kind == "photo" else DOCUMENT_BYTES):
            raise _bad("file is too big")
        name = getattr(value, "filename", None) or "file"
        mime = getattr(value, "content_type", None) or "application/octet-stream"
        sha = hashlib.sha256(data).hexdigest()
        self.uploads.append(Upload(method, chat_id, name, len(data), sha))
        n = next(self._ids)
        prefix = "AgACAgQ" if kind == "photo" else "BQACAgQ"
        found = PeerFile(f"{prefix}{n:06d}-{sha[:12]}", f"AQAD{n:06d}", kind, sha, len(data), name, mime)
        self.files[found.file_id] = found
        return found

    @staticmethod
    def _media_json(found: PeerFile) -> dict[str, Any]:
        if found.kind == "photo":
            # The largest of the sizes Telegram makes; one is enough here.
            size = {"file_id": found.file_id, "file_unique_id": found.file_unique_id, "width": 800, "height": 600}
            return {"photo": [size | {"file_size": found.size}]}
        return {
            "document": {
                "file_id": found.file_id,
                "file_unique_id": found.file_unique_id,
                "file_name": found.file_name,
                "mime_type": found.mime_type,
                "file_size": found.size,
            }
        }

    def _caption(self, params: Mapping[str, Any]) -> tuple[str, str]:
        source = params.get("caption") or ""
        mode = params.get("parse_mode")
        visible = parse_html(source) if mode == "HTML" else source
        if mode not in (None, "", "HTML"):
            raise _bad("unsupported parse_mode")
        if utf16_length(visible.strip()) > CAPTION_LIMIT:
            raise _bad("message caption is too long")
        return source, visible.strip()

    def hold_reuses(self) -> None:
        self._hold = asyncio.Event()

    def release(self) -> None:
        if self._hold is not None:
            self._hold.set()
        self._hold = None

    async def _held(self, params: Mapping[str, Any], kind: str) -> None:
        hold = self._hold
        if hold is not None and isinstance(params.get(kind), str):
            self.held += 1
            await hold.wait()
            raise ApiError(502, "Bad Gateway: the request never reached Telegram")

    # -- methods --------------------------------------------------------------------------------

    def _send_one(self, params: dict[str, Any], method: str, kind: str) -> dict[str, Any]:
        peer = self._peer
        chat = peer._writable_chat(params["chat_id"])
        thread = peer._thread(chat, params)
        source, visible = self._caption(params)
        markup = peer._keyboard(params)
        peer._check_flood(method, chat.id, params.get("allow_paid_broadcast") is True)
        found = self._file(params[kind], kind, method, chat.id)
        msg = peer._new_message(chat, peer.bot.id, visible, source=source, parse_mode=params.get("parse_mode"))
        msg.reply_markup, msg.thread_id, msg.media = markup, thread, self._media_json(found)
        msg.reply_to = self._reply_to(params, chat.id)
        return peer.message_json(msg)

    def _reply_to(self, params: Mapping[str, Any], chat_id: int) -> int | None:
        reply = params.get("reply_parameters")
        if not isinstance(reply, dict):
            return None
        target = self._peer.message(chat_id, reply["message_id"])
        if target is None or target.deleted:
            if not reply.get("allow_sending_without_reply"):
                raise _bad("message to be replied not found")
            return None
        return target.message_id

    async def send_photo(self, params: dict[str, Any]) -> dict[str, Any]:
        await self._held(params, "photo")
        return self._send_one(params, "sendPhoto", "photo")

    def send_document(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._send_one(params, "sendDocument", "document")

    def send_media_group(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        peer = self._peer
        if "reply_markup" in self.sent_keys:  # not a parameter of sendMediaGroup: albums carry no buttons
            raise _bad("media group messages can't have reply markup")
        chat = peer._writable_chat(params["chat_id"])
        thread = peer._thread(chat, params)
        items = params["media"]
        if not ALBUM[0] <= len(items) <= ALBUM[1]:
            raise _bad("media group must include 2-10 items")
        kinds = {item["type"] for item in items}
        if "document" in kinds and kinds != {"document"}:
            raise _bad("document can't be mixed with other media types")
        if not kinds <= {"photo", "document"}:
            raise _bad("the loopback peer takes only photo and document media groups")
        peer._check_flood("sendMediaGroup", chat.id, params.get("allow_paid_broadcast") is True)
        found = [self._file(item["media"], item["type"], "sendMediaGroup", chat.id) for item in items]
        reply_to = self._reply_to(params, chat.id)
        group = f"{next(self._ids):013d}"
        sent = []
        for f in found:
            msg = peer._new_message(chat, peer.bot.id, "")
            msg.thread_id, msg.media = thread, self._media_json(f) | {"media_group_id": group}
            msg.reply_to = reply_to
            sent.append(peer.message_json(msg))
        return sent

    def edit_message_caption(self, params: dict[str, Any]) -> dict[str, Any]:
        peer = self._peer
        msg: PeerMessage = peer._editable(params, "edit")
        if msg.media is None:
            raise _bad("there is no caption in the message to edit")
        return peer.edited(msg, params, *self._caption(params))


def refuse_text_edit_of_media(msg: PeerMessage) -> None:
    """editMessageText on a photo or document: Telegram's answer."""
    if msg.media is not None:
        raise ApiError(400, "Bad Request: there is no text in the message to edit")
