"""``/api`` beside posts: channels, responses (and their CSV export), the employee directory, the
audit log and search, one module per resource."""

from __future__ import annotations

from fastapi import APIRouter

from bot.web.api_audit import audit_router
from bot.web.api_channels import channels_router
from bot.web.api_employees import employees_router
from bot.web.api_responses import responses_router
from bot.web.deps import WebDeps
from bot.web.operations import Operations


def admin_router(deps: WebDeps, operations: Operations) -> APIRouter:
    router = APIRouter()
    router.include_router(channels_router(deps, operations))
    router.include_router(responses_router(deps))
    router.include_router(employees_router(deps, operations))
    router.include_router(audit_router(deps))
    return router
