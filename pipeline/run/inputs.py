"""Inputs: files, folders and manifests become Sources; fingerprints decide what needs work.

A folder that holds a `manifest.csv` or `manifest.yaml` is read through it (that
is how known metadata reaches the pipeline); any other folder is walked for
documents. Unchanged inputs are recognised by size, modification time and
content hash before any parsing.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.errors import SourceError
from pipeline.hashing import sha256_file
from pipeline.records import Source

DOCUMENT_SUFFIXES = {".pdf", ".html", ".htm", ".xhtml", ".docx", ".txt", ".text", ".md"}
MANIFEST_NAMES = ("manifest.csv", "manifest.yaml", "manifest.yml")
META_FIELDS = ("title", "publisher", "doc_type", "local_authority", "service", "published", "language", "url")


@dataclass(frozen=True)
class Fingerprint:
    source: Source
    sha256: str
    size: int
    mtime_ns: int

    def ledger_fields(self) -> dict[str, Any]:
        return {
            "source_path": self.source.path,
            "sha256": self.sha256,
            "size": self.size,
            "mtime_ns": self.mtime_ns,
            "meta": self.source.meta,
        }


def _clean_meta(row: dict[str, Any]) -> dict[str, Any]:
    return {k: str(v).strip() for k, v in row.items() if k in META_FIELDS and v not in (None, "")}


def read_manifest(path: Path, meta: dict[str, Any] | None = None) -> list[Source]:
    """Read a CSV or YAML manifest: one source per row, `path` (relative to the manifest) or `url`."""
    meta = meta or {}
    try:
        if path.suffix.lower() == ".csv":
            with path.open(newline="", encoding="utf-8-sig") as f:
                rows = list(csv.DictReader(f))
        else:
            import yaml

            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            rows = data.get("sources", data) if isinstance(data, dict) else data
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise SourceError(f"cannot read manifest {path}: {exc}") from exc
    except Exception as exc:  # yaml.YAMLError and friends
        raise SourceError(f"manifest {path} is not valid YAML: {exc}") from exc
    if not isinstance(rows, list):
        raise SourceError(f"manifest {path} must be a list of rows")
    sources = []
    for n, row in enumerate(rows, start=1):
        if not isinstance(row, dict) or not (row.get("path") or row.get("url")):
            raise SourceError(f"manifest {path}, row {n}: needs a 'path' or a 'url'")
        known = {**_clean_meta(row), **meta}
        if row.get("path"):
            p = Path(str(row["path"]))
            p = p if p.is_absolute() else path.parent / p
            sources.append(Source(str(p), known, url=known.get("url")))
        else:
            # URLs are fetched by the fetch stage into the archive before extraction.
            sources.append(Source(str(row["url"]), known, url=str(row["url"])))
    return sources


def discover(paths: list[str], meta: dict[str, Any] | None = None) -> list[Source]:
    """Expand files, folders and manifests into Sources, in a stable order."""
    meta = meta or {}
    out: list[Source] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            manifest = next((p / n for n in MANIFEST_NAMES if (p / n).is_file()), None)
            if manifest is not None:
                out.extend(read_manifest(manifest, meta))
                continue
            for root, dirs, files in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    f = Path(root) / name
                    if not name.startswith(".") and f.suffix.lower() in DOCUMENT_SUFFIXES:
                        out.append(Source(str(f), dict(meta)))
        elif p.suffix.lower() in (".csv", ".yaml", ".yml") and p.is_file():
            out.extend(read_manifest(p, meta))
        else:
            out.append(Source(str(p), dict(meta)))
    seen: set[str] = set()
    unique = []
    for s in out:
        if s.path not in seen:
            seen.add(s.path)
            unique.append(s)
    return unique


def fingerprint(source: Source, previous: dict[str, Any] | None = None) -> Fingerprint:
    """Size, mtime and sha256 of a source; the hash is reused when size and mtime are unchanged."""
    st = Path(source.path).stat()
    if (
        previous
        and previous.get("size") == st.st_size
        and previous.get("mtime_ns") == st.st_mtime_ns
        and previous.get("sha256")
    ):
        return Fingerprint(source, previous["sha256"], st.st_size, st.st_mtime_ns)
    return Fingerprint(source, sha256_file(Path(source.path)), st.st_size, st.st_mtime_ns)


STAGES = ("extract", "segment", "classify", "link")  # in order: redoing one redoes every later one
LINK_PENDING = "pending"  # ledger mark: stored, not yet linked (a new document, linked incrementally)
LINK_STALE = "stale"  # ledger mark: stored again over linked statements: everything is relinked


def stage_to_redo(fp: Fingerprint, previous: dict[str, Any] | None, versions: dict[str, str]) -> str | None:
    """The earliest stage whose input or version changed for this source, or None when nothing did.

    New bytes or new known metadata redo everything from extraction. A source that failed has no stored
    text, so it is retried from extraction when the extractor or segmenter changed, and left alone when
    only the classifier or the linker did (they had nothing of it to work on)."""
    if (
        previous is None
        or previous.get("sha256") != fp.sha256
        or json.loads(previous.get("meta") or "{}") != fp.source.meta
    ):
        return "extract"
    done = json.loads(previous.get("versions") or "{}")
    ok = previous.get("status") == "ok"
    for stage in STAGES:
        if done.get(stage) != versions.get(stage):
            if ok:
                return stage
            return "extract" if stage in ("extract", "segment") else None
    return None


def needs_work(fp: Fingerprint, previous: dict[str, Any] | None, versions: dict[str, str]) -> bool:
    """Whether a source must be processed again: new bytes, new known metadata or a new stage version."""
    return stage_to_redo(fp, previous, versions) is not None


@dataclass(frozen=True)
class Plan:
    todo: tuple[Fingerprint, ...]  # from extraction on (new or changed bytes, new extractor)
    unchanged: tuple[Fingerprint, ...]
    unreadable: tuple[tuple[Source, str], ...]  # (source, reason)
    resegment: tuple[tuple[Fingerprint, str], ...] = ()  # (source, stored document id): new segmenter
    reclassify: tuple[tuple[Fingerprint, str], ...] = ()  # (source, stored document id): new model
    relink: bool = False  # the linker changed, or a run stopped before it linked what it stored

    @property
    def inputs(self) -> int:
        return len(self.todo) + len(self.unchanged) + len(self.unreadable) + len(self.resegment) + len(self.reclassify)

    @property
    def has_work(self) -> bool:
        return bool(self.todo or self.unreadable or self.resegment or self.reclassify or self.relink)

    def nothing_changed(self, db_path: Any) -> dict[str, Any]:
        """The run summary when there is no work: a run's keys (the runner adds `stages`), every count but `unchanged` 0."""
        return {
            "run_id": None,
            "db": str(db_path),
            "inputs": self.inputs,
            "added": 0,
            "changed": 0,
            "unchanged": len(self.unchanged),
            "deleted": 0,
            "failed": 0,
            "failures": [],
            "message": f"nothing changed: {len(self.unchanged)} sources unchanged, nothing added, changed or deleted",
        }


def plan(sources: list[Source], ledger: dict[str, dict[str, Any]], versions: dict[str, str]) -> Plan:
    """Split sources by the earliest stage each needs redone, plus those unchanged and those that cannot
    be read at all. Linking is due when any stored document was not linked by the current linker."""
    todo, unchanged, unreadable, resegment, reclassify = [], [], [], [], []
    relink = False
    for source in sources:
        previous = ledger.get(source.path)
        try:
            fp = fingerprint(source, previous)
        except FileNotFoundError:
            unreadable.append((source, "file not found"))
            continue
        except IsADirectoryError:
            unreadable.append((source, "is a directory, not a document"))
            continue
        except OSError as exc:
            unreadable.append((source, f"cannot read the file: {exc.strerror or exc}"))
            continue
        stage = stage_to_redo(fp, previous, versions)
        if stage == "extract" or previous is None:  # (no previous record is always "extract")
            todo.append(fp)
        elif stage == "segment":
            resegment.append((fp, previous["document_id"]))
        elif stage == "classify":
            reclassify.append((fp, previous["document_id"]))
        else:
            unchanged.append(fp)
            relink = relink or stage == "link"
    # a run killed between storing and linking leaves ledger rows of other inputs pending too
    relink = relink or any(
        r.get("status") == "ok" and json.loads(r.get("versions") or "{}").get("link") != versions.get("link")
        for r in ledger.values()
    )
    return Plan(tuple(todo), tuple(unchanged), tuple(unreadable), tuple(resegment), tuple(reclassify), relink)
