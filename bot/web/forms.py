"""Dashboard forms: urlencoded bodies (the only kind our pages send), the CSRF check, and the
compose form turned into the API's own :class:`PostIn`, so both validate alike."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from starlette.requests import Request

from bot.web.schemas import PostIn

MAX_FORM = 256 * 1024


class FormError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


async def read_form(request: Request) -> dict[str, str]:
    body = await request.body()
    if len(body) > MAX_FORM:
        raise FormError(413, "the form is too large")
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if body and kind != "application/x-www-form-urlencoded":
        raise FormError(415, "forms are sent as application/x-www-form-urlencoded")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=200, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        raise FormError(400, "the form could not be read") from None
    form: dict[str, str] = {}
    for key, value in pairs:
        form.setdefault(key, value)
    return form


def _local_moment(value: str, zone: ZoneInfo) -> str | None:
    """``<input type=datetime-local>`` sends local time without an offset: add the app's zone's."""
    value = value.strip()
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value  # let the model report it
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.isoformat()


def compose_values(form: dict[str, str]) -> dict[str, str]:
    """The fields of the compose form, for showing it again."""
    keys = ("title", "body", "kind", "cta", "options", "url", "deadline", "to", "publish_at", "urgent", "review")
    return {k: form.get(k, "") for k in keys}


def post_from_form(form: dict[str, str], zone: ZoneInfo) -> PostIn | list[str]:
    """The post the form describes, or what is wrong with it (one line per field)."""
    options = [o.strip() for o in form.get("options", "").replace(";", "\n").splitlines() if o.strip()]
    data: dict[str, Any] = {
        "title": form.get("title", ""),
        "body": form.get("body", "").replace("\r\n", "\n"),
        "kind": form.get("kind") or "news",
        "call_to_action": {
            "kind": form.get("cta") or "none",
            "options": options,
            "url": form.get("url", "").strip() or None,
            "deadline": _local_moment(form.get("deadline", ""), zone),
        },
        "to": [t.strip() for t in form.get("to", "").split(",") if t.strip()] or ["everyone"],
        "publish_at": _local_moment(form.get("publish_at", ""), zone),
        "urgent": form.get("urgent") == "on",
        "review": form.get("review") == "on",
    }
    try:
        return PostIn.model_validate(data)
    except ValidationError as exc:
        return [_describe(e) for e in exc.errors()]


def _describe(error: Any) -> str:
    where = ".".join(str(p) for p in error["loc"] if not isinstance(p, int)).replace("call_to_action.", "")
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message
