"""Publish a database atomically: readers see the old complete file or the new complete file, never a mix.

The ingest flow writes its working database (`data/scrutiny.db`) one document
per transaction. A server that opens that file while a run is writing it (and
Datasette opens published files immutable, without locks) could read pages of
two states. So the served copy is never written in place: a snapshot is built
beside it as `<target>.building` with SQLite's backup API, checked (integrity,
every FTS index, foreign keys), flushed to disk, and renamed over the target
with `os.replace`, which POSIX makes atomic. A process that already has the old
file open keeps reading the old file (its inode lives until closed); anything
that opens the path afterwards gets the new one. A crash at any point leaves the
old target untouched and at worst a stale `.building` file, removed next time.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pipeline.errors import StoreError


class PublishError(StoreError):
    """The snapshot failed its checks; the served file was left as it was."""


def building_path(target: Path | str) -> Path:
    target = Path(target)
    return target.with_name(target.name + ".building")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _snapshot(source: Path, dest: Path) -> None:
    """Copy a consistent state of `source` (even while another process writes it) into `dest`."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    out = sqlite3.connect(dest)
    try:
        src.backup(out)
        out.execute("PRAGMA journal_mode = DELETE")  # a single self-contained file, nothing beside it
    finally:
        out.close()
        src.close()


def replace_atomically(built: Path | str, target: Path | str, check: bool = True) -> Path:
    """Check a finished database file and rename it over `target` in one step; returns `target`."""
    from pipeline.store.check import integrity_problems

    built, target = Path(built), Path(target)
    if check:
        problems = integrity_problems(built)
        if problems:
            raise PublishError(f"{built} failed its checks, {target} was left as it was: " + "; ".join(problems[:5]))
    _fsync(built)
    os.replace(built, target)
    _fsync(target.parent)  # the rename itself survives a power cut
    return target


def publish(source: Path | str, target: Path | str) -> Path:
    """Snapshot the working database `source` and swap it in atomically as `target` (the file Datasette
    serves). Safe to call while `source` is being written: the backup API copies one committed state."""
    source, target = Path(source), Path(target)
    if not source.exists():
        raise PublishError(f"no database at {source} to publish")
    if source.resolve() == target.resolve():
        raise PublishError("the published file must not be the working database itself")
    target.parent.mkdir(parents=True, exist_ok=True)
    building = building_path(target)
    building.unlink(missing_ok=True)  # left by a crash during an earlier publish
    try:
        _snapshot(source, building)
        return replace_atomically(building, target)
    except BaseException:
        building.unlink(missing_ok=True)
        raise


@contextmanager
def building(target: Path | str, start_from_current: bool = True) -> Iterator[Path]:
    """Build a new version of `target` off to the side: yields `<target>.building` (a copy of the current
    target when there is one and `start_from_current`), and swaps it in only when the block ends without an
    error. On an error the target is untouched and the partial file removed."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    path = building_path(target)
    path.unlink(missing_ok=True)
    if start_from_current and target.exists():
        _snapshot(target, path)
    try:
        yield path
        replace_atomically(path, target)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
