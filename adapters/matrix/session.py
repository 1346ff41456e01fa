"""The bot's session with its homeserver: the nio client, login, and requests whose failures become
the adapter errors of ``base.py``. Tokens and passwords never reach a log line or an error text."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import ClientError
from nio import AsyncClient, AsyncClientConfig, ErrorResponse

from adapters.base import AdapterAuthError, DeliveryError
from adapters.matrix.errors import connection_error, error_for
from adapters.matrix.memory import AdapterMemory

log = logging.getLogger(__name__)

_LOGIN_REFUSED = ("M_FORBIDDEN", "M_USER_DEACTIVATED", "M_INVALID_USERNAME")


class MatrixSession:
    def __init__(
        self,
        *,
        homeserver: str,
        user_id: str,
        access_token: str | None,
        password: str | None,
        device_id: str | None,
        device_name: str,
        request_timeout: float,
        memory: AdapterMemory,
    ) -> None:
        self.homeserver = homeserver
        self.user_id = user_id
        self._access_token = access_token
        self._password = password
        self._device_id = device_id
        self._device_name = device_name
        self._memory = memory
        # max_limit_exceeded=0 / max_timeouts=0: nio must not retry 429s and connection errors by itself
        # (by default it retries forever); the dispatcher and the sync loop decide when to try again.
        config = AsyncClientConfig(
            max_limit_exceeded=0,
            max_timeouts=0,
            request_timeout=request_timeout,
            encryption_enabled=False,
            store=None,
            store_sync_tokens=False,
        )
        self.client = AsyncClient(homeserver, user_id, device_id=device_id or "", config=config)
        self._lock = asyncio.Lock()
        self.logged_in = False

    @property
    def device_id(self) -> str | None:
        return self.client.device_id or None

    @property
    def can_log_in_again(self) -> bool:
        """A refused token came from our own password login, so a new login may fix it."""
        return self.logged_in and bool(self._password) and not self._access_token

    async def close(self) -> None:
        await self.client.close()

    # -- login ------------------------------------------------------------------------------

    async def ensure_login(self) -> None:
        """The configured token; else the token of an earlier password login; else a password login."""
        async with self._lock:
            if self.logged_in:
                return
            token, device = self._access_token, self._device_id
            from_store = False
            if not token:
                stored = await self._memory.login()
                if stored:
                    token, device = stored
                    from_store = True
            if token:
                self.client.user_id = self.user_id
                self.client.access_token = token
                self.client.device_id = device or ""
                try:
                    await self._whoami()
                    self.logged_in = True
                    return
                except AdapterAuthError:
                    if not (from_store and self._password):
                        raise
                    log.warning("matrix: the stored token of %s was refused; logging in again", self.user_id)
            await self._password_login(device)
            self.logged_in = True

    def forget_login(self) -> None:
        self.logged_in = False

    async def _whoami(self) -> None:
        resp = await self.call("check the login", None, self.client.whoami)
        if resp.user_id != self.user_id:
            raise AdapterAuthError(
                f"matrix: the access token belongs to {resp.user_id}, but [matrix] user_id is {self.user_id}: "
                "fix one of them"
            )
        if resp.device_id:
            self.client.device_id = resp.device_id

    async def _password_login(self, device: str | None) -> None:
        password = self._password
        assert password is not None
        self.client.user_id = self.user_id
        self.client.device_id = device or ""  # the same device again: Synapse keeps txn ids per device
        resp = await self.request(lambda: self.client.login(password, device_name=self._device_name), "log in")
        if isinstance(resp, ErrorResponse):
            if resp.status_code in _LOGIN_REFUSED:
                raise AdapterAuthError(
                    f"matrix: logging in as {self.user_id} failed ({resp.status_code}: {resp.message}): "
                    "check [matrix] user_id and password"
                )
            raise self.error(resp, "log in", None)
        await self._memory.set_login(resp.access_token, resp.device_id)
        log.info("matrix: logged in as %s, device %s (token kept for restarts)", resp.user_id, resp.device_id)

    # -- requests -----------------------------------------------------------------------------

    async def request(self, call: Callable[[], Awaitable[Any]], what: str) -> Any:
        """One nio call; a connection failure becomes TransientError (nio raises aiohttp's errors)."""
        try:
            return await call()
        except (ClientError, TimeoutError, OSError) as exc:
            raise connection_error(exc, self.homeserver, what) from exc

    def error(self, resp: Any, what: str, room_id: str | None) -> DeliveryError:
        transport = getattr(resp, "transport_response", None)
        headers = getattr(transport, "headers", None)
        return error_for(
            errcode=resp.status_code,
            message=resp.message or "",
            http_status=getattr(transport, "status", None),
            retry_after_ms=resp.retry_after_ms,
            retry_after_header=headers.get("Retry-After") if headers is not None else None,
            what=what,
            room_id=room_id,
            bot_user_id=self.user_id,
        )

    async def call(
        self, what: str, room_id: str | None, fn: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any
    ) -> Any:
        """One request; an ErrorResponse or a connection failure becomes the matching DeliveryError."""
        resp = await self.request(lambda: fn(*args, **kwargs), what)
        if isinstance(resp, ErrorResponse):
            raise self.error(resp, what, room_id)
        return resp

    async def state_event(self, room_id: str, event_type: str, state_key: str = "") -> dict[str, Any] | None:
        """The content of a state event; None when the room has none."""
        resp = await self.request(
            lambda: self.client.room_get_state_event(room_id, event_type, state_key), "read the state of"
        )
        if not isinstance(resp, ErrorResponse) and "errcode" in resp.content:
            # nio turns only a 404 into an error; a 403 arrives as a "response" whose content is the error.
            resp = ErrorResponse(resp.content.get("error", ""), resp.content["errcode"])
        if isinstance(resp, ErrorResponse):
            if resp.status_code == "M_NOT_FOUND":
                return None
            raise self.error(resp, "read the state of", room_id)
        return dict(resp.content)
