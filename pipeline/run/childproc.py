"""Child processes that serve HTTP on loopback: start one, wait until it answers, stop it whatever happens.

Used by `scrutiny schedule` (its own Prefect server), the benchmark (search through `scrutiny serve`) and the
drills (a served database swapped under load). Standard library only: the ready check must not depend on the
HTTP client the caller measures with.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence


class ServeError(RuntimeError):
    """The child exited before it answered, or did not answer in time."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Loopback needs no proxy: ignore http_proxy and friends, which would otherwise send 127.0.0.1 through one.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def answers(url: str, timeout: float = 2.0) -> bool:
    """True when `url` answers 200 now."""
    try:
        with _DIRECT.open(url, timeout=timeout) as r:  # loopback only: callers pass 127.0.0.1 addresses
            return r.status == 200
    except OSError:  # refused, reset, timed out, or an HTTP error status while it starts
        return False


@contextlib.contextmanager
def serving(
    argv: Sequence[str],
    ready_url: str,
    *,
    what: str,
    timeout: float = 90.0,
    poll: float = 0.2,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike | None = None,
    stop_timeout: float = 10.0,
    own_session: bool = False,
) -> Iterator[subprocess.Popen]:
    """Run `argv` until the block ends; the block starts once `ready_url` answers 200.

    Raises ServeError, naming `what` and the end of the child's error output, when the child exits first or
    does not answer within `timeout` seconds. On leaving, the child gets SIGTERM, then SIGKILL after
    `stop_timeout` seconds. With `own_session` the child leads a new process group and the signals go to the
    whole group (a server that starts workers of its own).
    """
    with tempfile.TemporaryFile() as errors:  # a file, not a pipe: a chatty child never blocks on a full pipe
        proc = subprocess.Popen(
            list(argv),
            stdout=subprocess.DEVNULL,
            stderr=errors,
            env=dict(env) if env else None,
            cwd=cwd,
            start_new_session=own_session,
        )

        def tail() -> str:
            errors.seek(0)
            text = errors.read().decode("utf-8", "replace").strip()
            return f": {text[-800:]}" if text else ""

        try:
            deadline = time.monotonic() + timeout
            while not answers(ready_url):
                if proc.poll() is not None:
                    raise ServeError(f"{what} exited with code {proc.returncode} before answering{tail()}")
                if time.monotonic() > deadline:
                    raise ServeError(f"{what} did not answer {ready_url} within {timeout:.0f} s{tail()}")
                time.sleep(poll)
            yield proc
        finally:
            _stop(proc, stop_timeout, own_session)


def _stop(proc: subprocess.Popen, wait: float, group: bool) -> None:
    def send(sig: int) -> None:
        try:
            os.killpg(proc.pid, sig) if group else proc.send_signal(sig)
        except ProcessLookupError:  # already gone
            pass

    if proc.poll() is None:
        send(signal.SIGTERM)
    try:
        proc.wait(wait)
    except subprocess.TimeoutExpired:
        send(signal.SIGKILL)
        proc.wait()
