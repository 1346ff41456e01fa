"""The rules an image or file meets before a post carries it, each once, as a named function.

What a file is comes from its bytes (its first bytes, and Pillow for images), never from its name;
the name's extension must agree with them. Platform limits (``MediaLimits``, declared by each adapter)
are checked for every platform a post goes to before it is stored, so nothing is sent anywhere when
one platform would refuse the file. Pillow is imported only when an image is read: ``prikbord --help``
stays fast.
"""

from __future__ import annotations

import hashlib
import io
import math
import mimetypes
from collections.abc import Mapping, Sequence
from pathlib import PurePath

from adapters.base import Adapter, MediaLimits
from bot.i18n import Message
from bot.services.drafts import DraftError, clean_text
from content.attachments import AttachmentKind, NewFile
from content.models import Channel

MAX_FILE_NAME = 255
MB = 1024 * 1024
MAX_STORED = 50 * MB  # more than any messenger takes (Telegram's documents: 50 MB): not stored at all

_IMAGE_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}
_TYPE_NAMES = {
    "image/png": "PNG image",
    "image/jpeg": "JPEG image",
    "image/gif": "GIF image",
    "image/webp": "WebP image",
    "application/pdf": "PDF document",
    "application/zip": "ZIP archive (or an Office document)",
    "application/gzip": "gzip archive",
    "text/plain": "text",
    "application/octet-stream": "binary data",
}
# An extension → the kinds of content it may hold (as sniffed): Office documents are ZIP archives.
_EXTENSIONS: dict[str, frozenset[str]] = {
    ".png": frozenset({"image/png"}),
    ".jpg": frozenset({"image/jpeg"}),
    ".jpeg": frozenset({"image/jpeg"}),
    ".gif": frozenset({"image/gif"}),
    ".webp": frozenset({"image/webp"}),
    ".pdf": frozenset({"application/pdf"}),
    **{ext: frozenset({"application/zip"}) for ext in (".zip", ".docx", ".xlsx", ".pptx", ".odt", ".ods", ".odp")},
    ".gz": frozenset({"application/gzip"}),
    **{ext: frozenset({"text/plain"}) for ext in (".txt", ".csv", ".md", ".json", ".ics", ".vcf")},
}


class AttachmentError(DraftError):
    """An image or file a post cannot carry; the message names the file (and the platform and its limit)."""


def megabytes(size: int) -> str:
    """``10 MB``; a part of one rounded up (``50.1 MB`` for a byte past 50 MB, never ``50.0 MB``)."""
    return f"{math.ceil(size * 10 / MB) / 10:.1f} MB" if size % MB else f"{size // MB} MB"


def sniffed_type(data: bytes) -> str:
    """The media type the first bytes show; text/plain for UTF-8 without NUL; else application/octet-stream."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    if data.startswith(b"PK\x03\x04"):
        return "application/zip"
    if data.startswith(b"\x1f\x8b"):
        return "application/gzip"
    if b"\x00" not in data:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            return "text/plain"
    return "application/octet-stream"


def type_name(media_type: str) -> str:
    return _TYPE_NAMES.get(media_type, media_type)


def refuse_empty(name: str, data: bytes) -> None:
    if not data:
        raise AttachmentError(Message("%(name)s is empty (0 bytes): nothing to send", name=name))


def refuse_too_big_to_store(name: str, data: bytes) -> None:
    if len(data) > MAX_STORED:
        raise AttachmentError(
            Message(
                "%(name)s is %(size)s, more than any messenger takes (at most %(most)s)",
                name=name,
                size=megabytes(len(data)),
                most=megabytes(MAX_STORED),
            )
        )


def refuse_unlike_extension(name: str, sniffed: str) -> None:
    """A known extension whose file holds something else (a renamed file, a broken download)."""
    expected = _EXTENSIONS.get(PurePath(name).suffix.lower())
    if expected is not None and sniffed not in expected:
        raise AttachmentError(
            Message(
                "%(name)s is not what its extension says: it holds %(found)s",
                name=name,
                found=type_name(sniffed),
            )
        )


def refuse_non_image(name: str, sniffed: str) -> None:
    if sniffed not in _IMAGE_TYPES.values():
        raise AttachmentError(
            Message(
                "%(name)s is not an image (it holds %(found)s): send it as a file",
                name=name,
                found=type_name(sniffed),
            )
        )


def image_dimensions(name: str, data: bytes, sniffed: str) -> tuple[int, int]:
    """(width, height) of an image that Pillow verifies and decodes whole; a truncated or damaged one is refused."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as probe:
            probe.verify()  # the structure and checksums, without decoding
        with Image.open(io.BytesIO(data)) as image:
            image.load()  # every pixel: a truncated file fails here
            found = _IMAGE_TYPES.get(image.format or "")
            width, height = image.size
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise AttachmentError(
            Message("%(name)s is a damaged image: %(reason)s", name=name, reason=str(exc)[:200] or type(exc).__name__)
        ) from None
    if found != sniffed:
        raise AttachmentError(Message("%(name)s is a damaged image: its contents do not decode", name=name))
    return width, height


def file_name_of(name: str) -> str:
    """The name a file is shown under: its last path part, cleaned and at most 255 characters."""
    base = clean_text(PurePath(name.replace("\\", "/")).name, multiline=False)
    if not base:
        raise AttachmentError(Message("an attachment needs a file name"))
    if len(base) <= MAX_FILE_NAME:
        return base
    suffix = PurePath(base).suffix[:16]
    return base[: MAX_FILE_NAME - len(suffix)] + suffix


def inspected(name: str, data: bytes, kind: AttachmentKind) -> NewFile:
    """A file, checked: not empty, what its extension says, an image that decodes (for ``IMAGE``)."""
    file_name = file_name_of(name)
    refuse_empty(file_name, data)
    refuse_too_big_to_store(file_name, data)
    sniffed = sniffed_type(data)
    refuse_unlike_extension(file_name, sniffed)
    width = height = None
    if kind == AttachmentKind.IMAGE:
        refuse_non_image(file_name, sniffed)
        width, height = image_dimensions(file_name, data, sniffed)
    media_type = sniffed
    if sniffed in ("application/zip", "text/plain"):  # the family agrees: the extension names the format
        media_type = mimetypes.guess_type(file_name, strict=False)[0] or sniffed
    return NewFile(hashlib.sha256(data).hexdigest(), media_type, len(data), data, file_name, kind, width, height)


def refuse_unsendable_to(files: Sequence[NewFile], targets: Sequence[Channel], adapters: Mapping[str, Adapter]) -> None:
    """:func:`refuse_unsendable` for each platform among ``targets``, before anything is stored or sent."""
    names: dict[str, list[str]] = {}
    for channel in targets:
        names.setdefault(channel.platform, []).append(channel.name)
    for platform, found in sorted(names.items()):
        shown = ", ".join(found[:3]) + (f" (+{len(found) - 3})" if len(found) > 3 else "")
        refuse_unsendable(files, platform, adapters[platform].limits.media, shown)


def refuse_unsendable(files: Sequence[NewFile], platform: str, limits: MediaLimits | None, channels: str) -> None:
    """Every rule of ``platform`` for ``files``: an adapter that sends no attachments, a type it refuses,
    a file too big, an image too large or too narrow, too many images for an album."""
    if not files:
        return
    if limits is None:
        raise AttachmentError(
            Message(
                "%(platform)s cannot carry images or files yet, and the post goes to %(channels)s there: "
                "leave the attachments out, or choose an audience without %(platform)s channels",
                platform=platform,
                channels=channels,
            )
        )
    for f in files:
        _refuse_too_big(f, platform, limits)
        if f.kind == AttachmentKind.IMAGE:
            _refuse_image_shape(f, platform, limits)
    images = sum(1 for f in files if f.kind == AttachmentKind.IMAGE)
    if limits.album_size is not None and images > limits.album_size[1]:
        raise AttachmentError(
            Message(
                "%(platform)s takes at most %(most)s images in one album, not %(count)s",
                platform=platform,
                most=limits.album_size[1],
                count=images,
            )
        )


def _refuse_too_big(f: NewFile, platform: str, limits: MediaLimits) -> None:
    image = f.kind == AttachmentKind.IMAGE
    most = limits.image_bytes if image else limits.file_bytes
    if most is None or f.size <= most:
        return
    facts = {"name": f.file_name, "size": megabytes(f.size), "platform": platform, "most": megabytes(most)}
    if image:
        raise AttachmentError(
            Message("%(name)s is %(size)s; %(platform)s takes images of at most %(most)s: make it smaller", **facts)
        )
    raise AttachmentError(Message("%(name)s is %(size)s; %(platform)s takes files of at most %(most)s", **facts))


def _refuse_image_shape(f: NewFile, platform: str, limits: MediaLimits) -> None:
    if limits.image_types is not None and f.media_type not in limits.image_types:
        shown = ", ".join(sorted(type_name(t) for t in limits.image_types))
        raise AttachmentError(
            Message(
                "%(name)s is a %(found)s; %(platform)s shows only these as images: %(types)s. Send it as a file",
                name=f.file_name,
                found=type_name(f.media_type),
                platform=platform,
                types=shown,
            )
        )
    width, height = f.width or 1, f.height or 1
    if limits.image_side_sum is not None and width + height > limits.image_side_sum:
        raise AttachmentError(
            Message(
                "%(name)s is %(width)s×%(height)s pixels; %(platform)s takes images whose width and height "
                "add up to at most %(most)s",
                name=f.file_name,
                width=width,
                height=height,
                platform=platform,
                most=limits.image_side_sum,
            )
        )
    if limits.image_ratio is not None and max(width, height) / min(width, height) > limits.image_ratio:
        raise AttachmentError(
            Message(
                "%(name)s is %(width)s×%(height)s pixels; %(platform)s takes images at most %(ratio)s times "
                "as wide as high (or high as wide)",
                name=f.file_name,
                width=width,
                height=height,
                platform=platform,
                ratio=int(limits.image_ratio),
            )
        )
