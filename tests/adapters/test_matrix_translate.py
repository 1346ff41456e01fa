"""Matrix translation, pure: content we send, events we receive (as Synapse delivers them in /sync)."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.base import (
    Action,
    ActionPressed,
    AdapterAuthError,
    ChannelMembershipChanged,
    ChatRef,
    CommandIssued,
    DeliveryError,
    MessagePosted,
    MessagePreview,
    MessageRef,
    MessageTooLong,
    OutboundMessage,
    PermanentError,
    PreviewBlock,
    RateLimited,
    ReactionAdded,
    TransientError,
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
)
from adapters.matrix.errors import error_for
from adapters.matrix.translate import (
    MAX_CONTENT_BYTES,
    EncryptionSeen,
    InboundContext,
    ReactionSeen,
    RedactionSeen,
    RememberedReaction,
    ReplySeen,
    action_emoji,
    action_for_reaction,
    action_keys,
    content_size,
    edit_content,
    invite_allowed,
    message_content,
    normalize_key,
    notice_content,
    parse_command,
    parse_event,
    preview,
    reaction_to_event,
    redaction_to_event,
    reply_to_event,
    strip_reply_fallback,
)

BOT = "@prikbot:example.org"
ROOM = "!room:example.org"
CTX = InboundContext(own_user_id=BOT, command_prefix="!", name_of=lambda _r, u: u.split(":")[0][1:].title())
PARSER = MarkupParser()


def _post(actions: tuple[Action, ...] = (), body: str = "**Lunch** vrijdag\n\nWat eten we?") -> OutboundMessage:
    return OutboundMessage(PARSER.parse(body), actions, idempotency_key="d1")


def _event(event_type: str, content: dict[str, Any], sender: str = "@anna:example.org", **extra: Any) -> dict[str, Any]:
    return {"type": event_type, "sender": sender, "event_id": "$e1", "content": content, **extra}


# ---------------------------------------------------------------------------------------------
# Outbound


def test_post_has_html_and_plain_bodies() -> None:
    content = message_content(_post())
    assert content["msgtype"] == "m.text"
    assert content["format"] == "org.matrix.custom.html"
    assert content["formatted_body"] == "<p><strong>Lunch</strong> vrijdag</p><p>Wat eten we?</p>"
    assert content["body"] == "Lunch vrijdag\n\nWat eten we?"
    assert content["m.mentions"] == {}


def test_calls_to_action_show_their_reaction_keys_and_counts() -> None:
    actions = (
        Action("like", "Like", count=12),
        Action("ack", "✅ Read", count=40, emoji="✅"),
        Action("vote:1", "Pizza", count=3),
        Action("vote:2", "Sushi", emoji="2️⃣"),
    )
    content = message_content(_post(actions))
    assert "React with: 👍 Like (12) · ✅ Read (40) · 1️⃣ Pizza (3) · 2️⃣ Sushi" in content["body"]
    assert "<p>React with: 👍 Like (12) · ✅ Read (40) · 1️⃣ Pizza (3) · 2️⃣ Sushi</p>" in content["formatted_body"]
    assert action_keys(_post(actions)) == {
        normalize_key("👍"): "like",
        normalize_key("✅"): "ack",
        normalize_key("1️⃣"): "vote:1",
        normalize_key("2️⃣"): "vote:2",
    }


def test_link_actions_are_links_through_the_redirect() -> None:
    action = Action("link", "Lees meer", url="https://prikbord.example/r/abc")
    content = message_content(_post((action,)))
    assert '<a href="https://prikbord.example/r/abc">Lees meer</a>' in content["formatted_body"]
    assert "Lees meer: https://prikbord.example/r/abc" in content["body"]
    assert action_emoji(action) is None and action_keys(_post((action,))) == {}


def test_html_in_labels_and_bodies_is_escaped() -> None:
    content = message_content(_post((Action("vote:1", "<b>x</b>"),), body="<script>alert(1)</script> & co"))
    assert "<script>" not in content["formatted_body"] and "&lt;script&gt;" in content["formatted_body"]
    assert "&lt;b&gt;x&lt;/b&gt;" in content["formatted_body"]


def test_unsafe_link_schemes_are_dropped() -> None:
    for body in ("[klik](javascript:alert(1))", "[app](tg://resolve?domain=x)", "<javascript:alert(1)>"):
        assert "href" not in message_content(_post(body=body))["formatted_body"]


def test_reply_relation() -> None:
    ref = MessageRef(ChatRef("matrix", ROOM), "$orig")
    message = OutboundMessage(PARSER.parse("ok"), reply_to=ref)
    assert message_content(message)["m.relates_to"] == {"m.in_reply_to": {"event_id": "$orig"}}


def test_edit_is_m_replace_with_new_content() -> None:
    content = edit_content("$orig", _post((Action("like", "Like", count=2),)))
    assert content["m.relates_to"] == {"rel_type": "m.replace", "event_id": "$orig"}
    assert content["body"].startswith("* ")
    new = content["m.new_content"]
    assert "m.relates_to" not in new and "👍 Like (2)" in new["body"] and new["format"] == "org.matrix.custom.html"


def test_large_edit_keeps_only_a_short_fallback() -> None:
    text = "woord " * 4000
    content = edit_content("$orig", _post(body=text))
    assert content_size(content) <= MAX_CONTENT_BYTES
    assert content["m.new_content"]["body"].startswith("woord")
    assert "formatted_body" not in content


def test_notice() -> None:
    assert notice_content("ok", "$cmd") == {
        "msgtype": "m.notice",
        "body": "ok",
        "m.mentions": {},
        "m.relates_to": {"m.in_reply_to": {"event_id": "$cmd"}},
    }


# ---------------------------------------------------------------------------------------------
# Any markup renders to well-formed HTML with only tags Matrix clients render

MATRIX_TAGS = {
    "p", "strong", "em", "code", "pre", "a", "br", "ul", "ol", "li", "blockquote",
}  # fmt: skip
MATRIX_ATTRS = {"a": {"href"}, "ol": {"start"}, "code": {"class"}}
VOID = {"br"}


class _Checker(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in MATRIX_TAGS:
            self.errors.append(f"tag {tag}")
        for name, value in attrs:
            if name not in MATRIX_ATTRS.get(tag, set()):
                self.errors.append(f"attribute {tag}.{name}")
            if name == "href" and not (value or "").startswith(("https://", "http://", "mailto:")):
                self.errors.append(f"href {value}")
            if name == "class" and not (value or "").startswith("language-"):
                self.errors.append(f"class {value}")
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in VOID:
            self.errors.append(f"self-closed {tag}")

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack.pop() != tag:
            self.errors.append(f"unbalanced </{tag}>")


_text = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=12)
_url = st.one_of(
    st.builds(lambda s: "https://x.example/" + s, _text),
    st.sampled_from(["javascript:alert(1)", "tg://x", "mailto:a@b.c", 'https://x/"><script>', ""]),
)
_inline: st.SearchStrategy[Inline] = st.recursive(
    st.one_of(st.builds(Text, _text), st.builds(Code, _text), st.just(LineBreak())),
    lambda kids: st.one_of(
        st.builds(lambda c: Bold(tuple(c)), st.lists(kids, max_size=3)),
        st.builds(lambda c: Italic(tuple(c)), st.lists(kids, max_size=3)),
        st.builds(lambda u, c: Link(u, tuple(c)), _url, st.lists(kids, max_size=2)),
    ),
    max_leaves=8,
)
_paragraph = st.builds(lambda c: Paragraph(tuple(c)), st.lists(_inline, max_size=4))
_block: st.SearchStrategy[Block] = st.recursive(
    st.one_of(_paragraph, st.builds(CodeBlock, _text, st.sampled_from(["", "python", 'x"y']))),
    lambda kids: st.one_of(
        st.builds(lambda c: Quote(tuple(c)), st.lists(kids, max_size=3)),
        st.builds(
            lambda o, items, start: ListBlock(o, tuple(tuple(i) for i in items), start),
            st.booleans(),
            st.lists(st.lists(kids, max_size=2), max_size=3),
            st.integers(1, 20),
        ),
    ),
    max_leaves=6,
)
_actions = st.lists(
    st.builds(
        Action,
        st.sampled_from(["like", "ack", "vote:1", "vote:2", "rsvp:yes", "reply", "link"]),
        _text,
        url=st.one_of(st.none(), st.sampled_from(["https://x.example/r/t?a=1&b=2", 'https://x/"<>', "ftp://x"])),
        count=st.one_of(st.none(), st.integers(0, 999)),
    ),
    max_size=4,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_block, max_size=5), _actions)
def test_any_markup_renders_to_well_formed_matrix_html(blocks: list[Block], actions: list[Action]) -> None:
    content = message_content(OutboundMessage(Document(tuple(blocks)), tuple(actions)))
    checker = _Checker()
    checker.feed(content["formatted_body"])
    checker.close()
    assert checker.errors == [] and checker.stack == [], (content["formatted_body"], checker.errors)
    assert isinstance(content["body"], str)
    json.dumps(content)  # serializable as an event


# ---------------------------------------------------------------------------------------------
# Reaction keys


@pytest.mark.parametrize(
    ("key", "rsvp", "expected"),
    [
        ("👍", False, "like"),
        ("👍🏽", False, "like"),
        ("✅", False, "ack"),
        ("✅", True, "rsvp:yes"),
        ("❌", True, "rsvp:no"),
        ("🤔", True, "rsvp:maybe"),
        ("❌", False, None),
        ("1️⃣", False, "vote:1"),
        ("1⃣", False, "vote:1"),  # keycap without the emoji presentation selector
        ("🔟", False, "vote:10"),
        ("🎉", False, None),
    ],
)
def test_action_for_reaction(key: str, rsvp: bool, expected: str | None) -> None:
    assert action_for_reaction(key, rsvp=rsvp) == expected


def test_default_emojis_round_trip() -> None:
    for action_id in ["like", "ack", *(f"vote:{n}" for n in range(1, 11))]:
        emoji = action_emoji(Action(action_id, "x"))
        assert emoji is not None and action_for_reaction(emoji) == action_id
    for answer in ("yes", "no", "maybe"):
        emoji = action_emoji(Action(f"rsvp:{answer}", "x"))
        assert emoji is not None and action_for_reaction(emoji, rsvp=True) == f"rsvp:{answer}"


# ---------------------------------------------------------------------------------------------
# Inbound


def test_reaction_on_an_action_key_is_action_pressed_else_reaction_added() -> None:
    raw = _event("m.reaction", {"m.relates_to": {"rel_type": "m.annotation", "event_id": "$post", "key": "1⃣"}})
    seen = parse_event(raw, ROOM, CTX)
    assert seen == ReactionSeen("$e1", ROOM, "@anna:example.org", "$post", "1⃣")
    keys = action_keys(_post((Action("vote:1", "Pizza", emoji="1️⃣"),)))
    pressed = reaction_to_event(seen, keys, CTX)
    assert isinstance(pressed, ActionPressed) and pressed.action_id == "vote:1"
    assert pressed.message == MessageRef(ChatRef("matrix", ROOM), "$post") and pressed.user.display_name == "Anna"
    added = reaction_to_event(seen, {}, CTX)
    assert isinstance(added, ReactionAdded) and added.reaction == "1⃣"


def test_redaction_of_a_remembered_reaction() -> None:
    seen = parse_event(_event("m.room.redaction", {"redacts": "$r1"}, sender="@mod:example.org"), ROOM, CTX)
    assert seen == RedactionSeen("$e1", ROOM, "@mod:example.org", "$r1")
    old = parse_event(_event("m.room.redaction", {}, redacts="$r1"), ROOM, CTX)  # room versions before 11
    assert isinstance(old, RedactionSeen) and old.redacts == "$r1"
    remembered = RememberedReaction.loads(RememberedReaction(ROOM, "$post", "👍", "@anna:example.org").dumps())
    removed = redaction_to_event(seen, remembered, CTX)
    # The reaction's owner, not the moderator who redacted it.
    assert removed.user.user_id == "@anna:example.org" and removed.reaction == "👍" and removed.event_id == "$e1"


def test_reply_strips_the_fallback() -> None:
    body = "> <@prikbot:example.org> Lunch vrijdag\n> Wat eten we?\n\nIk kom!"
    raw = _event(
        "m.room.message", {"msgtype": "m.text", "body": body, "m.relates_to": {"m.in_reply_to": {"event_id": "$post"}}}
    )
    seen = parse_event(raw, ROOM, CTX)
    assert seen == ReplySeen("$e1", ROOM, "@anna:example.org", ("$post",), "Ik kom!")
    event = reply_to_event(seen, "$post", CTX)
    assert event.text == "Ik kom!" and event.reply == MessageRef(ChatRef("matrix", ROOM), "$e1")
    assert strip_reply_fallback("> quote\nnot a fallback") == "not a fallback"
    assert strip_reply_fallback("plain") == "plain"


def test_thread_message_targets_the_root() -> None:
    rel = {"rel_type": "m.thread", "event_id": "$post", "is_falling_back": True, "m.in_reply_to": {"event_id": "$last"}}
    seen = parse_event(
        _event("m.room.message", {"msgtype": "m.text", "body": "> x\n\nin thread", "m.relates_to": rel}), ROOM, CTX
    )
    assert isinstance(seen, ReplySeen) and seen.targets == ("$post",) and seen.text == "> x\n\nin thread"
    rel = {"rel_type": "m.thread", "event_id": "$root", "m.in_reply_to": {"event_id": "$post"}}
    seen = parse_event(_event("m.room.message", {"msgtype": "m.text", "body": "hi", "m.relates_to": rel}), ROOM, CTX)
    assert isinstance(seen, ReplySeen) and seen.targets == ("$root", "$post")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("!stats 12", ("stats", "12")),
        ("/Stats 12", ("stats", "12")),
        ("!post Lunch\nWat eten we? | cta: poll A; B", ("post", "Lunch\nWat eten we? | cta: poll A; B")),
        ("!help", ("help", "")),
        ("! hi", None),
        ("!!!", None),
        ("!", None),
        ("hello !stats", None),
    ],
)
def test_parse_command(body: str, expected: tuple[str, str] | None) -> None:
    assert parse_command(body, "!") == expected


def test_command_event() -> None:
    raw = _event("m.room.message", {"msgtype": "m.text", "body": "!stats 12"})
    event = parse_event(raw, ROOM, CTX)
    assert isinstance(event, CommandIssued)
    assert (event.name, event.args, event.chat.chat_id, event.event_id) == ("stats", "12", ROOM, "$e1")
    assert event.message == MessageRef(ChatRef("matrix", ROOM), "$e1") and not event.private_chat
    other = InboundContext(own_user_id=BOT, command_prefix="?", is_direct=lambda _r: True)
    issued = parse_event(_event("m.room.message", {"msgtype": "m.text", "body": "?stats"}), ROOM, other)
    assert isinstance(issued, CommandIssued) and issued.private_chat
    # Another prefix: "!stats 12" is plain text there, read by the core only as an answer it asked for.
    assert isinstance(parse_event(raw, ROOM, other), MessagePosted)


def test_plain_chat_is_a_message_posted_for_the_core_to_read_only_as_an_answer() -> None:
    event = parse_event(_event("m.room.message", {"msgtype": "m.text", "body": " Lunch vrijdag "}), ROOM, CTX)
    assert isinstance(event, MessagePosted)
    assert (event.text, event.user.user_id) == ("Lunch vrijdag", "@anna:example.org")
    assert event.message == MessageRef(ChatRef("matrix", ROOM), "$e1") and not event.private_chat
    direct = InboundContext(own_user_id=BOT, is_direct=lambda _r: True)
    posted = parse_event(_event("m.room.message", {"msgtype": "m.text", "body": "hi"}), ROOM, direct)
    assert isinstance(posted, MessagePosted) and posted.private_chat


def test_ignored_events() -> None:
    text = {"msgtype": "m.text", "body": "!stats"}
    assert parse_event(_event("m.room.message", text, sender=BOT), ROOM, CTX) is None  # our own echo
    assert parse_event(_event("m.room.message", {"msgtype": "m.notice", "body": "!x"}), ROOM, CTX) is None
    edit = {"msgtype": "m.text", "body": "* !x", "m.relates_to": {"rel_type": "m.replace", "event_id": "$a"}}
    assert parse_event(_event("m.room.message", edit), ROOM, CTX) is None
    assert parse_event(_event("m.reaction", {}), ROOM, CTX) is None  # a redacted reaction
    assert parse_event({"type": "m.room.message"}, ROOM, CTX) is None


def test_own_membership() -> None:
    kick = _event(
        "m.room.member", {"membership": "leave", "reason": "spam"}, sender="@mod:example.org", state_key=BOT,
        unsigned={"prev_content": {"membership": "join"}},
    )  # fmt: skip
    event = parse_event(kick, ROOM, CTX)
    assert isinstance(event, ChannelMembershipChanged) and not event.joined
    assert event.chat == ChatRef("matrix", ROOM) and "removed the bot: spam" in event.reason
    ban = parse_event(
        _event("m.room.member", {"membership": "ban"}, sender="@mod:example.org", state_key=BOT), ROOM, CTX
    )
    assert isinstance(ban, ChannelMembershipChanged) and not ban.joined and "banned" in ban.reason
    join = parse_event(_event("m.room.member", {"membership": "join"}, sender=BOT, state_key=BOT), ROOM, CTX)
    assert isinstance(join, ChannelMembershipChanged) and join.joined
    rename = _event("m.room.member", {"membership": "join", "displayname": "P"}, sender=BOT, state_key=BOT,
                    unsigned={"prev_content": {"membership": "join"}})  # fmt: skip
    assert parse_event(rename, ROOM, CTX) is None
    declined = _event("m.room.member", {"membership": "leave"}, sender=BOT, state_key=BOT,
                      unsigned={"prev_content": {"membership": "invite"}})  # fmt: skip
    assert parse_event(declined, ROOM, CTX) is None
    # Someone else's membership is no change of the bot's (tests/adapters/test_matrix_members.py).
    other = _event("m.room.member", {"membership": "leave"}, state_key="@anna:example.org")
    assert not isinstance(parse_event(other, ROOM, CTX), ChannelMembershipChanged)


def test_encryption_state() -> None:
    raw = _event("m.room.encryption", {"algorithm": "m.megolm.v1.aes-sha2"}, state_key="")
    assert parse_event(raw, ROOM, CTX) == EncryptionSeen(ROOM)


def test_invites() -> None:
    assert invite_allowed("!r:example.org", "@anna:example.org", (), "example.org")
    assert not invite_allowed("!r:evil.example", "@eve:evil.example", (), "example.org")
    assert invite_allowed("!r:partner.example", "@p:partner.example", ("partner.example",), "example.org")
    assert not invite_allowed("!r:example.org", "@anna:example.org", ("partner.example",), "example.org")
    assert invite_allowed("!r:x", "@eve:evil.example", ("!r:x",), "example.org")
    assert invite_allowed("!r:x", "@eve:evil.example", ("*",), "example.org")
    assert not invite_allowed("!r:x", None, (), "example.org")


# ---------------------------------------------------------------------------------------------
# Errors


def _err(errcode: str | None, status: int | None, retry_ms: int | None = None) -> DeliveryError:
    return error_for(
        errcode=errcode, message="nope", http_status=status, retry_after_ms=retry_ms,
        what="send to", room_id=ROOM, bot_user_id=BOT,
    )  # fmt: skip


def test_error_mapping() -> None:
    limited = _err("M_LIMIT_EXCEEDED", 429, 1500)
    assert isinstance(limited, RateLimited) and limited.retry_after == 1.5
    header = error_for(
        errcode=None, message="", http_status=429, retry_after_ms=None, retry_after_header="3",
        what="sync", room_id=None, bot_user_id=BOT,
    )  # fmt: skip
    assert isinstance(header, RateLimited) and header.retry_after == 3
    assert isinstance(_err("M_UNKNOWN_TOKEN", 401), AdapterAuthError)
    forbidden = _err("M_FORBIDDEN", 403)
    assert isinstance(forbidden, PermanentError) and "invite the bot" in str(forbidden) and ROOM in str(forbidden)
    assert isinstance(_err("M_NOT_FOUND", 404), PermanentError)
    assert isinstance(_err("M_TOO_LARGE", 413), MessageTooLong)
    assert isinstance(_err("M_UNKNOWN", 502), TransientError)
    assert isinstance(_err(None, None), TransientError)
    assert isinstance(_err("M_BAD_JSON", 400), PermanentError)


def test_preview_is_the_formatted_body_with_the_reaction_keys() -> None:
    message = _post((Action("vote:1", "Pizza", count=0), Action("vote:2", "Sushi", count=1)))
    body = message_content(message)["formatted_body"]
    assert "React with: 1️⃣ Pizza (0) · 2️⃣ Sushi (1)" in body
    assert preview(message) == MessagePreview(
        ((PreviewBlock(body),),), notes=("Matrix has no buttons: people react with the keys shown in the text",)
    )
    assert preview(_post()).notes == ()  # nothing to react with, nothing to say
