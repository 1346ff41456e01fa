"""Keeps the counters on posted messages ("👍 12 · ✅ 40") current, debounced per post so a burst of
presses becomes one edit per message, inside the platform's edit rate."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping

from adapters.base import Adapter, ChatRef, DeliveryError, MessageRef, RateLimited
from bot.services.compose import Composer
from bot.services.uploads import outbound_attachments, with_attachments
from content import posts
from content.db import Store
from content.models import PostState
from content.responses import counts_for

log = logging.getLogger("prikbord.counters")


class CounterRefresher:
    def __init__(self, store: Store, adapters: Mapping[str, Adapter], composer: Composer, debounce: float) -> None:
        self._store = store
        self._adapters = adapters
        self._composer = composer
        self._debounce = debounce
        self._dirty: set[int] = set()
        self._timer: asyncio.Task[None] | None = None
        self._flushing = asyncio.Lock()

    def touch(self, post_ids: set[int]) -> None:
        """These posts' counts changed: refresh their messages after the debounce window."""
        self._dirty |= post_ids
        if self._timer is None or self._timer.done():
            self._timer = asyncio.create_task(self._after_debounce(), name="counter-refresh")

    async def _after_debounce(self) -> None:
        await asyncio.sleep(self._debounce)
        # From here on a touch() opens a new window: what changes while these edits are under way
        # (presses, the re-touch after a 429) is refreshed by the next round, never left dirty.
        self._timer = None
        await self.flush()

    async def flush(self) -> None:
        """Edit every dirty post's messages now."""
        async with self._flushing:
            dirty, self._dirty = self._dirty, set()
            if not dirty:
                return
            try:
                await self._refresh(sorted(dirty))
            except Exception:
                log.exception("refreshing counters of posts %s failed", sorted(dirty))

    async def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._timer
        await self.flush()

    async def _refresh(self, post_ids: list[int]) -> None:
        async with self._store.sessions() as session:
            by_id = await posts.posts_by_ids(session, post_ids)
            counts = await counts_for(session, post_ids)
            live = {
                post_id for post_id, post in by_id.items() if post.state in (PostState.PUBLISHED, PostState.EXPIRED)
            }
            targets = [
                (by_id[sent.post_id], sent)
                for sent in await posts.sent_messages(session, [p for p in post_ids if p in live])
                if sent.channel_enabled
            ]
            platforms = {sent.platform for _, sent in targets}
            files = {p: await outbound_attachments(session, p, post_ids) for p in platforms}
        retry: set[int] = set()
        for post, sent in targets:
            adapter = self._adapters.get(sent.platform)
            if adapter is None:
                continue
            message = self._composer.compose_for_chat(
                sent.platform, sent.chat_id, post, counts[post.id], sent.delivery_id
            )
            message = with_attachments(message, files[sent.platform])  # a photo's caption edits as a caption
            try:
                await adapter.edit(MessageRef(ChatRef(sent.platform, sent.chat_id), sent.message_id), message)
            except RateLimited as exc:
                retry.add(post.id)
                log.info("counter edit on %s rate limited; retrying in %.1fs", sent.platform, exc.retry_after)
            except DeliveryError as exc:
                log.warning("could not refresh counters of post #%d on %s: %s", post.id, sent.platform, exc)
        if retry:
            self.touch(retry)
