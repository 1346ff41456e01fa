"""Slack translation, pure: OutboundMessage → Block Kit; Slack payloads → normalized events.

No I/O here. The adapter calls :func:`compose` before every send/edit and :func:`parse_request` on
every signed request; tests call them directly.

Outbound shape: a header (when the post starts with a bold title), mrkdwn sections (≤ 3000
characters each, split at paragraphs), a context line, and actions blocks with one button per
action. Every post carries ``metadata`` (event type ``prikbord_post``) so a restart can find what
was already sent.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from adapters.base import (
    Action,
    ActionPressed,
    ActionStyle,
    ChannelMembershipChanged,
    ChatRef,
    CommandIssued,
    Event,
    MessagePreview,
    MessageRef,
    MessageTooLong,
    OutboundMessage,
    PreviewBlock,
    PreviewStyle,
    ReactionAdded,
    ReactionRemoved,
    ReplyPosted,
    UserRef,
)
from adapters.markup import Bold, Document, LineBreak, Paragraph, Text, TooLong, inline_plain, render_plain
from adapters.slack.emoji import emoji_for
from adapters.slack.mrkdwn import SECTION_LIMIT, escape, mrkdwn_to_html, slack_len, split_sections

PLATFORM = "slack"
MAIN_COMMAND = "/prikbord"
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
MAX_COMMAND_TEXT = 40_000  # a slash command's text: what the composer holds (a message's text limit)

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

_HOME_VALUE = re.compile(r"^@(?P<channel>[A-Z0-9]+)/(?P<ts>\d+\.\d+)$")
HOME_EXCERPT = 280


def home_button_value(ref: MessageRef) -> str:
    """A button in the App Home names the post's message, so the press resolves like one under it."""
    return f"@{ref.chat.chat_id}/{ref.message_id}"


def compose_home(items: Sequence[tuple[MessageRef, OutboundMessage]], *, title: str = "Open must-reads") -> JsonDict:
    """The App Home view: per item its title, a short excerpt and its buttons (at most 100 blocks)."""
    blocks: list[JsonDict] = [{"type": "header", "block_id": "home-title", "text": _plain(title[:HEADER_LIMIT])}]
    if not items:
        blocks.append(_section("home-empty", "Nothing open for you. 🎉"))
    for n, (ref, message) in enumerate(items):
        item_blocks = [_section(f"item-{n}", _home_summary(message))]
        item_blocks.extend(_actions_blocks(message.actions, home_button_value(ref), f"item-{n}-actions"))
        item_blocks.append({"type": "divider", "block_id": f"item-{n}-end"})
        if len(blocks) + len(item_blocks) > MAX_VIEW_BLOCKS - 1:
            more = len(items) - n
            blocks.append(_context_block("home-more", f"…and {more} more: see the channels"))
            break
        blocks.extend(item_blocks)
    return {"type": "home", "blocks": blocks}


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


# ---------------------------------------------------------------------------------------------
# Inbound


class MalformedPayload(ValueError):
    """A signed request whose payload is not what Slack sends: answered with 400."""


@dataclass(frozen=True, slots=True)
class Inbound:
    """What one request from Slack means for prikbord.

    ``events`` go to the core's sink; ``response_url`` answers a slash command; ``home_user`` is set
    when that person's App Home should be (re)published (opened, or a button pressed there).
    """

    events: tuple[Event, ...] = ()
    response_url: str | None = None
    home_user: UserRef | None = None


# The fields any payload may carry at its top or in the objects below it that name who, where and what:
# ids are strings (or objects with an id), the nested objects objects, lists lists of objects. bolt reads
# them all before prikbord's listener runs, and the parse functions below rely on the same types.
_ID_FIELDS = ("user", "channel", "team", "enterprise")
_TEXT_FIELDS = (
    "type", "subtype", "user_id", "channel_id", "team_id", "enterprise_id", "event_id", "trigger_id",
    "response_url", "command", "ts", "thread_ts", "event_ts", "reaction", "item_user", "parent_user_id",
    "bot_id", "action_id", "block_id", "value", "name", "username", "tab", "inviter", "actor_id", "challenge",
)  # fmt: skip
_OBJECT_FIELDS = ("event", "item", "message", "previous_message", "assistant_thread", "container", "view")
_LIST_FIELDS = ("authorizations", "actions", "response_urls")
_SHAPE_DEPTH = 6  # how far below the top the nested objects are checked


def check_shape(payload: Mapping[str, Any], where: str = "payload", depth: int = 0) -> None:
    """Refuse (MalformedPayload) a payload whose well-known fields have types Slack never sends:
    a ``user`` that is a number, an ``event`` that is a string, ``actions`` that are not objects …"""
    for key in _ID_FIELDS:
        value = payload.get(key)
        if value is not None and not isinstance(value, str | Mapping):
            raise MalformedPayload(f"{where}.{key} must be an id or an object, not {type(value).__name__}")
        if isinstance(value, Mapping) and depth < _SHAPE_DEPTH:
            check_shape(value, f"{where}.{key}", depth + 1)
    for key in _TEXT_FIELDS:
        value = payload.get(key)
        if value is not None and not isinstance(value, str):
            raise MalformedPayload(f"{where}.{key} must be a string, not {type(value).__name__}")
    for key in _OBJECT_FIELDS:
        value = payload.get(key)
        if value is None:
            continue
        if not isinstance(value, Mapping):
            raise MalformedPayload(f"{where}.{key} must be an object, not {type(value).__name__}")
        if depth < _SHAPE_DEPTH:
            check_shape(value, f"{where}.{key}", depth + 1)
    for key in _LIST_FIELDS:
        value = payload.get(key)
        if value is None:
            continue
        if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
            raise MalformedPayload(f"{where}.{key} must be a list of objects")
        if depth < _SHAPE_DEPTH:
            for n, item in enumerate(value):
                check_shape(item, f"{where}.{key}[{n}]", depth + 1)


def parse_request(body: object, bot_user_id: str | None, *, main_command: str = MAIN_COMMAND) -> Inbound:
    """A parsed request body (bolt's ``req.body``) → :class:`Inbound`. Raises MalformedPayload."""
    if not isinstance(body, Mapping) or not body:
        raise MalformedPayload("empty or non-object payload")
    check_shape(body)
    kind = body.get("type")
    if kind == "url_verification":
        _text(body, "challenge")
        return Inbound()
    if kind == "event_callback":
        return parse_event_callback(body, bot_user_id)
    if kind == "block_actions":
        return parse_block_actions(body)
    if "command" in body and kind is None:
        return parse_slash_command(body, main_command=main_command)
    if "ssl_check" in body:
        return Inbound()  # Slack probing the certificate; bolt answers it
    if not isinstance(kind, str):
        raise MalformedPayload("payload has no type")
    return Inbound()  # other interactions (shortcuts, view submissions): nothing for the core


def _text(data: Mapping[str, Any], key: str, where: str = "payload") -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise MalformedPayload(f"{where} lacks {key!r}")
    return value


def _optional_text(data: Mapping[str, Any], key: str, where: str = "payload") -> str:
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise MalformedPayload(f"{where}.{key} must be a string, not {type(value).__name__}")
    return value


def _object(data: Mapping[str, Any], key: str, where: str = "payload") -> Mapping[str, Any]:
    value = data.get(key)
    if not isinstance(value, Mapping):
        raise MalformedPayload(f"{where} lacks object {key!r}")
    return value


def parse_event_callback(body: Mapping[str, Any], bot_user_id: str | None) -> Inbound:
    event_id = _text(body, "event_id")
    event = _object(body, "event")
    kind = _text(event, "type", "event")

    def chat(channel: str) -> ChatRef:
        return ChatRef(PLATFORM, channel)

    def user(user_id: str) -> UserRef:
        return UserRef(PLATFORM, user_id)

    if kind in ("reaction_added", "reaction_removed"):
        item = _object(event, "item", "event")
        if item.get("type") != "message":
            return Inbound()
        item_user = event.get("item_user")
        if bot_user_id is not None and isinstance(item_user, str) and item_user != bot_user_id:
            return Inbound()  # a reaction on someone else's message: not a post of ours
        ref = MessageRef(chat(_text(item, "channel", "item")), _text(item, "ts", "item"))
        who = user(_text(event, "user", "event"))
        reaction = emoji_for(_text(event, "reaction", "event"))
        cls = ReactionAdded if kind == "reaction_added" else ReactionRemoved
        return Inbound(events=(cls(event_id, who, ref, reaction),))

    if kind == "message":
        return _parse_message(event_id, event, bot_user_id)

    if kind in ("member_joined_channel", "member_left_channel"):
        member = _text(event, "user", "event")
        if bot_user_id is None or member != bot_user_id:
            return Inbound()
        channel = _text(event, "channel", "event")
        joined = kind == "member_joined_channel"
        actor = event.get("inviter") if joined else None
        by = f" by {actor}" if isinstance(actor, str) and actor else ""
        reason = (
            f"the bot was added to Slack channel {channel}{by}"
            if joined
            else f"the bot was removed from Slack channel {channel}: invite it again or remove the channel from config"
        )
        who = user(actor if isinstance(actor, str) and actor else member)
        return Inbound(events=(ChannelMembershipChanged(event_id, who, chat(channel), joined, reason),))

    if kind in ("channel_left", "group_left"):
        # Sent to the bot itself when it is removed from a (private) channel.
        channel = _text(event, "channel", "event")
        actor = event.get("actor_id")
        who = user(actor if isinstance(actor, str) and actor else (bot_user_id or "unknown"))
        reason = f"the bot was removed from Slack channel {channel}: invite it again or remove the channel from config"
        return Inbound(events=(ChannelMembershipChanged(event_id, who, chat(channel), False, reason),))

    if kind == "app_home_opened":
        if event.get("tab", "home") != "home":
            return Inbound()
        return Inbound(home_user=user(_text(event, "user", "event")))

    return Inbound()


_REPLY_SUBTYPES = (None, "thread_broadcast", "file_share")


def _parse_message(event_id: str, event: Mapping[str, Any], bot_user_id: str | None) -> Inbound:
    thread_ts = event.get("thread_ts")
    ts = event.get("ts")
    if event.get("subtype") not in _REPLY_SUBTYPES or event.get("bot_id"):
        return Inbound()  # edits, deletions, joins and bots' own messages are not replies
    if not isinstance(thread_ts, str) or not thread_ts or thread_ts == ts:
        return Inbound()  # not in a thread, or the thread's parent itself
    parent_user = event.get("parent_user_id")
    if bot_user_id is not None and isinstance(parent_user, str) and parent_user != bot_user_id:
        return Inbound()  # a thread under someone else's message
    channel = ChatRef(PLATFORM, _text(event, "channel", "event"))
    who = UserRef(PLATFORM, _text(event, "user", "event"))
    text = _optional_text(event, "text", "event")
    reply = MessageRef(channel, ts) if isinstance(ts, str) and ts else None
    return Inbound(events=(ReplyPosted(event_id, who, MessageRef(channel, thread_ts), text, reply),))


def parse_block_actions(body: Mapping[str, Any]) -> Inbound:
    person = _object(body, "user")
    user = UserRef(PLATFORM, _text(person, "id", "user"), str(person.get("name") or person.get("username") or ""))
    actions = body.get("actions")
    if not isinstance(actions, list) or not actions or not all(isinstance(a, Mapping) for a in actions):
        raise MalformedPayload("block_actions without actions")
    container = _object(body, "container")
    trigger = body.get("trigger_id")
    from_home = container.get("type") == "view"
    message: MessageRef | None = None
    if not from_home:
        channel = container.get("channel_id") or _object(body, "channel").get("id")
        ts = container.get("message_ts") or _object(body, "message").get("ts")
        if not isinstance(channel, str) or not channel or not isinstance(ts, str) or not ts:
            raise MalformedPayload("block_actions without the message's channel and ts")
        message = MessageRef(ChatRef(PLATFORM, channel), ts)
    events: list[Event] = []
    for n, action in enumerate(actions):
        action_id = _text(action, "action_id", "action")
        ref = message if message is not None else _home_ref(action.get("value"))
        if ref is None:
            continue  # a button of the home view that names no post
        base = trigger if isinstance(trigger, str) and trigger else f"{user.user_id}:{action.get('action_ts', '')}"
        event_id = base if n == 0 else f"{base}:{n}"
        events.append(ActionPressed(event_id, user, ref, action_id))
    response_url = body.get("response_url")
    return Inbound(
        events=tuple(events),
        response_url=response_url if isinstance(response_url, str) and response_url else None,
        home_user=user if from_home else None,
    )


def _home_ref(value: object) -> MessageRef | None:
    match = _HOME_VALUE.match(value) if isinstance(value, str) else None
    if match is None:
        return None
    return MessageRef(ChatRef(PLATFORM, match.group("channel")), match.group("ts"))


def parse_slash_command(body: Mapping[str, Any], *, main_command: str = MAIN_COMMAND) -> Inbound:
    """``/prikbord CMD ARGS`` → CommandIssued(CMD, ARGS); another slash command ``/cmd ARGS`` → (cmd, ARGS)."""
    command = _text(body, "command").strip()
    if not command.startswith("/"):
        raise MalformedPayload("slash command does not start with '/'")
    user_id = _text(body, "user_id")
    channel_id = _text(body, "channel_id")
    text = _optional_text(body, "text").strip()
    if len(text) > MAX_COMMAND_TEXT:
        # Typed into the message composer, which holds at most a message's worth: a 900 KB `/search`
        # is no command anyone typed, and answering it would echo it back.
        raise MalformedPayload(f"slash command text is {len(text)} characters; Slack sends at most {MAX_COMMAND_TEXT}")
    if command.lower() == main_command.lower():
        head, _, args = text.partition(" ")
        name = head.lower() or "help"
    else:
        name, args = command[1:].lower(), text
    trigger = body.get("trigger_id")
    event_id = trigger if isinstance(trigger, str) and trigger else "cmd-" + _digest(body)
    user = UserRef(PLATFORM, user_id, str(body.get("user_name") or ""))
    private = channel_id.startswith("D") or body.get("channel_name") == "directmessage"
    event = CommandIssued(event_id, user, ChatRef(PLATFORM, channel_id), name, args.strip(), private_chat=private)
    response_url = body.get("response_url")
    return Inbound(events=(event,), response_url=response_url if isinstance(response_url, str) else None)


def _digest(body: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()[:20]
