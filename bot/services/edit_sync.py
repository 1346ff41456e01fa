"""The edit worker: brings every copy of an edited post up to its revision, through the outbox's rules.

One loop per platform claims copies behind their post's revision (:mod:`content.edits`), edits each in
place with the adapter's ``edit`` inside the platform's rate windows (the same
:class:`~bot.services.rate_windows.RateBudget` as deliveries and answers), and records the revision
each copy shows as soon as its edit succeeded. So:

- a crash or restart halfway leaves the remaining copies behind; the next run (this process or another
  instance, once the claims' short lease ran out) edits those, and none that was recorded;
- a 429 postpones that copy by its retry-after; an outage (a transient error) backs off, doubling up to
  a minute; nothing is dropped;
- a copy that cannot be edited any more (deleted by hand, the chat gone) is logged and left as it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from datetime import datetime, timedelta

from adapters.base import Adapter, ChatRef, DeliveryError, MessageRef, OutboundMessage, RateLimited, TransientError
from bot.clock import Clock
from bot.services.compose import Composer
from bot.services.rate_windows import RateBudget
from bot.services.uploads import outbound_attachments, with_attachments
from content import edits, posts
from content.db import Store
from content.edits import StaleCopy
from content.responses import counts_for

log = logging.getLogger("prikbord.edits")

BATCH = 20
LEASE = timedelta(seconds=60)
IDLE_POLL = 1.0
MAX_BACKOFF = 60.0
STOP_WAIT = 5.0  # seconds a stop waits for the edit in hand before cancelling it


class EditSync:
    def __init__(
        self,
        store: Store,
        adapters: Mapping[str, Adapter],
        composer: Composer,
        clock: Clock,
        budget: RateBudget,
        *,
        lease: timedelta = LEASE,
        idle_poll: float = IDLE_POLL,
    ) -> None:
        self._store = store
        self._adapters = adapters
        self._composer = composer
        self._clock = clock
        self._budget = budget
        self._lease = lease
        self._idle_poll = idle_poll
        self._wake = {p: asyncio.Event() for p in adapters}
        self._backoff = {p: 0.0 for p in adapters}
        self._busy = {p: False for p in adapters}
        self._loops: list[asyncio.Task[None]] = []
        self._stopping = False
        self.edited = 0  # copies edited by this process (metrics, tests)

    def wake(self) -> None:
        for event in self._wake.values():
            event.set()

    async def start(self) -> None:
        self._stopping = False
        self._loops = [asyncio.create_task(self._loop(p), name=f"edits-{p}") for p in self._adapters]

    async def stop(self) -> None:
        """Stop after the edit in hand (its outcome recorded); the rest stay behind for the next run. A
        loop is cancelled only when it has not ended within ``STOP_WAIT`` (an edit stuck in a platform's
        call): cancelled inside a store write, a SQLite connection can keep the write lock, and every
        write of the stop after it waits for the lock (``prikbord run`` then hangs at the end of a script)."""
        self._stopping = True
        self.wake()
        if self._loops:
            _, late = await asyncio.wait(self._loops, timeout=STOP_WAIT)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        self._loops = []

    async def settle(self, timeout: float = 60.0) -> None:
        """Wait until no copy due now is behind its post (scripts, tests); postponed ones are not waited for."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            async with self._store.sessions() as session:
                due = await edits.stale_count(session, list(self._adapters), self._clock.now())
            if not due and not any(self._busy.values()):
                return
            if loop.time() > deadline:
                raise TimeoutError("copies still waiting to be edited after settle timeout")
            self.wake()
            await asyncio.sleep(0.01)

    async def _loop(self, platform: str) -> None:
        wake = self._wake[platform]
        while not self._stopping:
            wake.clear()
            try:
                worked = await self.run_once(platform)
            except Exception:
                log.exception("the edit worker for %s failed; trying again", platform)
                worked = False
            if not worked:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), self._idle_poll)

    async def run_once(self, platform: str) -> bool:
        """Claim and edit one batch on ``platform``; False when nothing was due."""
        self._busy[platform] = True
        try:
            batch = await edits.claim_stale(self._store, platform, BATCH, self._clock.now(), self._lease)
            if not batch:
                return False
            post_ids = sorted({c.post_id for c in batch})
            async with self._store.sessions() as session:
                by_id = await posts.posts_by_ids(session, post_ids)
                counts = await counts_for(session, post_ids)
                files = await outbound_attachments(session, platform, post_ids)
            for copy in batch:
                if self._stopping:
                    break  # the copies left are claimed for a lease; the next run edits them
                post = by_id[copy.post_id]
                message = self._composer.compose_for_chat(
                    platform, copy.chat_id, post, counts[copy.post_id], copy.delivery_id
                )
                message = with_attachments(message, files)  # a photo's caption is edited as a caption
                # The revision read with the text: an edit stored meanwhile leaves this copy behind again.
                await self._edit_copy(platform, copy, message, post.revision)
            return True
        finally:
            self._busy[platform] = False

    async def _edit_copy(self, platform: str, copy: StaleCopy, message: OutboundMessage, revision: int) -> None:
        ref = MessageRef(ChatRef(platform, copy.chat_id), copy.message_id)
        try:
            async with self._budget.limiter(platform).slot(copy.chat_id):
                await self._adapters[platform].edit(ref, message)
        except RateLimited as exc:
            log.info("editing #%d on %s rate limited; again in %.1fs", copy.post_id, platform, exc.retry_after)
            await edits.postpone(self._store, copy.delivery_id, self._later(exc.retry_after))
            return
        except TransientError as exc:
            backoff = self._backoff[platform] = min(MAX_BACKOFF, max(1.0, self._backoff[platform] * 2))
            log.warning("editing #%d on %s failed (%s); again in %.0fs", copy.post_id, platform, exc, backoff)
            await edits.postpone(self._store, copy.delivery_id, self._later(backoff))
            return
        except DeliveryError as exc:
            # Deleted by hand, the chat gone, too long for what was sent: retrying cannot help.
            log.warning("could not edit #%d in %s %s: %s; left as it is", copy.post_id, platform, copy.chat_id, exc)
        else:
            self._backoff[platform] = 0.0
            self.edited += 1
        await edits.record_shown(self._store, copy.delivery_id, revision)

    def _later(self, seconds: float) -> datetime:
        return self._clock.now() + timedelta(seconds=seconds)
