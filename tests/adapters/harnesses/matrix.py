"""Contract harness of the Matrix adapter: a real Synapse, people act through their own nio clients.

Each harness gets a fresh room (created by an ``owner`` account, the bot invited) so tests never see
each other's events, and an in-memory key/value store standing in for the core's. The bot reuses one
login for the whole session; people are registered with ``register_new_matrix_user`` on first use.

Matrix actions are reactions, so ``press`` sends the reaction whose key stands for the action
(``translate.default_emoji``, the same keys the contract's messages name in ``Action.emoji``).
"""

from __future__ import annotations

import asyncio
import urllib.parse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from nio import AsyncClient, AsyncClientConfig, ErrorResponse, RoomPreset

from adapters.base import ChatRef, Event, MessageRef
from adapters.matrix.adapter import MatrixAdapter
from adapters.matrix.translate import default_emoji, reaction_content
from tests.matrix_server import DEFAULT, Login, SynapseServer, require_synapse

BOT = "prikbot"
OWNER = "owner"
PEOPLE = ("anna", "bram", "carla", "mod")


class MemoryState:
    """The core's durable key/value store, in memory; ``saves`` counts writes for assertions."""

    def __init__(self) -> None:
        self.data: dict[str, str] = {}
        self.saves = 0

    async def load(self, key: str) -> str | None:
        return self.data.get(key)

    async def save(self, key: str, value: str) -> None:
        self.data[key] = value
        self.saves += 1


def _checked(resp: Any, what: str) -> Any:
    if isinstance(resp, ErrorResponse):
        raise AssertionError(f"{what} failed: {resp}")
    return resp


class Person:
    """One employee's Matrix client."""

    def __init__(self, server: SynapseServer, login: Login) -> None:
        self.server = server
        self.user_id = login.user_id
        self.token = login.access_token
        self.client = AsyncClient(server.base_url, login.user_id, config=AsyncClientConfig(encryption_enabled=False))
        self.client.restore_login(login.user_id, login.device_id, login.access_token)
        self.rooms: set[str] = set()

    async def join(self, room_id: str) -> None:
        if room_id not in self.rooms:
            _checked(await self.client.join(room_id), f"{self.user_id} joining {room_id}")
            self.rooms.add(room_id)

    async def send(self, room_id: str, content: dict[str, Any], event_type: str = "m.room.message") -> str:
        await self.join(room_id)
        resp = _checked(await self.client.room_send(room_id, event_type, content), f"{self.user_id} sending")
        return str(resp.event_id)

    async def say(self, room_id: str, text: str, **relates: Any) -> str:
        content: dict[str, Any] = {"msgtype": "m.text", "body": text}
        if relates:
            content["m.relates_to"] = relates
        return await self.send(room_id, content)

    async def react(self, room_id: str, target: str, key: str) -> str:
        return await self.send(room_id, reaction_content(target, key), "m.reaction")

    async def redact(self, room_id: str, event_id: str) -> None:
        _checked(await self.client.room_redact(room_id, event_id), f"{self.user_id} redacting")

    async def api(self, method: str, path: str, body: object | None = None) -> dict[str, Any]:
        return await asyncio.to_thread(self.server.request, method, path, body, self.token)

    async def event(self, room_id: str, event_id: str) -> dict[str, Any]:
        await self.join(room_id)
        room, event = urllib.parse.quote(room_id), urllib.parse.quote(event_id)
        return await self.api("GET", f"/_matrix/client/v3/rooms/{room}/event/{event}")

    async def visible_content(self, room_id: str, event_id: str) -> dict[str, Any] | None:
        """The content a client shows now: the latest edit's ``m.new_content``; None once redacted."""
        event = await self.event(room_id, event_id)
        if not event.get("content") or "redacted_because" in event.get("unsigned", {}):
            return None
        room, ev = urllib.parse.quote(room_id), urllib.parse.quote(event_id)
        edits = await self.api("GET", f"/_matrix/client/v1/rooms/{room}/relations/{ev}/m.replace?limit=50")
        chunk = [e for e in edits.get("chunk", []) if e.get("sender") == event.get("sender")]
        if chunk:
            latest = max(chunk, key=lambda e: (e["origin_server_ts"], e["event_id"]))
            return dict(latest["content"]["m.new_content"])
        return dict(event["content"])

    async def messages(self, room_id: str, limit: int = 100) -> list[dict[str, Any]]:
        """The room's timeline, oldest first."""
        await self.join(room_id)
        room = urllib.parse.quote(room_id)
        data = await self.api("GET", f"/_matrix/client/v3/rooms/{room}/messages?dir=b&limit={limit}")
        return list(reversed(data["chunk"]))

    async def close(self) -> None:
        await self.client.close()

    @classmethod
    async def create(cls, server: SynapseServer, localpart: str) -> Person:
        return cls(server, await asyncio.to_thread(server.login, localpart))


class MatrixHarness:
    def __init__(self, server: SynapseServer, bot: Login, owner: Person, **adapter_kwargs: Any) -> None:
        self.server = server
        self.state = MemoryState()
        self.bot = bot
        self.owner = owner
        self.people: dict[str, Person] = {}
        self.events: asyncio.Queue[Event] = asyncio.Queue()
        self.adapter_kwargs = adapter_kwargs
        self.adapter = self.new_adapter()
        self.room_id = ""
        self._reactions: dict[tuple[str, str, str], str] = {}  # (user, message, key) → reaction event

    def new_adapter(self, **overrides: Any) -> MatrixAdapter:
        kwargs: dict[str, Any] = {
            "homeserver": self.server.base_url,
            "user_id": self.bot.user_id,
            "access_token": self.bot.access_token,
            "state_load": self.state.load,
            "state_save": self.state.save,
            "sync_timeout_ms": 5_000,
            "backoff_initial": 0.2,
            "backoff_max": 1.0,
        }
        kwargs.update(self.adapter_kwargs)
        kwargs.update(overrides)
        return MatrixAdapter(**kwargs)

    @property
    def chat(self) -> ChatRef:
        return ChatRef("matrix", self.room_id)

    async def sink(self, event: Event) -> None:
        await self.events.put(event)

    async def new_room(self, *, invite_bot: bool = True, **create: Any) -> str:
        resp = _checked(
            await self.owner.client.room_create(
                preset=RoomPreset.public_chat,  # people join without an invite each
                invite=[self.bot.user_id] if invite_bot else [],
                **create,
            ),
            "creating a room",
        )
        self.owner.rooms.add(resp.room_id)
        return str(resp.room_id)

    async def setup(self) -> None:
        self.room_id = await self.new_room()
        await self.adapter.start(self.sink)

    @classmethod
    async def create(cls, server: SynapseServer, **adapter_kwargs: Any) -> MatrixHarness:
        await asyncio.to_thread(server.register, BOT, OWNER, *PEOPLE)
        bot = await asyncio.to_thread(server.login, BOT, True)
        return cls(server, bot, await Person.create(server, OWNER), **adapter_kwargs)

    async def person(self, name: str) -> Person:
        if name not in self.people:
            self.people[name] = await Person.create(self.server, name)
        return self.people[name]

    # --- the contract's verbs ---------------------------------------------------------------

    async def press(self, message: MessageRef, action_id: str, user_id: str) -> None:
        key = default_emoji(action_id)
        assert key is not None, f"no reaction key for {action_id}"
        await self.react(message, key, user_id)

    async def react(self, message: MessageRef, reaction: str, user_id: str, added: bool = True) -> None:
        person = await self.person(user_id)
        slot = (user_id, message.message_id, reaction)
        room = message.chat.chat_id
        if slot in self._reactions:
            # Synapse refuses a second identical annotation: take the first back before reacting again.
            await person.redact(room, self._reactions.pop(slot))
        if added:
            self._reactions[slot] = await person.react(room, message.message_id, reaction)

    async def reply_to(self, message: MessageRef, text: str, user_id: str) -> None:
        person = await self.person(user_id)
        await person.say(message.chat.chat_id, text, **{"m.in_reply_to": {"event_id": message.message_id}})

    async def command(self, text: str, user_id: str) -> None:
        person = await self.person(user_id)
        await person.say(self.room_id, "!" + text)

    async def visible_text(self, message: MessageRef) -> str | None:
        content = await self.owner.visible_content(message.chat.chat_id, message.message_id)
        return None if content is None else str(content.get("body"))

    async def close(self) -> None:
        await self.adapter.stop()
        for person in [self.owner, *self.people.values()]:
            await person.close()


@asynccontextmanager
async def matrix_harness(server_name: str = DEFAULT, **adapter_kwargs: Any) -> AsyncIterator[MatrixHarness]:
    server = await asyncio.to_thread(require_synapse, server_name)
    harness = await MatrixHarness.create(server, **adapter_kwargs)
    try:
        await harness.setup()
        yield harness
    finally:
        await harness.close()
