"""``/api/posts``: create (publish now, schedule with ``publish_at``, or submit for review), list, read
with deliveries, reach and counts, edit, and approve / reject / retract."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query
from starlette.responses import Response

from bot.services.publishing import NotFound
from bot.web.audience import AudienceOut, missing_csv, post_audience
from bot.web.deps import WebDeps
from bot.web.operations import Operations
from bot.web.schemas import ErrorOut, PostDetailOut, PostEditIn, PostId, PostIn, PostOut, ReasonIn
from bot.web.views import post_detail, post_views
from content import posts
from content.models import PostKind, PostState

ACTOR = "api"
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorOut, "description": "no such post"}}
STATE_CONFLICT: dict[int | str, dict[str, Any]] = {
    **NOT_FOUND,
    409: {"model": ErrorOut, "description": "the post is not in a state that allows this"},
}


def posts_router(deps: WebDeps, operations: Operations) -> APIRouter:
    router = APIRouter(prefix="/posts", tags=["posts"])

    async def detail(post_id: int) -> PostDetailOut:
        async with deps.store.sessions() as session:
            post = await posts.get_post(session, post_id)
            if post is None:
                raise NotFound(f"there is no post #{post_id}")
            return await post_detail(deps, session, post)

    @router.post("", status_code=201, response_model=PostDetailOut, summary="Create a post")
    async def create_post(data: PostIn) -> PostDetailOut:
        """Publishes at once, schedules when ``publish_at`` is later, or (``review``) waits for approval."""
        post = await operations.create_post(data, ACTOR)
        return await detail(post.id)

    @router.get("", response_model=list[PostOut], summary="List posts, newest first")
    async def list_posts(
        state: PostState | None = None,
        kind: PostKind | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    ) -> list[PostOut]:
        async with deps.store.sessions() as session:
            found = await posts.list_posts(session, state=state, kind=kind, limit=limit, offset=offset)
            return await post_views(deps, session, found)

    @router.get("/{post_id}", response_model=PostDetailOut, responses=NOT_FOUND, summary="One post")
    async def get_post(post_id: Annotated[PostId, Path()]) -> PostDetailOut:
        return await detail(post_id)

    async def audience_of(post_id: int) -> AudienceOut:
        async with deps.store.sessions() as session:
            post = await posts.get_post(session, post_id)
            if post is None:
                raise NotFound(f"there is no post #{post_id}")
            return await post_audience(session, post)

    @router.get("/{post_id}/audience", response_model=AudienceOut, responses=NOT_FOUND, summary="Who it reached")
    async def get_audience(post_id: Annotated[PostId, Path()]) -> AudienceOut:
        """Reach (exact or an estimate), who has not acknowledged (answered, voted), and segments."""
        return await audience_of(post_id)

    @router.get(
        "/{post_id}/missing.csv",
        responses={**NOT_FOUND, 200: {"content": {"text/csv": {}}, "description": "one row per person"}},
        summary="Who has not done what the post asks, as CSV",
    )
    async def get_missing_csv(post_id: Annotated[PostId, Path()]) -> Response:
        return missing_csv(await audience_of(post_id))

    @router.patch(
        "/{post_id}",
        response_model=PostDetailOut,
        responses=STATE_CONFLICT,
        summary="Edit a post: every copy in the chats is updated in place",
    )
    async def edit_post(post_id: Annotated[PostId, Path()], data: PostEditIn) -> PostDetailOut:
        """Title, body, a poll's options (until someone voted) or a link's URL; responses and counts stay.
        The copies are edited by the service within the platforms' rate limits. A retracted or rejected post
        is a 409; a change of the call to action's kind, or options after a vote, a 422 on that field."""
        await operations.edit_post(post_id, data, ACTOR)
        return await detail(post_id)

    @router.post("/{post_id}/approve", response_model=PostDetailOut, responses=STATE_CONFLICT)
    async def approve(post_id: Annotated[PostId, Path()]) -> PostDetailOut:
        """A pending post is published (or scheduled, when its ``publish_at`` is later)."""
        await operations.approve(post_id, ACTOR)
        return await detail(post_id)

    @router.post("/{post_id}/reject", response_model=PostDetailOut, responses=STATE_CONFLICT)
    async def reject(
        post_id: Annotated[PostId, Path()], data: Annotated[ReasonIn | None, Body()] = None
    ) -> PostDetailOut:
        await operations.reject(post_id, ACTOR, data.reason if data else "")
        return await detail(post_id)

    @router.post("/{post_id}/retract", response_model=PostDetailOut, responses=STATE_CONFLICT)
    async def retract(post_id: Annotated[PostId, Path()]) -> PostDetailOut:
        """Unsent deliveries stop; messages already sent are deleted from the chats."""
        await operations.retract(post_id, ACTOR)
        return await detail(post_id)

    return router
