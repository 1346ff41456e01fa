"""The neutral markup tree: a Markdown subset parsed once, rendered by each adapter.

The tree lives beside ``base.py`` because it is the contract between the core (which parses a
post's body once) and the adapters (which render it); ``content`` may import nothing of the
project and adapters nothing but ``adapters``, so neither could own it alone.

Supported: bold, italic, links, inline code, code blocks, bullet and numbered lists, quotes;
headings become bold paragraphs. Raw HTML is kept as literal text, never interpreted.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markdown_it import MarkdownIt
from markdown_it.token import Token

# ---------------------------------------------------------------------------------------------
# Inline nodes


@dataclass(frozen=True, slots=True)
class Text:
    text: str


@dataclass(frozen=True, slots=True)
class Bold:
    children: tuple[Inline, ...]


@dataclass(frozen=True, slots=True)
class Italic:
    children: tuple[Inline, ...]


@dataclass(frozen=True, slots=True)
class Code:
    text: str


@dataclass(frozen=True, slots=True)
class Link:
    url: str
    children: tuple[Inline, ...]


@dataclass(frozen=True, slots=True)
class LineBreak:
    pass


Inline = Text | Bold | Italic | Code | Link | LineBreak

# ---------------------------------------------------------------------------------------------
# Block nodes


@dataclass(frozen=True, slots=True)
class Paragraph:
    children: tuple[Inline, ...]


@dataclass(frozen=True, slots=True)
class CodeBlock:
    text: str
    language: str = ""


@dataclass(frozen=True, slots=True)
class ListBlock:
    ordered: bool
    items: tuple[tuple[Block, ...], ...]
    start: int = 1


@dataclass(frozen=True, slots=True)
class Quote:
    children: tuple[Block, ...]


Block = Paragraph | CodeBlock | ListBlock | Quote


@dataclass(frozen=True, slots=True)
class Document:
    blocks: tuple[Block, ...]

    def __add__(self, other: Document) -> Document:
        return Document(self.blocks + other.blocks)


def text_paragraph(*parts: Inline | str) -> Paragraph:
    return Paragraph(tuple(Text(p) if isinstance(p, str) else p for p in parts))


# ---------------------------------------------------------------------------------------------
# Parsing


def _make_parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "breaks": True})
    # Images become links: a chat post shows the URL, not an inline picture.
    return md


class MarkupParser:
    """Parses the Markdown subset into a :class:`Document`. One instance is reused (no globals)."""

    def __init__(self) -> None:
        self._md = _make_parser()

    def parse(self, source: str) -> Document:
        tokens = self._md.parse(source)
        blocks, _ = _parse_blocks(tokens, 0, None)
        return Document(tuple(blocks))


def _parse_blocks(tokens: Sequence[Token], i: int, closing: str | None) -> tuple[list[Block], int]:
    blocks: list[Block] = []
    while i < len(tokens):
        tok = tokens[i]
        if closing is not None and tok.type == closing:
            return blocks, i + 1
        if tok.type in ("paragraph_open", "heading_open"):
            inline = tokens[i + 1]
            children = _parse_inlines(inline.children or [])
            if tok.type == "heading_open":
                children = (Bold(children),) if children else ()
            if children:
                blocks.append(Paragraph(children))
            i += 3
        elif tok.type in ("fence", "code_block"):
            blocks.append(CodeBlock(tok.content.rstrip("\n"), (tok.info or "").strip()))
            i += 1
        elif tok.type in ("bullet_list_open", "ordered_list_open"):
            ordered = tok.type == "ordered_list_open"
            close = "ordered_list_close" if ordered else "bullet_list_close"
            start = int(tok.attrGet("start") or 1) if ordered else 1
            items: list[tuple[Block, ...]] = []
            i += 1
            while i < len(tokens) and tokens[i].type != close:
                if tokens[i].type == "list_item_open":
                    item_blocks, i = _parse_blocks(tokens, i + 1, "list_item_close")
                    items.append(tuple(item_blocks))
                else:
                    i += 1
            blocks.append(ListBlock(ordered, tuple(items), start))
            i += 1
        elif tok.type == "blockquote_open":
            inner, i = _parse_blocks(tokens, i + 1, "blockquote_close")
            blocks.append(Quote(tuple(inner)))
        elif tok.type == "hr":
            blocks.append(Paragraph((Text("———"),)))
            i += 1
        elif tok.type == "html_block":
            blocks.append(Paragraph((Text(tok.content.rstrip("\n")),)))
            i += 1
        else:
            i += 1
    return blocks, i


def _parse_inlines(tokens: Sequence[Token]) -> tuple[Inline, ...]:
    out, _ = _parse_inline_run(tokens, 0, None)
    return tuple(_merge_text(out))


def _parse_inline_run(tokens: Sequence[Token], i: int, closing: str | None) -> tuple[list[Inline], int]:
    out: list[Inline] = []
    while i < len(tokens):
        tok = tokens[i]
        if closing is not None and tok.type == closing:
            return out, i + 1
        kind = tok.type
        if kind == "text" or kind == "html_inline":
            if tok.content:
                out.append(Text(tok.content))
            i += 1
        elif kind in ("softbreak", "hardbreak"):
            out.append(LineBreak())
            i += 1
        elif kind == "code_inline":
            out.append(Code(tok.content))
            i += 1
        elif kind == "strong_open":
            children, i = _parse_inline_run(tokens, i + 1, "strong_close")
            out.append(Bold(tuple(_merge_text(children))))
        elif kind == "em_open":
            children, i = _parse_inline_run(tokens, i + 1, "em_close")
            out.append(Italic(tuple(_merge_text(children))))
        elif kind == "link_open":
            href = str(tok.attrGet("href") or "")
            children, i = _parse_inline_run(tokens, i + 1, "link_close")
            out.append(Link(href, tuple(_merge_text(children))) if href else Bold(tuple(children)))
        elif kind == "image":
            src = str(tok.attrGet("src") or "")
            label = tok.content or src
            out.append(Link(src, (Text(label),)) if src else Text(label))
            i += 1
        else:
            if tok.content:
                out.append(Text(tok.content))
            i += 1
    return out, i


def _merge_text(nodes: list[Inline]) -> list[Inline]:
    merged: list[Inline] = []
    for node in nodes:
        if isinstance(node, Text) and merged and isinstance(merged[-1], Text):
            merged[-1] = Text(merged[-1].text + node.text)
        elif isinstance(node, Text) and not node.text:
            continue
        else:
            merged.append(node)
    return merged


# ---------------------------------------------------------------------------------------------
# Generic renderers adapters build on


def inline_plain(nodes: Sequence[Inline]) -> str:
    parts: list[str] = []
    for n in nodes:
        if isinstance(n, Text | Code):
            parts.append(n.text)
        elif isinstance(n, LineBreak):
            parts.append("\n")
        elif isinstance(n, Link):
            label = inline_plain(n.children)
            parts.append(label if label == n.url else f"{label} ({n.url})" if label else n.url)
        else:
            parts.append(inline_plain(n.children))
    return "".join(parts)


def render_plain(doc: Document) -> str:
    """Plain text: the fallback body everywhere and the console's output."""
    return "\n\n".join(_block_plain(b) for b in doc.blocks)


def _block_plain(block: Block, indent: str = "") -> str:
    if isinstance(block, Paragraph):
        return indent + inline_plain(block.children).replace("\n", "\n" + indent)
    if isinstance(block, CodeBlock):
        return "\n".join(indent + line for line in block.text.split("\n"))
    if isinstance(block, Quote):
        inner = "\n".join(_block_plain(b) for b in block.children)
        return "\n".join(f"{indent}> {line}" for line in inner.split("\n"))
    lines: list[str] = []
    for n, item in enumerate(block.items, start=block.start):
        marker = f"{n}. " if block.ordered else "• "
        body = "\n".join(_block_plain(b) for b in item)
        first, *rest = body.split("\n") if body else [""]
        lines.append(indent + marker + first)
        lines.extend(indent + "   " + r for r in rest)
    return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class HtmlDialect:
    """Which HTML a platform accepts. Telegram has no lists or paragraphs; Matrix has both."""

    paragraphs: bool
    lists: bool
    bold: str = "b"
    italic: str = "i"


TELEGRAM_HTML = HtmlDialect(paragraphs=False, lists=False)
MATRIX_HTML = HtmlDialect(paragraphs=True, lists=True, bold="strong", italic="em")

UrlFilter = Callable[[str], str | None]


def _safe_url(url: str) -> str | None:
    lowered = url.strip().lower()
    if lowered.startswith(("http://", "https://", "mailto:", "tg://")):
        return url.strip()
    return None


def inline_html(nodes: Sequence[Inline], dialect: HtmlDialect, url_filter: UrlFilter = _safe_url) -> str:
    parts: list[str] = []
    for n in nodes:
        if isinstance(n, Text):
            parts.append(html.escape(n.text, quote=False))
        elif isinstance(n, Code):
            parts.append(f"<code>{html.escape(n.text, quote=False)}</code>")
        elif isinstance(n, LineBreak):
            parts.append("<br/>" if dialect.paragraphs else "\n")
        elif isinstance(n, Bold):
            parts.append(f"<{dialect.bold}>{inline_html(n.children, dialect, url_filter)}</{dialect.bold}>")
        elif isinstance(n, Italic):
            parts.append(f"<{dialect.italic}>{inline_html(n.children, dialect, url_filter)}</{dialect.italic}>")
        else:
            label = inline_html(n.children, dialect, url_filter) or html.escape(n.url, quote=False)
            target = url_filter(n.url)
            if target is None:
                parts.append(label)
            else:
                parts.append(f'<a href="{html.escape(target, quote=True)}">{label}</a>')
    return "".join(parts)


def block_html(block: Block, dialect: HtmlDialect, url_filter: UrlFilter = _safe_url) -> str:
    if isinstance(block, Paragraph):
        body = inline_html(block.children, dialect, url_filter)
        return f"<p>{body}</p>" if dialect.paragraphs else body
    if isinstance(block, CodeBlock):
        code = html.escape(block.text, quote=False)
        if block.language and dialect.paragraphs:
            lang = html.escape(block.language, quote=True)
            return f'<pre><code class="language-{lang}">{code}</code></pre>'
        return f"<pre>{code}</pre>" if not dialect.paragraphs else f"<pre><code>{code}</code></pre>"
    if isinstance(block, Quote):
        sep = "" if dialect.paragraphs else "\n"
        inner = sep.join(block_html(b, dialect, url_filter) for b in block.children)
        return f"<blockquote>{inner}</blockquote>"
    if dialect.lists:
        tag = "ol" if block.ordered else "ul"
        start = f' start="{block.start}"' if block.ordered and block.start != 1 else ""
        items = "".join(
            "<li>" + "".join(block_html(b, dialect, url_filter) for b in item) + "</li>" for item in block.items
        )
        return f"<{tag}{start}>{items}</{tag}>"
    lines: list[str] = []
    for n, item in enumerate(block.items, start=block.start):
        marker = f"{n}. " if block.ordered else "• "
        lines.append(marker + "\n".join(block_html(b, dialect, url_filter) for b in item))
    return "\n".join(lines)


def render_html(doc: Document, dialect: HtmlDialect, url_filter: UrlFilter = _safe_url) -> str:
    sep = "" if dialect.paragraphs else "\n\n"
    return sep.join(block_html(b, dialect, url_filter) for b in doc.blocks)


class TooLong(ValueError):
    """One block alone renders longer than the limit: the post must be shortened."""


def split_document(doc: Document, limit: int, measure: Callable[[Document], int]) -> list[Document]:
    """Split at block (paragraph) boundaries into parts each measuring at most ``limit``.

    Never truncates: a single block over the limit raises :class:`TooLong`.
    """
    parts: list[Document] = []
    current: list[Block] = []
    for block in doc.blocks:
        single = measure(Document((block,)))
        if single > limit:
            raise TooLong(f"one paragraph is {single} characters; the limit is {limit}: shorten it or split it")
        candidate = Document((*current, block))
        if current and measure(candidate) > limit:
            parts.append(Document(tuple(current)))
            current = [block]
        else:
            current.append(block)
    if current or not parts:
        parts.append(Document(tuple(current)))
    return parts
