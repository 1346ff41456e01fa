"""What the Matrix adapter must remember across restarts, kept in the core's key/value store.

Keys are namespaced by the bot's user id (``matrix:@bot:example.org:…``) so a change of bot
account never reuses another account's token or sync position. Small in-memory caches in front
keep the hot path (one reaction → one lookup of the message it is on) off the store.

=============================  ===============================================================
key (after the namespace)      value
=============================  ===============================================================
``next_batch``                 the sync token after the last fully handled sync
``login``                      ``{"access_token", "device_id"}`` obtained by password login
``sent:<event id>``            reaction key → action id of a message the bot sent (``{}``: none)
``txn:<room id>:<txn id>``     ``{"keys": …, "event_id": …}`` of a send, for crash recovery
``reaction:<event id>``        ``[room, target event, key, sender]`` of a reaction on a bot message
``dm:<user id>``               the direct room with that person
``direct:<room id>``           the person a direct room is with
=============================  ===============================================================
"""

from __future__ import annotations

import asyncio
import json
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from adapters.matrix.translate import RememberedReaction

StateLoad = Callable[[str], Awaitable[str | None]]
StateSave = Callable[[str, str], Awaitable[None]]

K = TypeVar("K")
V = TypeVar("V")


class _Lru(Generic[K, V]):
    """A bounded cache: the most recently used entries stay."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[K, V] = OrderedDict()

    def __contains__(self, key: K) -> bool:
        return key in self._items

    def __getitem__(self, key: K) -> V:
        self._items.move_to_end(key)
        return self._items[key]

    def put(self, key: K, value: V) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self._size:
            self._items.popitem(last=False)


class AdapterMemory:
    def __init__(self, load: StateLoad, save: StateSave, namespace: str, cache_size: int = 10_000) -> None:
        self._load = load
        self._save = save
        self._prefix = f"matrix:{namespace}:"
        self._sent: _Lru[str, dict[str, str] | None] = _Lru(cache_size)
        self._reactions: _Lru[str, RememberedReaction | None] = _Lru(cache_size)
        self._direct: dict[str, str | None] = {}
        self._writing: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    async def get(self, key: str) -> str | None:
        return await self._load(self._prefix + key)

    async def put(self, key: str, value: str) -> None:
        # One writer per key at a time: a send and the sync's echo of it both record the same event, and
        # two concurrent first writes of a key must not both try to insert it.
        full = self._prefix + key
        lock = self._writing.get(full)
        if lock is None:
            lock = self._writing[full] = asyncio.Lock()
        async with lock:
            await self._save(full, value)

    # -- sync position and login ----------------------------------------------------------

    async def next_batch(self) -> str | None:
        return await self.get("next_batch") or None

    async def set_next_batch(self, token: str) -> None:
        await self.put("next_batch", token)

    async def login(self) -> tuple[str, str] | None:
        raw = await self.get("login")
        if not raw:
            return None
        data = json.loads(raw)
        return str(data["access_token"]), str(data["device_id"])

    async def set_login(self, access_token: str, device_id: str) -> None:
        await self.put("login", json.dumps({"access_token": access_token, "device_id": device_id}))

    # -- messages the bot sent ------------------------------------------------------------

    async def sent_keys(self, event_id: str) -> dict[str, str] | None:
        """The action keys of a bot message; None when the bot did not send it."""
        if event_id in self._sent:
            return self._sent[event_id]
        raw = await self.get(f"sent:{event_id}")
        keys = {str(k): str(v) for k, v in json.loads(raw).items()} if raw else None
        self._sent.put(event_id, keys)
        return keys

    async def remember_sent(self, event_id: str, keys: dict[str, str]) -> None:
        await self.put(f"sent:{event_id}", json.dumps(keys, ensure_ascii=False))
        self._sent.put(event_id, keys)

    async def transaction(self, room_id: str, txn_id: str) -> tuple[dict[str, str], str | None] | None:
        raw = await self.get(f"txn:{room_id}:{txn_id}")
        if not raw:
            return None
        data = json.loads(raw)
        event_id = data.get("event_id")
        return {str(k): str(v) for k, v in data.get("keys", {}).items()}, str(event_id) if event_id else None

    async def remember_transaction(self, room_id: str, txn_id: str, keys: dict[str, str], event_id: str | None) -> None:
        value = json.dumps({"keys": keys, "event_id": event_id}, ensure_ascii=False)
        await self.put(f"txn:{room_id}:{txn_id}", value)

    # -- reactions on bot messages --------------------------------------------------------

    async def reaction(self, event_id: str) -> RememberedReaction | None:
        if event_id in self._reactions:
            return self._reactions[event_id]
        raw = await self.get(f"reaction:{event_id}")
        reaction = RememberedReaction.loads(raw) if raw else None
        self._reactions.put(event_id, reaction)
        return reaction

    async def remember_reaction(self, event_id: str, reaction: RememberedReaction) -> None:
        await self.put(f"reaction:{event_id}", reaction.dumps())
        self._reactions.put(event_id, reaction)

    # -- direct rooms ---------------------------------------------------------------------

    async def dm_room(self, user_id: str) -> str | None:
        return await self.get(f"dm:{user_id}") or None

    async def remember_dm(self, user_id: str, room_id: str) -> None:
        await self.put(f"dm:{user_id}", room_id)
        await self.put(f"direct:{room_id}", user_id)
        self._direct[room_id] = user_id

    async def load_direct(self, room_id: str) -> bool:
        """Whether ``room_id`` is a direct room (loads and caches, so :meth:`is_direct` can answer)."""
        if room_id not in self._direct:
            self._direct[room_id] = await self.get(f"direct:{room_id}") or None
        return self._direct[room_id] is not None

    def is_direct(self, room_id: str) -> bool:
        return self._direct.get(room_id) is not None
