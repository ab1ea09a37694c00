"""FetchSettings: the knobs of the fetch stage, built from Settings and passed down."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from pipeline import __version__

PROJECT_URL = "https://example.org/scrutiny"


@dataclass(frozen=True)
class FetchSettings:
    """Timeouts, caps, retry and politeness settings for fetching.

    Built with `from_settings(settings)`: any `Settings` attribute named
    `fetch_<field>` (or an entry of `settings.extra["fetch"]`) overrides the
    default below, so new Settings fields need no change here.
    """

    archive_dir: Path = Path("data/archive")
    # Who we are: publishers should be able to reach a person, so the contact is configured, never guessed.
    contact: str = "set SCRUTINY_CONTACT"
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 30.0  # longest silence between two chunks of a body
    total_timeout_s: float = 600.0  # a server trickling bytes cannot hold a run for ever
    max_bytes: int = 200 * 1024 * 1024
    max_retries: int = 4  # extra attempts after the first
    backoff_base_s: float = 1.0
    backoff_max_s: float = 60.0
    retry_after_max_s: float = 300.0  # a Retry-After longer than this is cut to this
    min_interval_s: float = 2.0  # between two requests to one host
    max_crawl_delay_s: float = 60.0  # a robots.txt Crawl-delay is honoured up to this
    max_redirects: int = 5
    robots_max_bytes: int = 512 * 1024  # RFC 9309 asks crawlers to read at least 500 KiB
    max_documents_per_source: int = 50  # new documents fetched per source per run
    max_listings_per_source: int = 12  # follow-on listing pages (e.g. ModernGov meetings) per run
    trust_env: bool = True  # honour HTTP(S)_PROXY / NO_PROXY, as a server behind a proxy needs
    software_version: str = __version__

    @property
    def user_agent(self) -> str:
        return f"Scrutiny/{self.software_version} (+{PROJECT_URL}; contact: {self.contact})"

    @classmethod
    def from_settings(cls, settings: Any) -> FetchSettings:
        """FetchSettings from a pipeline `Settings` (or return it unchanged if it already is one)."""
        if isinstance(settings, FetchSettings):
            return settings
        extra = (getattr(settings, "extra", None) or {}).get("fetch", {})
        values: dict[str, Any] = {}
        data_dir = getattr(settings, "data_dir", None)
        if data_dir is not None:
            values["archive_dir"] = Path(data_dir) / "archive"
        if getattr(settings, "max_file_bytes", None):
            values["max_bytes"] = int(settings.max_file_bytes)
        if getattr(settings, "software_version", None):
            values["software_version"] = settings.software_version
        for f in fields(cls):
            if hasattr(settings, f"fetch_{f.name}"):
                values[f.name] = getattr(settings, f"fetch_{f.name}")
            elif f.name in extra:
                values[f.name] = extra[f.name]
        if "archive_dir" in values:
            values["archive_dir"] = Path(values["archive_dir"])
        return replace(cls(), **values)
