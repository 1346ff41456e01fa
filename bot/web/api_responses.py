"""``/api/responses``: who responded how, as JSON pages or streamed CSV."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import StreamingResponse

from bot.web.deps import WebDeps
from bot.web.exports import responses_csv
from bot.web.schemas import PostId, ResponseOut
from content import analytics
from content.models import ResponseKind


def responses_router(deps: WebDeps) -> APIRouter:
    router = APIRouter()

    @router.get("/responses", response_model=list[ResponseOut], tags=["responses"])
    async def list_responses(
        post_id: Annotated[PostId | None, Query()] = None,
        kind: ResponseKind | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    ) -> list[ResponseOut]:
        async with deps.store.sessions() as session:
            rows = await analytics.list_responses(session, post_id=post_id, kind=kind, limit=limit, offset=offset)
        return [
            ResponseOut(
                id=r.id,
                post_id=r.post_id,
                post_title=r.post_title,
                kind=r.kind,
                value=r.value,
                text=r.text,
                platform=r.platform,
                employee_id=r.employee_id,
                employee_name=r.employee_name,
                identity=r.identity,
                created_at=r.created_at,
            )
            for r in rows
        ]

    @router.get(
        "/responses.csv",
        tags=["responses"],
        response_class=StreamingResponse,
        responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "CSV, UTF-8"}},
    )
    async def export_responses(
        post_id: Annotated[PostId | None, Query()] = None, kind: ResponseKind | None = None
    ) -> StreamingResponse:
        """Every response with its post and person, oldest first, streamed in pages."""
        return responses_csv(deps, post_id, kind)

    return router
