"""The adapter protocol: the :class:`Adapter` ABC every messenger implements, and the plain answers
its optional calls give (a health check, a chat's members, the chats the bot is in, an HTTP reply)."""

from __future__ import annotations

import abc
from dataclasses import dataclass

from adapters.base.errors import MessageTooLong
from adapters.base.events import CommandIssued, EventSink
from adapters.base.limits import Limits
from adapters.base.outbound import OutboundMessage
from adapters.base.refs import ChatRef, MessageRef, UserRef


@dataclass(frozen=True, slots=True)
class HttpReply:
    """What an adapter that receives HTTP (Slack events, Telegram webhook) answers; the web app
    in ``bot/`` mounts the adapter's ``handle_http`` and sends this back unchanged."""

    status: int
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"


@dataclass(frozen=True, slots=True)
class CheckResult:
    ok: bool
    detail: str


@dataclass(frozen=True, slots=True)
class MemberList:
    """Who is in a chat, as :meth:`Adapter.list_members` tells it; the bot itself is never among them.

    ``partial``: the platform cannot list members (Telegram), so ``members`` holds only people the
    adapter knows of and ``count`` is how many people (the bot not counted) the chat has."""

    members: tuple[UserRef, ...]
    partial: bool = False
    count: int | None = None


@dataclass(frozen=True, slots=True)
class DiscoveredChat:
    """A chat the bot is in, as ``prikbord channels discover`` lists it for ``[[channels]]``.

    ``kind`` is the platform's word (``supergroup``, ``private_channel``, ``room`` …); ``encrypted``
    is None where the platform has no such notion; ``note`` is advice for the operator ("the bot is
    not an admin: reactions will not arrive")."""

    chat: ChatRef
    name: str
    kind: str
    encrypted: bool | None = None
    note: str = ""


class Adapter(abc.ABC):
    """One messenger. Implementations keep I/O here and pure translation in ``translate.py``."""

    platform: str
    limits: Limits
    # True where only one process at a time may receive (Telegram's getUpdates refuses a second poller; two
    # Matrix sync loops would each hand on everything). Such an adapter, built with receiving deferred,
    # receives only between start_receiving() and stop_receiving(): bot/services/receivers.py calls them
    # while its instance holds the platform's lock.
    single_receiver: bool = False

    @abc.abstractmethod
    async def start(self, sink: EventSink) -> None:
        """Connect and begin delivering inbound events to ``sink``. Returns once started."""

    @abc.abstractmethod
    async def stop(self) -> None: ...

    @abc.abstractmethod
    async def send(self, chat: ChatRef, message: OutboundMessage) -> MessageRef: ...

    @abc.abstractmethod
    async def edit(self, ref: MessageRef, message: OutboundMessage) -> None: ...

    @abc.abstractmethod
    async def delete(self, ref: MessageRef) -> None: ...

    @abc.abstractmethod
    async def reply(self, command: CommandIssued, text: str, private: bool = True) -> None:
        """Answer a command: privately (ephemeral/DM) where the platform can, else in the chat."""

    def validate(self, message: OutboundMessage) -> None:
        """Raise :class:`MessageTooLong` when ``message`` cannot be sent here, even split.

        Pure and cheap: the core calls it for every target platform before storing a post.
        The default checks the plain text against ``limits.text_length``, split at paragraphs.
        """
        from adapters.markup import TooLong, render_plain, split_document

        try:
            split_document(message.markup, self.limits.text_length, lambda d: len(render_plain(d)))
        except TooLong as exc:
            raise MessageTooLong(str(exc)) from None

    async def start_receiving(self) -> None:
        """Begin the polling or sync loop that start() deferred (single_receiver adapters)."""
        return None

    async def stop_receiving(self) -> None:
        """End it again, the sync position kept; sending goes on."""
        return None

    async def send_private(self, user: UserRef, text: str) -> bool:
        """A private message to one person (reminders). False where no private chat exists."""
        return False

    async def open_private(self, user: UserRef) -> str | None:
        """The chat id of the private chat with ``user``, opened where the platform must open one first
        (a Slack DM, a Matrix direct room), for a post's private copy; None where none can be had."""
        return None

    def start_link(self, payload: str) -> str | None:
        """A link that opens the person's private chat with the bot and starts it with ``payload``
        (Telegram's ``t.me/BOT?start=…``); None where the platform has none or the bot's name is unknown."""
        return None

    async def list_members(self, chat: ChatRef) -> MemberList | None:
        """The people in ``chat`` now (the bot left out), for the audience's membership. None where the
        platform tells nothing; the core then knows only the people it sees act there."""
        return None

    async def user_locale(self, user_id: str) -> str | None:
        """The person's language as the platform tells it when asked (Slack's users.info ``locale``); None
        where it comes with the events instead (Telegram's ``language_code`` on UserRef) or not at all."""
        return None

    async def find_sent(self, chat: ChatRef, idempotency_key: str) -> MessageRef | None:
        """After a crash: the message already sent for this key, where the platform can tell."""
        return None

    async def check(self) -> CheckResult:
        """Reach the platform with the configured credentials (``prikbord check``)."""
        return CheckResult(True, f"{self.platform}: nothing to check")

    async def discover_chats(self) -> list[DiscoveredChat]:
        """The chats the bot is in now (``prikbord channels discover``), without starting the adapter
        and without taking anything away from a running service. The default knows of none."""
        return []

    @property
    def connected(self) -> bool:
        return True

    async def wait_idle(self) -> None:
        """Return when the adapter's input has ended (console: end of stdin). Others never end."""
        import asyncio

        await asyncio.Event().wait()
