"""A Slack Web API server on loopback, checked against Slack's published contract, plus the driver
that produces what Slack would POST into prikbord (signed exactly as Slack signs).

Every call is checked against ``tests/contracts/slack-web-api.json`` (Swagger 2.0): an unknown
method gets ``unknown_method``; a missing token ``not_authed``, a wrong one ``invalid_auth``; a
missing required argument the error Slack gives for it (``channel_not_found``, ``message_not_found``,
``no_text`` … else ``invalid_arguments``); a JSON body for a method that takes none
``invalid_post_type``. Every success answer is validated against the method's response schema (with
the few relaxations noted in ``_relax``); a mismatch is recorded in ``violations`` and fails the
test when the peer stops. Block Kit limits (50 blocks, 3000-character sections, 25 buttons …) are
enforced with ``invalid_blocks``. chat.postMessage is rate limited per channel (1/s) and
workspace-wide (20/s) with HTTP 429, ``Retry-After`` and ``ratelimited``; both are configurable, and so
are the per-method rates of Slack's tiers (``tier_rates``: users.lookupByEmail and conversations.open are
tier 3, 50/min; conversations.members tier 4, 100/min). Listings page as Slack's do (``limit``, ``cursor``).
Scopes come from the contract's ``security``: a method all of whose scopes the app lacks
(``missing_scopes``) answers ``missing_scope`` with ``needed``, as Slack does. People have an email
(``add_user(name, email=…)``) that users.lookupByEmail finds and that users.info shows only with
``users:read.email``; a deactivated one (``deactivate``) is answered with ``deleted: true``.
Socket Mode is modelled too: ``apps.connections.open`` (newer than the spec; it wants the xapp-
token) and a WebSocket that delivers envelopes and waits for the app's ack (``over_socket``).

Use::

    async with SlackPeer(per_channel_rate=None, workspace_rate=None) as peer:
        channel = peer.add_channel("general")
        adapter = SlackAdapter(bot_token=peer.bot_token, signing_secret=peer.signing_secret,
                               api_base_url=peer.api_base_url)
        ...
        reply = await adapter.handle_http(*peer.press("anna", channel, ts, "ack"))
"""

from __future__ import annotations

import asyncio
import base64
import copy
import functools
import hashlib
import hmac
import itertools
import json
import math
import os
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, urlencode

import jsonschema
import pytest
from aiohttp import WSMsgType, web

from tests.peers.slack_views import SlackViews, ViewRefused

JsonDict = dict[str, Any]

REPO_ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = REPO_ROOT / "tests" / "contracts"


def contracts_dir() -> Path:
    """``tests/contracts``, kept in the repository; a missing file there is a failure, never a skip."""
    for name in ("slack-web-api.json", "slack-event-wrapper.json"):
        if not (CONTRACTS / name).is_file():
            pytest.fail(
                f"Slack contract {name} not found in {CONTRACTS}: it belongs in tests/contracts/ (see its README.md)",
                pytrace=False,
            )
    return CONTRACTS


# ---------------------------------------------------------------------------------------------
# The contract


@dataclass(frozen=True)
class Param:
    name: str
    type: str
    required: bool


@dataclass(frozen=True)
class MethodSpec:
    name: str
    params: dict[str, Param]
    accepts_json: bool
    errors: frozenset[str]
    success: JsonDict | None
    scopes: frozenset[str] = frozenset()  # any one of them will do ("none": no scope needed)


@dataclass(frozen=True)
class WebApiSpec:
    methods: dict[str, MethodSpec]
    definitions: JsonDict

    def validator(self, method: str) -> jsonschema.Draft4Validator | None:
        return _validator(self, method)


@functools.cache
def web_api_spec() -> WebApiSpec:
    raw = json.loads((contracts_dir() / "slack-web-api.json").read_text())
    methods: dict[str, MethodSpec] = {}
    for path, verbs in raw["paths"].items():
        for op in verbs.values():
            params = {
                p["name"]: Param(p["name"], p.get("type", "string"), bool(p.get("required")))
                for p in op.get("parameters", [])
            }
            default = op.get("responses", {}).get("default", {}).get("schema", {})
            errors = frozenset(default.get("properties", {}).get("error", {}).get("enum") or ())
            success = op.get("responses", {}).get("200", {}).get("schema")
            scopes = frozenset(s for need in op.get("security", []) for s in need.get("slackAuth", ()))
            methods[path.lstrip("/")] = MethodSpec(
                path.lstrip("/"), params, "application/json" in op.get("consumes", []), errors, success, scopes
            )
    return WebApiSpec(methods, _relax(raw["definitions"]))


def _relax(definitions: JsonDict) -> JsonDict:
    """The 2020 schemas, patched only where today's Slack (and so prikbord) legitimately differs."""
    defs = copy.deepcopy(definitions)
    # Message metadata (2022) is newer than the spec; Slack returns it with include_all_metadata.
    defs["objs_message"]["properties"]["metadata"] = {"type": "object"}
    # A user is one of two kinds, which the spec lists as the `items` of an object (so nothing is checked).
    defs["objs_user"] = {"anyOf": defs["objs_user"]["items"]}

    def drop_min_items(node: Any) -> None:
        # Empty histories and member lists are real answers; the spec's minItems: 1 forbids them.
        if isinstance(node, dict):
            if node.get("minItems") == 1:
                del node["minItems"]
            for value in node.values():
                drop_min_items(value)
        elif isinstance(node, list):
            for value in node:
                drop_min_items(value)

    drop_min_items(defs)
    return defs


_VALIDATORS: dict[str, jsonschema.Draft4Validator | None] = {}


def _validator(spec: WebApiSpec, method: str) -> jsonschema.Draft4Validator | None:
    if method not in _VALIDATORS:
        schema = spec.methods[method].success
        if schema is None:
            _VALIDATORS[method] = None
        else:
            schema = copy.deepcopy(schema)
            if method == "chat.update":
                # The spec types message.blocks as an object; Slack returns the blocks array.
                schema["properties"]["message"]["properties"]["blocks"] = {"$ref": "#/definitions/blocks"}
                schema["properties"]["message"]["additionalProperties"] = True
            if method == "conversations.history":
                # A channel without messages (yet) answers "messages": [], which the spec's minItems forbids.
                schema["properties"]["messages"].pop("minItems", None)
            schema["definitions"] = spec.definitions
            _VALIDATORS[method] = jsonschema.Draft4Validator(schema)
    return _VALIDATORS[method]


@functools.cache
def event_wrapper_schema() -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(json.loads((contracts_dir() / "slack-event-wrapper.json").read_text()))


# ---------------------------------------------------------------------------------------------
# Rate limits


@dataclass(frozen=True)
class Window:
    """At most ``count`` calls in any ``period`` seconds."""

    count: int
    period: float = 1.0


class _SlidingLog:
    def __init__(self, window: Window) -> None:
        self.window = window
        self.times: deque[float] = deque()

    def wait(self, now: float) -> float:
        """Seconds until one more call is allowed (0 when it is)."""
        while self.times and self.times[0] <= now - self.window.period:
            self.times.popleft()
        if len(self.times) < self.window.count:
            return 0.0
        return self.times[0] + self.window.period - now


# ---------------------------------------------------------------------------------------------
# State


@dataclass
class User:
    id: str
    name: str
    is_bot: bool = False
    email: str | None = None
    deleted: bool = False
    locale: str = "en-US"  # the person's Slack language; users.info tells it only with include_locale=true


@dataclass
class Message:
    ts: str
    user: str
    text: str
    blocks: list[JsonDict] | None = None
    metadata: JsonDict | None = None
    thread_ts: str | None = None
    bot_id: str | None = None
    parent_user_id: str | None = None


@dataclass
class Ephemeral:
    user: str
    text: str
    blocks: list[JsonDict] | None = None
    via: str = "chat.postEphemeral"


@dataclass
class Channel:
    id: str
    name: str
    members: set[str]
    archived: bool = False
    private: bool = False
    im_user: str | None = None
    messages: dict[str, Message] = field(default_factory=dict)
    ephemerals: list[Ephemeral] = field(default_factory=list)


@dataclass
class Call:
    method: str
    args: JsonDict
    status: int
    error: str | None


class SignedRequest(NamedTuple):
    """What Slack POSTs into prikbord: ``await adapter.handle_http(*request)``."""

    headers: dict[str, str]
    body: bytes


class SlackError(Exception):
    def __init__(self, error: str, status: int = 200, headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.headers = headers or {}
        self.extra = extra


def _member_cursor(user_id: str) -> str:
    """conversations.members' next_cursor: where the next page starts, base64 as Slack writes it."""
    return base64.b64encode(json.dumps({"user_id": user_id}).encode()).decode()


def _member_cursor_user(cursor: str) -> str:
    """The user id a conversations.members cursor starts at; ``invalid_cursor`` for anything else."""
    try:
        decoded = json.loads(base64.b64decode(cursor, validate=True))
    except (ValueError, UnicodeDecodeError):
        raise SlackError("invalid_cursor") from None
    user_id = decoded.get("user_id") if isinstance(decoded, dict) else None
    if not isinstance(user_id, str) or not user_id:
        raise SlackError("invalid_cursor")
    return user_id


def _bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "1", "false", "0", ""):
        return value.lower() in ("true", "1")
    if isinstance(value, int):
        return bool(value)
    return None


# Missing required arguments: the error Slack gives, in order of preference, when the method lists it.
_MISSING = {
    "channel": ("channel_not_found",),
    "ts": ("message_not_found",),
    "user": ("user_not_found", "user_not_in_channel"),
    "text": ("no_text",),
}
# Arguments newer than the 2020 spec that prikbord sends and Slack accepts.
_NEWER_ARGS = {"metadata", "include_all_metadata"}
_JSON_ARGS = {"blocks", "attachments", "metadata", "view"}

_BLOCK_TYPES = {"section", "header", "context", "actions", "divider", "image", "rich_text"}

TIER_3 = Window(50, 60.0)  # Slack's tier 3: 50+ calls a minute per workspace and app
TIER_4 = Window(100, 60.0)  # Slack's tier 4: 100+ calls a minute
DEFAULT_TIER_RATES = {"users.lookupByEmail": TIER_3, "conversations.open": TIER_3, "conversations.members": TIER_4}


class SlackPeer(SlackViews):
    """The Web API and its workspace state. An async context manager that serves on 127.0.0.1:0."""

    team_id = "T0PRIKBORD"
    team_name = "prikbord test"
    bot_user_id = "U0PRIKBOT1"
    bot_id = "B0PRIKBOT1"
    app_id = "A0PRIKBORD"

    def __init__(
        self,
        *,
        bot_token: str = "xoxb-1-peer-test-token",
        app_token: str = "xapp-1-A0PRIKBORD-peer-test-token",
        signing_secret: str = "8f742231b10e8888abcd99yyyzzz85a5",
        per_channel_rate: Window | None = Window(1, 1.0),
        workspace_rate: Window | None = Window(20, 1.0),
        clock: Callable[[], float] = time.monotonic,
        validate_responses: bool = True,
        tier_rates: Mapping[str, Window] | None = None,
        missing_scopes: frozenset[str] = frozenset(),
    ) -> None:
        self.spec = web_api_spec()
        self.bot_token = bot_token
        self.app_token = app_token
        self.signing_secret = signing_secret
        self.per_channel_rate = per_channel_rate
        self.workspace_rate = workspace_rate
        self.clock = clock
        self.validate_responses = validate_responses
        self.missing_scopes = missing_scopes
        self._tier_logs = {
            method: _SlidingLog(window)
            for method, window in (DEFAULT_TIER_RATES if tier_rates is None else tier_rates).items()
        }
        self.users: dict[str, User] = {self.bot_user_id: User(self.bot_user_id, "prikbord", is_bot=True)}
        self.channels: dict[str, Channel] = {}
        self.home_views: dict[str, JsonDict] = {}
        self.calls: list[Call] = []
        self.violations: list[str] = []
        self.rate_limited = 0
        self._failures: dict[str, deque[SlackError]] = {}
        self._channel_logs: dict[str, _SlidingLog] = {}
        self._workspace_log = _SlidingLog(workspace_rate) if workspace_rate else None
        self._ids = itertools.count(1)
        self._last_ts = 0.0
        self._response_urls: dict[str, tuple[str, str, int]] = {}  # token → (channel, user, uses)
        self._runner: web.AppRunner | None = None
        self._sockets: list[web.WebSocketResponse] = []
        self._socket_acks: dict[str, asyncio.Future[JsonDict]] = {}
        self.base_url = ""
        self._views_init()  # modals: tests/peers/slack_views.py

    # -- lifecycle ------------------------------------------------------------------------------

    async def __aenter__(self) -> SlackPeer:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._handle)
        app.router.add_post("/respond/{token}", self._respond)
        app.router.add_get("/link/", self._socket_mode)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        for ws in list(self._sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()
        self.violations.extend(self.view_violations)
        if self.violations and exc[0] is None:
            raise AssertionError("Slack peer answered outside the contract:\n" + "\n".join(self.violations))

    @property
    def api_base_url(self) -> str:
        return self.base_url + "/api/"

    # -- workspace set-up -------------------------------------------------------------------------

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):09d}"

    def add_user(self, name: str, *, email: str | None = None, locale: str | None = None) -> str:
        """A person in the workspace (idempotent per name; ``email`` sets their email, ``locale`` their Slack
        language, e.g. "nl-NL"); returns the user id."""
        for user in self.users.values():
            if user.name == name:
                user.email = email or user.email
                user.locale = locale or user.locale
                return user.id
        user_id = self._new_id("U")
        self.users[user_id] = User(user_id, name, email=email, locale=locale or "en-US")
        return user_id

    def deactivate(self, user_id: str) -> None:
        """The person's account is deactivated: it stays, answered with ``deleted: true``."""
        self.users[user_id].deleted = True

    def add_channel(
        self,
        name: str,
        *,
        bot_member: bool = True,
        archived: bool = False,
        private: bool = False,
        members: tuple[str, ...] = (),
    ) -> str:
        channel_id = self._new_id("G" if private else "C")
        people = {self.add_user(m) for m in members} or {self.add_user("owner")}
        if bot_member:
            people.add(self.bot_user_id)
        self.channels[channel_id] = Channel(channel_id, name, people, archived=archived, private=private)
        return channel_id

    def join(self, channel: str, user_id: str) -> None:
        self.channels[channel].members.add(user_id)

    def leave(self, channel: str, user_id: str) -> None:
        self.channels[channel].members.discard(user_id)

    def fail_next(
        self, method: str, error: str, *, status: int = 200, retry_after: int | None = None, times: int = 1
    ) -> None:
        """The next ``times`` calls of ``method`` fail with ``error`` (e.g. 503 service_unavailable)."""
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        queue = self._failures.setdefault(method, deque())
        queue.extend(SlackError(error, status, headers) for _ in range(times))

    def messages(self, channel: str) -> list[Message]:
        return list(self.channels[channel].messages.values())

    def message(self, channel: str, ts: str) -> Message | None:
        return self.channels[channel].messages.get(ts)

    def visible_text(self, channel: str, ts: str) -> str | None:
        """What a person sees of a message: header, sections, context and button labels."""
        message = self.message(channel, ts)
        if message is None:
            return None
        if not message.blocks:
            return _unescape(message.text)
        lines: list[str] = []
        for block in message.blocks:
            if block["type"] in ("header", "section") and "text" in block:
                lines.append(block["text"]["text"])
            elif block["type"] == "context":
                lines.extend(e.get("text", "") for e in block["elements"])
            elif block["type"] == "actions":
                lines.append("  ".join(e["text"]["text"] for e in block["elements"]))
        return _unescape("\n".join(lines))

    def calls_of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    # -- the Web API --------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args: JsonDict = {}
        try:
            if method == "apps.connections.open":
                result = self._apps_connections_open(request)
                self.calls.append(Call(method, {}, 200, None))
                return web.json_response(result)
            spec = self.spec.methods.get(method)
            if spec is None:
                raise SlackError("unknown_method", req_method=method)
            args = await self._read_args(request, spec)
            self._authenticate(request, args)
            failures = self._failures.get(method)
            if failures:
                raise failures.popleft()
            self._check_scopes(spec)
            self._check_args(spec, args)
            if method in self._tier_logs:
                self._refuse_over([self._tier_logs[method]])
            handler = getattr(self, "_m_" + method.replace(".", "_"), None)
            if handler is None:
                self.violations.append(f"prikbord called {method}, which the peer does not model")
                raise SlackError("not_implemented_in_peer")
            result: JsonDict = {"ok": True, **handler(args)}
        except SlackError as exc:
            self.calls.append(Call(method, args, exc.status, exc.error))
            body = {"ok": False, "error": exc.error, **exc.extra}
            return web.json_response(body, status=exc.status, headers=exc.headers)
        self.calls.append(Call(method, args, 200, None))
        self._validate_success(method, result)
        return web.json_response(result)

    async def _read_args(self, request: web.Request, spec: MethodSpec) -> JsonDict:
        args: JsonDict = dict(request.query)
        raw = await request.read()
        ctype = request.content_type
        if raw:
            if ctype == "application/json":
                if not spec.accepts_json:
                    raise SlackError("invalid_post_type")
                try:
                    body = json.loads(raw)
                except ValueError:
                    raise SlackError("invalid_json") from None
                if not isinstance(body, dict):
                    raise SlackError("json_not_object")
                args.update(body)
            elif ctype == "application/x-www-form-urlencoded":
                try:
                    args.update(parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=True))
                except (UnicodeDecodeError, ValueError):
                    raise SlackError("invalid_form_data") from None
            elif ctype == "multipart/form-data":
                form = await request.post()
                args.update({k: v for k, v in form.items() if isinstance(v, str)})
            else:
                raise SlackError("invalid_post_type")
        return args

    def _authenticate(self, request: web.Request, args: JsonDict) -> None:
        header = request.headers.get("Authorization", "")
        token = header[len("Bearer ") :] if header.startswith("Bearer ") else args.pop("token", None)
        args.pop("token", None)
        if not token:
            raise SlackError("not_authed")
        if not hmac.compare_digest(str(token), self.bot_token):
            raise SlackError("invalid_auth")

    def _check_scopes(self, spec: MethodSpec) -> None:
        """``missing_scope`` when the app lacks every scope the contract names for the method."""
        needed = spec.scopes - {"none"}
        if needed and needed <= self.missing_scopes:
            raise SlackError("missing_scope", needed=",".join(sorted(needed)), provided=self._provided_scopes())

    def _provided_scopes(self) -> str:
        every = {s for m in self.spec.methods.values() for s in m.scopes} - {"none"}
        return ",".join(sorted(every - self.missing_scopes))

    def _check_args(self, spec: MethodSpec, args: JsonDict) -> None:
        problems: list[str] = []
        for name, value in list(args.items()):
            param = spec.params.get(name)
            if param is None:
                continue  # Slack ignores arguments it does not know
            if name in _JSON_ARGS:
                args[name] = self._json_arg(name, value)
            elif param.type == "boolean":
                parsed = _bool(value)
                if parsed is None:
                    problems.append(f"[ERROR] {name} must be a boolean")
                args[name] = parsed
            elif param.type in ("integer", "number"):
                try:
                    float(value) if param.type == "number" else int(value)
                except (TypeError, ValueError):
                    problems.append(f"[ERROR] {name} must be a {param.type}")
                args[name] = str(value)  # ts stays the identifier it is
            elif isinstance(value, dict | list):
                problems.append(f"[ERROR] {name} must be a string")
            else:
                args[name] = str(value)
        for name in _NEWER_ARGS & set(args):
            if name in _JSON_ARGS:
                args[name] = self._json_arg(name, args[name])
        if problems:
            raise SlackError("invalid_arguments", response_metadata={"messages": problems})
        for param in spec.params.values():
            if param.required and param.name != "token" and args.get(param.name) in (None, ""):
                for error in _MISSING.get(param.name, ()):
                    if error in spec.errors:
                        raise SlackError(error)
                raise SlackError(
                    "invalid_arguments",
                    response_metadata={"messages": [f"[ERROR] missing required field: {param.name}"]},
                )

    @staticmethod
    def _json_arg(name: str, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise SlackError(f"invalid_{name}_format" if name != "view" else "invalid_arguments") from None
        return value

    def _validate_success(self, method: str, result: JsonDict) -> None:
        validator = self.spec.validator(method) if self.validate_responses else None
        if validator is None:
            return
        for error in validator.iter_errors(result):
            self.violations.append(f"{method} answer {list(error.absolute_path)}: {error.message}")

    # -- helpers of the methods --------------------------------------------------------------------

    def _next_ts(self) -> str:
        now = max(time.time(), self._last_ts + 0.000001)
        self._last_ts = now
        return f"{now:.6f}"

    def _channel(self, args: JsonDict, key: str = "channel") -> Channel:
        ref = str(args.get(key) or "")
        if ref.startswith("U") and ref in self.users:
            return self._im(ref)
        name = ref.lstrip("#")
        for channel in self.channels.values():
            if channel.id == ref or (channel.name == name and channel.im_user is None):
                return channel
        raise SlackError("channel_not_found")

    def _im(self, user_id: str) -> Channel:
        for channel in self.channels.values():
            if channel.im_user == user_id:
                return channel
        channel_id = self._new_id("D")
        self.channels[channel_id] = Channel(channel_id, user_id, {user_id, self.bot_user_id}, im_user=user_id)
        return self.channels[channel_id]

    def _writable(self, channel: Channel) -> None:
        if channel.archived:
            raise SlackError("is_archived")
        if self.bot_user_id not in channel.members:
            raise SlackError("not_in_channel")

    def _rate_limit(self, channel: Channel) -> None:
        logs: list[_SlidingLog] = []
        if self.per_channel_rate is not None:
            logs.append(self._channel_logs.setdefault(channel.id, _SlidingLog(self.per_channel_rate)))
        if self._workspace_log is not None:
            logs.append(self._workspace_log)
        self._refuse_over(logs)

    def _refuse_over(self, logs: list[_SlidingLog]) -> None:
        """429 with ``Retry-After`` when any of the windows is full; else the call is counted in each."""
        now = self.clock()
        wait = max((log.wait(now) for log in logs), default=0.0)
        if wait > 0:
            self.rate_limited += 1
            retry_after = max(1, math.ceil(wait))
            raise SlackError("ratelimited", status=429, headers={"Retry-After": str(retry_after)})
        for log in logs:
            log.times.append(now)

    def _content(self, args: JsonDict, *, limit: int = 50) -> tuple[str, list[JsonDict] | None]:
        text = str(args.get("text") or "")
        blocks = args.get("blocks")
        if blocks is not None:
            problems = validate_blocks(blocks, limit)
            if problems:
                raise SlackError("invalid_blocks", response_metadata={"messages": problems})
        if not text and not blocks and not args.get("attachments"):
            raise SlackError("no_text")
        if len(text) > 40_000:
            raise SlackError("msg_too_long")
        return text, blocks

    def _metadata(self, args: JsonDict) -> JsonDict | None:
        metadata = args.get("metadata")
        if metadata is None:
            return None
        if not isinstance(metadata, dict) or not isinstance(metadata.get("event_type"), str):
            raise SlackError("invalid_metadata_format")
        if not isinstance(metadata.get("event_payload", {}), dict):
            raise SlackError("invalid_metadata_schema")
        return metadata

    def _message_json(self, message: Message, *, with_metadata: bool = True) -> JsonDict:
        data: JsonDict = {"type": "message", "ts": message.ts, "text": message.text, "user": message.user}
        if message.bot_id:
            data["bot_id"] = message.bot_id
            data["team"] = self.team_id
        if message.blocks is not None:
            data["blocks"] = message.blocks
        if message.thread_ts:
            data["thread_ts"] = message.thread_ts
        if message.parent_user_id:
            data["parent_user_id"] = message.parent_user_id
        if with_metadata and message.metadata is not None:
            data["metadata"] = message.metadata
        return data

    def _conversation(self, channel: Channel) -> JsonDict:
        blank = {"value": "", "creator": "", "last_set": 0}
        return {
            "id": channel.id,
            "name": channel.name,
            "name_normalized": channel.name,
            "created": 1_600_000_000,
            "creator": next(iter(sorted(channel.members - {self.bot_user_id})), self.bot_user_id),
            "is_archived": channel.archived,
            "is_channel": not channel.private and channel.im_user is None,
            "is_group": channel.private,
            "is_im": channel.im_user is not None,
            "is_mpim": False,
            "is_general": channel.name == "general",
            "is_private": channel.private or channel.im_user is not None,
            "is_shared": False,
            "is_org_shared": False,
            "is_member": self.bot_user_id in channel.members,
            "num_members": len(channel.members),
            "topic": blank,
            "purpose": blank,
        }

    # -- the methods (``_m_`` + name with "_" for "."); each returns the answer without "ok" ---------

    def _m_auth_test(self, args: JsonDict) -> JsonDict:
        return {
            "url": "https://prikbord-test.slack.com/",
            "team": self.team_name,
            "user": "prikbord",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _m_chat_postMessage(self, args: JsonDict) -> JsonDict:
        channel = self._channel(args)
        self._writable(channel)
        self._rate_limit(channel)
        text, blocks = self._content(args)
        thread_ts = args.get("thread_ts") or None
        parent = channel.messages.get(thread_ts) if thread_ts else None
        message = Message(
            self._next_ts(),
            self.bot_user_id,
            text,
            blocks,
            self._metadata(args),
            thread_ts,
            self.bot_id,
            parent.user if parent else None,
        )
        channel.messages[message.ts] = message
        return {"channel": channel.id, "ts": message.ts, "message": self._message_json(message)}

    def _m_chat_update(self, args: JsonDict) -> JsonDict:
        channel = self._channel(args)
        message = channel.messages.get(str(args["ts"]))
        if message is None:
            raise SlackError("message_not_found")
        if message.user != self.bot_user_id:
            raise SlackError("cant_update_message")
        if channel.archived:
            raise SlackError("is_inactive")  # what chat.update lists for frozen or archived channels
        text, blocks = self._content(args)
        message.text = text
        message.blocks = blocks
        metadata = self._metadata(args)
        if metadata is not None:
            message.metadata = metadata
        answer: JsonDict = {"text": message.text}
        if blocks is not None:
            answer["blocks"] = blocks
        return {"channel": channel.id, "ts": message.ts, "text": message.text, "message": answer}

    def _m_chat_delete(self, args: JsonDict) -> JsonDict:
        channel = self._channel(args)
        ts = str(args.get("ts") or "")
        message = channel.messages.get(ts)
        if message is None:
            raise SlackError("message_not_found")
        if message.user != self.bot_user_id:
            raise SlackError("cant_delete_message")
        del channel.messages[ts]
        return {"channel": channel.id, "ts": ts}

    def _m_chat_postEphemeral(self, args: JsonDict) -> JsonDict:
        channel = self._channel(args)
        if channel.archived:
            raise SlackError("is_archived")
        user = str(args["user"])
        if user not in channel.members:
            raise SlackError("user_not_in_channel")
        text, blocks = self._content(args)
        channel.ephemerals.append(Ephemeral(user, text, blocks))
        return {"message_ts": self._next_ts()}

    def _m_conversations_info(self, args: JsonDict) -> JsonDict:
        return {"channel": self._conversation(self._channel(args))}

    def _m_conversations_list(self, args: JsonDict) -> JsonDict:
        """Every conversation of the asked ``types`` (default public_channel), ``limit`` per page (Slack's
        default 100, at most 1000), continued by an opaque ``cursor``; members or not, as Slack does."""
        types = set(str(args.get("types") or "public_channel").split(","))
        unknown = types - {"public_channel", "private_channel", "mpim", "im"}
        if unknown:
            raise SlackError("invalid_types")
        limit = int(args.get("limit") or 100)
        if not 1 <= limit <= 1000:
            raise SlackError("invalid_limit")
        exclude_archived = bool(_bool(args.get("exclude_archived", False)))

        def kind(channel: Channel) -> str:
            if channel.im_user is not None:
                return "im"
            return "private_channel" if channel.private else "public_channel"

        def visible(c: Channel) -> bool:  # a private channel is visible only to its members
            return not (exclude_archived and c.archived) and (not c.private or self.bot_user_id in c.members)

        listed = [c for c in sorted(self.channels.values(), key=lambda c: c.id) if kind(c) in types and visible(c)]
        cursor = str(args.get("cursor") or "")
        start = 0
        if cursor:
            if not cursor.startswith("page:") or not cursor[5:].isdigit():
                raise SlackError("invalid_cursor")
            start = int(cursor[5:])
        page = listed[start : start + limit]
        more = start + limit < len(listed)
        return {
            "channels": [self._conversation(c) for c in page],
            "response_metadata": {"next_cursor": f"page:{start + limit}" if more else ""},
        }

    def _m_conversations_members(self, args: JsonDict) -> JsonDict:
        """The member ids of a conversation in id order (the bot among them when it is a member), ``limit``
        per page (Slack's default 100, at most 1000), continued by an opaque ``cursor`` that names the
        next member, as Slack's do (``e3VzZXJfaWQ6IFcxMjM0NTY3fQ==`` is ``{user_id: W1234567}``). A private
        channel the bot is not in is ``channel_not_found``, as Slack answers; a public one is readable with
        ``channels:read`` whether or not the bot is in it. Deactivated accounts stay listed."""
        channel = self._channel(args)
        if (channel.private or channel.im_user is not None) and self.bot_user_id not in channel.members:
            raise SlackError("channel_not_found")
        limit = int(args.get("limit") or 100)
        if not 1 <= limit <= 1000:
            raise SlackError("invalid_limit")
        members = sorted(channel.members)
        start = 0
        cursor = str(args.get("cursor") or "")
        if cursor:
            after = _member_cursor_user(cursor)
            start = next((i for i, m in enumerate(members) if m >= after), len(members))
        page = members[start : start + limit]
        rest = members[start + limit :]
        return {"members": page, "response_metadata": {"next_cursor": _member_cursor(rest[0]) if rest else ""}}

    def _m_conversations_open(self, args: JsonDict) -> JsonDict:
        if args.get("channel"):
            channel = self._channel(args)
            return {"channel": {"id": channel.id}, "already_open": True}
        users = [u for u in str(args.get("users") or "").split(",") if u]
        if not users:
            raise SlackError("users_list_not_supplied")
        if len(users) > 1:
            raise SlackError("method_not_supported_for_channel_type")  # group DMs are not modelled
        if users[0] not in self.users:
            raise SlackError("user_not_found")
        existed = any(c.im_user == users[0] for c in self.channels.values())
        return {"channel": {"id": self._im(users[0]).id}, "already_open": existed}

    def _m_conversations_history(self, args: JsonDict) -> JsonDict:
        channel = self._channel(args)
        if self.bot_user_id not in channel.members:
            raise SlackError("channel_not_found")
        limit = int(args.get("limit") or 100)
        with_metadata = bool(_bool(args.get("include_all_metadata", False)))
        ordered = sorted(channel.messages.values(), key=lambda m: float(m.ts), reverse=True)
        page = [self._message_json(m, with_metadata=with_metadata) for m in ordered[:limit]]
        return {
            "messages": page,
            "has_more": len(ordered) > limit,
            "pin_count": 0,
            "channel_actions_ts": None,
            "channel_actions_count": 0,
        }

    def _m_users_info(self, args: JsonDict) -> JsonDict:
        user = self.users.get(str(args.get("user") or ""))
        if user is None:
            raise SlackError("user_not_found")
        answer = self._user_json(user)
        if _bool(args.get("include_locale", False)):
            answer["locale"] = user.locale  # users.info reference: the locale only when asked for
        return {"user": answer}

    def _m_users_lookupByEmail(self, args: JsonDict) -> JsonDict:
        """The person with that email (Slack compares it ignoring case), deactivated ones included."""
        email = str(args["email"]).strip().lower()
        for user in self.users.values():
            if user.email is not None and user.email.lower() == email:
                return {"user": self._user_json(user)}
        raise SlackError("users_not_found")

    def _user_json(self, user: User) -> JsonDict:
        profile: JsonDict = {
            "real_name": user.name.title(),
            "real_name_normalized": user.name.title(),
            "display_name": user.name,
            "display_name_normalized": user.name,
            "avatar_hash": "",
            "title": "",
            "phone": "",
            "skype": "",
            "status_text": "",
            "status_emoji": "",
            "fields": None,
        }
        if user.email is not None and "users:read.email" not in self.missing_scopes:
            profile["email"] = user.email  # shown only to apps with users:read.email
        return {
            "id": user.id,
            "name": user.name,
            "real_name": user.name.title(),
            "team_id": self.team_id,
            "is_bot": user.is_bot,
            "is_app_user": False,
            "deleted": user.deleted,
            "updated": 1_600_000_000,
            "profile": profile,
        }

    def _m_views_publish(self, args: JsonDict) -> JsonDict:
        user_id = str(args["user_id"])
        if user_id not in self.users or self.users[user_id].is_bot:
            raise SlackError("invalid_arguments", response_metadata={"messages": ["invalid `user_id`"]})
        view = args["view"]
        if not isinstance(view, dict) or view.get("type") != "home":
            raise SlackError("invalid_arguments", response_metadata={"messages": ["[ERROR] view.type must be home"]})
        problems = validate_blocks(view.get("blocks"), 100)
        if problems:
            raise SlackError("invalid_arguments", response_metadata={"messages": problems})
        published = {**view, "id": self._new_id("V"), "team_id": self.team_id, "app_id": self.app_id}
        self.home_views[user_id] = published
        return {"view": published}

    def _m_views_open(self, args: JsonDict) -> JsonDict:
        try:
            return {"view": self.open_view(args, self._new_id("V"))}
        except ViewRefused as exc:
            raise _view_error(exc) from None

    def _m_views_update(self, args: JsonDict) -> JsonDict:
        try:
            return {"view": self.update_view(args)}
        except ViewRefused as exc:
            raise _view_error(exc) from None

    def _person(self, user: str) -> JsonDict:
        user_id = self.add_user(user)
        return {"id": user_id, "username": user, "name": user, "team_id": self.team_id}

    def view_submission(self, user: str, view_id: str, values: Mapping[str, Any]) -> SignedRequest:
        """``user`` pressing Submit on their open modal ``view_id`` with ``values`` typed (slack_views.py)."""
        person = self._person(user)
        return self._interaction(self.submission_payload(view_id, values, self._trigger(person["id"]), person))

    def view_closed(self, user: str, view_id: str) -> SignedRequest:
        """``user`` pressing Cancel (close) on their open modal."""
        return self._interaction(self.closed_payload(view_id, self._person(user)))

    # -- Socket Mode (apps.connections.open is newer than the 2020 spec, so it is modelled by hand) -----

    def _apps_connections_open(self, request: web.Request) -> JsonDict:
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ") or request.query.get("token", "")
        if not token:
            raise SlackError("not_authed")
        if not hmac.compare_digest(token, self.app_token):
            raise SlackError("invalid_auth")  # a bot token here is refused too: it needs the xapp- token
        ticket = hashlib.sha256(f"{token}{next(self._ids)}".encode()).hexdigest()[:16]
        return {"ok": True, "url": f"{self.base_url.replace('http', 'ws', 1)}/link/?ticket={ticket}"}

    async def _socket_mode(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": len(self._sockets),
                "debug_info": {"host": "peer", "approximate_connection_time": 3600},
                "connection_info": {"app_id": self.app_id},
            }
        )
        try:
            async for frame in ws:
                if frame.type == WSMsgType.TEXT:
                    ack = json.loads(frame.data)
                    waiter = self._socket_acks.pop(str(ack.get("envelope_id")), None)
                    if waiter is not None and not waiter.done():
                        waiter.set_result(ack)
        finally:
            self._sockets.remove(ws)
        return ws

    @property
    def socket_connected(self) -> bool:
        return bool(self._sockets)

    async def over_socket(self, request: SignedRequest, timeout: float = 5.0) -> JsonDict:
        """Deliver what would have been POSTed as a Socket Mode envelope instead; returns the app's ack."""
        assert self._sockets, "no Socket Mode connection"
        if request.headers["Content-Type"] == "application/json":
            kind, payload = "events_api", json.loads(request.body)
        else:
            form = dict(parse_qsl(request.body.decode()))
            kind, payload = (
                ("interactive", json.loads(form["payload"])) if "payload" in form else ("slash_commands", form)
            )
        envelope_id = hashlib.sha256(request.body + str(next(self._ids)).encode()).hexdigest()[:32]
        waiter: asyncio.Future[JsonDict] = asyncio.get_running_loop().create_future()
        self._socket_acks[envelope_id] = waiter
        envelope = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": kind != "events_api",
            "retry_attempt": 0,
            "retry_reason": "",
        }
        await self._sockets[-1].send_json(envelope)
        return await asyncio.wait_for(waiter, timeout)

    # -- response_url -------------------------------------------------------------------------------

    async def _respond(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        known = self._response_urls.get(token)
        if known is None:
            return web.Response(status=404, text="no_active_hooks")
        channel_id, user, uses = known
        if uses >= 5:  # Slack honours a response_url five times
            return web.Response(status=404, text="used_url")
        self._response_urls[token] = (channel_id, user, uses + 1)
        data = await request.json()
        text = str(data.get("text") or "")
        blocks = data.get("blocks")
        if not text and not blocks:
            return web.Response(status=400, text="no_text")
        channel = self.channels.get(channel_id) or self._im(user)
        if data.get("response_type") == "in_channel":
            message = Message(self._next_ts(), self.bot_user_id, text, blocks, None, None, self.bot_id)
            channel.messages[message.ts] = message
        else:
            channel.ephemerals.append(Ephemeral(user, text, blocks, via="response_url"))
        return web.Response(text="ok")

    def _response_url(self, channel: str, user: str) -> str:
        token = hashlib.sha256(f"{channel}{user}{next(self._ids)}".encode()).hexdigest()[:24]
        self._response_urls[token] = (channel, user, 0)
        return f"{self.base_url}/respond/{token}"

    # -- the driver: what Slack POSTs into prikbord --------------------------------------------------

    def sign(self, body: bytes, *, timestamp: int | None = None, secret: str | None = None) -> dict[str, str]:
        ts = str(int(time.time()) if timestamp is None else timestamp)
        key = (secret or self.signing_secret).encode()
        digest = hmac.new(key, b"v0:" + ts.encode() + b":" + body, hashlib.sha256).hexdigest()
        return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": "v0=" + digest}

    def _signed(self, body: bytes, content_type: str, extra: dict[str, str] | None = None) -> SignedRequest:
        headers = {"Content-Type": content_type, "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)"}
        headers.update(self.sign(body))
        headers.update(extra or {})
        return SignedRequest(headers, body)

    def _event(self, event: JsonDict) -> SignedRequest:
        envelope = {
            "token": "legacy-verification-token",
            "team_id": self.team_id,
            "api_app_id": self.app_id,
            "event": {"event_ts": self._next_ts(), **event},
            "type": "event_callback",
            "event_id": f"Ev{next(self._ids):010d}",
            "event_time": int(time.time()),
            "authed_users": [self.bot_user_id],
            "authorizations": [
                {"team_id": self.team_id, "user_id": self.bot_user_id, "is_bot": True, "is_enterprise_install": False}
            ],
            "is_ext_shared_channel": False,
        }
        errors = [e.message for e in event_wrapper_schema().iter_errors(envelope)]
        assert not errors, f"driver built an event outside Slack's wrapper schema: {errors}"
        return self._signed(json.dumps(envelope).encode(), "application/json")

    def retry(self, request: SignedRequest, attempt: int = 1, reason: str = "http_timeout") -> SignedRequest:
        """Slack's redelivery of the same request: same body and event_id, signed anew."""
        extra = {"X-Slack-Retry-Num": str(attempt), "X-Slack-Retry-Reason": reason}
        return self._signed(request.body, request.headers["Content-Type"], extra)

    def url_verification(
        self, challenge: str = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    ) -> SignedRequest:
        body = {"token": "legacy-verification-token", "challenge": challenge, "type": "url_verification"}
        return self._signed(json.dumps(body).encode(), "application/json")

    def reaction(self, user: str, channel: str, ts: str, name: str, *, added: bool = True) -> SignedRequest:
        message = self.message(channel, ts)
        assert message is not None, f"no message {ts} in {channel} to react to"
        user_id = self.add_user(user)
        return self._event(
            {
                "type": "reaction_added" if added else "reaction_removed",
                "user": user_id,
                "reaction": name,
                "item_user": message.user,
                "item": {"type": "message", "channel": channel, "ts": ts},
            }
        )

    def thread_reply(self, user: str, channel: str, thread_ts: str, text: str) -> SignedRequest:
        parent = self.message(channel, thread_ts)
        assert parent is not None, f"no message {thread_ts} in {channel} to reply to"
        user_id = self.add_user(user)
        self.join(channel, user_id)
        reply = Message(self._next_ts(), user_id, text, thread_ts=thread_ts, parent_user_id=parent.user)
        self.channels[channel].messages[reply.ts] = reply
        event = {
            "type": "message",
            "channel": channel,
            "user": user_id,
            "text": text,
            "ts": reply.ts,
            "thread_ts": thread_ts,
            "parent_user_id": parent.user,
            "channel_type": "channel",
        }
        return self._event(event)

    def bot_membership(self, channel: str, *, joined: bool, inviter: str | None = None) -> SignedRequest:
        members = self.channels[channel].members
        (members.add if joined else members.discard)(self.bot_user_id)
        event: JsonDict = {
            "type": "member_joined_channel" if joined else "member_left_channel",
            "user": self.bot_user_id,
            "channel": channel,
            "channel_type": "C",
            "team": self.team_id,
        }
        if joined and inviter:
            event["inviter"] = self.add_user(inviter)
        return self._event(event)

    def person_membership(self, channel: str, user_id: str, *, joined: bool) -> SignedRequest:
        """A person (not the bot) joining or leaving a channel: member_joined_channel / member_left_channel."""
        (self.join if joined else self.leave)(channel, user_id)
        event: JsonDict = {
            "type": "member_joined_channel" if joined else "member_left_channel",
            "user": user_id,
            "channel": channel,
            "channel_type": "C",
            "team": self.team_id,
        }
        return self._event(event)

    def account_deactivated(self, user_id: str) -> SignedRequest:
        """Slack's user_change for an account an admin deactivated."""
        self.deactivate(user_id)
        return self._event({"type": "user_change", "user": {**self._user_json(self.users[user_id]), "deleted": True}})

    def app_home_opened(self, user: str) -> SignedRequest:
        user_id = self.add_user(user)
        return self._event({"type": "app_home_opened", "user": user_id, "channel": self._im(user_id).id, "tab": "home"})

    def _interaction(self, payload: JsonDict) -> SignedRequest:
        body = urlencode({"payload": json.dumps(payload)}).encode()
        return self._signed(body, "application/x-www-form-urlencoded")

    def _trigger(self, user_id: str) -> str:
        trigger = f"{next(self._ids)}.{self.team_id[1:]}.{hashlib.sha256(os.urandom(8)).hexdigest()[:32]}"
        return self._register_trigger(trigger, user_id)  # views.open may exchange it (slack_views.py)

    def press(self, user: str, channel: str, ts: str, action_id: str) -> SignedRequest:
        """A person pressing the button ``action_id`` under the stored message (which must have it)."""
        message = self.message(channel, ts)
        assert message is not None, f"no message {ts} in {channel}"
        block, button = _find_button(message.blocks or [], action_id)
        user_id = self.add_user(user)
        self.join(channel, user_id)
        payload = {
            "type": "block_actions",
            "user": {"id": user_id, "username": user, "name": user, "team_id": self.team_id},
            "api_app_id": self.app_id,
            "token": "legacy-verification-token",
            "container": {"type": "message", "message_ts": ts, "channel_id": channel, "is_ephemeral": False},
            "trigger_id": self._trigger(user_id),
            "team": {"id": self.team_id, "domain": "prikbord-test"},
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": channel, "name": self.channels[channel].name},
            "message": self._message_json(message, with_metadata=True),
            "state": {"values": {}},
            "response_url": self._response_url(channel, user_id),
            "actions": [_action_of(block, button, self._next_ts())],
        }
        return self._interaction(payload)

    def press_home(self, user: str, action_id: str, value: str | None = None) -> SignedRequest:
        """A person pressing a button of their published App Home view."""
        user_id = self.add_user(user)
        view = self.home_views.get(user_id)
        assert view is not None, f"no home view published for {user}"
        block, button = _find_button(view["blocks"], action_id, value)
        payload = {
            "type": "block_actions",
            "user": {"id": user_id, "username": user, "name": user, "team_id": self.team_id},
            "api_app_id": self.app_id,
            "token": "legacy-verification-token",
            "container": {"type": "view", "view_id": view["id"]},
            "trigger_id": self._trigger(user_id),
            "team": {"id": self.team_id, "domain": "prikbord-test"},
            "is_enterprise_install": False,
            "view": view,
            "actions": [_action_of(block, button, self._next_ts())],
        }
        return self._interaction(payload)

    def slash_command(self, user: str, channel: str, text: str, *, command: str = "/prikbord") -> SignedRequest:
        user_id = self.add_user(user)
        self.join(channel, user_id)
        form = {
            "token": "legacy-verification-token",
            "team_id": self.team_id,
            "team_domain": "prikbord-test",
            "channel_id": channel,
            "channel_name": "directmessage" if channel.startswith("D") else self.channels[channel].name,
            "user_id": user_id,
            "user_name": user,
            "command": command,
            "text": text,
            "api_app_id": self.app_id,
            "is_enterprise_install": "false",
            "response_url": self._response_url(channel, user_id),
            "trigger_id": self._trigger(user_id),
        }
        return self._signed(urlencode(form).encode(), "application/x-www-form-urlencoded")

    def ephemerals(self, channel: str, user: str | None = None) -> list[Ephemeral]:
        user_id = None if user is None else self.add_user(user)
        return [e for e in self.channels[channel].ephemerals if user_id is None or e.user == user_id]


def _view_error(exc: ViewRefused) -> SlackError:
    """views.open / views.update refused: Slack's error, with its messages where it gives them."""
    return SlackError(exc.error, **({"response_metadata": {"messages": exc.messages}} if exc.messages else {}))


def _find_button(blocks: list[JsonDict], action_id: str, value: str | None = None) -> tuple[JsonDict, JsonDict]:
    for block in blocks:
        for element in block.get("elements", []) if block.get("type") == "actions" else []:
            if element.get("action_id") == action_id and (value is None or element.get("value") == value):
                return block, element
    raise AssertionError(f"no button {action_id!r} on that message: a person could not press it")


def _action_of(block: JsonDict, button: JsonDict, action_ts: str) -> JsonDict:
    action = {
        "type": "button",
        "action_id": button["action_id"],
        "block_id": block.get("block_id", "b"),
        "text": button["text"],
        "action_ts": action_ts,
    }
    for key in ("value", "style", "url"):
        if key in button:
            action[key] = button[key]
    return action


def _unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


# ---------------------------------------------------------------------------------------------
# Block Kit limits (Slack answers invalid_blocks; the 2020 spec has only a loose blocks schema)


def _text_problems(obj: Any, where: str, limit: int, plain_only: bool = False) -> Iterator[str]:
    if not isinstance(obj, dict) or obj.get("type") not in (
        ("plain_text",) if plain_only else ("plain_text", "mrkdwn")
    ):
        yield f"[ERROR] {where} must be a {'plain_text' if plain_only else 'text'} object"
        return
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        yield f"[ERROR] {where}.text must be a non-empty string"
    elif len(text.encode("utf-16-le")) // 2 > limit:
        yield f"[ERROR] must be less than {limit + 1} characters [json-pointer:{where}/text]"


def validate_blocks(blocks: Any, limit: int = 50) -> list[str]:
    """Problems Slack would report for ``blocks`` (empty when valid)."""
    if not isinstance(blocks, list):
        return ["[ERROR] blocks must be an array"]
    problems: list[str] = []
    if len(blocks) > limit:
        problems.append(f"[ERROR] no more than {limit} items allowed [json-pointer:/blocks]")
    block_ids: set[str] = set()
    for n, block in enumerate(blocks):
        where = f"/blocks/{n}"
        if not isinstance(block, dict) or block.get("type") not in _BLOCK_TYPES:
            problems.append(f"[ERROR] unsupported block type [json-pointer:{where}]")
            continue
        block_id = block.get("block_id")
        if block_id is not None:
            if not isinstance(block_id, str) or len(block_id) > 255 or block_id in block_ids:
                problems.append(f"[ERROR] block_id must be unique and at most 255 characters [json-pointer:{where}]")
            block_ids.add(str(block_id))
        kind = block["type"]
        if kind == "header":
            problems.extend(_text_problems(block.get("text"), where + "/text", 150, plain_only=True))
        elif kind == "section":
            if "text" in block or "fields" not in block:
                problems.extend(_text_problems(block.get("text"), where + "/text", 3000))
        elif kind == "context":
            elements = block.get("elements")
            if not isinstance(elements, list) or not 1 <= len(elements) <= 10:
                problems.append(f"[ERROR] context needs 1 to 10 elements [json-pointer:{where}/elements]")
            else:
                for i, element in enumerate(elements):
                    if isinstance(element, dict) and element.get("type") == "image":
                        continue
                    problems.extend(_text_problems(element, f"{where}/elements/{i}", 3000))
        elif kind == "actions":
            problems.extend(_action_problems(block.get("elements"), where))
    return problems


def _action_problems(elements: Any, where: str) -> Iterator[str]:
    if not isinstance(elements, list) or not 1 <= len(elements) <= 25:
        yield f"[ERROR] actions need 1 to 25 elements [json-pointer:{where}/elements]"
        return
    action_ids: set[str] = set()
    for i, element in enumerate(elements):
        at = f"{where}/elements/{i}"
        if not isinstance(element, dict) or element.get("type") != "button":
            yield f"[ERROR] only buttons are modelled [json-pointer:{at}]"
            continue
        yield from _text_problems(element.get("text"), at + "/text", 75, plain_only=True)
        action_id = element.get("action_id")
        if action_id is not None:
            if not isinstance(action_id, str) or len(action_id) > 255 or action_id in action_ids:
                yield f"[ERROR] action_id must be unique in its block and at most 255 characters [json-pointer:{at}]"
            action_ids.add(str(action_id))
        if "value" in element and (not isinstance(element["value"], str) or len(element["value"]) > 2000):
            yield f"[ERROR] value must be a string of at most 2000 characters [json-pointer:{at}/value]"
        if "url" in element and (not isinstance(element["url"], str) or len(element["url"]) > 3000):
            yield f"[ERROR] url must be a string of at most 3000 characters [json-pointer:{at}/url]"
        if "style" in element and element["style"] not in ("primary", "danger"):
            yield f"[ERROR] style must be primary or danger [json-pointer:{at}/style]"
