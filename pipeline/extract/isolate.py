"""Run a reader in a child process with a time limit and a memory cap.

One hostile PDF (a decompression bomb, a page tree that points to itself) must
not take the run down. The worker process is started once and reused; when a
file times out or kills it, the worker is replaced and the file is reported.
"""

from __future__ import annotations

import multiprocessing as mp
import queue
import threading
from functools import lru_cache
from typing import Any

from pipeline.errors import ExtractionError, PipelineError


def _serve(conn, memory_mb: int) -> None:  # runs in the child
    import resource

    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    from pipeline.extract import pdf

    readers = {"pdf": pdf.read_pdf}
    while True:
        try:
            name, args = conn.recv()
        except EOFError:
            return
        try:
            conn.send(("ok", readers[name](*args)))
        except MemoryError:
            conn.send(("error", "ExtractionError", f"too large: parsing needed more than {memory_mb} MB of memory"))
        except PipelineError as exc:
            conn.send(("error", type(exc).__name__, str(exc)))
        except RecursionError:
            conn.send(("error", "ExtractionError", "structure nested too deeply to read (a loop in the page tree?)"))
        except Exception as exc:  # any parser bug becomes a reason, not a crash
            conn.send(("error", "ExtractionError", f"{type(exc).__name__}: {exc}"))


class IsolatedWorker:
    def __init__(self, memory_mb: int) -> None:
        self.memory_mb = memory_mb
        self._lock = threading.Lock()
        self._proc: Any = None
        self._conn: Any = None

    def _ensure(self) -> None:
        if self._proc is not None and self._proc.is_alive():
            return
        ctx = mp.get_context("spawn")
        parent, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child, self.memory_mb), daemon=True, name="scrutiny-reader")
        self._proc.start()
        child.close()
        self._conn = parent

    def _kill(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.join(5)
        self._proc = self._conn = None

    def call(self, reader: str, *args: Any, timeout: float) -> Any:
        from pipeline import errors

        with self._lock:
            self._ensure()
            try:
                self._conn.send((reader, args))
                if not self._conn.poll(timeout):
                    self._kill()
                    raise ExtractionError(f"timed out: parsing took longer than {timeout:.0f} s")
                reply = self._conn.recv()
            except (EOFError, BrokenPipeError, ConnectionResetError) as exc:
                code = self._proc.exitcode if self._proc is not None else None
                self._kill()
                raise ExtractionError(
                    f"the parser process died (exit code {code}): the file is too large or malformed"
                ) from exc
        if reply[0] == "ok":
            return reply[1]
        cls = getattr(errors, reply[1], ExtractionError)
        raise cls(reply[2])

    def close(self) -> None:
        with self._lock:
            self._kill()


class WorkerPool:
    """A few isolated workers shared by the threads of a run: as many PDFs parse at once as there are workers."""

    def __init__(self, memory_mb: int, size: int) -> None:
        self._free: queue.Queue[IsolatedWorker] = queue.Queue()
        for _ in range(max(1, size)):
            self._free.put(IsolatedWorker(memory_mb))

    def call(self, reader: str, *args: Any, timeout: float) -> Any:
        w = self._free.get()
        try:
            return w.call(reader, *args, timeout=timeout)
        finally:
            self._free.put(w)


@lru_cache(maxsize=4)
def worker(memory_mb: int, size: int = 1) -> WorkerPool:
    """The pool of reader processes for this process (started lazily, one per `size`)."""
    return WorkerPool(memory_mb, size)
