"""Images and files in Matrix rooms (pure: no I/O).

Each file is uploaded once to the homeserver's content repository (``/upload`` → an ``mxc://`` URI,
reused for every room and every later post of it) and sent as its own ``m.image`` / ``m.file`` event
with ``info`` (type, size, an image's width and height); the post follows as the text event that
carries the reaction keys and counts, and is the copy. Every event of a copy has a transaction id of
its own derived from the copy's, so a resend after a crash is de-duplicated by the homeserver.
"""

from __future__ import annotations

from typing import Any

from adapters.base import MediaLimits, OutboundAttachment

MB = 1024 * 1024
# Synapse's default max_upload_size is 50M (the homeserver's /config says its own); the image types
# are the ones Element and other clients show inline.
MATRIX_MEDIA = MediaLimits(
    image_bytes=50 * MB,
    file_bytes=50 * MB,
    image_types=frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"}),
)


def attachment_content(item: OutboundAttachment, mxc: str) -> dict[str, Any]:
    """The ``m.room.message`` content of one image or file at ``mxc``."""
    info: dict[str, Any] = {"mimetype": item.media_type, "size": item.size}
    if item.is_image and item.width and item.height:
        info["w"], info["h"] = item.width, item.height
    return {
        "msgtype": "m.image" if item.is_image else "m.file",
        "body": item.file_name,
        "filename": item.file_name,
        "url": mxc,
        "info": info,
    }


def attachment_txn(txn_id: str, index: int) -> str:
    """The transaction id of a copy's ``index``-th attachment event (the copy's own is ``txn_id``)."""
    return f"{txn_id}-a{index}"
