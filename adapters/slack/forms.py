"""The I/O of the post modal (``modal.py`` builds and reads it): views.open with the command's trigger,
the answers to view_submission, and the Publish work after the acknowledgement.

A view_submission is answered in the HTTP response itself (``response_action``), so the form's check
runs before the ack, bounded by :data:`REVIEW_BUDGET` to stay inside Slack's 3 seconds. Publish is
acknowledged at once (the modal closes) and the post is created after it; its author is told the
outcome in the channel they typed the command in (an ephemeral note), else privately.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from adapters.base import CommandIssued, DeliveryError, UserRef
from adapters.slack.calls import Call, direct_message
from adapters.slack.inbound import PLATFORM, MalformedPayload
from adapters.slack.modal import (
    FORM_CALLBACK,
    PREVIEW_CALLBACK,
    FormWords,
    PostFormHandler,
    errors_response,
    form_view,
    preview_view,
    read_form,
    read_preview_metadata,
)
from adapters.slack.mrkdwn import escape

log = logging.getLogger(__name__)

REVIEW_BUDGET = 2.5  # seconds of Slack's 3 for checking and storing a submitted form
Spawn = Callable[[tuple[str, ...], Callable[[], Awaitable[None]]], None]
JsonDict = dict[str, Any]


class SlackForms:
    """The modal's requests and answers for one adapter (its Web API call, client and background work)."""

    def __init__(self, call: Call, api: Callable[[], AsyncWebClient], spawn: Spawn) -> None:
        self._call = call
        self._api = api
        self._spawn = spawn
        self._handler: PostFormHandler | None = None

    def serve(self, handler: PostFormHandler) -> None:
        self._handler = handler

    async def open(self, command: CommandIssued, words: FormWords, *, can_schedule: bool) -> None:
        """views.open with the slash command's trigger (its event id; valid for about 3 seconds, once)."""
        if command.event_id.startswith("cmd-"):  # parse_slash_command's id when Slack sent no trigger
            raise DeliveryError("the command came without a trigger_id, so no modal can be opened for it")
        view = form_view(words, can_schedule=can_schedule)
        channel = command.chat.chat_id
        # The command's channel rides along so the preview can say where to answer after Publish.
        view["private_metadata"] = channel
        await self._call("views.open", self._api().views_open(trigger_id=command.event_id, view=view), channel)

    async def acknowledge(self, ack: Callable[..., Awaitable[Any]], body: Mapping[str, Any]) -> None:
        await ack(**await self.answer(body))

    async def answer(self, body: Mapping[str, Any]) -> JsonDict:
        """The ack's payload for a view_submission or view_closed (empty: a plain ack)."""
        try:
            if body.get("type") == "view_closed":
                self.closed(body)
                return {}
            return await self.submitted(body)
        except MalformedPayload as exc:
            log.warning("slack: ignored a malformed view payload: %s", exc)
            return {}
        except DeliveryError as exc:  # the preview could not be drawn (the core checked it fits, so rare)
            log.warning("slack: could not answer a post form: %s", exc)
            return errors_response({"title": str(exc)[:150]})

    async def submitted(self, body: Mapping[str, Any]) -> JsonDict:
        """The ack of a view_submission: field errors, the preview in the form's place, or closing."""
        view, user = _view_and_user(body)
        handler = self._handler
        callback = view.get("callback_id")
        if handler is None or callback not in (FORM_CALLBACK, PREVIEW_CALLBACK):
            return {}
        if callback == FORM_CALLBACK:
            channel = str(view.get("private_metadata") or "")
            values = read_form(view)
            try:
                review = await asyncio.wait_for(handler.review(user, values), REVIEW_BUDGET)
            except TimeoutError:
                log.warning("slack: checking a post form of %s took over %ss", user.user_id, REVIEW_BUDGET)
                return errors_response({"title": "prikbord is busy: submit again in a moment"})
            if review.errors or review.preview is None:
                return errors_response(review.errors)
            return {"response_action": "update", "view": preview_view(review, channel)}
        token, channel = read_preview_metadata(view.get("private_metadata"))
        self._spawn(("form", token), lambda: self._publish(handler, user, token, channel))
        return {"response_action": "clear"}

    def closed(self, body: Mapping[str, Any]) -> None:
        """view_closed of the preview (Cancel): the stored draft goes."""
        view, user = _view_and_user(body)
        handler = self._handler
        if handler is None or view.get("callback_id") != PREVIEW_CALLBACK:
            return
        token, _ = read_preview_metadata(view.get("private_metadata"))
        self._spawn(("form", token), lambda: handler.cancel(user, token))

    async def _publish(self, handler: PostFormHandler, user: UserRef, token: str, channel: str) -> None:
        try:
            text = await handler.publish(user, token)
        except Exception:
            log.exception("slack: publishing the post form of %s failed", user.user_id)
            return
        if text is not None:
            await self._tell(user, channel, text)

    async def _tell(self, user: UserRef, channel: str, text: str) -> None:
        client = self._api()
        try:
            call = client.chat_postEphemeral(channel=channel, user=user.user_id, text=escape(text))
            await self._call("chat.postEphemeral", call, channel)
            return
        except DeliveryError as exc:
            log.info("slack: no ephemeral note in %s (%s); telling %s privately", channel, exc, user.user_id)
        try:
            await direct_message(self._call, client, user.user_id, text)
        except DeliveryError as exc:
            log.warning("slack: could not tell %s what became of their post: %s", user.user_id, exc)


def _view_and_user(body: Mapping[str, Any]) -> tuple[Mapping[str, Any], UserRef]:
    view = body.get("view")
    person = body.get("user")
    if not isinstance(view, Mapping) or not isinstance(person, Mapping) or not isinstance(person.get("id"), str):
        raise MalformedPayload("a view payload without its view or user")
    name = person.get("name") or person.get("username") or ""
    return view, UserRef(PLATFORM, str(person["id"]), str(name))
