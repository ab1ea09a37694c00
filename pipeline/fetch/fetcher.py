"""`fetch`: one address into the archive, conditionally, with a record of what happened."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipeline.fetch.archive import Archive, extension_for
from pipeline.fetch.client import Download, FetchError, PoliteClient
from pipeline.fetch.records import FetchResult, FetchStatus, PreviousFetch
from pipeline.fetch.settings import FetchSettings


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def fetch(
    url: str,
    settings: Any,
    *,
    archive_dir: Path | None = None,
    previous: PreviousFetch | None = None,
    client: PoliteClient | None = None,
    log_extra: Mapping[str, Any] | None = None,
) -> FetchResult:
    """Fetch one address into the archive and log it; never raises for a bad address or a bad server.

    `settings` is a pipeline `Settings` or a `FetchSettings`; `archive_dir`
    defaults to `data_dir / "archive"`. With `previous`, the request is
    conditional (If-None-Match, If-Modified-Since). Pass a `client` to share
    robots.txt, rate limits and connections across many fetches (one run).
    `log_extra` is added to the archive log line (the watched source, what the
    listing said about the document: the page may be gone tomorrow).
    """
    fetch_settings = FetchSettings.from_settings(settings)
    archive = Archive(Path(archive_dir) if archive_dir is not None else fetch_settings.archive_dir)
    own_client = client is None
    http = client if client is not None else PoliteClient(fetch_settings)
    try:
        result = _fetch(http, archive, url, previous)
    finally:
        if own_client:
            http.close()
    archive.record(result, **{**(log_extra or {}), "software_version": fetch_settings.software_version})
    return result


def _conditional_headers(previous: PreviousFetch | None) -> dict[str, str]:
    headers: dict[str, str] = {}
    # Only ask "has it changed?" when we still hold the bytes a 304 would point to.
    if previous is None or not previous.sha256:
        return headers
    if previous.etag:
        headers["If-None-Match"] = previous.etag
    if previous.last_modified:
        headers["If-Modified-Since"] = previous.last_modified
    return headers


def _fetch(http: PoliteClient, archive: Archive, url: str, previous: PreviousFetch | None) -> FetchResult:
    fetched_at = utc_now()
    try:
        got = http.download(url, headers=_conditional_headers(previous), sink=archive.temp_file)
    except FetchError as exc:
        return FetchResult(url, url, "failed", fetched_at, error=str(exc), attempts=exc.attempts)
    common: dict[str, Any] = {
        "url": url,
        "final_url": got.url,
        "fetched_at": fetched_at,
        "content_type": got.content_type,
        "http_status": got.status_code,
        "attempts": got.attempts,
    }
    if got.status_code == 304:
        if previous is None or not previous.sha256:
            return FetchResult(status="failed", error="304 Not Modified without a version to fall back on", **common)
        return FetchResult(
            status="not_modified",
            sha256=previous.sha256,
            path=previous.path if previous.path and previous.path.exists() else archive.find(previous.sha256),
            etag=got.headers.get("etag") or previous.etag,
            last_modified=got.headers.get("last-modified") or previous.last_modified,
            size=None,
            **common,
        )
    if not 200 <= got.status_code < 300:
        return FetchResult(status="failed", error=_http_reason(got), **common)
    assert got.temp is not None and got.sha256 is not None  # a 2xx body was streamed to the archive
    path, existed = archive.store(got.temp, got.sha256, extension_for(got.content_type, got.url, got.head))
    status: FetchStatus
    if previous is not None and previous.sha256:
        status = "unchanged" if previous.sha256 == got.sha256 else "new"
    else:
        status = "unchanged" if existed else "new"
    return FetchResult(
        status=status,
        sha256=got.sha256,
        path=path,
        etag=got.headers.get("etag"),
        last_modified=got.headers.get("last-modified"),
        size=got.size,
        **common,
    )


def _http_reason(got: Download) -> str:
    reason = f"HTTP {got.status_code} {got.reason_phrase}".strip()
    if got.status_code == 429 or got.status_code >= 500:
        reason += f" (gave up after {got.attempts} attempts)"
    return reason
