"""One sync response → normalized events for the core, with what the adapter remembers of its posts.

The meaning of single events is in ``translate.py``; here is what needs I/O: looking up whether an
event is about a bot message, remembering reactions for their redaction, reading the history of a
room when a sync's timeline was cut short, and answering invites.

Delivery order: the events of one sync response go to the sink concurrently (so the core's engagement
writer can store them in batches), but in order where order matters. Events are grouped by what they
are about, each group handled in sequence, the groups side by side (at most ``concurrency`` at once):

- a reaction, and any redaction of it: (sender, message reacted to); a person's vote changed twice
  and a reaction taken back are applied in the order they were made;
- commands, replies and plain messages (a dialog's answers): (sender, room);
- memberships (the bot's own, and people joining and leaving): the room.

The caller saves the sync token only after :meth:`InboundHandler.handle_sync` returned, that is after
every event of the response was handled: a crash replays the batch (the core drops events it has
already stored), it never loses one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from nio import ErrorResponse, MessageDirection

from adapters.base import ChannelMembershipChanged, CommandIssued, Event, MemberJoined, MemberLeft, MessagePosted
from adapters.matrix.memory import AdapterMemory
from adapters.matrix.session import MatrixSession
from adapters.matrix.translate import (
    EncryptionSeen,
    InboundContext,
    Parsed,
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
CONCURRENCY = 256  # groups of events handled at once (see the module docstring)

Emit = Callable[[Event], Awaitable[None]]
OrderKey = tuple[str, ...]


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
        concurrency: int = CONCURRENCY,
    ) -> None:
        self._session = session
        self._memory = memory
        self._ctx = ctx
        self._allowed = allowed_servers
        self._rooms = rooms
        self._emit = emit
        self._concurrency = concurrency

    @property
    def _user_id(self) -> str:
        return self._ctx.own_user_id

    async def handle_sync(self, resp: Any, since: str | None) -> None:
        """Everything of one sync response; ``since`` None is the first run (pending invites only).
        Returns once every event of the response has been handled (see the module docstring)."""
        for room_id, info in resp.rooms.invite.items():
            await self._on_invite(room_id, info)
        timeline: list[tuple[str, dict[str, Any]]] = []
        own_rooms: set[str] = set()  # rooms the bot created itself (its direct rooms)
        for room_id, info in resp.rooms.join.items():
            state = _sources(info.state)
            if any(e.get("type") == "m.room.encryption" for e in state):
                self._rooms.mark_encrypted(room_id)
            if since is None:
                continue  # first run: the position only, no history
            events = _sources(info.timeline.events)
            if info.timeline.limited and info.timeline.prev_batch:
                events = await self._fill_gap(room_id, info.timeline.prev_batch, since) + events
            if any(self._created_by_bot(e) for e in (*state, *events)):
                own_rooms.add(room_id)
            seen: set[str] = set()
            for raw in events:
                if raw.get("event_id") not in seen:
                    seen.add(str(raw.get("event_id")))
                    timeline.append((room_id, raw))
        if since is None:
            return
        for room_id, info in resp.rooms.leave.items():
            timeline.extend((room_id, raw) for raw in _sources(info.timeline.events))
        await self._deliver(timeline, own_rooms)

    def _created_by_bot(self, raw: dict[str, Any]) -> bool:
        if raw.get("type") != "m.room.create" or raw.get("state_key") != "":
            return False
        content = raw.get("content")
        creator = content.get("creator") if isinstance(content, dict) else None  # room versions before 11
        return self._user_id in (raw.get("sender"), creator)

    async def _deliver(self, timeline: list[tuple[str, dict[str, Any]]], own_rooms: set[str]) -> None:
        """Parse the timeline in order, then hand its events to the sink in ordered groups, concurrently."""
        groups: dict[OrderKey, list[tuple[str, Parsed]]] = {}
        reaction_keys: dict[str, OrderKey] = {}  # reaction event id → its group (for its redaction)
        for room_id, raw in timeline:
            if raw.get("sender") == self._user_id and raw.get("type") == "m.room.message":
                # Before any reaction of this batch is looked at: a reaction may be on this very message.
                await self._on_own_message(room_id, raw)
            await self._memory.load_direct(room_id)  # so the pure parser can tell a direct room
            parsed = parse_event(raw, room_id, self._ctx)
            if parsed is None:
                continue
            if isinstance(parsed, EncryptionSeen):
                self._rooms.mark_encrypted(room_id)
                continue
            if (
                isinstance(parsed, ChannelMembershipChanged)
                and parsed.joined
                and (room_id in own_rooms or self._memory.is_direct(room_id))
            ):
                # The bot's join of a direct room (one it created to tell someone something, or one a
                # person opened with it) is no channel being added: nothing for the core.
                log.debug("matrix: joined the direct room %s", room_id)
                continue
            key = await self._order_key(parsed, reaction_keys)
            if key is not None:
                groups.setdefault(key, []).append((room_id, parsed))
        if not groups:
            return
        gate = asyncio.Semaphore(self._concurrency)

        async def run(group: list[tuple[str, Parsed]]) -> None:
            async with gate:
                for room_id, parsed in group:
                    await self._on_parsed(room_id, parsed)

        results = await asyncio.gather(*(run(group) for group in groups.values()), return_exceptions=True)
        # Every group has finished (none is cut short by another's failure); a failure then fails the
        # batch, so its sync token is not saved and the batch comes again.
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def _order_key(self, parsed: Parsed, reaction_keys: dict[str, OrderKey]) -> OrderKey | None:
        """The group an event is handled in; None when it cannot concern prikbord."""
        if isinstance(parsed, ReactionSeen):
            key: OrderKey = ("message", parsed.sender, parsed.target)
            reaction_keys[parsed.event_id] = key
            return key
        if isinstance(parsed, RedactionSeen):
            if parsed.redacts in reaction_keys:
                return reaction_keys[parsed.redacts]
            # A reaction from an earlier sync: in line with what its sender does next on that message.
            reaction = await self._memory.reaction(parsed.redacts)
            return None if reaction is None else ("message", reaction.sender, reaction.target)
        if isinstance(parsed, ReplySeen):
            return ("room", parsed.sender, parsed.room_id)
        if isinstance(parsed, CommandIssued | MessagePosted):  # a person's commands and answers, in order
            return ("room", parsed.user.user_id, parsed.chat.chat_id)
        if isinstance(parsed, ChannelMembershipChanged | MemberJoined | MemberLeft):
            return ("membership", parsed.chat.chat_id)  # the room's joins and leaves in order
        return None  # EncryptionSeen: taken in while parsing

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

    async def _on_parsed(self, room_id: str, parsed: Parsed) -> None:
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
        elif isinstance(parsed, EncryptionSeen):
            event = None
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
