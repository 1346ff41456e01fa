"""Matrix rooms on the session's real Synapse, as a fan-out peer of ``tests/faults/fanout.py``.

- **Accounts:** a bot and a room owner of their own per peer (names with a random tag, so the
  scenarios that run side by side, and the runs of one session, never share a sync or a device). The
  owner creates the rooms and invites the bot, which joins before ``prikbord run`` starts: the fan-out
  under test is the kill, not the invitations. ``prikbord run`` uses the bot's access token and device,
  so both processes of a scenario send as the same device (Synapse keeps transaction ids per device).
- **Rate limits:** the rooms are on the pool's default instance, whose ``rc_message`` is generous
  (``tests/matrix_server.py``); the dispatcher keeps the adapter's own pace (5 messages/s).
- **Copies** are the bot's messages with the post's title (edits excluded), as the owner, a member of
  every room, reads them: while the fan-out runs from the owner's ``/sync`` (one long poll, so watching
  costs Synapse next to nothing), and at the end (:meth:`MatrixRooms.settle`) from each room's
  ``/messages``, which is what the figures count.
- **Lost answers** (``lose_answers=(after, count)``): prikbord reaches Synapse through the proxy of
  ``tests/faults/lost_answers.py``, which keeps back the answers to ``count`` sends after the first
  ``after``; killed then, the process leaves posts in the rooms whose outcome it never recorded.
- **Calls** of the bot are read from Synapse's access log (``homeserver.log``, one line per request with
  the requester, the status and the path): the ``whoami`` each start begins with, the transaction id of
  every message sent, and the requests Synapse refused.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections import Counter
from typing import Any
from urllib.parse import quote

from nio import SyncError, SyncResponse

from tests.adapters.harnesses.matrix import Person
from tests.e2e.matrix_bridge import is_post_event, new_room
from tests.faults.fanout import TITLE
from tests.faults.lost_answers import LostAnswers
from tests.matrix_server import Login, SynapseServer

# Only room messages in the timeline: the owner's sync follows what the bot posts, nothing else.
_QUIET: dict[str, list[str]] = {"types": []}
_TIMELINE = {
    "presence": _QUIET,
    "account_data": _QUIET,
    "room": {
        "state": _QUIET,
        "ephemeral": _QUIET,
        "account_data": _QUIET,
        "timeline": {"limit": 100, "types": ["m.room.message"]},
    },
}
# Synapse's access log line: ``… {@bot:localhost} Processed request: … 75B 200 "GET /path HTTP/1.1" …``;
# the status has a ``!`` when the client was gone before the answer (a killed process).
_ACCESS = re.compile(
    r"\{(?P<user>[^}]*)\} Processed request: .*? (?P<status>\d{3})!? \"(?P<method>[A-Z]+) (?P<path>\S+) HTTP"
)
_SEND = re.compile(r"/rooms/[^/]+/send/m\.room\.message/(?P<txn>[^/?]+)$")
_CONCURRENCY = 4  # rooms created or joined at a time


def is_copy(event: dict[str, Any], bot_user_id: str) -> bool:
    """A message the bot posted (not an edit, not an answer) that carries the post."""
    return is_post_event(event, bot_user_id) and TITLE in str((event.get("content") or {}).get("body", ""))


def refused(method: str, status: int) -> bool:
    """A request Synapse turned down. Not refusals: 499, the client was gone before the answer (the killed
    process's long poll, or the one a stop cut short); a 404 on a GET, an answer (a room without
    ``m.room.encryption`` state is a plain room, which the adapter asks before its first send there)."""
    return status >= 400 and status != 499 and not (status == 404 and method == "GET")


class MatrixRooms:
    """``rooms`` Matrix rooms with the bot in them, on a running Synapse."""

    platform = "matrix"

    def __init__(self, server: SynapseServer, rooms: int, lose_answers: tuple[int, int] | None = None) -> None:
        tag = uuid.uuid4().hex[:8]
        self.server = server
        self.proxy: LostAnswers | None = None
        if lose_answers is not None:
            self.proxy = LostAnswers(server.base_url, after=lose_answers[0], count=lose_answers[1])
        self._count = rooms
        self._bot_name, self._owner_name = f"faultbot-{tag}", f"faultowner-{tag}"
        self._bot: Login | None = None
        self._owner: Person | None = None
        self._rooms: list[str] = []
        self._copies: dict[str, set[str]] = {}  # room → event ids of the bot's copies of the post
        self._follow: asyncio.Task[None] | None = None
        self._log = server.directory / "homeserver.log"
        self._log_at = 0
        self._whoamis = 0
        self._sends: Counter[str] = Counter()  # transaction id → PUTs of it
        self._refused: list[str] = []

    @property
    def bot(self) -> Login:
        assert self._bot is not None, "MatrixRooms.start() first"
        return self._bot

    @property
    def owner(self) -> Person:
        assert self._owner is not None, "MatrixRooms.start() first"
        return self._owner

    async def start(self) -> None:
        if self.proxy is not None:
            await self.proxy.start()
        await asyncio.to_thread(self.server.register, self._bot_name, self._owner_name)
        self._bot = await asyncio.to_thread(self.server.login, self._bot_name, True)
        self._owner = await Person.create(self.server, self._owner_name)
        gate = asyncio.Semaphore(_CONCURRENCY)

        async def room(i: int) -> str:
            async with gate:
                room_id = await new_room(self.owner, [self.bot.user_id], name=f"Vestiging {i}")
                path = f"/_matrix/client/v3/join/{quote(room_id)}"
                await asyncio.to_thread(self.server.request, "POST", path, {}, self.bot.access_token)
                return room_id

        self._rooms = list(await asyncio.gather(*(room(i) for i in range(self._count))))
        self._copies = {room_id: set() for room_id in self._rooms}
        first = await self.owner.client.sync(timeout=0, sync_filter=_TIMELINE)
        assert isinstance(first, SyncResponse), f"the owner's first sync failed: {first}"
        self._log_at = self._log.stat().st_size  # the bot's calls from here on are prikbord's
        self._follow = asyncio.create_task(self._follow_rooms(first.next_batch), name="matrix-rooms-follow")

    async def stop(self) -> None:
        if self._follow is not None:
            self._follow.cancel()
            await asyncio.gather(self._follow, return_exceptions=True)
            self._follow = None
        if self._owner is not None:
            await self._owner.close()
        if self.proxy is not None:
            await self.proxy.stop()

    def config(self) -> list[str]:
        return [
            "[matrix]",
            f"homeserver = {json.dumps(self.proxy.base_url if self.proxy else self.server.base_url)}",
            f"user_id = {json.dumps(self.bot.user_id)}",
            f"access_token = {json.dumps(self.bot.access_token)}",
            f"device_id = {json.dumps(self.bot.device_id)}",
        ]

    def chat_ids(self) -> list[str]:
        return list(self._rooms)

    def copies(self) -> Counter[str]:
        return Counter({room_id: len(events) for room_id, events in self._copies.items() if events})

    async def settle(self) -> None:
        """The copies as each room's ``/messages`` holds them (the sync may have been cut short)."""
        gate = asyncio.Semaphore(_CONCURRENCY)

        async def read(room_id: str) -> set[str]:
            async with gate:
                events = await self.owner.messages(room_id, limit=100)
            return {str(e["event_id"]) for e in events if is_copy(e, self.bot.user_id)}

        found = await asyncio.gather(*(read(room_id) for room_id in self._rooms))
        self._copies = dict(zip(self._rooms, found, strict=True))

    def logins(self) -> int:
        """How many times a prikbord process started: each begins with ``whoami`` on the token."""
        self._read_log()
        return self._whoamis

    def held(self) -> list[str]:
        """The transaction ids whose answers the proxy kept back."""
        return list(self.proxy.held) if self.proxy else []

    def sends(self) -> Counter[str]:
        """PUTs of each transaction id of a message the bot sent (edits and answers included), as Synapse
        logged them."""
        self._read_log()
        return Counter(self._sends)

    def violations(self) -> list[str]:
        self._read_log()
        return list(self._refused)

    async def _follow_rooms(self, since: str) -> None:
        while True:
            response = await self.owner.client.sync(timeout=30_000, sync_filter=_TIMELINE, since=since)
            if isinstance(response, SyncError):
                await asyncio.sleep(0.5)
                continue
            for room_id, joined in response.rooms.join.items():
                copies = self._copies.get(room_id)
                if copies is None:
                    continue
                events = [e.source for e in joined.timeline.events]
                copies.update(str(e["event_id"]) for e in events if is_copy(e, self.bot.user_id))
            since = response.next_batch

    def _read_log(self) -> None:
        """The bot's requests logged since the last read (complete lines only)."""
        with self._log.open("rb") as log:
            log.seek(self._log_at)
            chunk = log.read()
        complete = chunk[: chunk.rfind(b"\n") + 1]
        self._log_at += len(complete)
        for line in complete.decode("utf-8", errors="replace").splitlines():
            match = _ACCESS.search(line)
            if match is None or match["user"] != self.bot.user_id:
                continue
            method, path, status = match["method"], match["path"], int(match["status"])
            if path.endswith("/account/whoami"):
                self._whoamis += 1
            send = _SEND.search(path) if method == "PUT" else None
            if send is not None:
                self._sends[send["txn"]] += 1
            if refused(method, status):
                self._refused.append(f"{status} {method} {path}")
