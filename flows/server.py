"""A local Prefect server for schedules, started and stopped by Scrutiny itself.

Kept apart from the flows so that starting it (and pointing PREFECT_API_URL at
it) happens before Prefect is first imported and reads its settings.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

from pipeline.run.childproc import serving


@contextlib.contextmanager
def local_server(port: int = 4200, startup_timeout_s: float = 120.0) -> Iterator[str]:
    """A Prefect server (API, scheduler and services) in a child process on 127.0.0.1, for as long as needed.

    Prefect's ephemeral mode runs no scheduler, so schedules need a real server; this one is started and
    stopped by us, never by hand. Yields its API address.
    """
    api = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_UI_ENABLED": "false",
    }
    env.pop("PREFECT_API_URL", None)
    argv = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port), "--no-ui"]
    with serving(
        argv,
        f"{api}/health",
        what="the Prefect server",
        timeout=startup_timeout_s,
        poll=1.0,
        env=env,
        stop_timeout=20.0,
    ):
        yield api
