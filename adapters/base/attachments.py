"""Attachments as the core hands them to an adapter, and what a platform takes of them.

An attachment carries either the platform's reference to an earlier upload (``remote_ref``: a Telegram
``file_id``) or its bytes (``data``) for a first upload; after uploading, the adapter hands the new
reference to ``OutboundMessage.uploaded`` before anything else, so every later copy (and the same copy
after a crash) sends the reference instead of the bytes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

IMAGE = "image"  # shown as a picture
FILE = "file"  # a document to download

UploadHook = Callable[[str, str], Awaitable[None]]
"""``uploaded(sha256, remote_ref)``: the platform now holds the file under ``remote_ref``."""


@dataclass(frozen=True, slots=True)
class OutboundAttachment:
    sha256: str
    file_name: str
    kind: str  # IMAGE or FILE
    media_type: str
    size: int
    width: int | None = None
    height: int | None = None
    remote_ref: str | None = None  # the platform's reference to an earlier upload
    data: bytes | None = None  # the bytes, when the platform holds no upload of it yet

    @property
    def is_image(self) -> bool:
        return self.kind == IMAGE


@dataclass(frozen=True, slots=True)
class MediaLimits:
    """What a platform takes: sizes in bytes, the image types it shows as pictures, captions in
    characters, how many images one album holds; None where there is no such limit."""

    image_bytes: int | None = None
    file_bytes: int | None = None
    image_types: frozenset[str] | None = None
    caption_length: int | None = None
    album_size: tuple[int, int] | None = None  # (fewest, most) images in one album
    image_side_sum: int | None = None  # width + height
    image_ratio: float | None = None  # the longer side over the shorter
