"""Console translation, pure: script lines → normalized events; messages → text.

A line is ``NAME: TEXT`` (what person NAME types). ``\\n`` inside TEXT is a new line; a line without
a name speaks as the previous speaker; a line starting with ``#`` is a comment.

TEXT forms:
  ``/cmd args`` or ``!cmd args``   a command
  ``@m3 press ACTION``             press a button of message m3 (``like``, ``ack``, ``vote:2``, …)
  ``@m3 react 👍`` / ``unreact 👍`` add or remove a reaction on message m3
  ``@m3 TEXT``                     reply to message m3
anything else is a plain message: chat, unless it answers a question the bot asked that person (a post
composed step by step).
"""

from __future__ import annotations

import html
import re
import secrets
from dataclasses import dataclass, field

from adapters.base import (
    Action,
    ActionPressed,
    ChatRef,
    CommandIssued,
    Event,
    MessagePosted,
    MessagePreview,
    MessageRef,
    OutboundAttachment,
    OutboundMessage,
    PreviewBlock,
    ReactionAdded,
    ReactionRemoved,
    ReplyPosted,
    UserRef,
)
from adapters.markup import render_plain

PLATFORM = "console"
_SPEAKER = re.compile(r"^(?P<name>[A-Za-z][A-Za-z0-9_.-]{0,63}):(?:\s|$)(?P<text>.*)$")
_TARGETED = re.compile(r"^@(?P<msg>m\d+)\s+(?P<rest>.+)$", re.DOTALL)
# Words that start option lines of a post; never taken for a speaker's name.
_NOT_NAMES = frozenset({"cta", "to", "kind", "http", "https"})


def new_session_id() -> str:
    """A random id for one console session: its event ids never repeat another session's or process's."""
    return secrets.token_hex(6)


@dataclass
class ScriptState:
    """What the parser remembers between lines."""

    speaker: str | None = None
    line_no: int = 0
    session: str = field(default_factory=new_session_id)


def event_id_for(state: ScriptState) -> str:
    """The platform event id of the current line: unique across sessions on one database (de-duplication
    by event id must never take a later session's line 3 for an earlier session's)."""
    return f"{state.session}.line-{state.line_no}"


def parse_line(line: str, state: ScriptState, chat: ChatRef) -> Event | None:
    """One script line → at most one event. Updates ``state`` (speaker, line number)."""
    state.line_no += 1
    stripped = line.rstrip("\r\n")
    if not stripped.strip() or stripped.lstrip().startswith("#"):
        return None
    match = _SPEAKER.match(stripped)
    if match and match.group("name").lower() not in _NOT_NAMES:
        state.speaker = match.group("name")
        text = match.group("text")
    else:
        text = stripped
    if state.speaker is None:
        return None
    text = text.replace("\\n", "\n").strip()
    user = UserRef(PLATFORM, state.speaker.lower(), state.speaker)
    event_id = event_id_for(state)
    if text[:1] in ("/", "!") and len(text) > 1:
        head, _, args = text[1:].partition(" ")
        if "\n" in head:
            head, _, rest = head.partition("\n")
            args = rest + (" " + args if args else "")
        name = head.split("@", 1)[0].lower()
        message = MessageRef(chat, event_id)
        return CommandIssued(event_id, user, chat, name, args.strip(), private_chat=False, message=message)
    targeted = _TARGETED.match(text)
    if targeted:
        ref = MessageRef(chat, targeted.group("msg"))
        verb, _, arg = targeted.group("rest").partition(" ")
        arg = arg.strip()
        if verb == "press" and arg:
            return ActionPressed(event_id, user, ref, arg)
        if verb == "react" and arg:
            return ReactionAdded(event_id, user, ref, arg)
        if verb == "unreact" and arg:
            return ReactionRemoved(event_id, user, ref, arg)
        return ReplyPosted(event_id, user, ref, targeted.group("rest"), MessageRef(chat, event_id))
    return MessagePosted(event_id, user, chat, text, message=MessageRef(chat, event_id))


def action_label(action: Action) -> str:
    count = f" ({action.count})" if action.count is not None else ""
    if action.url:
        return f"{action.label}: {action.url}"
    return f"[{action.action_id}] {action.label}{count}"


def size_text(size: int) -> str:
    """A file's size the way people read it: bytes, kB or MB (1,024 each)."""
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} kB"
    return f"{size / (1024 * 1024):.1f} MB"


def attachment_line(item: OutboundAttachment) -> str:
    """``📎 plan.pdf (1.2 MB)``; an image with its dimensions: ``🖼 team.jpg (640×480, 88.1 kB)``."""
    if item.is_image and item.width and item.height:
        return f"🖼 {item.file_name} ({item.width}×{item.height}, {size_text(item.size)})"
    return f"{'🖼' if item.is_image else '📎'} {item.file_name} ({size_text(item.size)})"


def render_message(message_id: str, message: OutboundMessage) -> str:
    """The text a console reader sees for a posted message (its images and files as their names and sizes)."""
    body = render_plain(message.markup)
    lines = [body, *(attachment_line(a) for a in message.attachments)]
    if message.actions:
        lines.append("  ".join(action_label(a) for a in message.actions))
    return "\n".join(lines)


def preview(message: OutboundMessage) -> MessagePreview:
    """The console's text as a reader sees it, buttons included (they are printed in the text)."""
    text = html.escape(render_message("m1", message), quote=False)
    return MessagePreview(((PreviewBlock(f"<pre>{text}</pre>"),),))
