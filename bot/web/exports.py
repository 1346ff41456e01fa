"""Responses as CSV, for the API and the dashboard alike: streamed page by page, so a large export
never sits in memory whole."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator

from starlette.responses import StreamingResponse

from bot.web.deps import WebDeps
from content import analytics

COLUMNS = (
    "id", "post_id", "post_title", "kind", "value", "text", "platform",
    "employee_id", "employee_name", "employee_email", "identity", "created_at",
)  # fmt: skip
PAGE = 2000


def cell(value: object) -> str:
    """A CSV cell a spreadsheet shows as text: a leading = + - @ would make it a formula."""
    text = "" if value is None else value.isoformat() if hasattr(value, "isoformat") else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def responses_csv(deps: WebDeps, post_id: int | None, kind: str | None) -> StreamingResponse:
    async def rows() -> AsyncIterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(COLUMNS)
        offset = 0
        while True:
            async with deps.store.sessions() as session:
                page = await analytics.list_responses(session, post_id=post_id, kind=kind, limit=PAGE, offset=offset)
            for row in page:
                writer.writerow([cell(getattr(row, column)) for column in COLUMNS])
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            if len(page) < PAGE:
                return
            offset += len(page)

    name = f"responses-post-{post_id}.csv" if post_id else "responses.csv"
    return StreamingResponse(
        rows(), media_type="text/csv; charset=utf-8", headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )
