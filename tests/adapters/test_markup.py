"""The markup subset: parsed once, rendered per platform; any input renders, output is valid."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.markup import (
    MATRIX_HTML,
    TELEGRAM_HTML,
    Bold,
    Code,
    CodeBlock,
    Document,
    Italic,
    Link,
    ListBlock,
    MarkupParser,
    Paragraph,
    Quote,
    Text,
    TooLong,
    render_html,
    render_plain,
    split_document,
)

PARSER = MarkupParser()
VOID = {"br"}


class _Balance(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.tags: set[str] = set()
        self.ok = True

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack.pop() != tag:
            self.ok = False


def balanced(html: str) -> _Balance:
    checker = _Balance()
    checker.feed(html)
    checker.close()
    checker.ok = checker.ok and not checker.stack
    return checker


def test_subset_parses_to_the_neutral_tree() -> None:
    doc = PARSER.parse(
        "# Kop\n\nEen **vet** en *schuin* woord, `code` en [een link](https://x.example).\n\n"
        "- een\n- twee\n\n1. eerste\n\n> citaat\n\n```py\nprint(1)\n```"
    )
    heading, para, bullets, numbered, quote, code = doc.blocks
    assert heading == Paragraph((Bold((Text("Kop"),)),))
    assert Bold((Text("vet"),)) in para.children and Italic((Text("schuin"),)) in para.children
    assert Code("code") in para.children and Link("https://x.example", (Text("een link"),)) in para.children
    assert isinstance(bullets, ListBlock) and not bullets.ordered and len(bullets.items) == 2
    assert isinstance(numbered, ListBlock) and numbered.ordered
    assert isinstance(quote, Quote)
    assert code == CodeBlock("print(1)", "py")


def test_raw_html_is_text_not_markup() -> None:
    doc = PARSER.parse("<script>alert(1)</script> & <b>x</b>")
    html = render_html(doc, TELEGRAM_HTML)
    assert "<script>" not in html and "&lt;script&gt;" in html and "&amp;" in html


def test_only_safe_link_schemes() -> None:
    html = render_html(PARSER.parse("[klik](javascript:alert(1)) [ok](https://a.example/?q=1&r=\"2\")"), MATRIX_HTML)
    assert 'href="javascript' not in html
    # markdown-it percent-encodes the quote; either way the attribute stays closed.
    assert 'href="https://a.example/?q=1&amp;r=%222%22"' in html


def test_plain_rendering() -> None:
    doc = PARSER.parse("**Vet** [link](https://a.example)\n\n- een\n- twee")
    assert render_plain(doc) == "Vet link (https://a.example)\n\n• een\n• twee"


markdownish = st.lists(
    st.sampled_from([*"ab *_`[]()#>-\n1.<>&\"'!|\\~=+{}é😀\t", "https://x.example", "javascript:", "<b>", "**"]),
    max_size=120,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(markdownish)
def test_any_input_renders_valid_html_for_each_platform(source: str) -> None:
    doc = PARSER.parse(source)
    plain = render_plain(doc)
    assert isinstance(plain, str)
    for dialect, allowed in (
        (TELEGRAM_HTML, {"b", "i", "code", "pre", "a", "blockquote"}),
        (MATRIX_HTML, {"strong", "em", "code", "pre", "a", "blockquote", "p", "br", "ul", "ol", "li"}),
    ):
        html = render_html(doc, dialect)
        check = balanced(html)
        assert check.ok, html
        assert check.tags <= allowed, (check.tags, html)
        # Every < and & in the output belongs to markup or an entity: text is escaped.
        stripped = html
        for tag in check.tags:
            stripped = stripped.replace(f"<{tag}>", "").replace(f"</{tag}>", "")
        assert "<script" not in stripped


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet="abc \n*", min_size=1, max_size=80), min_size=1, max_size=30), st.integers(90, 400))
def test_split_never_truncates(paragraphs: list[str], limit: int) -> None:
    doc = Document(tuple(Paragraph((Text(p.strip() or "x"),)) for p in paragraphs))
    parts = split_document(doc, limit, lambda d: len(render_plain(d)))
    assert all(len(render_plain(p)) <= limit for p in parts)
    assert tuple(b for p in parts for b in p.blocks) == doc.blocks


def test_split_refuses_a_paragraph_over_the_limit() -> None:
    doc = Document((Paragraph((Text("x" * 50),)), Paragraph((Text("y" * 500),))))
    with pytest.raises(TooLong, match="one paragraph is 500 characters"):
        split_document(doc, 100, lambda d: len(render_plain(d)))
