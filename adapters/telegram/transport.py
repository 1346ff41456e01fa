"""python-telegram-bot's HTTP requests over aiohttp instead of httpx.

python-telegram-bot sends through a ``BaseRequest``; its own is httpx. Measured on this project's machines
(bench/README.md, ``paid_broadcast.py``): httpx 0.28 with httpcore 1.0 spends 2–3 s of CPU per 1,000
requests on loopback — its connection pool checks every connection's socket on every request — so one
process cannot send more than ~300 messages/s, a third of Telegram's paid-broadcast bound. aiohttp (already
what the Slack and Matrix SDKs use) does the same requests for ~0.2 s per 1,000. The class below is the
adapter python-telegram-bot documents for another HTTP library (``BaseRequest.do_request``): the same form
or multipart body as its httpx request, the same timeouts, and its error types (``TimedOut``,
``NetworkError``), so the Bot and everything above it behave as before.
"""

from __future__ import annotations

from typing import Any

import aiohttp
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData


def _seconds(value: object, default: float | None) -> float | None:
    """A timeout python-telegram-bot passed: a number or None (no limit) as given, its "not given" marker
    (a ``DefaultValue``) → this request's default."""
    if value is None or isinstance(value, int | float):
        return value
    return default


def request_body(request_data: RequestData | None) -> aiohttp.FormData | aiohttp.BytesPayload | None:
    """A JSON object of the parameters, which the Bot API takes for every method but uploads (and which
    costs a third of what a form costs to encode, every field JSON-encoded and then quoted, at 1,000
    messages a second); multipart form data, the parameters JSON-encoded one by one, when the request
    carries files."""
    if request_data is None:
        return None
    files = request_data.multipart_data
    if not files:
        return aiohttp.JsonPayload(request_data.parameters)
    fields = request_data.json_parameters
    body = aiohttp.FormData(quote_fields=True)
    for name, value in fields.items():
        body.add_field(name, value)
    for name, (filename, content, mime_type) in files.items():
        body.add_field(name, content, filename=filename, content_type=mime_type)  # makes the body multipart
    return body


class AiohttpRequest(BaseRequest):
    """Requests to the Bot API over one aiohttp session with ``connection_pool_size`` connections."""

    def __init__(
        self,
        *,
        connection_pool_size: int = 1,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
    ) -> None:
        self._pool_size = max(1, connection_pool_size)
        self._read = read_timeout
        self._write = write_timeout
        self._connect = connect_timeout
        self._pool = pool_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._read

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._pool_size, limit_per_host=self._pool_size)
            # trust_env off: the Bot API is reached directly, as httpx's client does without a proxy set.
            self._session = aiohttp.ClientSession(connector=connector, trust_env=False)

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            # As httpx's request, usable before initialize(): its client exists from construction on, and an
            # adapter made to edit or delete after a restart sends before (or without) starting the Bot.
            await self.initialize()
        assert self._session is not None
        read = _seconds(read_timeout, self._read)
        connect = _seconds(connect_timeout, self._connect)
        pool = _seconds(pool_timeout, self._pool)
        write = _seconds(write_timeout, self._write)
        # aiohttp's connect timeout includes the wait for a free connection of the pool; its socket read
        # timeout is per read, like httpx's read timeout. Writing a request body is bounded by the total.
        connect_total = None if connect is None or pool is None else connect + pool
        total = None if read is None or write is None or connect_total is None else read + write + connect_total
        timeout = aiohttp.ClientTimeout(total=total, connect=connect_total, sock_read=read)
        try:
            async with self._session.request(
                method,
                url,
                data=request_body(request_data),
                headers={"User-Agent": self.USER_AGENT},
                timeout=timeout,
            ) as response:
                return response.status, await response.read()
        except TimeoutError as err:
            raise TimedOut from err
        except aiohttp.ClientError as err:
            # The URL holds the bot's token: it never goes into the message.
            said = str(err).replace(url, "<the Bot API URL>")
            raise NetworkError(f"aiohttp.{type(err).__name__}: {said}") from err
