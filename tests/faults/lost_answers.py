"""A loopback HTTP proxy in front of Synapse that loses the answers to some of the bot's sends.

Everything is forwarded and Synapse answers it as usual; but of the messages sent under a delivery's
transaction id (``PUT /rooms/…/send/m.room.message/prikbord-d<id>``), the answers to arrivals number
``after + 1`` to ``after + count`` are kept back until the proxy stops. Synapse has stored those events,
the sender never learns it: the window a kill -9 between a send and its recorded outcome leaves, made
certain instead of left to chance. Later arrivals (a restarted process's resends) are answered again.
"""

from __future__ import annotations

import asyncio
import re

import aiohttp
from aiohttp import web
from yarl import URL

DELIVERY_TXN = re.compile(r"prikbord-d\d+")  # compose.py: a delivery's idempotency key
DELIVERY_SEND = re.compile(rf"/rooms/[^/]+/send/m\.room\.message/(?P<txn>{DELIVERY_TXN.pattern})$")
# What a Matrix client request needs upstream; the rest (Host, lengths, hop-by-hop headers) is the proxy's.
_FORWARDED = ("Authorization", "Content-Type", "User-Agent")


class LostAnswers:
    """The proxy; ``base_url`` once started, ``held`` the transaction ids whose answers it kept back."""

    def __init__(self, upstream: str, *, after: int, count: int) -> None:
        self._upstream = upstream.rstrip("/")
        self._after, self._count = after, count
        self.arrivals = 0  # delivery sends that reached the proxy
        self.held: list[str] = []  # transaction ids whose answers were kept back
        self._release = asyncio.Event()
        self._client: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    async def start(self) -> None:
        # No total timeout: a /sync long poll takes 30 s.
        self._client = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, connect=10))
        app = web.Application(client_max_size=1 << 20)
        app.router.add_route("*", "/{tail:.*}", self._forward)
        # handler_cancellation: a killed client's requests are dropped upstream too, as without a proxy
        # (Synapse cancels a /sync whose client went away; a kept one would answer the successor's).
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0, handler_cancellation=True)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.base_url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def stop(self) -> None:
        self._release.set()  # the kept-back answers go to connections long closed
        if self._runner is not None:
            await self._runner.cleanup()
        if self._client is not None:
            await self._client.close()

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        assert self._client is not None
        hold = False
        send = DELIVERY_SEND.search(request.path) if request.method == "PUT" else None
        if send is not None:
            self.arrivals += 1
            hold = self._after < self.arrivals <= self._after + self._count
            if hold:
                self.held.append(send["txn"])
        headers = {name: request.headers[name] for name in _FORWARDED if name in request.headers}
        url = URL(self._upstream + request.raw_path, encoded=True)
        try:
            async with self._client.request(request.method, url, data=await request.read(), headers=headers) as answer:
                body = await answer.read()
                status, content_type = answer.status, answer.headers.get("Content-Type", "application/json")
        except aiohttp.ClientError as exc:  # Synapse unreachable, or the proxy stopping
            return web.Response(status=502, text=f"proxy: {type(exc).__name__}")
        if hold:
            await self._release.wait()
        return web.Response(status=status, body=body, headers={"Content-Type": content_type})
