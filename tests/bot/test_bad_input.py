"""Bad input gets a clear answer and changes nothing in the store."""

from __future__ import annotations

from sqlalchemy import func, select

from adapters.base import Limits
from content.models import AuditEntry, Delivery, Post, Response
from tests.conftest import ConsoleApp


async def _row_counts(ctx: ConsoleApp) -> tuple[int, int, int, int]:
    async with ctx.app.store.sessions() as session:
        counts = []
        for model in (Post, Delivery, Response, AuditEntry):
            counts.append(int(await session.scalar(select(func.count()).select_from(model)) or 0))
    return counts[0], counts[1], counts[2], counts[3]


async def test_refusals_are_clear_and_store_nothing(console_app: ConsoleApp) -> None:
    await console_app.say("mod: /post Bestaand | x | cta: poll A; B")
    before = await _row_counts(console_app)
    cases = [
        ("mod: /frobnicate 3", "mod", "unknown command 'frobnicate'"),
        ("anna: /retract 1", "anna", "`retract` needs the moderator role"),
        ("anna: /post Hallo | wereld", "anna", "posting needs the moderator role"),
        ("mod: /retract twaalf", "mod", "usage: retract #ID"),
        ("mod: /post Poll | x | cta: poll A", "mod", "a poll needs 2 to 10 options"),
        ("mod: /post Link | x | cta: link", "mod", "cta: link needs a URL"),
        ("mod: /post Tags | x | to: nobody", "mod", "no enabled channel carries nobody"),
        ("mod: /schedule gisteren | x", "mod", "is not a time"),
        ("mod: /post " + "Lang | " + "x" * 25_000, "mod", "at most 20000 fit"),
        ("anna: /vote 1 C", "anna", "has no option 'C'"),
        ("anna: /ack 1", "anna", "asks for no acknowledgement"),
        ("anna: /like 99", "anna", "no post #99"),
        ("anna: /vote 1", "anna", "usage: vote #ID OPTION"),
        ("mod: /approve 1", "mod", "not waiting for approval"),
    ]
    for line, who, expected in cases:
        await console_app.say(line)
        answer = console_app.replies_to(who)[-1]
        assert expected in answer, (line, answer)
    assert await _row_counts(console_app) == before


async def test_oversized_paragraph_refused_before_sending(console_app: ConsoleApp) -> None:
    # A platform with a small message limit: paragraphs that fit are split, one that does not is refused.
    console_app.console.limits = Limits(text_length=1_000)
    await console_app.say("mod: /post Titel | " + "woord " * 300)
    assert "too long for console" in console_app.replies_to("mod")[-1]
    assert "one paragraph is" in console_app.replies_to("mod")[-1]
    assert console_app.console.messages == {}
    assert (await _row_counts(console_app))[0] == 0
    await console_app.say("mod: /post Titel | " + " | ".join(["woord " * 100] * 5))
    assert console_app.replies_to("mod")[-1].endswith(" is published")  # ids may be reused after a rollback
