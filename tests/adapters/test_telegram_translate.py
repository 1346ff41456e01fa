"""Pure Telegram translation: updates → events, posts → sendMessage parameters (no I/O)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.base import (
    Action,
    ActionPressed,
    ActionStyle,
    ChannelMembershipChanged,
    ChannelMigrated,
    ChatRef,
    CommandIssued,
    MessagePosted,
    MessagePreview,
    MessageRef,
    MessageTooLong,
    OutboundMessage,
    PreviewBlock,
    PreviewStyle,
    ReactionAdded,
    ReactionRemoved,
    ReplyPosted,
)
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
    MarkupParser,
    Paragraph,
    Quote,
    Text,
    text_paragraph,
)
from adapters.telegram.menu import CommandMenu, set_my_commands_calls
from adapters.telegram.translate import (
    CALLBACK_DATA_LIMIT,
    TEXT_LIMIT,
    BotIdentity,
    CallbackDataTooLong,
    ComposeError,
    EmptyMessage,
    InvalidButton,
    MalformedUpdate,
    chat_id_param,
    compose,
    decode_callback_data,
    encode_callback_data,
    keyboard,
    preview,
    render_text,
    send_message_params,
    split_chat_id,
    split_plain,
    start_link,
    topic_chat_id,
    translate_update,
    validate,
    visible_length,
    visible_text,
)
from tests.peers.telegram import parse_html

ME = BotIdentity(id=999, username="Prikbord_Bot", name="Prikbord")
GROUP = {"id": -1001, "type": "supergroup", "title": "Kantoor"}
ANNA = {"id": 7, "is_bot": False, "first_name": "Anna", "last_name": "de Vries"}
BOT = {"id": 999, "is_bot": True, "first_name": "Prikbord", "username": "Prikbord_Bot"}


def post(*actions: Action, body: str = "Body", delivery_id: int | None = 42) -> OutboundMessage:
    markup = Document((Paragraph((Bold((Text("Title"),)),)), text_paragraph(body)))
    return OutboundMessage(markup, actions, delivery_id=delivery_id)


def message(text: str, message_id: int = 50, chat: dict[str, Any] = GROUP, **extra: Any) -> dict[str, Any]:
    return {"message_id": message_id, "date": 1, "chat": chat, "from": ANNA, "text": text, **extra}


# -- outbound ----------------------------------------------------------------------------------


def test_post_renders_as_escaped_telegram_html() -> None:
    doc = MarkupParser().parse("# Lunch <vrijdag>\n\nPizza & *sushi* at [kantine](https://x.nl/?a=1&b=2)")
    (part,) = compose(OutboundMessage(doc))
    assert part.parse_mode == "HTML"
    assert part.text == (
        '<b>Lunch &lt;vrijdag&gt;</b>\n\nPizza &amp; <i>sushi</i> at <a href="https://x.nl/?a=1&amp;b=2">kantine</a>'
    )
    assert parse_html(part.text).startswith("Lunch <vrijdag>")


def test_keyboard_one_button_per_action_with_counts_styles_and_links() -> None:
    msg = post(
        Action("ack", "✅ Read", count=40, style=ActionStyle.PRIMARY),
        Action("vote:1", "Pizza", count=0),
        Action("vote:2", "Sushi"),
        Action("link", "Open", url="https://prikbord.example/r/abc"),
    )
    (params,) = send_message_params("-1001", msg)
    assert params["chat_id"] == -1001 and params["parse_mode"] == "HTML"
    rows = params["reply_markup"]["inline_keyboard"]
    buttons = [b for row in rows for b in row]
    assert [b["text"] for b in buttons] == ["✅ Read · 40", "Pizza · 0", "Sushi", "Open"]
    assert buttons[0]["style"] == "primary" and "style" not in buttons[1]
    assert [decode_callback_data(b["callback_data"]) for b in buttons[:3]] == [
        (42, "ack"),
        (42, "vote:1"),
        (42, "vote:2"),
    ]
    assert buttons[3] == {"text": "Open", "url": "https://prikbord.example/r/abc"}
    assert rows[-1] == [buttons[3]]  # a link gets its own row
    assert [len(r) for r in rows] == [3, 1]  # short labels share a row
    long = post(
        Action("rsvp:yes", "Ja, ik kom naar de borrel"), Action("rsvp:no", "Nee"), Action("rsvp:maybe", "Misschien")
    )
    assert [len(r) for r in send_message_params("-1001", long)[0]["reply_markup"]["inline_keyboard"]] == [1, 2]


def test_callback_data_round_trips_and_stays_compact() -> None:
    assert encode_callback_data(12345, "vote:3") == "9ix:vote:3"
    assert decode_callback_data("9ix:vote:3") == (12345, "vote:3")
    assert decode_callback_data(encode_callback_data(None, "ack")) == (None, "ack")
    assert decode_callback_data("something else") == (None, "something else")
    biggest = encode_callback_data(2**63 - 1, "x" * 50)
    assert len(biggest.encode()) <= CALLBACK_DATA_LIMIT


def test_callback_data_that_cannot_fit_is_refused_at_compose_time() -> None:
    msg = post(Action("vote:" + "ü" * 40, "Long option"))
    with pytest.raises(CallbackDataTooLong, match="64"):
        validate(msg)
    assert issubclass(CallbackDataTooLong, ValueError)


def test_unusable_buttons_are_refused() -> None:
    with pytest.raises(InvalidButton):
        validate(post(Action("link", "Open", url="javascript:alert(1)")))
    with pytest.raises(InvalidButton):
        validate(post(Action("ack", "  ")))


def test_long_bodies_split_at_paragraphs_with_the_keyboard_on_the_last_part() -> None:
    paragraphs = tuple(text_paragraph(f"{i} " + "word " * 300) for i in range(8))  # ~1500 characters each
    msg = OutboundMessage(
        Document(paragraphs), (Action("ack", "Read"),), reply_to=MessageRef(ChatRef("telegram", "-1001"), "5")
    )
    parts = compose(msg)
    assert len(parts) == 4
    assert all(visible_length(p.text) <= TEXT_LIMIT for p in parts)
    assert [p.reply_markup is not None for p in parts] == [False, False, False, True]
    assert parts[0].reply_to is not None and all(p.reply_to is None for p in parts[1:])
    assert "".join(visible_text(p.text) for p in parts).count("word") == 8 * 300
    first = parts[0].params("-1001")
    assert first["reply_parameters"] == {"message_id": 5, "allow_sending_without_reply": True}


def test_one_paragraph_over_the_limit_is_refused_not_truncated() -> None:
    with pytest.raises(MessageTooLong):
        validate(post(body="x" * (TEXT_LIMIT + 1)))
    with pytest.raises(ValueError):
        validate(post(body="x" * (TEXT_LIMIT + 1)))


def test_an_empty_post_is_refused() -> None:
    with pytest.raises(EmptyMessage):
        validate(OutboundMessage(Document(()), (Action("ack", "Read"),)))


def test_nesting_telegram_refuses_is_flattened() -> None:
    doc = Document(
        (
            Quote((text_paragraph("outer"), Quote((text_paragraph("inner"),)), CodeBlock("x = 1"))),
            Paragraph(
                (Bold((Text("see "), Code("cfg"))), Link("https://a.nl", (Link("https://b.nl", (Text("ab"),)),)))
            ),
        )
    )
    html = render_text(doc)
    assert html.count("<blockquote>") == 1 and "<pre>" not in html
    assert "<b>see cfg</b>" in html and html.count("<a ") == 1
    parse_html(html)


def test_split_plain_prefers_line_breaks() -> None:
    text = ("line\n" * 1000) + "end"
    chunks = split_plain(text, limit=100)
    assert all(len(c) <= 100 for c in chunks)
    assert "".join(c.replace("\n", "") for c in chunks) == text.replace("\n", "")


# -- inbound -----------------------------------------------------------------------------------


def test_callback_query_becomes_action_pressed_with_a_stable_id() -> None:
    update = {
        "update_id": 1,
        "callback_query": {
            "id": "4711",
            "from": ANNA,
            "chat_instance": "c",
            "data": "16:vote:2",
            "message": {"message_id": 50, "date": 1, "chat": GROUP, "from": BOT, "text": "post"},
        },
    }
    (event,) = translate_update(update, ME)
    assert isinstance(event, ActionPressed)
    assert event.event_id == "tg:cb:4711" and event.action_id == "vote:2"
    assert event.message == MessageRef(ChatRef("telegram", "-1001"), "50")
    assert event.user.user_id == "7" and event.user.display_name == "Anna de Vries"
    # Telegram redelivers with the same update: the same event id, so the core de-duplicates.
    assert translate_update({**update, "update_id": 1}, ME)[0].event_id == event.event_id


def test_callback_without_message_or_data_yields_nothing() -> None:
    update = {
        "update_id": 2,
        "callback_query": {"id": "1", "from": ANNA, "chat_instance": "c", "inline_message_id": "x"},
    }
    assert translate_update(update, ME) == []


def test_reaction_changes_become_added_and_removed() -> None:
    def reaction(old: list[str], new: list[str], update_id: int) -> dict[str, Any]:
        return {
            "update_id": update_id,
            "message_reaction": {
                "chat": GROUP,
                "message_id": 50,
                "user": ANNA,
                "date": 1,
                "old_reaction": [{"type": "emoji", "emoji": e} for e in old],
                "new_reaction": [{"type": "emoji", "emoji": e} for e in new]
                + ([{"type": "paid"}] if update_id == 3 else []),
            },
        }

    (added,) = translate_update(reaction([], ["👍"], 3), ME)
    assert isinstance(added, ReactionAdded) and added.reaction == "👍"
    changed = translate_update(reaction(["👍"], ["❤"], 4), ME)
    assert [type(e) for e in changed] == [ReactionRemoved, ReactionAdded]
    assert [e.reaction for e in changed if isinstance(e, ReactionAdded | ReactionRemoved)] == ["👍", "❤"]
    assert len({e.event_id for e in [added, *changed]}) == 3


def test_reaction_by_an_anonymous_admin_counts_as_the_chat() -> None:
    update = {
        "update_id": 5,
        "message_reaction": {
            "chat": GROUP,
            "message_id": 50,
            "actor_chat": GROUP,
            "date": 1,
            "old_reaction": [],
            "new_reaction": [{"type": "custom_emoji", "custom_emoji_id": "123"}],
        },
    }
    (event,) = translate_update(update, ME)
    assert isinstance(event, ReactionAdded) and event.user.user_id == "-1001" and event.reaction == "custom:123"


def test_reply_to_a_bot_message_is_a_reply_and_to_others_is_chat() -> None:
    original = {"message_id": 50, "date": 1, "chat": GROUP, "from": BOT, "text": "post"}
    (event,) = translate_update({"update_id": 6, "message": message("Ik kom!", 51, reply_to_message=original)}, ME)
    assert isinstance(event, ReplyPosted) and event.text == "Ik kom!"
    assert event.message.message_id == "50" and event.reply is not None and event.reply.message_id == "51"
    someone = {**original, "from": ANNA}
    assert translate_update({"update_id": 7, "message": message("ok", 52, reply_to_message=someone)}, ME) == []
    assert translate_update({"update_id": 8, "message": message("just chatting", 53)}, ME) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/stats 12", ("stats", "12")),
        ("/Stats@prikbord_bot 12 ", ("stats", "12")),
        ("/post@Prikbord_Bot Titel | Tekst\nmeer", ("post", "Titel | Tekst\nmeer")),
        ("/help", ("help", "")),
        ("/stats@other_bot 12", None),
        ("/statsx@", None),
    ],
)
def test_commands_addressed_to_us_or_to_nobody(text: str, expected: tuple[str, str] | None) -> None:
    events = translate_update({"update_id": 9, "message": message(text)}, ME)
    if expected is None:
        assert events == []
        return
    (event,) = events
    assert isinstance(event, CommandIssued) and (event.name, event.args) == expected
    assert event.chat == ChatRef("telegram", "-1001") and not event.private_chat
    assert event.event_id == "tg:m:-1001:50" and event.message == MessageRef(event.chat, "50")


def test_command_in_a_private_chat() -> None:
    private = {"id": 7, "type": "private", "first_name": "Anna"}
    (event,) = translate_update({"update_id": 10, "message": message("/mine", chat=private)}, ME)
    assert isinstance(event, CommandIssued) and event.private_chat


def test_the_post_deep_link_starts_post_and_other_starts_stay_start() -> None:
    private = {"id": 7, "type": "private", "first_name": "Anna"}
    (event,) = translate_update({"update_id": 10, "message": message("/start post", chat=private)}, ME)
    assert isinstance(event, CommandIssued) and (event.name, event.args, event.private_chat) == ("post", "", True)
    (other,) = translate_update({"update_id": 11, "message": message("/start hello", chat=private)}, ME)
    assert isinstance(other, CommandIssued) and (other.name, other.args) == ("start", "hello")
    assert start_link("prikbord_bot", "post") == "https://t.me/prikbord_bot?start=post"
    assert start_link("", "post") is None


def test_plain_text_in_a_private_chat_is_a_message_posted_and_in_a_group_nothing() -> None:
    private = {"id": 7, "type": "private", "first_name": "Anna"}
    (event,) = translate_update({"update_id": 12, "message": message("Lunch vrijdag", 60, chat=private)}, ME)
    assert isinstance(event, MessagePosted) and event.private_chat
    assert (event.text, event.chat, event.event_id) == ("Lunch vrijdag", ChatRef("telegram", "7"), "tg:m:7:60")
    assert event.message == MessageRef(ChatRef("telegram", "7"), "60")
    assert translate_update({"update_id": 13, "message": message("Lunch vrijdag", 61)}, ME) == []
    photo = {"message_id": 62, "date": 1, "chat": private, "from": ANNA, "caption": "a caption"}
    assert translate_update({"update_id": 14, "message": photo}, ME) == []  # a photo is no typed answer


def test_a_question_without_buttons_that_wants_an_answer_forces_a_reply() -> None:
    doc = MarkupParser().parse("What is the title?")
    assert keyboard(OutboundMessage(doc, asks_reply=True)) == {"force_reply": True}
    assert keyboard(OutboundMessage(doc)) is None
    with_buttons = OutboundMessage(doc, actions=(Action("g:now", "Now"),), asks_reply=True)
    assert keyboard(with_buttons) == {"inline_keyboard": [[{"text": "Now", "callback_data": "-:g:now"}]]}


def member_update(old: str, new: str, chat: dict[str, Any] = GROUP) -> dict[str, Any]:
    return {
        "update_id": 11,
        "my_chat_member": {
            "chat": chat,
            "from": ANNA,
            "date": 1,
            "old_chat_member": {"status": old, "user": BOT},
            "new_chat_member": {"status": new, "user": BOT, **({"until_date": 0} if new == "kicked" else {})},
        },
    }


def test_bot_added_and_removed() -> None:
    (added,) = translate_update(member_update("left", "member"), ME)
    assert isinstance(added, ChannelMembershipChanged) and added.joined and "Anna" in added.reason
    (removed,) = translate_update(member_update("administrator", "kicked"), ME)
    assert isinstance(removed, ChannelMembershipChanged) and not removed.joined and "kicked" in removed.reason
    assert translate_update(member_update("member", "administrator"), ME) == []


def test_group_migrated_to_supergroup() -> None:
    old_group = {"id": -42, "type": "group", "title": "Kantoor"}
    msg = {"message_id": 3, "date": 1, "chat": old_group, "from": ANNA, "migrate_to_chat_id": -1004242}
    (event,) = translate_update({"update_id": 12, "message": msg}, ME)
    assert isinstance(event, ChannelMigrated)
    assert event.chat == ChatRef("telegram", "-42") and event.new_chat_id == "-1004242"


@pytest.mark.parametrize(
    "update",
    [
        {"message": message("x")},
        {"update_id": "1", "message": message("x")},
        {"update_id": 1, "callback_query": {"id": "1", "chat_instance": "c", "data": "x"}},
        {"update_id": 1, "message": {"message_id": 1, "date": 1, "text": "/x"}},
        {"update_id": 1, "message_reaction": {"chat": GROUP, "message_id": 1, "user": ANNA, "new_reaction": 3}},
    ],
)
def test_malformed_updates_are_refused(update: dict[str, Any]) -> None:
    with pytest.raises(MalformedUpdate):
        translate_update(update, ME)


def test_other_update_kinds_are_ignored() -> None:
    assert translate_update({"update_id": 13, "edited_message": message("x")}, ME) == []


# -- command menu ------------------------------------------------------------------------------


def test_command_menu_in_dutch_and_english_with_moderator_scopes() -> None:
    calls = set_my_commands_calls(CommandMenu(), moderator_ids=["7"])
    default = [c for c in calls if c["scope"] == {"type": "default"}]
    assert [c.get("language_code") for c in default] == [None, "en", "nl"]
    nl = next(c for c in default if c.get("language_code") == "nl")
    assert {"command": "post", "description": "Bericht insturen: titel | tekst | cta: …"} in nl["commands"]
    moderator = [c for c in calls if c["scope"] == {"type": "chat", "chat_id": 7}]
    assert len(moderator) == 3 and all(any(x["command"] == "approve" for x in c["commands"]) for c in moderator)
    with pytest.raises(ValueError, match="command"):
        CommandMenu(employee={"en": (("Bad-Name", "x"),)})


# -- properties --------------------------------------------------------------------------------

_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)
_urls = st.sampled_from(['https://x.nl/a?b=1&c="2"', "http://y.org/<x>", "javascript:alert(1)", "tg://user?id=1", ""])


def _inline(depth: int) -> st.SearchStrategy[Inline]:
    leaves: st.SearchStrategy[Inline] = st.one_of(_text.map(Text), _text.map(Code), st.just(LineBreak()))
    if depth == 0:
        return leaves
    children = st.lists(_inline(depth - 1), max_size=3).map(tuple)
    return st.one_of(
        leaves,
        children.map(Bold),
        children.map(Italic),
        st.tuples(_urls, children).map(lambda t: Link(t[0], t[1])),
    )


def _block(depth: int) -> st.SearchStrategy[Block]:
    paragraph = st.lists(_inline(2), max_size=4).map(lambda c: Paragraph(tuple(c)))
    code = st.tuples(_text, st.sampled_from(["", "py", 'x"y'])).map(lambda t: CodeBlock(t[0], t[1]))
    if depth == 0:
        return st.one_of(paragraph, code)
    blocks = st.lists(_block(depth - 1), min_size=1, max_size=3).map(tuple)
    return st.one_of(
        paragraph,
        code,
        blocks.map(Quote),
        st.tuples(st.booleans(), st.lists(blocks, min_size=1, max_size=3)).map(lambda t: ListBlock(t[0], tuple(t[1]))),
    )


def _texts(node: object) -> list[str]:
    if isinstance(node, Text | Code | CodeBlock):
        return [node.text]
    if isinstance(node, Document):
        return [t for b in node.blocks for t in _texts(b)]
    if isinstance(node, Quote):
        return [t for b in node.children for t in _texts(b)]
    if isinstance(node, ListBlock):
        return [t for item in node.items for b in item for t in _texts(b)]
    if isinstance(node, Paragraph | Bold | Italic | Link):
        return [t for c in node.children for t in _texts(c)]
    return []


@settings(max_examples=300, deadline=None)
@given(st.lists(_block(2), max_size=5).map(lambda b: Document(tuple(b))))
def test_any_markup_renders_to_html_telegram_accepts(doc: Document) -> None:
    try:
        parts = compose(OutboundMessage(doc))
    except ComposeError:
        return  # empty or one block too long: refused, never sent broken
    seen = ""
    for part in parts:
        visible = parse_html(part.text)  # balanced, supported tags, escaped, no forbidden nesting
        assert visible.strip() and len(visible.encode("utf-16-le")) // 2 <= TEXT_LIMIT
        assert visible_text(part.text) == visible
        seen += visible
    for text in _texts(doc):
        assert not text.strip() or text in seen


@given(st.one_of(st.none(), st.integers(0, 2**64)), st.text(max_size=80))
def test_any_callback_data_fits_64_bytes_or_is_refused(delivery_id: int | None, action_id: str) -> None:
    try:
        data = encode_callback_data(delivery_id, action_id)
    except CallbackDataTooLong:
        assert not action_id or len(action_id.encode()) > CALLBACK_DATA_LIMIT - 14
        return
    assert 1 <= len(data.encode()) <= CALLBACK_DATA_LIMIT
    assert decode_callback_data(data) == (delivery_id, action_id)


def test_preview_shows_what_compose_sends_parts_and_keyboard() -> None:
    message = post(Action("vote:1", "Pizza", count=3), Action("vote:2", "Sushi", count=0), body="Wat <eten> we?")
    parts = compose(message)
    shown = preview(message)
    assert shown == MessagePreview(((PreviewBlock(parts[0].text, PreviewStyle.LINES),),), (("Pizza · 3", "Sushi · 0"),))
    assert "<b>Title</b>" in parts[0].text and "&lt;eten&gt;" in parts[0].text  # escaped by the renderer
    paragraphs = tuple(text_paragraph("woord " * 500) for _ in range(3))
    long = OutboundMessage(Document(paragraphs), (Action("like", "👍 Like"),), delivery_id=42)
    split = preview(long)
    assert [blocks[0].html for blocks in split.messages] == [part.text for part in compose(long)]
    assert len(split.messages) > 1 and split.buttons == (("👍 Like",),)
    assert split.notes == (f"sent as {len(split.messages)} messages: Telegram takes {TEXT_LIMIT} characters each",)
    with pytest.raises(InvalidButton):  # a refusal is a DeliveryError the web shows
        preview(post(Action("like", " ")))


# -- forum topics (#15) ------------------------------------------------------------------------

FORUM = {"id": -1001, "type": "supergroup", "title": "Forum", "is_forum": True}


def in_topic(msg: dict[str, Any], thread: int = 45) -> dict[str, Any]:
    return {**msg, "chat": FORUM, "message_thread_id": thread, "is_topic_message": True}


def test_a_press_in_a_topic_names_the_topic_as_its_chat() -> None:
    post = in_topic({"message_id": 50, "date": 1, "chat": FORUM, "from": BOT, "text": "post"})
    query = {"id": "4712", "from": ANNA, "chat_instance": "c", "data": "16:ack", "message": post}
    (event,) = translate_update({"update_id": 1, "callback_query": query}, ME)
    assert isinstance(event, ActionPressed)
    assert event.message == MessageRef(ChatRef("telegram", "-1001/45"), "50")


def test_a_command_and_a_reply_in_a_topic_come_from_the_topic() -> None:
    (command,) = translate_update({"update_id": 2, "message": in_topic(message("/help", 60))}, ME)
    assert isinstance(command, CommandIssued) and command.chat == ChatRef("telegram", "-1001/45")
    assert command.message == MessageRef(command.chat, "60")
    assert command.event_id == "tg:m:-1001:60"  # message ids are the chat's: the event id needs no topic
    original = in_topic({"message_id": 50, "date": 1, "chat": FORUM, "from": BOT, "text": "post"})
    (reply,) = translate_update({"update_id": 3, "message": in_topic(message("ok", 61, reply_to_message=original))}, ME)
    assert isinstance(reply, ReplyPosted)
    assert reply.message == MessageRef(ChatRef("telegram", "-1001/45"), "50")


def test_a_topic_message_answering_only_the_topics_creation_is_no_reply() -> None:
    created = in_topic({"message_id": 45, "date": 1, "chat": FORUM, "from": BOT, "forum_topic_created": {"name": "S"}})
    update = {"update_id": 4, "message": in_topic(message("hallo", 62, reply_to_message=created))}
    assert translate_update(update, ME) == []


def test_a_reply_thread_in_an_ordinary_group_is_no_topic() -> None:
    # Outside forums a reply carries message_thread_id too (the reply thread), but is_topic_message never.
    original = {"message_id": 50, "date": 1, "chat": GROUP, "from": BOT, "text": "post"}
    msg = message("ok", 63, reply_to_message=original, message_thread_id=50)
    (reply,) = translate_update({"update_id": 5, "message": msg}, ME)
    assert isinstance(reply, ReplyPosted) and reply.message.chat == ChatRef("telegram", "-1001")


def test_a_topics_chat_id_sends_with_message_thread_id_and_edits_with_the_chat() -> None:
    (part,) = compose(post())
    params = part.params("-1001/45")
    assert (params["chat_id"], params["message_thread_id"]) == (-1001, 45)
    assert "message_thread_id" not in part.params("-1001")
    assert chat_id_param("-1001/45") == -1001 and split_chat_id("-1001/45") == ("-1001", 45)
    assert topic_chat_id("-1001", 45) == "-1001/45" and topic_chat_id("-1001", None) == "-1001"
    with pytest.raises(ComposeError, match="chat/thread"):
        split_chat_id("-1001/general")
