"""The run's batches: bounded work in flight, results in order, a bad file or a bug costing one document, and
batches processed in worker processes."""

from __future__ import annotations

import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from pipeline.records import Failure, Source
from pipeline.run import batches
from pipeline.run.inputs import Fingerprint
from pipeline.run.runner import Processed


def _fp(path: Path) -> Fingerprint:
    return Fingerprint(Source(str(path)), size=1, mtime_ns=1, sha256="x" * 64)


def test_batch_size_keeps_the_task_count_small_and_both_workers_busy():
    assert batches.batch_size(1000, 2) == 63  # 16 batches: 32 task runs for the documents, not 2,000
    assert batches.batch_size(10_000, 2) == 64
    assert batches.batch_size(10, 2) == 4
    assert [len(b) for b in batches.batches(list(range(10)), 4)] == [4, 4, 2]


def test_in_order_keeps_at_most_ahead_groups_in_flight_and_yields_in_order():
    started: list[int] = []
    in_flight = 0
    most = 0
    lock = threading.Lock()

    def work(group: list[int]) -> list[int]:
        nonlocal in_flight, most
        with lock:
            in_flight += 1
            most = max(most, in_flight)
        try:
            return [x * 10 for x in group]
        finally:
            with lock:
                in_flight -= 1

    def submit(group):
        started.append(group[0])
        return pool.submit(work, group)

    with ThreadPoolExecutor(max_workers=4) as pool:
        seen = []
        for done in batches.in_order(([i, i + 100] for i in range(20)), submit, ahead=3):
            # when a group is handed out, no more than `ahead` groups have been submitted past it
            assert len(started) <= done[0][0] + 1 + 3
            seen.append(done)
    assert seen == [[(i, i * 10), (i + 100, (i + 100) * 10)] for i in range(20)]
    assert most <= 3


def test_in_order_turns_a_failed_group_into_each_members_outcome():
    def submit(group):
        f: Future = Future()
        if group[0] == 1:
            f.set_exception(RuntimeError("boom"))
        else:
            f.set_result(["ok"] * len(group))
        return f

    out = list(batches.in_order([[0], [1, 2], [3]], submit, ahead=2))
    assert out[0] == [(0, "ok")] and out[2] == [(3, "ok")]
    assert [type(r) for _, r in out[1]] == [RuntimeError, RuntimeError]


def test_a_file_that_cannot_be_read_costs_only_itself(tmp_path, settings, monkeypatch):
    monkeypatch.setattr(batches.time, "sleep", lambda s: None)
    good = tmp_path / "notes.txt"
    good.write_text("The council agreed the improvement plan for children's services in June.\n")
    out = batches.process_batch([_fp(tmp_path / "gone.txt"), _fp(good)], settings, classify=False)
    assert isinstance(out[0], Failure) and "FileNotFoundError" in out[0].reason
    assert isinstance(out[1], Processed) and "improvement plan" in out[1].document.text


def test_batches_are_processed_in_worker_processes(tmp_path, settings):
    paths = []
    for i in range(3):
        p = tmp_path / f"minutes-{i}.txt"
        p.write_text(f"Cabinet met on {i + 2} June and agreed a plan for carers' assessments in area {i}.\n")
        paths.append(p)
    with batches.processes(2):
        out = batches.process_batch([_fp(p) for p in paths], settings, classify=False)
    assert [type(r) for r in out] == [Processed] * 3
    assert [f"area {i}" in r.document.text for i, r in enumerate(out)] == [True] * 3  # type: ignore[union-attr]
    assert batches.process_batch([_fp(paths[0])], settings, classify=False)[0].document.id  # here again


def _tenfold_where(settings, n: int) -> tuple[int, bool]:
    """A module-level function for `spread`: n * 10, and whether it ran in a worker process."""
    return n * 10, batches._in_worker


def _dies_in_a_worker(settings, n: int) -> tuple[int, bool]:
    if n == 3 and batches._in_worker:
        os._exit(1)  # a worker killed while linking a council (out of memory, say)
    return n * 10, batches._in_worker


def test_spread_runs_in_the_worker_processes_and_keeps_the_order(settings):
    assert list(batches.spread(_tenfold_where, settings, range(3))) == [(0, False), (10, False), (20, False)]
    with batches.processes(2):
        out = list(batches.spread(_tenfold_where, settings, iter(range(9))))
    assert [n for n, _ in out] == [n * 10 for n in range(9)]
    assert all(in_worker for _, in_worker in out)


def test_spread_does_the_work_of_a_worker_that_died_here(settings):
    with batches.processes(2):
        out = list(batches.spread(_dies_in_a_worker, settings, range(8)))
        assert [n for n, _ in out] == [n * 10 for n in range(8)]  # nothing lost
        assert not out[3][1]  # the dead worker's item was done in this process
        again = list(batches.spread(_tenfold_where, settings, range(2)))
    assert all(in_worker for _, in_worker in again)  # the pool was renewed


def _worker_pid(settings, n: int) -> int:
    return os.getpid()


def test_spread_can_start_fresh_workers(settings):
    with batches.processes(2):
        before = set(batches.spread(_worker_pid, settings, range(6)))
        after = set(batches.spread(_worker_pid, settings, range(6), True))
    assert before and after and not before & after  # new processes: nothing the old ones loaded is kept


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_release_stops_the_workers_and_later_work_gets_new_ones(settings):
    with batches.processes(2):
        before = set(batches.spread(_worker_pid, settings, range(6)))
        batches.release()  # the processing is over: what the workers hold is let go now, not at the end of the run
        assert before and not any(_alive(pid) for pid in before)
        after = set(batches.spread(_worker_pid, settings, range(6)))
    assert after and not before & after
