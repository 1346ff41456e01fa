"""interpret() and the counting rules: what a press, a reaction or a typed command means for a post,
and how often it counts (once per person for likes and acks, the latest RSVP or vote wins, taking a
reaction back removes it). The wire form of intents stays what buttons and stored data carry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from adapters.base import (
    Acknowledge,
    BadIntent,
    ChoiceKind,
    Choose,
    ChooseNamed,
    Intent,
    Like,
    OpenLink,
    React,
    Reply,
    UserRef,
    parse_intent,
)
from bot.clock import FrozenClock
from bot.i18n import load_catalogues
from bot.services.compose import actions_for
from bot.services.engagement import EngagementService, Request, Result
from bot.services.interpret import Meaning, Refusal, describe, interpret, reaction_intent
from content.db import Store
from content.models import CtaKind, Post, PostState, ResponseKind
from content.responses import Counts, Op, Outcome, counts_for

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def _refused(found: Meaning | Refusal) -> str:
    """A refusal's words in English (interpret() gives them as a Message, worded where it is answered)."""
    assert isinstance(found, Refusal), found
    return str(found.text)


def _post(cta: CtaKind, options: list[str] | None = None, state: PostState = PostState.PUBLISHED) -> Post:
    return Post(
        id=7,
        title="t",
        body="",
        cta_kind=cta,
        cta_options=options or [],
        cta_url="https://intranet.example/x" if cta == CtaKind.LINK else None,
        audience=["everyone"],
        state=state,
        created_at=NOW,
        updated_at=NOW,
    )


# ---------------------------------------------------------------------------------------------
# The wire form


WIRE: list[tuple[str, Intent]] = [
    ("like", Like()),
    ("ack", Acknowledge()),
    ("reply", Reply()),
    ("link", OpenLink()),
    ("rsvp:1", Choose(ChoiceKind.RSVP, 1)),
    ("vote:10", Choose(ChoiceKind.VOTE, 10)),
    ("option:Sushi", ChooseNamed("Sushi")),
    ("option:a:b", ChooseNamed("a:b")),
    ("reaction:👍", React("👍")),
    ("reaction:custom:5", React("custom:5")),
]


@pytest.mark.parametrize(("wire", "intent"), WIRE)
def test_the_wire_form_reads_back_and_encodes_unchanged(wire: str, intent: Intent) -> None:
    assert parse_intent(wire) == intent
    assert intent.encode() == wire


@pytest.mark.parametrize(
    "junk",
    [
        "",
        "LIKE",
        "like ",
        "drop table",
        "vote",
        "vote:",
        "vote:0",
        "vote:-1",
        "vote:x",
        "vote:²",
        "vote:1234567",
        "rsvp:yes",
        "option:",
        "option:  ",
        "reaction:",
        "poll:1",
        ":like",
    ],
)
def test_junk_is_refused_with_what_would_be_accepted(junk: str) -> None:
    with pytest.raises(BadIntent, match=r"not a prikbord action.*rsvp:N, vote:N"):
        parse_intent(junk)


def test_every_button_prikbord_sends_reads_back_as_an_intent() -> None:
    # What sits in callback data, action ids and console scripts today must keep working.
    posts = [
        _post(CtaKind.LIKE),
        _post(CtaKind.ACKNOWLEDGE),
        _post(CtaKind.RSVP, ["yes", "no", "maybe"]),
        _post(CtaKind.POLL, [f"Optie {n}" for n in range(1, 11)]),
        _post(CtaKind.LINK),
    ]
    sent = [a.action_id for post in posts for a in actions_for(post, Counts({}, {}), "https://x.example/r/t")]
    assert sent == ["like", "ack", "rsvp:1", "rsvp:2", "rsvp:3", *(f"vote:{n}" for n in range(1, 11)), "link"]
    assert [parse_intent(wire).encode() for wire in sent] == sent


def test_a_request_reads_its_wire_form_once() -> None:
    user = UserRef("console", "anna", "Anna")
    assert Request("console", None, user, "vote:2", post_id=1).intent == Choose(ChoiceKind.VOTE, 2)
    assert Request("console", None, user, Like(), post_id=1).intent == Like()
    with pytest.raises(BadIntent):
        Request("console", None, user, "vote:two", post_id=1)


# ---------------------------------------------------------------------------------------------
# interpret()


def test_likes_replies_and_clicks_count_on_any_published_post_even_when_closed() -> None:
    for cta in CtaKind:
        post = _post(cta, ["A", "B"] if cta in (CtaKind.POLL, CtaKind.RSVP) else None)
        assert interpret(post, Like(), now_open=False) == Meaning(ResponseKind.LIKE)
        assert interpret(post, Reply(), now_open=False) == Meaning(ResponseKind.REPLY)
    link = _post(CtaKind.LINK)
    assert interpret(link, OpenLink(), now_open=True) == Meaning(ResponseKind.CLICK, "https://intranet.example/x")


@pytest.mark.parametrize(
    ("state", "refusal"),
    [
        (PostState.RETRACTED, "#7 was retracted"),
        (PostState.DRAFT, "there is no published post #7"),
        (PostState.PENDING, "there is no published post #7"),
        (PostState.SCHEDULED, "there is no published post #7"),
    ],
)
def test_unpublished_and_retracted_posts_refuse_everything(state: PostState, refusal: str) -> None:
    post = _post(CtaKind.POLL, ["A", "B"], state)
    for intent in (Like(), Reply(), Choose(ChoiceKind.VOTE, 1), React("👍")):
        assert _refused(interpret(post, intent, now_open=True)) == refusal


def test_closed_and_expired_calls_to_action_refuse_acks_and_choices() -> None:
    ack = _post(CtaKind.ACKNOWLEDGE)
    poll = _post(CtaKind.POLL, ["A", "B"])
    assert _refused(interpret(ack, Acknowledge(), now_open=False)) == "#7 is closed"
    assert _refused(interpret(poll, Choose(ChoiceKind.VOTE, 1), now_open=False)) == "#7 is closed"
    expired = _post(CtaKind.POLL, ["A", "B"], PostState.EXPIRED)
    assert _refused(interpret(expired, Choose(ChoiceKind.VOTE, 1), now_open=True)) == "#7 is closed"
    assert interpret(expired, Like(), now_open=True) == Meaning(ResponseKind.LIKE)


def test_acks_and_choices_only_where_the_post_asks_for_them() -> None:
    assert _refused(interpret(_post(CtaKind.LIKE), Acknowledge(), True)) == "#7 asks for no acknowledgement"
    assert interpret(_post(CtaKind.ACKNOWLEDGE), Acknowledge(), True) == Meaning(ResponseKind.ACK)
    assert (
        _refused(interpret(_post(CtaKind.LIKE), Choose(ChoiceKind.VOTE, 1), True)) == "#7 has no options to choose from"
    )


def test_choices_by_number_and_by_text() -> None:
    poll = _post(CtaKind.POLL, ["Pizza", "Sushi", "2025"])
    rsvp = _post(CtaKind.RSVP, ["yes", "no", "maybe"])
    assert interpret(poll, Choose(ChoiceKind.VOTE, 2), True) == Meaning(ResponseKind.VOTE, "Sushi")
    assert interpret(rsvp, Choose(ChoiceKind.RSVP, 3), True) == Meaning(ResponseKind.RSVP, "maybe")
    assert interpret(poll, ChooseNamed(" sushi "), True) == Meaning(ResponseKind.VOTE, "Sushi")
    assert interpret(poll, ChooseNamed("1"), True) == Meaning(ResponseKind.VOTE, "Pizza")
    assert interpret(poll, ChooseNamed("2025"), True) == Meaning(ResponseKind.VOTE, "2025")  # an option named so
    listed = "choose one of: 1 Pizza, 2 Sushi, 3 2025"
    assert _refused(interpret(poll, Choose(ChoiceKind.VOTE, 4), True)) == f"#7 has no option '4'; {listed}"
    assert _refused(interpret(poll, ChooseNamed("Salade"), True)) == f"#7 has no option 'Salade'; {listed}"


def test_reaction_keys_map_to_the_posts_options_ack_or_a_like() -> None:
    poll = _post(CtaKind.POLL, ["Pizza", "Sushi"])
    rsvp = _post(CtaKind.RSVP, ["yes", "no", "maybe"])
    ack = _post(CtaKind.ACKNOWLEDGE)
    assert reaction_intent(poll, "2️⃣") == Choose(ChoiceKind.VOTE, 2)
    assert reaction_intent(poll, "3️⃣") == Like()  # no third option: just a reaction
    assert reaction_intent(rsvp, "❌") == Choose(ChoiceKind.VOTE, 2)
    assert reaction_intent(ack, "✅") == Acknowledge()
    assert reaction_intent(poll, "✅") == Like()
    assert interpret(poll, React("2️⃣"), True) == Meaning(ResponseKind.VOTE, "Sushi")
    assert interpret(rsvp, React("🤔"), True) == Meaning(ResponseKind.RSVP, "maybe")
    assert interpret(ack, React("✅"), True) == Meaning(ResponseKind.ACK)
    assert interpret(ack, React("❤️"), True) == Meaning(ResponseKind.LIKE)
    assert _refused(interpret(poll, React("1️⃣"), False)) == "#7 is closed"


def test_describe_words_each_outcome() -> None:
    vote = Meaning(ResponseKind.VOTE, "Sushi")
    assert str(describe(Outcome.COUNTED, vote, 7)) == "vote for Sushi counted (#7)"
    assert str(describe(Outcome.CHANGED, vote, 7)) == "changed to Sushi (#7)"
    assert str(describe(Outcome.ALREADY, Meaning(ResponseKind.LIKE), 7)) == "already counted (#7)"
    assert str(describe(Outcome.REMOVED, Meaning(ResponseKind.LIKE), 7)) == "like removed (#7)"
    assert str(describe(Outcome.NOTHING, Meaning(ResponseKind.LIKE), 7)) == "nothing to remove (#7)"
    # Each outcome is a message to translate: the Dutch catalogue words it for a Dutch reader.
    dutch = load_catalogues().translator("nl")
    assert dutch.render(describe(Outcome.COUNTED, vote, 7)) == "stem op Sushi geteld (#7)"
    assert dutch.render(describe(Outcome.REMOVED, Meaning(ResponseKind.ACK), 7)) == "leesbevestiging verwijderd (#7)"


# ---------------------------------------------------------------------------------------------
# The counting rules, through the engagement service on each backend


async def _stored(store: Store, cta: CtaKind, options: list[str], deadline: datetime | None = None) -> int:
    async with store.transaction() as session:
        post = _post(cta, options)
        post.id = None  # type: ignore[assignment]
        post.cta_deadline = deadline
        session.add(post)
        await session.flush()
        return post.id


async def test_counting_rules(store: Store, clock: FrozenClock) -> None:
    ack_post = await _stored(store, CtaKind.ACKNOWLEDGE, [])
    poll = await _stored(store, CtaKind.POLL, ["Pizza", "Sushi"])
    closed = await _stored(store, CtaKind.POLL, ["Pizza", "Sushi"], deadline=NOW - timedelta(minutes=1))
    service = EngagementService(store, clock, None)
    anna, bram = UserRef("console", "anna", "Anna"), UserRef("console", "bram", "Bram")

    async def act(user: UserRef, post_id: int, intent: Intent | str, op: Op = Op.ADD) -> Result:
        return await service.submit(Request("console", None, user, intent, op, post_id=post_id))

    try:
        assert (await act(anna, ack_post, Like())).outcome == Outcome.COUNTED
        assert (await act(anna, ack_post, Like())).outcome == Outcome.ALREADY  # once per person
        assert (await act(anna, ack_post, "ack")).outcome == Outcome.COUNTED
        assert (await act(anna, ack_post, React("✅"))).outcome == Outcome.ALREADY  # the same ack
        assert (await act(bram, ack_post, React("✅"))).outcome == Outcome.COUNTED
        assert (await act(bram, ack_post, React("✅"), Op.REMOVE)).outcome == Outcome.REMOVED  # unreact
        assert (await act(bram, ack_post, React("✅"), Op.REMOVE)).outcome == Outcome.NOTHING
        assert (await act(anna, poll, Choose(ChoiceKind.VOTE, 1))).outcome == Outcome.COUNTED
        changed = await act(anna, poll, ChooseNamed("sushi"))  # the latest vote wins
        assert (changed.outcome, changed.text) == (Outcome.CHANGED, f"changed to Sushi (#{poll})")
        assert (await act(bram, poll, React("2️⃣"))).outcome == Outcome.COUNTED
        refused = await act(anna, closed, Choose(ChoiceKind.VOTE, 1))
        assert (refused.outcome, refused.text) == (None, f"#{closed} is closed")
        missing = await act(anna, 999, Like())
        assert (missing.outcome, missing.text) == (None, "no post #999")
    finally:
        await service.stop()
    async with store.sessions() as session:
        counts = await counts_for(session, [ack_post, poll, closed])
    assert counts[ack_post].by_kind == {ResponseKind.LIKE: 1, ResponseKind.ACK: 1}
    assert counts[poll].by_kind == {ResponseKind.VOTE: 2} and counts[poll].by_value == {"Sushi": 2}
    assert counts[closed].by_kind == {}
