"""The Matrix adapter: thin I/O around matrix-nio's AsyncClient; meaning lives in ``translate.py``
(inbound) and ``render.py`` (outbound); the sync loop is in ``sync.py``.

Wiring (the core provides durable key/value storage through two callbacks)::

    MatrixAdapter(homeserver="https://matrix.example.org", user_id="@prikbord:example.org",
                  access_token=None, password="…", device_id=None, command_prefix="!",
                  allowed_servers=["example.org"], state_load=store.get, state_save=store.put)

What it persists and why is in ``memory.py``: the sync token (a restart neither replays nor misses
events), the token and device of a password login (restarts reuse the device, and with it Synapse's
per-device transaction ids), the action keys of each sent message and every reaction on a bot
message (so a reaction's redaction can be reported as ReactionRemoved).

Reactions → events: a reaction whose key is one of the action keys of the bot message it is on (as
the adapter sent it: ``Action.emoji`` or the default table in ``render.py``) arrives as
ActionPressed with that action id; any other key on a bot message as ReactionAdded (the core maps it
with ``translate.action_for_reaction``). Reactions on other people's messages are ignored.

Rates: Synapse's default ``rc_message`` is 0.2 messages/s per user after a burst of 10. Exempt the
bot (admin API ``/_synapse/admin/v1/users/<user>/override_ratelimit``) or raise the limit for it;
``M_LIMIT_EXCEEDED`` is raised as RateLimited with the server's ``retry_after_ms`` either way.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from typing import Any

from adapters.base import (
    Adapter,
    ChatRef,
    CheckResult,
    CommandIssued,
    DeliveryError,
    DiscoveredChat,
    Event,
    EventSink,
    Limits,
    MemberList,
    MessageRef,
    MessageTooLong,
    OutboundMessage,
    PermanentError,
    Rate,
    UserRef,
)
from adapters.matrix.direct import DirectRooms
from adapters.matrix.inbound import InboundHandler, RoomFlags
from adapters.matrix.media import MATRIX_MEDIA
from adapters.matrix.media_send import MatrixMedia
from adapters.matrix.memory import AdapterMemory, StateLoad, StateSave
from adapters.matrix.render import (
    MAX_CONTENT_BYTES,
    action_keys,
    content_size,
    edit_content,
    message_content,
    notice_content,
)
from adapters.matrix.session import MatrixSession
from adapters.matrix.sync import SyncLoop
from adapters.matrix.translate import PLATFORM, InboundContext, joined_member_list

log = logging.getLogger(__name__)


def _check_size(content: dict[str, Any]) -> None:
    if content_size(content) > MAX_CONTENT_BYTES:
        raise MessageTooLong(
            f"matrix: the message is {content_size(content)} bytes; a Matrix event holds at most 65536: "
            "shorten the post"
        )


class MatrixAdapter(Adapter):
    platform = PLATFORM

    def __init__(
        self,
        *,
        homeserver: str,
        user_id: str,
        access_token: str | None = None,
        password: str | None = None,
        device_id: str | None = None,
        command_prefix: str = "!",
        allowed_servers: Sequence[str] = (),
        state_load: StateLoad,
        state_save: StateSave,
        device_name: str = "prikbord",
        sync_timeout_ms: int = 30_000,
        timeline_limit: int = 100,
        request_timeout: float = 30.0,
        backoff_initial: float = 1.0,
        backoff_max: float = 60.0,
        messages_per_second: float = 5.0,
        inbound_concurrency: int = 256,
        receive_on_start: bool = True,
    ) -> None:
        """``access_token`` wins over ``password``; with only a password the adapter logs in once and
        keeps the token and device (``state_save``). ``allowed_servers``: server names whose people may
        invite the bot, room ids, or ``*``; empty: only the bot's own server. The remaining keywords are
        tuning: long-poll length, events per sync before gap filling, HTTP timeout, reconnect backoff,
        the send rate the dispatcher is told to keep (Limits.global_rates), and how many ordered groups of
        one sync's events are handed to the core at once (``inbound.py``). ``receive_on_start=False``: log
        in and send, but sync only after start_receiving() (another instance may own the sync loop)."""
        if not access_token and not password:
            raise ValueError("[matrix] needs access_token or password")
        self.homeserver = homeserver.rstrip("/")
        self.user_id = user_id
        self.command_prefix = command_prefix
        self.allowed_servers = tuple(allowed_servers)
        self._memory = AdapterMemory(state_load, state_save, user_id)
        self._session = MatrixSession(
            homeserver=self.homeserver,
            user_id=user_id,
            access_token=access_token,
            password=password,
            device_id=device_id,
            device_name=device_name,
            request_timeout=request_timeout,
            memory=self._memory,
        )
        self._client = self._session.client
        self._media = MatrixMedia(self._session, self._client)
        self._direct = DirectRooms(self._session, self._memory, user_id)
        self._rooms = RoomFlags()
        self._inbound = InboundHandler(
            session=self._session,
            memory=self._memory,
            ctx=InboundContext(
                own_user_id=user_id,
                command_prefix=command_prefix,
                name_of=self._display_name,
                is_direct=self._memory.is_direct,
            ),
            allowed_servers=self.allowed_servers,
            rooms=self._rooms,
            emit=self._emit,
            concurrency=inbound_concurrency,
        )
        self._sync = SyncLoop(
            session=self._session,
            memory=self._memory,
            inbound=self._inbound,
            sync_timeout_ms=sync_timeout_ms,
            timeline_limit=timeline_limit,
            backoff_initial=backoff_initial,
            backoff_max=backoff_max,
        )
        self.limits = Limits(
            # A Matrix event holds at most 65536 bytes, and the HTML and plain bodies both count.
            text_length=24_000,
            # Synapse limits messages per user, not per room.
            global_rates=(Rate(messages_per_second, 1.0),),
            idempotent_send=True,
            edit_interval=2.0,
            media=MATRIX_MEDIA,
        )
        self._sink: EventSink | None = None
        self._receive_on_start = receive_on_start

    # Two sync loops on one account would each hand on every event: one instance syncs at a time.
    single_receiver = True

    # -----------------------------------------------------------------------------------------
    # lifecycle

    @property
    def connected(self) -> bool:
        return self._sync.connected

    @property
    def device_id(self) -> str | None:
        return self._session.device_id

    async def start(self, sink: EventSink) -> None:
        """Log in and, on a first run, take the sync position (skipping history) before returning."""
        self._sink = sink
        if self._receive_on_start:
            await self._sync.start()
        else:
            await self._sync.login()

    async def start_receiving(self) -> None:
        """Sync from the stored position (this instance took over the sync loop)."""
        if not self._sync.running:
            await self._sync.start()

    async def stop_receiving(self) -> None:
        """Stop syncing after the batch in hand, its token saved; sending goes on."""
        await self._sync.stop(still_sending=True)

    async def stop(self) -> None:
        """Stops after the batch in hand is handled and its sync token saved (none is replayed)."""
        await self._sync.stop()
        await self._session.close()

    async def check(self) -> CheckResult:
        """whoami with the token, or a password login (kept for the next start); call stop() afterwards."""
        try:
            await self._session.ensure_login()
        except DeliveryError as exc:
            return CheckResult(False, str(exc))
        return CheckResult(True, f"matrix: logged in as {self.user_id} (device {self.device_id}) on {self.homeserver}")

    async def discover_chats(self) -> list[DiscoveredChat]:
        """The rooms the bot has joined, with their names and whether they are end-to-end encrypted
        (prikbord refuses to post in those). Pending invites are not listed: the running bot accepts
        those from ``allowed_servers`` on its next sync."""
        await self._session.ensure_login()
        joined = await self._session.call("list the joined rooms", None, self._client.joined_rooms)
        found: list[DiscoveredChat] = []
        for room_id in joined.rooms:
            name = (await self._session.state_event(room_id, "m.room.name") or {}).get("name")
            alias = (await self._session.state_event(room_id, "m.room.canonical_alias") or {}).get("alias")
            encrypted = await self._session.state_event(room_id, "m.room.encryption") is not None
            direct = await self._memory.load_direct(room_id)
            note = "end-to-end encrypted: prikbord cannot post here yet" if encrypted else ""
            label = str(name or alias or room_id)
            kind = "direct" if direct else "room"
            found.append(DiscoveredChat(ChatRef(PLATFORM, room_id), label, kind, encrypted, note))
        return found

    async def list_members(self, chat: ChatRef) -> MemberList | None:
        """The people joined to the room now (``/joined_members``), the bot left out, with their names there."""
        await self._session.ensure_login()
        room_id = chat.chat_id
        resp = await self._session.call("read the members of", room_id, self._client.joined_members, room_id)
        return joined_member_list(((m.user_id, m.display_name) for m in resp.members), self.user_id)

    # -----------------------------------------------------------------------------------------
    # outbound

    async def _ensure_plain_room(self, room_id: str) -> None:
        """Refuse end-to-end encrypted rooms: prikbord cannot encrypt yet, readers would see nothing."""
        rooms = self._rooms
        if room_id not in rooms.encrypted and room_id not in rooms.plain:
            nio_room = self._client.rooms.get(room_id)
            if (nio_room is not None and nio_room.encrypted) or await self._session.state_event(
                room_id, "m.room.encryption"
            ) is not None:
                rooms.mark_encrypted(room_id)
            else:
                rooms.plain.add(room_id)
        if room_id in rooms.encrypted:
            raise PermanentError(
                f"room {room_id} is end-to-end encrypted; prikbord cannot post there yet: "
                "use an unencrypted room for this channel or remove it from config"
            )

    async def _send_content(self, room_id: str, content: dict[str, Any], txn_id: str, what: str) -> str:
        _check_size(content)
        resp = await self._session.call(
            what, room_id, self._client.room_send, room_id, "m.room.message", content, tx_id=txn_id
        )
        return str(resp.event_id)

    async def send(self, chat: ChatRef, message: OutboundMessage) -> MessageRef:
        """Posts ``message``; its idempotency key is the transaction id, so a resend returns the same event."""
        await self._session.ensure_login()
        room_id = chat.chat_id
        await self._ensure_plain_room(room_id)
        keys = action_keys(message)
        content = message_content(message)
        _check_size(content)
        txn_id = message.idempotency_key or uuid.uuid4().hex
        before = await self._media.send(room_id, message, txn_id)  # images and files first, then the post
        if message.idempotency_key:
            # Written before the send: the echo in the sync (which carries the txn id) completes it after a crash.
            await self._memory.remember_transaction(room_id, txn_id, keys, None)
        event_id = await self._send_content(room_id, content, txn_id, "send to")
        self._media.remember(event_id, before)
        await self._memory.remember_sent(event_id, keys)
        if message.idempotency_key:
            await self._memory.remember_transaction(room_id, txn_id, keys, event_id)
        return MessageRef(chat, event_id)

    async def find_sent(self, chat: ChatRef, idempotency_key: str) -> MessageRef | None:
        found = await self._memory.transaction(chat.chat_id, idempotency_key)
        if found is None or found[1] is None:
            return None
        return MessageRef(chat, found[1])

    async def edit(self, ref: MessageRef, message: OutboundMessage) -> None:
        await self._session.ensure_login()
        room_id = ref.chat.chat_id
        await self._ensure_plain_room(room_id)
        await self._send_content(room_id, edit_content(ref.message_id, message), uuid.uuid4().hex, "edit in")
        # The new actions are what reactions on the message now mean.
        await self._memory.remember_sent(ref.message_id, action_keys(message))

    async def delete(self, ref: MessageRef) -> None:
        await self._session.ensure_login()
        room_id = ref.chat.chat_id
        for event_id in [*self._media.sent_before(ref.message_id), ref.message_id]:
            await self._session.call(
                "redact in", room_id, self._client.room_redact, room_id, event_id, reason="retracted"
            )

    async def reply(self, command: CommandIssued, text: str, private: bool = True) -> None:
        """Answers in the command's room as an ``m.notice`` reply (Matrix has no messages only one person sees)."""
        await self._session.ensure_login()
        in_reply_to = command.message.message_id if command.message else None
        await self._send_content(command.chat.chat_id, notice_content(text, in_reply_to), uuid.uuid4().hex, "answer in")

    async def send_private(self, user: UserRef, text: str) -> bool:
        """A notice in the direct room with ``user`` (reused while they are in it, else created)."""
        room_id = await self._direct.open(user.user_id)
        await self._send_content(room_id, notice_content(text), uuid.uuid4().hex, "send a private message in")
        return True

    async def open_private(self, user: UserRef) -> str | None:
        """The direct room with ``user``, created once and remembered in the bot's ``m.direct``."""
        return await self._direct.open(user.user_id)

    # -----------------------------------------------------------------------------------------
    # inbound

    def _display_name(self, room_id: str, user_id: str) -> str:
        room = self._client.rooms.get(room_id)
        user = room.users.get(user_id) if room is not None else None
        name = getattr(user, "display_name", None) if user is not None else None
        return str(name) if name else ""

    async def _emit(self, event: Event) -> None:
        assert self._sink is not None
        try:
            await self._sink(event)
        except Exception:  # one event the core cannot handle must not stop the others
            log.exception("matrix: handling %s %s failed", type(event).__name__, event.event_id)
