"""Timing and memory: interleaved A/B runs with medians, and peak memory measured in a child process.

Interleaving (A, B, A, B, ...) on the same input in the same run means a
machine that slows down half way (another job starts, the CPU throttles) slows
both sides alike, so the ratio of the medians stays meaningful even when the
absolute times do not. Each side runs once untimed first (models loaded,
reader processes started, caches warm) unless told otherwise.

Peak memory is the peak resident set size of a fresh child process over one
stage: the child sets the stage up (imports, inputs, models), resets its
high-water mark where Linux allows (/proc/self/clear_refs), runs the stage and
reports the new peak (VmHWM, or `resource.getrusage` elsewhere) and, when asked,
the peak of Python allocations seen by `tracemalloc`.
"""

from __future__ import annotations

import gc
import importlib
import multiprocessing as mp
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MB = 2**20


@dataclass(frozen=True)
class Variant:
    """One side of a comparison. `setup` runs untimed before each timed run and its result is passed to `run`."""

    label: str
    run: Callable[..., Any]
    setup: Callable[[], Any] | None = None


@dataclass
class Timing:
    label: str
    runs: list[float] = field(default_factory=list)
    warmup_s: float | None = None

    @property
    def median(self) -> float:
        return statistics.median(self.runs)

    def as_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "median_s": round(self.median, 6),
            "min_s": round(min(self.runs), 6),
            "max_s": round(max(self.runs), 6),
            "runs_s": [round(x, 6) for x in self.runs],
            "warmup_s": None if self.warmup_s is None else round(self.warmup_s, 6),
        }


def _timed(variant: Variant) -> float:
    arg = variant.setup() if variant.setup else None
    gc.collect()
    start = time.perf_counter()
    variant.run(arg) if variant.setup else variant.run()
    return time.perf_counter() - start


def interleave(
    variants: Sequence[Variant], repeats: int, *, warmup: bool = True, progress: Callable[[str], None] | None = None
) -> list[Timing]:
    """Run the variants in turn (A, B, A, B, ...) `repeats` times each; returns one Timing per variant."""
    timings = [Timing(v.label) for v in variants]
    if warmup:
        for v, t in zip(variants, timings):
            t.warmup_s = _timed(v)
    for i in range(repeats):
        for v, t in zip(variants, timings):
            t.runs.append(_timed(v))
        if progress:
            progress(f"  round {i + 1}/{repeats}: " + ", ".join(f"{t.runs[-1]:.3f} s" for t in timings))
    return timings


# ---------------------------------------------------------------- memory


@dataclass(frozen=True)
class Memory:
    """Peak memory of one stage in a fresh process (MB)."""

    peak_mb: float  # the process's peak resident set size while the stage ran
    before_mb: float | None  # resident set size once set up, just before the stage ran (None: not known)
    traced_peak_mb: float | None = None  # peak of Python allocations (tracemalloc), when measured
    method: str = "VmHWM"

    @property
    def increment_mb(self) -> float | None:
        return None if self.before_mb is None else max(0.0, self.peak_mb - self.before_mb)

    def as_dict(self) -> dict[str, Any]:
        inc = self.increment_mb
        return {
            "peak_mb": round(self.peak_mb, 1),
            "before_mb": None if self.before_mb is None else round(self.before_mb, 1),
            "increment_mb": None if inc is None else round(inc, 1),
            "traced_peak_mb": None if self.traced_peak_mb is None else round(self.traced_peak_mb, 1),
            "method": self.method,
        }


def _status(key: str) -> float | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024 / MB
    except OSError:
        return None
    return None


def _maxrss_mb() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / MB if sys.platform == "darwin" else rss * 1024 / MB  # bytes on macOS, KiB on Linux


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _probe_child(conn: Any, probe: str, args: tuple, traced: bool) -> None:  # runs in the child
    try:
        module, name = probe.split(":")
        run = getattr(importlib.import_module(module), name)(*args)
        gc.collect()
        before = _status("VmRSS") or _maxrss_mb()
        reset = _reset_peak()
        if traced:
            import tracemalloc

            tracemalloc.start()
        run()
        traced_peak = None
        if traced:
            import tracemalloc

            traced_peak = tracemalloc.get_traced_memory()[1] / MB
            tracemalloc.stop()
        peak = (_status("VmHWM") if reset else None) or _maxrss_mb()
        conn.send(("ok", Memory(peak, before, traced_peak, "VmHWM" if reset else "ru_maxrss (includes setup)")))
    except BaseException as exc:  # report, never hang the parent
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


def child_peak(probe: str, *args: Any, traced: bool = False, timeout: float = 3600.0) -> Memory:
    """Run `probe` ("module:function", called with `args`, returning the zero-argument stage to run) in a
    fresh process and return the stage's peak memory."""
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_probe_child, args=(child, probe, args, traced), name="scrutiny-bench-probe")
    proc.start()
    child.close()
    try:
        if not parent.poll(timeout):
            raise TimeoutError(f"memory probe {probe} took longer than {timeout:.0f} s")
        status, value = parent.recv()
    except EOFError:
        raise RuntimeError(f"memory probe {probe} died (exit code {proc.exitcode})") from None
    finally:
        proc.join(30)
        if proc.is_alive():
            proc.kill()
            proc.join()
    if status != "ok":
        raise RuntimeError(f"memory probe {probe} failed: {value}")
    return value


# ---------------------------------------------------------------- commands


@dataclass(frozen=True)
class Command:
    seconds: float
    peak_mb: float | None  # largest sum of resident memory over the command's process tree (sampled)
    peak_process_mb: float | None  # largest resident memory of any one of its processes (sampled)
    returncode: int
    stdout: str
    stderr: str


def _tree_rss(root: int) -> tuple[float, float] | None:
    """(total, largest) resident MB of `root` and its descendants, from /proc; None where there is no /proc."""
    parents: dict[int, int] = {}
    rss: dict[int, float] = {}
    try:
        pids = [int(p) for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return None
    page = os.sysconf("SC_PAGE_SIZE") / MB
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            parents[pid] = int(fields[1])
            rss[pid] = int(fields[21]) * page
        except (OSError, IndexError, ValueError):
            continue
    tree, frontier = {root}, [root]
    while frontier:
        kids = [p for p, parent in parents.items() if parent in frontier and p not in tree]
        tree.update(kids)
        frontier = kids
    values = [rss.get(p, 0.0) for p in tree]
    return sum(values), max(values)


def run_command(
    argv: Sequence[str], *, env: dict[str, str] | None = None, cwd: Path | None = None, interval: float = 0.1
) -> Command:
    """Run a command to completion: its wall time and the peak memory of its process tree.

    The memory is sampled from /proc every `interval` seconds: `ru_maxrss` cannot be used for a command,
    because Linux carries a process's high-water mark over fork and exec, so a command started from this
    (large) process would report this process's peak as its own."""
    import threading

    peaks = [0.0, 0.0]
    done = threading.Event()

    def sample(pid: int) -> None:
        while not done.is_set():
            found = _tree_rss(pid)
            if found is None:
                peaks[0] = peaks[1] = -1.0
                return
            peaks[0], peaks[1] = max(peaks[0], found[0]), max(peaks[1], found[1])
            done.wait(interval)

    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(list(argv), stdout=out, stderr=err, env=env, cwd=cwd)
        sampler = threading.Thread(target=sample, args=(proc.pid,), daemon=True)
        sampler.start()
        proc.wait()
        seconds = time.perf_counter() - start
        done.set()
        sampler.join()
        out.seek(0)
        err.seek(0)
        known = peaks[0] > 0
        return Command(
            seconds,
            peaks[0] if known else None,
            peaks[1] if known else None,
            proc.returncode,
            out.read().decode("utf-8", "replace"),
            err.read().decode("utf-8", "replace"),
        )
