"""What the Slack adapter keeps about inbound requests: their signature check, the order their work
runs in after the acknowledgement, and the response URLs commands may be answered through."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence

from adapters.base import Event, MessageRef

SIGNATURE_MAX_AGE = 5 * 60  # seconds; Slack's own rule for X-Slack-Request-Timestamp
_RESPONSE_URL_TTL = 30 * 60  # Slack honours a response_url for 30 minutes
_RESPONSE_URLS_KEPT = 2000
MALFORMED = (UnicodeDecodeError, ValueError, RecursionError)  # MalformedPayload and JSON errors are ValueErrors
# bolt reads ids out of a payload while building its request and takes Slack's types for granted: a
# `user` that is a number or a `payload` that is an array fails there with one of these.
BOLT_SHAPE_ERRORS = (TypeError, AttributeError, KeyError, IndexError)


def signature_valid(signing_key: bytes, body: bytes, headers: Mapping[str, str | Sequence[str]], now: float) -> bool:
    """Slack's v0 request signature over the raw bytes (slack_sdk's verifier decodes first and raises on bad
    UTF-8), refused when the timestamp is more than five minutes off: a replay, or a clock far off."""
    timestamp = headers.get("x-slack-request-timestamp", "")
    signature = headers.get("x-slack-signature", "")
    if not isinstance(timestamp, str) or not isinstance(signature, str) or not timestamp.isdigit() or not signature:
        return False
    if abs(now - int(timestamp)) > SIGNATURE_MAX_AGE:
        return False
    base = b"v0:" + timestamp.encode() + b":" + body
    expected = "v0=" + hmac.new(signing_key, base, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


def order_key(event: Event) -> tuple[str, ...]:
    """Work on one person's acts on one message runs in order; everything else side by side."""
    message = getattr(event, "message", None)
    if isinstance(message, MessageRef):
        return (event.user.user_id, message.chat.chat_id, message.message_id)
    return ("other", event.user.user_id)


class OrderedWork:
    """Tasks run after the acknowledgement, each after the earlier one with the same key (so one person's
    reaction_added is handled before their reaction_removed on the same message)."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()
        self._tails: dict[tuple[str, ...], asyncio.Task[None]] = {}

    @property
    def busy(self) -> bool:
        return bool(self._tasks)

    def spawn(self, key: tuple[str, ...], work: Callable[[], Awaitable[None]]) -> None:
        before = self._tails.get(key)

        async def run() -> None:
            if before is not None:
                await asyncio.wait([before])
            await work()

        task = asyncio.create_task(run(), name=f"slack-inbound-{key[0]}")
        self._tasks.add(task)
        self._tails[key] = task

        def done(finished: asyncio.Task[None]) -> None:
            self._tasks.discard(finished)
            if self._tails.get(key) is finished:
                del self._tails[key]

        task.add_done_callback(done)

    async def drain(self, timeout: float) -> None:
        """Let accepted work finish for up to ``timeout`` seconds, then cancel what is left."""
        pending = set(self._tasks)
        if not pending:
            return
        _, still = await asyncio.wait(pending, timeout=timeout)
        for task in still:
            task.cancel()
        await asyncio.gather(*still, return_exceptions=True)


class ResponseUrls:
    """The response_url of each slash command, by its event id, while Slack still honours it."""

    def __init__(self) -> None:
        self._urls: OrderedDict[str, tuple[str, float]] = OrderedDict()

    def remember(self, event_id: str, url: str) -> None:
        self._urls[event_id] = (url, time.monotonic())
        while len(self._urls) > _RESPONSE_URLS_KEPT:
            self._urls.popitem(last=False)

    def get(self, event_id: str) -> str | None:
        known = self._urls.get(event_id)
        if known is None or time.monotonic() - known[1] > _RESPONSE_URL_TTL:
            return None
        return known[0]
