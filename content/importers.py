"""Reading the old intranet's content: RSS 2.0 and Atom feeds (feedparser) and JSON-lines exports.

Pure parsing, no I/O and no store: bytes in, :class:`ParsedSource` out. HTML bodies become the
Markdown subset posts are written in (markdownify). Two kinds of trouble are kept apart:

- a source that cannot be read as a whole (broken XML, a line that is not JSON, not a feed at all)
  raises :class:`MalformedSource` with the reason, so the caller imports nothing of it;
- one item that lacks what a post needs (a title) is listed in ``ParsedSource.failed`` and the
  rest go ahead.
"""

from __future__ import annotations

import hashlib
import json
import re
import xml.sax
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

KINDS = ("news", "agenda", "kb")
MAX_KEY = 500  # posts.source_key is String(500)
_HTML_HINT = re.compile(r"<(p|div|br|ul|ol|li|h[1-6]|strong|em|b|i|a|span|table|img|blockquote|pre)\b", re.I)


class MalformedSource(ValueError):
    """The source as a whole is unreadable; the message says why (and where, when known)."""


@dataclass(frozen=True, slots=True)
class ImportedItem:
    title: str
    body: str  # the Markdown subset
    url: str | None = None
    guid: str | None = None
    published: datetime | None = None
    kind: str | None = None  # news | agenda | kb, when the source says so


@dataclass(frozen=True, slots=True)
class FailedItem:
    where: str  # "entry 3", "line 7"
    reason: str


@dataclass(frozen=True, slots=True)
class ParsedSource:
    format: str  # rss20, atom10, … (feedparser's names) or jsonl
    items: tuple[ImportedItem, ...]
    failed: tuple[FailedItem, ...] = ()
    title: str | None = None


# ---------------------------------------------------------------------------------------------
# HTML → Markdown


def html_to_markdown(html: str, base_url: str | None = None) -> str:
    # feedparser, Beautiful Soup and markdownify load only when a source is read (CLI start-up).
    from bs4 import BeautifulSoup
    from markdownify import MarkdownConverter

    soup = BeautifulSoup(html, "html.parser")
    # Never carry code or embeds over, not even as text.
    for tag in soup(["script", "style", "iframe", "object", "embed", "noscript", "form"]):
        tag.decompose()
    for anchor in soup.find_all("a", href=True):
        anchor["href"] = _absolute(str(anchor["href"]), base_url)
    # Chat posts show no inline images: an image becomes a link to it.
    for image in soup.find_all("img"):
        src = str(image.get("src") or "")
        if not src:
            image.decompose()
            continue
        link = soup.new_tag("a", href=_absolute(src, base_url))
        link.string = str(image.get("alt") or "").strip() or "image"
        image.replace_with(link)
    markdown = MarkdownConverter(heading_style="ATX", bullets="-").convert_soup(soup)
    return re.sub(r"\n{3,}", "\n\n", markdown).strip()


def _absolute(url: str, base_url: str | None) -> str:
    return urljoin(base_url, url) if base_url else url


def looks_like_html(text: str) -> bool:
    return bool(_HTML_HINT.search(text))


def _plain(text: str) -> str:
    """A title: markup removed, whitespace collapsed."""
    if "<" in text:
        from bs4 import BeautifulSoup

        text = BeautifulSoup(text, "html.parser").get_text(" ")
    return " ".join(text.split())


# ---------------------------------------------------------------------------------------------
# Feeds


def parse_feed(data: bytes, url: str | None = None) -> ParsedSource:
    """An RSS 2.0 or Atom document. Raises :class:`MalformedSource` when it is not well-formed."""
    import feedparser

    headers = {"content-location": url} if url else None  # feedparser resolves relative links with it
    parsed = feedparser.parse(data, response_headers=headers, sanitize_html=True)
    error = parsed.get("bozo_exception")
    # feedparser falls back to a lenient parser on broken XML and would hand us half a feed.
    if parsed.get("bozo") and isinstance(error, xml.sax.SAXException):
        raise MalformedSource(f"not well-formed XML: {error}")
    if not parsed.get("version"):
        reason = f" ({error})" if error else ""
        raise MalformedSource(f"not an RSS or Atom feed{reason}")
    items: list[ImportedItem] = []
    failed: list[FailedItem] = []
    for n, entry in enumerate(parsed.entries, start=1):
        title = _plain(str(entry.get("title") or ""))
        if not title:
            failed.append(FailedItem(f"entry {n}", "it has no title"))
            continue
        link = entry.get("link") or None
        items.append(
            ImportedItem(
                title=title,
                body=_entry_body(entry, link),
                url=str(link) if link else None,
                guid=str(entry.get("id")) if entry.get("id") else None,
                published=_struct_time(entry.get("published_parsed") or entry.get("updated_parsed")),
            )
        )
    feed_title = _plain(str(parsed.feed.get("title") or "")) or None
    return ParsedSource(str(parsed.version), tuple(items), tuple(failed), feed_title)


def _entry_body(entry: Any, link: str | None) -> str:
    content = entry.get("content") or []
    detail = content[0] if content else entry.get("summary_detail")
    value = str(detail.get("value") or "") if detail else str(entry.get("summary") or "")
    kind = str(detail.get("type") or "text/html") if detail else "text/html"
    if "html" in kind or looks_like_html(value):
        return html_to_markdown(value, link)
    return value.strip()


def _struct_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        year, month, day, hour, minute, second = (int(v) for v in value[:6])
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except (TypeError, ValueError):
        return None


# ---------------------------------------------------------------------------------------------
# JSON lines


def parse_jsonl(data: bytes | str) -> ParsedSource:
    """One JSON object per line: ``title``, ``body`` (HTML or Markdown; ``format`` may say which),
    ``date`` (ISO 8601 or Unix seconds), ``url``, ``kind`` (news|agenda|kb), optional ``id``."""
    text = data.decode("utf-8-sig") if isinstance(data, bytes) else data
    items: list[ImportedItem] = []
    failed: list[FailedItem] = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise MalformedSource(f"line {n} is not JSON: {exc}") from None
        if not isinstance(record, dict):
            raise MalformedSource(f"line {n} is not a JSON object")
        item = _record_item(record)
        if isinstance(item, str):
            failed.append(FailedItem(f"line {n}", item))
        else:
            items.append(item)
    return ParsedSource("jsonl", tuple(items), tuple(failed))


def _record_item(record: dict[str, Any]) -> ImportedItem | str:
    title = record.get("title")
    if not isinstance(title, str) or not _plain(title):
        return "it has no title"
    url = record.get("url")
    if url is not None and not isinstance(url, str):
        return "url is not a string"
    kind = record.get("kind")
    if kind is not None and kind not in KINDS:
        return f"kind {kind!r} is not one of {', '.join(KINDS)}"
    body, body_format = "", None
    for key, implied in (("body", None), ("html", "html"), ("markdown", "markdown")):
        if record.get(key) is not None:
            body, body_format = record[key], implied or record.get("format")
            break
    if not isinstance(body, str):
        return "body is not a string"
    if body_format not in (None, "html", "markdown"):
        return f"format {body_format!r} is not html or markdown"
    if body_format == "html" or (body_format is None and looks_like_html(body)):
        body = html_to_markdown(body, url)
    published = _date(record.get("date"))
    if isinstance(published, str):
        return published
    guid = record.get("id", record.get("guid"))
    return ImportedItem(
        title=_plain(title),
        body=body.strip(),
        url=url or None,
        guid=str(guid) if guid not in (None, "") else None,
        published=published,
        kind=kind,
    )


def _date(value: Any) -> datetime | str | None:
    if value in (None, ""):
        return None
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(value, UTC)
        if isinstance(value, str):
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError, OSError):
        pass
    return f"date {value!r} is not ISO 8601 or Unix seconds"


# ---------------------------------------------------------------------------------------------


def parse_source(data: bytes, origin: str) -> ParsedSource:
    """A feed or a JSON-lines export, told apart by the name or, failing that, the first byte."""
    lowered = origin.lower().split("?", 1)[0]
    if lowered.endswith((".jsonl", ".ndjson", ".json")) or data.lstrip()[:1] == b"{":
        return parse_jsonl(data)
    return parse_feed(data, origin if "://" in origin else None)


def item_key(item: ImportedItem, source: str) -> str:
    """What makes an item the same item on a second import: its guid, else its URL, else its content.

    A guid that is not globally unique by its look (no ``:`` or ``/``, like RSS's ``1234``) is
    scoped to the source, so two feeds numbering their items alike do not collide.
    """
    if item.guid:
        key = f"guid:{item.guid}" if (":" in item.guid or "/" in item.guid) else f"guid:{source}#{item.guid}"
    elif item.url:
        key = f"url:{item.url}"
    else:
        stamp = item.published.isoformat() if item.published else ""
        digest = hashlib.sha256(f"{item.title}\n{stamp}\n{item.body}".encode()).hexdigest()
        key = f"content:{digest}"
    if len(key) > MAX_KEY:
        key = "sha256:" + hashlib.sha256(key.encode()).hexdigest()
    return key
