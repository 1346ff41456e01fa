"""Slack accounts found by workspace email: ``users.lookupByEmail`` (bot scope ``users:read.email``),
for the directory import's ``slack`` column when it holds an email instead of a user id.

users.lookupByEmail is a tier-3 method (about 50 calls a minute). The lookups go a few at a time and are
paced to that rate, counted from when each call ended, so Slack (counting arrivals) never sees more; a
429 pauses them all for its ``Retry-After`` and the same email is asked again. An email nobody in the
workspace has (``users_not_found``) and a deactivated account (``deleted: true``) are left out of the
answer; a missing scope is an :class:`AdapterAuthError` naming ``users:read.email``. Each lookup opens
a short-lived HTTP session of its own, so it works without the adapter started (the CLI starts none).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from slack_sdk.web.async_client import AsyncWebClient

from adapters.base import AdapterAuthError, Rate, RateLimited, TransientError
from adapters.slack.calls import call_api
from adapters.slack.errors import SlackCallFailed, TokenRefused

log = logging.getLogger(__name__)

METHOD = "users.lookupByEmail"
SCOPE = "users:read.email"
LOOKUP_RATE = Rate(50, 60.0)  # Slack's tier 3, which users.lookupByEmail is in
LOOKUP_CONCURRENCY = 4
MAX_ATTEMPTS = 5  # per email: rate limited or failing for now this often in a row, the lookup gives up

ClientFactory = Callable[[aiohttp.ClientSession], AsyncWebClient]


def account_of(data: Mapping[str, Any]) -> str | None:
    """The user id in a users.lookupByEmail answer; None for a deactivated account."""
    user = data.get("user")
    if not isinstance(user, Mapping) or user.get("deleted") or not user.get("id"):
        return None
    return str(user["id"])


def transient_backoff(attempt: int) -> float:
    """Seconds to wait before asking again after the ``attempt``-th call failed for now: 1, 2, 4 …"""
    return float(2 ** (attempt - 1))


class Pacer:
    """At most ``rate.count`` calls in any ``rate.period`` seconds, each holding its place until ``period``
    after it *ended* (Slack counts a call when it arrives, between our start and our end, so no window of
    Slack's can see more), and none starting while a pause (a 429's Retry-After) lasts."""

    def __init__(self, rate: Rate) -> None:
        self._places = asyncio.Semaphore(max(1, int(rate.count)))
        self._period = rate.period * max(1, int(rate.count)) / rate.count
        self._resume_at = 0.0

    def pause(self, seconds: float) -> None:
        """No call starts for ``seconds`` from now (a running one finishes)."""
        self._resume_at = max(self._resume_at, asyncio.get_running_loop().time() + seconds)

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        await self._places.acquire()
        loop = asyncio.get_running_loop()
        try:
            await asyncio.sleep(max(0.0, self._resume_at - loop.time()))
            yield
        finally:
            loop.call_later(self._period, self._places.release)


class EmailLookup:
    """``lookup(emails)`` → email → Slack user id, for the people Slack knows and who are active.

    ``new_client`` builds the Web API client on a session (the adapter's, so the token and base URL are
    its own); ``rate`` and ``concurrency`` pace the calls. The pace holds across lookups of one instance.
    """

    def __init__(
        self,
        new_client: ClientFactory,
        base_url: str,
        timeout: float,
        *,
        rate: Rate = LOOKUP_RATE,
        concurrency: int = LOOKUP_CONCURRENCY,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        self._new_client = new_client
        self._base_url = base_url
        self._timeout = timeout
        self._pacer = Pacer(rate)
        self._concurrency = max(1, concurrency)
        self._max_attempts = max(1, max_attempts)

    async def lookup(self, emails: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        waiting = deque(dict.fromkeys(e for e in emails if e.strip()))
        if not waiting:
            return found
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self._timeout)) as session:
            client = self._new_client(session)

            async def work() -> None:
                while waiting:
                    email = waiting.popleft()
                    user_id = await self._find(client, email)
                    if user_id is not None:
                        found[email] = user_id

            workers = [asyncio.create_task(work()) for _ in range(min(self._concurrency, len(waiting)))]
            try:
                await asyncio.gather(*workers)
            finally:  # one lookup failed (or this one was cancelled): the others stop too
                for worker in workers:
                    worker.cancel()
                await asyncio.gather(*workers, return_exceptions=True)
        return found

    async def _find(self, client: AsyncWebClient, email: str) -> str | None:
        failure: RateLimited | TransientError | None = None
        for attempt in range(1, self._max_attempts + 1):
            async with self._pacer.turn():
                try:
                    data = await call_api(METHOD, client.users_lookupByEmail(email=email.strip()), self._base_url)
                except RateLimited as exc:
                    log.info("slack: %s rate limited; all lookups wait %.0f s", METHOD, exc.retry_after)
                    self._pacer.pause(exc.retry_after)
                    failure = exc
                    continue
                except TransientError as exc:
                    self._pacer.pause(transient_backoff(attempt))
                    failure = exc
                    continue
                except TokenRefused:
                    raise
                except AdapterAuthError as exc:  # missing_scope
                    raise AdapterAuthError(
                        f"the Slack app lacks the bot scope {SCOPE}, which finding people by their Slack email "
                        f"needs ({METHOD}): add it under OAuth & Permissions and reinstall the app, or give Slack "
                        "user ids (U…) in the slack column"
                    ) from exc
                except SlackCallFailed as exc:
                    if exc.error == "users_not_found":
                        return None
                    raise
            return account_of(data)
        if isinstance(failure, RateLimited):
            raise RateLimited(failure.retry_after, f"Slack kept rate limiting {METHOD}") from failure
        raise TransientError(f"{failure}, {self._max_attempts} times for {email!r}: import again later") from failure
