"""Slack end to end, issue 15: ``/prikbord post`` without arguments opens the post modal (views.open with
the command's trigger), a bad submission shows its errors on the fields, a good one the preview, and only
Publish creates the post: once, however often Publish or the form is submitted; Cancel creates nothing;
someone who may not post gets no modal. The real slack-bolt and slack_sdk against the loopback peer,
whose modal model (tests/peers/slack_views.py) checks every view and every answer; SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qsl

from sqlalchemy import select

from content.form_drafts import FormDraft
from content.models import DeliveryState, Post
from tests.e2e.test_slack_e2e import SlackE2E, slack
from tests.peers.slack_views import OpenView, ViewAnswer

__all__ = ["slack"]  # the fixture, used by name

LUNCH = {"title": "Lunch vrijdag", "body": "Wat eten we?", "cta": "poll", "options": "Pizza\nSushi"}


async def open_form(slack: SlackE2E, user: str = "mod") -> OpenView:
    """``user`` types ``/prikbord post``; returns the modal it opened on their screen."""
    await slack.command(user, "post")
    user_id = slack.peer.add_user(user)

    async def opened() -> bool:
        return bool(slack.peer.open_views(user_id))

    await slack.eventually(opened, f"a modal for {user}")
    (view,) = slack.peer.open_views(user_id)
    return view


async def submit(slack: SlackE2E, user: str, view: OpenView, values: dict[str, Any]) -> ViewAnswer:
    """``user`` presses Submit (Preview, or Publish) with ``values``; the app's answer applied to the modal."""
    answer = await slack.deliver(slack.peer.view_submission(user, view.view["id"], values))
    return slack.peer.apply_answer(view.view["id"], answer.status_code, answer.content)


async def preview(slack: SlackE2E, values: dict[str, Any] = LUNCH, user: str = "mod") -> OpenView:
    view = await open_form(slack, user)
    assert (await submit(slack, user, view, values)).action == "update"
    assert view.view["callback_id"] == "prikbord_post_preview"
    return view


def preview_text(view: OpenView) -> str:
    texts: list[str] = []
    for block in view.view["blocks"]:
        if "text" in block:
            texts.append(block["text"]["text"])
        texts.extend(e.get("text", "") for e in block.get("elements", []))
    return "\n".join(texts)


async def posts_count(slack: SlackE2E) -> int:
    return await slack.count(Post.id)


async def test_the_modal_checks_the_fields_previews_and_publishes_one_post(slack: SlackE2E) -> None:
    view = await open_form(slack)
    opened = [c for c in slack.peer.calls_of("views.open") if c.error is None]
    assert len(opened) == 1
    inputs = [b["block_id"] for b in view.view["blocks"] if b["type"] == "input"]
    assert inputs == ["title", "body", "cta", "options", "deadline", "url", "audience", "schedule", "urgent"]
    assert slack.ephemerals("mod") == []  # the modal is the answer to the command

    bad = await submit(slack, "mod", view, {"title": "Lunch", "cta": "poll", "options": "Pizza", "deadline": "ooit"})
    assert bad.action == "errors"
    assert set(bad.errors) == {"options", "deadline"}
    assert "2 to 10 options" in bad.errors["options"]
    assert "'ooit' is not a time" in bad.errors["deadline"]
    assert view.view["callback_id"] == "prikbord_post_form"  # still the form, with what was typed

    assert (await submit(slack, "mod", view, {**LUNCH, "audience": "sales"})).action == "update"
    shown = preview_text(view)
    assert "Lunch vrijdag" in shown and "Wat eten we?" in shown
    assert "[Pizza (0)]  [Sushi (0)]" in shown  # the buttons named, not pressable in the preview
    assert "To: sales" in shown
    assert await posts_count(slack) == 0  # nothing is created before Publish

    assert (await submit(slack, "mod", view, {})).action == "clear"  # Publish closes the modal
    await slack.eventually(lambda: _has_posts(slack, 1), "the post")
    await slack.app.settle()
    post = await slack.latest_post()
    assert (post.title, post.cta_kind, post.cta_options, post.audience) == (
        "Lunch vrijdag",
        "poll",
        ["Pizza", "Sushi"],
        ["sales"],
    )
    assert await slack.delivery_states(post.id) == {DeliveryState.SENT}
    assert set(await slack.deliveries(post.id)) == {"sales"}
    message = await slack.message_of(post.id, "sales")
    assert "Pizza (0)  Sushi (0)" in slack.seen("sales", message)
    await slack.answered("mod", 1)
    assert slack.ephemerals("mod") == [f"#{post.id} is published"]


async def _has_posts(slack: SlackE2E, count: int) -> bool:
    return await posts_count(slack) >= count


async def test_an_audience_without_channels_and_a_missing_call_to_action_are_shown_on_their_fields(
    slack: SlackE2E,
) -> None:
    view = await open_form(slack)
    answer = await submit(slack, "mod", view, {"title": "Borrel", "audience": "marketing", "cta": "like"})
    assert answer.action == "errors" and set(answer.errors) == {"audience"}
    answer = await submit(slack, "mod", view, {"title": "Borrel", "cta": "link", "url": "ftp://x"})
    assert answer.action == "errors" and set(answer.errors) == {"url"}
    answer = await submit(slack, "mod", view, {"title": "Borrel", "cta": "like", "schedule": "gisteren"})
    assert answer.action == "errors" and set(answer.errors) == {"schedule"}
    assert await posts_count(slack) == 0


async def test_publish_pressed_twice_and_retried_by_slack_makes_one_post(slack: SlackE2E) -> None:
    view = await preview(slack)
    publish = slack.peer.view_submission("mod", view.view["id"], {})
    answers = await asyncio.gather(slack.deliver(publish), slack.deliver(publish))  # a double click
    retried = await slack.deliver(slack.peer.retry(publish))  # and Slack sending it again
    assert [a.status_code for a in (*answers, retried)] == [200, 200, 200]
    await slack.eventually(lambda: _has_posts(slack, 1), "the post")
    await slack.app.settle()
    await slack.answered("mod", 1)
    await asyncio.sleep(0.2)  # room for a second post or answer, which must not come
    await slack.app.settle()
    assert await posts_count(slack) == 1
    post = await slack.latest_post()
    assert slack.ephemerals("mod") == [f"#{post.id} is published"]
    assert sorted(await slack.deliveries(post.id)) == ["algemeen", "amsterdam", "console", "sales"]  # once each


async def test_a_form_submitted_twice_still_makes_one_post(slack: SlackE2E) -> None:
    view = await open_form(slack)
    form = slack.peer.view_submission("mod", view.view["id"], LUNCH)
    first, second = await asyncio.gather(slack.deliver(form), slack.deliver(form))
    assert slack.peer.apply_answer(view.view["id"], first.status_code, first.content).action == "update"
    assert slack.peer.apply_answer(view.view["id"], second.status_code, second.content).action == "update"
    assert await posts_count(slack) == 0
    assert (await submit(slack, "mod", view, {})).action == "clear"
    await slack.eventually(lambda: _has_posts(slack, 1), "the post")
    await asyncio.sleep(0.2)
    assert await posts_count(slack) == 1


async def test_cancel_creates_nothing_and_drops_the_draft(slack: SlackE2E) -> None:
    view = await preview(slack)
    assert await slack.count(FormDraft.token) == 1
    await slack.accepted(slack.peer.view_closed("mod", view.view["id"]))

    async def dropped() -> bool:
        return await slack.count(FormDraft.token) == 0

    await slack.eventually(dropped, "the draft to be dropped")
    assert await posts_count(slack) == 0
    assert slack.ephemerals("mod") == []


async def test_someone_who_may_not_post_gets_no_modal(slack: SlackE2E) -> None:
    await slack.command("erik", "post")
    await slack.answered("erik", 1)
    assert slack.ephemerals("erik") == [
        "not allowed: posting needs the moderator role (ask a moderator, or an admin to enable open posting)"
    ]
    assert slack.peer.calls_of("views.open") == []


async def test_a_forged_publish_of_someone_elses_draft_creates_nothing(slack: SlackE2E) -> None:
    view = await preview(slack)
    async with slack.app.store.sessions() as session:
        token = (await session.execute(select(FormDraft.token))).scalar_one()
    # erik submits a preview carrying the moderator's draft token: it is not his draft.
    stolen = {**view.view, "private_metadata": view.view["private_metadata"]}
    slack.peer.views["VFORGED"] = OpenView(slack.peer.add_user("erik"), stolen, history=[stolen])
    answer = await slack.deliver(slack.peer.view_submission("erik", "VFORGED", {}))
    assert answer.status_code == 200
    await slack.answered("erik", 1)
    assert "expired or was cancelled" in slack.ephemerals("erik")[0]
    assert await posts_count(slack) == 0
    assert token in view.view["private_metadata"]


async def test_a_modal_that_cannot_open_gets_a_clear_answer(slack: SlackE2E) -> None:
    request = slack.peer.slash_command("mod", slack.channels["algemeen"], "post")
    trigger = dict(parse_qsl(request.body.decode()))["trigger_id"]
    slack.peer.triggers[trigger].issued -= 5  # the command reached prikbord too late to open a modal
    await slack.accepted(request)
    await slack.answered("mod", 1)
    (answer,) = slack.ephemerals("mod")
    assert answer.startswith("the post form did not open (") and "expired_trigger_id" in answer
    assert "write the post after the command" in answer
    assert slack.peer.open_views(slack.peer.add_user("mod")) == []
