"""Slack translation, pure: OutboundMessage → Block Kit, the App Home view and the preview; the inbound
half (Slack payloads → normalized events) lives in ``inbound.py`` and is re-exported here.

No I/O here. The adapter calls :func:`compose` before every send/edit; tests call it directly.

Outbound shape: a header (when the post starts with a bold title), mrkdwn sections (≤ 3000
characters each, split at paragraphs), a context line, and actions blocks with one button per
action. Every post carries ``metadata`` (event type ``prikbord_post``) so a restart can find what
was already sent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from adapters.base import (
    Action,
    ActionStyle,
    MessagePreview,
    MessageRef,
    MessageTooLong,
    OutboundMessage,
    PreviewBlock,
    PreviewStyle,
)
from adapters.markup import Bold, Document, LineBreak, Paragraph, Text, TooLong, inline_plain, render_plain
from adapters.slack.inbound import MAIN_COMMAND as MAIN_COMMAND  # the inbound half, re-exported
from adapters.slack.inbound import PLATFORM as PLATFORM
from adapters.slack.inbound import Inbound as Inbound
from adapters.slack.inbound import MalformedPayload as MalformedPayload
from adapters.slack.inbound import check_shape as check_shape
from adapters.slack.inbound import parse_block_actions as parse_block_actions
from adapters.slack.inbound import parse_event_callback as parse_event_callback
from adapters.slack.inbound import parse_request as parse_request
from adapters.slack.inbound import parse_slash_command as parse_slash_command
from adapters.slack.mrkdwn import SECTION_LIMIT, escape, mrkdwn_to_html, slack_len, split_sections

METADATA_EVENT_TYPE = "prikbord_post"

MAX_BLOCKS = 50  # per message
MAX_VIEW_BLOCKS = 100  # per App Home view
HEADER_LIMIT = 150
BUTTON_TEXT_LIMIT = 75
BUTTONS_PER_BLOCK = 25
ACTION_ID_LIMIT = 255
VALUE_LIMIT = 2000
URL_LIMIT = 3000
FALLBACK_TEXT_LIMIT = 3000  # the notification text; the blocks carry the post itself

JsonDict = dict[str, Any]


# ---------------------------------------------------------------------------------------------
# Outbound


@dataclass(frozen=True, slots=True)
class SlackMessage:
    """The arguments of chat.postMessage / chat.update for one post."""

    text: str
    blocks: list[JsonDict]
    metadata: JsonDict | None

    def as_kwargs(self) -> JsonDict:
        kwargs: JsonDict = {"text": self.text, "blocks": self.blocks}
        if self.metadata is not None:
            kwargs["metadata"] = self.metadata
        return kwargs


def compose(message: OutboundMessage, *, section_limit: int = SECTION_LIMIT) -> SlackMessage:
    """Block Kit for ``message``. Raises :class:`MessageTooLong` with what to shorten."""
    doc = message.markup
    blocks: list[JsonDict] = []
    title = _title(doc)
    if title is not None:
        blocks.append({"type": "header", "block_id": "title", "text": _plain(title)})
        doc = Document(doc.blocks[1:])
    try:
        sections = split_sections(doc, section_limit)
    except TooLong as exc:
        raise MessageTooLong(f"post too long for Slack: {exc}") from exc
    for n, text in enumerate(sections):
        blocks.append({"type": "section", "block_id": f"body-{n}", "text": {"type": "mrkdwn", "text": text}})
    blocks.append({"type": "context", "block_id": "context", "elements": [_context(message)]})
    blocks.extend(_actions_blocks(message.actions, _button_value(message), "actions"))
    if len(blocks) > MAX_BLOCKS:
        raise MessageTooLong(
            f"post too long for Slack: it needs {len(blocks)} blocks ({len(sections)} sections of up to "
            f"{section_limit} characters) and Slack allows {MAX_BLOCKS}: shorten the post or split it in two"
        )
    return SlackMessage(text=fallback_text(message), blocks=blocks, metadata=_metadata(message))


def validate(message: OutboundMessage) -> None:
    """Refuse at compose time what Slack would refuse at send time (raises MessageTooLong)."""
    compose(message)


def preview(message: OutboundMessage) -> MessagePreview:
    """The blocks :func:`compose` sends, as a reader sees them: header, sections, context, buttons."""
    blocks: list[PreviewBlock] = []
    rows: list[tuple[str, ...]] = []
    for block in compose(message).blocks:
        kind = block["type"]
        if kind == "header":
            blocks.append(PreviewBlock(escape(block["text"]["text"]), PreviewStyle.HEADER))
        elif kind == "section":
            blocks.append(PreviewBlock(mrkdwn_to_html(block["text"]["text"]), PreviewStyle.LINES))
        elif kind == "context":
            text = " ".join(str(element["text"]) for element in block["elements"])
            blocks.append(PreviewBlock(mrkdwn_to_html(text), PreviewStyle.CONTEXT))
        elif kind == "actions":
            rows.append(tuple(str(element["text"]["text"]) for element in block["elements"]))
    return MessagePreview((tuple(blocks),), tuple(rows))


def fallback_text(message: OutboundMessage) -> str:
    """The top-level ``text``: what notifications and screen readers show."""
    plain = " ".join(render_plain(message.markup).split()) or "prikbord"
    if len(plain) > FALLBACK_TEXT_LIMIT:
        plain = plain[: FALLBACK_TEXT_LIMIT - 1].rstrip() + "…"
    return escape(plain)


def _title(doc: Document) -> str | None:
    """The header text when the first paragraph is bold throughout and fits a header."""
    if not doc.blocks or not isinstance(doc.blocks[0], Paragraph):
        return None
    children = doc.blocks[0].children
    bold = [c for c in children if isinstance(c, Bold)]
    rest_blank = all(isinstance(c, Bold | LineBreak) or (isinstance(c, Text) and not c.text.strip()) for c in children)
    if not bold or not rest_blank:
        return None
    title = " ".join(inline_plain(children).split())
    return title if title and slack_len(title) <= HEADER_LIMIT else None


def _plain(text: str) -> JsonDict:
    return {"type": "plain_text", "text": text, "emoji": True}


def _context(message: OutboundMessage) -> JsonDict:
    ref = f" · #{message.post_id}" if message.post_id is not None else ""
    return {"type": "mrkdwn", "text": f"prikbord{ref}"}


def _button_value(message: OutboundMessage) -> str:
    """A compact delivery reference: ``p12.d345`` (the pressed message itself says where it is)."""
    post = "" if message.post_id is None else f"p{message.post_id}"
    delivery = "" if message.delivery_id is None else f"d{message.delivery_id}"
    return ".".join(part for part in (post, delivery) if part) or "-"


def button_label(action: Action) -> str:
    label = action.label if action.count is None else f"{action.label} ({action.count})"
    if len(label) > BUTTON_TEXT_LIMIT:
        label = label[: BUTTON_TEXT_LIMIT - 1].rstrip() + "…"
    return label


def _button(action: Action, value: str) -> JsonDict:
    if len(action.action_id) > ACTION_ID_LIMIT:
        raise MessageTooLong(f"action id {action.action_id[:40]!r}… is over Slack's {ACTION_ID_LIMIT} characters")
    button: JsonDict = {
        "type": "button",
        "action_id": action.action_id,
        "text": _plain(button_label(action)),
        "value": value[:VALUE_LIMIT],
    }
    if action.style is not ActionStyle.DEFAULT:
        button["style"] = action.style.value  # Slack rejects "default": it is the absence of style
    if action.url is not None:
        if len(action.url) > URL_LIMIT:
            raise MessageTooLong(f"link of action {action.action_id!r} is over Slack's {URL_LIMIT} characters")
        button["url"] = action.url
    return button


def _actions_blocks(actions: Sequence[Action], value: str, block_id: str) -> list[JsonDict]:
    blocks: list[JsonDict] = []
    for n in range(0, len(actions), BUTTONS_PER_BLOCK):
        chunk = actions[n : n + BUTTONS_PER_BLOCK]
        suffix = "" if n == 0 else f"-{n // BUTTONS_PER_BLOCK}"
        blocks.append(
            {"type": "actions", "block_id": block_id + suffix, "elements": [_button(a, value) for a in chunk]}
        )
    return blocks


def _metadata(message: OutboundMessage) -> JsonDict | None:
    payload: JsonDict = {}
    if message.post_id is not None:
        payload["post_id"] = message.post_id
    if message.delivery_id is not None:
        payload["delivery_id"] = message.delivery_id
    if message.idempotency_key is not None:
        payload["idempotency_key"] = message.idempotency_key
    if not payload:
        return None
    return {"event_type": METADATA_EVENT_TYPE, "event_payload": payload}


def metadata_matches(metadata: object, idempotency_key: str) -> bool:
    """True when a message's metadata (as conversations.history returns it) is this delivery's."""
    if not isinstance(metadata, Mapping) or metadata.get("event_type") != METADATA_EVENT_TYPE:
        return False
    payload = metadata.get("event_payload")
    return isinstance(payload, Mapping) and payload.get("idempotency_key") == idempotency_key


# ---------------------------------------------------------------------------------------------
# App Home

HOME_EXCERPT = 280


def home_button_value(ref: MessageRef) -> str:
    """A button in the App Home names the post's message, so the press resolves like one under it."""
    return f"@{ref.chat.chat_id}/{ref.message_id}"


@dataclass(frozen=True, slots=True)
class HomeWords:
    """The App Home's own texts, in its reader's language (the core words them; English by default)."""

    title: str = "Open must-reads"
    empty: str = "Nothing open for you. 🎉"
    more: str = "…and %(count)s more: see the channels"  # %(count)s: how many did not fit
    latest: str = "Latest posts"
    latest_empty: str = "No posts yet."


@dataclass(frozen=True, slots=True)
class HomeContent:
    """What a person's App Home shows: their open must-reads, the latest posts (see :func:`compose_home`)
    and its words."""

    items: Sequence[tuple[MessageRef, OutboundMessage]]
    words: HomeWords = HomeWords()
    latest: Sequence[tuple[MessageRef, OutboundMessage]] = ()  # the newest posts the person can see


def compose_home(
    items: Sequence[tuple[MessageRef, OutboundMessage]] | HomeContent, *, title: str | None = None
) -> JsonDict:
    """The App Home view: the open must-reads, then the latest posts (given as HomeContent), each with
    its title, a short excerpt and its buttons; at most 100 blocks, the must-reads cut first."""
    content = items if isinstance(items, HomeContent) else HomeContent(items)
    words = content.words
    latest: list[JsonDict] = []
    if isinstance(items, HomeContent):
        latest = [{"type": "header", "block_id": "latest-title", "text": _plain(words.latest[:HEADER_LIMIT])}]
        if not content.latest:
            latest.append(_section("latest-empty", escape(words.latest_empty)))
        for n, (ref, message) in enumerate(content.latest):
            latest.extend(_home_item(f"latest-{n}", ref, message))
        latest = latest[: MAX_VIEW_BLOCKS // 2]  # room for the must-reads, which ask for an action
    heading = title or words.title
    blocks: list[JsonDict] = [{"type": "header", "block_id": "home-title", "text": _plain(heading[:HEADER_LIMIT])}]
    if not content.items:
        blocks.append(_section("home-empty", escape(words.empty)))
    for n, (ref, message) in enumerate(content.items):
        item_blocks = _home_item(f"item-{n}", ref, message)
        if len(blocks) + len(item_blocks) + len(latest) > MAX_VIEW_BLOCKS - 1:
            blocks.append(_context_block("home-more", escape(words.more % {"count": len(content.items) - n})))
            break
        blocks.extend(item_blocks)
    return {"type": "home", "blocks": blocks + latest}


def _home_item(prefix: str, ref: MessageRef, message: OutboundMessage) -> list[JsonDict]:
    blocks = [_section(prefix, _home_summary(message))]
    blocks.extend(_actions_blocks(message.actions, home_button_value(ref), f"{prefix}-actions"))
    blocks.append({"type": "divider", "block_id": f"{prefix}-end"})
    return blocks


def _section(block_id: str, mrkdwn: str) -> JsonDict:
    return {"type": "section", "block_id": block_id, "text": {"type": "mrkdwn", "text": mrkdwn}}


def _context_block(block_id: str, mrkdwn: str) -> JsonDict:
    return {"type": "context", "block_id": block_id, "elements": [{"type": "mrkdwn", "text": mrkdwn}]}


def _home_summary(message: OutboundMessage) -> str:
    doc = message.markup
    title = _title(doc)
    if title is not None:
        doc = Document(doc.blocks[1:])
    excerpt = " ".join(render_plain(doc).split())
    if len(excerpt) > HOME_EXCERPT:
        excerpt = excerpt[: HOME_EXCERPT - 1].rstrip() + "…"
    head = f"*{escape(title)}*\n" if title else ""
    ref = f" (#{message.post_id})" if message.post_id is not None else ""
    return head + escape(excerpt) + ref or "(no text)"
