"""The whole bridge on Matrix: helpers shared by the end-to-end tests and the Matrix benchmarks.

prikbord runs as the core wires it (``bot.app.App``) with its Matrix adapter logged in to a real Synapse;
employees act through their own matrix-nio clients (``Person`` of the adapter harness). Rooms are created
by an ``owner`` account that invites the bot, which joins on its first sync, as in production.
"""

from __future__ import annotations

import asyncio
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from nio import ErrorResponse, RoomPreset

from adapters.base import ActionPressed, ReactionAdded, ReactionRemoved, ReplyPosted
from bot.app import App
from bot.config import Settings
from bot.services.adapter_state import AdapterStateStore
from bot.services.engagement import Result
from content.db import Store
from tests.adapters.harnesses.matrix import Person
from tests.matrix_server import Login, SynapseServer

BOT = "e2ebot"
OWNER = "owner"
MODERATOR = "mod"

T = TypeVar("T")
Engaging = ActionPressed | ReactionAdded | ReactionRemoved | ReplyPosted


async def wait_for(check: Callable[[], Awaitable[T | None]], what: str | Callable[[], str], timeout: float = 20.0) -> T:
    """Poll ``check`` until it returns something truthy (and return that); fail after ``timeout`` seconds
    with ``what`` (or what it returns then, for a diagnosis of the state at the time)."""
    deadline = time.monotonic() + timeout
    delay = 0.02
    while True:
        found = await check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {timeout:g}s: {what if isinstance(what, str) else what()}")
        await asyncio.sleep(delay)
        delay = min(delay * 1.5, 0.25)


def matrix_settings(
    server: SynapseServer,
    bot: Login,
    channels: Sequence[dict[str, Any]],
    *,
    moderators: Sequence[str] = (),
    console: bool = False,
) -> Settings:
    """Settings as an operator writes them: ``[matrix]`` with the bot's token, ``[[channels]]`` of rooms."""
    return Settings(
        timezone="Europe/Amsterdam",
        console={"enabled": console},  # type: ignore[arg-type]
        matrix={  # type: ignore[arg-type]
            "homeserver": server.base_url,
            "user_id": bot.user_id,
            "access_token": bot.access_token,
            "device_id": bot.device_id,
        },
        channels=list(channels),  # type: ignore[arg-type]
        moderation={"moderators": list(moderators)},  # type: ignore[arg-type]
    )


def room_channel(name: str, room_id: str, *tags: str) -> dict[str, Any]:
    return {"name": name, "platform": "matrix", "chat_id": room_id, "tags": list(tags or ("everyone",))}


async def new_room(owner: Person, invite: Sequence[str], name: str | None = None) -> str:
    """A public room (people join without an invite each) with ``invite`` invited."""
    extra: dict[str, Any] = {"name": name} if name else {}
    resp = await owner.client.room_create(preset=RoomPreset.public_chat, invite=list(invite), **extra)
    if isinstance(resp, ErrorResponse):
        raise AssertionError(f"creating a room failed: {resp}")
    owner.rooms.add(resp.room_id)
    return str(resp.room_id)


def is_post_event(event: dict[str, Any], sender: str) -> bool:
    """A message the bot posted (not an edit of one, not a command answer)."""
    content = event.get("content") or {}
    return (
        event.get("type") == "m.room.message"
        and event.get("sender") == sender
        and content.get("msgtype") == "m.text"
        and (content.get("m.relates_to") or {}).get("rel_type") != "m.replace"
    )


async def room_events(person: Person, room_id: str, limit: int = 200) -> list[dict[str, Any]]:
    """Up to ``limit`` timeline events of the room, oldest first, as the person's client reads them."""
    await person.join(room_id)
    room = urllib.parse.quote(room_id)
    data = await person.api("GET", f"/_matrix/client/v3/rooms/{room}/messages?dir=b&limit={limit}")
    return list(reversed(data["chunk"]))


async def posts_in_room(person: Person, room_id: str, bot_user_id: str) -> list[dict[str, Any]]:
    return [e for e in await room_events(person, room_id) if is_post_event(e, bot_user_id)]


class StoreState(AdapterStateStore):
    """The adapter's durable state as App wires it, for code that builds its own MatrixAdapter before the
    App exists (the benchmarks tune its send rate)."""

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self.store = store


@dataclass
class Handled:
    event: Engaging
    result: Result
    at: float  # time.perf_counter() when its batch was committed


@dataclass
class EngagementRecorder:
    """Wraps ``app.engagement.handle_event``: every event the bridge stored, its outcome and when."""

    handled: list[Handled] = field(default_factory=list)

    def attach(self, app: App) -> EngagementRecorder:
        original = app.engagement.handle_event

        async def handle_event(event: Engaging) -> Result:
            result = await original(event)
            self.handled.append(Handled(event, result, time.perf_counter()))
            return result

        app.engagement.handle_event = handle_event  # type: ignore[method-assign]
        return self

    @property
    def event_ids(self) -> list[str]:
        return [h.event.event_id for h in self.handled]

    def of(self, event_id: str) -> list[Handled]:
        return [h for h in self.handled if h.event.event_id == event_id]
