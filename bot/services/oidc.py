"""The OpenID Connect relying party for ``/link``: discovery, the authorization request (PKCE S256,
state, nonce), the code exchange and the ID-token checks — all done by Authlib (its httpx client and
its OpenID ``CodeIDToken`` claims) with joserfc against the provider's JWKS. Nothing here verifies
a token by hand; this module only turns each way it can fail into a :class:`SsoFailure`."""

from __future__ import annotations

import time
import warnings
from typing import Any, cast

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.rfc6749.errors import OAuth2Error
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import BadSignatureError, ClaimError, InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from bot.services.sso_errors import Authorization, Failure, OidcSettings, SsoFailure

with warnings.catch_warnings():
    # Authlib 1.9 prefers the httpx2 package and warns when it uses httpx (prikbord's HTTP client) instead.
    warnings.filterwarnings("ignore", message="The httpx module is deprecated")
    from authlib.integrations.httpx_client import AsyncOAuth2Client

TIMEOUT = httpx.Timeout(10.0)
METADATA_LIFETIME = 300.0  # seconds a discovery document is reused


class OidcClient:
    def __init__(self, settings: OidcSettings) -> None:
        self._settings = settings
        self._metadata: dict[str, Any] | None = None
        self._metadata_at = 0.0

    def _client(self) -> AsyncOAuth2Client:
        s = self._settings
        return AsyncOAuth2Client(
            client_id=s.client_id,
            client_secret=s.client_secret,
            scope=" ".join(s.scopes),
            redirect_uri=s.redirect_uri,
            code_challenge_method="S256",
            timeout=TIMEOUT,
        )

    async def metadata(self) -> dict[str, Any]:
        """The provider's discovery document; its ``issuer`` must be the configured one exactly."""
        if self._metadata is not None and time.monotonic() - self._metadata_at < METADATA_LIFETIME:
            return self._metadata
        url = self._settings.issuer.rstrip("/") + "/.well-known/openid-configuration"
        try:
            async with httpx.AsyncClient(timeout=TIMEOUT) as http:
                answer = await http.get(url)
                answer.raise_for_status()
                found = answer.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise SsoFailure(Failure.UNREACHABLE, f"discovery at {url} failed: {type(exc).__name__}") from None
        if not isinstance(found, dict) or found.get("issuer") != self._settings.issuer:
            shown = found.get("issuer") if isinstance(found, dict) else None
            raise SsoFailure(Failure.WRONG_ISSUER, f"discovery names issuer {shown!r}")
        self._metadata, self._metadata_at = found, time.monotonic()
        return found

    async def authorization(self) -> Authorization:
        metadata = await self.metadata()
        state, nonce, verifier = generate_token(32), generate_token(32), generate_token(64)
        async with self._client() as client:
            url, _ = client.create_authorization_url(
                metadata["authorization_endpoint"], state=state, code_verifier=verifier, nonce=nonce
            )
        return Authorization(url, state, nonce, verifier)

    async def claims_for(self, code: str, nonce: str, code_verifier: str) -> dict[str, Any]:
        """Exchange the code and return the checked ID token's claims (signature, issuer, audience,
        expiry, nonce, at_hash), or raise :class:`SsoFailure`."""
        metadata = await self.metadata()
        try:
            async with self._client() as client:
                token = await client.fetch_token(
                    metadata["token_endpoint"], grant_type="authorization_code", code=code, code_verifier=code_verifier
                )
        except httpx.HTTPError as exc:
            raise SsoFailure(Failure.UNREACHABLE, f"the token endpoint failed: {type(exc).__name__}") from None
        except OAuth2Error as exc:
            raise SsoFailure(Failure.REFUSED, f"the token endpoint refused the code: {exc.error}") from None
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise SsoFailure(Failure.BAD_TOKEN, "the token response has no id_token")
        return await self._checked(id_token, nonce, str(token.get("access_token") or ""), metadata)

    async def _checked(self, id_token: str, nonce: str, access_token: str, metadata: dict[str, Any]) -> dict[str, Any]:
        algorithms = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
        registry = JWSRegistry(algorithms=[a for a in algorithms if a != "none"])
        try:
            try:
                decoded = jwt.decode(
                    id_token, KeySet.import_key_set(cast(Any, await self._jwks(metadata))), registry=registry
                )
            except InvalidKeyIdError:  # the provider rotated its keys: fetch them once more
                decoded = jwt.decode(
                    id_token, KeySet.import_key_set(cast(Any, await self._jwks(metadata))), registry=registry
                )
        except BadSignatureError:
            raise SsoFailure(
                Failure.BAD_SIGNATURE, "the ID token's signature does not match the provider's keys"
            ) from None
        except JoseError as exc:
            raise SsoFailure(Failure.BAD_TOKEN, f"the ID token cannot be read: {exc.error}") from None
        s = self._settings
        claims = CodeIDToken(
            decoded.claims,
            decoded.header,
            {
                "iss": {"essential": True, "value": s.issuer},
                "aud": {"essential": True, "value": s.client_id},
                "exp": {"essential": True},
            },
            {"nonce": nonce, "client_id": s.client_id, "access_token": access_token or None},
        )
        try:
            claims.validate(leeway=60)
        except ClaimError as exc:
            if exc.claim == "iss":
                raise SsoFailure(Failure.WRONG_ISSUER, f"the ID token names issuer {claims.get('iss')!r}") from None
            if exc.claim in ("aud", "azp"):
                raise SsoFailure(Failure.WRONG_AUDIENCE, "the ID token is meant for another client") from None
            raise SsoFailure(Failure.BAD_TOKEN, f"the ID token's {exc.claim} claim did not check out") from None
        except JoseError as exc:
            raise SsoFailure(Failure.BAD_TOKEN, f"the ID token did not check out: {exc.error}") from None
        return dict(claims)

    async def _jwks(self, metadata: dict[str, Any]) -> dict[str, Any]:
        try:
            async with httpx.AsyncClient(timeout=TIMEOUT) as http:
                answer = await http.get(metadata["jwks_uri"])
                answer.raise_for_status()
                keys = answer.json()
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            raise SsoFailure(
                Failure.UNREACHABLE, f"the provider's keys could not be fetched: {type(exc).__name__}"
            ) from None
        if not isinstance(keys, dict):
            raise SsoFailure(Failure.UNREACHABLE, "the provider's keys are not a JWK set")
        return keys
