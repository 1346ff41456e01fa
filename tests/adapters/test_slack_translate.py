"""Slack translation, pure: Block Kit composition, mrkdwn escaping and inbound payload parsing."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.base import (
    AccountClosed,
    Action,
    ActionPressed,
    ActionStyle,
    ChannelMembershipChanged,
    ChatRef,
    CommandIssued,
    MemberJoined,
    MemberLeft,
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
    TooLong,
)
from adapters.slack.emoji import emoji_for, name_for
from adapters.slack.mrkdwn import mrkdwn_to_html, slack_len, split_sections
from adapters.slack.translate import (
    MalformedPayload,
    compose,
    compose_home,
    home_button_value,
    metadata_matches,
    parse_request,
    preview,
    validate,
)

BOT = "U0PRIKBOT1"
CHANNEL = "C000000001"
parse_markdown = MarkupParser().parse


def _post(source: str, *actions: Action, post_id: int | None = 7, delivery_id: int | None = 9) -> OutboundMessage:
    return OutboundMessage(
        parse_markdown(source), actions, post_id=post_id, delivery_id=delivery_id, idempotency_key="d9"
    )


def _sections(blocks: list[dict[str, Any]]) -> list[str]:
    return [b["text"]["text"] for b in blocks if b["type"] == "section"]


# ---------------------------------------------------------------------------------------------
# Outbound


def test_bold_first_paragraph_becomes_the_header() -> None:
    composed = compose(_post("**Nieuwe verlofregeling**\n\nVanaf januari."))
    assert composed.blocks[0] == {
        "type": "header",
        "block_id": "title",
        "text": {"type": "plain_text", "text": "Nieuwe verlofregeling", "emoji": True},
    }
    assert _sections(composed.blocks) == ["Vanaf januari."]
    assert compose(_post("Not **all** bold\n\nbody")).blocks[0]["type"] == "section"


def test_sections_escape_and_format_mrkdwn() -> None:
    source = "a < b & c > d, *nadruk*, **vet**, `x<y`, [site](https://ex.org/?a=1&b=2)"
    (text,) = _sections(compose(_post(source)).blocks)
    assert text == "a &lt; b &amp; c &gt; d, _nadruk_, *vet*, `x&lt;y`, <https://ex.org/?a=1&amp;b=2|site>"
    unsafe = Document((Paragraph((Link("javascript:alert(1)", (Text("bad"),)), Text(" ok"))),))
    assert split_sections(unsafe) == ["bad ok"]


def test_lists_quotes_and_code() -> None:
    (text,) = _sections(compose(_post("- een\n- twee\n\n> citaat\n\n```\na<b\n```")).blocks)
    assert text == "• een\n• twee\n\n> citaat\n\n```\na&lt;b\n```"


def test_long_posts_split_at_paragraphs() -> None:
    paragraphs = [f"{n}" + "x" * 999 for n in range(5)]
    sections = _sections(compose(_post("\n\n".join(paragraphs))).blocks)
    assert sections == ["\n\n".join(paragraphs[0:2]), "\n\n".join(paragraphs[2:4]), paragraphs[4]]


def test_one_long_paragraph_splits_between_words() -> None:
    words = " ".join(f"woord{n}" for n in range(1000))  # about 7,900 characters in one paragraph
    sections = _sections(compose(_post(words)).blocks)
    assert len(sections) == 3 and all(len(s) <= 3000 for s in sections)
    assert "".join(sections).split() == words.split()


def test_too_many_blocks_is_refused_at_compose_time() -> None:
    huge = "\n\n".join("y" * 2000 for _ in range(60))
    with pytest.raises(MessageTooLong, match="50"):
        compose(_post(huge))
    with pytest.raises(MessageTooLong):
        validate(_post(huge))
    validate(_post("short"))


def test_buttons_name_their_action_and_carry_the_delivery() -> None:
    actions = (
        Action("ack", "✅ Read", style=ActionStyle.PRIMARY, count=40),
        Action("vote:1", "Pizza", count=None),
        Action("link", "Open", url="https://intranet.example/r/abc"),
    )
    composed = compose(_post("**Lunch**\n\nWat eten we?", *actions))
    (actions_block,) = [b for b in composed.blocks if b["type"] == "actions"]
    ack, vote, link = actions_block["elements"]
    assert ack == {
        "type": "button",
        "action_id": "ack",
        "text": {"type": "plain_text", "text": "✅ Read (40)", "emoji": True},
        "value": "p7.d9",
        "style": "primary",
    }
    assert vote["text"]["text"] == "Pizza" and "style" not in vote
    assert link["url"] == "https://intranet.example/r/abc" and link["action_id"] == "link"
    assert [b["type"] for b in composed.blocks] == ["header", "section", "context", "actions"]
    assert composed.blocks[2]["elements"][0]["text"] == "prikbord · #7"


def test_more_than_25_buttons_take_more_actions_blocks() -> None:
    options = tuple(Action(f"vote:{n}", f"Optie {n}") for n in range(30))
    blocks = compose(_post("Kies", *options)).blocks
    assert [len(b["elements"]) for b in blocks if b["type"] == "actions"] == [25, 5]


def test_metadata_and_fallback_text() -> None:
    composed = compose(_post("**Dagstart** & koffie <3"))
    assert composed.metadata == {
        "event_type": "prikbord_post",
        "event_payload": {"post_id": 7, "delivery_id": 9, "idempotency_key": "d9"},
    }
    assert composed.text == "Dagstart &amp; koffie &lt;3"
    assert metadata_matches(composed.metadata, "d9") and not metadata_matches(composed.metadata, "d10")
    bare = compose(OutboundMessage(parse_markdown("hoi")))
    assert bare.metadata is None and "metadata" not in bare.as_kwargs()


# ---------------------------------------------------------------------------------------------
# The property: any markup renders to valid, escaped sections within the limit

_LINK = re.compile(r"<(?:https?://|mailto:)[^<>|\s]*(?:\|[^<>]*)?>")
_ENTITY = re.compile(r"&(?!amp;|lt;|gt;)")

_texts = st.text(alphabet=st.sampled_from("ab &<>*_`|~\n😀é"), max_size=30)
_urls = st.one_of(st.just("https://ex.org/a?b=1&c=<2>|x"), st.just("mailto:a@b.c"), _texts)
_inlines: st.SearchStrategy[Inline] = st.recursive(
    st.one_of(st.builds(Text, _texts), st.builds(Code, _texts), st.just(LineBreak())),
    lambda inner: st.one_of(
        st.builds(Bold, st.lists(inner, max_size=3).map(tuple)),
        st.builds(Italic, st.lists(inner, max_size=3).map(tuple)),
        st.builds(Link, _urls, st.lists(inner, max_size=2).map(tuple)),
    ),
    max_leaves=10,
)
_paragraphs = st.builds(Paragraph, st.lists(_inlines, min_size=1, max_size=6).map(tuple))
_blocks: st.SearchStrategy[Block] = st.recursive(
    st.one_of(_paragraphs, st.builds(CodeBlock, _texts)),
    lambda inner: st.one_of(
        st.builds(Quote, st.lists(inner, min_size=1, max_size=3).map(tuple)),
        st.builds(
            ListBlock,
            st.booleans(),
            st.lists(st.lists(inner, min_size=1, max_size=2).map(tuple), min_size=1, max_size=4).map(tuple),
        ),
    ),
    max_leaves=8,
)
_documents = st.builds(Document, st.lists(_blocks, max_size=10).map(tuple))


def _assert_valid_mrkdwn(text: str, limit: int) -> None:
    assert text.strip() and slack_len(text) <= limit
    for line in text.split("\n"):
        line = line[2:] if line.startswith("> ") else line.removeprefix(">")
        rest = _LINK.sub("", line)
        assert "<" not in rest and ">" not in rest, line
        assert not _ENTITY.search(line), line


@settings(max_examples=200, deadline=None)
@given(_documents, st.sampled_from([3000, 200, 64]))
def test_any_markup_renders_to_valid_sections(doc: Document, limit: int) -> None:
    try:
        sections = split_sections(doc, limit)
    except TooLong:
        return  # one indivisible piece over a (tiny) limit: refused, never truncated
    for text in sections:
        _assert_valid_mrkdwn(text, limit)


@settings(max_examples=100, deadline=None)
@given(_documents)
def test_any_post_composes_within_block_kit_limits(doc: Document) -> None:
    try:
        composed = compose(OutboundMessage(doc, (Action("like", "👍"),), post_id=1))
    except MessageTooLong:
        return
    assert len(composed.blocks) <= 50
    for block in composed.blocks:
        if block["type"] == "section":
            _assert_valid_mrkdwn(block["text"]["text"], 3000)
        if block["type"] == "header":
            assert 0 < slack_len(block["text"]["text"]) <= 150


# ---------------------------------------------------------------------------------------------
# Inbound


def _callback(event: dict[str, Any], event_id: str = "Ev01") -> dict[str, Any]:
    return {"type": "event_callback", "event_id": event_id, "team_id": "T1", "event": event}


def _block_actions(**over: Any) -> dict[str, Any]:
    body = {
        "type": "block_actions",
        "user": {"id": "U0ANNA0001", "username": "anna", "name": "anna"},
        "container": {"type": "message", "message_ts": "1700000000.000100", "channel_id": CHANNEL},
        "trigger_id": "1.2.abc",
        "response_url": "https://hooks.example/actions/1",
        "actions": [{"type": "button", "action_id": "vote:2", "value": "p7.d9", "action_ts": "1700000001.0001"}],
    }
    body.update(over)
    return body


def test_block_actions_become_action_pressed() -> None:
    inbound = parse_request(_block_actions(), BOT)
    (event,) = inbound.events
    assert isinstance(event, ActionPressed)
    assert event.action_id == "vote:2" and event.event_id == "1.2.abc"
    assert event.message == MessageRef(ChatRef("slack", CHANNEL), "1700000000.000100")
    assert event.user.user_id == "U0ANNA0001" and event.user.display_name == "anna"
    assert inbound.home_user is None


@pytest.mark.parametrize(
    ("name", "emoji"),
    [
        ("+1", "👍"),
        ("thumbsup", "👍"),
        ("+1::skin-tone-3", "👍"),
        ("white_check_mark", "✅"),
        ("partyparrot", ":partyparrot:"),
    ],
)
def test_reactions_map_slack_names_to_emoji(name: str, emoji: str) -> None:
    body = _callback(
        {
            "type": "reaction_added",
            "user": "U0ANNA0001",
            "reaction": name,
            "item_user": BOT,
            "item": {"type": "message", "channel": CHANNEL, "ts": "1700000000.000100"},
        }
    )
    (event,) = parse_request(body, BOT).events
    assert isinstance(event, ReactionAdded) and event.reaction == emoji and event.event_id == "Ev01"
    assert emoji_for(name) == emoji


def test_reaction_removed_and_reactions_on_other_messages() -> None:
    event = {
        "type": "reaction_removed",
        "user": "U0ANNA0001",
        "reaction": "+1",
        "item_user": BOT,
        "item": {"type": "message", "channel": CHANNEL, "ts": "1.2"},
    }
    (removed,) = parse_request(_callback(event), BOT).events
    assert isinstance(removed, ReactionRemoved) and removed.reaction == "👍"
    assert parse_request(_callback({**event, "item_user": "U0SOMEONE1"}), BOT).events == ()
    assert parse_request(_callback({**event, "item": {"type": "file", "file": "F1"}}), BOT).events == ()


def test_a_retried_event_keeps_slacks_event_id() -> None:
    body = _callback(
        {
            "type": "reaction_added",
            "user": "U1",
            "reaction": "+1",
            "item": {"type": "message", "channel": CHANNEL, "ts": "1.2"},
        },
        "Ev9",
    )
    assert parse_request(body, BOT).events[0].event_id == parse_request(dict(body), BOT).events[0].event_id == "Ev9"


def test_thread_replies_to_bot_posts() -> None:
    reply = {
        "type": "message",
        "channel": CHANNEL,
        "user": "U0CARLA001",
        "text": "Ik kom!",
        "ts": "1700000005.000200",
        "thread_ts": "1700000000.000100",
        "parent_user_id": BOT,
    }
    (event,) = parse_request(_callback(reply), BOT).events
    assert isinstance(event, ReplyPosted) and event.text == "Ik kom!"
    assert event.message.message_id == "1700000000.000100" and event.reply is not None
    assert parse_request(_callback({**reply, "parent_user_id": "U0OTHER001"}), BOT).events == ()
    assert parse_request(_callback({**reply, "thread_ts": reply["ts"]}), BOT).events == ()
    assert parse_request(_callback({k: v for k, v in reply.items() if k != "thread_ts"}), BOT).events == ()
    assert parse_request(_callback({**reply, "subtype": "message_changed"}), BOT).events == ()
    assert parse_request(_callback({**reply, "bot_id": "B1"}), BOT).events == ()


def _slash(text: str, command: str = "/prikbord", channel: str = CHANNEL) -> dict[str, Any]:
    return {
        "command": command,
        "text": text,
        "user_id": "U0MOD00001",
        "user_name": "mod",
        "channel_id": channel,
        "channel_name": "general",
        "response_url": "https://hooks.example/commands/1",
        "trigger_id": "5.6.def",
    }


def test_slash_commands() -> None:
    inbound = parse_request(_slash("post Lunch vrijdag | Wat eten we? | cta: poll Pizza; Sushi"), BOT)
    (event,) = inbound.events
    assert isinstance(event, CommandIssued)
    assert (event.name, event.args) == ("post", "Lunch vrijdag | Wat eten we? | cta: poll Pizza; Sushi")
    assert event.chat == ChatRef("slack", CHANNEL) and not event.private_chat and event.event_id == "5.6.def"
    assert inbound.response_url == "https://hooks.example/commands/1"
    (empty,) = parse_request(_slash(""), BOT).events
    assert isinstance(empty, CommandIssued) and empty.name == "help"
    (direct,) = parse_request(_slash("STATS 12", channel="D000000001"), BOT).events
    assert isinstance(direct, CommandIssued) and direct.name == "stats" and direct.private_chat
    (other,) = parse_request(_slash("12", command="/like"), BOT).events
    assert isinstance(other, CommandIssued) and (other.name, other.args) == ("like", "12")


def test_the_bot_leaving_or_joining_a_channel() -> None:
    left = _callback({"type": "member_left_channel", "user": BOT, "channel": CHANNEL, "channel_type": "C"})
    (event,) = parse_request(left, BOT).events
    assert isinstance(event, ChannelMembershipChanged) and not event.joined
    assert event.chat.chat_id == CHANNEL and "removed" in event.reason
    joined = _callback({"type": "member_joined_channel", "user": BOT, "channel": CHANNEL, "inviter": "U0MOD00001"})
    (event,) = parse_request(joined, BOT).events
    assert isinstance(event, ChannelMembershipChanged) and event.joined and event.user.user_id == "U0MOD00001"
    someone = _callback({"type": "member_left_channel", "user": "U0ANNA0001", "channel": CHANNEL})
    (gone,) = parse_request(someone, BOT).events
    assert isinstance(gone, MemberLeft) and gone.user.user_id == "U0ANNA0001" and gone.chat.chat_id == CHANNEL
    came = _callback({"type": "member_joined_channel", "user": "U0BRAM0001", "channel": CHANNEL})
    (came_event,) = parse_request(came, BOT).events
    assert isinstance(came_event, MemberJoined) and came_event.user.user_id == "U0BRAM0001"
    assert parse_request(someone, None).events == ()  # the bot's own id unknown yet: nothing is read into it


def test_a_deactivated_account_leaves_every_audience() -> None:
    closed = _callback({"type": "user_change", "user": {"id": "U0ANNA0001", "deleted": True, "name": "anna"}})
    (event,) = parse_request(closed, BOT).events
    assert isinstance(event, AccountClosed) and event.user.user_id == "U0ANNA0001"
    renamed = _callback({"type": "user_change", "user": {"id": "U0ANNA0001", "deleted": False, "name": "anna2"}})
    assert parse_request(renamed, BOT).events == ()


@pytest.mark.parametrize(
    "body",
    [
        {},
        [],
        {"type": "event_callback", "event": {"type": "reaction_added"}},  # no event_id
        {"type": "event_callback", "event_id": "Ev1"},  # no event
        _block_actions(actions=[]),
        _block_actions(container={}, channel=None),
        {"type": "url_verification"},
        {"command": "/prikbord", "text": "help"},  # no user or channel
        {"team_id": "T1"},  # no type at all
    ],
)
def test_malformed_payloads_are_refused(body: Any) -> None:
    with pytest.raises(MalformedPayload):
        parse_request(body, BOT)


def test_payloads_the_core_does_not_see() -> None:
    assert parse_request({"type": "url_verification", "challenge": "c"}, BOT).events == ()
    assert parse_request({"ssl_check": "1", "token": "t"}, BOT).events == ()
    assert parse_request({"type": "view_submission", "view": {}}, BOT).events == ()


# ---------------------------------------------------------------------------------------------
# App Home


def test_home_view_lists_must_reads_with_their_buttons() -> None:
    ref = MessageRef(ChatRef("slack", CHANNEL), "1700000000.000100")
    post = _post("**Nieuwe verlofregeling**\n\nVanaf januari & daarna.", Action("ack", "✅ Read"), post_id=12)
    view = compose_home([(ref, post)])
    assert view["type"] == "home"
    summary = next(b for b in view["blocks"] if b["type"] == "section")["text"]["text"]
    assert summary == "*Nieuwe verlofregeling*\nVanaf januari &amp; daarna. (#12)"
    (button,) = next(b for b in view["blocks"] if b["type"] == "actions")["elements"]
    assert button["action_id"] == "ack" and button["value"] == home_button_value(ref) == f"@{CHANNEL}/{ref.message_id}"
    press = _block_actions(
        container={"type": "view", "view_id": "V1"}, actions=[{"action_id": "ack", "value": button["value"]}]
    )
    inbound = parse_request(press, BOT)
    (event,) = inbound.events
    assert isinstance(event, ActionPressed) and event.message == ref and event.action_id == "ack"
    assert inbound.home_user is not None and inbound.home_user.user_id == "U0ANNA0001"


def test_home_view_stays_within_100_blocks() -> None:
    ref = MessageRef(ChatRef("slack", CHANNEL), "1.2")
    view = compose_home([(ref, _post(f"**Post {n}**", Action("ack", "✅"))) for n in range(80)])
    assert len(view["blocks"]) <= 100 and "more" in view["blocks"][-1]["elements"][0]["text"]
    assert "Nothing" in compose_home([])["blocks"][1]["text"]["text"]


def test_app_home_opened() -> None:
    inbound = parse_request(_callback({"type": "app_home_opened", "user": "U0ANNA0001", "tab": "home"}), BOT)
    assert inbound.events == () and inbound.home_user is not None
    assert parse_request(_callback({"type": "app_home_opened", "user": "U1", "tab": "messages"}), BOT).home_user is None


def test_emoji_names_back() -> None:
    assert name_for("👍") == "+1" and name_for("✅") == "white_check_mark" and name_for(":custom:") == "custom"
    assert name_for("🦄") is None


def test_preview_reads_the_blocks_compose_sends() -> None:
    message = _post(
        "**Lunch <vrijdag>**\n\nWat *eten* we? [menu](https://intranet.example/m)", Action("vote:1", "Pizza", count=2)
    )
    assert preview(message) == MessagePreview(
        (
            (
                PreviewBlock("Lunch &lt;vrijdag&gt;", PreviewStyle.HEADER),
                PreviewBlock('Wat <i>eten</i> we? <a href="https://intranet.example/m">menu</a>', PreviewStyle.LINES),
                PreviewBlock("prikbord · #7", PreviewStyle.CONTEXT),
            ),
        ),
        (("Pizza (2)",),),
    )
    with pytest.raises(MessageTooLong):
        preview(_post("\n\n".join(["x" * 2900] * 60)))


def test_mrkdwn_reads_as_escaped_html() -> None:
    assert mrkdwn_to_html("*vet* _schuin_ ~weg~ `code` &lt;script&gt;") == (
        "<b>vet</b> <i>schuin</i> <s>weg</s> <code>code</code> &lt;script&gt;"
    )
    assert mrkdwn_to_html("<https://a.example/?q=1|hier> en <javascript:alert(1)|niet>") == (
        '<a href="https://a.example/?q=1">hier</a> en &lt;javascript:alert(1)|niet&gt;'
    )


def test_only_what_looks_like_a_slack_user_id_is_asked_its_locale() -> None:
    from adapters.slack.locales import could_be_user_id

    assert could_be_user_id("U0PRIKBOT1") and could_be_user_id("W012ABCDEF")
    assert not could_be_user_id("x" * 50_000)  # a mangled payload's id: no users.info URL of 50 kB
    assert not could_be_user_id("u0prikbot1") and not could_be_user_id("") and not could_be_user_id("U0 1")
