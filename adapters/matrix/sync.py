"""The sync loop: long-polls the homeserver, hands each batch to the inbound handler, keeps the position.

A batch's token is saved only after every event of it was handled (``inbound.py``): a crash replays the
batch, and the core drops what it already stored. Failures never end the loop: a refused token from an
earlier password login logs in again, a 429 pauses for the server's retry-after, anything else backs off
with jitter up to ``backoff_max``. Only credentials that cannot be renewed stop it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from typing import Any

from adapters.base import AdapterAuthError, DeliveryError, RateLimited, TransientError
from adapters.matrix.inbound import InboundHandler
from adapters.matrix.memory import AdapterMemory
from adapters.matrix.session import MatrixSession

log = logging.getLogger(__name__)

# Sync filter: only what the bot acts on (no presence, typing, receipts or account data).
_QUIET: dict[str, list[str]] = {"types": []}


def _sync_filter(timeline_limit: int) -> dict[str, Any]:
    return {
        "presence": _QUIET,
        "account_data": _QUIET,
        "room": {"ephemeral": _QUIET, "account_data": _QUIET, "timeline": {"limit": timeline_limit}},
    }


class SyncLoop:
    def __init__(
        self,
        *,
        session: MatrixSession,
        memory: AdapterMemory,
        inbound: InboundHandler,
        sync_timeout_ms: int,
        timeline_limit: int,
        backoff_initial: float,
        backoff_max: float,
    ) -> None:
        self._session = session
        self._client = session.client
        self._memory = memory
        self._inbound = inbound
        self._sync_timeout_ms = sync_timeout_ms
        self._timeline_limit = timeline_limit
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._next_batch: str | None = None
        self.connected = False

    async def start(self) -> None:
        """Log in and, on a first run, take the sync position (skipping history); then sync in the background."""
        self._stopping.clear()
        self._next_batch = await self._memory.next_batch()
        try:
            await self._session.ensure_login()
            self.connected = True
            if self._next_batch is None:
                await self._sync_and_handle(timeout_ms=0)
        except TransientError as exc:
            self.connected = False
            log.warning("%s; the sync loop keeps trying", exc)
        self._task = asyncio.create_task(self._run(), name="matrix-sync")

    async def login(self) -> None:
        """Log in without syncing: an instance that sends while another owns the sync loop."""
        try:
            await self._session.ensure_login()
            self.connected = True
        except TransientError as exc:
            log.warning("%s; sending will log in again", exc)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def stop(self, *, still_sending: bool = False) -> None:
        """Stops after the batch in hand is handled and its sync token saved (none is replayed).
        ``still_sending``: the login stays in use for sending, so the adapter stays connected."""
        self._stopping.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout=30)
            except TimeoutError:
                self._task.cancel()
                await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        self.connected = still_sending and self.connected

    async def _run(self) -> None:
        backoff = self._backoff_initial
        while not self._stopping.is_set():
            try:
                await self._session.ensure_login()
                await self._sync_and_handle(timeout_ms=self._sync_timeout_ms)
                backoff = self._backoff_initial
            except AdapterAuthError as exc:
                self.connected = False
                if self._session.can_log_in_again:
                    # The token from an earlier password login was revoked: log in once more.
                    log.warning("%s; logging in again", exc)
                    self._session.forget_login()
                    continue
                log.error("%s; Matrix sync stopped", exc)
                return
            except RateLimited as exc:
                log.warning("%s; sync paused", exc)
                await self._pause(exc.retry_after)
            except DeliveryError as exc:
                self.connected = False
                wait = backoff * random.uniform(0.8, 1.2)  # jitter: many bridges must not retry in step
                log.warning("%s; retrying the sync in %.1fs", exc, wait)
                await self._pause(wait)
                backoff = min(backoff * 2, self._backoff_max)
            except Exception:  # a bug must not end the loop silently: log it and keep syncing
                self.connected = False
                log.exception("matrix: unexpected error in the sync loop; retrying in %.1fs", backoff)
                await self._pause(backoff)
                backoff = min(backoff * 2, self._backoff_max)

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)

    async def _sync_and_handle(self, timeout_ms: int) -> None:
        since = self._next_batch
        sync = asyncio.ensure_future(
            self._session.call(
                "sync",
                None,
                self._client.sync,
                timeout=timeout_ms,
                since=since,
                # First run: no history, only the position (and pending invites).
                sync_filter=_sync_filter(0 if since is None else self._timeline_limit),
            )
        )
        stopping = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({sync, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
        if not sync.done():  # stopping during the long poll: nothing of this batch was handled
            sync.cancel()
            await asyncio.gather(sync, return_exceptions=True)
            return
        resp = sync.result()
        self.connected = True
        # Every event of the batch is handled (concurrently, in order per sender and message) before its
        # token is saved: a crash in between replays the batch, and the core drops what it already stored.
        await self._inbound.handle_sync(resp, since)
        self._next_batch = str(resp.next_batch)
        await self._memory.set_next_batch(self._next_batch)
