"""The post form's rules (bot/services/post_forms.py): every refusal of a one-line post lands on the
field it is about, and a stored draft reads back as it was."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from adapters.slack.modal import PostFormValues
from bot.services.drafts import normalized
from bot.services.post_forms import draft_of, draft_payload, field_errors, payload_draft

ZONE = ZoneInfo("Europe/Amsterdam")
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def _errors(values: PostFormValues, *, require: bool = False, can_schedule: bool = True) -> set[str]:
    draft, unreadable = draft_of(values, ZONE, NOW, can_schedule=can_schedule)
    return set(unreadable) | set(field_errors(draft, require_call_to_action=require))


def test_each_refusal_lands_on_its_field() -> None:
    assert _errors(PostFormValues(title="\u200b")) == {"title"}
    assert _errors(PostFormValues(title="T", body="x" * 20_001)) == {"body"}
    assert _errors(PostFormValues(title="T", cta="poll", options="Pizza")) == {"options"}
    assert _errors(PostFormValues(title="T", cta="like", options="Pizza\nSushi")) == {"options"}
    assert _errors(PostFormValues(title="T", cta="link")) == {"url"}
    assert _errors(PostFormValues(title="T", cta="like", url="https://x.example")) == {"url"}
    assert _errors(PostFormValues(title="T", cta="like", deadline="morgen 17:00")) == {"deadline"}
    assert _errors(PostFormValues(title="T", cta="poll", options="A;B", deadline="ooit")) == {"deadline"}
    assert _errors(PostFormValues(title="T", audience="department=")) == {"audience"}
    assert _errors(PostFormValues(title="T", schedule="2026-11-29 10:00")) == {"schedule"}  # in the past
    assert _errors(PostFormValues(title="T", schedule="tomorrow 08:30"), can_schedule=False) == {"schedule"}
    assert _errors(PostFormValues(title="T"), require=True) == {"cta"}
    assert _errors(PostFormValues(title="", cta="poll", options="A", deadline="x")) == {"title", "options", "deadline"}
    assert _errors(PostFormValues(title="Lunch", cta="poll", options="A\nB", deadline="tomorrow 12:00")) == set()


def test_a_stored_draft_reads_back_as_it_was() -> None:
    values = PostFormValues(
        title="Lunch", body="Wat eten we?", cta="rsvp", deadline="tomorrow", audience="NL, Sales",
        schedule="in 2h", urgent=True,
    )  # fmt: skip
    draft, errors = draft_of(values, ZONE, NOW, can_schedule=True)
    assert errors == {}
    draft = normalized(draft, require_call_to_action=True)
    assert draft.audience == ("nl", "sales") and draft.cta.options == ("yes", "no", "maybe")
    assert payload_draft(draft_payload(draft)) == draft
