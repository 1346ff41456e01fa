"""The platforms' inbound webhooks, ``POST /telegram/webhook`` and ``POST /slack/events``, served in
front of the admin API.

They are the busiest routes (every button press of every employee) and need none of FastAPI's
machinery — no validation, dependencies or OpenAPI — so they skip its middleware stack: the raw body
and headers go straight to the adapter's ``handle_http``, and its reply goes back unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable

from starlette.types import ASGIApp, Receive, Scope, Send

from adapters.base import Adapter, HttpReply

MAX_WEBHOOK_BODY = 1024 * 1024
WEBHOOK_PATHS = {"/telegram/webhook": "telegram", "/slack/events": "slack"}


@runtime_checkable
class HttpInbound(Protocol):
    """An adapter that receives HTTP (see adapters.base.HttpReply)."""

    async def handle_http(self, headers: Mapping[str, str], body: bytes) -> HttpReply: ...


class WebhooksFirst:
    """ASGI: the webhook paths go to their adapter, everything else to ``api``."""

    def __init__(self, api: ASGIApp, adapters: Mapping[str, Adapter], extra_headers: list[tuple[bytes, bytes]]) -> None:
        self.api = api
        self._adapters = adapters
        self._extra_headers = extra_headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        platform = WEBHOOK_PATHS.get(scope.get("path", "")) if scope["type"] == "http" else None
        if platform is None or scope["method"] != "POST":
            await self.api(scope, receive, send)
            return
        reply = await self._handle(platform, scope, receive)
        headers = [
            (b"content-type", reply.content_type.encode("latin-1")),
            (b"content-length", str(len(reply.body)).encode()),
            *self._extra_headers,
        ]
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        await send({"type": "http.response.body", "body": reply.body})

    async def _handle(self, platform: str, scope: Scope, receive: Receive) -> HttpReply:
        adapter = self._adapters.get(platform)
        if not isinstance(adapter, HttpInbound):
            return HttpReply(404, f"{platform} is not configured here".encode())
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_WEBHOOK_BODY:
            return HttpReply(413, b"request too large")
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return HttpReply(400, b"the request ended early")
            body += message.get("body", b"")
            if len(body) > MAX_WEBHOOK_BODY:
                return HttpReply(413, b"request too large")
            if not message.get("more_body", False):
                break
        return await adapter.handle_http(headers, bytes(body))
