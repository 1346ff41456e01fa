"""``/api`` beside posts: channels, responses (and their CSV export), the employee directory, the
audit log and search."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.responses import StreamingResponse

from bot.web.deps import WebDeps
from bot.web.exports import responses_csv
from bot.web.operations import Operations
from bot.web.schemas import (
    AuditOut,
    ChannelOut,
    DirectoryOut,
    EmployeeImportIn,
    EmployeeOut,
    ErrorOut,
    PostId,
    ReasonIn,
    ResponseOut,
    RowFailureOut,
    SearchHitOut,
    SearchWords,
)
from content import analytics, people, posts
from content.directory import MalformedDirectory
from content.models import Channel, PostKind, ResponseKind
from content.search import search

ACTOR = "api"
ChannelId = Annotated[int, Path(ge=1, le=2**31 - 1)]
CHANNEL_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorOut, "description": "no such channel"}}
VALIDATION_ERROR: dict[str, Any] = {
    "description": "Validation Error",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}},
}


def _channel_out(channel: Channel) -> ChannelOut:
    return ChannelOut(
        id=channel.id,
        name=channel.name,
        platform=channel.platform,
        chat_id=channel.chat_id,
        tags=list(channel.tags or []),
        enabled=channel.enabled,
        disabled_reason=channel.disabled_reason,
        member_count=channel.member_count,
    )


def admin_router(deps: WebDeps, operations: Operations) -> APIRouter:
    router = APIRouter()

    # -- channels ----------------------------------------------------------------------------------

    @router.get("/channels", response_model=list[ChannelOut], tags=["channels"])
    async def list_channels() -> list[ChannelOut]:
        async with deps.store.sessions() as session:
            return [_channel_out(c) for c in await posts.all_channels(session)]

    @router.post(
        "/channels/{channel_id}/enable", response_model=ChannelOut, responses=CHANNEL_NOT_FOUND, tags=["channels"]
    )
    async def enable_channel(channel_id: ChannelId) -> ChannelOut:
        return _channel_out(await operations.set_channel(channel_id, True, ACTOR))

    @router.post(
        "/channels/{channel_id}/disable", response_model=ChannelOut, responses=CHANNEL_NOT_FOUND, tags=["channels"]
    )
    async def disable_channel(channel_id: ChannelId, data: Annotated[ReasonIn | None, Body()] = None) -> ChannelOut:
        """Nothing more is sent there; deliveries still waiting for it fail with this reason."""
        return _channel_out(await operations.set_channel(channel_id, False, ACTOR, data.reason if data else ""))

    # -- responses ---------------------------------------------------------------------------------

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

    # -- employees ---------------------------------------------------------------------------------

    @router.post(
        "/employees/import",
        response_model=DirectoryOut,
        tags=["employees"],
        responses={422: VALIDATION_ERROR},
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": EmployeeImportIn.model_json_schema()},
                    "text/csv": {"schema": {"type": "string"}},
                },
            }
        },
    )
    async def import_employees(request: Request) -> DirectoryOut:
        """A directory CSV with the columns name, email, department, identities
        (``telegram:123;slack:U01``), sent as ``text/csv`` or as JSON ``{"csv": "…"}``."""
        raw = await request.body()
        if request.headers.get("content-type", "").split(";")[0].strip().lower() == "text/csv":
            try:
                data = EmployeeImportIn(csv=raw.decode("utf-8"))
            except (UnicodeDecodeError, ValidationError):
                raise RequestValidationError(
                    [{"loc": ("body",), "msg": "the CSV must be UTF-8 text", "type": "value_error"}]
                ) from None
        else:
            try:
                data = EmployeeImportIn.model_validate_json(raw)
            except ValidationError as exc:
                raise RequestValidationError(
                    [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False, include_context=False)]
                ) from None
        try:
            result = await operations.import_directory(data.csv, ACTOR)
        except MalformedDirectory as exc:
            raise RequestValidationError([{"loc": ("body", "csv"), "msg": str(exc), "type": "value_error"}]) from None
        return DirectoryOut(
            created=result.created,
            updated=result.updated,
            identities_linked=result.identities_linked,
            failed=[RowFailureOut(line=f.line, reason=f.reason) for f in result.failed],
        )

    @router.get("/employees", response_model=list[EmployeeOut], tags=["employees"])
    async def list_employees(
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    ) -> list[EmployeeOut]:
        async with deps.store.sessions() as session:
            found = await people.employees_page(session, limit, offset)
            linked = await people.identity_keys_of(session, [e.id for e in found])
        return [
            EmployeeOut(id=e.id, name=e.name, email=e.email, department=e.department, identities=linked[e.id])
            for e in found
        ]

    # -- audit and search --------------------------------------------------------------------------

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
