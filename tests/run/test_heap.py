"""Freed heap memory goes back to the system between batches, so a long run's resident size does not creep up."""

from __future__ import annotations

import os
import threading

import pytest

from pipeline.run import heap
from pipeline.run.runner import ingest_direct
from tests.builders import make_small_corpus


def _resident_mb() -> float:
    return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.mark.skipif(
    heap._trim() is None or not os.path.exists("/proc/self/statm") or bool(os.environ.get("LD_PRELOAD")),
    reason="glibc's own allocator and /proc only",
)
def test_what_a_batch_freed_on_another_thread_leaves_the_process():
    kept: list[bytes] = []

    def batch() -> None:  # as the pool's result thread unpickles a batch: many medium blocks, a few kept
        blocks = [bytes(3000) + str(i).encode() for i in range(40_000)]  # about 120 MB
        kept.extend(blocks[::50])

    thread = threading.Thread(target=batch)
    thread.start()
    thread.join()
    before = _resident_mb()
    assert heap.give_back()
    after = _resident_mb()
    assert before - after > 60, (before, after)  # most of the 118 MB freed was still resident before


def test_the_run_gives_back_after_each_stored_batch(tmp_path, monkeypatch):
    docs = make_small_corpus(tmp_path)
    calls: list[int] = []

    def counted() -> bool:
        import sqlite3

        with sqlite3.connect(tmp_path / "run.db") as con:
            calls.append(con.execute("select count(*) from documents").fetchone()[0])
        return True

    monkeypatch.setattr("pipeline.run.runner.give_back", counted)
    summary = ingest_direct([str(docs)], tmp_path / "run.db", workers=1)
    assert summary["added"] == 3 and summary["failed"] == 1
    assert sorted(calls) == calls and calls[-1] == 3  # once a batch (here a document) is stored, every time
    assert len(calls) == 4  # the failed file's batch too


def test_a_worker_gives_back_before_each_batch(tmp_path, settings, monkeypatch):
    from pipeline.records import Source
    from pipeline.run import batches
    from pipeline.run.inputs import Fingerprint

    note = tmp_path / "note.txt"
    note.write_text("Cabinet agreed a plan for carers' assessments.\n")
    calls: list[str] = []
    monkeypatch.setattr(batches, "give_back", lambda: calls.append("trim") or True)
    monkeypatch.setattr(batches, "_in_worker", True)  # as in a worker process of the pool
    fp = Fingerprint(Source(str(note)), size=1, mtime_ns=1, sha256="x" * 64)
    out = batches._process_here([fp, fp], settings, classify=False)
    assert len(out) == 2 and calls == ["trim"]  # once a batch, before its documents
    monkeypatch.setattr(batches, "_in_worker", False)
    batches._process_here([fp], settings, classify=False)
    assert calls == ["trim"]  # the flow's own process gives back after storing instead (runner)


ARENAS_PROBE = """
import ctypes, os, sys, tempfile, threading
sys.path.insert(0, {root!r})
from pipeline.run import heap
took = heap.limit_arenas(2) if sys.argv[1] == "limit" else None
barrier = threading.Barrier(6)
held = []
def work():
    barrier.wait()  # all six allocate at once, so each would get its own arena
    held.append([bytes(200) + bytes([i % 256]) for i in range(20_000)])
    barrier.wait()
threads = [threading.Thread(target=work) for _ in range(6)]
[t.start() for t in threads]
[t.join() for t in threads]
libc = ctypes.CDLL(None)
libc.fopen.restype = ctypes.c_void_p
libc.fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
libc.fclose.argtypes = [ctypes.c_void_p]
path = tempfile.mktemp()
f = libc.fopen(path.encode(), b"w")
libc.malloc_info(0, f)
libc.fclose(f)
print(took, open(path).read().count("<heap nr="), os.environ.get("MALLOC_ARENA_MAX"))
os.remove(path)
"""


def _probe(mode: str, **env: str) -> tuple[str, int, str]:
    import subprocess
    import sys
    from pathlib import Path

    clean = {k: v for k, v in os.environ.items() if k not in ("MALLOC_ARENA_MAX", "GLIBC_TUNABLES")}
    probe = ARENAS_PROBE.format(root=str(Path(__file__).resolve().parents[2]))
    out = subprocess.run(
        [sys.executable, "-c", probe, mode], env={**clean, **env}, capture_output=True, text=True, check=True
    )
    took, heaps, seen = out.stdout.split()
    return took, int(heaps), seen


glibc_only = pytest.mark.skipif(
    heap._mallopt() is None or bool(os.environ.get("LD_PRELOAD")), reason="glibc's own allocator only"
)


@glibc_only
def test_threads_share_two_arenas_once_limited():
    assert _probe("free")[1] > 2  # without the cap, six threads allocating at once make arenas of their own
    took, heaps, seen = _probe("limit")
    assert took == "True" and heaps <= 2
    assert seen == "None"  # nothing is put in the environment of the processes it starts


@glibc_only
def test_the_users_own_allocator_setting_wins():
    took, heaps, seen = _probe("limit", MALLOC_ARENA_MAX="4")
    assert took == "False" and seen == "4" and 2 < heaps <= 4


def test_each_worker_limits_its_arenas_before_any_work(monkeypatch):
    from pipeline.run import batches

    calls = []
    monkeypatch.setattr(batches, "limit_arenas", lambda: calls.append(1) or True)
    monkeypatch.setattr(batches, "_in_worker", False)
    batches._init_worker()
    assert calls == [1] and batches._in_worker
