"""How a post will look on each platform: each adapter's pure ``translate.preview`` renders it (see
:class:`adapters.base.MessagePreview`) from the same rendering it sends; bot/app.py hands the web one
preview function per platform. Here the result is only sanitised (a short allow-list of tags and
attributes, though renderers already escape all text) and laid out for the compose page.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from bs4 import BeautifulSoup, Tag
from markupsafe import Markup

from adapters.base import Adapter, DeliveryError, MessagePreview, OutboundMessage, PreviewBlock, Previewer, PreviewStyle

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


_LAYOUT = {
    PreviewStyle.FLOW: Markup("{}"),
    PreviewStyle.LINES: Markup('<div class="pre-wrap">{}</div>'),
    PreviewStyle.HEADER: Markup("<p><strong>{}</strong></p>"),
    PreviewStyle.CONTEXT: Markup('<p class="context">{}</p>'),
}


def _block(block: PreviewBlock) -> Markup:
    return _LAYOUT[block.style].format(sanitize(block.html))


def layout(preview: MessagePreview) -> Markup:
    """The messages one after another, a dashed rule where the platform starts a new message."""
    return Markup('<hr class="split">').join(Markup("").join(_block(b) for b in blocks) for blocks in preview.messages)


def previews(
    message: OutboundMessage, adapters: Mapping[str, Adapter], previewers: Mapping[str, Previewer]
) -> list[PlatformPreview]:
    """One preview per platform, configured ones first; a platform that would refuse the post says why."""
    known = list(previewers)
    order = sorted(known, key=lambda p: (p not in adapters, known.index(p)))
    shown: list[PlatformPreview] = []
    for platform in order:
        configured = platform in adapters
        name = PLATFORM_NAMES.get(platform, platform.title())
        try:
            if configured:
                adapters[platform].validate(message)
            rendered = previewers[platform](message)
        except DeliveryError as exc:
            shown.append(PlatformPreview(platform, name, configured, Markup(""), error=str(exc)))
            continue
        body = layout(rendered)
        shown.append(PlatformPreview(platform, name, configured, body, rendered.buttons, notes=rendered.notes))
    return shown
