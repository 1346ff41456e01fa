"""The compose form: write a post, preview it as each platform will show it, publish it."""

from __future__ import annotations

import dataclasses
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from adapters.base import OutboundMessage
from adapters.markup import Document, Paragraph, Text
from bot.services.drafts import DraftError, normalized, post_from_draft
from bot.web.deps import WebDeps
from bot.web.forms import compose_values, post_from_form
from bot.web.guard import Guard
from bot.web.operations import Operations, draft_of
from bot.web.pages import Pages
from bot.web.preview import previews
from bot.web.schemas import PostIn
from content.responses import Counts

ACTOR = "web"
EMPTY_FORM = {"kind": "news", "cta": "like", "to": "everyone"}


def preview_message(deps: WebDeps, data: PostIn) -> OutboundMessage:
    """The message the post would be sent as, before it exists. Raises DraftError."""
    draft = normalized(draft_of(data), require_call_to_action=deps.settings.moderation.require_call_to_action)
    post = post_from_draft(draft, author=None, now=deps.clock.now())
    post.id = 0
    message = deps.composer.compose(post, Counts({}, {}))
    # The context line starts with the post's number, which a post gets only when stored.
    blocks = message.markup.blocks
    last = blocks[-1] if blocks else None
    if isinstance(last, Paragraph) and last.children and isinstance(last.children[0], Text):
        head = last.children[0].text
        if head.startswith("#0"):
            renamed = Paragraph((Text("#new" + head[2:]), *last.children[1:]))
            message = dataclasses.replace(message, markup=Document((*blocks[:-1], renamed)))
    return dataclasses.replace(message, post_id=None)


def compose_router(deps: WebDeps, operations: Operations, pages: Pages, guard: Guard) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    def form_page(csrf: str, values: dict[str, str], status: int = 200, **extra: Any) -> Response:
        context: dict[str, Any] = {"errors": [], "shown": None, "zone": deps.settings.timezone}
        context.update(extra)
        return pages.render("compose.html", status, csrf=csrf, signed_in=True, values=values, **context)

    @router.get("/compose")
    async def compose_form(request: Request) -> Response:
        session = guard.page(request)
        return form_page(session.csrf, {**compose_values({}), **EMPTY_FORM})

    @router.post("/compose")
    async def compose(request: Request) -> Response:
        session, form = await guard.form(request)
        values = compose_values(form)
        data = post_from_form(form, deps.zone)
        if isinstance(data, list):
            return form_page(session.csrf, values, 422, errors=data)
        try:
            if form.get("action") == "publish":
                post = await operations.create_post(data, ACTOR)
                return RedirectResponse(f"/?created={post.id}", status_code=303)
            shown = previews(preview_message(deps, data), deps.adapters, deps.previewers)
        except DraftError as exc:
            return form_page(session.csrf, values, 422, errors=[str(exc)])
        return form_page(session.csrf, values, shown=shown)

    return router
