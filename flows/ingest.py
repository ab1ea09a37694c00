"""The ingest flow: sources -> extract -> segment -> (classify) in Prefect tasks, then store.

No parsing, SQL or model code lives here: every task calls one public function
of `pipeline/`. Only reading bytes is retried (I/O); a document that cannot be
read becomes a `failures` row and the run goes on.

The per-document work goes in batches (pipeline.run.batches): one `process`
task run per batch of documents, not per document, so orchestration stays a
small part of a run; on the default engine each batch is processed in a pool of
worker processes (every core), while the flow stores finished batches itself
(one writer; storing is not a task of its own).
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.context import FlowRunContext
from prefect.task_runners import ThreadPoolTaskRunner

from pipeline.config import Settings
from pipeline.records import Source
from pipeline.run.batches import AHEAD, batch_size, batches, in_order, process_batch, processes, release
from pipeline.run.inputs import Fingerprint
from pipeline.run.plan import plan_ingest
from pipeline.run.runner import (  # noqa: F401
    Outcome,
    Processed,
    Reclassified,
    link_stored,
    new_run_id,
    pair_documents,
    process_source,
    refresh_people,
    run_ingest,
    store_result,
    store_results,
)
from pipeline.versions import stage_versions


@task(name="process", cache_policy=NO_CACHE, persist_result=False)
def process_task(fps: list[Fingerprint], settings: Settings, classify: bool) -> list[Outcome]:
    """Redo a batch of sources, each from the earliest stage that needs it (extract, re-segment the stored
    text, or re-classify the stored statements), in the worker processes when the flow runs on threads.
    Bad input comes back as a Failure; reading a file is retried (pipeline.run.batches)."""
    return process_batch(fps, settings, classify)


@task(name="fetch-sources", cache_policy=NO_CACHE, persist_result=False)  # the HTTP client retries itself
def fetch_task(watchlist: str, settings: Settings, only: list[str] | None = None) -> list[Any]:
    """Fetch every watched source into the archive; returns one SourceRun per source."""
    from pipeline import store
    from pipeline.fetch import SourceHealth, fetch_sources, load_watchlist

    with store.connect(settings.db_path) as db:
        health = {name: SourceHealth(**row) for name, row in store.source_health(db).items()}
    sources = [s for s in load_watchlist(Path(watchlist)) if not only or s.name in only]
    return fetch_sources(sources, settings, health=health)


@task(name="people", cache_policy=NO_CACHE, persist_result=False)
def refresh_people_task(settings: Settings) -> int:
    """Rebuild the people table from every name mention (variants merged, near misses flagged)."""
    return refresh_people(settings)


@task(name="pair", cache_policy=NO_CACHE, persist_result=False)
def pair_task(settings: Settings, document_ids: list[str]) -> int:
    """Pair the new documents with their other-language versions (English and Welsh)."""
    return pair_documents(settings, document_ids)


@task(name="recur", cache_policy=NO_CACHE, persist_result=False)
def recur_task(settings: Settings, document_ids: list[str]) -> int:
    """Link what the ledger says is due: the new documents' recommendations and concerns into the stored
    concerns, incrementally, or everything again after a new linker. `document_ids` (the documents this run
    stored) are always among them; returns the number of documents linked."""
    return link_stored(settings)


class UnhealthySources(RuntimeError):
    """Raised at the end of a run (after everything is stored) so the run ends failed, naming the sources."""


def with_task_runner(workers: int = 2, dask: bool = False, dask_address: str | None = None):
    """The ingest flow on a chosen engine: threads on this machine (default), or Dask through prefect-dask,
    either an existing cluster (`dask_address`, e.g. tcp://scheduler:8786) or a local one of `workers` processes."""
    from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

    runner: TaskRunner[Any]
    if dask or dask_address:
        from dask import config as dask_config
        from prefect_dask import DaskTaskRunner

        # Each PDF is parsed in a child process with a memory cap; Dask workers may only have children
        # when they are not daemons. (On an existing cluster, set this in its own configuration.)
        dask_config.set({"distributed.worker.daemon": False})
        if dask_address:
            runner = DaskTaskRunner(address=dask_address)
        else:
            runner = DaskTaskRunner(
                cluster_kwargs={
                    "n_workers": workers,
                    "threads_per_worker": 1,
                    "processes": True,
                    "dashboard_address": None,
                }
            )
    else:
        runner = ThreadPoolTaskRunner(max_workers=max(1, workers))
    # Prefect's stubs type task_runner as TaskRunner[PrefectFuture[Any]] with an invariant parameter, so none
    # of its own runners (ThreadPoolTaskRunner: TaskRunner[PrefectConcurrentFuture]) fits; runtime is fine.
    return ingest_flow.with_options(task_runner=runner)  # type: ignore[arg-type]


@flow(name="scrutiny-ingest", log_prints=False, persist_result=False)
def ingest_flow(
    paths: list[str],
    db_path: str = "data/scrutiny.db",
    meta: dict[str, Any] | None = None,
    workers: int = 2,
    watchlist: str | None = None,
    contact: str | None = None,
    fetch_options: dict[str, Any] | None = None,
    lock_wait: float = 0.0,
    classifier: str = "default",
) -> dict:
    """Ingest documents from files, folders and manifests (and, with `watchlist`, what the watched
    publishers have newly published) into the SQLite database. One run per database at a time: a second
    one waits `lock_wait` seconds for the first, then refuses (pipeline.run.lock)."""
    from dataclasses import asdict

    from pipeline import store
    from pipeline.run.lock import run_lock

    logger = get_run_logger()
    fetch_extra = {**(fetch_options or {}), **({"contact": contact} if contact else {})}
    settings = Settings(db_path=Path(db_path), workers=workers, classifier=classifier, extra={"fetch": fetch_extra})
    versions = stage_versions(settings.models_dir, settings.classifier)
    classify = versions["classify"] != "none"
    if not classify:
        logger.warning(
            "no trained classifier in %s: statements are stored without area labels (run `scrutiny train`)",
            settings.models_dir,
        )
    with run_lock(settings.db_path, timeout=lock_wait):
        fetched: list[Source] = []
        unhealthy: list[str] = []
        if watchlist:
            runs = fetch_task(watchlist, settings)
            with store.connect(settings.db_path) as db:
                store.save_source_health(db, [asdict(r.health) for r in runs])
            fetched = [s for r in runs for s in r.new_sources]
            unhealthy = [
                f"{r.health.name} ({r.health.error or 'nothing new for longer than expected'})"
                for r in runs
                if not r.health.ok or r.health.stale
            ]
        work = plan_ingest(paths, settings, meta, extra=fetched)

        # CPU work runs on the task runner in batches (threads handing batches to worker processes by default,
        # Dask when asked); the database has one writer: this flow, one document per
        # transaction. At most AHEAD batches per worker are in flight.
        def process_many(fps):
            size = batch_size(len(fps), workers)
            yield from in_order(
                batches(fps, size),
                lambda group: process_task.submit(group, settings, classify),
                ahead=AHEAD * max(1, workers),
            )
            release()  # the last batch is stored: the workers' models are let go before pairing, people and linking

        local = isinstance(FlowRunContext.get().task_runner, ThreadPoolTaskRunner)  # type: ignore[union-attr]
        with processes(workers) if local else contextlib.nullcontext():
            summary = run_ingest(
                work,
                settings,
                versions,
                process_many=process_many,
                # storing is this process's own step, not a task: one writer, nothing to retry or spread, and as
                # a task it was half of the run's task runs (flow overhead, no work)
                store_many=lambda run_id, done: store_results(settings, run_id, done, versions),
                people=lambda: refresh_people_task(settings),
                pair=lambda ids: pair_task(settings, ids),
                link=lambda ids: recur_task(settings, ids),
                unhealthy=unhealthy,
            )
    for failure in summary["failures"]:
        logger.warning(f"failed: {failure['source_path']} ({failure['reason']})")
    logger.info(summary["message"])
    if unhealthy:
        raise UnhealthySources(summary["message"])
    return summary
