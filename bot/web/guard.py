"""The dashboard's gate: who is signed in, and whether a form came from one of our pages."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bot.web.forms import FormError, read_form
from bot.web.security import Session, Sessions, csrf_ok

CSRF_REFUSED = "this form had no valid CSRF token: reload the page and try again"


class NotSignedIn(Exception):
    """Raised by :meth:`Guard.form` and :meth:`Guard.page`; answered with a redirect to /login."""


class Guard:
    def __init__(self, sessions: Sessions) -> None:
        self.sessions = sessions

    def page(self, request: Request) -> Session:
        """The signed-in session of a page view."""
        session = self.sessions.read(request)
        if session is None or not session.signed_in:
            raise NotSignedIn
        return session

    async def form(self, request: Request, *, signed_in: bool = True) -> tuple[Session, dict[str, str]]:
        """A posted form: read, CSRF-checked against the session, and (by default) signed in."""
        form = await read_form(request)
        session = self.sessions.read(request)
        if session is None or not csrf_ok(session, form.get("csrf")):
            raise FormError(403, CSRF_REFUSED)
        if signed_in and not session.signed_in:
            raise NotSignedIn
        return session, form

    @staticmethod
    def to_login() -> Response:
        return RedirectResponse("/login", status_code=303)
