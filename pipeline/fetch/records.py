"""Frozen records of the fetch stage: one fetch, the validators of the last one, a found link."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

FetchStatus = Literal["new", "unchanged", "not_modified", "failed"]


@dataclass(frozen=True)
class PreviousFetch:
    """What the last successful fetch of an address left behind, for a conditional request."""

    sha256: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    path: Path | None = None  # the archived bytes of that version


@dataclass(frozen=True)
class FetchResult:
    """One fetch of one address.

    `status` is "new" (bytes not seen at this address before), "unchanged" (the
    same bytes again), "not_modified" (the server answered 304; `sha256` and
    `path` are those of the version we already hold) or "failed" (`error` says
    why). `path` points into the archive.
    """

    url: str
    final_url: str
    status: FetchStatus
    fetched_at: str  # ISO 8601, UTC
    sha256: str | None = None
    path: Path | None = None
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    size: int | None = None
    error: str | None = None
    http_status: int | None = None
    attempts: int = 0

    @property
    def ok(self) -> bool:
        return self.status != "failed"

    def as_previous(self) -> PreviousFetch | None:
        """Validators for the next conditional request, or None after a failure."""
        if not self.ok:
            return None
        return PreviousFetch(self.sha256, self.etag, self.last_modified, self.path)


@dataclass(frozen=True)
class DocumentLink:
    """A link found on a listing page, with whatever the page says about the document.

    `listing` marks a follow-on page (a ModernGov meeting page, the next page of
    results) to be read by the same adapter rather than archived as a document.
    """

    url: str
    title: str | None = None
    published: str | None = None  # ISO date, possibly partial
    doc_type: str | None = None
    local_authority: str | None = None
    service: str | None = None
    language: str | None = None
    listing: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def meta(self) -> dict[str, Any]:
        """The known values as pipeline metadata (the keys of `records.Metadata`)."""
        keys = ("title", "published", "doc_type", "local_authority", "service", "language")
        out = {k: getattr(self, k) for k in keys if getattr(self, k)}
        out["url"] = self.url
        return out
