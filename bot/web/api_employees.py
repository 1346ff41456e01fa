"""``/api/employees``: the directory import and the list of people with their linked accounts."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from bot.web.deps import WebDeps
from bot.web.operations import Operations
from bot.web.schemas import DirectoryOut, EmployeeImportIn, EmployeeOut, RowFailureOut
from content import people
from content.directory import MalformedDirectory

ACTOR = "api"
VALIDATION_ERROR: dict[str, Any] = {
    "description": "Validation Error",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}},
}


def employees_router(deps: WebDeps, operations: Operations) -> APIRouter:
    router = APIRouter()

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
        """A directory as CSV or JSON lines — email (the key), name, department, location, language,
        telegram, slack, matrix (and the older identities, ``telegram:123;slack:U01``) — sent as
        ``text/csv`` or as JSON ``{"csv": "…"}``. Importing it again changes nothing."""
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
            unchanged=result.unchanged,
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
            EmployeeOut(
                id=e.id,
                name=e.name,
                email=e.email,
                department=e.department,
                location=e.location,
                language=e.language,
                identities=linked[e.id],
            )
            for e in found
        ]

    return router
