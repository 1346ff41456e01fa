"""The Slack adapter: thin I/O around slack_bolt (inbound) and slack_sdk (outbound).

Inbound requests reach :meth:`SlackAdapter.handle_http` (the web app's ``POST /slack/events``) or,
with an app token, Socket Mode. Either way bolt acknowledges at once and the work (the core's sink)
runs after the acknowledgement, so Slack's 3-second deadline never depends on the database.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import aiohttp
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from adapters.base import (
    ActionPressed,
    Adapter,
    AdapterAuthError,
    Answer,
    ChatRef,
    CheckResult,
    CommandIssued,
    DeliveryError,
    DiscoveredChat,
    Event,
    EventSink,
    HttpReply,
    Limits,
    MemberList,
    MessageRef,
    OutboundMessage,
    Rate,
    RateLimited,
    TransientError,
    UserRef,
)
from adapters.slack.calls import DEFAULT_OPEN_RATE, call_api, direct_message, member_channels, open_direct, web_client
from adapters.slack.errors import SlackCallFailed, TokenRefused
from adapters.slack.forms import SlackForms
from adapters.slack.inbound import MAIN_COMMAND, PLATFORM, Inbound, MalformedPayload, parse_request
from adapters.slack.locales import UserLocales
from adapters.slack.lookup import EmailLookup
from adapters.slack.members import MemberListing
from adapters.slack.modal import FormWords, PostFormHandler
from adapters.slack.mrkdwn import escape
from adapters.slack.probes import check_workspace, find_sent_message
from adapters.slack.requests import BOLT_SHAPE_ERRORS as _BOLT_SHAPE_ERRORS
from adapters.slack.requests import MALFORMED as _MALFORMED
from adapters.slack.requests import OrderedWork, ResponseUrls, order_key, signature_valid
from adapters.slack.translate import HomeContent, compose, compose_home

log = logging.getLogger(__name__)
DEFAULT_WORKSPACE_RATE = Rate(20, 1.0)  # Slack publishes none; a conservative stand-in

HomeView = Callable[[UserRef], Awaitable[Sequence[tuple[MessageRef, OutboundMessage]] | HomeContent]]

_CONTEXT_KEY = "prikbord_inbound"
# Called with (platform, reason) for each request refused as malformed: the web app's metrics count them.
RefusedHook = Callable[[str, str], None]


class SlackAdapter(Adapter):
    """Slack through bolt (inbound, with request verification) and slack_sdk (outbound).

    Keyword arguments:

    - ``bot_token`` (``xoxb-``) and ``signing_secret``: the app's credentials, never logged nor shown in an error.
    - ``api_base_url``: where the Web API lives (``https://slack.com/api/``; a loopback peer in tests).
    - ``app_token``: an ``xapp-`` token switches inbound to Socket Mode (``handle_http`` still answers).
    - ``home_view``: the person's open must-reads for their App Home, as (the post's message ref, the post)
      pairs, shown with buttons; a press there arrives as ActionPressed on that ref. None: no App Home.
    - ``workspace_rate``: the workspace-wide message rate (Slack publishes none; 20/s is a stand-in).
    - ``open_rate``: how fast DMs are opened for first private copies (``conversations.open``, tier 3).
    - ``main_command``: the slash command whose first word is the command (``/prikbord stats 12``).
    - ``timeout``: seconds for one Web API call.
    """

    platform = PLATFORM

    def __init__(
        self,
        *,
        bot_token: str,
        signing_secret: str,
        api_base_url: str = "https://slack.com/api/",
        app_token: str | None = None,
        home_view: HomeView | None = None,
        workspace_rate: Rate = DEFAULT_WORKSPACE_RATE,
        open_rate: Rate = DEFAULT_OPEN_RATE,
        main_command: str = MAIN_COMMAND,
        timeout: float = 30.0,
    ) -> None:
        if not bot_token.strip():
            raise ValueError("slack: bot_token is empty; set PRIKBORD_SLACK__BOT_TOKEN to the app's xoxb- token")
        if not signing_secret.strip():
            raise ValueError("slack: signing_secret is empty; set PRIKBORD_SLACK__SIGNING_SECRET")
        self._bot_token = bot_token.strip()
        self._signing_secret = signing_secret.strip()
        self._api_base_url = api_base_url if api_base_url.endswith("/") else api_base_url + "/"
        self._app_token = app_token
        self._home_view = home_view
        self._main_command = main_command
        self._timeout = timeout
        self.lookup_emails = EmailLookup(self._new_client, self._api_base_url, timeout).lookup  # by Slack email
        self.limits = Limits(
            text_length=40_000,  # Slack's limit of a message's text
            global_rates=(workspace_rate,),
            per_chat_rates=(Rate(1, 1.0),),
            open_rates=(open_rate,),
            idempotent_send=False,  # but find_sent finds a post by its metadata
            edit_interval=2.0,  # chat.update is a tier-3 method: keep counter edits sparse
        )
        self._signing_key = self._signing_secret.encode()
        self._session: aiohttp.ClientSession | None = None
        self._client: AsyncWebClient | None = None
        self._app: AsyncApp | None = None
        self._socket: AsyncSocketModeHandler | None = None
        self._sink: EventSink | None = None
        self._bot_user_id: str | None = None
        self._auth_failed = False
        self._work = OrderedWork()
        self._response_urls = ResponseUrls()
        self._refused_hooks: list[RefusedHook] = []
        self._members = MemberListing(self._call)
        self._locales = UserLocales(self._call, self._api)
        self._forms = SlackForms(self._call, self._api, self._work.spawn)  # the post modal (slack/forms.py)

    def __repr__(self) -> str:
        return f"SlackAdapter(api_base_url={self._api_base_url!r}, socket_mode={self._app_token is not None})"

    # -- lifecycle ----------------------------------------------------------------------------------

    def _new_client(self, session: aiohttp.ClientSession) -> AsyncWebClient:
        return web_client(self._bot_token, self._api_base_url, session, self._timeout)

    async def start(self, sink: EventSink) -> None:
        self._sink = sink
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self._timeout))
        self._client = self._new_client(self._session)
        app = AsyncApp(
            name="prikbord",
            client=self._client,
            signing_secret=self._signing_secret,
            # The listener only acknowledges and hands the work to a task, so running it before the
            # response costs nothing and spares bolt's polling for the ack.
            process_before_response=True,
        )
        everything = re.compile(".*")
        app.event(everything)(self._on_request)
        app.action(everything)(self._on_request)
        app.command(everything)(self._on_request)
        app.view_submission(everything)(self._on_request)
        app.view_closed(everything)(self._on_request)
        self._app = app
        try:
            await self._bot_user()
        except AdapterAuthError:
            await self.stop()
            raise
        if self._app_token:
            # Checked once here: the Socket Mode client itself would retry a refused token forever.
            try:
                await self._call("apps.connections.open", self._client.apps_connections_open(app_token=self._app_token))
            except AdapterAuthError as exc:
                await self.stop()
                raise AdapterAuthError(
                    "Slack refused the app token: set PRIKBORD_SLACK__APP_TOKEN to the app-level xapp- token "
                    "(scope connections:write), or unset it to receive events over HTTP"
                ) from exc
            self._socket = AsyncSocketModeHandler(app, self._app_token, web_client=self._client)
            await self._socket.connect_async()  # type: ignore[no-untyped-call]  # bolt leaves it unannotated

    async def stop(self) -> None:
        self._app = None  # from here on requests get 503 while the accepted work drains
        if self._socket is not None:
            await self._socket.close_async()  # type: ignore[no-untyped-call]
            self._socket = None
        await self._work.drain(timeout=5)
        if self._session is not None:
            await self._session.close()
            self._session = None
        self._client = None

    @property
    def connected(self) -> bool:
        return self._app is not None and not self._auth_failed

    # -- Web API calls ------------------------------------------------------------------------------

    def _api(self) -> AsyncWebClient:
        if self._client is None:
            raise TransientError("the Slack adapter is not started")
        return self._client

    async def _call(self, method: str, call: Awaitable[Any], chat_id: str = "") -> Mapping[str, Any]:
        try:
            return await call_api(method, call, self._api_base_url, chat_id)
        except TokenRefused:
            self._auth_failed = True
            raise

    async def _bot_user(self) -> str | None:
        """The bot's user id (auth.test, once). None while Slack cannot be reached."""
        if self._bot_user_id is None:
            try:
                data = await self._call("auth.test", self._api().auth_test())
            except (TransientError, RateLimited) as exc:
                log.warning("slack: auth.test failed for now (%s); will ask again", exc)
                return None
            self._bot_user_id = str(data.get("user_id") or "") or None
        return self._bot_user_id

    # -- outbound -----------------------------------------------------------------------------------

    async def send(self, chat: ChatRef, message: OutboundMessage) -> MessageRef:
        kwargs = compose(message).as_kwargs()
        if message.reply_to is not None:
            kwargs["thread_ts"] = message.reply_to.message_id
        data = await self._call(
            "chat.postMessage", self._api().chat_postMessage(channel=chat.chat_id, **kwargs), chat.chat_id
        )
        return MessageRef(chat, str(data["ts"]))

    async def edit(self, ref: MessageRef, message: OutboundMessage) -> None:
        kwargs = compose(message).as_kwargs()
        chat_id = ref.chat.chat_id
        await self._call("chat.update", self._api().chat_update(channel=chat_id, ts=ref.message_id, **kwargs), chat_id)

    async def delete(self, ref: MessageRef) -> None:
        chat_id = ref.chat.chat_id
        try:
            await self._call("chat.delete", self._api().chat_delete(channel=chat_id, ts=ref.message_id), chat_id)
        except SlackCallFailed as exc:
            if exc.error != "message_not_found":  # else already gone (deleted by hand, a retried retract)
                raise

    async def reply(self, command: CommandIssued, text: str, private: bool = True) -> None:
        url = self._response_urls.get(command.event_id)
        if url is not None and self._session is not None:
            webhook = AsyncWebhookClient(url, session=self._session, timeout=int(self._timeout))
            try:
                answer = await webhook.send(
                    text=escape(text), response_type="ephemeral" if private else "in_channel", replace_original=False
                )
                if answer.status_code == 200:
                    return
                log.warning("slack: response_url answered %s; replying through the Web API", answer.status_code)
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                log.warning("slack: response_url unreachable (%s); replying through the Web API", type(exc).__name__)
        chat_id, client = command.chat.chat_id, self._api()
        if private:
            call = client.chat_postEphemeral(channel=chat_id, user=command.user.user_id, text=escape(text))
            await self._call("chat.postEphemeral", call, chat_id)
        else:
            await self._call("chat.postMessage", client.chat_postMessage(channel=chat_id, text=escape(text)), chat_id)

    async def send_private(self, user: UserRef, text: str) -> bool:
        return await direct_message(self._call, self._api(), user.user_id, text)

    async def open_private(self, user: UserRef) -> str | None:  # conversations.open (slack/calls.py)
        return await open_direct(self._call, self._api(), user.user_id)

    def serve_post_forms(self, handler: PostFormHandler) -> None:  # the core's side of the modal (slack/modal.py)
        self._forms.serve(handler)

    async def open_post_form(self, command: CommandIssued, words: FormWords, *, can_schedule: bool) -> None:
        await self._forms.open(command, words, can_schedule=can_schedule)

    async def list_members(self, chat: ChatRef) -> MemberList | None:
        """Everyone in the channel (conversations.members, every page, paced to tier 4), the bot left out."""
        if (bot := await self._bot_user()) is None:
            raise TransientError("slack: auth.test failed for now, so the bot cannot be told from the members")
        return await self._members.members(self._api(), chat.chat_id, bot)

    async def user_locale(self, user_id: str) -> str | None:  # users.info, once per person (slack/locales.py)
        return await self._locales.locale_of(user_id)

    async def find_sent(self, chat: ChatRef, idempotency_key: str) -> MessageRef | None:  # by metadata (probes.py)
        return await find_sent_message(self._call, self._api(), await self._bot_user(), chat, idempotency_key)

    async def check(self) -> CheckResult:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self._timeout)) as session:
            return await check_workspace(self._call, self._new_client(session))

    async def discover_chats(self) -> list[DiscoveredChat]:
        """The public and private channels the bot is a member of, archived ones left out."""
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self._timeout)) as session:
            return await member_channels(self._new_client(session), self._api_base_url)

    # -- inbound ------------------------------------------------------------------------------------

    def on_refused(self, hook: RefusedHook) -> None:
        """Call ``hook(platform, reason)`` for every signed request refused as malformed."""
        self._refused_hooks.append(hook)

    def _refuse(self, reason: str, detail: str) -> HttpReply:
        """400, one log line (never the payload, which may be huge) and the metric. Slack retries a failed
        request three times at most and then drops it, so a 400 ends it, visibly in the app's delivery log."""
        detail = detail[:200]
        log.info("slack: refused a request (%s): %s", reason, detail)
        for hook in self._refused_hooks:
            hook(PLATFORM, reason)
        return HttpReply(400, f"malformed Slack payload: {detail}".encode())

    async def handle_http(self, headers: Mapping[str, str], body: bytes) -> HttpReply:
        """``POST /slack/events``: events, interactivity and slash commands, signed by Slack."""
        app = self._app
        if app is None:
            return HttpReply(503, b"slack adapter not started")
        lowered: dict[str, str | Sequence[str]] = {k.lower(): v for k, v in headers.items()}
        if not signature_valid(self._signing_key, body, lowered, time.time()):
            # Checked before parsing, so an unsigned request never gets as far as "malformed".
            log.info("slack: refused a request with a missing, wrong or stale signature")
            return HttpReply(401, b"invalid signature")
        bot_user = await self._bot_user()
        try:
            request = AsyncBoltRequest(body=body.decode("utf-8"), headers=lowered)
        except _MALFORMED as exc:
            return self._refuse("malformed_json", f"{type(exc).__name__}: {exc}")
        except _BOLT_SHAPE_ERRORS as exc:
            return self._refuse("malformed_payload", f"a field of the wrong type ({type(exc).__name__}: {exc})")
        try:
            inbound = parse_request(request.body, bot_user, main_command=self._main_command)
        except MalformedPayload as exc:
            return self._refuse("malformed_payload", str(exc))
        request.context[_CONTEXT_KEY] = inbound
        response = await app.async_dispatch(request)
        content_type = (response.headers.get("content-type") or ["text/plain; charset=utf-8"])[0]
        return HttpReply(response.status, response.body.encode(), content_type)

    async def _on_request(self, ack: Callable[..., Awaitable[Any]], body: dict[str, Any], context: Any) -> None:
        if body.get("type") in ("view_submission", "view_closed"):  # answered in the ack itself
            return await self._forms.acknowledge(ack, body)
        await ack()
        inbound = context.get(_CONTEXT_KEY)
        if not isinstance(inbound, Inbound):  # Socket Mode: handle_http did not parse it
            try:
                inbound = parse_request(body, await self._bot_user(), main_command=self._main_command)
            except MalformedPayload as exc:
                log.warning("slack: ignored a malformed payload: %s", exc)
                return
        self._accept(inbound)

    def _accept(self, inbound: Inbound) -> None:
        if inbound.response_url is not None:
            for event in inbound.events:
                if isinstance(event, CommandIssued):
                    self._response_urls.remember(event.event_id, inbound.response_url)
        events = tuple(
            replace(e, answer=self._answer(e)) if isinstance(e, ActionPressed) and inbound.home_user is None else e
            for e in inbound.events
        )
        if not events and inbound.home_user is None:
            return
        key = order_key(events[0]) if events else ("home", inbound.home_user.user_id if inbound.home_user else "")
        self._work.spawn(key, lambda: self._process(events, inbound.home_user))

    async def _process(self, events: tuple[Event, ...], home_user: UserRef | None) -> None:
        for event in events:
            if self._sink is None:
                return
            try:
                await self._sink(event)
            except Exception:
                log.exception("slack: the core failed on %s %s", type(event).__name__, event.event_id)
        if home_user is not None:
            await self._publish_home(home_user)

    def _answer(self, event: ActionPressed) -> Answer:
        async def answer(text: str) -> None:
            if not text or self._client is None:
                return
            chat_id = event.message.chat.chat_id
            call = self._client.chat_postEphemeral(channel=chat_id, user=event.user.user_id, text=escape(text))
            try:
                await self._call("chat.postEphemeral", call, chat_id)
            except DeliveryError as exc:  # a courtesy note: the press itself is already counted
                log.warning("slack: could not answer a button press in %s: %s", chat_id, exc)

        return answer

    async def _publish_home(self, user: UserRef) -> None:
        if self._home_view is None or self._client is None:
            return
        try:
            view = compose_home(await self._home_view(user))
            await self._call("views.publish", self._client.views_publish(user_id=user.user_id, view=view))
        except DeliveryError as exc:
            log.warning("slack: could not publish the App Home of %s: %s", user.user_id, exc)
        except Exception:
            log.exception("slack: building the App Home of %s failed", user.user_id)
