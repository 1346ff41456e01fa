"""Matrix rendering, pure: outbound messages → ``m.room.message`` content, and the reaction keys that
stand for calls to action.

Nothing here does I/O or imports ``nio``; ``translate.py`` re-exports it beside the inbound half.

Calls to action are reactions. Each action's reaction key is :func:`action_emoji` (``Action.emoji``, else
the table below) and is shown in the text beside its label and count. The adapter remembers, per sent
message, which key stands for which ``action_id`` (:func:`action_keys`); :func:`action_for_reaction` is
the same table the other way round, for the core to map free reactions (e.g. a 👍 on a post whose call
to action is a poll).

=========  ==========================  ======================================
key        action id                   when
=========  ==========================  ======================================
👍          ``like``                    always (skin tones ignored)
✅          ``ack``                     ``rsvp:yes`` on an RSVP post
❌          ``rsvp:no``                 RSVP posts only
🤔          ``rsvp:maybe``              RSVP posts only
1️⃣ … 🔟     ``vote:1`` … ``vote:10``    poll options
=========  ==========================  ======================================
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from typing import Any

from adapters.base import Action, MessagePreview, OutboundMessage, PreviewBlock
from adapters.markup import MATRIX_HTML, render_html, render_plain

HTML_FORMAT = "org.matrix.custom.html"
# The homeserver refuses events over 65536 bytes (the whole signed PDU); keep headroom for hashes,
# signatures and the relation fields the server adds.
MAX_CONTENT_BYTES = 60_000

Content = dict[str, Any]

# ---------------------------------------------------------------------------------------------
# Reaction keys

KEYCAPS: tuple[str, ...] = ("1️⃣", "2️⃣", "3️⃣", "4️⃣", "5️⃣", "6️⃣", "7️⃣", "8️⃣", "9️⃣", "🔟")
LIKE = "👍"
ACK = "✅"
RSVP_KEYS: Mapping[str, str] = {"yes": "✅", "no": "❌", "maybe": "🤔"}

_VARIATION_SELECTOR = "\ufe0f"
_SKIN_TONES = re.compile("[\U0001f3fb-\U0001f3ff]")


def normalize_key(key: str) -> str:
    """Reaction keys compare without emoji presentation selectors and skin tones.

    Clients differ: some send ``1⃣`` for ``1️⃣`` (no U+FE0F), some ``👍🏽`` for ``👍``.
    """
    return _SKIN_TONES.sub("", key.strip().replace(_VARIATION_SELECTOR, ""))


_BY_KEY: dict[str, str] = {normalize_key(k): f"vote:{n}" for n, k in enumerate(KEYCAPS, start=1)}
_BY_KEY[normalize_key(LIKE)] = "like"
_RSVP_BY_KEY: dict[str, str] = {normalize_key(k): f"rsvp:{v}" for v, k in RSVP_KEYS.items()}


def default_emoji(action_id: str) -> str | None:
    """The reaction key for an action that did not name one (``Action.emoji`` is None)."""
    kind, _, value = action_id.partition(":")
    if kind == "like":
        return LIKE
    if kind == "ack":
        return ACK
    if kind == "rsvp":
        return RSVP_KEYS.get(value)
    if kind == "vote" and value.isdigit() and 1 <= int(value) <= len(KEYCAPS):
        return KEYCAPS[int(value) - 1]
    return None


def action_emoji(action: Action) -> str | None:
    """The reaction key that presses ``action``; None for link actions and actions without a key."""
    if action.url:
        return None
    return action.emoji or default_emoji(action.action_id)


def action_for_reaction(key: str, *, rsvp: bool = False) -> str | None:
    """The action a free reaction stands for (the table in the module doc), or None.

    ``rsvp`` says the post asks for an RSVP, where ✅/❌/🤔 answer yes/no/maybe instead of ✅ = ack.
    """
    norm = normalize_key(key)
    if rsvp and norm in _RSVP_BY_KEY:
        return _RSVP_BY_KEY[norm]
    if norm == normalize_key(ACK):
        return "ack"
    return _BY_KEY.get(norm)


def action_keys(message: OutboundMessage) -> dict[str, str]:
    """Normalized reaction key → action id for the actions of ``message`` (what the adapter remembers)."""
    keys: dict[str, str] = {}
    for action in message.actions:
        emoji = action_emoji(action)
        if emoji:
            keys.setdefault(normalize_key(emoji), action.action_id)
    return keys


# ---------------------------------------------------------------------------------------------
# Outbound


def _action_text(action: Action, emoji: str | None) -> str:
    label = action.label.strip()
    # Labels like "✅ Read" already start with their key; do not show it twice.
    if emoji and not normalize_key(label).startswith(normalize_key(emoji)):
        label = f"{emoji} {label}" if label else emoji
    if action.count is not None:
        label = f"{label} ({action.count})"
    return label


def _actions_plain(actions: tuple[Action, ...], prompt: str) -> list[str]:
    lines: list[str] = []
    reacts = [_action_text(a, action_emoji(a)) for a in actions if not a.url and action_emoji(a)]
    if reacts:
        lines.append(f"{prompt} " + " · ".join(reacts))
    for action in actions:
        if action.url:
            lines.append(f"🔗 {_action_text(action, None)}: {action.url}")
        elif not action_emoji(action):
            lines.append(_action_text(action, None))
    return lines


def _actions_html(actions: tuple[Action, ...], prompt: str) -> list[str]:
    parts: list[str] = []
    reacts = [
        html.escape(_action_text(a, action_emoji(a)), quote=False) for a in actions if not a.url and action_emoji(a)
    ]
    if reacts:
        parts.append(f"<p>{html.escape(prompt, quote=False)} " + " · ".join(reacts) + "</p>")
    for action in actions:
        if action.url:
            label = html.escape(_action_text(action, None), quote=False)
            target = matrix_url(action.url)
            if target is None:
                parts.append(f"<p>🔗 {label}: {html.escape(action.url, quote=False)}</p>")
            else:
                parts.append(f'<p>🔗 <a href="{html.escape(target, quote=True)}">{label}</a></p>')
        elif not action_emoji(action):
            parts.append(f"<p>{html.escape(_action_text(action, None), quote=False)}</p>")
    return parts


def matrix_url(url: str) -> str | None:
    """Link targets Matrix clients accept (the spec's list, less ftp and magnet); others become plain text."""
    stripped = url.strip()
    return stripped if stripped.lower().startswith(("https://", "http://", "mailto:")) else None


def message_content(message: OutboundMessage, msgtype: str = "m.text") -> Content:
    """``m.room.message`` content: sanitized HTML ``formatted_body`` and its plain ``body`` fallback."""
    prompt = message.reaction_prompt
    plain = "\n\n".join(
        p for p in (render_plain(message.markup), "\n".join(_actions_plain(message.actions, prompt))) if p
    )
    formatted = render_html(message.markup, MATRIX_HTML, matrix_url) + "".join(_actions_html(message.actions, prompt))
    content: Content = {
        "msgtype": msgtype,
        "body": plain,
        "format": HTML_FORMAT,
        "formatted_body": formatted,
        # Intentional mentions: an empty set keeps "@room" or names in a post from pinging anyone.
        "m.mentions": {},
    }
    if message.reply_to is not None:
        content["m.relates_to"] = {"m.in_reply_to": {"event_id": message.reply_to.message_id}}
    return content


def preview(message: OutboundMessage) -> MessagePreview:
    """The ``formatted_body`` :func:`message_content` sends; calls to action are reactions, shown in the text."""
    body = str(message_content(message)["formatted_body"])
    reacts = any(action_emoji(action) for action in message.actions)
    notes = ("Matrix has no buttons: people react with the keys shown in the text",) if reacts else ()
    return MessagePreview(((PreviewBlock(body),),), notes=notes)


def edit_content(original_event_id: str, message: OutboundMessage) -> Content:
    """An ``m.replace`` edit: the new content in ``m.new_content``, a ``* ``-prefixed fallback outside.

    The fallback is for clients without edits; when the whole would be too large it keeps only a
    shortened plain body, since ``m.new_content`` is what edit-aware clients show.
    """
    new = message_content(message)
    new.pop("m.relates_to", None)  # a reply relation cannot be changed by an edit
    content: Content = {
        "msgtype": new["msgtype"],
        "body": "* " + new["body"],
        "format": HTML_FORMAT,
        "formatted_body": "* " + new["formatted_body"],
        "m.mentions": {},
        "m.new_content": new,
        "m.relates_to": {"rel_type": "m.replace", "event_id": original_event_id},
    }
    if content_size(content) > MAX_CONTENT_BYTES:
        del content["format"], content["formatted_body"]
        content["body"] = "* " + new["body"][:200] + "…"
    return content


def notice_content(text: str, in_reply_to: str | None = None) -> Content:
    """A bot answer (``m.notice``: clients and other bots know it is automated)."""
    content: Content = {"msgtype": "m.notice", "body": text, "m.mentions": {}}
    if in_reply_to:
        content["m.relates_to"] = {"m.in_reply_to": {"event_id": in_reply_to}}
    return content


def reaction_content(target_event_id: str, key: str) -> Content:
    return {"m.relates_to": {"rel_type": "m.annotation", "event_id": target_event_id, "key": key}}


def content_size(content: Content) -> int:
    return len(json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode())
