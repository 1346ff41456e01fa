"""The Telegram adapter: thin I/O over python-telegram-bot's ``telegram.Bot``.

Translation lives in ``translate.py``; SDK objects never leave this package.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any, Literal

from telegram import Bot
from telegram.error import InvalidToken, TelegramError

from adapters.base import (
    ActionPressed,
    Adapter,
    ChatRef,
    CheckResult,
    CommandIssued,
    DeliveryError,
    DiscoveredChat,
    EventSink,
    HttpReply,
    Limits,
    MemberList,
    MessageRef,
    OutboundMessage,
    PermanentError,
    Rate,
    UserRef,
)
from adapters.telegram.callbacks import CallbackAnswer
from adapters.telegram.discovery import chats_in_updates
from adapters.telegram.errors import TokenRedaction
from adapters.telegram.media import TELEGRAM_MEDIA
from adapters.telegram.menu import CommandMenu, set_my_commands_calls
from adapters.telegram.outbound import TelegramMessages, register_commands
from adapters.telegram.polling import UpdatePoller
from adapters.telegram.translate import (
    ALLOWED_UPDATES,
    PLATFORM,
    BotIdentity,
    MalformedUpdate,
    callback_query_id,
    header_value,
    start_link,
    translate_update,
)
from adapters.telegram.transport import AiohttpRequest

log = logging.getLogger("prikbord.adapters.telegram")

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# Called with (platform, reason) for each update refused as malformed: the web app's metrics count them.
RefusedHook = Callable[[str, str], None]
_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


def bot_api_base_url(api_base_url: str) -> str:
    """The SDK appends the token to its base URL: ``https://api.telegram.org`` → ``…/bot`` (+ token)."""
    url = api_base_url.rstrip("/")
    if "{token}" in url or url.endswith("/bot"):
        return url
    return url + "/bot"


# A logger's filters do not apply to its children's records: each logger that logs is named.
_REDACTED_LOGGERS = ("httpx", "telegram.Bot", "telegram.request", "telegram.request.BaseRequest", "telegram._bot")


class TelegramAdapter(Adapter):
    """Telegram through the Bot API.

    Keyword arguments:
      token: the bot token from @BotFather (never logged).
      api_base_url: the Bot API server, ``https://api.telegram.org`` by default; ``/bot`` and the token are
        appended (a URL already ending in ``/bot`` or containing ``{token}`` is used as it is).
      mode: ``"polling"`` (getUpdates; the default) or ``"webhook"`` (setWebhook; mount :meth:`handle_http`
        at the path of ``webhook_url``, e.g. ``POST /telegram/webhook``).
      webhook_url: the public HTTPS URL Telegram posts updates to (webhook mode).
      webhook_secret: 1-256 of ``A-Za-z0-9_-``; Telegram sends it in ``X-Telegram-Bot-Api-Secret-Token``.
      menu: the command menu (employee and moderator commands per language); a Dutch/English default.
      moderator_ids: Telegram user ids of moderators, who get the moderator commands in their chat menu.
      poll_timeout: long-polling timeout in seconds.
      answer_in_webhook_reply: answer callback queries in the webhook's HTTP reply instead of a separate call.
      retracted_text: what a retracted message says when Telegram no longer allows deleting it.
      request_timeout: seconds to wait for Telegram per request.
      connection_pool_size: concurrent HTTP connections for sending.
      paid_broadcast_rate: messages/s of a paid broadcast (``allow_paid_broadcast``; Telegram allows 1,000).
    """

    platform = PLATFORM
    # Telegram's documented flood limits; the 20/min applies to groups but is harmless for private chats.
    limits = Limits(
        text_length=4096,
        global_rates=(Rate(30, 1),),
        per_chat_rates=(Rate(1, 1), Rate(20, 60)),
        idempotent_send=False,
        edit_interval=3.0,
        media=TELEGRAM_MEDIA,
    )

    def __init__(
        self,
        *,
        token: str,
        api_base_url: str = "https://api.telegram.org",
        mode: Literal["polling", "webhook"] = "polling",
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        menu: CommandMenu | None = None,
        moderator_ids: Sequence[str] = (),
        poll_timeout: float = 30.0,
        answer_in_webhook_reply: bool = True,
        retracted_text: str = "🚫 Dit bericht is ingetrokken · This message was retracted",
        request_timeout: float = 10.0,
        connection_pool_size: int = 64,
        receive_on_start: bool = True,
        paid_broadcast_rate: float = 1000.0,
    ) -> None:
        if mode not in ("polling", "webhook"):
            raise ValueError(f"[telegram] mode must be polling or webhook, not {mode!r}")
        if mode == "webhook":
            if not webhook_url:
                raise ValueError("[telegram] webhook mode needs the public URL of /telegram/webhook (web.public_url)")
            if not webhook_secret or not _SECRET.match(webhook_secret):
                raise ValueError("[telegram] webhook_secret must be 1-256 characters of A-Z, a-z, 0-9, _ and -")
        if not token:
            raise ValueError("[telegram] token is empty: set PRIKBORD_TELEGRAM__TOKEN to the token from @BotFather")
        self._token = token
        self.limits = replace(TelegramAdapter.limits, paid_global_rates=(Rate(paid_broadcast_rate, 1),))
        self._api_base_url = api_base_url
        self._mode = mode
        # Polling: getUpdates refuses a second poller, so several instances poll one at a time.
        self.single_receiver = mode == "polling"
        self._receive_on_start = receive_on_start
        self._webhook_url = webhook_url
        self._webhook_secret = webhook_secret or ""
        self._menu = menu or CommandMenu()
        self._moderator_ids = tuple(moderator_ids)
        self._poll_timeout = poll_timeout
        self._answer_in_reply = answer_in_webhook_reply
        # Before the Bot exists: it logs its URL, token included, while being built.
        self._redact = TokenRedaction(token)
        for name in _REDACTED_LOGGERS:
            logging.getLogger(name).addFilter(self._redact)
        self._requests = (
            AiohttpRequest(
                connection_pool_size=connection_pool_size,
                read_timeout=request_timeout,
                write_timeout=request_timeout,
                connect_timeout=request_timeout,
                pool_timeout=request_timeout,
            ),
            # Long polls hold their own connection so sends never queue behind them.
            AiohttpRequest(connection_pool_size=1, read_timeout=request_timeout),
        )
        self._bot = Bot(
            token,
            base_url=bot_api_base_url(api_base_url),
            request=self._requests[0],
            get_updates_request=self._requests[1],
        )
        self._messages = TelegramMessages(self._bot, token=token, retracted_text=retracted_text)
        self._me: BotIdentity | None = None
        self._sink: EventSink | None = None
        self._poller: asyncio.Task[None] | None = None
        # Kept across a stop and start, so a restarted adapter goes on from its offset.
        self._updates = (
            UpdatePoller(
                self._bot,
                poll_timeout=poll_timeout,
                read_timeout=self._requests[1].read_timeout or 0,
                allowed_updates=ALLOWED_UPDATES,
                take=self._take_polled,
                skipped=lambda detail: self._refused("unparseable_update", detail),
            )
            if mode == "polling"
            else None
        )
        self._alive = False
        self._refused_hooks: list[RefusedHook] = []

    # -- lifecycle ------------------------------------------------------------------------------

    @property
    def me(self) -> BotIdentity | None:
        return self._me

    def start_link(self, payload: str) -> str | None:
        return start_link(self._me.username, payload) if self._me is not None else None

    @property
    def connected(self) -> bool:
        return self._alive and (self._poller is None or not self._poller.done())

    async def start(self, sink: EventSink) -> None:
        for name in _REDACTED_LOGGERS:  # again after a failed start: stop() removed them
            logging.getLogger(name).addFilter(self._redact)
        try:
            await self._connect(sink)
        except BaseException:
            await self.stop()
            raise
        log.info("telegram: started as @%s (%s)", self._me.username if self._me else "?", self._mode)

    async def _connect(self, sink: EventSink) -> None:
        with self._errors(None):
            await self._bot.initialize()  # getMe: proves the token
        user = self._bot.bot
        self._me = BotIdentity(user.id, user.username or "", user.first_name)
        self._sink = sink
        await register_commands(self._bot, set_my_commands_calls(self._menu, self._moderator_ids), self._token)
        if self._mode == "polling":
            if self._receive_on_start:
                await self.start_receiving()
        else:
            assert self._webhook_url is not None
            with self._errors(None):
                await self._bot.set_webhook(
                    url=self._webhook_url,
                    secret_token=self._webhook_secret,
                    allowed_updates=list(ALLOWED_UPDATES),
                )
        self._alive = True

    async def start_receiving(self) -> None:
        """Poll (polling mode; this instance owns the polling): from the offset Telegram keeps."""
        if self._updates is not None and (self._poller is None or self._poller.done()):
            with self._errors(None):
                await self._bot.delete_webhook(drop_pending_updates=False)
            self._poller = asyncio.create_task(self._poll(), name="telegram-polling")

    async def stop_receiving(self) -> None:
        """Stop polling and confirm what was handled, so the next poller starts after it."""
        if self._poller is not None:
            self._poller.cancel()
            await asyncio.gather(self._poller, return_exceptions=True)
            self._poller = None
        if self._updates is not None:
            await self._updates.confirm()

    async def stop(self) -> None:
        self._alive = False
        await self.stop_receiving()
        await self._bot.shutdown()
        for request in self._requests:  # also when never started: send() works without start()
            await request.shutdown()
        for name in _REDACTED_LOGGERS:
            logging.getLogger(name).removeFilter(self._redact)

    # -- inbound --------------------------------------------------------------------------------

    def on_refused(self, hook: RefusedHook) -> None:
        """Call ``hook(platform, reason)`` for every update refused as malformed (webhook or polling)."""
        self._refused_hooks.append(hook)

    def _refused(self, reason: str, detail: str) -> None:
        """One log line (never the update itself, which may be huge) and the metric."""
        log.warning("telegram: refused an update (%s): %s", reason, detail[:200])
        for hook in self._refused_hooks:
            hook(PLATFORM, reason)

    async def _poll(self) -> None:
        assert self._updates is not None
        await self._updates.run()  # returns only when Telegram refuses the token
        self._alive = False

    async def _take_polled(self, update: dict[str, Any]) -> None:
        await self._dispatch(update, deferred=False)

    async def _dispatch(self, update: Mapping[str, Any], deferred: bool) -> tuple[dict[str, Any] | None, bool]:
        """Translate and hand events to the sink → (webhook answer, whether every event was taken)."""
        assert self._me is not None and self._sink is not None
        events = translate_update(update, self._me)  # raises before anything reaches the sink
        query_id = callback_query_id(update)
        pending = CallbackAnswer(query_id, self._bot, deferred) if query_id else None
        ok = True
        for event in events:
            if pending is not None and isinstance(event, ActionPressed):
                event = replace(event, answer=pending.answer)
            try:
                await self._sink(event)
            except Exception:
                ok = False
                log.exception("telegram: handling %s failed", event.event_id)
        reply = await pending.finish() if pending is not None else None
        return reply, ok

    async def handle_http(self, headers: Mapping[str, str], body: bytes) -> HttpReply:
        """The webhook endpoint (``POST /telegram/webhook``): the web app passes headers and raw body."""
        if self._mode != "webhook":
            return HttpReply(404, b"telegram webhook mode is off")
        given = header_value(headers, SECRET_HEADER)
        if given is None or not hmac.compare_digest(given.encode(), self._webhook_secret.encode()):
            return HttpReply(403, b"forbidden")
        if self._sink is None or self._me is None:
            return HttpReply(503, b"not started")  # Telegram retries later
        # Refusals are 400s: Telegram repeats a failed request only "a reasonable amount of" times, and the
        # refusal shows in getWebhookInfo's last_error_message (bot/web/webhooks.py refuses deep nesting first).
        try:
            update = json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            self._refused("malformed_json", type(exc).__name__)
            return HttpReply(400, b"malformed JSON")
        if not isinstance(update, dict):
            self._refused("malformed_update", "not a JSON object")
            return HttpReply(400, b"an update must be a JSON object")
        try:
            reply, ok = await self._dispatch(update, deferred=self._answer_in_reply)
        except MalformedUpdate as exc:
            self._refused("malformed_update", str(exc))
            return HttpReply(400, f"malformed update: {str(exc)[:200]}".encode())
        if not ok:
            return HttpReply(500, b"not stored; retry")  # Telegram redelivers; the core de-duplicates
        if reply is not None:
            return HttpReply(200, json.dumps(reply).encode(), "application/json")
        return HttpReply(200, b"")

    # -- outbound -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _errors(self, chat_id: str | None) -> Iterator[None]:
        with self._messages.errors(chat_id):
            yield

    async def send(self, chat: ChatRef, message: OutboundMessage) -> MessageRef:
        return await self._messages.send(chat, message)

    async def edit(self, ref: MessageRef, message: OutboundMessage) -> None:
        await self._messages.edit(ref, message)

    async def delete(self, ref: MessageRef) -> None:
        """Retract: delete every part, or edit a part to ``retracted_text`` where deletion is too late."""
        await self._messages.delete(ref)

    async def reply(self, command: CommandIssued, text: str, private: bool = True) -> None:
        """Private answers go to the person's chat with the bot; if they never opened one, into the group."""
        if private and not command.private_chat:
            try:
                await self._messages.send_plain(command.user.user_id, text)
                return
            except PermanentError:
                log.info("telegram: %s has no private chat with the bot; answering in the group", command.user.key)
        await self._messages.send_plain(command.chat.chat_id, text, command.message)

    async def send_private(self, user: UserRef, text: str) -> bool:
        try:
            await self._messages.send_plain(user.user_id, text)
        except PermanentError:
            return False  # never started the bot, or blocked it
        return True

    async def list_members(self, chat: ChatRef) -> MemberList | None:
        """A group's member count, nobody by name (``partial``); None for a private chat."""
        return await self._messages.member_list(chat)

    async def check(self) -> CheckResult:
        try:
            await self._bot.initialize()  # opens the HTTP client again after a stop; a no-op while running
            me = await self._bot.get_me()
        except InvalidToken:
            return CheckResult(False, "telegram: the bot token was refused: check [telegram] token")
        except TelegramError as exc:
            detail = str(exc).replace(self._token, "<token>")
            return CheckResult(False, f"telegram: cannot reach {self._api_base_url}: {detail}")
        finally:
            if not self._alive:
                await self._bot.shutdown()
        return CheckResult(True, f"telegram: connected as @{me.username} ({me.first_name}), {self._mode} mode")

    async def discover_chats(self) -> list[DiscoveredChat]:
        """Groups and channels named in the pending updates (``my_chat_member`` when the bot was added,
        messages, presses). Read with getUpdates without an offset, so nothing is confirmed and a
        service started later still gets every update; at most the first 100 pending ones. Refused while
        a webhook is set: Telegram then hands updates only to the webhook."""
        try:
            with self._errors(None):
                await self._bot.initialize()
                hook = await self._bot.get_webhook_info()
                if hook.url:
                    raise DeliveryError(
                        "telegram: a webhook is set, so Telegram hands every update to prikbord's "
                        "/telegram/webhook and none are left to read here. While prikbord runs, its moderators "
                        "are told the id of each chat the bot is added to; to list chats here instead, use "
                        'polling mode ([telegram] mode = "polling"), start prikbord once (it removes the '
                        "webhook), stop it, add the bot to the group or send /help@bot there, and run this again"
                    )
                updates = await self._bot.get_updates(timeout=0, limit=100)
        finally:
            if not self._alive:
                await self._bot.shutdown()
        return chats_in_updates(update.to_dict() for update in updates)
