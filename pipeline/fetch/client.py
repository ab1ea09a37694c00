"""The polite HTTP client: the only code in Scrutiny that opens a network connection.

One `httpx.Client` per run. Every request is checked (http or https only,
robots.txt), spaced out per host, retried with backoff when the failure is
transient (429, 5xx, dropped or refused connections, truncated bodies, stalls)
and never when it is not (other 4xx, oversized bodies), and streamed under a
size cap so one huge file cannot fill the disk or the memory.
"""

from __future__ import annotations

import email.utils
import hashlib
import io
import random
import re
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urljoin, urlsplit

import httpx

from pipeline.errors import PipelineError
from pipeline.fetch.robots import RobotsRules, parse_robots
from pipeline.fetch.settings import FetchSettings

ALLOWED_SCHEMES = ("http", "https")
PRODUCT = "Scrutiny"  # the token robots.txt groups are matched against
REDIRECTS = (301, 302, 303, 307, 308)
# 501 (not implemented) and 505 (version not supported) will not change on a second try.
PERMANENT_5XX = (501, 505)
_HEAD_BYTES = 512
_HOST = re.compile(r"[\w.-]+|[0-9a-f:.]+")  # a name (IDN allowed) or an IP address; no spaces or controls

SinkFactory = Callable[[], tuple[BinaryIO, "Path | None"]]


class FetchError(PipelineError):
    """A fetch that did not produce a usable response; `str(error)` is the reason."""

    stage = "fetch"

    def __init__(self, reason: str, *, attempts: int = 0, url: str | None = None) -> None:
        super().__init__(reason)
        self.attempts = attempts
        self.url = url


class _Retryable(Exception):
    """Internal: a transient failure of one attempt; `str()` is the reason."""


@dataclass(frozen=True)
class Download:
    """A complete response: status, headers and (for 2xx) the body on disk or in memory."""

    url: str  # the address that answered, after redirects
    status_code: int
    reason_phrase: str
    headers: httpx.Headers
    sha256: str | None = None
    size: int = 0
    head: bytes = b""  # the first bytes, to recognise a format
    temp: Path | None = None
    content: bytes | None = None
    attempts: int = 1

    @property
    def content_type(self) -> str | None:
        value = self.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        return value or None


def check_url(url: str) -> str:
    """The address if it is an absolute http(s) URL; otherwise a FetchError (and no request is made)."""
    try:
        parts = urlsplit(url.strip())
    except ValueError as exc:
        raise FetchError(f"not a valid address: {exc}", url=url) from exc
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        shown = f"'{scheme}'" if scheme else "none"
        raise FetchError(f"unsupported address scheme {shown}: only http and https are fetched", url=url)
    if not parts.hostname:
        raise FetchError(f"not a valid address (no host): {url}", url=url)
    if not _HOST.fullmatch(parts.hostname):
        raise FetchError(f"not a valid address (bad host {parts.hostname!r}): {url}", url=url)
    try:
        httpx.URL(url.strip())
    except httpx.InvalidURL as exc:
        raise FetchError(f"not a valid address: {exc}", url=url) from exc
    return url.strip()


@lru_cache(maxsize=1)
def _tls_context() -> ssl.SSLContext:
    """One verified TLS context per process: building it reads the CA bundle, which is slow."""
    return httpx.create_ssl_context()


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds asked for by a Retry-After header (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _describe(exc: httpx.HTTPError, settings: FetchSettings) -> tuple[str, bool]:
    """A reason a person understands, and whether trying again could help."""
    text = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.ConnectTimeout):
        return f"connect timed out after {settings.connect_timeout_s:g}s", True
    if isinstance(exc, httpx.ConnectError):
        return ("connection refused" if "refused" in text.lower() else f"cannot connect: {text}"), True
    if isinstance(exc, httpx.ReadTimeout):
        return f"read timed out: the server sent nothing for {settings.read_timeout_s:g}s", True
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out: {text}", True
    if isinstance(exc, httpx.RemoteProtocolError):
        # h11 raises this when the body is shorter than Content-Length or the peer hangs up early.
        return f"incomplete response: {text}", True
    if isinstance(exc, (httpx.ReadError, httpx.WriteError, httpx.CloseError)):
        return f"connection dropped mid-response: {text}", True
    if isinstance(exc, httpx.ProxyError):
        return f"proxy error: {text}", True
    if isinstance(exc, httpx.DecodingError):
        return f"cannot decode the response body: {text}", False
    return f"{type(exc).__name__}: {text}", False


class PoliteClient:
    """An HTTP client that asks robots.txt, keeps its distance and gives up gracefully.

    Not thread-safe: a run fetches one address at a time, which is also the
    polite thing to do. `sleep` and `clock` can be replaced (tests).
    """

    def __init__(
        self,
        settings: FetchSettings,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()
        self._robots: dict[str, RobotsRules] = {}
        self._last_request: dict[str, float] = {}
        self._crawl_delay: dict[str, float] = {}
        timeout = httpx.Timeout(
            connect=settings.connect_timeout_s,
            read=settings.read_timeout_s,
            write=settings.read_timeout_s,
            pool=settings.connect_timeout_s,
        )
        # Redirects are followed by hand so every hop is checked for scheme, robots.txt and rate.
        self._http = httpx.Client(
            timeout=timeout,
            follow_redirects=False,
            transport=transport,
            verify=_tls_context(),
            trust_env=settings.trust_env,
            headers={"User-Agent": settings.user_agent},
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> PoliteClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- public ---------------------------------------------------------------------------------

    def download(
        self,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        sink: SinkFactory | None = None,
        max_bytes: int | None = None,
        truncate: bool = False,
    ) -> Download:
        """GET an address (following redirects), streaming a 2xx body into `sink` or into memory.

        Raises FetchError when no complete response could be had; a non-2xx
        final status (404, or 503 after the last retry) is returned, not raised.
        """
        current = check_url(url)
        attempts = 0
        for _ in range(self.settings.max_redirects + 1):
            current = check_url(current)
            refusal = self.refusal(current)
            if refusal is not None:
                raise FetchError(refusal, attempts=attempts, url=url)
            result = self._with_retries(
                current, headers or {}, sink, max_bytes or self.settings.max_bytes, truncate, attempts
            )
            attempts = result.attempts
            location = result.headers.get("location")
            if result.status_code in REDIRECTS and location:
                current = urljoin(current, location)
                continue
            return result
        raise FetchError(f"too many redirects (more than {self.settings.max_redirects})", attempts=attempts, url=url)

    def refusal(self, url: str) -> str | None:
        """Why robots.txt keeps us from this address, or None when we may fetch it.

        robots.txt is read once per origin and run; asking for it is always allowed.
        """
        parts = urlsplit(url)
        if parts.path == "/robots.txt":
            return None  # (and must not recurse)
        origin = f"{parts.scheme.lower()}://{parts.netloc.lower()}"
        if origin not in self._robots:
            self._robots[origin] = self._load_robots(origin)
        rules = self._robots[origin]
        if rules.allows(url):
            return None
        # A host whose robots.txt could not be read is refused as a whole; say why, not just "disallowed".
        return rules.note if rules.disallow_all else f"disallowed by robots.txt: {url}"

    # -- robots.txt -----------------------------------------------------------------------------

    def _load_robots(self, origin: str) -> RobotsRules:
        try:
            got = self.download(origin + "/robots.txt", max_bytes=self.settings.robots_max_bytes, truncate=True)
        except FetchError as exc:
            # RFC 9309: an unreachable robots.txt means the site may be closed to us; stay out this run.
            return RobotsRules.deny_everything(
                f"cannot read {origin}/robots.txt: {exc}; not fetching from this host this run"
            )
        if 200 <= got.status_code < 300:
            text = (got.content or b"").decode("utf-8", errors="replace")
            rules = parse_robots(text, PRODUCT)
        elif 400 <= got.status_code < 500:
            return RobotsRules.allow_everything(f"robots.txt answered {got.status_code}: allow all")
        else:
            return RobotsRules.deny_everything(
                f"{origin}/robots.txt answered {got.status_code}: not fetching from this host this run"
            )
        if rules.crawl_delay:
            host = urlsplit(origin).hostname or origin
            self._crawl_delay[host] = min(rules.crawl_delay, self.settings.max_crawl_delay_s)
        return rules

    # -- spacing and retrying -------------------------------------------------------------------

    def _wait_turn(self, url: str) -> None:
        host = urlsplit(url).hostname or ""
        interval = max(self.settings.min_interval_s, self._crawl_delay.get(host, 0.0))
        last = self._last_request.get(host)
        if last is not None:
            wait = last + interval - self._clock()
            if wait > 0:
                self._sleep(wait)
        self._last_request[host] = self._clock()

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter, so many clients do not retry in step."""
        ceiling = min(self.settings.backoff_max_s, self.settings.backoff_base_s * 2 ** (attempt - 1))
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)

    def _with_retries(
        self,
        url: str,
        headers: dict[str, str],
        sink: SinkFactory | None,
        max_bytes: int,
        truncate: bool,
        attempts_before: int,
    ) -> Download:
        attempt = 0
        while True:
            attempt += 1
            self._wait_turn(url)
            try:
                result = self._once(url, headers, sink, max_bytes, truncate)
            except _Retryable as failure:
                if attempt > self.settings.max_retries:
                    raise FetchError(
                        f"{failure} (gave up after {attempt} attempts)", attempts=attempts_before + attempt, url=url
                    ) from None
                delay = self._backoff(attempt)
            except FetchError as exc:
                exc.attempts = attempts_before + attempt
                raise
            else:
                code = result.status_code
                transient = code == 429 or (code >= 500 and code not in PERMANENT_5XX)
                if not transient or attempt > self.settings.max_retries:
                    return replace(result, attempts=attempts_before + attempt)
                asked = retry_after_seconds(result.headers.get("retry-after"))
                delay = min(asked, self.settings.retry_after_max_s) if asked is not None else self._backoff(attempt)
            self._sleep(delay)

    # -- one request ----------------------------------------------------------------------------

    def _once(
        self, url: str, headers: dict[str, str], sink: SinkFactory | None, max_bytes: int, truncate: bool
    ) -> Download:
        try:
            with self._http.stream("GET", url, headers=headers) as response:
                if not 200 <= response.status_code < 300:
                    # Error and redirect bodies are not wanted; closing the stream discards them.
                    return Download(str(response.url), response.status_code, response.reason_phrase, response.headers)
                return self._read_body(response, sink, max_bytes, truncate)
        except httpx.HTTPError as exc:
            reason, transient = _describe(exc, self.settings)
            if transient:
                raise _Retryable(reason) from exc
            raise FetchError(reason, url=url) from exc

    def _read_body(
        self, response: httpx.Response, sink: SinkFactory | None, max_bytes: int, truncate: bool
    ) -> Download:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_bytes and not truncate:
            raise FetchError(f"too large: the server announced {int(declared)} bytes, the cap is {max_bytes}")
        out, temp = sink() if sink else (io.BytesIO(), None)
        digest, size, head = hashlib.sha256(), 0, b""
        deadline = self._clock() + self.settings.total_timeout_s
        try:
            with out:
                # iter_bytes decodes gzip/deflate, so the cap also bounds a compressed bomb.
                for chunk in response.iter_bytes():
                    if size + len(chunk) > max_bytes:
                        if not truncate:
                            raise FetchError(f"too large: more than {max_bytes} bytes")
                        chunk = chunk[: max_bytes - size]
                    size += len(chunk)
                    digest.update(chunk)
                    out.write(chunk)
                    if len(head) < _HEAD_BYTES:
                        head += chunk[: _HEAD_BYTES - len(head)]
                    if size >= max_bytes and truncate:
                        break
                    if self._clock() > deadline:
                        raise FetchError(f"too slow: body not complete after {self.settings.total_timeout_s:g}s")
                content = out.getvalue() if isinstance(out, io.BytesIO) else None
        except BaseException:
            if temp is not None:
                temp.unlink(missing_ok=True)
            raise
        return Download(
            str(response.url),
            response.status_code,
            response.reason_phrase,
            response.headers,
            digest.hexdigest(),
            size,
            head,
            temp,
            content,
        )
