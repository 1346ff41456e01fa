"""``/sso/start/{token}`` and ``/sso/callback``: the browser side of linking a messenger account by
single sign-on. Each outcome is a page that says what happened and what to do next."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from bot.i18n import N_, SOURCE, Translator
from bot.services.languages import PersonLanguages
from bot.services.linking import CALLBACK_PATH, LinkingService
from bot.services.sso_errors import Failure, SsoFailure
from bot.web.pages import Pages

COOKIE = "prikbord_sso_state"
AGAIN = N_("Send /link to prikbord in your messenger again and open the new link it gives you (within 15 minutes).")
OPERATOR = N_("If it keeps happening, tell the people who run prikbord; nothing was linked.")

# failure → (what happened, what to do: sentences, each translated on its own)
EXPLAINED: dict[Failure, tuple[str, tuple[str, ...]]] = {
    Failure.NOT_CONFIGURED: (
        N_("Single sign-on is not set up on this prikbord."),
        (N_("Ask the operator to set [sso]."),),
    ),
    Failure.UNKNOWN_LINK: (N_("This link was not given out by this prikbord (or it was mistyped)."), (AGAIN,)),
    Failure.EXPIRED_LINK: (N_("This link has expired: links work for 15 minutes."), (AGAIN,)),
    Failure.REUSED_LINK: (N_("This link was already used: each link works once."), (AGAIN,)),
    Failure.STATE_MISMATCH: (
        N_("This sign-in did not start in this browser, or it was already finished."),
        (N_("Open your /link link again in this browser and sign in there."), AGAIN),
    ),
    Failure.UNREACHABLE: (
        N_("The company sign-in could not be reached."),
        (N_("Try again in a few minutes."), OPERATOR),
    ),
    Failure.REFUSED: (N_("The company sign-in was cancelled or refused."), (AGAIN,)),
    Failure.BAD_SIGNATURE: (N_("The answer from the company sign-in failed its signature check."), (AGAIN, OPERATOR)),
    Failure.WRONG_ISSUER: (N_("The answer came from another identity provider than the configured one."), (OPERATOR,)),
    Failure.WRONG_AUDIENCE: (N_("The answer from the company sign-in was meant for another application."), (OPERATOR,)),
    Failure.BAD_TOKEN: (N_("The answer from the company sign-in did not check out."), (AGAIN, OPERATOR)),
    Failure.NO_EMAIL: (N_("The company sign-in did not tell your (verified) email address."), (OPERATOR,)),
    Failure.UNKNOWN_EMPLOYEE: (
        N_("Your email address is not in prikbord's employee directory."),
        (N_("Ask HR or the operator to add you to the directory, then send /link again."),),
    ),
}
FAILURE_STATUS = {Failure.UNREACHABLE: 502, Failure.NOT_CONFIGURED: 503}


def sso_router(linking: LinkingService, pages: Pages, languages: PersonLanguages | None = None) -> APIRouter:
    """The pages speak the language of the person the link was made for (their directory language), else
    the browser's, else ``[i18n] default``; without ``languages``, English."""
    router = APIRouter(include_in_schema=False)

    async def language(request: Request, *, token: str = "", state: str = "") -> Translator:
        if languages is None:
            return SOURCE
        return await languages.for_link(
            token=token, state=state, accept_language=request.headers.get("accept-language")
        )

    def failed(exc: SsoFailure, t: Translator) -> Response:
        what, todo = EXPLAINED[exc.failure]
        response = pages.render(
            "sso.html",
            FAILURE_STATUS.get(exc.failure, 400),
            signed_in=False,
            csrf="",
            lang=t.language,
            title=t.gettext("Nothing was linked"),
            failed=True,
            outcome=exc.failure.value,
            what_happened=t.gettext(what),
            what_to_do=" ".join(t.gettext(sentence) for sentence in todo),
        )
        response.delete_cookie(COOKIE, path="/sso")
        return response

    @router.get("/sso/start/{token}")
    async def start(token: str, request: Request) -> Response:
        t = await language(request, token=token[:200])
        try:
            url = await linking.begin(token[:200])
        except SsoFailure as exc:
            return failed(exc, t)
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
        t = await language(request, state=query.get("state", "")[:200])
        try:
            linked = await linking.complete(
                query.get("state", "")[:200],
                query.get("code", "")[:2000],
                query.get("error", "")[:200],
                request.cookies.get(COOKIE),
            )
        except SsoFailure as exc:
            return failed(exc, t)
        response = pages.render(
            "sso.html",
            200,
            signed_in=False,
            csrf="",
            lang=t.language,
            title=t.gettext("Linked"),
            failed=False,
            outcome="linked",
            what_happened=t.gettext(
                "Your account %(account)s is now linked to %(name)s (%(email)s).",
                account=linked.account,
                name=linked.employee_name,
                email=linked.email,
            ),
            what_to_do=t.gettext(
                "You can close this page. /whoami in your messenger shows your links; /unlink removes one."
            ),
        )
        response.delete_cookie(COOKIE, path="/sso")
        return response

    return router
