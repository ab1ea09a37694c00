"""The archive of fetched versions: bytes stored once by sha256, and a log of every fetch.

Publishers take reports down when newer ones appear, so the archive, not the
web, is the record. Layout under the archive folder:

    objects/ab/abcdef....pdf   the bytes of each distinct version, named by sha256
    log.jsonl                  one JSON line per fetch, appended, never rewritten
    tmp/                       bodies being downloaded (moved into objects/ when complete)
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from pipeline.fetch.records import FetchResult, PreviousFetch

EXTENSIONS = {
    "application/pdf": ".pdf",
    "text/html": ".html",
    "application/xhtml+xml": ".html",
    "application/rss+xml": ".xml",
    "application/atom+xml": ".xml",
    "application/xml": ".xml",
    "text/xml": ".xml",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "application/msword": ".doc",
    "application/vnd.oasis.opendocument.text": ".odt",
    "text/plain": ".txt",
    "text/csv": ".csv",
    "application/json": ".json",
}
KNOWN_SUFFIXES = set(EXTENSIONS.values()) | {".htm", ".rtf"}


def extension_for(content_type: str | None, url: str, head: bytes) -> str:
    """A file suffix for archived bytes: magic number first (servers mislabel PDFs), then type, then address."""
    if head.startswith(b"%PDF-"):
        return ".pdf"
    if content_type in EXTENSIONS:
        return EXTENSIONS[content_type]
    suffix = PurePosixPath(urlsplit(url).path).suffix.lower()
    if suffix in KNOWN_SUFFIXES:
        return ".html" if suffix == ".htm" else suffix
    if head.lstrip()[:1] == b"<":
        return ".html"
    return ".bin"


class Archive:
    """Content-addressed storage of fetched bytes plus an append-only JSON Lines log."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.objects = self.root / "objects"
        self.log_path = self.root / "log.jsonl"
        self._tmp = self.root / "tmp"
        self._lock = threading.Lock()

    def temp_file(self) -> tuple[BinaryIO, Path]:
        """An open file to stream a body into; it lives beside `objects/` so the final move is atomic."""
        self._tmp.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=self._tmp, suffix=".part")
        return os.fdopen(fd, "wb"), Path(name)

    def find(self, sha256: str) -> Path | None:
        """The archived file holding these bytes, if any."""
        folder = self.objects / sha256[:2]
        if not folder.is_dir():
            return None
        return next(iter(sorted(folder.glob(sha256 + ".*"))), None)

    def store(self, temp: Path, sha256: str, suffix: str) -> tuple[Path, bool]:
        """Move a complete download into `objects/`; returns (path, whether it was already there)."""
        existing = self.find(sha256)
        if existing is not None:
            temp.unlink(missing_ok=True)
            return existing, True
        target = self.objects / sha256[:2] / f"{sha256}{suffix}"
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(temp, target)
        return target, False

    def record(self, result: FetchResult, **extra: Any) -> None:
        """Append one fetch to the log (failures too: they are the history of a source's health)."""
        row = asdict(result)
        if result.path is not None:
            try:
                row["path"] = str(Path(result.path).relative_to(self.root))
            except ValueError:
                row["path"] = str(result.path)
        row.update(extra)
        line = json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n"
        self.root.mkdir(parents=True, exist_ok=True)
        with self._lock, self.log_path.open("a", encoding="utf-8") as f:
            f.write(line)

    def entries(self) -> Iterator[dict[str, Any]]:
        """Every logged fetch, oldest first; a torn last line (a crash mid-write) is skipped."""
        if not self.log_path.is_file():
            return
        with self.log_path.open(encoding="utf-8") as f:
            for line in f:
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(row, dict) and row.get("url"):
                    yield row

    def last_fetches(self) -> dict[str, PreviousFetch]:
        """For each address, the validators of its last successful fetch (read back from the log)."""
        out: dict[str, PreviousFetch] = {}
        for row in self.entries():
            if row.get("status") in ("new", "unchanged", "not_modified") and row.get("sha256"):
                path = self.root / row["path"] if row.get("path") else self.find(row["sha256"])
                out[row["url"]] = PreviousFetch(row["sha256"], row.get("etag"), row.get("last_modified"), path)
        return out
