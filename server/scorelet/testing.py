"""Scorelet live inside one process, for tests and tools: the app on uvicorn in a thread, and
a static site on another origin for the pages a widget sits on.

Scorelet's own test suite, its benchmarks and the screenshot script use these; an
embedder's tests may too. Neither is for production: one thread, loopback only.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import uvicorn
from starlette.types import ASGIApp

# A page's HTML for a path and its query, or None for a 404.
Render = Callable[[str, dict[str, str]], bytes | None]


def free_socket() -> socket.socket:
    """A socket bound to a free loopback port, for the server to take over (no race)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextlib.contextmanager
def serve_in_thread(app: ASGIApp, sock: socket.socket, timeout: float = 10) -> Iterator[str]:
    """Serve `app` (lifespan included) on `sock` until the block ends; yields its URL."""
    # An event stream a client left open would hold the shutdown for its heartbeat: a
    # second is ample for any other request to finish.
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan="on", timeout_graceful_shutdown=1
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


@contextlib.contextmanager
def static_site(render: Render) -> Iterator[str]:
    """A static site on its own origin (the pages a widget is embedded in); yields its URL."""

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            body = render(url.path, dict(parse_qsl(url.query)))
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
