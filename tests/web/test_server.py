"""The web app served in prikbord's own event loop (what `prikbord run` does with [web] port)."""

from __future__ import annotations

import socket

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from bot.web import WebServer


async def _hello(request: object) -> PlainTextResponse:
    return PlainTextResponse("hello")


async def test_serves_on_a_free_port_and_stops() -> None:
    server = WebServer(Starlette(routes=[Route("/", _hello)]), "127.0.0.1", 0)
    await server.start()
    url = f"http://127.0.0.1:{server.port}/"
    try:
        async with httpx.AsyncClient() as client:
            assert (await client.get(url)).text == "hello"
    finally:
        await server.stop()
    async with httpx.AsyncClient() as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(url)


async def test_a_port_in_use_is_an_error_naming_it_not_an_exit() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = WebServer(Starlette(), "127.0.0.1", port)
        with pytest.raises(OSError, match=f"cannot listen on 127.0.0.1:{port}"):
            await server.start()
