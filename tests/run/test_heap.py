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


@pytest.mark.skipif(heap._trim() is None or not os.path.exists("/proc/self/statm"), reason="glibc and /proc only")
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
    assert len(kept) == 800 and kept[5].startswith(bytes(3000))  # what is kept is untouched


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
