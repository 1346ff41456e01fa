"""``/api/posts``: create (publish now, schedule with ``publish_at``, or submit for review), list, read
with deliveries, reach and counts, and approve / reject / retract."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Body, Path, Query
from sqlalchemy import select

from bot.services.publishing import NotFound
from bot.web.operations import Operations
from bot.web.schemas import ErrorOut, PostDetailOut, PostId, PostIn, PostOut, ReasonIn
from bot.web.views import post_detail, post_views
from content import posts
from content.models import Post, PostKind, PostState

if TYPE_CHECKING:
    from bot.app import App

ACTOR = "api"
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorOut, "description": "no such post"}}
STATE_CONFLICT: dict[int | str, dict[str, Any]] = {
    **NOT_FOUND,
    409: {"model": ErrorOut, "description": "the post is not in a state that allows this"},
}


def posts_router(app: App, operations: Operations) -> APIRouter:
    router = APIRouter(prefix="/posts", tags=["posts"])

    async def detail(post_id: int) -> PostDetailOut:
        async with app.store.sessions() as session:
            post = await posts.get_post(session, post_id)
            if post is None:
                raise NotFound(f"there is no post #{post_id}")
            return await post_detail(app, session, post)

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
        statement = select(Post).order_by(Post.id.desc()).limit(limit).offset(offset)
        if state is not None:
            statement = statement.where(Post.state == state)
        if kind is not None:
            statement = statement.where(Post.kind == kind)
        async with app.store.sessions() as session:
            found = list((await session.execute(statement)).scalars())
            return await post_views(app, session, found)

    @router.get("/{post_id}", response_model=PostDetailOut, responses=NOT_FOUND, summary="One post")
    async def get_post(post_id: Annotated[PostId, Path()]) -> PostDetailOut:
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
