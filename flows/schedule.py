"""Deployments and schedules: the ingest flow served on a cron schedule.

`scrutiny schedule` runs `serve_ingest`, which registers a deployment of the
ingest flow with a cron schedule and then polls for and executes its runs in
this process, until stopped. Without PREFECT_API_URL it uses Prefect's
embedded local server (state under data/prefect); with PREFECT_API_URL set it
registers with that server instead (see the README for a server and worker).
"""

from __future__ import annotations

from typing import Any

from flows.ingest import ingest_flow, with_task_runner

DEFAULT_CRON = "0 6 * * *"  # daily at 06:00
DEPLOYMENT_NAME = "scrutiny-daily-ingest"


def deployment_parameters(
    paths: list[str],
    db_path: str,
    meta: dict[str, Any] | None = None,
    workers: int = 2,
    watchlist: str | None = None,
    contact: str | None = None,
) -> dict[str, Any]:
    return {
        "paths": list(paths),
        "db_path": db_path,
        "meta": meta,
        "workers": workers,
        "watchlist": watchlist,
        "contact": contact,
    }


def serve_ingest(
    paths: list[str],
    db_path: str,
    *,
    cron: str = DEFAULT_CRON,
    timezone: str = "Europe/London",
    meta: dict[str, Any] | None = None,
    workers: int = 2,
    watchlist: str | None = None,
    contact: str | None = None,
    name: str = DEPLOYMENT_NAME,
    dask_address: str | None = None,
) -> None:
    """Serve the ingest flow on a cron schedule (blocks until interrupted); with `dask_address`, every scheduled
    run sends its per-document tasks to that Dask cluster."""
    from prefect.schedules import Schedule

    flow = with_task_runner(workers, dask_address=dask_address) if dask_address else ingest_flow
    flow.serve(
        name=name,
        schedules=[Schedule(cron=cron, timezone=timezone)],
        parameters=deployment_parameters(paths, db_path, meta, workers, watchlist, contact),
        description="Ingest new and changed documents into the Scrutiny database.",
        tags=["scrutiny", "ingest"],
    )
