"""Server-rendered pages: one Jinja2 environment with autoescaping on for every template, and the
small filters the templates use."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape
from starlette.responses import HTMLResponse

from adapters.markup import MATRIX_HTML, MarkupParser, render_html
from bot.web.preview import sanitize

# Search snippets come back with these around matched words; they cannot occur in stored text.
MARK_OPEN, MARK_CLOSE = "\x02", "\x03"


class Pages:
    def __init__(self, zone: ZoneInfo) -> None:
        self._zone = zone
        self._env = Environment(
            loader=PackageLoader("bot.web", "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._parser = MarkupParser()
        self._env.filters.update(
            local=self._local, pct=_pct, marked=_marked, markdown=self._markdown, marked_markdown=self._marked_markdown
        )

    def _markdown(self, source: str | None) -> Markup:
        """A post body as HTML: the Markdown subset parsed as for every platform, rendered with paragraphs
        and lists (Matrix's dialect) and sanitised as the compose preview is."""
        return sanitize(render_html(self._parser.parse(source or ""), MATRIX_HTML))

    def _marked_markdown(self, snippet: str) -> Markup:
        """A search snippet rendered like a body, its search marks (plain text to the parser) as <mark>."""
        html = str(self._markdown(snippet))
        return Markup(html.replace(MARK_OPEN, "<mark>").replace(MARK_CLOSE, "</mark>"))  # sanitised above

    def _local(self, moment: datetime | None, pattern: str = "%a %d %b %Y %H:%M") -> str:
        return moment.astimezone(self._zone).strftime(pattern) if moment else "—"

    def render(self, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        html = self._env.get_template(name).render(**context)
        return HTMLResponse(html, status_code=status)


def _pct(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.0f}%"


def _marked(snippet: str) -> Markup:
    """Escape a snippet, then turn the search marks into <mark> elements."""
    return Markup(str(escape(snippet)).replace(MARK_OPEN, "<mark>").replace(MARK_CLOSE, "</mark>"))
