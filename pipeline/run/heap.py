"""Give freed heap memory back to the system between batches.

A long run allocates and frees a batch's documents again and again, on several threads (the pool's result
thread unpickles what the workers send, the flow's thread stores it). glibc's allocator keeps what was freed
in each thread's arena for reuse, so the process's resident size creeps up with the number of batches though
nothing is kept: on the first 832 documents of the 10,000-document bench (batches of 64), the flow's process
held 311 MB without `give_back` after each batch and 265 MB with it. `give_back` asks the allocator to return
the free pages (`malloc_trim(0)`); elsewhere than on Linux, or where the C library has no such call (musl), it
does nothing.

`limit_arenas` caps the number of those arenas (glibc makes up to eight per core, one for each thread that
allocates while the others hold theirs): the run's processes have a few busy threads (the encoder's two, the
pool's result thread, Prefect's), and each arena keeps its own free pages between batches. The CLI's process and
each worker cap theirs at two. With two in every process of a 1,000-document run with the encoder (set through
the environment), the run peaked at 1,541 MB over all its processes against 1,632 MB, at the same speed; with
the cap in the command's process and the workers only, 1,529 and 1,543 MB in two later runs.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import sys
from collections.abc import Callable
from typing import Any


def _libc(name: str, argtypes: list[Any]) -> Any | None:
    """The C library's function `name`, returning int, or None off Linux or where the library has none."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = getattr(ctypes.CDLL(ctypes.util.find_library("c") or None), name)
    except (OSError, AttributeError, TypeError):
        return None
    function.argtypes = argtypes
    function.restype = ctypes.c_int
    return function


@functools.cache
def _trim() -> Callable[[int], int] | None:
    return _libc("malloc_trim", [ctypes.c_size_t])


def give_back() -> bool:
    """Return free heap pages to the system; True when the allocator released any."""
    trim = _trim()
    if trim is None:
        return False
    return bool(trim(0))


M_ARENA_MAX = -8  # mallopt's parameter number in glibc's malloc.h
ARENAS = 2


@functools.cache
def _mallopt() -> Callable[[int, int], int] | None:
    return _libc("mallopt", [ctypes.c_int, ctypes.c_int])


def limit_arenas(arenas: int = ARENAS) -> bool:
    """Cap this process's allocator arenas at `arenas` (threads beyond share them); True when the C library took
    it. Call it early, before the threads that allocate: arenas already made stay. Nothing is changed when the
    user tuned the allocator (MALLOC_ARENA_MAX or a glibc.malloc.arena_max tunable in the environment), and
    nothing is passed to the processes this one starts: the run's workers call it themselves."""
    if os.environ.get("MALLOC_ARENA_MAX") or "arena_max" in os.environ.get("GLIBC_TUNABLES", ""):
        return False
    mallopt = _mallopt()
    return mallopt is not None and bool(mallopt(M_ARENA_MAX, arenas))
