"""The preview contract: how a platform will show a message, for the web's compose page.

Each adapter's pure translate module renders a :class:`MessagePreview` from the same rendering it
sends (``preview(message)``, the :data:`adapters.base.Previewer` signature); the web only sanitizes
and lays it out.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class PreviewStyle(StrEnum):
    FLOW = "flow"  # HTML laid out as it is (paragraphs, lists, <pre>)
    LINES = "lines"  # a newline in the text is a line break (Telegram HTML, Slack mrkdwn)
    HEADER = "header"  # a title line (Slack's header block)
    CONTEXT = "context"  # small print under the body (Slack's context block)


@dataclass(frozen=True, slots=True)
class PreviewBlock:
    """An HTML fragment whose text is escaped, using only simple tags (b, strong, i, em, u, s, code,
    pre, a href, blockquote, p, br, ul, ol, li). The web sanitizes it once more before showing it."""

    html: str
    style: PreviewStyle = PreviewStyle.FLOW


@dataclass(frozen=True, slots=True)
class MessagePreview:
    """``messages``: the blocks of each message the post is sent as (Telegram splits long posts);
    ``buttons``: the rows of button labels as the platform lays them out; ``notes``: short remarks
    for the author (e.g. which reactions count as what)."""

    messages: tuple[tuple[PreviewBlock, ...], ...]
    buttons: tuple[tuple[str, ...], ...] = ()
    notes: tuple[str, ...] = ()
