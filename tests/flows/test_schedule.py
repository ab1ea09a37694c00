"""Scheduled and scaled-out runs: a real cron schedule on a local Prefect server, and Dask."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from conftest import ROOT

from pipeline import store
from pipeline.run.childproc import free_port

pytestmark = pytest.mark.slow


def documents_in(db) -> int:
    try:
        with sqlite3.connect(db) as con:
            return con.execute("select count(*) from documents").fetchone()[0]
    except sqlite3.Error:
        return 0


def run_status(db) -> str | None:
    with sqlite3.connect(db) as con:
        row = con.execute("select status from runs order by started_at limit 1").fetchone()
    return row[0] if row else None


def test_schedule_runs_the_ingest_flow_on_its_cron(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("The improvement board reviewed progress on assessments in March.\n")
    (docs / "b.txt").write_text("Members noted that supervision of social workers is now monthly.\n")
    db = tmp_path / "data" / "scrutiny.db"
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect")}
    env.pop("PREFECT_API_URL", None)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pipeline.cli",
            "schedule",
            str(docs),
            "--db",
            str(db),
            "--cron",
            "* * * * *",
            "--server-port",
            str(free_port()),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 240
        while documents_in(db) < 2 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(3)
        assert documents_in(db) == 2, "the scheduled run did not ingest the folder"
        # documents are stored before the run's last tasks (people, recurrence): wait for the run to finish
        while run_status(db) == "running" and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(1)
        assert run_status(db) == "completed"
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def test_ingest_scales_out_on_dask(prefect_harness, tmp_path):
    from flows.ingest import with_task_runner

    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(4):
        (docs / f"{i}.txt").write_text(f"Report {i}: the council recruited {i + 3} foster carers this year.\n")
    (docs / "broken.pdf").write_bytes(b"%PDF-1.7 not really")  # a failure travels back from a Dask worker too
    flow = with_task_runner(workers=2, dask=True)
    summary = flow(paths=[str(docs)], db_path=str(tmp_path / "dask.db"), workers=2)
    assert summary["added"] == 4 and summary["failed"] == 1
    assert store.open_db(tmp_path / "dask.db")["statements"].count == 4

    from tools.drills.compare import differences

    local = with_task_runner(workers=2)  # the same inputs on the local thread runner
    local(paths=[str(docs)], db_path=str(tmp_path / "local.db"), workers=2)
    assert differences(tmp_path / "dask.db", tmp_path / "local.db") == []


def test_the_scheduled_deployment_can_run_its_tasks_on_a_dask_cluster(prefect_harness, tmp_path, monkeypatch):
    """`scrutiny schedule --dask-address`: what the deployment would run on its cron, run once, on a real
    (in-process) Dask cluster; the documents reach the database and the tasks went through the scheduler."""
    from distributed import LocalCluster

    from flows import schedule
    from flows.ingest import ingest_flow

    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(3):
        (docs / f"{i}.txt").write_text(f"Report {i}: the council recruited {i + 3} foster carers this year.\n")
    db = tmp_path / "scheduled.db"
    served = []
    # serve() would block polling for scheduled runs; keep what it was given and run that once instead.
    monkeypatch.setattr(type(ingest_flow), "serve", lambda self, **kw: served.append((self, kw)))
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as cluster:
        schedule.serve_ingest([str(docs)], str(db), dask_address=cluster.scheduler_address)
        [(flow, kw)] = served
        assert kw["schedules"][0].cron == schedule.DEFAULT_CRON
        summary = flow(**kw["parameters"])
        ran_on_dask = set(cluster.scheduler.task_prefixes)
    assert summary["added"] == 3 and summary["failed"] == 0
    assert documents_in(db) == 3 and store.open_db(db)["statements"].count == 3
    assert ran_on_dask, "no task reached the Dask scheduler"
