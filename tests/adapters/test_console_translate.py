"""Pure console translation: the preview is the text a console reader sees, escaped."""

from __future__ import annotations

from adapters.base import Action, MessagePreview, OutboundMessage, PreviewBlock
from adapters.console.translate import preview, render_message
from adapters.markup import MarkupParser


def test_preview_is_the_printed_text_with_its_buttons_escaped() -> None:
    message = OutboundMessage(
        MarkupParser().parse("**Lunch** <script>alert(1)</script>"),
        (Action("vote:1", "Pizza", count=0), Action("link", "🔗 Open", url="https://intranet.example/r/x")),
    )
    text = render_message("m1", message)
    assert "[vote:1] Pizza (0)" in text and "🔗 Open: https://intranet.example/r/x" in text
    shown = preview(message)
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert shown == MessagePreview(((PreviewBlock(f"<pre>{escaped}</pre>"),),))
    assert "<script>" not in shown.messages[0][0].html
