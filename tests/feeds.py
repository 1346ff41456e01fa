"""Feeds served on loopback (a real HTTP server in a thread), for the import tests."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TYPES = {b"<rss": "application/rss+xml", b"<feed": "application/atom+xml"}


def _content_type(body: bytes) -> str:
    return next((kind for marker, kind in TYPES.items() if marker in body[:400]), "application/xml")


@contextlib.contextmanager
def serve_feeds(documents: Mapping[str, bytes]) -> Iterator[tuple[str, dict[str, tuple[bytes, str]]]]:
    """Yields the base URL and the served documents (path → (body, content type)), which a test
    may change while the server runs."""
    served = {path: (body, _content_type(body)) for path, body in documents.items()}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            found = served.get(self.path)
            if found is None:
                self.send_error(404)
                return
            body, kind = found
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", served
    finally:
        server.shutdown()
        server.server_close()
