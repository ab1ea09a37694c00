"""A local Prefect server for schedules, started and stopped by Scrutiny itself.

Kept apart from the flows so that starting it (and pointing PREFECT_API_URL at
it) happens before Prefect is first imported and reads its settings.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import urllib.request
from typing import Iterator


@contextlib.contextmanager
def local_server(port: int = 4200, startup_timeout_s: float = 120.0) -> Iterator[str]:
    """A Prefect server (API, scheduler and services) in a child process on 127.0.0.1, for as long as needed.

    Prefect's ephemeral mode runs no scheduler, so schedules need a real server; this one is started and
    stopped by us, never by hand. Yields its API address.
    """
    api = f"http://127.0.0.1:{port}/api"
    env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1",
           "PREFECT_UI_ENABLED": "false"}
    env.pop("PREFECT_API_URL", None)
    proc = subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
                             "--port", str(port), "--no-ui"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + startup_timeout_s
        while True:
            try:
                with urllib.request.urlopen(f"{api}/health", timeout=2) as r:  # loopback only
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None:
                raise RuntimeError(f"the Prefect server exited with code {proc.returncode}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the Prefect server did not start within {startup_timeout_s:.0f} s")
            time.sleep(1)
        yield api
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
