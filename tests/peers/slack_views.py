"""Slack's modals in the loopback peer (mixed into ``tests/peers/slack.py``'s SlackPeer): ``views.open``
and ``views.update`` checked as Slack checks them, the ``view_submission`` / ``view_closed`` payloads a
person's Submit and Cancel make, and the app's answer to a submission (``response_action``) checked and
applied to the open modal.

Facts (tests/contracts/README.md names the sources): a trigger_id is exchanged once (``exchanged_trigger_id``)
and expires after 3 seconds (``expired_trigger_id``); an unknown one answers ``invalid_arguments`` with
"invalid `trigger_id`" (the contract's own example); a view over 250 kB answers ``view_too_large``; a
modal's title, submit and close are plain_text of at most 24 characters, it holds at most 100 blocks, a
view with input blocks must have a submit, ``private_metadata`` at most 3,000 characters and
``callback_id`` 255; an input's label at most 2,000 characters, a plain_text_input's ``max_length`` at
most 3,000, a select's options at most 100 (checkboxes 10), an option's text 75 and value 150
characters. A submission's ``response_action: errors`` names input blocks of the view; ``update`` gives
a new view (same id, new hash); ``clear`` closes the whole modal; an empty answer closes the view.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

JsonDict = dict[str, Any]

TRIGGER_LIFETIME = 3.0  # seconds
VIEW_BYTES = 250_000
MODAL_TEXT = 24
MODAL_BLOCKS = 100
METADATA = 3000
_ELEMENTS = {"plain_text_input", "static_select", "checkboxes"}


class ViewRefused(Exception):
    """views.open / views.update refused, as Slack answers: ``error`` and its messages."""

    def __init__(self, error: str, messages: list[str] | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.messages = messages or []


@dataclass
class Trigger:
    user_id: str
    issued: float
    used: bool = False


@dataclass
class OpenView:
    """A modal on a person's screen (``closed`` once Cancel, ``clear`` or an empty answer closed it)."""

    user_id: str
    view: JsonDict
    closed: bool = False
    history: list[JsonDict] = field(default_factory=list)  # every view it showed, the first first
    errors: dict[str, str] = field(default_factory=dict)  # the last response_action: errors


@dataclass
class ViewAnswer:
    """What the app's answer to a submission did: ``action`` is errors, update, clear or close."""

    action: str
    errors: dict[str, str] = field(default_factory=dict)


def _plain_problems(obj: Any, where: str, limit: int) -> Iterator[str]:
    if not isinstance(obj, dict) or obj.get("type") != "plain_text":
        yield f"[ERROR] {where} must be a plain_text object"
        return
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        yield f"[ERROR] {where}.text must be a non-empty string"
    elif len(text) > limit:
        yield f"[ERROR] must be less than {limit + 1} characters [json-pointer:{where}/text]"


def _option_problems(options: Any, where: str, most: int) -> Iterator[str]:
    if not isinstance(options, list) or not 1 <= len(options) <= most:
        yield f"[ERROR] needs 1 to {most} options [json-pointer:{where}]"
        return
    for n, option in enumerate(options):
        if not isinstance(option, dict):
            yield f"[ERROR] an option must be an object [json-pointer:{where}/{n}]"
            continue
        yield from _plain_problems(option.get("text"), f"{where}/{n}/text", 75)
        value = option.get("value")
        if not isinstance(value, str) or not value or len(value) > 150:
            yield f"[ERROR] an option's value must be 1 to 150 characters [json-pointer:{where}/{n}/value]"


def _element_problems(element: Any, where: str) -> Iterator[str]:
    if not isinstance(element, dict) or element.get("type") not in _ELEMENTS:
        yield f"[ERROR] unsupported input element [json-pointer:{where}]"
        return
    if not isinstance(element.get("action_id"), str) or not element["action_id"]:
        yield f"[ERROR] the element needs an action_id [json-pointer:{where}/action_id]"
    kind = element["type"]
    if kind == "plain_text_input":
        most = element.get("max_length", 3000)
        if not isinstance(most, int) or not 1 <= most <= 3000:
            yield f"[ERROR] max_length must be 1 to 3000 [json-pointer:{where}/max_length]"
        initial = element.get("initial_value")
        if initial is not None and (
            not isinstance(initial, str) or len(initial) > (most if isinstance(most, int) else 0)
        ):
            yield f"[ERROR] initial_value longer than max_length [json-pointer:{where}/initial_value]"
        if "multiline" in element and not isinstance(element["multiline"], bool):
            yield f"[ERROR] multiline must be a boolean [json-pointer:{where}/multiline]"
        return
    options = element.get("options")
    yield from _option_problems(options, f"{where}/options", 100 if kind == "static_select" else 10)
    chosen = [element["initial_option"]] if "initial_option" in element else element.get("initial_options", [])
    if isinstance(options, list) and any(c not in options for c in chosen):
        yield f"[ERROR] an initial option is not one of the options [json-pointer:{where}]"


def view_problems(view: Any, *, kind: str = "modal") -> list[str]:
    """What Slack would refuse in a modal view (empty when valid)."""
    if not isinstance(view, dict) or view.get("type") != kind:
        return [f"[ERROR] view.type must be {kind}"]
    problems: list[str] = []
    blocks = view.get("blocks")
    if not isinstance(blocks, list):
        return ["[ERROR] view.blocks must be an array"]
    if len(blocks) > MODAL_BLOCKS:
        problems.append(f"[ERROR] no more than {MODAL_BLOCKS} items allowed [json-pointer:/view/blocks]")
    problems.extend(_plain_problems(view.get("title"), "/view/title", MODAL_TEXT))
    inputs = [b for b in blocks if isinstance(b, dict) and b.get("type") == "input"]
    for key in ("submit", "close"):
        if key in view:
            problems.extend(_plain_problems(view[key], f"/view/{key}", MODAL_TEXT))
    if inputs and "submit" not in view:
        problems.append("[ERROR] must define submit to use an input block [json-pointer:/view/submit]")
    metadata = view.get("private_metadata", "")
    if not isinstance(metadata, str) or len(metadata) > METADATA:
        problems.append(f"[ERROR] private_metadata must be a string of at most {METADATA} characters")
    callback = view.get("callback_id", "")
    if not isinstance(callback, str) or len(callback) > 255:
        problems.append("[ERROR] callback_id must be a string of at most 255 characters")
    from tests.peers.slack import validate_blocks  # the message blocks' own rules (section, context …)

    others = [b for b in blocks if b not in inputs]
    problems.extend(validate_blocks(others, MODAL_BLOCKS))
    seen: set[str] = set()
    for n, block in enumerate(blocks):
        block_id = block.get("block_id") if isinstance(block, dict) else None
        if isinstance(block_id, str):
            if block_id in seen:
                problems.append(f"[ERROR] block_id {block_id!r} is not unique [json-pointer:/view/blocks/{n}]")
            seen.add(block_id)
    for n, block in enumerate(blocks):
        if block not in inputs:
            continue
        where = f"/view/blocks/{n}"
        if not isinstance(block.get("block_id"), str):
            problems.append(f"[ERROR] an input block of prikbord's needs a block_id [json-pointer:{where}]")
        problems.extend(_plain_problems(block.get("label"), where + "/label", 2000))
        if "hint" in block:
            problems.extend(_plain_problems(block["hint"], where + "/hint", 2000))
        if "optional" in block and not isinstance(block["optional"], bool):
            problems.append(f"[ERROR] optional must be a boolean [json-pointer:{where}/optional]")
        problems.extend(_element_problems(block.get("element"), where + "/element"))
    return problems


class SlackViews:
    """The modal state of the peer. SlackPeer inherits it; ``_trigger`` there registers each trigger."""

    team_id: str
    app_id: str
    bot_id: str
    signing_secret: str
    clock: Any

    def _views_init(self) -> None:
        self.triggers: dict[str, Trigger] = {}
        self.views: dict[str, OpenView] = {}
        self.view_violations: list[str] = []

    def _register_trigger(self, trigger: str, user_id: str) -> str:
        self.triggers[trigger] = Trigger(user_id, time.monotonic())
        return trigger

    def _stored_view(self, view: JsonDict, view_id: str, user_id: str) -> JsonDict:
        digest = hashlib.sha256(json.dumps(view, sort_keys=True).encode() + str(time.time()).encode()).hexdigest()
        return {
            "callback_id": "",
            "private_metadata": "",
            "external_id": "",
            "clear_on_close": False,
            "notify_on_close": False,
            **view,
            "id": view_id,
            "team_id": self.team_id,
            "app_id": self.app_id,
            "bot_id": self.bot_id,
            "root_view_id": view_id,
            "previous_view_id": None,
            "hash": f"{int(time.time())}.{digest[:8]}",
            "state": {"values": {}},
        }

    def _checked_view(self, raw: Any) -> JsonDict:
        if not isinstance(raw, dict):
            raise ViewRefused("invalid_arguments", ["[ERROR] view must be a view object"])
        if len(json.dumps(raw).encode()) > VIEW_BYTES:
            raise ViewRefused("view_too_large")
        problems = view_problems(raw)
        if problems:
            raise ViewRefused("invalid_arguments", problems)
        return raw

    def open_view(self, args: JsonDict, new_id: str) -> JsonDict:
        """views.open: the trigger exchanged (once, within 3 s) for a modal on its person's screen."""
        trigger = self.triggers.get(str(args.get("trigger_id") or ""))
        if trigger is None:
            raise ViewRefused("invalid_arguments", ["invalid `trigger_id`"])
        if trigger.used:
            raise ViewRefused("exchanged_trigger_id")
        if time.monotonic() - trigger.issued > TRIGGER_LIFETIME:
            raise ViewRefused("expired_trigger_id")
        view = self._checked_view(args.get("view"))
        trigger.used = True
        stored = self._stored_view(view, new_id, trigger.user_id)
        self.views[new_id] = OpenView(trigger.user_id, stored, history=[stored])
        return stored

    def update_view(self, args: JsonDict) -> JsonDict:
        """views.update of an open modal, by its view_id (``hash`` guards against a stale update)."""
        view_id = str(args.get("view_id") or "")
        known = self.views.get(view_id)
        if known is None or known.closed:
            raise ViewRefused("not_found")
        if args.get("hash") and args["hash"] != known.view["hash"]:
            raise ViewRefused("hash_conflict")
        stored = self._stored_view(self._checked_view(args.get("view")), view_id, known.user_id)
        known.view = stored
        known.history.append(stored)
        return stored

    # -- the driver: a person's Submit and Cancel, and the app's answer -----------------------------------

    def open_views(self, user_id: str) -> list[OpenView]:
        return [v for v in self.views.values() if v.user_id == user_id and not v.closed]

    def submission_payload(self, view_id: str, values: Mapping[str, Any], trigger: str, user: JsonDict) -> JsonDict:
        """The view_submission a person's Submit sends with ``values`` typed (block_id → text, an option's
        value, or a list of them). Slack itself will not submit a required input left empty."""
        known = self.views[view_id]
        assert not known.closed, "a closed modal cannot be submitted"
        state: JsonDict = {}
        for block in known.view["blocks"]:
            if block.get("type") != "input":
                continue
            block_id, element = block["block_id"], block["element"]
            given = values.get(block_id)
            if not block.get("optional", False):
                assert given not in (None, "", []), f"Slack does not submit the form without {block_id!r}"
            state[block_id] = {element["action_id"]: _element_state(element, given)}
        unknown = set(values) - set(state)
        assert not unknown, f"the modal has no inputs {sorted(unknown)}: a person could not fill them"
        view = {**known.view, "state": {"values": state}}
        return {
            "type": "view_submission",
            "team": {"id": self.team_id, "domain": "prikbord-test"},
            "user": user,
            "api_app_id": self.app_id,
            "token": "legacy-verification-token",
            "trigger_id": trigger,
            "view": view,
            "response_urls": [],
            "is_enterprise_install": False,
            "enterprise": None,
        }

    def closed_payload(self, view_id: str, user: JsonDict) -> JsonDict:
        known = self.views[view_id]
        assert known.view.get("notify_on_close"), "Slack tells the app of Cancel only with notify_on_close"
        known.closed = True
        return {
            "type": "view_closed",
            "team": {"id": self.team_id, "domain": "prikbord-test"},
            "user": user,
            "api_app_id": self.app_id,
            "token": "legacy-verification-token",
            "view": known.view,
            "is_cleared": False,
            "is_enterprise_install": False,
        }

    def apply_answer(self, view_id: str, status: int, body: bytes) -> ViewAnswer:
        """The app's HTTP answer to a view_submission, checked as Slack checks it and applied to the modal."""
        known = self.views[view_id]
        if status != 200:
            return self._violation(f"view_submission answered HTTP {status}")
        if not body.strip():
            known.closed = True
            return ViewAnswer("close")
        try:
            answer = json.loads(body)
        except ValueError:
            return self._violation(f"view_submission answered no JSON: {body[:80]!r}")
        action = answer.get("response_action") if isinstance(answer, dict) else None
        if action == "errors":
            errors = answer.get("errors")
            inputs = {b["block_id"] for b in known.view["blocks"] if b.get("type") == "input"}
            if not isinstance(errors, dict) or not errors:
                return self._violation("response_action errors without errors")
            wrong = [k for k, v in errors.items() if k not in inputs or not isinstance(v, str) or not v]
            if wrong:
                return self._violation(f"errors for no input block of the view (or empty): {wrong}")
            known.errors = dict(errors)
            return ViewAnswer("errors", dict(errors))
        if action == "update":
            try:
                stored = self._stored_view(self._checked_view(answer.get("view")), view_id, known.user_id)
            except ViewRefused as exc:
                return self._violation(f"response_action update with a view Slack refuses: {exc.error} {exc.messages}")
            known.view, known.errors = stored, {}
            known.history.append(stored)
            return ViewAnswer("update")
        if action == "clear":
            known.closed = True
            return ViewAnswer("clear")
        return self._violation(f"response_action {action!r} is not modelled")

    def _violation(self, text: str) -> ViewAnswer:
        self.view_violations.append(text)
        raise AssertionError(f"Slack would refuse the app's answer: {text}")


def _element_state(element: JsonDict, given: Any) -> JsonDict:
    kind = element["type"]
    if kind == "plain_text_input":
        assert given is None or isinstance(given, str), "a text input takes text"
        if isinstance(given, str) and len(given) > element.get("max_length", 3000):
            raise AssertionError("Slack's input does not take more than its max_length")
        return {"type": kind, "value": given or None}
    options = {o["value"]: o for o in element["options"]}
    chosen = [] if given in (None, "") else ([given] if isinstance(given, str) else list(given))
    missing = [c for c in chosen if c not in options]
    assert not missing, f"no option {missing} in the input: a person could not choose it"
    if kind == "static_select":
        return {"type": kind, "selected_option": options[chosen[0]] if chosen else None}
    return {"type": kind, "selected_options": [options[c] for c in chosen]}
