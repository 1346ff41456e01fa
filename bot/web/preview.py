"""How a post will look on each platform, rendered by the adapters' own renderers.

Each platform's pure ``translate`` module renders when it is importable; otherwise the shared
renderers of ``adapters.markup`` stand in (the platform modules are optional: an install may lack a
platform's SDK). Renderer output is HTML that escapes all text, and it is sanitised once more here
(a short allow-list of tags and attributes) before the template inserts it unescaped.
"""

from __future__ import annotations

import html
import importlib
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from bs4 import BeautifulSoup, Tag
from markupsafe import Markup

from adapters.base import Adapter, DeliveryError, OutboundMessage
from adapters.markup import MATRIX_HTML, TELEGRAM_HTML, render_html, render_plain

log = logging.getLogger("prikbord.web.preview")

PLATFORM_NAMES = {"console": "Console", "telegram": "Telegram", "slack": "Slack", "matrix": "Matrix"}
_ALLOWED = {"b", "strong", "i", "em", "u", "s", "del", "code", "pre", "a", "blockquote", "p", "br", "ul", "ol", "li"}
_SAFE_SCHEMES = ("http://", "https://", "mailto:", "tg://")


@dataclass(frozen=True, slots=True)
class PlatformPreview:
    platform: str
    name: str
    configured: bool
    body: Markup  # sanitised HTML
    buttons: tuple[tuple[str, ...], ...] = ()
    error: str | None = None
    notes: tuple[str, ...] = field(default=())


def sanitize(fragment: str) -> Markup:
    soup = BeautifulSoup(fragment, "html.parser")
    for node in soup.find_all(["script", "style", "iframe", "object", "embed"]):
        node.decompose()
    for node in soup.find_all(True):
        if not isinstance(node, Tag):
            continue
        if node.name not in _ALLOWED:
            node.unwrap()
            continue
        kept: dict[str, str] = {}
        href = node.get("href")
        if node.name == "a" and isinstance(href, str) and href.strip().lower().startswith(_SAFE_SCHEMES):
            kept = {"href": href.strip(), "rel": "noopener noreferrer nofollow"}
        start = node.get("start")
        if node.name == "ol" and isinstance(start, str) and start.isdigit():
            kept["start"] = start
        node.attrs = kept  # type: ignore[assignment]
    return Markup(str(soup))  # sanitised just above


def _optional(module: str) -> ModuleType | None:
    try:
        return importlib.import_module(module)
    except Exception:  # not installed, or mid-rewrite: fall back to the shared renderers
        log.debug("preview: %s unavailable", module, exc_info=True)
        return None


def _console(message: OutboundMessage) -> tuple[Markup, tuple[tuple[str, ...], ...]]:
    from adapters.console.translate import render_message

    return Markup("<pre>{}</pre>").format(render_message("m1", message)), ()


def _telegram(message: OutboundMessage) -> tuple[Markup, tuple[tuple[str, ...], ...]]:
    translate = _optional("adapters.telegram.translate")
    try:
        if translate is not None:
            parts = [str(p) for p in translate.split_text(message.markup)]
            keyboard = translate.keyboard(message) or {}
            rows = tuple(tuple(str(b.get("text", "")) for b in row) for row in keyboard.get("inline_keyboard", []))
            body = Markup('<hr class="split">').join(sanitize(p) for p in parts)
            return Markup('<div class="pre-wrap">{}</div>').format(body), rows
    except DeliveryError:
        raise
    except Exception:
        log.warning("preview: the Telegram renderer failed; showing the shared renderer", exc_info=True)
    return Markup('<div class="pre-wrap">{}</div>').format(sanitize(render_html(message.markup, TELEGRAM_HTML))), (
        tuple(a.label for a in message.actions),
    )


_MRKDWN_LINK = re.compile(r"&lt;(https?://[^|&\s]+|mailto:[^|&\s]+)\|(.*?)&gt;")
_MRKDWN_STYLES = (
    (re.compile(r"(?<![\w*])\*(\S(?:.*?\S)?)\*(?![\w*])"), "b"),
    (re.compile(r"(?<![\w_])_(\S(?:.*?\S)?)_(?![\w_])"), "i"),
    (re.compile(r"`([^`]+)`"), "code"),
)


def mrkdwn_html(text: str) -> Markup:
    """A reader's view of Slack mrkdwn: bold, italic, code and links; all else as written."""
    shown = html.escape(html.unescape(text), quote=False)
    shown = _MRKDWN_LINK.sub(lambda m: f'<a href="{html.escape(m.group(1))}">{m.group(2)}</a>', shown)
    for pattern, tag in _MRKDWN_STYLES:
        shown = pattern.sub(lambda m, t=tag: f"<{t}>{m.group(1)}</{t}>", shown)  # type: ignore[misc]
    return sanitize(shown)


def _slack(message: OutboundMessage) -> tuple[Markup, tuple[tuple[str, ...], ...]]:
    translate = _optional("adapters.slack.translate")
    try:
        if translate is not None:
            blocks: Sequence[Mapping[str, Any]] = translate.compose(message).blocks
            parts: list[Markup] = []
            rows: list[tuple[str, ...]] = []
            for block in blocks:
                kind = block.get("type")
                if kind == "header":
                    parts.append(Markup("<p><strong>{}</strong></p>").format(block["text"]["text"]))
                elif kind == "section":
                    parts.append(Markup('<p class="pre-wrap">{}</p>').format(mrkdwn_html(block["text"]["text"])))
                elif kind == "context":
                    texts = " ".join(str(e.get("text", "")) for e in block.get("elements", []))
                    parts.append(Markup('<p class="context">{}</p>').format(mrkdwn_html(texts)))
                elif kind == "actions":
                    rows.append(tuple(str(e["text"]["text"]) for e in block.get("elements", [])))
            return Markup("").join(parts), tuple(rows)
    except DeliveryError:
        raise
    except Exception:
        log.warning("preview: the Slack renderer failed; showing plain text", exc_info=True)
    return Markup('<p class="pre-wrap">{}</p>').format(render_plain(message.markup)), (
        tuple(a.label for a in message.actions),
    )


def _matrix(message: OutboundMessage) -> tuple[Markup, tuple[tuple[str, ...], ...]]:
    translate = _optional("adapters.matrix.translate")
    try:
        if translate is not None:
            return sanitize(str(translate.message_content(message)["formatted_body"])), ()
    except DeliveryError:
        raise
    except Exception:
        log.warning("preview: the Matrix renderer failed; showing the shared renderer", exc_info=True)
    return sanitize(render_html(message.markup, MATRIX_HTML)), ()


_RENDERERS = {"console": _console, "telegram": _telegram, "slack": _slack, "matrix": _matrix}


def previews(message: OutboundMessage, adapters: Mapping[str, Adapter]) -> list[PlatformPreview]:
    """One preview per platform, configured ones first; a platform that would refuse the post says why."""
    order = sorted(_RENDERERS, key=lambda p: (p not in adapters, list(_RENDERERS).index(p)))
    shown: list[PlatformPreview] = []
    for platform in order:
        configured = platform in adapters
        error: str | None = None
        body: Markup = Markup("")
        buttons: tuple[tuple[str, ...], ...] = ()
        try:
            if configured:
                adapters[platform].validate(message)
            body, buttons = _RENDERERS[platform](message)
        except DeliveryError as exc:
            error = str(exc)
        shown.append(PlatformPreview(platform, PLATFORM_NAMES[platform], configured, body, buttons, error))
    return shown
