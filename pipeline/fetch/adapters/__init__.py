"""Adapters: one per kind of source, each turning a listing page into document links.

An adapter is a pure function `(data: bytes, url: str) -> list[DocumentLink]`:
the bytes of a fetched listing page and the address it came from in, links
with whatever metadata the page gives out. No network here; `watch.py`
decides what to fetch. Links marked `listing=True` are follow-on pages (a
ModernGov meeting, the next page of results) to be read by the same adapter.
"""

from __future__ import annotations

from pipeline.fetch.adapters.ciw import ciw_reports
from pipeline.fetch.adapters.common import Adapter, AdapterError, parse_date, parse_feed_date, unique_links
from pipeline.fetch.adapters.moderngov import moderngov
from pipeline.fetch.adapters.rss import rss

ADAPTERS: dict[str, Adapter] = {"ciw_reports": ciw_reports, "moderngov": moderngov, "rss": rss}

__all__ = [
    "ADAPTERS",
    "Adapter",
    "AdapterError",
    "ciw_reports",
    "moderngov",
    "parse_date",
    "parse_feed_date",
    "rss",
    "unique_links",
]
