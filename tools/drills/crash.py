"""kill -9 at seeded random moments, then a re-run, then a comparison with an uninterrupted run.

Most trials kill the direct path (`tools.drills.worker`: the flow's plan,
steps and single writer on threads, without Prefect's 15-20 s start-up); some
kill the real `scrutiny ingest` process, Prefect and all. The whole process
group is killed (SIGKILL), so PDF reader children and Prefect's server die with
it, as they would in a power cut. The kill moment is drawn (seeded) as "once
the run has stored k documents, plus up to 1.5 s", k from 0 to all of them
(all: while it links and finishes), which reaches every phase of a run whatever
the machine's speed. The re-run uses the direct path.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from pipeline.run.inputs import discover
from pipeline.store.check import integrity_problems
from tools.drills.compare import differences, lost_inputs, partial_documents

ROOT = Path(__file__).resolve().parents[2]


def _command(kind: str, paths: list[str], db: Path) -> list[str]:
    if kind == "prefect":
        return [str(Path(sys.executable).parent / "scrutiny"), "ingest", *paths, "--db", str(db)]
    return [sys.executable, "-m", "tools.drills.worker", *paths, "--db", str(db)]


def _environment(work: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PREFECT_HOME": str(work / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_LOGGING_LEVEL": "WARNING",
    }


def _run_started(db: Path) -> bool:
    """Whether the run has begun its work (its `runs` row is written; before that it only plans)."""
    if not db.exists():
        return False
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.05)
        try:
            return con.execute("SELECT count(*) FROM runs").fetchone()[0] > 0
        finally:
            con.close()
    except sqlite3.Error:
        return False


def _wait_for_start(proc: subprocess.Popen, db: Path, limit: float = 600.0) -> float:
    started = time.monotonic()
    while proc.poll() is None and not _run_started(db) and time.monotonic() - started < limit:
        time.sleep(0.05)
    return time.monotonic() - started


def _documents(db: Path) -> int:
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.05)
        try:
            return con.execute("SELECT count(*) FROM documents").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return -1


def _wait_for_documents(proc: subprocess.Popen, db: Path, count: int, limit: float = 900.0) -> None:
    started = time.monotonic()
    while proc.poll() is None and _documents(db) < count and time.monotonic() - started < limit:
        time.sleep(0.02)


def _state(db: Path) -> str:
    """What the killed run left: how many documents, and whether linking was still due."""
    if not db.exists():
        return "no database yet"
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        docs = con.execute("SELECT count(*) FROM documents").fetchone()[0]
        due = con.execute(
            "SELECT count(*) FROM sources WHERE status = 'ok' AND "
            "json_extract(versions, '$.link') IN ('pending', 'stale')"
        ).fetchone()[0]
        con.close()
        return f"{docs} documents stored, {due} not linked"
    except sqlite3.Error as exc:
        return f"unreadable until recovery ({exc})"


def kill_trials(
    paths: list[str], reference: Path, work: Path, *, trials: int = 20, seed: int = 1, prefect_trials: int = 2
) -> list[dict[str, Any]]:
    """Kill -9 `trials` runs mid-way (the first `prefect_trials` of them the real `scrutiny ingest`); each
    trial's database must equal `reference` (an uninterrupted run) after one re-run. Runs that finished
    before their kill moment are checked too, but do not count towards `trials`."""
    from pipeline.run.runner import ingest_direct

    work.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    inputs = [s.path for s in discover(paths)]
    with sqlite3.connect(f"file:{reference}?mode=ro", uri=True) as con:
        stored = con.execute("SELECT count(*) FROM documents").fetchone()[0]
    results: list[dict[str, Any]] = []
    kills = {"prefect": 0, "direct": 0}
    for n in range(3 * trials):  # a run that ends before its kill moment does not count: draw again
        kind = "prefect" if kills["prefect"] < prefect_trials else "direct"
        if sum(kills.values()) >= trials:
            break
        # the moment: once the run has stored a random number of documents (0 to all of them, the last
        # meaning "while it links and finishes"), plus a random fraction of a second or so
        after_documents, extra = rng.randint(0, stored), round(rng.uniform(0.0, 1.5), 2)
        db = work / f"trial-{n:02d}.db"
        for stale in (db, Path(f"{db}.lock"), Path(f"{db}-journal")):
            stale.unlink(missing_ok=True)
        proc = subprocess.Popen(
            _command(kind, paths, db),
            cwd=ROOT,
            env=_environment(work),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        _wait_for_start(proc, db)
        _wait_for_documents(proc, db, after_documents)
        time.sleep(extra)
        finished_first = proc.poll() is not None
        if not finished_first:
            os.killpg(proc.pid, signal.SIGKILL)
            kills[kind] += 1
        proc.wait()
        left = _state(db)
        rerun = ingest_direct(paths, db)
        problems = (
            integrity_problems(db)
            + partial_documents(db)
            + differences(db, reference)
            + [f"lost: {p}" for p in lost_inputs(db, inputs)]
        )
        results.append(
            {
                "trial": n,
                "process": "scrutiny ingest (Prefect)" if kind == "prefect" else "direct path",
                "kill_after_documents": after_documents,
                "then_s": extra,
                "finished_before_kill": finished_first,
                "left": left,
                "rerun": rerun.get("message"),
                "problems": problems[:5],
                "held": not problems,
            }
        )
        for left_over in (db, Path(f"{db}.lock")):
            left_over.unlink(missing_ok=True)
    return results
