"""The platforms' inbound webhooks, ``POST /telegram/webhook`` and ``POST /slack/events``, served in
front of the admin API.

They are the busiest routes (every button press of every employee) and need none of FastAPI's
machinery — no validation, dependencies or OpenAPI — so they skip its middleware stack: the raw body
and headers go straight to the adapter's ``handle_http``, and its reply goes back unchanged.

Poison input never gets as far as a parser that could fail on it: a body over 1 MB is 413, JSON nested
deeper than :data:`MAX_JSON_DEPTH` (a fast scan, before anything parses it; Python's parser raises
RecursionError at about 1,000 levels) is 400. Either is logged once, without the body. Both platforms
give up redelivering a request that keeps failing after a few attempts (Telegram "after a reasonable
amount of attempts", Slack after three retries), so a 4xx ends the matter without hiding the refusal
from the platform's delivery log (Telegram's getWebhookInfo ``last_error_message``, Slack's app page).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from typing import Protocol, runtime_checkable
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from adapters.base import Adapter, HttpReply

log = logging.getLogger(__name__)

MAX_WEBHOOK_BODY = 1024 * 1024
# Telegram's updates nest about 8 levels deep, Slack's block_actions (the message and its blocks) about 12.
MAX_JSON_DEPTH = 64
WEBHOOK_PATHS = {"/telegram/webhook": "telegram", "/slack/events": "slack"}

_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_A_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")


def json_depth_exceeds(data: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether JSON text nests arrays and objects deeper than ``limit`` (brackets inside strings aside).

    Linear and parser-free: strings are blanked by one regular expression, everything but brackets is
    dropped by ``bytes.translate``, and only when there are more than ``limit`` opening brackets at all
    are the rest counted one by one. Malformed JSON passes when it is shallow; the parser refuses it.
    """
    brackets = _JSON_STRING.sub(b"", data).translate(None, _NOT_A_BRACKET)
    if brackets.count(b"[") + brackets.count(b"{") <= limit:
        return False
    depth = 0
    for byte in brackets:
        if byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def webhook_too_deep(body: bytes, content_type: str) -> bool:
    """The nesting rule for what the platforms post: a JSON body, or the JSON ``payload`` field of
    Slack's form-encoded interactivity requests (slash commands are flat forms and pass)."""
    if content_type.split(";")[0].strip().lower() == "application/x-www-form-urlencoded":
        try:
            fields = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
        except UnicodeDecodeError:
            return False  # the adapter refuses it as malformed
        return any(json_depth_exceeds(value.encode()) for name, value in fields if name == "payload")
    return json_depth_exceeds(body)


@runtime_checkable
class HttpInbound(Protocol):
    """An adapter that receives HTTP (see adapters.base.HttpReply)."""

    async def handle_http(self, headers: Mapping[str, str], body: bytes) -> HttpReply: ...


class WebhooksFirst:
    """ASGI: the webhook paths go to their adapter, everything else to ``api``."""

    def __init__(
        self,
        api: ASGIApp,
        adapters: Mapping[str, Adapter],
        extra_headers: list[tuple[bytes, bytes]],
        on_refused: Callable[[str, str], None] | None = None,
    ) -> None:
        """``on_refused(platform, reason)`` counts what the gate refuses (``Metrics.observe_refused``)."""
        self.api = api
        self._adapters = adapters
        self._extra_headers = extra_headers
        self._on_refused = on_refused

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
            return self._refuse(platform, "too_large", HttpReply(413, b"request too large"))
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return HttpReply(400, b"the request ended early")
            body += message.get("body", b"")
            if len(body) > MAX_WEBHOOK_BODY:
                return self._refuse(platform, "too_large", HttpReply(413, b"request too large"))
            if not message.get("more_body", False):
                break
        if webhook_too_deep(bytes(body), headers.get("content-type", "")):
            reply = HttpReply(400, f"JSON nested deeper than {MAX_JSON_DEPTH} levels".encode())
            return self._refuse(platform, "too_deep", reply)
        return await adapter.handle_http(headers, bytes(body))

    def _refuse(self, platform: str, reason: str, reply: HttpReply) -> HttpReply:
        log.info("%s webhook: refused (%s): %s", platform, reason, reply.body.decode())
        if self._on_refused is not None:
            self._on_refused(platform, reason)
        return reply
