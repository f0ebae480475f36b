"""A local HTTP server (a thread, a free loopback port) that answers chosen read-API paths with
canned replies and passes every other GET through to a real collector.

For what a real collector never answers: a reply that breaks the read-API contract, or the 404
of a collector that predates an endpoint. Everything else the dashboard reads comes from the
real collector behind it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import httpx


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    content_type: str = "application/json"


@contextmanager
def canned_collector(
    replies: dict[str, Reply], upstream: str | None = None, seen: list[str] | None = None
) -> Iterator[str]:
    """Serve ``replies`` by path (query string ignored); other paths from ``upstream`` (404
    without one). Every request's path and query string is appended to ``seen`` when given.
    Yields the base URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if seen is not None:
                seen.append(self.path)
            reply = replies.get(urlsplit(self.path).path)
            if reply is None and upstream is not None:
                passed = httpx.get(f"{upstream}{self.path}", timeout=30)
                reply = Reply(passed.status_code, passed.content, passed.headers["content-type"])
            reply = reply or Reply(404, b'{"detail":"Not Found"}')
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # no request lines in the test output

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
