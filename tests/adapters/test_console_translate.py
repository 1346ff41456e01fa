"""Pure console translation: the preview is the text a console reader sees, escaped."""

from __future__ import annotations

from adapters.base import Action, ChatRef, CommandIssued, MessagePosted, MessagePreview, OutboundMessage, PreviewBlock
from adapters.console.translate import ScriptState, parse_line, preview, render_message
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


def test_a_plain_line_is_a_message_posted_by_its_speaker() -> None:
    chat = ChatRef("console", "console")
    state = ScriptState(session="s1")
    event = parse_line("mod: Lunch vrijdag\\nmet taart", state, chat)
    assert isinstance(event, MessagePosted)
    assert (event.user.user_id, event.text, event.chat, event.event_id) == (
        "mod",
        "Lunch vrijdag\nmet taart",
        chat,
        "s1.line-1",
    )
    follow = parse_line("nog een regel", state, chat)  # no name: the previous speaker
    assert isinstance(follow, MessagePosted) and follow.user.user_id == "mod"
    assert parse_line("# a comment", state, chat) is None
    assert isinstance(parse_line("mod: /post", state, chat), CommandIssued)
