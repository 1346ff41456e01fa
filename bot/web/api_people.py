"""``/api/employees/{email}/export`` and ``/api/employees/{email}/forget``: a person's data on request."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException

from bot.services.privacy import PrivacyService
from bot.web.schemas import ErrorOut

ACTOR = "api"
NO_EMPLOYEE: dict[int | str, dict[str, Any]] = {404: {"model": ErrorOut, "description": "no employee has this email"}}


def people_router(privacy: PrivacyService) -> APIRouter:
    router = APIRouter()

    @router.get("/employees/{email}/export", tags=["employees"], responses=NO_EMPLOYEE)
    async def export_employee(email: str) -> dict[str, Any]:
        """One JSON document of everything stored about the employee with this email."""
        document = await privacy.export(email[:320], ACTOR)
        if document is None:
            raise HTTPException(404, f"no employee has the email {email[:320]!r}")
        return document

    @router.post("/employees/{email}/forget", tags=["employees"], responses=NO_EMPLOYEE)
    async def forget_employee(email: str) -> dict[str, int]:
        """Erase the employee's accounts, personal fields and reply texts; their responses stay as
        anonymous counts."""
        forgotten = await privacy.forget(email[:320], ACTOR)
        if forgotten is None:
            raise HTTPException(404, f"no employee has the email {email[:320]!r}")
        return {
            "employee_id": forgotten.employee_id,
            "accounts": forgotten.accounts,
            "replies_erased": forgotten.replies_erased,
        }

    return router
