"""One sync response → normalized events for the core, with what the adapter remembers of its posts.

The meaning of single events is in ``translate.py``; here is what needs I/O: looking up whether an
event is about a bot message, remembering reactions for their redaction, reading the history of a
room when a sync's timeline was cut short, and answering invites.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from nio import ErrorResponse, MessageDirection

from adapters.base import Event
from adapters.matrix.memory import AdapterMemory
from adapters.matrix.session import MatrixSession
from adapters.matrix.translate import (
    EncryptionSeen,
    InboundContext,
    ReactionSeen,
    RedactionSeen,
    RememberedReaction,
    ReplySeen,
    invite_allowed,
    parse_event,
    reaction_to_event,
    redaction_to_event,
    reply_to_event,
    server_of,
)

log = logging.getLogger(__name__)

_JOIN_TRIES = 5
_JOIN_MAX_WAIT = 30.0  # seconds

Emit = Callable[[Event], Awaitable[None]]


def _sources(events: list[Any]) -> list[dict[str, Any]]:
    """The events as the homeserver sent them (nio keeps the JSON as ``source``)."""
    return [e.source for e in events if isinstance(getattr(e, "source", None), dict)]


class RoomFlags:
    """Which rooms are end-to-end encrypted (shared by sending, which refuses them, and syncing)."""

    def __init__(self) -> None:
        self.encrypted: set[str] = set()
        self.plain: set[str] = set()

    def mark_encrypted(self, room_id: str) -> None:
        self.encrypted.add(room_id)
        self.plain.discard(room_id)


class InboundHandler:
    def __init__(
        self,
        *,
        session: MatrixSession,
        memory: AdapterMemory,
        ctx: InboundContext,
        allowed_servers: tuple[str, ...],
        rooms: RoomFlags,
        emit: Emit,
    ) -> None:
        self._session = session
        self._memory = memory
        self._ctx = ctx
        self._allowed = allowed_servers
        self._rooms = rooms
        self._emit = emit

    @property
    def _user_id(self) -> str:
        return self._ctx.own_user_id

    async def handle_sync(self, resp: Any, since: str | None) -> None:
        """Everything of one sync response; ``since`` None is the first run (pending invites only)."""
        for room_id, info in resp.rooms.invite.items():
            await self._on_invite(room_id, info)
        for room_id, info in resp.rooms.join.items():
            if any(e.get("type") == "m.room.encryption" for e in _sources(info.state)):
                self._rooms.mark_encrypted(room_id)
            if since is None:
                continue  # first run: the position only, no history
            timeline = _sources(info.timeline.events)
            if info.timeline.limited and info.timeline.prev_batch:
                timeline = await self._fill_gap(room_id, info.timeline.prev_batch, since) + timeline
            seen: set[str] = set()
            for raw in timeline:
                if raw.get("event_id") not in seen:
                    seen.add(str(raw.get("event_id")))
                    await self._on_event(room_id, raw)
        if since is None:
            return
        for room_id, info in resp.rooms.leave.items():
            for raw in _sources(info.timeline.events):
                await self._on_event(room_id, raw)

    async def _fill_gap(self, room_id: str, prev_batch: str, since: str) -> list[dict[str, Any]]:
        """Events between the last sync and a limited timeline, oldest first (none is missed)."""
        older: list[dict[str, Any]] = []
        start: str | None = prev_batch
        while start:
            resp = await self._session.call(
                "read the history of",
                room_id,
                self._session.client.room_messages,
                room_id,
                start=start,
                end=since,
                direction=MessageDirection.back,
                limit=100,
            )
            chunk = _sources(resp.chunk)
            older.extend(chunk)
            if not chunk or not resp.end or resp.end == start:
                break
            start = resp.end
        older.reverse()
        log.info("matrix: %s had more new events than one sync holds; read %d from its history", room_id, len(older))
        return older

    async def _on_invite(self, room_id: str, info: Any) -> None:
        inviter: str | None = None
        direct = False
        for source in _sources(info.invite_state):
            if source.get("type") == "m.room.member" and source.get("state_key") == self._user_id:
                inviter = source.get("sender")
                direct = bool(source.get("content", {}).get("is_direct"))
        client = self._session.client
        if not invite_allowed(room_id, inviter, self._allowed, server_of(self._user_id)):
            log.warning(
                "matrix: declined the invite to %s from %s: add its server to [matrix] allowed_servers to accept",
                room_id,
                inviter,
            )
            await self._session.request(lambda: client.room_leave(room_id), "decline an invite")
            return
        resp = await self._session.request(lambda: client.join(room_id), "join")
        for _ in range(_JOIN_TRIES - 1):
            # A join is a membership event and counts against rc_message: a refused one is asked again after
            # the server's wait, since the invite is not repeated by later syncs.
            if not (isinstance(resp, ErrorResponse) and resp.status_code == "M_LIMIT_EXCEEDED"):
                break
            await asyncio.sleep(min(_JOIN_MAX_WAIT, (resp.retry_after_ms or 1000) / 1000))
            resp = await self._session.request(lambda: client.join(room_id), "join")
        if isinstance(resp, ErrorResponse):
            log.error("matrix: could not join %s (invited by %s): %s", room_id, inviter, resp)
            return
        log.info("matrix: joined %s (invited by %s)", room_id, inviter)
        if direct and inviter:
            await self._memory.remember_dm(inviter, room_id)

    async def _on_event(self, room_id: str, raw: dict[str, Any]) -> None:
        if raw.get("sender") == self._user_id and raw.get("type") == "m.room.message":
            await self._on_own_message(room_id, raw)
        await self._memory.load_direct(room_id)  # so the pure parser can tell a direct room
        parsed = parse_event(raw, room_id, self._ctx)
        if parsed is None:
            return
        if isinstance(parsed, EncryptionSeen):
            self._rooms.mark_encrypted(room_id)
            return
        event: Event | None
        if isinstance(parsed, ReactionSeen):
            keys = await self._memory.sent_keys(parsed.target)
            if keys is None:
                return  # not on a bot message
            await self._memory.remember_reaction(
                parsed.event_id, RememberedReaction(room_id, parsed.target, parsed.key, parsed.sender)
            )
            event = reaction_to_event(parsed, keys, self._ctx)
        elif isinstance(parsed, RedactionSeen):
            reaction = await self._memory.reaction(parsed.redacts)
            event = redaction_to_event(parsed, reaction, self._ctx) if reaction is not None else None
        elif isinstance(parsed, ReplySeen):
            event = None
            for target in parsed.targets:
                if await self._memory.sent_keys(target) is not None:
                    event = reply_to_event(parsed, target, self._ctx)
                    break
        else:
            event = parsed
        if event is not None:
            await self._emit(event)

    async def _on_own_message(self, room_id: str, raw: dict[str, Any]) -> None:
        """Our own send echoed by the sync: completes the record of a send whose answer was lost."""
        txn_id = (raw.get("unsigned") or {}).get("transaction_id")
        if not isinstance(txn_id, str):
            return
        found = await self._memory.transaction(room_id, txn_id)
        if found is None or found[1] is not None:
            return
        event_id = str(raw["event_id"])
        await self._memory.remember_sent(event_id, found[0])
        await self._memory.remember_transaction(room_id, txn_id, found[0], event_id)
