"""A local HTTP server (127.0.0.1, an ephemeral port) that misbehaves on purpose: the fetch drill and the fetch
tests both use it.

A server is a table of routes, path -> `serve(handler, n)` where `n` counts the requests for that path so far.
The misbehaviours below are factories for such routes, each failing the way real publishers do: an error status
once or always (with Retry-After when asked), a connection reset mid-body, a body shorter than its
Content-Length, a stall longer than the client's read timeout, a body over the size cap (declared or streamed
without a length) and redirects. `robots.txt` is served from the server's `robots` attribute (404 when None).
Every request is counted in `hits` and logged with its headers in `requests`.
"""

from __future__ import annotations

import hashlib
import socket
import struct
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Route = Callable[["Handler", int], None]

PAGE = (
    b"<html><head><title>Care at home</title></head><body><main><h1>Care at home</h1>"
    b"<p>The council agreed a plan to recruit more carers for the valleys.</p></main></body></html>"
)
HTML = "text/html; charset=utf-8"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # one request per connection: each misbehaviour stays on its own socket
    server: MisbehavingServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def send_body(
        self,
        status: int,
        body: bytes,
        content_type: str | None,
        *,
        conditional: bool = False,
        headers: Mapping[str, str] | None = None,
        length: int | None = None,
    ) -> None:
        """Answer `status` with `body`; `conditional` adds an ETag and answers 304 to a matching If-None-Match;
        `length` declares a Content-Length other than the body's."""
        etag = f'"{hashlib.sha256(body).hexdigest()[:16]}"' if conditional else None
        if etag and self.headers.get("If-None-Match") == etag:
            status, body = 304, b""
        self.send_response(status)
        if content_type and status != 304:
            self.send_header("Content-Type", content_type)
        if etag:
            self.send_header("ETag", etag)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def do_GET(self) -> None:
        server = self.server
        with server.lock:
            server.hits[self.path] += 1
            n = server.hits[self.path]
            server.requests.append((self.path, dict(self.headers)))
        if self.path == "/robots.txt":
            if server.robots is None:
                return self.send_body(404, b"", "text/plain")
            return self.send_body(server.robots_status, server.robots.encode(), "text/plain")
        route = server.routes.get(self.path) or next(
            (f for prefix, f in server.prefixes.items() if self.path.startswith(prefix)), None
        )
        if route is None:
            return self.send_body(404, b"no route", "text/plain")
        route(self, n)


class MisbehavingServer(ThreadingHTTPServer):
    """`with MisbehavingServer(routes) as server:` serves on a thread until the block ends."""

    daemon_threads = True
    block_on_close = False  # do not wait for a stalled handler when the caller is done

    def __init__(
        self,
        routes: Mapping[str, Route] | None = None,
        prefixes: Mapping[str, Route] | None = None,
        *,
        robots: str | None = None,
    ) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.routes = dict(DRILL_ROUTES if routes is None else routes)
        self.prefixes = dict(prefixes or {})
        self.hits: Counter[str] = Counter()
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()  # set on exit: ends stalls early
        self.robots = robots
        self.robots_status = 200

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # resets and stalls end in broken pipes by design

    def __enter__(self) -> MisbehavingServer:
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.shutdown()
        self.server_close()


# ---------------------------------------------------------------- misbehaviours (route factories)


def ok(
    body: bytes, content_type: str = HTML, *, conditional: bool = False, headers: Mapping[str, str] | None = None
) -> Route:
    return lambda h, n: h.send_body(200, body, content_type, conditional=conditional, headers=headers)


def status(code: int, text: bytes = b"", headers: Mapping[str, str] | None = None) -> Route:
    """Always `code`."""
    return lambda h, n: h.send_body(code, text, "text/plain", headers=headers)


def first(route: Route, then: Route, times: int = 1) -> Route:
    """`route` for the first `times` requests, then `then`."""
    return lambda h, n: route(h, n) if n <= times else then(h, n)


def reset_mid_body(body: bytes, content_type: str = HTML) -> Route:
    """Part of the body, then a TCP reset."""

    def serve(h: Handler, n: int) -> None:
        h.send_response(200)
        h.send_header("Content-Type", content_type)
        h.send_header("Content-Length", str(len(body) * 10))
        h.end_headers()
        h.wfile.write(body[: max(1, len(body) // 4)])
        h.wfile.flush()
        # SO_LINGER with a zero timeout makes close() send a TCP RST instead of a FIN.
        h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        h.connection.close()
        h.close_connection = True

    return serve


def short_body(body: bytes, content_type: str = HTML, missing: int = 500) -> Route:
    """A Content-Length that promises `missing` bytes more than are sent."""

    def serve(h: Handler, n: int) -> None:
        h.send_body(200, body, content_type, length=len(body) + missing)
        h.close_connection = True

    return serve


def stall(body: bytes, seconds: float, content_type: str = HTML) -> Route:
    """The headers and a little of the body, then nothing for `seconds` (or until the server stops)."""

    def serve(h: Handler, n: int) -> None:
        h.send_response(200)
        h.send_header("Content-Type", content_type)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body[:20])
        h.wfile.flush()
        h.server.stop.wait(seconds)

    return serve


def too_large_declared(size: int) -> Route:
    return lambda h, n: h.send_body(200, b"x" * size, "application/octet-stream")


def too_large_streamed(size: int, content_type: str = "application/pdf") -> Route:
    """No Content-Length: the body ends when the connection closes, so only counting can catch it."""

    def serve(h: Handler, n: int) -> None:
        h.send_response(200)
        h.send_header("Content-Type", content_type)
        h.end_headers()
        chunk = b"y" * max(1, size // 4)
        try:
            for _ in range(8):
                h.wfile.write(chunk)
        except OSError:
            pass  # the client hung up, as it should
        h.close_connection = True

    return serve


def redirect(location: str) -> Route:
    return lambda h, n: h.send_body(302, b"", None, headers={"Location": location})


# ---------------------------------------------------------------- the drill's server

DRILL_CAP = 64 * 1024


def _page(h: Handler, n: int) -> None:
    h.send_body(200, PAGE + f"<!-- {h.path} -->".encode(), HTML)


DRILL_ROUTES: dict[str, Route] = {
    "/ok.html": _page,
    "/flaky.html": first(status(500, b"oops"), _page),
    "/busy.html": first(status(429, b"slow down", {"Retry-After": "1"}), _page),
    "/down.html": status(503, b"down"),
    "/reset-once.html": first(reset_mid_body(PAGE), _page),
    "/reset.html": reset_mid_body(PAGE),
    "/short.html": short_body(PAGE),
    "/stall.html": stall(PAGE, 3.0),
    "/huge.html": too_large_declared(DRILL_CAP + 1),
}

# path -> what must happen: "archived" (after retries if any) or "failed"
EXPECTED = {
    "/ok.html": "archived",
    "/flaky.html": "archived",
    "/busy.html": "archived",
    "/reset-once.html": "archived",
    "/down.html": "failed",
    "/missing.html": "failed",
    "/reset.html": "failed",
    "/short.html": "failed",
    "/stall.html": "failed",
    "/huge.html": "failed",
}
