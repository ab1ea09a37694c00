"""The fetch stage: watched publishers, a polite HTTP client, and the archive of what they published.

The only part of Scrutiny that touches the network. Public entry points:

- `fetch(url, settings, archive_dir=..., previous=...)`: one address into the archive.
- `fetch_sources(rows, settings)`: every watched source (listing, adapter, new documents).
- `load_watchlist(path)`: the watch list (`corpus/sources.yaml`).
- `ADAPTERS`: one parser per kind of source (`ciw_reports`, `moderngov`, `rss`).
"""

from __future__ import annotations

from pipeline.fetch.adapters import ADAPTERS, AdapterError, ciw_reports, moderngov, rss
from pipeline.fetch.archive import Archive
from pipeline.fetch.client import FetchError, PoliteClient, check_url
from pipeline.fetch.fetcher import fetch
from pipeline.fetch.records import DocumentLink, FetchResult, FetchStatus, PreviousFetch
from pipeline.fetch.settings import FetchSettings
from pipeline.fetch.watch import DocumentFetch, SourceHealth, SourceRun, WatchedSource, fetch_sources, load_watchlist

__all__ = [
    "ADAPTERS",
    "AdapterError",
    "Archive",
    "DocumentFetch",
    "DocumentLink",
    "FetchError",
    "FetchResult",
    "FetchSettings",
    "FetchStatus",
    "PoliteClient",
    "PreviousFetch",
    "SourceHealth",
    "SourceRun",
    "WatchedSource",
    "check_url",
    "ciw_reports",
    "fetch",
    "fetch_sources",
    "load_watchlist",
    "moderngov",
    "rss",
]
