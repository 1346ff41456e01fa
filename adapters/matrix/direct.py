"""Direct rooms: the bot's private room with one person, created once and remembered where Matrix
clients remember them, the bot's ``m.direct`` account data (user id → room ids), beside the adapter's
own memory. The next private message reuses the room while both are still in it."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from nio import Api, DirectRoomsResponse, RoomPreset

from adapters.base import PermanentError, TransientError
from adapters.matrix.memory import AdapterMemory
from adapters.matrix.session import MatrixSession

log = logging.getLogger("prikbord.matrix")

M_DIRECT = "m.direct"


def with_room(direct: dict[str, list[str]], user_id: str, room_id: str) -> dict[str, list[str]]:
    """``m.direct`` with ``room_id`` as the first (newest) direct room with ``user_id``, others kept."""
    updated = {k: list(v) for k, v in direct.items()}
    updated[user_id] = [room_id] + [r for r in updated.get(user_id, []) if r != room_id]
    return updated


class DirectRooms:
    def __init__(self, session: MatrixSession, memory: AdapterMemory, bot_user_id: str) -> None:
        self._session = session
        self._memory = memory
        self._bot = bot_user_id
        # m.direct as last read or written: the bot is its only writer, so it is read once per process.
        # Changes are written one at a time (a read-modify-write of the whole map).
        self._known: dict[str, list[str]] | None = None
        self._writing = asyncio.Lock()
        # One opening per person at a time: two copies sent side by side (two posts) would each create a room.
        self._opening: dict[str, asyncio.Lock] = {}

    async def open(self, user_id: str) -> str:
        """The direct room with ``user_id``: the remembered one while both are in it, else a new one
        (createRoom with ``is_direct`` and an invite), written to ``m.direct`` before it is used."""
        async with self._opening.setdefault(user_id, asyncio.Lock()):
            return await self._open(user_id)

    async def _open(self, user_id: str) -> str:
        await self._session.ensure_login()
        if self._known is None:
            self._known = await self.account_data()
        direct = self._known
        for room_id in [*direct.get(user_id, []), await self._memory.dm_room(user_id)]:
            if room_id and await self._still_member(room_id, user_id):
                if await self._memory.dm_room(user_id) != room_id:
                    await self._memory.remember_dm(user_id, room_id)
                return room_id
        client = self._session.client
        created = await self._session.call(
            "create a direct room with",
            None,
            client.room_create,
            is_direct=True,
            invite=[user_id],
            preset=RoomPreset.trusted_private_chat,
        )
        room_id = str(created.room_id)
        await self._memory.remember_dm(user_id, room_id)
        async with self._writing:
            updated = with_room(self._known or {}, user_id, room_id)
            await self._put_account_data(updated)
            self._known = updated
        log.info("matrix: opened a direct room with %s", user_id)
        return room_id

    async def account_data(self) -> dict[str, list[str]]:
        """The bot's ``m.direct`` (empty when it has none yet)."""
        resp = await self._session.request(lambda: self._session.client.list_direct_rooms(), "read m.direct of")
        if not isinstance(resp, DirectRoomsResponse):
            return {}  # M_NOT_FOUND: no direct room remembered yet
        rooms: dict[str, Any] = resp.rooms
        return {str(k): [str(r) for r in v] for k, v in rooms.items() if isinstance(v, list)}

    async def _put_account_data(self, content: dict[str, list[str]]) -> None:
        client = self._session.client
        path = Api._build_path(["user", self._bot, "account_data", M_DIRECT], {"access_token": client.access_token})
        resp = await self._session.request(lambda: client.send("PUT", path, json.dumps(content)), "write m.direct of")
        async with resp:
            if resp.status >= 500:
                raise TransientError(f"matrix: writing m.direct answered {resp.status}")
            if resp.status != 200:
                raise PermanentError(f"matrix: writing m.direct answered {resp.status}: {await resp.text()}")

    async def _still_member(self, room_id: str, user_id: str) -> bool:
        try:
            theirs = await self._session.state_event(room_id, "m.room.member", user_id)
            mine = await self._session.state_event(room_id, "m.room.member", self._bot)
        except PermanentError:
            return False
        return (theirs or {}).get("membership") in ("join", "invite") and (mine or {}).get("membership") == "join"
