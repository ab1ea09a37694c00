"""The ingest run's per-document work in batches, on every core, with bounded memory.

Orchestration costs per task, not per document: the flow hands the work out in batches of documents
(`batches`), one `process` task per batch (the flow stores each finished batch itself), so a cold run of a
thousand documents has about twenty task runs instead of a thousand. Each batch is processed in a worker
process (`processes`: a pool of `workers` processes, each with its own PDF reader child, spaCy pipeline and
model), so extraction,
segmentation and classification use every core while the flow's process stores what is done. At most
`AHEAD` batches per worker are in flight, and a batch's results are dropped once stored, so the run's memory
does not grow with the number of documents. The run's linking uses the pool too (`spread`, fresh workers):
councils are linked side by side while the flow's process reads and writes the database.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import multiprocessing as mp
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import CancelledError, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from pipeline import __version__
from pipeline.config import Settings
from pipeline.records import Failure
from pipeline.run.heap import give_back, limit_arenas
from pipeline.run.inputs import Fingerprint
from pipeline.run.runner import Outcome, process_source

logger = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")

AHEAD = 2  # batches in flight per worker: one running, one waiting
READ_ATTEMPTS = 3  # reading a file is retried (I/O errors are often transient); a bad file is not

_pool: ProcessPoolExecutor | None = None
_pool_size = 0
_pool_lock = threading.Lock()
_in_worker = False


def batch_size(documents: int, workers: int) -> int:
    """Documents per batch: about eight batches per worker (so both stay busy to the end of the run), at
    least 4 and at most 64 documents."""
    return max(4, min(64, math.ceil(documents / (8 * max(1, workers)))))


def batches(items: list[Fingerprint], size: int) -> list[list[Fingerprint]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _init_worker() -> None:
    global _in_worker
    _in_worker = True
    limit_arenas()  # before the worker's threads (the encoder's, lingua's) make arenas of their own
    from pipeline.classify.encoder import one_call_at_a_time

    one_call_at_a_time()  # the worker processes are the parallelism (see ENCODER_THREADS)


def _process_here(fps: list[Fingerprint], settings: Settings, classify: bool) -> list[Outcome]:
    if _in_worker:  # one PDF reader per worker process: the workers are the parallelism
        settings = dataclasses.replace(settings, workers=1)
        give_back()  # what the previous batch freed
    out: list[Outcome] = []
    for fp in fps:
        for attempt in range(READ_ATTEMPTS):
            try:
                out.append(process_source(fp, settings, classify))
                break
            except OSError as exc:  # reading the file: retried; anything else is the file's own failure
                if attempt + 1 < READ_ATTEMPTS:
                    time.sleep(1.0)
                    continue
                out.append(Failure(fp.source.path, "ingest", f"{type(exc).__name__}: {exc}", __version__))
            except Exception as exc:  # a bug costs one document, not the batch
                logger.exception("processing %s failed", fp.source.path)
                out.append(Failure(fp.source.path, "ingest", f"{type(exc).__name__}: {exc}", __version__))
                break
    return out


def process_batch(fps: list[Fingerprint], settings: Settings, classify: bool) -> list[Outcome]:
    """Process a batch of sources: in a worker process when `processes` set a pool up in this process, else
    here. A worker that dies (killed, out of memory) fails its batch with the reason and is replaced."""
    pool = _pool
    if pool is None:
        return _process_here(fps, settings, classify)
    try:
        return pool.submit(_process_here, fps, settings, classify).result()
    except BrokenProcessPool as exc:
        _renew(pool)
        reason = f"the worker process died while processing this batch ({exc})"
        return [Failure(fp.source.path, "ingest", reason, __version__) for fp in fps]


def _renew(pool: ProcessPoolExecutor, wait: bool = False) -> None:
    """Replace the pool with new worker processes: one whose worker died (once, however many callers saw it
    die), or, with `wait`, a healthy one once its work is done."""
    global _pool
    with _pool_lock:
        if _pool is pool:
            pool.shutdown(wait=wait, cancel_futures=not wait)
            _pool = _new_pool(_pool_size)


def _new_pool(workers: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"), initializer=_init_worker)


@contextlib.contextmanager
def processes(workers: int) -> Iterator[None]:
    """Process batches in `workers` worker processes for the duration (started lazily, stopped on the way
    out). Tasks running on threads of this process use them; tasks on other engines (Dask) work where they run."""
    global _pool, _pool_size
    with _pool_lock:
        _pool_size = max(1, workers)
        _pool = _new_pool(_pool_size)
    try:
        yield
    finally:
        with _pool_lock:
            pool, _pool = _pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def release() -> None:
    """Stop the worker processes now, once their work is done, so that what they loaded (the PDF readers, spaCy,
    the classifier) is let go before the steps that follow; new ones start when work next comes."""
    pool = _pool
    if pool is not None:
        _renew(pool, wait=True)


def spread(fn: Callable[[Settings, T], R], settings: Settings, items: Iterable[T], fresh: bool = False) -> Iterator[R]:
    """`fn(settings, item)` for each item, in order: in the worker processes when `processes` set a pool up in
    this process (at most AHEAD items per worker in flight, so that reading the next items, running these and
    writing the finished ones overlap), else here. `fn` must be a module-level function; a worker that dies
    costs nothing: its item and the rest are done here. `fresh` starts new workers first, so that what the
    old ones loaded (the PDF readers, spaCy, the classifier) does not stay in memory beside this work."""
    pool = _pool
    if pool is None:
        yield from (fn(settings, item) for item in items)
        return
    if fresh:
        _renew(pool, wait=True)
        pool = _pool
        assert pool is not None
    pending: deque[tuple[T, Future]] = deque()
    broken = False
    for item in items:
        if broken:
            pending.append((item, _done(fn(settings, item))))
        else:
            pending.append((item, pool.submit(fn, settings, item)))
        while len(pending) >= AHEAD * max(1, _pool_size) or (pending and pending[0][1].done()):
            item0, future = pending.popleft()
            result, broken = _result(fn, settings, item0, future, broken)
            yield result
    while pending:
        item0, future = pending.popleft()
        result, broken = _result(fn, settings, item0, future, broken)
        yield result


def _done(value: Any) -> Future:
    future: Future = Future()
    future.set_result(value)
    return future


def _result(
    fn: Callable[[Settings, T], R], settings: Settings, item: T, future: Future, broken: bool
) -> tuple[R, bool]:
    try:
        return future.result(), broken
    except (BrokenProcessPool, CancelledError):  # a worker died: this future's pool is gone
        if not broken:
            logger.warning("a worker process died; the rest of this work is done in this process")
            pool = _pool
            if pool is not None:
                _renew(pool)  # the next batches and runs get workers again
        return fn(settings, item), True


def in_order(
    groups: Iterable[list[Fingerprint]], submit: Callable[[list[Fingerprint]], Any], ahead: int
) -> Iterator[list[tuple[Fingerprint, Outcome | BaseException]]]:
    """Submit groups (`submit` returns a future with `.result()`), at most `ahead` in flight, and yield each
    group's (source, outcome) pairs in order; an exception in a group becomes every member's outcome."""
    pending: deque[tuple[list[Fingerprint], Future | Any]] = deque()
    todo = iter(groups)
    for group in todo:
        pending.append((group, submit(group)))
        if len(pending) >= ahead:
            break
    while pending:
        group, future = pending.popleft()
        try:
            results: list[Any] = list(future.result())
        except Exception as exc:
            results = [exc] * len(group)
        del future
        nxt = next(todo, None)
        if nxt is not None:
            pending.append((nxt, submit(nxt)))
        yield list(zip(group, results, strict=True))
