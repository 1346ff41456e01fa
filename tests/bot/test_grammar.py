"""The command grammar is the same on every platform."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.commands.grammar import (
    UsageError,
    parse_post,
    parse_post_ref,
    parse_quiet,
    parse_schedule,
    parse_when,
)
from content.models import CtaKind, PostKind

AMS = ZoneInfo("Europe/Amsterdam")
NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)  # 09:00 in Amsterdam


def test_post_with_key_parts() -> None:
    draft = parse_post(
        "Nieuwe verlofregeling | Vanaf januari geldt de nieuwe regeling. "
        "| cta: acknowledge by 2026-12-05 | to: everyone, nl",
        AMS,
        NOW,
    )
    assert draft.title == "Nieuwe verlofregeling"
    assert draft.body == "Vanaf januari geldt de nieuwe regeling."
    assert draft.cta.kind == CtaKind.ACKNOWLEDGE
    assert draft.cta.deadline == datetime(2026, 12, 5, 22, 59, tzinfo=UTC)  # 23:59 Amsterdam
    assert draft.audience == ("everyone", "nl")


def test_post_on_new_lines_with_poll_and_urgent() -> None:
    draft = parse_post("Lunch vrijdag\nWat eten we?\nNog een alinea\ncta: poll Pizza; Sushi; Salade\nurgent", AMS, NOW)
    assert draft.body == "Wat eten we?\n\nNog een alinea"
    assert draft.cta.options == ("Pizza", "Sushi", "Salade")
    assert draft.urgent


def test_kind_and_link() -> None:
    draft = parse_post("Handboek | kind: kb | cta: link https://intranet.example/h", AMS, NOW)
    assert draft.kind == PostKind.KB and draft.cta.url == "https://intranet.example/h"


def test_schedule_leads_with_when() -> None:
    draft = parse_schedule("tomorrow 08:30 | Dagstart | Koffie staat klaar | cta: like", AMS, NOW)
    assert draft.publish_at == datetime(2026, 12, 1, 7, 30, tzinfo=UTC)
    assert draft.title == "Dagstart" and draft.cta.kind == CtaKind.LIKE


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-05", datetime(2026, 12, 5, 8, 0, tzinfo=UTC)),
        ("2026-12-05 17:00", datetime(2026, 12, 5, 16, 0, tzinfo=UTC)),
        ("2026-12-05T17:00", datetime(2026, 12, 5, 16, 0, tzinfo=UTC)),
        ("in 2h", datetime(2026, 11, 30, 10, 0, tzinfo=UTC)),
        ("in 30m", datetime(2026, 11, 30, 8, 30, tzinfo=UTC)),
        ("today 17:00", datetime(2026, 11, 30, 16, 0, tzinfo=UTC)),
        ("morgen 08:30", datetime(2026, 12, 1, 7, 30, tzinfo=UTC)),
    ],
)
def test_when(text: str, expected: datetime) -> None:
    assert parse_when(text, AMS, NOW) == expected


@pytest.mark.parametrize("text", ["next week", "2026-13-01", "in 2 fortnights", ""])
def test_bad_when(text: str) -> None:
    with pytest.raises(UsageError):
        parse_when(text, AMS, NOW)


def test_schedule_in_the_past_is_refused() -> None:
    with pytest.raises(UsageError, match="in the past"):
        parse_schedule("2026-11-01 09:00 | Oud | x", AMS, NOW)


def test_refs_and_quiet() -> None:
    assert parse_post_ref("#12") == 12 and parse_post_ref(" 7 ") == 7
    with pytest.raises(UsageError):
        parse_post_ref("twaalf")
    assert parse_quiet("18:00-08:00") == ("18:00", "08:00")
    assert parse_quiet("7:30 - 9:00") == ("07:30", "09:00")
    assert parse_quiet("off") is None
    with pytest.raises(UsageError):
        parse_quiet("25:00-08:00")
