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


async def _to_preview(app: ConsoleApp, who: str = "mod") -> None:
    await app.say(f"{who}: /post", f"{who}: Open dag", f"{who}: skip", f"{who}: rsvp", f"{who}: default")
    await app.say(f"{who}: skip", f"{who}: everyone", f"{who}: now", f"{who}: yes")


async def test_cancel_at_any_step_ends_it_and_creates_nothing(console_app: ConsoleApp) -> None:
    await console_app.say("mod: /post", "mod: Lunch", "mod: cancel")
    assert "cancelled; nothing was posted" in _last_question(console_app)
    assert await _dialogs(console_app) == 0
    await console_app.say("mod: like")  # plain chat again, not an answer
    assert await _posts(console_app) == [] and await _dialogs(console_app) == 0


async def test_a_bad_answer_repeats_the_step_with_the_error(console_app: ConsoleApp) -> None:
    await console_app.say("mod: /post", "mod: Lunch", "mod: skip", "mod: poll", "mod: Pizza")
    question = _last_question(console_app)
    assert "a poll needs 2 to 10 options" in question and "The poll's options" in question
    await console_app.say("mod: poll", "mod: Pizza; Pizza")
    assert "the options must differ from each other" in _last_question(console_app)
    await console_app.say("mod: Pizza; Sushi", "mod: yesterday")
    assert "is not a time" in _last_question(console_app)
    await console_app.say("mod: skip", "mod: everyone", "mod: 2020-01-01 10:00")
    assert "is in the past" in _last_question(console_app)
    await console_app.say("mod: now", "mod: maybe")
    assert "answer yes or no" in _last_question(console_app)
    await console_app.say("mod: no", "mod: publish")
    [post] = await _posts(console_app)
    assert post.cta_options == ["Pizza", "Sushi"] and not post.urgent


async def test_an_invisible_title_is_refused_like_a_one_line_post(console_app: ConsoleApp) -> None:
    await console_app.say("mod: /post", "mod: \u200b\u200b")
    assert "a post needs a title" in _last_question(console_app)
    assert "What is the title?" in _last_question(console_app)


async def test_it_expires_15_minutes_after_the_last_answer(console_app: ConsoleApp, clock: FrozenClock) -> None:
    await console_app.say("mod: /post", "mod: Lunch")
    clock.advance(minutes=14)
    await console_app.say("mod: Wat eten we?")  # in time: the body
    clock.advance(minutes=15)
    await console_app.say("mod: like")
    assert "expired after 15 minutes" in _last_question(console_app)
    assert await _dialogs(console_app) == 0
    await console_app.say("mod: like")  # treated as normal chat now: no answer, no dialog
    assert await _posts(console_app) == [] and "expired" in _last_question(console_app)


async def test_publish_sent_twice_makes_one_post(console_app: ConsoleApp) -> None:
    await _to_preview(console_app)
    preview_id = list(console_app.console.messages)[-1]
    await console_app.say("mod: publish", f"mod: @{preview_id} press g:publish", "mod: publish")
    posts = await _posts(console_app)
    assert len(posts) == 1 and posts[0].cta_kind == "rsvp" and posts[0].urgent
    assert posts[0].cta_options == ["yes", "no", "maybe"]


async def test_the_preview_buttons_publish(console_app: ConsoleApp) -> None:
    await _to_preview(console_app)
    preview_id = list(console_app.console.messages)[-1]
    assert "[g:publish]" in console_app.console.messages[preview_id]
    await console_app.say(f"mod: @{preview_id} press g:publish")
    assert len(await _posts(console_app)) == 1


async def test_other_peoples_messages_are_untouched(console_app: ConsoleApp) -> None:
    await console_app.say("mod: /post", "ann: Hallo allemaal", "mod: Lunch", "ann: cancel")
    assert "The text of the post?" in _last_question(console_app)  # ann's lines answered nothing
    async with console_app.app.store.transaction() as session:
        [row] = (await session.execute(select(GuidedDraft))).scalars()
    assert (row.user_id, row.step, row.answers["title"]) == ("mod", "body", "Lunch")


async def test_an_employee_without_open_posting_cannot_start_one(console_app: ConsoleApp) -> None:
    await console_app.say("ann: /post")
    assert "not allowed: posting needs the moderator role" in console_app.replies_to("ann")[-1]
    assert await _dialogs(console_app) == 0


async def test_a_restart_mid_dialog_continues_it(console_app: ConsoleApp, clock: FrozenClock) -> None:
    import io

    from rich.console import Console

    from bot.app import App
    from tests.conftest import console_settings

    await console_app.say("mod: /post", "mod: Herstart", "mod: Na de herstart")
    store = console_app.app.store
    await console_app.app.stop()
    clock.advance(minutes=5)
    again = App(console_settings(), clock=clock, store=store, console_output=Console(file=io.StringIO()))
    await again.start()
    try:
        second = ConsoleApp(again, io.StringIO())
        await second.say("mod: like", "mod: everyone", "mod: in 2h", "mod: no", "mod: publish")
        [post] = await _posts(second)
        assert (post.title, post.body, post.cta_kind, post.state) == ("Herstart", "Na de herstart", "like", "scheduled")
        assert post.publish_at == clock.now() + timedelta(hours=2)
    finally:
        await again.stop()


async def test_on_slack_post_without_arguments_is_not_a_dialog_of_messages(console_app: ConsoleApp) -> None:
    from adapters.base import ChatRef, CommandIssued, UserRef

    command = CommandIssued("s-1", UserRef("slack", "U1", "Anna"), ChatRef("slack", "C1"), "post", "")
    reply = await console_app.app.commands.answer(command)
    assert "write the post after the command" in reply.text  # Slack gets its modal elsewhere
    assert await _dialogs(console_app) == 0


async def test_starting_a_dialog_forgets_abandoned_ones(console_app: ConsoleApp, clock: FrozenClock) -> None:
    await console_app.say("mod: /post", "mod: Vergeten")
    clock.advance(minutes=16)
    from adapters.base import ChatRef, UserRef

    await console_app.app.guided.start(UserRef("console", "mod"), ChatRef("console", "@mod"))  # another chat
    async with console_app.app.store.transaction() as session:
        assert [row.chat_id for row in (await session.execute(select(GuidedDraft))).scalars()] == ["@mod"]
