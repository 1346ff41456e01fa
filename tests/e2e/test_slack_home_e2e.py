"""Slack end to end, issue 15: the App Home shows the person's open must-reads and the latest posts they can
see (a channel they left shows nothing of its posts), each with its buttons; a press there counts as one
in the channel, once however often Slack delivers it. The real slack-bolt and slack_sdk against the
loopback peer (views.publish checked as today); SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from content.models import Membership, ProcessedEvent
from tests.e2e.test_slack_e2e import SlackE2E, slack

__all__ = ["slack"]  # the fixture, used by name


def _texts(view: dict[str, Any], prefix: str) -> list[str]:
    return [b["text"]["text"] for b in view["blocks"] if b["block_id"].startswith(prefix) and b["type"] == "section"]


def _button(view: dict[str, Any], block_id: str, action_id: str) -> dict[str, Any]:
    (block,) = [b for b in view["blocks"] if b["block_id"] == block_id]
    (button,) = [e for e in block["elements"] if e["action_id"] == action_id]
    return button  # type: ignore[no-any-return]


async def home_of(slack: SlackE2E, user: str, published_before: int) -> dict[str, Any]:
    """``user`` opens the App Home; returns the view once a newer one than ``published_before`` calls is up."""
    await slack.accepted(slack.peer.app_home_opened(user))
    user_id = slack.peer.add_user(user)

    async def published() -> bool:
        calls = [c for c in slack.peer.calls_of("views.publish") if c.error is None]
        return len(calls) > published_before and user_id in slack.peer.home_views

    await slack.eventually(published, f"the App Home of {user}")
    return slack.peer.home_views[user_id]


async def test_the_home_shows_the_latest_posts_one_can_see_and_counts_a_press_there_once(slack: SlackE2E) -> None:
    async def members(count: int) -> bool:
        await slack.app.settle()
        return await slack.count(Membership.id, Membership.left_at.is_(None)) == count

    await slack.eventually(lambda: members(15), "the member lists (5 people in 3 channels)")  # read at start
    anna = slack.peer.add_user("anna")
    await slack.accepted(slack.peer.person_membership(slack.channels["sales"], anna, joined=False))

    async def left() -> bool:
        return await members(14)

    await slack.eventually(left, "anna leaving sales")
    borrel = await slack.post("Borrel | Vrijdag 16:00 | cta: like")
    verlof = await slack.post("Verlofregeling | Lees de nieuwe regeling | cta: acknowledge")
    await slack.post("Targets Q1 | Alleen voor sales | cta: like | to: sales")  # anna left sales

    view = await home_of(slack, "anna", 0)
    headers = [b["text"]["text"] for b in view["blocks"] if b["type"] == "header"]
    assert headers == ["Open must-reads", "Latest posts"]
    assert any("Verlofregeling" in t for t in _texts(view, "item-"))  # the must-read, still open
    latest = _texts(view, "latest-")
    assert len(latest) == 2  # the sales post is not among them
    assert "Verlofregeling" in latest[0] and "Borrel" in latest[1]  # newest first
    like = _button(view, "latest-1-actions", "like")
    channel_message = await slack.message_of(borrel.id, "algemeen")
    assert like["value"] == f"@{slack.channels['algemeen']}/{channel_message.ts}"  # a copy anna can see

    press = slack.peer.press_home("anna", "like", like["value"])
    await slack.accepted(press)
    await slack.accepted(slack.peer.retry(press))  # Slack delivering it again
    await slack.eventually(slack.more_than(ProcessedEvent.event_id, 0), "the press")
    await slack.app.settle()
    assert [r.kind for r in await slack.responses(borrel.id, "like")] == ["like"]
    assert "(1)" in slack.seen("algemeen", await slack.message_of(borrel.id, "algemeen"))  # as in the channel
    assert await slack.responses(verlof.id, "ack") == []
