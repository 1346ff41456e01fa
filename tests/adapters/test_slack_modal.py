"""The post modal's pure half (adapters/slack/modal.py): the views it builds pass the peer's checks of
Slack's rules, a submitted form reads back into plain values, and a payload Slack never sends is refused."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from adapters.base import Action, ChatRef, CommandIssued, Event, MessageRef, OutboundMessage, UserRef
from adapters.markup import MarkupParser
from adapters.slack.adapter import SlackAdapter
from adapters.slack.modal import (
    FormReview,
    FormWords,
    PostFormValues,
    errors_response,
    form_view,
    preview_view,
    read_form,
    read_preview_metadata,
)
from adapters.slack.translate import HomeContent, HomeWords, MalformedPayload, compose_home
from tests.peers.slack import SlackPeer
from tests.peers.slack_views import view_problems

parse_markdown = MarkupParser().parse


def _state(**values: Any) -> dict[str, Any]:
    return {"state": {"values": {key: {"value": value} for key, value in values.items()}}}


def test_the_form_and_the_preview_are_views_slack_accepts() -> None:
    filled = PostFormValues(title="T" * 300, body="b" * 3000, cta="poll", options="A\nB", urgent=True)
    for view in (form_view(FormWords()), form_view(FormWords(title="Een heel lange titel van dit formulier"), filled)):
        assert view_problems(view) == []
    assert "schedule" not in [b["block_id"] for b in form_view(FormWords(), can_schedule=False)["blocks"]]
    message = OutboundMessage(parse_markdown("**Lunch**\n\nWat eten we?"), (Action("vote:1", "Pizza"),), post_id=None)
    review = FormReview(FormWords(), preview=message, token="tok", summary=("To: everyone",))
    view = preview_view(review, "C1")
    assert view_problems(view) == []
    assert [b["type"] for b in view["blocks"]].count("actions") == 0  # named in a context line, not pressable
    assert read_preview_metadata(view["private_metadata"]) == ("tok", "C1")


def test_a_submitted_form_reads_back_and_a_forged_one_is_refused() -> None:
    view = _state(
        title={"type": "plain_text_input", "value": "Lunch"},
        body={"type": "plain_text_input", "value": None},
        cta={"type": "static_select", "selected_option": {"value": "poll"}},
        urgent={"type": "checkboxes", "selected_options": [{"value": "urgent"}]},
    )
    assert read_form(view) == PostFormValues(title="Lunch", cta="poll", urgent=True)
    with pytest.raises(MalformedPayload):
        read_form(_state(cta={"type": "static_select", "selected_option": {"value": "bribe"}}))
    with pytest.raises(MalformedPayload):
        read_form(_state(title={"type": "plain_text_input", "value": 12}))
    with pytest.raises(MalformedPayload):
        read_form({"state": []})
    with pytest.raises(MalformedPayload):
        read_preview_metadata("no-separator")
    assert errors_response({"title": "x", "elsewhere": "y"}) == {"response_action": "errors", "errors": {"title": "x"}}


def test_the_home_shows_the_latest_posts_after_the_must_reads_within_100_blocks() -> None:
    ref = MessageRef(ChatRef("slack", "C1"), "1.2")
    post = OutboundMessage(parse_markdown("**Post**\n\ntext"), (Action("like", "👍"),), post_id=3)
    content = HomeContent([(ref, post)] * 80, HomeWords(), latest=[(ref, post)] * 10)
    blocks = compose_home(content)["blocks"]
    assert len(blocks) <= 100
    ids = [b["block_id"] for b in blocks]
    assert ids.index("latest-title") > ids.index("home-more")  # must-reads cut, the latest kept whole
    assert "latest-9-actions" in ids
    assert "latest-empty" in [b["block_id"] for b in compose_home(HomeContent([]))["blocks"]]


class _Forms:
    """The core's side, reduced to its answers: the title is required to be "ok"."""

    def __init__(self) -> None:
        self.published: list[str] = []

    async def review(self, user: UserRef, values: PostFormValues) -> FormReview:
        if values.title != "ok":
            return FormReview(FormWords(), errors={"title": f"not {values.title!r}"})
        message = OutboundMessage(parse_markdown("**ok**"), post_id=None)
        return FormReview(FormWords(), preview=message, token="tok")

    async def publish(self, user: UserRef, token: str) -> str | None:
        self.published.append(token)
        return "#1 is published"

    async def cancel(self, user: UserRef, token: str) -> None:
        return None


async def test_the_modal_over_socket_mode_answers_in_the_envelopes_ack() -> None:
    async with SlackPeer(per_channel_rate=None, workspace_rate=None) as peer:
        adapter = SlackAdapter(
            bot_token=peer.bot_token,
            signing_secret=peer.signing_secret,
            api_base_url=peer.api_base_url,
            app_token=peer.app_token,
        )
        forms = _Forms()
        adapter.serve_post_forms(forms)
        events: asyncio.Queue[Event] = asyncio.Queue()
        await adapter.start(events.put)
        try:
            channel = peer.add_channel("general")
            for _ in range(200):
                if peer.socket_connected:
                    break
                await asyncio.sleep(0.01)
            await peer.over_socket(peer.slash_command("anna", channel, "post"))
            command = await asyncio.wait_for(events.get(), timeout=5)
            assert isinstance(command, CommandIssued) and command.name == "post" and command.args == ""
            await adapter.open_post_form(command, FormWords(), can_schedule=False)
            (view,) = peer.open_views(peer.add_user("anna"))
            view_id = view.view["id"]
            ack = await peer.over_socket(peer.view_submission("anna", view_id, {"title": "nope"}))
            assert peer.apply_answer(view_id, 200, json.dumps(ack["payload"]).encode()).errors == {
                "title": "not 'nope'"
            }
            ack = await peer.over_socket(peer.view_submission("anna", view_id, {"title": "ok"}))
            assert peer.apply_answer(view_id, 200, json.dumps(ack["payload"]).encode()).action == "update"
            ack = await peer.over_socket(peer.view_submission("anna", view_id, {}))
            assert ack["payload"] == {"response_action": "clear"}
            for _ in range(200):
                if peer.ephemerals(channel, "anna"):
                    break
                await asyncio.sleep(0.01)
            assert forms.published == ["tok"]
            assert [e.text for e in peer.ephemerals(channel, "anna")] == ["#1 is published"]
        finally:
            await adapter.stop()
