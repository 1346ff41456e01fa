"""The steps of a post composed step by step, pure: the order of the questions, and each answer read with
the one-line `post`'s own rules (a bad answer is refused with that rule's words and the step stays)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from adapters.telegram.render import CALLBACK_DATA_LIMIT, encode_callback_data
from bot.services import guided_steps as steps
from bot.services.guided_steps import Answered, Refused, Rules, Step
from content.models import CtaKind

ZONE = ZoneInfo("Europe/Amsterdam")
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
RULES = Rules(ZONE, NOW)


def walk(*answers: str, rules: Rules = RULES) -> Answered:
    """Answer from the title on; every answer must be taken."""
    step, state = Step.TITLE, {}
    for text in answers:
        outcome = steps.answer(step, state, text, rules)
        assert isinstance(outcome, Answered), f"{text!r} at {step}: {outcome}"
        step, state = outcome.step, outcome.answers
    return Answered(step, state)


def refused(step: Step, answers: dict[str, Any], text: str, rules: Rules = RULES) -> str:
    outcome = steps.answer(step, answers, text, rules)
    assert isinstance(outcome, Refused), f"{text!r} at {step} was taken: {outcome}"
    return str(outcome.error)


def test_a_poll_asks_its_options_and_a_deadline() -> None:
    done = walk("Lunch", "Wat eten we?", "poll", "Pizza; Sushi", "tomorrow 12:00", "everyone", "now", "no")
    assert done.step == Step.PREVIEW
    draft = steps.final_draft(done.answers, RULES)
    assert (draft.title, draft.body, draft.cta.kind, draft.cta.options) == (
        "Lunch",
        "Wat eten we?",
        CtaKind.POLL,
        ("Pizza", "Sushi"),
    )
    assert draft.cta.deadline == datetime(2026, 12, 1, 11, 0, tzinfo=UTC)
    assert (draft.audience, draft.publish_at, draft.urgent) == (("everyone",), None, False)


@pytest.mark.parametrize(
    ("cta", "after"),
    [
        ("like", Step.AUDIENCE),
        ("reply", Step.AUDIENCE),
        ("none", Step.AUDIENCE),
        ("acknowledge", Step.DEADLINE),
        ("ack", Step.DEADLINE),
        ("rsvp", Step.OPTIONS),
        ("poll", Step.OPTIONS),
        ("link", Step.URL),
    ],
)
def test_only_the_kinds_that_have_options_a_url_or_a_deadline_ask_for_them(cta: str, after: Step) -> None:
    assert walk("T", "skip", cta).step == after


def test_buttons_answer_as_their_value() -> None:
    done = walk("T", "g:skip", "g:rsvp", "g:default", "g:skip", "g:everyone", "g:now", "g:yes")
    draft = steps.final_draft(done.answers, RULES)
    assert (draft.body, draft.cta.options, draft.cta.deadline, draft.urgent) == ("", ("yes", "no", "maybe"), None, True)


def test_dutch_answers_are_understood() -> None:
    done = walk("T", "overslaan", "like", "everyone", "nu", "ja")
    assert done.step == Step.PREVIEW and done.answers["urgent"] is True and done.answers["publish_at"] is None


def test_answers_are_normalized_like_a_one_line_post() -> None:
    done = walk("  Lunch\u202e  vrijdag ", "skip", "like", "Kantoor, NL, kantoor")
    assert done.answers["title"] == "Lunch vrijdag"
    assert done.answers["audience"] == ["kantoor", "nl"]


def test_bad_answers_are_refused_with_the_one_line_posts_words() -> None:
    assert "a post needs a title" in refused(Step.TITLE, {}, "\u200b")
    assert "the title is 301 characters" in refused(Step.TITLE, {}, "x" * 301)
    at_cta = walk("T", "skip").answers
    assert "unknown call to action 'dance'" in refused(Step.CTA, at_cta, "dance")
    at_options = walk("T", "skip", "poll").answers
    assert "a poll needs 2 to 10 options" in refused(Step.OPTIONS, at_options, "Pizza")
    assert "the options must differ" in refused(Step.OPTIONS, at_options, "A; A")
    at_url = walk("T", "skip", "link").answers
    assert "needs an http(s) URL" in refused(Step.URL, at_url, "intranet/nieuw")
    at_deadline = walk("T", "skip", "ack").answers
    assert "is not a time" in refused(Step.DEADLINE, at_deadline, "someday")
    at_audience = walk("T", "skip", "like").answers
    assert "either channel tags or people" in refused(Step.AUDIENCE, at_audience, "kantoor, department=sales")
    at_schedule = walk("T", "skip", "like", "everyone").answers
    assert "is in the past" in refused(Step.SCHEDULE, at_schedule, "2026-11-29 10:00")
    at_urgent = walk("T", "skip", "like", "everyone", "now").answers
    assert "answer yes or no" in refused(Step.URGENT, at_urgent, "perhaps")
    at_preview = walk("T", "skip", "like", "everyone", "now", "no").answers
    assert "press Publish" in refused(Step.PREVIEW, at_preview, "hmm")


def test_a_required_call_to_action_refuses_none_at_its_step() -> None:
    strict = Rules(ZONE, NOW, require_call_to_action=True)
    at_cta = walk("T", "skip", rules=strict).answers  # the title alone is not refused for it
    assert "every feed post needs a call to action" in refused(Step.CTA, at_cta, "none", strict)
    assert walk("T", "skip", "like", rules=strict).step == Step.AUDIENCE


def test_a_scheduled_time_is_stored_and_shown_in_the_preview() -> None:
    done = walk("T", "skip", "like", "everyone", "in 2h", "no")
    assert steps.final_draft(done.answers, RULES).publish_at == NOW + timedelta(hours=2)
    prompt = steps.prompt(Step.PREVIEW, done.answers, ZONE)
    assert "Goes out: Mon 30 Nov 12:00" in str(prompt.text)
    assert [c.action_id for c in prompt.choices] == ["g:publish", "g:cancel"]


def test_cancel_and_publish_are_recognized() -> None:
    assert steps.is_cancel("cancel") and steps.is_cancel("g:cancel") and steps.is_cancel(" Annuleer ")
    assert not steps.is_cancel("cancelled flights")
    assert steps.wants_publish(Step.PREVIEW, "g:publish") and steps.wants_publish(Step.PREVIEW, "Publiceer")
    assert not steps.wants_publish(Step.TITLE, "publish")  # a title may be the word


def test_every_choice_fits_telegrams_callback_data() -> None:
    answers = {"cta": "rsvp"}
    for step in Step:
        for choice in steps.prompt(step, answers, ZONE).choices:
            assert len(encode_callback_data(None, choice.action_id).encode()) <= CALLBACK_DATA_LIMIT


def test_questions_with_buttons_or_fixed_answers_want_no_typed_reply() -> None:
    assert steps.prompt(Step.TITLE, {}, ZONE).free_text
    assert not steps.prompt(Step.URGENT, {}, ZONE).free_text
    assert not steps.prompt(Step.PREVIEW, {"title": "T"}, ZONE).free_text
