"""``/sso/start/{token}`` and ``/sso/callback``: the browser side of linking a messenger account by
single sign-on. Each outcome is a page that says what happened and what to do next."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from bot.services.linking import CALLBACK_PATH, LinkingService
from bot.services.sso_errors import Failure, SsoFailure
from bot.web.pages import Pages

COOKIE = "prikbord_sso_state"
AGAIN = "Send /link to prikbord in your messenger again and open the new link it gives you (within 15 minutes)."
OPERATOR = "If it keeps happening, tell the people who run prikbord; nothing was linked."

# failure → (what happened, what to do)
EXPLAINED: dict[Failure, tuple[str, str]] = {
    Failure.NOT_CONFIGURED: ("Single sign-on is not set up on this prikbord.", "Ask the operator to set [sso]."),
    Failure.UNKNOWN_LINK: ("This link was not given out by this prikbord (or it was mistyped).", AGAIN),
    Failure.EXPIRED_LINK: ("This link has expired: links work for 15 minutes.", AGAIN),
    Failure.REUSED_LINK: ("This link was already used: each link works once.", AGAIN),
    Failure.STATE_MISMATCH: (
        "This sign-in did not start in this browser, or it was already finished.",
        "Open your /link link again in this browser and sign in there. " + AGAIN,
    ),
    Failure.UNREACHABLE: (
        "The company sign-in could not be reached.",
        "Try again in a few minutes. " + OPERATOR,
    ),
    Failure.REFUSED: ("The company sign-in was cancelled or refused.", AGAIN),
    Failure.BAD_SIGNATURE: ("The answer from the company sign-in failed its signature check.", AGAIN + " " + OPERATOR),
    Failure.WRONG_ISSUER: ("The answer came from another identity provider than the configured one.", OPERATOR),
    Failure.WRONG_AUDIENCE: ("The answer from the company sign-in was meant for another application.", OPERATOR),
    Failure.BAD_TOKEN: ("The answer from the company sign-in did not check out.", AGAIN + " " + OPERATOR),
    Failure.NO_EMAIL: ("The company sign-in did not tell your (verified) email address.", OPERATOR),
    Failure.UNKNOWN_EMPLOYEE: (
        "Your email address is not in prikbord's employee directory.",
        "Ask HR or the operator to add you to the directory, then send /link again.",
    ),
}
FAILURE_STATUS = {Failure.UNREACHABLE: 502, Failure.NOT_CONFIGURED: 503}


def sso_router(linking: LinkingService, pages: Pages) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    def failed(exc: SsoFailure) -> Response:
        what, todo = EXPLAINED[exc.failure]
        response = pages.render(
            "sso.html",
            FAILURE_STATUS.get(exc.failure, 400),
            signed_in=False,
            csrf="",
            title="Nothing was linked",
            failed=True,
            outcome=exc.failure.value,
            what_happened=what,
            what_to_do=todo,
        )
        response.delete_cookie(COOKIE, path="/sso")
        return response

    @router.get("/sso/start/{token}")
    async def start(token: str, request: Request) -> Response:
        try:
            url = await linking.begin(token[:200])
        except SsoFailure as exc:
            return failed(exc)
        state = await linking.state_of(token[:200])
        response = RedirectResponse(url, status_code=303)
        # Binds the sign-in to this browser: the callback must come back with the same state.
        response.set_cookie(
            COOKIE,
            state or "",
            max_age=15 * 60,
            path="/sso",
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )
        return response

    @router.get(CALLBACK_PATH)
    async def callback(request: Request) -> Response:
        query = request.query_params
        try:
            linked = await linking.complete(
                query.get("state", "")[:200],
                query.get("code", "")[:2000],
                query.get("error", "")[:200],
                request.cookies.get(COOKIE),
            )
        except SsoFailure as exc:
            return failed(exc)
        response = pages.render(
            "sso.html",
            200,
            signed_in=False,
            csrf="",
            title="Linked",
            failed=False,
            outcome="linked",
            what_happened=f"Your account {linked.account} is now linked to {linked.employee_name} ({linked.email}).",
            what_to_do="You can close this page. /whoami in your messenger shows your links; /unlink removes one.",
        )
        response.delete_cookie(COOKIE, path="/sso")
        return response

    return router
