"""Routes without the admin token: health, metrics and the click redirect (the platforms' inbound
webhooks are served in front of these, see webhooks.py).

The click redirect ``GET /r/{token}`` goes only to the URL stored with the post that owns the token
(tokens are 128-bit random, made when a link post is created), so it cannot be used as an open
redirect. Messengers do not tell a link who opened it, so the person is the browser: a random
visitor id in a cookie (path ``/r``, SameSite=Lax so it comes along when a chat app opens the link)
makes repeated clicks from one browser count once. Link-preview fetchers (Slackbot, TelegramBot,
Synapse…) are redirected but not counted.
"""

from __future__ import annotations

import logging
import re
import secrets

from fastapi import APIRouter, Request
from sqlalchemy import text
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response

from adapters.base import OpenLink, UserRef
from bot.services.engagement import Request as EngagementRequest
from bot.web.deps import WebDeps
from bot.web.metrics import CONTENT_TYPE
from content import posts
from content.models import PostState

log = logging.getLogger("prikbord.web")

VISITOR_COOKIE = "prikbord_visitor"
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
_VISITOR = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_PREVIEW_AGENTS = re.compile(
    # Slackbot-LinkExpanding, TelegramBot, Discordbot, Synapse's URL previews, and the usual crawlers.
    r"bot\b|bot/|bot;|synapse|facebookexternalhit|embedly|linkpreview|crawler|spider",
    re.IGNORECASE,
)


def public_router(deps: WebDeps) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/healthz")
    async def healthz() -> JSONResponse:
        """Which adapters are connected. 503 only when the store is unreachable: a messenger being
        down is reported, not fatal, so an orchestrator does not restart us over it."""
        adapters: dict[str, dict[str, object]] = {
            name: {"connected": bool(a.connected)} for name, a in deps.adapters.items()
        }
        if deps.platform_health is not None:  # what the sends say: a platform can be down while we poll it
            for report in deps.platform_health.reports(list(adapters)):
                adapters[report.platform] |= report.json()
        database = True
        try:
            async with deps.store.sessions() as session:
                await session.execute(text("SELECT 1"))
        except Exception:
            log.warning("healthz: the store is unreachable", exc_info=True)
            database = False
        ok = database and all(a["connected"] and a.get("up", True) for a in adapters.values())
        body = {"status": "ok" if ok else "degraded", "database": database, "adapters": adapters}
        return JSONResponse(body, status_code=200 if database else 503)

    @router.get("/metrics")
    async def prometheus() -> Response:
        return Response(await deps.metrics.render(deps.store), media_type=CONTENT_TYPE)

    @router.get("/r/{token}")
    async def click(token: str, request: Request) -> Response:
        if not _TOKEN.match(token):
            return PlainTextResponse("unknown link", status_code=404)
        async with deps.store.sessions() as session:
            post = await posts.post_by_click_token(session, token)
        if post is None or post.state not in (PostState.PUBLISHED, PostState.EXPIRED, PostState.RETRACTED):
            return PlainTextResponse("unknown link", status_code=404)
        if post.state == PostState.RETRACTED:
            return PlainTextResponse("this post was withdrawn", status_code=410)
        target = (post.cta_url or "").strip()
        if not target.lower().startswith(("http://", "https://")):
            return PlainTextResponse("unknown link", status_code=404)
        visitor = request.cookies.get(VISITOR_COOKIE, "")
        if not _VISITOR.match(visitor):
            visitor = secrets.token_urlsafe(18)
        if not _PREVIEW_AGENTS.search(request.headers.get("user-agent", "")):
            try:
                await deps.engagement.submit(
                    EngagementRequest("web", None, UserRef("web", visitor), OpenLink(), post_id=post.id)
                )
            except Exception:  # the reader gets where they were going; the count is what is lost
                log.exception("recording a click on post #%d failed", post.id)
        response = RedirectResponse(target, status_code=302)
        response.headers["Cache-Control"] = "no-store"
        response.set_cookie(
            VISITOR_COOKIE,
            visitor,
            max_age=365 * 24 * 3600,
            path="/r",
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )
        return response

    return router
