"""Linking a messenger account to its employee by single sign-on, and the links people can see.

``/link`` gives a one-time link (random, single use, 15 minutes, bound to that account) to
``{[web] public_url}/sso/start/{token}``; opening it starts the OpenID Connect flow (bot/services/oidc.py);
the callback checks everything and links the account to the employee with the signed-in email, merges
its earlier responses (one count per person) and confirms in the messenger. Every failure is audited
and links nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from adapters.base import Adapter, UserRef
from bot.clock import Clock
from bot.config import SsoConfig
from bot.i18n import SOURCE, Message
from bot.services.sso_errors import Failure, OidcSettings, SsoFailure
from content import posts
from content.db import Store
from content.linking import (
    accounts_of,
    attach_account,
    detach_account,
    employee_by_email,
    find_account,
    issue_link_token,
    link_token,
    link_token_for_state,
)
from content.models import Employee, LinkedHow

if TYPE_CHECKING:
    from bot.services.languages import PersonLanguages
    from bot.services.oidc import OidcClient

log = logging.getLogger("prikbord.linking")

LINK_LIFETIME = timedelta(minutes=15)
CALLBACK_PATH = "/sso/callback"

SendPrivate = Callable[[UserRef, str], Awaitable[bool]]
ForgetPeople = Callable[[Iterable[tuple[str, str]]], None]


def private_sender(
    adapters: Mapping[str, Adapter], send: Callable[[Adapter, UserRef, str], Awaitable[bool]]
) -> SendPrivate:
    """A private message through the person's own platform (False where it is not running)."""

    async def send_private(user: UserRef, text: str) -> bool:
        adapter = adapters.get(user.platform)
        return False if adapter is None else await send(adapter, user, text)

    return send_private


class LinkUnavailable(Exception):
    """/link cannot give a link here (say why and what to do)."""


@dataclass(frozen=True, slots=True)
class Linked:
    account: str  # "platform:user id"
    employee_name: str
    email: str


@dataclass(frozen=True, slots=True)
class LinkedAccount:
    platform: str
    user_id: str
    how: str | None
    linked_at: datetime | None


@dataclass(frozen=True, slots=True)
class WhoAmI:
    name: str
    email: str | None
    accounts: list[LinkedAccount]


def oidc_settings(sso: SsoConfig, public_url: str | None) -> OidcSettings | None:
    """The relying party's settings, or None when single sign-on is not (fully) configured."""
    if not (sso.issuer and sso.client_id and sso.client_secret and public_url):
        return None
    return OidcSettings(
        issuer=sso.issuer,
        client_id=sso.client_id,
        client_secret=sso.client_secret.get_secret_value(),
        scopes=tuple(sso.scopes),
        redirect_uri=public_url.rstrip("/") + CALLBACK_PATH,
    )


class LinkingService:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        sso: SsoConfig,
        public_url: str | None,
        send_private: SendPrivate,
        forget_people: ForgetPeople,
        languages: PersonLanguages | None = None,
    ) -> None:
        self._store = store
        self._languages = languages  # the confirmation's language; None: English
        self._clock = clock
        self._sso = sso
        self._public_url = public_url.rstrip("/") if public_url else None
        self._send_private = send_private
        self._forget_people = forget_people
        settings = oidc_settings(sso, public_url)
        self._oidc: OidcClient | None = None
        if settings is not None:
            from bot.services.oidc import OidcClient  # Authlib only where single sign-on is configured

            self._oidc = OidcClient(settings)

    @property
    def enabled(self) -> bool:
        return self._oidc is not None

    async def issue_link(self, user: UserRef) -> str:
        """A new one-time link for this messenger account."""
        if self._oidc is None or self._public_url is None:
            raise LinkUnavailable(
                Message(
                    "linking by single sign-on is not set up here: the operator sets [sso] issuer, client_id, "
                    "client_secret and [web] public_url"
                )
            )
        now = self._clock.now()
        async with self._store.transaction() as session:
            raw = await issue_link_token(session, user.platform, user.user_id, user.display_name, now, LINK_LIFETIME)
        return f"{self._public_url}/sso/start/{raw}"

    async def begin(self, raw_token: str) -> str:
        """Check the one-time link and return where to send the browser: the provider's sign-in. The
        state is also the value of the browser cookie the callback compares."""
        now = self._clock.now()
        async with self._store.sessions() as session:
            token = await link_token(session, raw_token)
            account = f"{token.platform}:{token.platform_user_id}" if token else None
            failure = (
                SsoFailure(Failure.UNKNOWN_LINK) if token is None else _unusable(token.used_at, token.expires_at, now)
            )
        if failure is not None:
            raise await self._failed(failure, account)
        if self._oidc is None:
            raise await self._failed(SsoFailure(Failure.NOT_CONFIGURED), account)
        try:
            authorization = await self._oidc.authorization()
        except SsoFailure as exc:
            raise await self._failed(exc, account) from None
        async with self._store.transaction() as session:
            token = await link_token(session, raw_token)
            assert token is not None
            token.state, token.nonce = authorization.state, authorization.nonce
            token.code_verifier = authorization.code_verifier
        return authorization.url

    async def state_of(self, raw_token: str) -> str | None:
        async with self._store.sessions() as session:
            token = await link_token(session, raw_token)
            return token.state if token else None

    async def complete(self, state: str, code: str, error: str, browser_state: str | None) -> Linked:
        """The provider's callback: consume the link, check the sign-in, link the account."""
        now = self._clock.now()
        failure: SsoFailure | None = None
        async with self._store.transaction() as session:
            token = await link_token_for_state(session, state) if state else None
            account = f"{token.platform}:{token.platform_user_id}" if token else None
            if token is None or browser_state != state:
                failure = SsoFailure(Failure.STATE_MISMATCH)
            else:
                failure = _unusable(token.used_at, token.expires_at, now)
            if token is not None and failure is None:
                user = UserRef(token.platform, token.platform_user_id, token.display_name)
                token.used_at = now  # single use: consumed before anything else can go wrong
                nonce, verifier = token.nonce or "", token.code_verifier or ""
        if failure is not None:
            raise await self._failed(failure, account)
        if error or not code:
            raise await self._failed(SsoFailure(Failure.REFUSED, f"the provider answered {error[:60]!r}"), user.key)
        assert self._oidc is not None
        try:
            claims = await self._oidc.claims_for(code, nonce, verifier)
        except SsoFailure as exc:
            raise await self._failed(exc, user.key) from None
        email = claims.get(self._sso.email_claim)
        if not isinstance(email, str) or "@" not in email or claims.get("email_verified") is False:
            raise await self._failed(SsoFailure(Failure.NO_EMAIL, f"claim {self._sso.email_claim!r}"), user.key)
        linked = await self._link(user, email.strip().lower(), str(claims.get("name") or ""), now)
        await self._confirm(user, linked)
        return linked

    async def _link(self, user: UserRef, email: str, name: str, now: datetime) -> Linked:
        async with self._store.transaction() as session:
            employee = await employee_by_email(session, email)
            if employee is None and self._sso.create_employees:
                employee = Employee(name=name or email, email=email, created_at=now)
                session.add(employee)
                await session.flush()
            if employee is not None:
                change = await attach_account(
                    session, user.platform, user.user_id, user.display_name, employee.id, LinkedHow.SSO, now
                )
                identity = await find_account(session, user.platform, user.user_id)
                if identity is not None:
                    identity.linked_how, identity.linked_at = LinkedHow.SSO, now
                posts.audit(session, now, user.key, "link_account", None, employee_id=employee.id, how="sso")
                linked = Linked(user.key, employee.name, email)
        if employee is None:
            raise await self._failed(SsoFailure(Failure.UNKNOWN_EMPLOYEE), user.key)
        if change.moved:
            self._forget_people([(user.platform, user.user_id)])
        return linked

    async def _confirm(self, user: UserRef, linked: Linked) -> None:
        try:
            # Their language as it is now: the directory's of the employee just linked, else the platform's.
            t = SOURCE if self._languages is None else await self._languages.for_user(user, fresh=True)
            text = t.gettext(
                "Your %(platform)s account is now linked to %(name)s (%(email)s). /whoami shows it.",
                platform=user.platform,
                name=linked.employee_name,
                email=linked.email,
            )
            await self._send_private(user, text)
        except Exception:  # linked all the same; the page says so too
            log.warning("the link confirmation for %s could not be sent", user.key, exc_info=True)

    async def _failed(self, exc: SsoFailure, account: str | None) -> SsoFailure:
        """Audit a failure (who, which failure; never a token) and hand it back to raise."""
        log.info("linking %s failed: %s", account or "an unknown account", exc)
        now = self._clock.now()
        try:
            async with self._store.transaction() as session:
                posts.audit(
                    session,
                    now,
                    account or "unknown",
                    "link_failed",
                    None,
                    failure=exc.failure.value,
                    detail=exc.detail,
                )
        except Exception:
            log.exception("could not audit a failed link")
        return exc

    # -- what people see and undo --------------------------------------------------------------

    async def whoami(self, user: UserRef) -> WhoAmI | None:
        async with self._store.sessions() as session:
            identity = await find_account(session, user.platform, user.user_id)
            if identity is None:
                return None
            employee = await session.get(Employee, identity.employee_id)
            assert employee is not None
            linked = [
                LinkedAccount(i.platform, i.platform_user_id, i.linked_how, i.linked_at)
                for i in await accounts_of(session, employee.id)
            ]
            return WhoAmI(employee.name, employee.email, linked)

    async def unlink(self, user: UserRef, platform: str) -> bool:
        """Remove the link of the caller's employee's account on ``platform``; False when there is none."""
        now = self._clock.now()
        async with self._store.transaction() as session:
            identity = await find_account(session, user.platform, user.user_id)
            if identity is None:
                return False
            target = next((i for i in await accounts_of(session, identity.employee_id) if i.platform == platform), None)
            if target is None:
                return False
            key = (target.platform, target.platform_user_id)
            employee_id = identity.employee_id
            if not await detach_account(session, *key, now):
                return False
            posts.audit(session, now, user.key, "unlink_account", None, employee_id=employee_id, platform=platform)
        self._forget_people([key])
        return True


def _unusable(used_at: datetime | None, expires_at: datetime, now: datetime) -> SsoFailure | None:
    if used_at is not None:
        return SsoFailure(Failure.REUSED_LINK)
    if expires_at <= now:
        return SsoFailure(Failure.EXPIRED_LINK)
    return None
