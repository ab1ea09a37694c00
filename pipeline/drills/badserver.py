"""A local HTTP server (127.0.0.1, an ephemeral port) that misbehaves on purpose, for the fetch drill.

The fetch tests have a fuller one (tests/test_fetch.py); this one lives in the
package so `make drills` does not import the test suite. Each route fails the
way real publishers do: 500 once, 429 with Retry-After, 503 always, 404, a
connection reset mid-body, a body shorter than its Content-Length, a stall
longer than the read timeout, and a body over the size cap.
"""

from __future__ import annotations

import socket
import struct
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PAGE = (b"<html><head><title>Care at home</title></head><body><main><h1>Care at home</h1>"
        b"<p>The council agreed a plan to recruit more carers for the valleys.</p></main></body></html>")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    server: "MisbehavingServer"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None, length: int | None = None):
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def _reset(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(PAGE) * 10))
        self.end_headers()
        self.wfile.write(PAGE[:40])
        self.wfile.flush()
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True

    def do_GET(self) -> None:  # noqa: C901 - one branch per misbehaviour reads best
        with self.server.lock:
            self.server.hits[self.path] += 1
            n = self.server.hits[self.path]
        page = PAGE + f"<!-- {self.path} -->".encode()
        if self.path == "/robots.txt":
            return self._send(404, b"")
        if self.path == "/ok.html":
            return self._send(200, page)
        if self.path == "/flaky.html":
            return self._send(500, b"oops") if n == 1 else self._send(200, page)
        if self.path == "/busy.html":
            return self._send(429, b"slow down", {"Retry-After": "1"}) if n == 1 else self._send(200, page)
        if self.path == "/down.html":
            return self._send(503, b"down")
        if self.path == "/reset-once.html":
            return self._reset() if n == 1 else self._send(200, page)
        if self.path == "/reset.html":
            return self._reset()
        if self.path == "/short.html":
            return self._send(200, page, length=len(page) + 500)
        if self.path == "/stall.html":
            self.send_response(200)
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page[:20])
            self.wfile.flush()
            self.server.stop.wait(3.0)
            return None
        if self.path == "/huge.html":
            return self._send(200, b"x" * (self.server.cap + 1))
        return self._send(404, b"no such page")


class MisbehavingServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, cap: int = 64 * 1024) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.hits: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.cap = cap

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"

    def handle_error(self, request: object, client_address: object) -> None:
        pass

    def __enter__(self) -> "MisbehavingServer":
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.shutdown()
        self.server_close()


# path -> what must happen: "archived" (after retries if any) or "failed"
EXPECTED = {"/ok.html": "archived", "/flaky.html": "archived", "/busy.html": "archived",
            "/reset-once.html": "archived", "/down.html": "failed", "/missing.html": "failed",
            "/reset.html": "failed", "/short.html": "failed", "/stall.html": "failed", "/huge.html": "failed"}
