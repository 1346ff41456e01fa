"""Uploads once per post and platform: a post's attachments go with the platform's reference to an
earlier upload where there is one, and with their bytes only for the first send.

Copies of one post to many chats are sent side by side; the first that needs an upload holds a lock
(per platform and post, in this process) while it sends, so the others wait and then find its
reference instead of uploading the same bytes again. The adapter hands the new reference to
``OutboundMessage.uploaded`` as soon as the platform answered, and it is committed at once, before the
send's own outcome: a crash after the upload and before the other sends still reuses it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession

from adapters.base import Adapter, OutboundAttachment, OutboundMessage, UploadHook
from bot.clock import Clock
from content import attachments
from content.db import Store

log = logging.getLogger("prikbord.uploads")


async def outbound_attachments(
    session: AsyncSession, platform: str, post_ids: Sequence[int]
) -> dict[int, tuple[OutboundAttachment, ...]]:
    """Each post's attachments for ``platform``, with the references of earlier uploads (no bytes)."""
    found = await attachments.attachments_of(session, post_ids)
    refs = await attachments.upload_refs(
        session, platform, sorted({a.sha256 for items in found.values() for a in items})
    )
    return {
        post_id: tuple(
            OutboundAttachment(
                a.sha256, a.file_name, a.kind.value, a.media_type, a.size, a.width, a.height, refs.get(a.sha256)
            )
            for a in items
        )
        for post_id, items in found.items()
    }


def with_attachments(message: OutboundMessage, found: dict[int, tuple[OutboundAttachment, ...]]) -> OutboundMessage:
    """``message`` with its post's attachments (unchanged for a post without any)."""
    items = found.get(message.post_id) if message.post_id is not None else None
    return dataclasses.replace(message, attachments=items) if items else message


def cannot_carry(adapter: Adapter, message: OutboundMessage) -> str | None:
    """Why ``adapter`` cannot send ``message``'s attachments (it sends none yet); None when it can. Posts are
    refused for such platforms when stored; this holds for a copy that reaches one later, rather than send it
    without its images."""
    if not message.attachments or adapter.limits.media is not None:
        return None
    return f"{adapter.platform} cannot carry images or files yet: this copy of the post is not sent without them"


class UploadOnce:
    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._locks: dict[tuple[str, int | None], tuple[asyncio.Lock, int]] = {}

    def _hook(self, platform: str) -> UploadHook:
        async def uploaded(sha256: str, remote_ref: str) -> None:
            try:
                async with self._store.transaction() as session:
                    await attachments.record_upload(session, platform, sha256, remote_ref, self._clock.now())
            except Exception:  # the send went through; a later copy uploads again rather than fail this one
                log.exception("could not record the %s upload of %s", platform, sha256[:12])

        return uploaded

    @asynccontextmanager
    async def ready(self, platform: str, message: OutboundMessage) -> AsyncIterator[OutboundMessage]:
        """``message`` ready to send: attachments by reference where the platform holds them, else with
        their bytes and the hook that records the upload. Held around the send of a first upload."""
        if all(a.remote_ref is not None for a in message.attachments):
            yield message
            return
        key = (platform, message.post_id)
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield await self._filled(platform, message)
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    async def _filled(self, platform: str, message: OutboundMessage) -> OutboundMessage:
        async with self._store.sessions() as session:
            refs = await attachments.upload_refs(session, platform, [a.sha256 for a in message.attachments])
            filled = []
            for a in message.attachments:
                ref = a.remote_ref or refs.get(a.sha256)
                if ref is not None:
                    filled.append(dataclasses.replace(a, remote_ref=ref))
                else:
                    filled.append(dataclasses.replace(a, data=await attachments.file_data(session, a.sha256)))
        return dataclasses.replace(message, attachments=tuple(filled), uploaded=self._hook(platform))
