"""Keeps the counters on posted messages ("👍 12 · ✅ 40") current, debounced per post so a burst of
presses becomes one edit per message, inside the platform's edit rate."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping

from adapters.base import Adapter, ChatRef, DeliveryError, MessageRef, RateLimited
from bot.services.compose import Composer
from content import posts
from content.db import Store
from content.models import Channel, DeliveryState, PostState
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
            targets = []
            for post_id in post_ids:
                post = by_id.get(post_id)
                if post is None or post.state not in (PostState.PUBLISHED, PostState.EXPIRED):
                    continue
                for delivery in await posts.deliveries_of(session, post_id):
                    if delivery.state != DeliveryState.SENT or not delivery.platform_message_id:
                        continue
                    channel = await session.get(Channel, delivery.channel_id)
                    if channel is None or not channel.enabled:
                        continue
                    targets.append((post, delivery.id, channel.platform, channel.chat_id, delivery.platform_message_id))
        retry: set[int] = set()
        for post, delivery_id, platform, chat_id, message_id in targets:
            adapter = self._adapters.get(platform)
            if adapter is None:
                continue
            message = self._composer.compose(post, counts[post.id], delivery_id)
            try:
                await adapter.edit(MessageRef(ChatRef(platform, chat_id), message_id), message)
            except RateLimited as exc:
                retry.add(post.id)
                log.info("counter edit on %s rate limited; retrying in %.1fs", platform, exc.retry_after)
            except DeliveryError as exc:
                log.warning("could not refresh counters of post #%d on %s: %s", post.id, platform, exc)
        if retry:
            self.touch(retry)
