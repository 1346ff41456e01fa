"""Signing in to the dashboard with the admin token, and out again."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from bot.web.guard import Guard
from bot.web.pages import Pages
from bot.web.security import NO_TOKEN, Session, token_matches


def signin_router(pages: Pages, guard: Guard, admin_token: str | None) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    def page(name: str, session: Session, status: int = 200, **context: Any) -> Response:
        return pages.render(name, status, csrf=session.csrf, signed_in=session.signed_in, **context)

    @router.get("/login")
    async def login_form(request: Request) -> Response:
        if not guard.sessions.available:
            return pages.render("login.html", 503, csrf="", signed_in=False, error=NO_TOKEN, available=False)
        session = guard.sessions.read(request) or Session.fresh()
        response = page("login.html", session, error=None, available=True)
        guard.sessions.write(request, response, session)
        return response

    @router.post("/login")
    async def login(request: Request) -> Response:
        session, form = await guard.form(request, signed_in=False)
        if not token_matches(form.get("token"), admin_token):
            await asyncio.sleep(0.5)  # slows guessing down; a right token is never delayed
            return page("login.html", session, 401, error="that is not the admin token", available=True)
        # A new session (and CSRF token) on sign-in, so a token planted before cannot be reused.
        response = RedirectResponse("/", status_code=303)
        guard.sessions.write(request, response, Session.fresh(signed_in=True))
        return response

    @router.post("/logout")
    async def logout(request: Request) -> Response:
        await guard.form(request)
        response = RedirectResponse("/login", status_code=303)
        guard.sessions.clear(request, response)
        return response

    return router
