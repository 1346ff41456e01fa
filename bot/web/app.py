"""``create_web_app(deps)``: the HTTP side of prikbord as one ASGI app.

FastAPI (a Starlette application) for the admin API: its pydantic models give the OpenAPI schema
at ``/api/openapi.json`` and 422 answers with field errors for free. Everything else (dashboard,
webhooks, click redirect, health, metrics) is left out of the schema.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.services.drafts import DraftError
from bot.services.editing import EditRefused
from bot.services.publishing import NotAllowed, NotFound, WrongState
from bot.web.api_admin import admin_router
from bot.web.api_people import people_router
from bot.web.api_posts import posts_router
from bot.web.compose import compose_router
from bot.web.dashboard import dashboard_router
from bot.web.deps import WebDeps
from bot.web.forms import FormError
from bot.web.guard import Guard, NotSignedIn
from bot.web.operations import Operations
from bot.web.pages import Pages
from bot.web.public import public_router
from bot.web.schemas import ErrorOut
from bot.web.security import NO_TOKEN, Sessions, token_matches
from bot.web.signin import signin_router
from bot.web.sso import sso_router
from bot.web.webhooks import WebhooksFirst

STATIC = Path(__file__).parent / "static"
# No script at all, styles only from our own file, nothing framed, forms only to ourselves.
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    # Also keeps the click token of /r/… from reaching the site a reader is sent on to.
    (b"referrer-policy", b"no-referrer"),
]


class SecurityHeaders:
    """Pure ASGI (not BaseHTTPMiddleware, which buffers streamed responses such as the CSV export)."""

    def __init__(self, inner: ASGIApp) -> None:
        self._inner = inner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._inner(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    (name, value) for name, value in SECURITY_HEADERS if name not in present
                ]
            await send(message)

        await self._inner(scope, receive, with_headers)


# Module level because FastAPI resolves the (string) annotations below against module globals.
BEARER = HTTPBearer(auto_error=False, description="the [web] admin_token")


def _admin_dependency(admin_token: str | None) -> Any:
    async def require_admin(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)],
    ) -> None:
        if not token_matches(credentials.credentials if credentials else None, admin_token):
            raise HTTPException(
                401,
                NO_TOKEN if admin_token is None else "send the admin token: Authorization: Bearer <[web] admin_token>",
                headers={"WWW-Authenticate": "Bearer"},
            )

    return require_admin


def _printable(value: Any, depth: int = 0, *, chars: int = 120, items: int = 8, levels: int = 4) -> Any:
    """JSON-safe and short: the input echoed in a 422 may be raw bytes, text with lone surrogates, or a
    10 MB body; an error shows at most an excerpt of it (texts cut to ``chars`` with "…", lists and
    objects to ``items`` entries, nesting to ``levels``)."""
    if isinstance(value, bytes):
        return _printable(value[: chars * 4].decode("utf-8", "replace"), depth)
    if isinstance(value, str):
        text = value if len(value) <= chars else value[: chars - 1] + "…"
        return text.encode("utf-8", "replace").decode("utf-8")
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, dict | list | tuple) and depth >= levels:
        return "…"
    if isinstance(value, dict):
        shown = {str(_printable(k, depth + 1)): _printable(v, depth + 1) for k, v in list(value.items())[:items]}
        if len(value) > items:
            shown["…"] = f"{len(value) - items} more"
        return shown
    if isinstance(value, list | tuple):
        shown_items = [_printable(v, depth + 1) for v in value[:items]]
        return shown_items + ([f"… {len(value) - items} more"] if len(value) > items else [])
    return _printable(str(value)[: chars * 4], depth)


def _printable_error(error: Any) -> dict[str, Any]:
    """FastAPI's 422 item (type, loc, msg, input, ctx), made safe to serialise whatever was sent and
    short whatever its size (see _printable)."""
    shown = {key: _printable(error[key]) for key in ("type", "loc", "msg", "input") if key in error}
    if "ctx" in error:
        shown["ctx"] = {str(_printable(k)): _printable(v) for k, v in list(error["ctx"].items())[:8]}
    return shown


def create_web_app(deps: WebDeps) -> WebhooksFirst:
    """The whole HTTP side: the webhooks first (webhooks.py), then the admin API, dashboard and the rest."""
    return WebhooksFirst(_create_api(deps), deps.adapters, SECURITY_HEADERS)


def _create_api(deps: WebDeps) -> FastAPI:
    settings = deps.settings.web
    admin_token = settings.admin_token.get_secret_value() if settings.admin_token else None
    operations = Operations(deps)
    pages = Pages(deps.zone)
    guard = Guard(Sessions(admin_token))

    web = FastAPI(
        title="prikbord admin API",
        version="1",
        description="Posts, channels, responses, employees, audit log and search. "
        "Every call needs `Authorization: Bearer <[web] admin_token>`.",
        openapi_url="/api/openapi.json",
        docs_url=None,  # the interactive docs load scripts from a CDN; the schema is enough
        redoc_url=None,
    )
    api = APIRouter(
        prefix="/api",
        dependencies=[Depends(_admin_dependency(admin_token))],
        responses={401: {"model": ErrorOut, "description": "no or a wrong admin token"}},
    )
    api.include_router(posts_router(deps, operations))
    api.include_router(admin_router(deps, operations))
    if deps.privacy is not None:
        api.include_router(people_router(deps.privacy))
    web.include_router(api)
    web.include_router(public_router(deps))
    web.include_router(signin_router(pages, guard, admin_token))
    if deps.linking is not None:
        web.include_router(sso_router(deps.linking, pages, deps.languages))
    web.include_router(dashboard_router(deps, operations, pages, guard))
    web.include_router(compose_router(deps, operations, pages, guard))
    web.mount("/static", StaticFiles(directory=STATIC), name="static")

    def error(status: int) -> Any:
        async def handler(request: Request, exc: Exception) -> Response:
            return JSONResponse({"detail": str(exc)}, status_code=status)

        return handler

    async def invalid_request(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return JSONResponse({"detail": [_printable_error(e) for e in exc.errors()]}, status_code=422)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 400 and request.url.path.startswith("/api/"):
            # FastAPI's answer to a body it cannot even decode: a 422 like every other bad input.
            detail = [{"type": "json_invalid", "loc": ["body"], "msg": "the body is not valid UTF-8 JSON"}]
            return JSONResponse({"detail": detail}, status_code=422)
        return await http_exception_handler(request, exc)

    async def draft_refused(request: Request, exc: Exception) -> Response:
        # The same shape as pydantic's 422s, so clients read one kind of error.
        return JSONResponse({"detail": [{"loc": ["body"], "msg": str(exc), "type": "value_error"}]}, status_code=422)

    async def edit_refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, EditRefused)
        detail = [{"loc": ["body", *exc.field.split(".")], "msg": str(exc), "type": "value_error"}]
        return JSONResponse({"detail": detail}, status_code=422)

    async def form_refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, FormError)
        return pages.render("error.html", exc.status, csrf="", signed_in=False, message=str(exc))

    async def not_signed_in(request: Request, exc: Exception) -> Response:
        return guard.to_login()

    web.add_exception_handler(RequestValidationError, invalid_request)
    web.add_exception_handler(StarletteHTTPException, http_error)
    web.add_exception_handler(NotFound, error(404))
    web.add_exception_handler(WrongState, error(409))
    web.add_exception_handler(NotAllowed, error(403))
    web.add_exception_handler(DraftError, draft_refused)
    web.add_exception_handler(EditRefused, edit_refused)
    web.add_exception_handler(FormError, form_refused)
    web.add_exception_handler(NotSignedIn, not_signed_in)
    web.add_middleware(SecurityHeaders)
    return web
