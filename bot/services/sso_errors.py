"""The ways linking by single sign-on can fail, and the relying party's settings. Kept apart from
bot/services/oidc.py so that nothing imports Authlib unless single sign-on is configured."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Failure(StrEnum):
    """Each way a link can fail; the page and the audit entry name it."""

    NOT_CONFIGURED = "sso_not_configured"
    UNKNOWN_LINK = "unknown_link"
    EXPIRED_LINK = "expired_link"
    REUSED_LINK = "reused_link"
    STATE_MISMATCH = "state_mismatch"
    UNREACHABLE = "provider_unreachable"
    REFUSED = "provider_refused"
    BAD_SIGNATURE = "bad_signature"
    WRONG_ISSUER = "wrong_issuer"
    WRONG_AUDIENCE = "wrong_audience"
    BAD_TOKEN = "bad_id_token"
    NO_EMAIL = "no_email"
    UNKNOWN_EMPLOYEE = "unknown_employee"


class SsoFailure(Exception):
    def __init__(self, failure: Failure, detail: str = "") -> None:
        super().__init__(f"{failure.value}: {detail}" if detail else failure.value)
        self.failure = failure
        self.detail = detail  # for the log and the audit entry; never a token or a secret


@dataclass(frozen=True, slots=True)
class OidcSettings:
    issuer: str
    client_id: str
    client_secret: str
    scopes: tuple[str, ...]
    redirect_uri: str


@dataclass(frozen=True, slots=True)
class Authorization:
    url: str
    state: str
    nonce: str
    code_verifier: str
