"""Who may use the admin API and the dashboard: the admin token, compared in constant time.

The API takes it as ``Authorization: Bearer …`` on every request and never looks at cookies, so it
needs no CSRF defence. The dashboard trades it once for a session cookie (HttpOnly, SameSite=Strict)
signed with a key derived from the token, so changing the token signs everyone out; every form
carries the session's CSRF token, checked on POST.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

SESSION_COOKIE = "prikbord_session"
SESSION_SECONDS = 12 * 3600
NO_TOKEN = "no admin token is configured: set [web] admin_token (or PRIKBORD_WEB__ADMIN_TOKEN)"


def token_matches(given: str | None, expected: str | None) -> bool:
    """Constant-time comparison; no configured token means nobody gets in."""
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8"))


def bearer_token(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


@dataclass(frozen=True, slots=True)
class Session:
    csrf: str
    signed_in: bool
    issued: int

    @classmethod
    def fresh(cls, signed_in: bool = False) -> Session:
        return cls(secrets.token_urlsafe(24), signed_in, int(time.time()))


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Sessions:
    """Signed, stateless session cookies (nothing to store server-side, nothing to clean up)."""

    def __init__(self, admin_token: str | None) -> None:
        # A key of its own (not the token itself), so a leaked cookie signature says nothing about the token.
        self._key = (
            hmac.new(admin_token.encode("utf-8"), b"prikbord dashboard session v1", hashlib.sha256).digest()
            if admin_token
            else None
        )

    @property
    def available(self) -> bool:
        return self._key is not None

    def _sign(self, payload: str) -> str:
        assert self._key is not None
        return _b64(hmac.new(self._key, payload.encode("ascii"), hashlib.sha256).digest())

    def read(self, request: Request) -> Session | None:
        raw = request.cookies.get(SESSION_COOKIE)
        if self._key is None or not raw or raw.count(".") != 1:
            return None
        payload, signature = raw.split(".")
        try:
            if not hmac.compare_digest(signature.encode("ascii"), self._sign(payload).encode("ascii")):
                return None
            data = json.loads(_unb64(payload))
            session = Session(str(data["c"]), bool(data["a"]), int(data["t"]))
        except (ValueError, KeyError, TypeError, UnicodeError):
            return None
        if not 0 <= time.time() - session.issued <= SESSION_SECONDS:
            return None
        return session

    def write(self, request: Request, response: Response, session: Session) -> None:
        payload = _b64(json.dumps({"c": session.csrf, "a": session.signed_in, "t": session.issued}).encode())
        response.set_cookie(
            SESSION_COOKIE,
            f"{payload}.{self._sign(payload)}",
            max_age=SESSION_SECONDS,
            path="/",
            httponly=True,
            samesite="strict",
            # Secure whenever the page came over https (uvicorn reads X-Forwarded-Proto from a local proxy).
            secure=request.url.scheme == "https",
        )

    def clear(self, request: Request, response: Response) -> None:
        secure = request.url.scheme == "https"
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict", secure=secure)


def csrf_ok(session: Session | None, submitted: str | None) -> bool:
    if session is None or not submitted:
        return False
    return hmac.compare_digest(session.csrf.encode("ascii"), submitted.encode("utf-8", "surrogatepass"))
