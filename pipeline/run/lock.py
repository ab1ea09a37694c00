"""One ingest run per database at a time, and plain words for the database errors a run can meet.

The lock is an exclusive `flock` on `<db>.lock` beside the database. The kernel
drops it when the holding process dies (even by kill -9), so a crash never
leaves a stale lock behind, and no lease row has to be expired by hand. Within
one process the lock is re-entrant, because the CLI takes it before planning and
the flow takes it again around its own work.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pipeline.errors import PipelineError

_held: dict[str, tuple[int, int]] = {}  # lock path -> (file descriptor, depth) held by this process
_guard = threading.Lock()


class RunLocked(PipelineError):
    """Another ingest run holds the database; raised after waiting `timeout` seconds."""

    stage = "store"


def lock_path(db_path: Path | str) -> Path:
    return Path(str(db_path) + ".lock")


def _holder(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip() or "another process"
    except OSError:
        return "another process"


@contextmanager
def run_lock(db_path: Path | str, timeout: float = 0.0, poll: float = 0.2) -> Iterator[None]:
    """Hold the run lock of `db_path`; wait up to `timeout` seconds for it, then raise RunLocked."""
    Path(db_path).parent.mkdir(parents=True, exist_ok=True)
    path = lock_path(Path(db_path).resolve())
    key = str(path)
    with _guard:
        if key in _held:
            fd, depth = _held[key]
            _held[key] = (fd, depth + 1)
            reentered = True
        else:
            reentered = False
    if reentered:
        try:
            yield
        finally:
            _release(key)
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + max(0.0, timeout)
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                os.close(fd)
                raise RunLocked(
                    f"another ingest run is using {db_path} ({_holder(path)}); "
                    f"waited {timeout:g} s. Try again when it has finished "
                    f"(or pass --wait SECONDS to wait longer)"
                ) from None
            time.sleep(poll)
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"pid {os.getpid()} since {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}\n".encode(), 0)
    with _guard:
        _held[key] = (fd, 1)
    try:
        yield
    finally:
        _release(key)


def _release(key: str) -> None:
    with _guard:
        fd, depth = _held[key]
        if depth > 1:
            _held[key] = (fd, depth - 1)
            return
        del _held[key]
    os.ftruncate(fd, 0)
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)


def explain_db_error(exc: BaseException, db_path: Path | str) -> str | None:
    """A sentence for the database errors an operator can act on (full, locked, read-only), else None."""
    if not isinstance(exc, sqlite3.Error):
        return None
    text = str(exc).lower()
    if "full" in text or "disk i/o" in text:
        return (
            f"the database {db_path} could not grow (disk full or size limit reached: {exc}); the document "
            "being written was rolled back and nothing is half-written. Free space and run again"
        )
    if "locked" in text or "busy" in text:
        return (
            f"the database {db_path} is locked by another program ({exc}); nothing was written by the "
            "blocked step. Close the other program (or wait for it) and run again"
        )
    if "readonly" in text or "read-only" in text:
        return f"the database {db_path} is read-only ({exc}); nothing was written"
    return None
