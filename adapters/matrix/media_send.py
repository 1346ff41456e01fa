"""Sending a post's images and files to a Matrix room: one ``/upload`` per file (the ``mxc://`` URI goes to
``OutboundMessage.uploaded`` at once and is reused for every other room), then one event per file."""

from __future__ import annotations

import io
from collections import OrderedDict
from typing import Any

from nio import AsyncClient, UploadResponse

from adapters.base import DeliveryError, OutboundAttachment, OutboundMessage
from adapters.matrix.media import attachment_content, attachment_txn
from adapters.matrix.session import MatrixSession

_CACHE_SIZE = 10_000


class MatrixMedia:
    def __init__(self, session: MatrixSession, client: AsyncClient) -> None:
        self._session = session
        self._client = client
        # The attachment events sent before each copy's text event: retracted with it (lost on restart).
        self._before: OrderedDict[str, list[str]] = OrderedDict()

    async def _mxc(self, item: OutboundAttachment, message: OutboundMessage) -> str:
        if item.remote_ref is not None:
            return item.remote_ref
        if item.data is None:
            raise DeliveryError(f"{item.file_name}: neither an mxc:// URI nor its bytes to upload")
        data = item.data

        async def upload() -> Any:
            resp, _ = await self._client.upload(
                io.BytesIO(data), content_type=item.media_type, filename=item.file_name, filesize=len(data)
            )
            return resp

        resp = await self._session.call("upload to", None, upload)
        if not isinstance(resp, UploadResponse) or not resp.content_uri.startswith("mxc://"):
            raise DeliveryError(f"the homeserver answered the upload of {item.file_name} without an mxc:// URI")
        if message.uploaded is not None:
            await message.uploaded(item.sha256, resp.content_uri)
        return str(resp.content_uri)

    async def send(self, room_id: str, message: OutboundMessage, txn_id: str) -> list[str]:
        """Each attachment as its own event, in order; → their event ids."""
        sent: list[str] = []
        for index, item in enumerate(message.attachments):
            content = attachment_content(item, await self._mxc(item, message))
            resp = await self._session.call(
                "send to",
                room_id,
                self._client.room_send,
                room_id,
                "m.room.message",
                content,
                tx_id=attachment_txn(txn_id, index),
            )
            sent.append(str(resp.event_id))
        return sent

    def remember(self, event_id: str, before: list[str]) -> None:
        if before:
            self._before[event_id] = before
            while len(self._before) > _CACHE_SIZE:
                self._before.popitem(last=False)

    def sent_before(self, event_id: str) -> list[str]:
        return self._before.pop(event_id, [])
