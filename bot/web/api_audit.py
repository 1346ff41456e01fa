"""``/api/audit`` and ``/api/search``: what moderators did, and what the store holds."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from bot.web.deps import WebDeps
from bot.web.schemas import AuditOut, PostId, SearchHitOut, SearchWords
from content import posts
from content.models import PostKind
from content.search import search


def audit_router(deps: WebDeps) -> APIRouter:
    router = APIRouter()

    @router.get("/audit", response_model=list[AuditOut], tags=["audit"])
    async def audit_log(
        post_id: Annotated[PostId | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[AuditOut]:
        async with deps.store.sessions() as session:
            entries = await posts.audit_entries(session, limit, post_id)
        return [
            AuditOut(id=e.id, at=e.at, actor=e.actor, action=e.action, post_id=e.post_id, detail=dict(e.detail or {}))
            for e in entries
        ]

    @router.get("/search", response_model=list[SearchHitOut], tags=["search"])
    async def search_posts(
        q: Annotated[SearchWords, Query(description="words; every one must match")],
        kind: PostKind | None = None,
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
    ) -> list[SearchHitOut]:
        """Published posts, agenda items and knowledge-base articles, best match first."""
        async with deps.store.sessions() as session:
            hits = await search(session, q, [kind] if kind else None, limit)
        return [
            SearchHitOut(
                id=h.post.id,
                title=h.post.title,
                kind=h.post.kind,
                state=h.post.state,
                published_at=h.post.published_at,
                rank=h.rank,
                snippet=h.snippet,
            )
            for h in hits
        ]

    return router
