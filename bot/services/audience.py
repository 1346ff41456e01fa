"""Membership bookkeeping: who is in each configured channel, kept current from three sources.

- **list**: the platform's member list (``Adapter.list_members``) read at start and every
  ``[audience] refresh``: Slack ``conversations.members``, Matrix joined members, Telegram's member
  count (a partial list: bots cannot list a group's members).
- **event**: join and leave events between (Slack ``member_joined_channel``/``member_left_channel``,
  Matrix ``m.room.member``, Telegram ``chat_member``); a closed account leaves every channel.
- **seen**: everyone who acts in a channel (a command, a press, a reaction, a reply) is a member of
  it. These are noted in memory and written in batches, so a burst of presses costs a few commits.

Events about chats that are not configured channels are ignored (a debug line in the log).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from adapters.base import (
    AccountClosed,
    Adapter,
    ChatRef,
    DeliveryError,
    MemberJoined,
    MemberLeft,
    MemberList,
    UserRef,
)
from bot.clock import Clock
from content import audience, posts
from content.chats import whole_chat_id
from content.db import Store
from content.models import Channel, MembershipSource
from content.people import ensure_identities, find_identity

log = logging.getLogger("prikbord.audience")

_SEEN_CACHE = 200_000  # (platform, chat, user) already written as members: not written again


@dataclass(frozen=True, slots=True)
class ChannelSync:
    channel: str
    members: int | None  # None: the platform told nothing
    partial: bool
    joined: int
    left: int


class AudienceService:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        adapters: Mapping[str, Adapter],
        refresh: timedelta | None,
        *,
        seen_delay: float = 0.2,
    ) -> None:
        self._store = store
        self._clock = clock
        self._adapters = adapters
        self._refresh = refresh
        self._seen_delay = seen_delay
        self._seen_written: OrderedDict[tuple[str, str, str], None] = OrderedDict()
        self._seen_pending: dict[tuple[str, str, str], str] = {}
        self._flusher: asyncio.Task[None] | None = None
        self._flusher_sleeping = False  # still waiting out seen_delay: cancelling it loses nothing
        self._refresher: asyncio.Task[None] | None = None
        self.read_once = asyncio.Event()  # set when the first round of member lists is in (tests wait on it)

    # -- member lists ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Read every channel's member list now, then again every ``refresh`` in the background."""
        if self._refresher is None:
            self._refresher = asyncio.create_task(self._refresh_forever(), name="audience-refresh")

    async def stop_refreshing(self) -> None:
        """No more member-list reads here (another instance took them over); events are still handled."""
        if self._refresher is not None:
            self._refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresher
            self._refresher = None

    async def stop(self) -> None:
        await self.stop_refreshing()
        await self.flush()

    async def _refresh_forever(self) -> None:
        while True:
            try:
                await self.sync_all()
            except Exception:  # a bad round must not end the refreshes
                log.exception("reading the channels' member lists failed; trying again at the next refresh")
            self.read_once.set()
            if self._refresh is None:
                return
            await asyncio.sleep(self._refresh.total_seconds())

    async def sync_all(self) -> list[ChannelSync]:
        async with self._store.sessions() as session:
            channels = [c for c in await posts.all_channels(session) if c.enabled and c.platform in self._adapters]
        done = []
        # The next channel's list is read while this one's is stored: the platform's pace sets how long a
        # round takes, not the database (bench/membership_sync.py).
        reading: asyncio.Task[MemberList | None] | None = None
        try:
            for n, channel in enumerate(channels):
                listing = await (reading or self._read(channel))
                reading = asyncio.create_task(self._read(channels[n + 1])) if n + 1 < len(channels) else None
                synced = await self._store_list(channel, listing)
                if synced is not None:
                    done.append(synced)
        finally:
            if reading is not None:
                reading.cancel()  # a failure above ends the round; its own error is the one to tell
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await reading
        return done

    async def sync_channel(self, channel: Channel) -> ChannelSync | None:
        return await self._store_list(channel, await self._read(channel))

    async def _read(self, channel: Channel) -> MemberList | None:
        try:
            return await self._adapters[channel.platform].list_members(ChatRef(channel.platform, channel.chat_id))
        except DeliveryError as exc:
            log.warning("could not read the members of %s (%s); keeping what is known", channel.name, exc)
            return None

    async def _store_list(self, channel: Channel, listing: MemberList | None) -> ChannelSync | None:
        if listing is None:
            return None
        now = self._clock.now()
        async with self._store.transaction() as session:
            people = await ensure_identities(
                session, [(u.platform, u.user_id, u.display_name) for u in listing.members], now
            )
            fresh = await posts.channel_by_id(session, channel.id)
            if fresh is None:
                return None
            outcome = await audience.apply_member_list(
                session,
                fresh,
                {p.identity_id for p in people.values()},
                now,
                partial=listing.partial,
                count=listing.count,
            )
            count = fresh.member_count
        log.info(
            "%s: %s members%s (+%d, -%d)",
            channel.name,
            count if count is not None else "?",
            ", a partial list" if listing.partial else "",
            outcome.joined,
            outcome.left,
        )
        return ChannelSync(channel.name, count, listing.partial, outcome.joined, outcome.left)

    # -- events ---------------------------------------------------------------------------------

    async def handle(self, event: MemberJoined | MemberLeft | AccountClosed) -> None:
        now = self._clock.now()
        user = event.user
        if isinstance(event, AccountClosed):
            async with self._store.transaction() as session:
                identity = await find_identity(session, user.platform, user.user_id)
                if identity is not None:
                    await audience.leave_everywhere(session, identity.id, now)
            self._forget_seen(user)
            return
        chat = event.chat
        async with self._store.transaction() as session:
            # A member of a forum is one of each of its topics' channels too (content/chats.py).
            channels = await posts.channels_of_chat(session, chat.platform, chat.chat_id)
            if not channels:
                log.debug("membership event %s for %s chat %s: not a channel, ignored", event.event_id, *chat_key(chat))
                return
            if isinstance(event, MemberJoined):
                people = await ensure_identities(session, [(user.platform, user.user_id, user.display_name)], now)
                ids = [people[(user.platform, user.user_id)].identity_id]
                for channel in channels:
                    opened = await audience.join(session, channel.id, ids, MembershipSource.EVENT, now)
                    if opened and channel.member_count is not None:
                        channel.member_count += 1
            elif (identity := await find_identity(session, user.platform, user.user_id)) is not None:
                for channel in channels:
                    left = await audience.leave(session, channel.id, [identity.id], now)
                    if left and channel.member_count:
                        channel.member_count -= 1
        if isinstance(event, MemberLeft):
            self._forget_seen(user, chat)

    # -- people seen acting ---------------------------------------------------------------------

    def note_seen(self, chat: ChatRef, user: UserRef) -> None:
        """``user`` acted in ``chat``: a member of it. Written in a batch shortly after."""
        key = (chat.platform, chat.chat_id, user.user_id)
        if key in self._seen_written or key in self._seen_pending:
            return
        self._seen_pending[key] = user.display_name
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_soon(), name="audience-seen")

    async def _flush_soon(self) -> None:
        self._flusher_sleeping = True
        try:
            await asyncio.sleep(self._seen_delay)
        finally:
            self._flusher_sleeping = False
        try:
            await self._write_seen()
        except Exception:
            log.exception("storing the people seen in channels failed")

    async def flush(self) -> None:
        """Write the people seen so far (tests and shutdown call it)."""
        if self._flusher is not None and not self._flusher.done():
            # Only while it sleeps: cancelled inside its write, the people it took were lost and the SQLite
            # connection could be left holding the write lock (every later write: "database is locked").
            if self._flusher_sleeping:
                self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        await self._write_seen()

    async def _write_seen(self) -> None:
        pending, self._seen_pending = self._seen_pending, {}
        if not pending:
            return
        now = self._clock.now()
        by_chat: dict[tuple[str, str], list[tuple[str, str]]] = {}
        for (platform, chat_id, user_id), name in pending.items():
            by_chat.setdefault((platform, chat_id), []).append((user_id, name))
        async with self._store.transaction() as session:
            for (platform, chat_id), users in by_chat.items():
                channel = await posts.channel_by_chat(session, platform, chat_id)
                if channel is None:
                    continue  # a private chat with the bot, or a chat that is not configured
                people = await ensure_identities(session, [(platform, u, n) for u, n in users], now)
                await audience.join(
                    session, channel.id, {p.identity_id for p in people.values()}, MembershipSource.SEEN, now
                )
        for key in pending:
            self._seen_written[key] = None
            if len(self._seen_written) > _SEEN_CACHE:
                self._seen_written.popitem(last=False)

    def _forget_seen(self, user: UserRef, chat: ChatRef | None = None) -> None:
        """After a leave, the next sighting opens a new membership period."""
        for key in [k for k in self._seen_written if k[2] == user.user_id and k[0] == user.platform]:
            if chat is None or whole_chat_id(key[1]) == whole_chat_id(chat.chat_id):  # and in its topics
                del self._seen_written[key]


def chat_key(chat: ChatRef) -> tuple[str, str]:
    return chat.platform, chat.chat_id
