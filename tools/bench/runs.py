"""Whole runs: Prefect's overhead, the cold ingest of the corpus and the no-change re-run.

- Prefect: `ingest_flow` (ephemeral mode, two threads) against the flow's own
  task functions called directly (`process_task.fn` on batches, on two threads
  handing them to two worker processes, `store_results` per batch in order,
  then the per-run tasks) on the same inputs, into a
  fresh database each time; a flow task the direct path does not call stops the
  comparison rather than make it unfair. The first flow call, which starts the ephemeral server, is reported
  apart.
- Cold run: `scrutiny ingest <manifest>` in a fresh process into a fresh
  database, as a user runs it, Prefect's start-up included; its wall time gives
  the documents per minute, and its process tree (the command, its PDF reader
  processes, Prefect's server) is sampled for its peak memory. `--quick` runs the
  same tasks directly instead (no Prefect server to wait for).
- Re-run: the same command again over the unchanged corpus; the command answers
  from the ledger without starting Prefect.
"""

from __future__ import annotations

import inspect
import json
import os
import shutil
import sqlite3
import sys
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tools.bench.corpus import Corpus, write_manifest
from tools.bench.measure import Variant, interleave, run_command
from tools.bench.report import StageResult, skipped
from tools.bench.stages import Context, target_for_rerun

PROJECT = Path(__file__).resolve().parents[2]


def environment(out: Path) -> dict[str, str]:
    """The environment of `scrutiny` commands run by the bench: Prefect's state under build/bench, no telemetry."""
    env = dict(os.environ)
    env.update(
        {
            "PREFECT_HOME": str((out / "prefect").resolve()),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "DO_NOT_TRACK": "1",
            "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "300",
            "PREFECT_LOGGING_LEVEL": "WARNING",
        }
    )
    return env


def _call(fn: Callable[..., Any], available: dict[str, Any]) -> Any:
    """Call a task function with the arguments it names, so the direct path follows the flow's tasks."""
    names = list(inspect.signature(fn).parameters)
    missing = [n for n in names if n not in available]
    if missing:
        raise TypeError(f"{fn.__name__} wants {', '.join(missing)}, which the bench's direct path does not know")
    return fn(**{n: available[n] for n in names})


# The tasks of flows/ingest.py the direct path calls, in the flow's order: per document, then once per run over
# the stored documents. `fetch_task` runs only with a watch list, which the bench does not use.
PER_DOCUMENT = ("process_task",)  # then store_results per batch, as the flow does (not a task)
PER_RUN = ("pair_task", "refresh_people_task", "recur_task")
NOT_IN_INGEST = ("fetch_task",)


def unmirrored_tasks() -> list[str]:
    """Tasks of the ingest flow that the direct path does not call (the comparison would be unfair)."""
    from prefect import Task

    import flows.ingest as module

    known = set(PER_DOCUMENT + PER_RUN + NOT_IN_INGEST)
    return sorted(name for name, obj in vars(module).items() if isinstance(obj, Task) and name not in known)


def direct_ingest(paths: list[str], db_path: Path, workers: int = 2, model: str = "default") -> dict[str, int]:
    """What `ingest_flow` does, without Prefect: its task functions on a thread pool, one writer, then the
    per-run tasks over the stored documents; `model` is the classifier, as `scrutiny ingest --model`."""
    import flows.ingest as module
    from flows.ingest import process_task
    from pipeline import __version__, store
    from pipeline.config import Settings
    from pipeline.records import Failure
    from pipeline.run.plan import plan_ingest
    from pipeline.run.runner import store_results
    from pipeline.versions import stage_versions

    settings = Settings(db_path=Path(db_path), workers=workers, classifier=model)
    versions = stage_versions(settings.models_dir, settings.classifier)
    work = plan_ingest(paths, settings)
    run_id = f"direct-{uuid.uuid4().hex[:8]}"
    db = store.open_db(settings.db_path)
    store.start_run(db, run_id, work.inputs, __version__)
    counts = {"added": 0, "failed": 0}
    common = {
        "settings": settings,
        "classify": versions.get("classify", "none") != "none",
        "run_id": run_id,
        "versions": versions,
    }
    stored: list[str] = []
    from pipeline.run.batches import AHEAD, batch_size, batches, in_order, processes

    size = batch_size(len(work.todo), workers)
    with processes(workers), ThreadPoolExecutor(max_workers=workers) as pool:  # as the flow: batches, workers
        done_batches = in_order(
            batches(list(work.todo), size),
            lambda group: pool.submit(_call, process_task.fn, {**common, "fps": group}),
            ahead=AHEAD * workers,
        )
        for batch in done_batches:
            done = [
                (fp, r if not isinstance(r, BaseException) else Failure(fp.source.path, "ingest", str(r), __version__))
                for fp, r in batch
            ]
            store_results(settings, run_id, done, versions)
            for _, result in done:
                if isinstance(result, Failure):
                    counts["failed"] += 1
                else:
                    counts["added"] += 1
                    stored.extend(result.document_ids)
    if stored:
        for name in PER_RUN:
            task = getattr(module, name, None)
            if task is not None:
                _call(task.fn, {**common, "document_ids": stored})
    store.finish_run(db, run_id, counts, "completed", "direct run by the bench")
    db.close()
    return counts


def _fresh(folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for f in folder.glob(f"{name}*"):
        f.unlink()
    return folder / f"{name}.db"


# ---------------------------------------------------------------- Prefect's overhead


def prefect(ctx: Context) -> StageResult:
    title = "Prefect overhead"
    if not ctx.plan.prefect:
        return skipped("prefect", title, "--quick does without Prefect (its ephemeral server takes 10-50 s to start)")
    from flows.ingest import with_task_runner

    if extra := unmirrored_tasks():
        raise RuntimeError(
            f"flows/ingest.py has tasks the bench's direct path does not call ({', '.join(extra)}): "
            f"add them to tools/bench/runs.py so both sides do the same work"
        )
    from pipeline.run.batches import batch_size

    flow = with_task_runner(2)
    folder = ctx.work / "prefect-runs"
    n = 0

    def fresh() -> Path:
        nonlocal n
        n += 1
        return _fresh(folder, f"run-{n}")

    # Two sizes: a flow run's overhead is a fixed part (the flow run's own start and end) plus a part per task
    # run; one size cannot tell them apart, and charging it all to the tasks overstates a long run's share.
    sizes = (ctx.plan.prefect_docs, 4 * ctx.plan.prefect_docs)
    measured = []
    first = 0.0
    for size in sizes:
        entries = list(ctx.corpus.entries[:size])
        manifest = write_manifest(ctx.corpus.root / f"manifest-prefect-{len(entries)}.csv", entries)
        started = time.perf_counter()
        flow(paths=[str(manifest)], db_path=str(_fresh(folder, "first")), workers=2)  # warm-up (and server start)
        first = first or time.perf_counter() - started

        def with_prefect(db: Path, manifest: Path = manifest, expected: int = len(entries)) -> None:
            summary = flow(paths=[str(manifest)], db_path=str(db), workers=2)
            if summary["added"] != expected:
                raise RuntimeError(f"the flow stored {summary['added']} of {expected} documents")

        def direct(db: Path, manifest: Path = manifest) -> None:
            direct_ingest([str(manifest)], db, 2)

        ctx.log(f"  {len(entries)} documents")
        a, b = interleave(
            [
                Variant("ingest_flow, 2 threads (ephemeral Prefect)", with_prefect, setup=fresh),
                Variant("its task functions called directly, 2 threads", direct, setup=fresh),
            ],
            ctx.plan.repeats,
            warmup=False,
            progress=ctx.log,
        )  # the first call above was the warm-up
        tasks = -(-len(entries) // batch_size(len(entries), 2)) * len(PER_DOCUMENT) + len(PER_RUN)
        measured.append((len(entries), tasks, a, b, a.median - b.median))
    shutil.rmtree(folder, ignore_errors=True)
    (docs0, tasks0, _, _, over0), (docs1, tasks1, a, b, over1) = measured
    if tasks1 - tasks0 < 3:  # batch_size's cap on batches per worker: the fit would read noise
        raise RuntimeError(
            f"the Prefect stage's two sizes ({docs0} and {docs1} documents) make {tasks0} and {tasks1} task runs: "
            "too close to tell a flow run's fixed cost from a task run's; use a smaller prefect_docs"
        )
    per_task = max(0.0, (over1 - over0) / (tasks1 - tasks0))
    fixed = max(0.0, over1 - per_task * tasks1)
    return StageResult(
        "prefect",
        "Prefect overhead (ingest)",
        a,
        b,
        ratio=a.median / b.median,
        unit="documents",
        amount=docs1,
        work={"documents": docs1, "tasks": tasks1},
        details={
            "first_flow_call_s": round(first, 3),
            "overhead_per_task_ms": round(per_task * 1000, 1),
            "overhead_fixed_s": round(fixed, 3),
            "overheads_s": {str(docs0): round(over0, 3), str(docs1): round(over1, 3)},
            "note": f"flow runs of {tasks0} and {tasks1} task runs ({docs0} and {docs1} documents) cost "
            f"{over0:.2f} s and {over1:.2f} s more than their task functions called directly (differences of the "
            f"medians): {fixed:.2f} s per flow run plus {per_task * 1000:,.0f} ms per task run; the first flow call "
            f"of a process also starts Prefect's ephemeral server: {first:.1f} s here, not in the medians",
        },
        memory_note="see the whole run",
    )


# ---------------------------------------------------------------- cold run and re-run


def _ingest_argv(manifest: Path, db: Path, model: str) -> list[str]:
    return [
        *(sys.executable, "-m", "pipeline.cli", "ingest", str(manifest), "--db", str(db), "--workers", "2"),
        *("--model", model),
    ]


def _phases(db: Path) -> dict[str, float]:
    """Where a cold run's time went, from the database's own stamps (whole seconds): from the run's start to
    the first document stored (Prefect's start-up is before the run starts), storing all of them, and the tail
    after the last (pairing, people, linking)."""
    from datetime import datetime

    con = sqlite3.connect(db)
    try:
        first, last = con.execute("SELECT min(ingested_at), max(ingested_at) FROM documents").fetchone()
        started, finished = con.execute("SELECT min(started_at), max(finished_at) FROM runs").fetchone()
    finally:
        con.close()
    t = [datetime.fromisoformat(x).timestamp() for x in (started, first, last, finished)]
    return {"to_first_document_s": t[1] - t[0], "documents_s": t[2] - t[1], "tail_s": t[3] - t[2]}


def _summary(stdout: str) -> dict[str, Any]:
    for line in reversed(stdout.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError(f"scrutiny ingest printed no summary: {stdout[-500:]!r}")


def _statements(db: Path) -> int:
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT count(*) FROM statements").fetchone()[0]
    finally:
        con.close()


def cold_run(ctx: Context, corpus: Corpus) -> dict[str, Any]:
    """Ingest the whole corpus into a fresh database; returns the run's figures."""
    db = _fresh(ctx.work / "runs", f"cold-{corpus.documents}")
    ctx.log(f"cold run: {corpus.documents:,} documents ({'scrutiny ingest' if ctx.plan.prefect else 'direct'})")
    if ctx.plan.prefect:
        argv = _ingest_argv(corpus.manifest, db, ctx.plan.model)
        cmd = run_command(argv, env=environment(ctx.plan.out), cwd=PROJECT)
        if cmd.returncode != 0:
            raise RuntimeError(f"scrutiny ingest failed ({cmd.returncode}): {cmd.stderr[-1500:]}")
        summary = _summary(cmd.stdout)
        seconds, peak, mode = cmd.seconds, cmd.peak_mb, "scrutiny ingest, a fresh process, Prefect start-up included"
        largest = cmd.peak_process_mb
        added, failed = summary["added"], summary["failed"]
    else:
        started = time.perf_counter()
        counts = direct_ingest([str(corpus.manifest)], db, 2, ctx.plan.model)
        seconds, peak, mode = time.perf_counter() - started, None, "--quick: the flow's tasks called directly"
        largest = None
        added, failed = counts["added"], counts["failed"]
    from pipeline.run.batches import batch_size

    return {
        "documents": corpus.documents,
        "pdf_pages": corpus.summary()["pdf_pages"],
        "task_runs": -(-corpus.documents // batch_size(corpus.documents, 2)) * len(PER_DOCUMENT) + len(PER_RUN),
        "cold_s": round(seconds, 3),
        "documents_per_minute": round(corpus.documents / seconds * 60, 1),
        "peak_mb": peak and round(peak, 1),
        "peak_process_mb": largest and round(largest, 1),
        "added": added,
        "failed": failed,
        "statements": _statements(db),
        "phases": _phases(db) if ctx.plan.prefect else None,
        "model": ctx.plan.model,
        "mode": mode,
        "db": str(db),
    }


def rerun(ctx: Context, corpus: Corpus, cold: dict[str, Any]) -> StageResult:
    """The no-change re-run: the CLI over the same, unchanged corpus and database."""
    db = Path(cold["db"])
    argv, env = _ingest_argv(corpus.manifest, db, ctx.plan.model), environment(ctx.plan.out)
    peaks: list[float] = []

    def again() -> None:
        cmd = run_command(argv, env=env, cwd=PROJECT)
        summary = _summary(cmd.stdout)
        if (
            cmd.returncode != 0
            or summary["run_id"] is not None
            or summary["unchanged"] != corpus.documents - cold["failed"]
        ):
            raise RuntimeError(f"the re-run did work or failed: {summary}")
        if cmd.peak_mb:
            peaks.append(cmd.peak_mb)

    from pipeline.config import Settings
    from pipeline.run.plan import plan_ingest

    settings = Settings(db_path=db)
    t, p = interleave(
        [
            Variant("scrutiny ingest, nothing changed", again),
            Variant("plan_ingest alone (in process)", lambda: plan_ingest([str(corpus.manifest)], settings)),
        ],
        ctx.plan.repeats,
        progress=ctx.log,
    )
    cold_s = float(cold["cold_s"])
    from tools.bench.measure import Memory, Timing

    return StageResult(
        "rerun",
        f"No-change re-run ({corpus.documents:,} documents)",
        t,
        Timing("cold run", [cold_s]),
        ratio=t.median / cold_s,
        ratio_kind="share",
        target=target_for_rerun(cold_s),
        unit="documents",
        amount=corpus.documents,
        work={"documents": corpus.documents},
        details={
            "plan_ingest_median_s": round(p.median, 4),
            "limit_s": round(max(5.0, 0.02 * cold_s), 3),
            "note": f"the command in a fresh process, Python start-up included (the planning itself takes "
            f"{p.median:.2f} s); the cold run is a single run ({cold['mode']})",
        },
        memory=Memory(max(peaks), None, None, "process tree RSS, sampled") if peaks else None,
    )
