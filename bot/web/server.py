"""Serving the web app inside prikbord's own event loop (``prikbord run``): uvicorn as a task.

uvicorn's ``serve()`` would take over SIGINT/SIGTERM; prikbord's run loop owns those and stops the
server itself, so signal capture is switched off here.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Generator

import uvicorn
from starlette.types import ASGIApp


class _Embedded(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class WebServer:
    def __init__(self, asgi: ASGIApp, host: str, port: int) -> None:
        config = uvicorn.Config(
            asgi,
            host=host,
            port=port,
            lifespan="off",  # the App is started and stopped by prikbord, not by the server
            log_level="warning",
            access_log=False,
            server_header=False,
        )
        self._server = _Embedded(config)
        self._task: asyncio.Task[None] | None = None
        self._socket: socket.socket | None = None
        self._host, self._port = host, port

    async def start(self) -> None:
        """Return once listening. Raises OSError naming the address when it cannot bind."""
        # Bound here, not by uvicorn: uvicorn calls sys.exit() when it cannot bind, which would end
        # the whole process from inside a task instead of letting prikbord report it.
        family = socket.AF_INET6 if ":" in self._host else socket.AF_INET
        try:
            self._socket = socket.create_server((self._host, self._port), family=family, backlog=2048)
            # asyncio turns Nagle off only for sockets whose proto is IPPROTO_TCP; create_server's
            # has proto 0, so without this every answer waits ~40 ms for the client's delayed ACK.
            # Accepted connections inherit the option from the listening socket.
            self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError as exc:
            raise OSError(
                f"the web app cannot listen on {self._host}:{self._port}: {exc.strerror or exc} "
                "(is the port in use? see [web] host and port)"
            ) from exc
        self._task = asyncio.create_task(self._server.serve(sockets=[self._socket]), name="web")
        while not self._server.started:
            if self._task.done():
                self._task.result()
                raise OSError(f"the web app stopped while starting on {self._host}:{self._port}")
            await asyncio.sleep(0.01)

    @property
    def port(self) -> int:
        """The bound port (useful with port 0)."""
        if self._socket is None:
            raise RuntimeError("the web server is not listening")
        return int(self._socket.getsockname()[1])

    async def stop(self) -> None:
        if self._task is None:
            return
        self._server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        if self._socket is not None:
            self._socket.close()
            self._socket = None
