"""A Telegram Bot API server on loopback that behaves like Telegram for what prikbord uses.

Every request is checked against ``tests/contracts/telegram-bot-api.json`` (the Bot API as published):
an unknown method is 404, a missing required parameter or a wrong type is 400, unknown parameters are
accepted as Telegram does but recorded (tests assert there are none). On top of the contract it enforces
what Telegram's documentation says in prose: callback_data 1-64 bytes, text 1-4096 characters after entity
parsing, parse_mode HTML that Telegram can parse, and the flood limits (429 with ``parameters.retry_after``).

Tests act as Telegram users through the driver methods (``user_sends``, ``user_presses``, ``user_reacts``,
``bot_membership``, ``chat_member``, ``migrate_chat``): updates are queued for ``getUpdates`` or POSTed to the
registered webhook with the ``X-Telegram-Bot-Api-Secret-Token`` header. Webhook replies that carry a method
(``{"method": "answerCallbackQuery", ...}``) are executed, as Telegram does. A group has members (``members``,
people tests act as, and ``others``) that getChatMemberCount counts, the bot included while it is in it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import html
import itertools
import json
import math
import re
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

REPO_ROOT = Path(__file__).resolve().parents[2]
CONTRACTS_DIR = REPO_ROOT / "tests" / "contracts"
CONTRACT_FILE = "telegram-bot-api.json"

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
TEXT_LIMIT = 4096
CALLBACK_DATA_LIMIT = 64
DELETE_WINDOW = 48 * 3600
# Telegram's default when allowed_updates was never given: everything except these.
_OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
_TOKEN = re.compile(r"^\d+:[A-Za-z0-9_-]+$")
_IN_CHAT = frozenset({"creator", "administrator", "member", "restricted"})
_ADMIN = frozenset({"creator", "administrator"})


@functools.cache
def _read_contract(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def load_telegram_contract(contracts_dir: Path = CONTRACTS_DIR) -> dict[str, Any]:
    """The published Bot API description, kept in the repository; absent, it is a failure, never a skip."""
    path = contracts_dir / CONTRACT_FILE
    if not path.is_file():
        pytest.fail(
            f"Telegram Bot API contract not found at {path}: it belongs in tests/contracts/ (see its README.md)",
            pytrace=False,
        )
    return _read_contract(path)


class ApiError(Exception):
    def __init__(self, status: int, description: str, parameters: dict[str, Any] | None = None, path: str = "") -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters
        self.path = path  # the field at fault, for picking the most telling error of a union

    def envelope(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            out["parameters"] = self.parameters
        return out


def _bad(description: str, parameters: dict[str, Any] | None = None, path: str = "") -> ApiError:
    return ApiError(400, f"Bad Request: {description}", parameters, path)


# ---------------------------------------------------------------------------------------------
# The contract


class Contract:
    """Checks parameters and objects against the published types (``Integer``, ``Array of X``, objects…)."""

    _PRIMITIVES: Mapping[str, Callable[[Any], bool]] = {
        "Integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "Float": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "Boolean": lambda v: isinstance(v, bool),
        "String": lambda v: isinstance(v, str),
        "InputFile": lambda v: v is not None,
    }

    def __init__(self, spec: Mapping[str, Any]) -> None:
        self.methods: dict[str, Mapping[str, Any]] = {name.lower(): m for name, m in spec["methods"].items()}
        self.types: Mapping[str, Any] = spec["types"]

    def method(self, name: str) -> Mapping[str, Any] | None:
        return self.methods.get(name.lower())  # Telegram method names are case-insensitive

    def params(self, method: Mapping[str, Any], raw: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """→ (decoded parameters, unknown parameter paths). Form values arrive as strings, JSON-encoded."""
        fields = {f["name"]: f for f in method.get("fields", [])}
        unknown = [name for name in raw if name not in fields]
        out: dict[str, Any] = {}
        for name, spec in fields.items():
            if name not in raw:
                if spec["required"]:
                    raise _bad(f'parameter "{name}" is required')
                continue
            out[name], nested_unknown = self.value(raw[name], spec["types"], name, decode=True)
            unknown += nested_unknown
        return out, unknown

    def value(self, raw: Any, types: Sequence[str], path: str, decode: bool = False) -> tuple[Any, list[str]]:
        candidates: list[Any] = []
        if decode and isinstance(raw, str) and any(t not in ("String", "InputFile") for t in types):
            with contextlib.suppress(ValueError):  # not JSON: only a String reading is left
                candidates.append(json.loads(raw))
        candidates.append(raw)
        best: tuple[Any, list[str]] | None = None
        deepest: ApiError | None = None
        for candidate in candidates:
            for t in types:
                if t == "String" and candidate is not raw and decode:
                    continue  # a String parameter is taken as sent, never JSON-decoded
                unknown: list[str] = []
                try:
                    value = self.check(candidate, t, path, unknown)
                except ApiError as exc:
                    if deepest is None or len(exc.path) > len(deepest.path):
                        deepest = exc
                    continue
                if best is None or len(unknown) < len(best[1]):
                    best = (value, unknown)
        if best is not None:
            return best
        # The alternative that got furthest says best what is wrong ("…inline_keyboard[0][0].text is required").
        if deepest is not None and (len(types) == 1 or len(deepest.path) > len(path)):
            raise deepest
        raise _bad(f'field "{path}" must be {" or ".join(types)}', path=path)

    def check(self, value: Any, t: str, path: str, unknown: list[str]) -> Any:
        if t.startswith("Array of "):
            if not isinstance(value, list):
                raise _bad(f'field "{path}" must be an Array', path=path)
            return [self.check(item, t[len("Array of ") :], f"{path}[{i}]", unknown) for i, item in enumerate(value)]
        if t in self._PRIMITIVES:
            if not self._PRIMITIVES[t](value):
                raise _bad(f'field "{path}" must be {t}', path=path)
            return value
        spec = self.types.get(t)
        if spec is None:
            raise AssertionError(f"the contract names an unknown type {t!r}")
        if spec.get("subtypes"):
            value, nested = self.value(value, spec["subtypes"], path)
            unknown += nested
            return value
        if not isinstance(value, dict):
            raise _bad(f'field "{path}" must be a JSON object ({t})', path=path)
        fields = {f["name"]: f for f in spec.get("fields", [])}
        for name, f in fields.items():
            if name not in value:
                if f["required"]:
                    raise _bad(f'field "{path}.{name}" is required', path=f"{path}.{name}")
                continue
            checked, nested = self.value(value[name], f["types"], f"{path}.{name}")
            unknown += nested
            value[name] = checked
        unknown += [f"{path}.{name}" for name in value if name not in fields]
        return value


# ---------------------------------------------------------------------------------------------
# What Telegram's prose adds to the contract


_HTML_TAGS = frozenset(
    {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a", "tg-emoji"}
    | {"code", "pre", "blockquote", "tg-time"}
)


class _TelegramHtml(HTMLParser):
    """Telegram's HTML parse mode: a few tags, balanced, four named entities, nothing else."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.stack: list[str] = []
        self.text: list[str] = []

    def fail(self, why: str) -> None:
        raise _bad(f"can't parse entities: {why}")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _HTML_TAGS:
            self.fail(f'Unsupported start tag "{tag}"')
        if tag == "a" and not dict(attrs).get("href"):
            self.fail('Can\'t find "href" attribute of tag "a"')
        if tag == "blockquote" and "blockquote" in self.stack:
            self.fail("blockquote entities can't be nested")
        if self.stack and self.stack[-1] in ("code", "pre") and not (tag == "code" and self.stack[-1] == "pre"):
            self.fail(f'entities can\'t be nested in "{self.stack[-1]}"')
        self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.fail(f'Unsupported start tag "{tag}"')

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            open_tag = self.stack[-1] if self.stack else tag
            self.fail(f'Can\'t find end tag corresponding to start tag "{open_tag}"')
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        for ch in "<>&":
            if ch in data:
                self.fail(f'Unexpected "{ch}": escape it as an HTML entity')
        self.text.append(data)

    def handle_entityref(self, name: str) -> None:
        if name not in ("lt", "gt", "amp", "quot"):
            self.fail(f'Unsupported HTML entity "&{name};"')
        self.text.append(html.unescape(f"&{name};"))

    def handle_charref(self, name: str) -> None:
        self.text.append(html.unescape(f"&#{name};"))

    def handle_comment(self, data: str) -> None:
        self.fail("comments are not supported")

    def handle_decl(self, decl: str) -> None:
        self.fail("declarations are not supported")


def parse_html(text: str) -> str:
    """The visible text of Telegram HTML, or ApiError 400 "can't parse entities"."""
    parser = _TelegramHtml()
    parser.feed(text)
    parser.close()
    if parser.rawdata:
        parser.fail("unfinished tag or entity at the end")
    if parser.stack:
        parser.fail(f'Can\'t find end tag corresponding to start tag "{parser.stack[-1]}"')
    return "".join(parser.text)


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


_BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)


def check_inline_keyboard(markup: Any) -> None:
    if not isinstance(markup, dict) or "inline_keyboard" not in markup:
        return
    for row in markup["inline_keyboard"]:
        for button in row:
            actions = [a for a in _BUTTON_ACTIONS if a in button]
            if len(actions) != 1:
                raise _bad("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")
            if not button["text"]:
                raise _bad("BUTTON_TEXT_EMPTY")
            if "callback_data" in button and not 1 <= len(button["callback_data"].encode()) <= CALLBACK_DATA_LIMIT:
                raise _bad("BUTTON_DATA_INVALID")
            if "url" in button and not re.match(r"^(https?|tg)://\S+$", button["url"], re.I):
                raise _bad("BUTTON_URL_INVALID")
            if button.get("style") not in (None, "danger", "success", "primary"):
                raise _bad("BUTTON_STYLE_INVALID")


# ---------------------------------------------------------------------------------------------
# State


@dataclass(frozen=True)
class FloodLimits:
    """(count, seconds) windows; None switches one off. Group limits apply to negative chat ids.
    ``paid_overall`` holds for the sends with ``allow_paid_broadcast`` instead of ``overall`` (Telegram:
    up to 1,000 messages/s for 0.1 Stars each; tests/contracts/README.md): the peer counts the paid and
    the free sends in separate windows, and both in the per-chat and per-group ones."""

    overall: tuple[int, float] | None = (30, 1.0)
    paid_overall: tuple[int, float] | None = (1000, 1.0)
    per_chat: tuple[int, float] | None = (1, 1.0)
    per_group: tuple[int, float] | None = (20, 60.0)
    methods: frozenset[str] = frozenset({"sendMessage", "sendPhoto", "sendDocument", "sendMediaGroup"})

    @classmethod
    def off(cls) -> FloodLimits:
        return cls(None, None, None, None)


@dataclass(frozen=True)
class FloodStorm:
    """Telegram's flood control in a storm: from ``start`` until ``until`` (peer clock), windows of
    ``blocked`` seconds in which every rate-limited call is answered 429 with the rest of the window as
    ``retry_after`` (so up to ``blocked``), each followed by ``open`` seconds of the usual limits."""

    start: float
    until: float
    blocked: float
    open: float = 1.0

    def wait(self, now: float) -> float:
        if not self.start <= now < self.until:
            return 0.0
        phase = (now - self.start) % (self.blocked + self.open)
        return self.blocked - phase if phase < self.blocked else 0.0


@dataclass
class PeerUser:
    id: int
    first_name: str
    username: str | None = None
    started: bool = True  # has opened a private chat with the bot
    blocked: bool = False
    language_code: str | None = None

    def json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.username:
            out["username"] = self.username
        if self.language_code:
            out["language_code"] = self.language_code
        return out


@dataclass
class PeerChat:
    id: int
    type: str  # private | group | supergroup | channel
    title: str | None = None
    username: str | None = None
    bot_status: str = "member"  # member | administrator | left | kicked
    migrated_to: int | None = None
    members: set[int] = field(default_factory=set)  # the people in a group whom tests act as
    others: int = 0  # and how many more people are in it
    is_forum: bool = False  # a supergroup with topics (add_topic)
    topics: dict[int, str] = field(default_factory=dict)  # message_thread_id → name
    closed_topics: set[int] = field(default_factory=set)  # closed by an admin (close_topic)

    def member_count(self) -> int:
        """What getChatMemberCount answers: every member, the bot included while it is in the chat."""
        bot = 1 if self.bot_status in _IN_CHAT else 0
        return len(self.members) + self.others + bot

    def json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "type": self.type}
        if self.type == "private":
            out["first_name"] = self.title or str(self.id)
        elif self.title:
            out["title"] = self.title
        if self.username:
            out["username"] = self.username
        if self.is_forum:
            out["is_forum"] = True
        return out


@dataclass
class PeerMessage:
    chat_id: int
    message_id: int
    date: int
    from_id: int
    text: str  # what people see
    source: str = ""  # as sent (HTML when parse_mode is HTML)
    parse_mode: str | None = None
    reply_markup: dict[str, Any] | None = None
    reply_to: int | None = None
    deleted: bool = False
    edit_date: int | None = None
    edits: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    paid_broadcast: bool = False  # sent with allow_paid_broadcast
    thread_id: int | None = None  # the topic of a forum it is in (message_thread_id)
    media: dict[str, Any] | None = None  # a photo's or document's fields ("photo": [...]); text is its caption
    force_reply: bool = False  # sent with a ForceReply: the person's client opened the reply field on it


@dataclass
class CallbackQuery:
    id: str
    user_id: int
    chat_id: int
    message_id: int
    data: str
    answer: dict[str, Any] | None = None


@dataclass
class Webhook:
    url: str
    secret: str | None


@dataclass
class PeerCall:
    method: str
    params: dict[str, Any]
    status: int
    description: str = ""
    at: float = 0.0  # the peer's clock when the call was answered


class TelegramPeer:
    """The Bot API on 127.0.0.1 (port 0). ``async with TelegramPeer() as peer: ...`` or start()/stop()."""

    def __init__(
        self,
        *,
        token: str = "123456789:AAH-prikbord-loopback-token_0123456789",
        bot_id: int = 123456789,
        bot_username: str = "prikbord_bot",
        bot_name: str = "Prikbord",
        flood: FloodLimits | None = None,
        contract: Mapping[str, Any] | None = None,
        require_https_webhook: bool = False,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        webhook_connections: int = 1,
    ) -> None:
        self.token = token
        self.bot = PeerUser(bot_id, bot_name, bot_username)
        self.flood = flood if flood is not None else FloodLimits()
        self.contract = Contract(contract if contract is not None else load_telegram_contract())
        self.require_https_webhook = require_https_webhook
        self._clock = clock
        self._wall = wall_clock
        self.time_offset = 0.0  # advance() moves both clocks, so tests never sleep through a window
        self.users: dict[int, PeerUser] = {}
        self.chats: dict[int, PeerChat] = {}
        self._messages: dict[tuple[int, int], PeerMessage] = {}
        self._next_message_id: dict[int, int] = {}
        self.callback_queries: dict[str, CallbackQuery] = {}
        self.commands: dict[tuple[str, str], list[dict[str, str]]] = {}  # (scope JSON, language) → commands
        self._reactions: dict[tuple[int, int, int], list[str]] = {}
        self._update_ids = itertools.count(800_000_001)
        self._query_ids = itertools.count(4_000_000_000_000_001)
        self._updates: deque[dict[str, Any]] = deque()
        self.allowed_updates: frozenset[str] | None = None
        self.webhook: Webhook | None = None
        self._changed = asyncio.Event()
        self._poll_generation = 0
        self._webhook_lock = asyncio.Lock()
        # Webhook requests in flight at most. 1 (the default): one update after another, each delivery awaited
        # by its caller. More, like Telegram (setWebhook's max_connections, 40 unless set): different chats side
        # by side, one chat's updates still one after another in order (how strictly Telegram orders them is
        # not documented: this is the cautious reading). bench/burst.py uses 40.
        self.webhook_connections = webhook_connections
        self._webhook_slots = asyncio.Semaphore(max(1, webhook_connections))
        self._webhook_tails: dict[int | None, asyncio.Future[None]] = {}
        self._closing = False
        # An outage (``outage(True)``): every Bot API request is answered 502 and counted here by method.
        self.down = False
        self.requests_while_down: dict[str, int] = {}
        self.storm: FloodStorm | None = None  # flood_storm(): 429 waves on top of the flood limits
        self._sent_all: deque[float] = deque()
        self._sent_paid: deque[float] = deque()  # sends with allow_paid_broadcast
        self._sent_chat: dict[int, deque[float]] = {}
        self._sent_group: dict[int, deque[float]] = {}
        # What tests look at
        self.calls: list[PeerCall] = []
        self.unknown_params: list[str] = []  # "method.param" or "method.param.nested"
        self.unimplemented: list[str] = []
        self.webhook_deliveries: list[tuple[dict[str, Any], int, bytes]] = []
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.port = 0
        from tests.peers.telegram_media import PeerMedia

        self.media = PeerMedia(self)  # photos, documents, albums: uploads counted, file_ids issued
        self._handlers: dict[str, Callable[[dict[str, Any]], Any]] = {
            "sendPhoto": self.media.send_photo,
            "sendDocument": self.media.send_document,
            "sendMediaGroup": self.media.send_media_group,
            "editMessageCaption": self.media.edit_message_caption,
            "getMe": self._get_me,
            "getUpdates": self._get_updates,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._answer_callback_query,
            "setMyCommands": self._set_my_commands,
            "getChat": self._get_chat,
            "getChatMemberCount": self._get_chat_member_count,
        }

    # -- server ---------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base_url(self) -> str:
        """What prikbord's ``[telegram] api_base_url`` is set to (the SDK appends ``/bot<token>``)."""
        return self.base_url

    async def start(self) -> TelegramPeer:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._http)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.port = self._runner.addresses[0][1]
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        return self

    async def stop(self) -> None:
        self._closing = True
        self._wake()  # long polls return at once
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> TelegramPeer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def now(self) -> float:
        return self._clock() + self.time_offset

    def wall(self) -> int:
        return int(self._wall() + self.time_offset)

    def advance(self, seconds: float) -> None:
        self.time_offset += seconds

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def flood_storm(self, seconds: float, retry_after: float, open_for: float = 1.0) -> FloodStorm:
        """429 storms for ``seconds`` from now: blocked windows of ``retry_after`` s, ``open_for`` s apart."""
        now = self.now()
        self.storm = FloodStorm(now, now + seconds, retry_after, open_for)
        return self.storm

    def outage(self, down: bool) -> None:
        """Telegram unreachable: every request gets nginx's 502 page, updates wait; ``False`` ends it."""
        self.down = down
        self._wake()  # long polls under way end now (with nothing), as their connections would

    async def _http(self, request: web.Request) -> web.Response:
        if self.down:
            method = request.match_info["method"]
            self.requests_while_down[method] = self.requests_while_down.get(method, 0) + 1
            return web.Response(status=502, text="<html><body><h1>502 Bad Gateway</h1></body></html>")
        token = request.match_info["token"]
        if not _TOKEN.match(token):
            return web.json_response(ApiError(404, "Not Found").envelope(), status=404)
        if token != self.token:
            return web.json_response(ApiError(401, "Unauthorized").envelope(), status=401)
        try:
            raw = await self._read_params(request)
        except ApiError as exc:
            return web.json_response(exc.envelope(), status=exc.status)
        status, body = await self.call(request.match_info["method"], raw)
        return web.json_response(body, status=status)

    async def _read_params(self, request: web.Request) -> dict[str, Any]:
        raw: dict[str, Any] = dict(request.query)
        if not request.can_read_body:
            return raw
        if request.content_type == "application/json":
            try:
                data = await request.json()
            except ValueError:
                raise _bad("can't parse JSON object") from None
            if not isinstance(data, dict):
                raise _bad("the request body must be a JSON object")
            raw.update(data)
        elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            raw.update({k: v for k, v in form.items()})
        return raw

    async def call(self, method: str, raw: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
        """One Bot API call, validated: → (HTTP status, Telegram envelope)."""
        spec = self.contract.method(method)
        if spec is None:
            self.calls.append(PeerCall(method, dict(raw), 404, "Not Found", self.now()))
            return 404, ApiError(404, "Not Found").envelope()
        name = spec["name"]
        # A media group's file parts are named by its media (attach://NAME), not parameters of the method.
        attached = {n: raw[n] for n in self.media.attach_names(raw) if n in raw}
        raw = {k: v for k, v in raw.items() if k not in attached}
        params: dict[str, Any] = dict(raw)
        try:
            params, unknown = self.contract.params(spec, raw)
            self.media.attached, self.media.sent_keys = attached, frozenset(raw)
            self.unknown_params += [f"{name}.{path}" for path in unknown]
            handler = self._handlers.get(name)
            if handler is None:
                self.unimplemented.append(name)
                raise _bad(f"{name} is not implemented by the loopback peer")
            result = handler(params)
            if asyncio.iscoroutine(result):
                result = await result
        except ApiError as exc:
            self.calls.append(PeerCall(name, params, exc.status, exc.description, self.now()))
            return exc.status, exc.envelope()
        self.calls.append(PeerCall(name, params, 200, at=self.now()))
        return 200, {"ok": True, "result": result}

    # -- inspection -----------------------------------------------------------------------------

    def calls_to(self, method: str, ok: bool | None = None) -> list[PeerCall]:
        return [c for c in self.calls if c.method == method and (ok is None or (c.status == 200) == ok)]

    def message(self, chat_id: int, message_id: int) -> PeerMessage | None:
        return self._messages.get((chat_id, message_id))

    def visible_text(self, chat_id: int, message_id: int) -> str | None:
        msg = self._messages.get((chat_id, message_id))
        return None if msg is None or msg.deleted else msg.text

    def bot_messages(self, chat_id: int | None = None) -> list[PeerMessage]:
        return [
            m
            for m in self._messages.values()
            if m.from_id == self.bot.id
            and not m.deleted
            and "forum_topic_created" not in m.extra
            and (chat_id is None or m.chat_id == chat_id)
        ]

    def commands_for(self, scope: Mapping[str, Any] | None = None, language_code: str = "") -> list[dict[str, str]]:
        key = json.dumps(dict(scope or {"type": "default"}), sort_keys=True)
        return self.commands.get((key, language_code), [])

    # -- set-up ---------------------------------------------------------------------------------

    def add_user(self, user_id: int, first_name: str, *, username: str | None = None, started: bool = True) -> PeerUser:
        user = PeerUser(user_id, first_name, username, started)
        self.users[user_id] = user
        self.chats[user_id] = PeerChat(user_id, "private", first_name, username)
        return user

    def add_chat(self, chat_id: int, type: str = "supergroup", title: str = "Prikbord", **kw: Any) -> PeerChat:
        chat = PeerChat(chat_id, type, title, **kw)
        self.chats[chat_id] = chat
        return chat

    def add_topic(self, chat_id: int, name: str, by_user: int | None = None) -> int:
        """A topic opened in forum ``chat_id`` (made a forum if it was not) → its ``message_thread_id``,
        the id of its ``forum_topic_created`` service message, as Telegram numbers them."""
        chat = self.chats[chat_id]
        chat.is_forum = True
        creator = self.bot.id if by_user is None else by_user
        msg = self._new_message(chat, creator, "", extra={"forum_topic_created": {"name": name, "icon_color": 7322096}})
        msg.thread_id = msg.message_id
        chat.topics[msg.message_id] = name
        return msg.message_id

    def close_topic(self, chat_id: int, thread_id: int) -> None:
        """An admin closes a topic: only admins may post in it until it is reopened (Telegram answers other
        senders 400 ``TOPIC_CLOSED``)."""
        chat = self.chats[chat_id]
        assert thread_id in chat.topics, f"chat {chat_id} has no topic {thread_id}"
        chat.closed_topics.add(thread_id)

    def _thread(self, chat: PeerChat, params: Mapping[str, Any]) -> int | None:
        thread = params.get("message_thread_id")
        if thread is not None and (not chat.is_forum or thread not in chat.topics):
            raise _bad("message thread not found")
        if thread in chat.closed_topics and chat.bot_status != "administrator":
            raise _bad("TOPIC_CLOSED")
        return thread  # type: ignore[no-any-return]

    # -- Bot API methods ------------------------------------------------------------------------

    def _get_me(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            **self.bot.json(),
            "is_bot": True,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _deliverable(self, update: Mapping[str, Any]) -> bool:
        kind = next(k for k in update if k != "update_id")
        if self.allowed_updates is None:
            return kind not in _OPT_IN_UPDATES
        return kind in self.allowed_updates

    def _set_allowed(self, allowed: list[str] | None) -> None:
        if allowed is not None:  # an empty list restores the default
            self.allowed_updates = frozenset(allowed) if allowed else None

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        if self.webhook is not None:
            raise ApiError(
                409, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete it"
            )
        self._set_allowed(params.get("allowed_updates"))
        offset = params.get("offset")
        if offset is not None and offset < 0:
            keep = list(self._updates)[offset:]
            self._updates = deque(keep)
        elif offset:
            while self._updates and self._updates[0]["update_id"] < offset:
                self._updates.popleft()
        limit = min(max(int(params.get("limit", 100)), 1), 100)
        timeout = min(max(int(params.get("timeout", 0)), 0), 60)
        self._poll_generation += 1
        generation = self._poll_generation
        self._wake()  # an older long poll still waiting ends with Conflict, as on Telegram
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            # Telegram never generates updates the bot did not ask for; dropping them here is the same.
            self._updates = deque(u for u in self._updates if self._deliverable(u))
            if self.down:  # the outage began during this long poll: its connection breaks
                raise ApiError(502, "Bad Gateway")
            if self._updates or self._closing:
                return list(itertools.islice(self._updates, limit))
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                return []
            changed = self._changed
            try:
                await asyncio.wait_for(changed.wait(), remaining)
            except TimeoutError:
                return []
            if generation != self._poll_generation:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
                )

    def _set_webhook(self, params: dict[str, Any]) -> bool:
        url = params["url"]
        if url == "":
            self.webhook = None
            return True
        schemes = ("https://",) if self.require_https_webhook else ("https://", "http://")
        if not url.startswith(schemes):
            raise _bad("bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.get("secret_token")
        if secret is not None and not re.match(r"^[A-Za-z0-9_-]{1,256}$", secret):
            raise _bad("secret token contains unallowed characters")
        if params.get("drop_pending_updates"):
            self._updates.clear()
        self._set_allowed(params.get("allowed_updates"))
        self.webhook = Webhook(url, secret)
        self._wake()  # a waiting getUpdates ends with Conflict on its next turn
        return True

    def _delete_webhook(self, params: dict[str, Any]) -> bool:
        self.webhook = None
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    def _get_webhook_info(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": self.webhook.url if self.webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }

    def _chat(self, chat_id: int | str) -> PeerChat:
        if isinstance(chat_id, str):
            found = [c for c in self.chats.values() if c.username and f"@{c.username}" == chat_id]
            if not found:
                raise _bad("chat not found")
            return found[0]
        chat = self.chats.get(chat_id)
        if chat is None:
            raise _bad("chat not found")
        return chat

    def _writable_chat(self, chat_id: int | str) -> PeerChat:
        chat = self._chat(chat_id)
        if chat.migrated_to is not None:
            raise _bad("group chat was upgraded to a supergroup chat", {"migrate_to_chat_id": chat.migrated_to})
        if chat.type == "private":
            user = self.users[chat.id]
            if user.blocked:
                raise ApiError(403, "Forbidden: bot was blocked by the user")
            if not user.started:
                raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        elif chat.bot_status == "kicked":
            raise ApiError(403, f"Forbidden: bot was kicked from the {chat.type} chat")
        elif chat.bot_status == "left":
            raise ApiError(403, f"Forbidden: bot is not a member of the {chat.type} chat")
        return chat

    def _text(self, params: Mapping[str, Any]) -> tuple[str, str]:
        """→ (source, visible text) after parse_mode, checked like Telegram does."""
        source: str = params["text"]
        mode = params.get("parse_mode")
        if mode in (None, ""):
            visible = source
        elif mode == "HTML":
            visible = parse_html(source)
        elif mode in ("Markdown", "MarkdownV2"):
            visible = source  # prikbord never sends Markdown; accepted unparsed
        else:
            raise _bad("unsupported parse_mode")
        visible = visible.strip()
        if not visible:
            raise _bad("message text is empty")
        if utf16_length(visible) > TEXT_LIMIT:
            raise _bad("message is too long")
        return source, visible

    def _keyboard(self, params: Mapping[str, Any]) -> dict[str, Any] | None:
        markup = params.get("reply_markup")
        check_inline_keyboard(markup)
        return markup if isinstance(markup, dict) and "inline_keyboard" in markup else None

    @staticmethod
    def _force_reply(params: Mapping[str, Any], chat: PeerChat) -> bool:
        """Whether ``reply_markup`` is a ForceReply (contracts: ForceReply). It is not kept on the Message
        Telegram returns (Message.reply_markup is an inline keyboard only), so the peer notes it apart."""
        markup = params.get("reply_markup")
        if not isinstance(markup, dict) or "force_reply" not in markup:
            return False
        if markup["force_reply"] is not True:  # the Bot API's type is True: nothing else means anything
            raise _bad("can't parse reply keyboard markup JSON object")
        placeholder = markup.get("input_field_placeholder")
        if placeholder is not None and not 1 <= utf16_length(placeholder) <= 64:
            raise _bad("input field placeholder must be 1-64 characters long")  # wording: unverified
        if chat.type == "channel":  # "Not supported in channels" (contracts: ForceReply)
            raise _bad("force reply is not supported in channels")  # wording: unverified
        return True

    def _check_flood(self, method: str, chat_id: int, paid: bool = False) -> None:
        limits = self.flood
        if method not in limits.methods:
            return
        now = self.now()
        storm = self.storm.wait(now) if self.storm is not None else 0.0
        if storm > 0:
            retry = max(1, math.ceil(storm))
            raise ApiError(429, f"Too Many Requests: retry after {retry}", {"retry_after": retry})
        windows: list[tuple[deque[float], int, float]] = []
        overall = limits.paid_overall if paid else limits.overall
        if overall:
            windows.append((self._sent_paid if paid else self._sent_all, *overall))
        if limits.per_chat:
            windows.append((self._sent_chat.setdefault(chat_id, deque()), *limits.per_chat))
        if limits.per_group and chat_id < 0:
            windows.append((self._sent_group.setdefault(chat_id, deque()), *limits.per_group))
        wait = 0.0
        for sent, count, period in windows:
            while sent and sent[0] <= now - period:
                sent.popleft()
            if len(sent) >= count:
                wait = max(wait, sent[0] + period - now)
        if wait > 0:
            retry = max(1, math.ceil(wait))
            raise ApiError(429, f"Too Many Requests: retry after {retry}", {"retry_after": retry})
        for sent, _, _ in windows:
            sent.append(now)

    def _new_message(self, chat: PeerChat, from_id: int, text: str, **kw: Any) -> PeerMessage:
        message_id = self._next_message_id.get(chat.id, 1)
        self._next_message_id[chat.id] = message_id + 1
        msg = PeerMessage(chat.id, message_id, self.wall(), from_id, text, **kw)
        self._messages[(chat.id, message_id)] = msg
        return msg

    def message_json(self, msg: PeerMessage, with_reply: bool = True) -> dict[str, Any]:
        sender = self.bot.json() | {"is_bot": True} if msg.from_id == self.bot.id else self.users[msg.from_id].json()
        out: dict[str, Any] = {
            "message_id": msg.message_id,
            "from": sender,
            "chat": self.chats[msg.chat_id].json(),
            "date": msg.date,
        }
        if msg.media is not None:
            out.update(msg.media)
            if msg.text:
                out["caption"] = msg.text
        elif msg.text:
            out["text"] = msg.text
        if msg.thread_id is not None:
            out["message_thread_id"] = msg.thread_id
            out["is_topic_message"] = True
        if msg.edit_date is not None:
            out["edit_date"] = msg.edit_date
        if msg.reply_markup is not None:
            out["reply_markup"] = msg.reply_markup
        reply_to = msg.reply_to
        if reply_to is None and msg.thread_id not in (None, msg.message_id):
            reply_to = msg.thread_id  # as Telegram has it: in a topic, every message answers its creation
        if with_reply and reply_to is not None:
            replied = self._messages.get((msg.chat_id, reply_to))
            if replied is not None and not replied.deleted:
                out["reply_to_message"] = self.message_json(replied, with_reply=False)
        out.update(msg.extra)
        return out

    def _send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._writable_chat(params["chat_id"])
        thread = self._thread(chat, params)
        source, visible = self._text(params)
        markup = self._keyboard(params)
        reply_to = None
        if "reply_parameters" in params:
            reply = params["reply_parameters"]
            target = self._messages.get((chat.id, reply["message_id"]))
            if target is None or target.deleted:
                if not reply.get("allow_sending_without_reply"):
                    raise _bad("message to be replied not found")
            else:
                reply_to = target.message_id
        paid = params.get("allow_paid_broadcast") is True
        force = self._force_reply(params, chat)  # refused before anything is sent
        self._check_flood("sendMessage", chat.id, paid)
        msg = self._new_message(
            chat, self.bot.id, visible, source=source, parse_mode=params.get("parse_mode"), reply_markup=markup
        )
        msg.paid_broadcast = paid
        msg.reply_to = reply_to
        msg.thread_id = thread
        msg.force_reply = force
        return self.message_json(msg)

    def _editable(self, params: Mapping[str, Any], action: str) -> PeerMessage:
        if "inline_message_id" in params:
            raise _bad("inline messages are not supported by the loopback peer")
        if "chat_id" not in params:
            raise _bad("chat_id is empty")
        if "message_id" not in params:
            raise _bad("message identifier is not specified")
        chat = self._writable_chat(params["chat_id"])
        msg = self._messages.get((chat.id, params["message_id"]))
        if msg is None or msg.deleted:
            raise _bad(f"message to {action} not found")
        if msg.from_id != self.bot.id:
            raise _bad(f"message can't be {action}ed")
        return msg

    def _not_modified(self) -> ApiError:
        return _bad(
            "message is not modified: specified new message content and reply markup are exactly the same "
            "as a current content and reply markup of the message"
        )

    def _edit_message_text(self, params: dict[str, Any]) -> dict[str, Any]:
        from tests.peers.telegram_media import refuse_text_edit_of_media

        msg = self._editable(params, "edit")
        refuse_text_edit_of_media(msg)
        return self.edited(msg, params, *self._text(params))

    def edited(self, msg: PeerMessage, params: dict[str, Any], source: str, visible: str) -> dict[str, Any]:
        """``msg`` showing ``visible`` (written as ``source``) and the request's keyboard: the bookkeeping of
        editMessageText and editMessageCaption. Refused when nothing changes, as Telegram does."""
        markup = self._keyboard(params)
        if (source, params.get("parse_mode"), markup) == (msg.source, msg.parse_mode, msg.reply_markup):
            raise self._not_modified()
        msg.edits.append({"text": msg.text, "reply_markup": msg.reply_markup})
        msg.text, msg.source, msg.parse_mode, msg.reply_markup = visible, source, params.get("parse_mode"), markup
        msg.edit_date = self.wall()
        return self.message_json(msg)

    def _edit_message_reply_markup(self, params: dict[str, Any]) -> dict[str, Any]:
        msg = self._editable(params, "edit")
        markup = self._keyboard(params)
        if markup == msg.reply_markup:
            raise self._not_modified()
        msg.edits.append({"text": msg.text, "reply_markup": msg.reply_markup})
        msg.reply_markup = markup
        msg.edit_date = self.wall()
        return self.message_json(msg)

    def _delete_message(self, params: dict[str, Any]) -> bool:
        chat = self._chat(params["chat_id"])
        msg = self._messages.get((chat.id, params["message_id"]))
        if msg is None or msg.deleted:
            raise _bad("message to delete not found")
        if self.wall() - msg.date >= DELETE_WINDOW:
            raise _bad("message can't be deleted")
        if msg.from_id != self.bot.id and chat.type != "private" and chat.bot_status != "administrator":
            raise _bad("message can't be deleted")
        msg.deleted = True
        return True

    def _answer_callback_query(self, params: dict[str, Any]) -> bool:
        query = self.callback_queries.get(params["callback_query_id"])
        if query is None or query.answer is not None:
            raise _bad("query is too old and response timeout expired or query ID is invalid")
        if len(params.get("text", "")) > 200:
            raise _bad("MESSAGE_TOO_LONG")
        query.answer = {k: v for k, v in params.items() if k != "callback_query_id"}
        return True

    def _set_my_commands(self, params: dict[str, Any]) -> bool:
        commands = params["commands"]
        if len(commands) > 100:
            raise _bad("too many commands")
        for command in commands:
            if not re.match(r"^[a-z0-9_]{1,32}$", command["command"]):
                raise _bad("BOT_COMMAND_INVALID")
            if not 1 <= len(command["description"]) <= 256:
                raise _bad("command description must be 1-256 characters")
        scope = params.get("scope") or {"type": "default"}
        if "chat_id" in scope:
            chat = self._chat(scope["chat_id"])
            if chat.type == "private" and not self.users[chat.id].started:
                raise _bad("chat not found")
        language = params.get("language_code", "")
        if language and not re.match(r"^[a-z]{2}$", language):
            raise _bad("invalid language code specified")
        self.commands[(json.dumps(scope, sort_keys=True), language)] = commands
        return True

    def _get_chat(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat(params["chat_id"])
        gifts = ("unlimited_gifts", "limited_gifts", "unique_gifts", "premium_subscription", "gifts_from_channels")
        return chat.json() | {
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": dict.fromkeys(gifts, False),
        }

    def _get_chat_member_count(self, params: dict[str, Any]) -> int:
        chat = self._chat(params["chat_id"])
        if chat.type == "private":
            return 2  # the person and the bot
        self._writable_chat(chat.id)  # left, kicked or upgraded: refused as Telegram refuses it
        return chat.member_count()

    # -- acting as Telegram users ---------------------------------------------------------------

    def _user(self, user_id: int) -> PeerUser:
        if user_id not in self.users:
            raise AssertionError(f"unknown user {user_id}: add_user() first")
        return self.users[user_id]

    async def deliver(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue an update (with its update_id set here) for getUpdates, or POST it to the webhook."""
        update = {"update_id": next(self._update_ids), **update}
        unknown: list[str] = []
        self.contract.check(json.loads(json.dumps(update)), "Update", "update", unknown)
        assert not unknown, f"the peer built fields the Bot API does not have: {unknown}"
        self._updates.append(update)
        self._wake()
        if self.webhook is not None:
            await self.flush_webhook()
        return update

    def deliver_raw(self, update: Mapping[str, Any]) -> dict[str, Any]:
        """Queue a crafted update for getUpdates exactly as given, without the contract check: what
        Telegram never sends (a message without ``date``, a ``from`` that is a string), for the tests of
        how prikbord copes (tests/faults). The peer sets ``update_id`` (it orders the queue); the update's
        first other key must name an update type, so ``allowed_updates`` can filter it as Telegram would."""
        crafted = {**update, "update_id": next(self._update_ids)}
        assert any(key != "update_id" for key in crafted), "a crafted update needs more than an update_id"
        self._updates.append(crafted)
        self._wake()
        return crafted

    def pending_updates(self) -> int:
        """Updates not yet confirmed by a getUpdates offset past them."""
        return len(self._updates)

    async def user_sends(
        self, user_id: int, chat_id: int, text: str, *, reply_to: int | None = None, thread_id: int | None = None
    ) -> dict[str, Any]:
        """A person posts ``text`` in a chat (``/cmd@bot args`` included), optionally replying to a message,
        optionally in a topic of a forum (``thread_id``, from :meth:`add_topic`)."""
        user = self._user(user_id)
        chat = self._chat(chat_id)
        assert thread_id is None or thread_id in chat.topics, f"chat {chat_id} has no topic {thread_id}"
        if reply_to is not None and thread_id is None:  # a reply is in the topic of what it answers
            replied = self._messages.get((chat.id, reply_to))
            thread_id = replied.thread_id if replied is not None else None
        msg = self._new_message(chat, user.id, text, source=text, reply_to=reply_to)
        msg.thread_id = thread_id
        command = re.match(r"^/[A-Za-z0-9_]+(@[A-Za-z0-9_]+)?", text)
        if command:
            msg.extra["entities"] = [{"type": "bot_command", "offset": 0, "length": utf16_length(command.group(0))}]
        return await self.deliver({"message": self.message_json(msg)})

    async def user_presses(self, user_id: int, chat_id: int, message_id: int, callback_data: str) -> str:
        """A person presses the button with ``callback_data`` under a bot message → the callback query id."""
        user = self._user(user_id)
        msg = self._messages.get((chat_id, message_id))
        assert msg is not None and not msg.deleted, f"no message {message_id} in chat {chat_id}"
        buttons = [b for row in (msg.reply_markup or {}).get("inline_keyboard", []) for b in row]
        assert any(b.get("callback_data") == callback_data for b in buttons), (
            f"message {message_id} has no button with callback_data {callback_data!r}: {buttons}"
        )
        query = CallbackQuery(str(next(self._query_ids)), user.id, chat_id, message_id, callback_data)
        self.callback_queries[query.id] = query
        payload = {
            "id": query.id,
            "from": user.json(),
            "message": self.message_json(msg, with_reply=False),
            "chat_instance": str(abs(chat_id) * 7919 % 10**12),
            "data": callback_data,
        }
        await self.deliver({"callback_query": payload})
        return query.id

    async def user_reacts(self, user_id: int, chat_id: int, message_id: int, emojis: Sequence[str]) -> dict[str, Any]:
        """A person's reactions on a message become ``emojis`` (old_reaction is what they had)."""
        user = self._user(user_id)
        key = (chat_id, message_id, user_id)
        old = self._reactions.get(key, [])
        self._reactions[key] = list(emojis)
        return await self.deliver(
            {
                "message_reaction": {
                    "chat": self._chat(chat_id).json(),
                    "message_id": message_id,
                    "user": user.json(),
                    "date": self.wall(),
                    "old_reaction": [{"type": "emoji", "emoji": e} for e in old],
                    "new_reaction": [{"type": "emoji", "emoji": e} for e in emojis],
                }
            }
        )

    async def react(self, user_id: int, chat_id: int, message_id: int, emoji: str, added: bool = True) -> None:
        current = self._reactions.get((chat_id, message_id, user_id), [])
        new = [*current, emoji] if added and emoji not in current else [e for e in current if added or e != emoji]
        await self.user_reacts(user_id, chat_id, message_id, new)

    def _chat_member_json(self, user: dict[str, Any], state: str) -> dict[str, Any]:
        """A ChatMember of ``state`` (member, administrator, left, kicked) for ``user``."""
        out: dict[str, Any] = {"status": state, "user": user}
        if state == "kicked":
            out["until_date"] = 0
        if state == "administrator":  # every right the contract requires, only deleting granted
            fields = self.contract.types["ChatMemberAdministrator"]["fields"]
            rights = [f["name"] for f in fields if f["required"] and f["types"] == ["Boolean"]]
            out |= dict.fromkeys(rights, False) | {"can_delete_messages": True}
        return out

    async def bot_membership(self, chat_id: int, status: str, by_user: int) -> dict[str, Any]:
        """Someone adds (``member``/``administrator``) or removes (``left``/``kicked``) the bot."""
        chat = self._chat(chat_id)
        user = self._user(by_user)
        old, chat.bot_status = chat.bot_status, status
        bot = self.bot.json() | {"is_bot": True}
        return await self.deliver(
            {
                "my_chat_member": {
                    "chat": chat.json(),
                    "from": user.json(),
                    "date": self.wall(),
                    "old_chat_member": self._chat_member_json(bot, old),
                    "new_chat_member": self._chat_member_json(bot, status),
                }
            }
        )

    async def chat_member(
        self, chat_id: int, user_id: int, status: str, *, by_user: int | None = None
    ) -> dict[str, Any] | None:
        """A person joins (``member``) or leaves (``left``; ``kicked`` when ``by_user`` bans them) a group.
        The chat's members change either way; the ``chat_member`` update is sent only while the bot is an
        admin of the chat, as Telegram does (and only delivered when asked for in allowed_updates).
        Returns the update, or None when none was sent."""
        chat = self._chat(chat_id)
        user = self._user(user_id)
        old = "member" if user.id in chat.members else "left"
        (chat.members.add if status in _IN_CHAT else chat.members.discard)(user.id)
        if chat.bot_status not in _ADMIN or old == status:
            return None
        performer = self._user(by_user) if by_user is not None else user
        return await self.deliver(
            {
                "chat_member": {
                    "chat": chat.json(),
                    "from": performer.json(),
                    "date": self.wall(),
                    "old_chat_member": self._chat_member_json(user.json(), old),
                    "new_chat_member": self._chat_member_json(user.json(), status),
                }
            }
        )

    async def migrate_chat(self, chat_id: int, new_chat_id: int, by_user: int) -> dict[str, Any]:
        """A group becomes a supergroup: the old chat gets a ``migrate_to_chat_id`` service message."""
        chat = self._chat(chat_id)
        user = self._user(by_user)
        self.add_chat(new_chat_id, "supergroup", chat.title or "", bot_status=chat.bot_status)
        chat.migrated_to = new_chat_id
        msg = self._new_message(chat, user.id, "")
        msg.extra["migrate_to_chat_id"] = new_chat_id
        return await self.deliver({"message": self.message_json(msg)})

    # -- webhook --------------------------------------------------------------------------------

    async def post_webhook(self, body: bytes, secret: str | None) -> tuple[int, bytes]:
        """POST raw bytes to the registered webhook, as Telegram would (tests use it for bad requests)."""
        assert self.webhook is not None and self._session is not None, "setWebhook first"
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers[SECRET_HEADER] = secret
        async with self._session.post(self.webhook.url, data=body, headers=headers) as response:
            return response.status, await response.read()

    async def flush_webhook(self) -> None:
        """Deliver queued updates one by one; a reply carrying a method is executed like Telegram does."""
        if self.webhook_connections > 1:
            await self._flush_side_by_side()
            return
        async with self._webhook_lock:
            while self._updates and self.webhook is not None and not self.down:
                update = self._updates.popleft()
                if not self._deliverable(update):
                    continue
                status, body = await self.post_webhook(json.dumps(update).encode(), self.webhook.secret)
                self.webhook_deliveries.append((update, status, body))
                if 200 <= status < 300 and body.strip():
                    reply = json.loads(body)
                    if isinstance(reply, dict) and "method" in reply:
                        params = {k: v for k, v in reply.items() if k != "method"}
                        await self.call(reply["method"], params)

    async def _flush_side_by_side(self) -> None:
        """Deliver what is queued with up to ``webhook_connections`` requests in flight; one chat's updates
        wait for the one before (in the order queued). An update whose turn comes during an outage or
        without a webhook goes back to the queue."""
        if self.webhook is None or self.down:
            return
        taken = [u for u in self._updates if self._deliverable(u)]
        self._updates.clear()
        loop = asyncio.get_running_loop()
        sends: list[asyncio.Task[None]] = []
        for update in taken:
            chat = update_chat_id(update)
            before = self._webhook_tails.get(chat)
            done: asyncio.Future[None] = loop.create_future()
            self._webhook_tails[chat] = done
            sends.append(asyncio.create_task(self._deliver_in_turn(update, chat, before, done)))
        await asyncio.gather(*sends)

    async def _deliver_in_turn(
        self, update: dict[str, Any], chat: int | None, before: asyncio.Future[None] | None, done: asyncio.Future[None]
    ) -> None:
        try:
            if before is not None:
                await asyncio.shield(before)
            async with self._webhook_slots:
                if self.webhook is None or self.down:
                    self._updates.append(update)
                    return
                status, body = await self.post_webhook(json.dumps(update).encode(), self.webhook.secret)
                self.webhook_deliveries.append((update, status, body))
                if 200 <= status < 300 and body.strip():
                    reply = json.loads(body)
                    if isinstance(reply, dict) and "method" in reply:
                        await self.call(reply["method"], {k: v for k, v in reply.items() if k != "method"})
        finally:
            done.set_result(None)
            if self._webhook_tails.get(chat) is done:
                del self._webhook_tails[chat]


def update_chat_id(update: Mapping[str, Any]) -> int | None:
    """The chat an update belongs to (its message's, its reaction's, its membership change's), if any."""
    for key, value in update.items():
        if key == "update_id" or not isinstance(value, Mapping):
            continue
        holder = value.get("message") if isinstance(value.get("message"), Mapping) else value
        chat = holder.get("chat")
        if isinstance(chat, Mapping) and isinstance(chat.get("id"), int):
            return int(chat["id"])
    return None
