"""The markup tree → Slack mrkdwn, pure.

Slack asks for ``&``, ``<`` and ``>`` to be escaped everywhere except in its own control sequences
(``<url|label>`` links and the ``>`` that starts a quoted line). Lengths are counted in UTF-16 code
units, which is never less than what Slack counts, so a section we accept Slack accepts too.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

from adapters.markup import (
    Block,
    Bold,
    Code,
    CodeBlock,
    Document,
    Inline,
    Italic,
    LineBreak,
    Link,
    ListBlock,
    Paragraph,
    Quote,
    Text,
    TooLong,
    inline_plain,
    split_document,
)

SECTION_LIMIT = 3000  # characters of a section block's text
_SAFE_SCHEMES = ("http://", "https://", "mailto:")
_WORDS = re.compile(r"\S+\s*|\s+")


def slack_len(text: str) -> int:
    """Length in UTF-16 code units: an emoji outside the BMP counts twice, as it may for Slack."""
    return len(text.encode("utf-16-le")) // 2


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def link_target(url: str) -> str | None:
    """The URL as it may stand inside ``<…|…>``, or None for schemes we never link (javascript:…)."""
    stripped = url.strip()
    if not stripped.lower().startswith(_SAFE_SCHEMES) or any(c.isspace() for c in stripped):
        return None
    # A bare "|" would end the URL early; "&<>" must be escaped even inside the link.
    return escape(stripped).replace("|", "%7C")


def _wrap(marker: str, inner: str) -> str:
    """``*x*`` per line: Slack's emphasis neither spans lines nor starts or ends with a space."""
    lines = []
    for line in inner.split("\n"):
        core = line.strip()
        if not core:
            lines.append(line)
            continue
        lead = line[: len(line) - len(line.lstrip())]
        trail = line[len(line.rstrip()) :]
        lines.append(f"{lead}{marker}{core}{marker}{trail}")
    return "\n".join(lines)


def render_inline(nodes: Sequence[Inline]) -> str:
    parts: list[str] = []
    for node in nodes:
        if isinstance(node, Text):
            parts.append(escape(node.text))
        elif isinstance(node, LineBreak):
            parts.append("\n")
        elif isinstance(node, Code):
            # A backtick would close the span early and Slack has no escape for it.
            code = escape(node.text.replace("`", "'").replace("\n", " "))
            parts.append(f"`{code}`" if code.strip() else code)
        elif isinstance(node, Bold):
            parts.append(_wrap("*", render_inline(node.children)))
        elif isinstance(node, Italic):
            parts.append(_wrap("_", render_inline(node.children)))
        else:
            parts.append(_render_link(node))
    return "".join(parts)


def _render_link(node: Link) -> str:
    # The label is plain: a link inside a label would break Slack's <url|label> syntax.
    label = escape(" ".join(inline_plain(node.children).split()))
    target = link_target(node.url)
    if target is None:
        return label or escape(node.url)
    return f"<{target}|{label}>" if label else f"<{target}>"


def render_block(block: Block, top: bool = True) -> str:
    if isinstance(block, Paragraph):
        return render_inline(block.children)
    if isinstance(block, CodeBlock):
        return "```\n" + escape(block.text.replace("```", "`\u200b``")) + "\n```"
    if isinstance(block, Quote):
        inner = "\n".join(render_block(b, top=False) for b in block.children)
        # Slack quotes only at the start of a line and cannot nest them: deeper levels get a bar.
        prefix = "> " if top else "│ "
        return "\n".join(prefix + line if line else prefix.rstrip() for line in inner.split("\n"))
    lines: list[str] = []
    for n, item in enumerate(block.items, start=block.start):
        marker = f"{n}. " if block.ordered else "• "
        body = "\n".join(render_block(b, top=False) for b in item)
        first, *rest = body.split("\n")
        lines.append(marker + first)
        lines.extend("    " + line for line in rest)
    return "\n".join(lines)


def render_document(doc: Document) -> str:
    return "\n\n".join(render_block(b) for b in doc.blocks)


def measure(doc: Document) -> int:
    return slack_len(render_document(doc))


# ---------------------------------------------------------------------------------------------
# Splitting into sections


def split_sections(doc: Document, limit: int = SECTION_LIMIT) -> list[str]:
    """The document as section texts of at most ``limit``, split at paragraphs (long paragraphs,
    lists, quotes and code blocks at their lines, items or words first).

    Raises :class:`adapters.markup.TooLong` when one indivisible piece is still over the limit.
    """
    blocks: list[Block] = []
    for block in doc.blocks:
        blocks.extend(_explode(block, limit))
    parts = split_document(Document(tuple(blocks)), limit, measure)
    texts = [render_document(part) for part in parts]
    return [text for text in texts if text.strip()]


def _fits(block: Block, limit: int) -> bool:
    return measure(Document((block,))) <= limit


def _explode(block: Block, limit: int) -> list[Block]:
    """``block`` as smaller blocks that each fit ``limit`` where it can be divided."""
    if _fits(block, limit):
        return [block]
    if isinstance(block, Paragraph):
        return _explode_paragraph(block, limit)
    if isinstance(block, CodeBlock):
        return _pack_lines(block, limit)
    if isinstance(block, ListBlock):
        if len(block.items) == 1:
            return [block]  # one huge item: let split_document refuse it with its clear message
        pieces: list[Block] = []
        for offset, item in enumerate(block.items):
            pieces.extend(_explode(ListBlock(block.ordered, (item,), block.start + offset), limit))
        return pieces
    return _explode_quote(block, limit)


def _explode_quote(block: Quote, limit: int) -> list[Block]:
    # The "> " prefixes add to each line, so the children are divided for a shrinking budget
    # until every quoted piece fits; a piece that never fits is left for split_document to refuse.
    budget = limit
    while budget >= 64:
        pieces = [Quote((piece,)) for child in block.children for piece in _explode(child, budget)]
        if all(_fits(piece, limit) for piece in pieces):
            return list(pieces)
        budget -= max(1, budget // 4)
    return [block]


def _explode_paragraph(block: Paragraph, limit: int) -> list[Block]:
    # Top-level inline nodes render independently, so a paragraph's length is the sum of its atoms'.
    atoms: list[Inline] = []
    for child in block.children:
        if isinstance(child, Text):
            atoms.extend(Text(word) for word in _WORDS.findall(child.text))
        else:
            atoms.append(child)
    pieces: list[Block] = []
    current: list[Inline] = []
    size = 0
    for atom in atoms:
        length = slack_len(render_inline((atom,)))
        if current and size + length > limit:
            pieces.append(Paragraph(tuple(current)))
            current, size = [], 0
        if isinstance(atom, LineBreak) and not current:
            continue  # a line break at the start of a section adds nothing
        current.append(atom)
        size += length
    if current:
        pieces.append(Paragraph(tuple(current)))
    return pieces


def _pack_lines(block: CodeBlock, limit: int) -> list[Block]:
    pieces: list[Block] = []
    current: list[str] = []
    for line in block.text.split("\n"):
        candidate = CodeBlock("\n".join([*current, line]), block.language)
        if current and not _fits(candidate, limit):
            pieces.append(CodeBlock("\n".join(current), block.language))
            current = [line]
        else:
            current.append(line)
    pieces.append(CodeBlock("\n".join(current), block.language))
    return pieces


_LINK = re.compile(r"&lt;(https?://[^|&\s]+|mailto:[^|&\s]+)\|(.*?)&gt;")
_READER_STYLES = (
    (re.compile(r"(?<![\w*])\*(\S(?:.*?\S)?)\*(?![\w*])"), "b"),
    (re.compile(r"(?<![\w_])_(\S(?:.*?\S)?)_(?![\w_])"), "i"),
    (re.compile(r"(?<![\w~])~(\S(?:.*?\S)?)~(?![\w~])"), "s"),
    (re.compile(r"`([^`]+)`"), "code"),
)


def mrkdwn_to_html(text: str) -> str:
    """A reader's view of mrkdwn as HTML whose text is escaped: bold, italic, strike, code and
    ``<url|label>`` links; everything else as written (newlines stay newlines)."""
    shown = html.escape(html.unescape(text), quote=False)
    shown = _LINK.sub(lambda m: f'<a href="{html.escape(m.group(1))}">{m.group(2)}</a>', shown)
    for pattern, tag in _READER_STYLES:
        shown = pattern.sub(lambda m, t=tag: f"<{t}>{m.group(1)}</{t}>", shown)  # type: ignore[misc]
    return shown


__all__ = [
    "SECTION_LIMIT",
    "TooLong",
    "escape",
    "link_target",
    "mrkdwn_to_html",
    "render_document",
    "slack_len",
    "split_sections",
]
