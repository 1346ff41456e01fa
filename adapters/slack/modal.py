"""The Slack modal that composes a post, pure: Block Kit views built from plain data, and the submitted
form read back into plain data. No I/O (``forms.py`` holds it); the core words every text.

Two steps in one modal: the form (``FORM_CALLBACK``: input blocks keyed by field) and, after a valid
submission, the preview in its place (``PREVIEW_CALLBACK``: the post as it will look, its Publish and
Cancel). The preview's ``private_metadata`` carries the stored draft's token and the channel the command
came from, never the draft itself (3,000 characters are too few for one).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from adapters.base import CommandIssued, OutboundMessage, UserRef
from adapters.slack.inbound import MalformedPayload
from adapters.slack.translate import compose

FORM_CALLBACK = "prikbord_post_form"
PREVIEW_CALLBACK = "prikbord_post_preview"
VALUE = "value"  # every input's action_id: the block_id names the field
CTA_KINDS = ("none", "like", "acknowledge", "rsvp", "poll", "reply", "link")
MODAL_TEXT_LIMIT = 24  # a modal's title, submit and close texts
INPUT_LIMIT = 3000  # plain_text_input max_length at most
METADATA_LIMIT = 3000  # private_metadata
MODAL_BLOCKS = 100
LABEL_LIMIT = 2000
# The fields in the form's order: block_id → the most a person may type there.
FIELDS = {
    "title": 300,
    "body": INPUT_LIMIT,
    "cta": 0,
    "options": 1100,
    "deadline": 50,
    "url": INPUT_LIMIT,
    "audience": 500,
    "schedule": 50,
    "urgent": 0,
}

JsonDict = dict[str, Any]


@dataclass(frozen=True, slots=True)
class FormWords:
    """Every text of the modal, in its reader's language (the core words them; English by default)."""

    title: str = "New post"
    next: str = "Preview"
    cancel: str = "Cancel"
    publish: str = "Publish"
    preview_title: str = "Preview"
    labels: Mapping[str, str] = field(default_factory=dict)  # block_id → label; the block_id itself else
    hints: Mapping[str, str] = field(default_factory=dict)  # block_id → hint under the field
    cta_labels: Mapping[str, str] = field(default_factory=dict)  # CTA_KINDS value → its name
    urgent_option: str = "Urgent: notify even in quiet hours"
    buttons: str = "Buttons: %(labels)s"  # the preview names the post's buttons (they cannot be pressed there)


@dataclass(frozen=True, slots=True)
class PostFormValues:
    """The form as submitted: text as typed (empty when left out), ``cta`` one of :data:`CTA_KINDS`."""

    title: str = ""
    body: str = ""
    cta: str = "none"
    options: str = ""
    deadline: str = ""
    url: str = ""
    audience: str = ""
    schedule: str = ""
    urgent: bool = False


@dataclass(frozen=True, slots=True)
class FormReview:
    """The core's verdict on a submitted form: ``errors`` by block_id, or the ``preview`` of the stored
    draft ``token`` with ``summary`` lines (audience, time, urgency) under it."""

    words: FormWords
    errors: Mapping[str, str] = field(default_factory=dict)
    preview: OutboundMessage | None = None
    token: str = ""
    summary: Sequence[str] = ()


class PostFormHandler(Protocol):
    """The core's side of the modal (bot/services/post_forms.py): it checks, stores and publishes."""

    async def review(self, user: UserRef, values: PostFormValues) -> FormReview: ...

    async def publish(self, user: UserRef, token: str) -> str | None:
        """Create the post of the draft → what to tell its author; None when another Publish of the
        same draft did (the author was told then)."""
        ...

    async def cancel(self, user: UserRef, token: str) -> None: ...


@runtime_checkable
class PostFormSurface(Protocol):
    """An adapter that composes posts in a form of its own (Slack's modal)."""

    def serve_post_forms(self, handler: PostFormHandler) -> None: ...

    async def open_post_form(self, command: CommandIssued, words: FormWords, *, can_schedule: bool) -> None: ...


# ---------------------------------------------------------------------------------------------
# Views


def _plain(text: str, limit: int = LABEL_LIMIT) -> JsonDict:
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return {"type": "plain_text", "text": text or "-", "emoji": True}


def _input(block_id: str, words: FormWords, element: JsonDict, *, optional: bool) -> JsonDict:
    block: JsonDict = {
        "type": "input",
        "block_id": block_id,
        "label": _plain(words.labels.get(block_id, block_id)),
        "element": element,
        "optional": optional,
    }
    if hint := words.hints.get(block_id):
        block["hint"] = _plain(hint)
    return block


def _text_input(block_id: str, initial: str, *, multiline: bool = False) -> JsonDict:
    element: JsonDict = {
        "type": "plain_text_input",
        "action_id": VALUE,
        "multiline": multiline,
        "max_length": FIELDS[block_id],
    }
    if initial:
        element["initial_value"] = initial[: FIELDS[block_id]]
    return element


def _cta_option(kind: str, words: FormWords) -> JsonDict:
    return {"text": _plain(words.cta_labels.get(kind, kind), 75), "value": kind}


def form_view(words: FormWords, values: PostFormValues | None = None, *, can_schedule: bool = True) -> JsonDict:
    """The form, empty or filled with ``values``; the schedule field only for who may schedule."""
    values = values or PostFormValues(audience="everyone")
    cta: JsonDict = {
        "type": "static_select",
        "action_id": VALUE,
        "options": [_cta_option(kind, words) for kind in CTA_KINDS],
    }
    if values.cta in CTA_KINDS and values.cta != "none":
        cta["initial_option"] = _cta_option(values.cta, words)
    urgent_option = {"text": _plain(words.urgent_option, 75), "value": "urgent"}
    urgent: JsonDict = {"type": "checkboxes", "action_id": VALUE, "options": [urgent_option]}
    if values.urgent:
        urgent["initial_options"] = [urgent_option]
    blocks = [
        _input("title", words, _text_input("title", values.title), optional=False),
        _input("body", words, _text_input("body", values.body, multiline=True), optional=True),
        _input("cta", words, cta, optional=True),
        _input("options", words, _text_input("options", values.options, multiline=True), optional=True),
        _input("deadline", words, _text_input("deadline", values.deadline), optional=True),
        _input("url", words, _text_input("url", values.url), optional=True),
        _input("audience", words, _text_input("audience", values.audience), optional=True),
    ]
    if can_schedule:
        blocks.append(_input("schedule", words, _text_input("schedule", values.schedule), optional=True))
    blocks.append(_input("urgent", words, urgent, optional=True))
    return {
        "type": "modal",
        "callback_id": FORM_CALLBACK,
        "title": _plain(words.title, MODAL_TEXT_LIMIT),
        "submit": _plain(words.next, MODAL_TEXT_LIMIT),
        "close": _plain(words.cancel, MODAL_TEXT_LIMIT),
        "blocks": blocks,
    }


def preview_metadata(token: str, channel_id: str) -> str:
    return f"{token}|{channel_id}"


def read_preview_metadata(metadata: object) -> tuple[str, str]:
    """The draft's token and the channel of the command, as :func:`preview_metadata` wrote them."""
    if not isinstance(metadata, str) or "|" not in metadata:
        raise MalformedPayload("the preview's private_metadata is not prikbord's")
    token, _, channel = metadata.partition("|")
    if not token or not channel:
        raise MalformedPayload("the preview's private_metadata is not prikbord's")
    return token, channel


def preview_view(review: FormReview, channel_id: str) -> JsonDict:
    """The post as it will look (its buttons named, not pressable), the summary, Publish and Cancel."""
    assert review.preview is not None
    words = review.words
    blocks: list[JsonDict] = []
    for block in compose(review.preview).blocks:
        block = {**block, "block_id": f"preview-{block['block_id']}"}
        if block["type"] == "actions":
            labels = "  ".join(f"[{e['text']['text']}]" for e in block["elements"])
            text = words.buttons % {"labels": labels}
            block = {"type": "context", "block_id": block["block_id"], "elements": [_mrkdwn(text)]}
        blocks.append(block)
    if review.summary:
        lines = "\n".join(review.summary)
        blocks.append({"type": "context", "block_id": "preview-summary", "elements": [_mrkdwn(lines)]})
    return {
        "type": "modal",
        "callback_id": PREVIEW_CALLBACK,
        "title": _plain(words.preview_title, MODAL_TEXT_LIMIT),
        "submit": _plain(words.publish, MODAL_TEXT_LIMIT),
        "close": _plain(words.cancel, MODAL_TEXT_LIMIT),
        "notify_on_close": True,  # Cancel drops the stored draft at once
        "private_metadata": preview_metadata(review.token, channel_id),
        "blocks": blocks[:MODAL_BLOCKS],
    }


def _mrkdwn(text: str) -> JsonDict:
    return {"type": "mrkdwn", "text": text[:3000]}


def errors_response(errors: Mapping[str, str]) -> JsonDict:
    """``response_action: errors``: each message shown under its input block; keys that name no field of
    the form are left out (Slack refuses an error for a block the view does not have)."""
    return {"response_action": "errors", "errors": {key: text for key, text in errors.items() if key in FIELDS}}


# ---------------------------------------------------------------------------------------------
# Reading a submission


def _state_of(view: Mapping[str, Any], block_id: str) -> Mapping[str, Any] | None:
    state = view.get("state")
    values = state.get("values") if isinstance(state, Mapping) else None
    if not isinstance(values, Mapping):
        raise MalformedPayload("view_submission without view.state.values")
    block = values.get(block_id)
    if block is None:
        return None
    element = block.get(VALUE) if isinstance(block, Mapping) else None
    if not isinstance(element, Mapping):
        raise MalformedPayload(f"view.state.values.{block_id} is not one of prikbord's inputs")
    return element


def _text(view: Mapping[str, Any], block_id: str) -> str:
    element = _state_of(view, block_id)
    value = None if element is None else element.get("value")
    if value is not None and not isinstance(value, str):
        raise MalformedPayload(f"view.state.values.{block_id}.value must be a string")
    return value or ""


def _selected(view: Mapping[str, Any], block_id: str) -> list[str]:
    element = _state_of(view, block_id)
    if element is None:
        return []
    one = element.get("selected_option")
    many = element.get("selected_options")
    chosen = [one] if one is not None else (many if isinstance(many, list) else [])
    if one is not None and not isinstance(one, Mapping):
        raise MalformedPayload(f"view.state.values.{block_id}.selected_option must be an object")
    found = [c.get("value") for c in chosen if isinstance(c, Mapping)]
    if len(found) != len(chosen) or not all(isinstance(v, str) for v in found):
        raise MalformedPayload(f"view.state.values.{block_id} holds an option without a value")
    return [str(v) for v in found]


def read_form(view: Mapping[str, Any]) -> PostFormValues:
    """The submitted form (``view`` of a view_submission) → :class:`PostFormValues`. Raises MalformedPayload."""
    cta = _selected(view, "cta")
    kind = cta[0] if cta else "none"
    if kind not in CTA_KINDS:
        raise MalformedPayload(f"call to action {kind[:40]!r} is none of the form's options")
    return PostFormValues(
        title=_text(view, "title"),
        body=_text(view, "body"),
        cta=kind,
        options=_text(view, "options"),
        deadline=_text(view, "deadline"),
        url=_text(view, "url"),
        audience=_text(view, "audience"),
        schedule=_text(view, "schedule"),
        urgent="urgent" in _selected(view, "urgent"),
    )
