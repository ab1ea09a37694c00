"""Watched sources: read the watch list, fetch each listing, run its adapter, archive new documents.

`fetch_sources` returns plain records (what was fetched, and each source's
health); writing them to the database is the store's job.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pipeline.errors import PipelineError, SourceError
from pipeline.fetch.adapters import ADAPTERS, unique_links
from pipeline.fetch.archive import Archive
from pipeline.fetch.client import FetchError, PoliteClient, check_url
from pipeline.fetch.fetcher import fetch
from pipeline.fetch.records import DocumentLink, FetchResult, PreviousFetch
from pipeline.fetch.settings import FetchSettings
from pipeline.records import Source

META_KEYS = ("title", "publisher", "doc_type", "local_authority", "service", "published", "language")


@dataclass(frozen=True)
class WatchedSource:
    """One publisher page to watch: a listing read by the adapter named by `kind`.

    `metadata` holds values known for everything the source lists (publisher,
    local_authority, doc_type); a value found on the page wins over it.
    `keywords`, when given, keep only links whose title or summary mentions one
    (a national news feed carries far more than social care).
    """

    name: str
    kind: str
    url: str
    expected_interval_days: float = 7.0
    metadata: dict[str, Any] = field(default_factory=dict)
    keywords: tuple[str, ...] = ()
    follow_listings: int | None = None  # overrides FetchSettings.max_listings_per_source

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> WatchedSource:
        """Validate one watch-list row; a SourceError names what is wrong."""
        name = str(row.get("name") or row.get("url") or "").strip()
        kind = str(row.get("kind") or "").strip()
        url = str(row.get("url") or "").strip()
        if not url:
            raise SourceError(f"watched source {name or '?'}: needs a 'url'")
        if kind not in ADAPTERS:
            raise SourceError(f"watched source {name}: kind {kind!r} is not one of {', '.join(sorted(ADAPTERS))}")
        try:
            check_url(url)
        except FetchError as exc:
            raise SourceError(f"watched source {name}: {exc}") from exc
        metadata = row.get("metadata") or {}
        if not isinstance(metadata, Mapping):
            raise SourceError(f"watched source {name}: 'metadata' must be a mapping")
        try:
            interval = float(row.get("expected_interval_days", 7))
        except (TypeError, ValueError) as exc:
            raise SourceError(f"watched source {name}: expected_interval_days must be a number") from exc
        follow = row.get("follow_listings")
        keywords = row.get("keywords") or ()
        keywords = (keywords,) if isinstance(keywords, str) else keywords
        return cls(
            name,
            kind,
            url,
            interval,
            {k: v for k, v in metadata.items() if v not in (None, "")},
            tuple(str(k).lower() for k in keywords),
            int(follow) if follow is not None else None,
        )


def load_watchlist(path: Path) -> list[WatchedSource]:
    """Read a watch list (YAML: `watch:` followed by rows); names must be unique."""
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise SourceError(f"cannot read the watch list {path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise SourceError(f"the watch list {path} is not valid YAML: {exc}") from exc
    rows = data.get("watch") if isinstance(data, dict) else None
    if not isinstance(rows, list):
        raise SourceError(f"the watch list {path} must have a 'watch:' list of sources")
    sources = [WatchedSource.from_row(row) for row in rows if isinstance(row, Mapping)]
    names = [s.name for s in sources]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise SourceError(f"the watch list {path} names more than one source {', '.join(duplicates)}")
    return sources


@dataclass(frozen=True)
class SourceHealth:
    """How a watched source is doing: one row per source in the `source_health` table."""

    name: str
    kind: str
    url: str
    checked_at: str
    ok: bool  # the listing was fetched and the adapter found links on it
    last_success_at: str | None
    last_new_at: str | None  # when a new document last appeared
    consecutive_failures: int
    links_found: int
    new_documents: int
    failed_documents: int
    deferred_documents: int  # new links left for the next run by the per-run cap
    stale: bool  # nothing new for longer than the source's expected interval
    error: str | None = None


@dataclass(frozen=True)
class DocumentFetch:
    """A document link and the fetch of it."""

    link: DocumentLink
    result: FetchResult
    meta: dict[str, Any] = field(default_factory=dict)  # source metadata overlaid with what the page said

    def source(self) -> Source | None:
        """The archived document as an input to extraction (None if the fetch failed)."""
        if self.result.path is None:
            return None
        return Source(str(self.result.path), dict(self.meta), url=self.link.url)


@dataclass(frozen=True)
class SourceRun:
    """Everything one watched source gave in one run."""

    source: WatchedSource
    listings: tuple[FetchResult, ...]  # the watched page first, then follow-on pages
    documents: tuple[DocumentFetch, ...]
    health: SourceHealth

    @property
    def results(self) -> list[FetchResult]:
        return [*self.listings, *(d.result for d in self.documents)]

    @property
    def new_sources(self) -> list[Source]:
        """New documents, ready for the extract stage."""
        return [s for d in self.documents if d.result.status == "new" and (s := d.source()) is not None]


def fetch_sources(
    rows: Iterable[WatchedSource | Mapping[str, Any]],
    settings: Any,
    *,
    archive_dir: Path | None = None,
    previous: Mapping[str, PreviousFetch] | None = None,
    health: Mapping[str, SourceHealth] | None = None,
    client: PoliteClient | None = None,
    now: datetime | None = None,
) -> list[SourceRun]:
    """Fetch every watched source: listing, adapter, then each document link not yet archived.

    `previous` (validators per address) defaults to what the archive log
    remembers; `health` is last run's health per source name, from the store.
    A source that fails is reported in its health and the run goes on; a
    malformed row is a SourceError before anything is fetched.
    """
    sources = [row if isinstance(row, WatchedSource) else WatchedSource.from_row(row) for row in rows]
    fetch_settings = FetchSettings.from_settings(settings)
    archive_root = Path(archive_dir) if archive_dir is not None else fetch_settings.archive_dir
    known = dict(previous) if previous is not None else Archive(archive_root).last_fetches()
    when = now or datetime.now(UTC)
    own_client = client is None
    http = client if client is not None else PoliteClient(fetch_settings)
    try:
        return [
            _watch_one(
                source,
                _Fetcher(source, http, fetch_settings, archive_root, known),
                (health or {}).get(source.name),
                when,
            )
            for source in sources
        ]
    finally:
        if own_client:
            http.close()


@dataclass
class _Fetcher:
    """Fetches for one source: shares the run's client, and remembers validators as it goes."""

    source: WatchedSource
    http: PoliteClient
    settings: FetchSettings
    archive_root: Path
    known: dict[str, PreviousFetch]

    def __call__(self, url: str, *, conditional: bool = True, **log: Any) -> FetchResult:
        result = fetch(
            url,
            self.settings,
            archive_dir=self.archive_root,
            previous=self.known.get(url) if conditional else None,
            client=self.http,
            log_extra={"source": self.source.name, "role": "listing", **log},
        )
        validators = result.as_previous()
        if validators is not None:
            self.known[url] = validators
        return result

    def listing(self, url: str) -> tuple[FetchResult, bytes | None]:
        """A listing page and its bytes (from the archive when the server says 304)."""
        result = self(url)
        if result.ok and (result.path is None or not Path(result.path).is_file()):
            result = self(url, conditional=False)  # a 304 whose bytes have left the archive
        if not result.ok or result.path is None:
            return result, None
        return result, Path(result.path).read_bytes()


def _collect_links(
    source: WatchedSource, fetcher: _Fetcher
) -> tuple[list[FetchResult], list[DocumentLink], str | None]:
    """Read the watched page and its follow-on pages: (listings, document links, error)."""
    adapter = ADAPTERS[source.kind]
    listing, data = fetcher.listing(source.url)
    if data is None:
        return [listing], [], listing.error or "listing could not be read"
    try:
        links = adapter(data, listing.final_url)
    except PipelineError as exc:
        return [listing], [], str(exc)
    if not links:
        return [listing], [], "no links found on the listing page (has its layout changed?)"
    listings, found = [listing], [link for link in links if not link.listing]
    queue = [link for link in links if link.listing]
    budget = source.follow_listings if source.follow_listings is not None else fetcher.settings.max_listings_per_source
    seen = {source.url, listing.final_url}
    while queue and budget > 0:
        follow = queue.pop(0)
        if follow.url in seen:
            continue
        seen.add(follow.url)
        budget -= 1
        page, page_data = fetcher.listing(follow.url)
        listings.append(page)
        try:
            more = adapter(page_data, page.final_url) if page_data is not None else []
        except PipelineError:
            more = []  # one unreadable meeting page is not the source failing
        queue.extend(link for link in more if link.listing)
        found.extend(link for link in more if not link.listing)
    return listings, found, None


def _watch_one(source: WatchedSource, fetcher: _Fetcher, before: SourceHealth | None, now: datetime) -> SourceRun:
    listings, found, error = _collect_links(source, fetcher)
    wanted = unique_links(link for link in found if _wanted(link, source))
    # Documents already archived are not asked for again: reports do not change once published.
    todo = [link for link in wanted if link.url not in fetcher.known]
    cap = fetcher.settings.max_documents_per_source
    documents = []
    for link in todo[:cap]:
        meta = {**{k: v for k, v in source.metadata.items() if k in META_KEYS}, **link.meta()}
        documents.append(DocumentFetch(link, fetcher(link.url, conditional=False, role="document", meta=meta), meta))

    ok = error is None
    new = sum(d.result.status == "new" for d in documents)
    stamp = now.isoformat(timespec="seconds")
    last_new = stamp if new else (before.last_new_at if before else None)
    since_new = _parse(last_new)
    health = SourceHealth(
        name=source.name,
        kind=source.kind,
        url=source.url,
        checked_at=stamp,
        ok=ok,
        last_success_at=stamp if ok else (before.last_success_at if before else None),
        last_new_at=last_new,
        consecutive_failures=0 if ok else (before.consecutive_failures if before else 0) + 1,
        links_found=len(wanted),
        new_documents=new,
        failed_documents=sum(not d.result.ok for d in documents),
        deferred_documents=len(todo[cap:]),
        stale=not new and since_new is not None and now - since_new > timedelta(days=source.expected_interval_days),
        error=error,
    )
    return SourceRun(source, tuple(listings), tuple(documents), health)


def _wanted(link: DocumentLink, source: WatchedSource) -> bool:
    if not source.keywords:
        return True
    text = f"{link.title or ''} {link.extra.get('summary', '')}".lower()
    return any(k in text for k in source.keywords)


def _parse(stamp: str | None) -> datetime | None:
    if not stamp:
        return None
    try:
        parsed = datetime.fromisoformat(stamp)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
