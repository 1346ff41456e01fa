"""Posting step by step on the console: the scripted session a person types, from `post` to a published post."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from bot.clock import FrozenClock
from content.guided import GuidedDraft
from content.models import Post
from tests.conftest import ConsoleApp


async def _posts(app: ConsoleApp) -> list[Post]:
    async with app.app.store.transaction() as session:
        return list((await session.execute(select(Post).order_by(Post.id))).scalars())


async def _dialogs(app: ConsoleApp) -> int:
    async with app.app.store.transaction() as session:
        return int((await session.execute(select(func.count()).select_from(GuidedDraft))).scalar_one())


def _last_question(app: ConsoleApp) -> str:
    return list(app.console.messages.values())[-1]


async def test_a_poll_composed_step_by_step_is_published_with_its_options(console_app: ConsoleApp) -> None:
    await console_app.say("mod: /post")
    assert "title" in _last_question(console_app)
    await console_app.say(
        "mod: Lunch vrijdag",
        "mod: Wat eten we?",
        "mod: poll",
        "mod: Pizza; Sushi; Salade",
        "mod: tomorrow 12:00",
        "mod: everyone",
        "mod: now",
        "mod: no",
    )
    preview = _last_question(console_app)
    assert "Lunch vrijdag" in preview and "poll (Pizza; Sushi; Salade)" in preview
    assert await _posts(console_app) == []  # nothing is created until Publish
    await console_app.say("mod: publish")
    [post] = await _posts(console_app)
    assert (post.title, post.body, post.cta_kind, post.cta_options) == (
        "Lunch vrijdag",
        "Wat eten we?",
        "poll",
        ["Pizza", "Sushi", "Salade"],
    )
    assert post.cta_deadline is not None and post.state == "published"
    assert await _dialogs(console_app) == 0
    await console_app.app.settle()
    assert any("[vote:2] Sushi" in text for text in console_app.console.messages.values())
