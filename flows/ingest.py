"""The ingest flow: sources -> extract -> segment -> (classify) -> store, as Prefect tasks.

No parsing, SQL or model code lives here: every task calls one public function
of `pipeline/`. Only reading bytes is retried (I/O); a document that cannot be
read becomes a `failures` row and the run goes on.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from pipeline import __version__
from pipeline.config import Settings
from pipeline.errors import PipelineError
from pipeline.records import Document, Failure, Prediction, Source, Statement
from pipeline.sources import Fingerprint
from pipeline.workplan import plan_ingest
from pipeline.versions import stage_versions


@dataclass(frozen=True)
class Processed:
    document: Document
    statements: list[Statement]
    predictions: list[Prediction]
    # The other language of a bilingual file (pipeline.extract.bilingual), stored with it as its own document.
    parts: list["Processed"] = field(default_factory=list)


def _retry_on_io(task, task_run, state) -> bool:
    """Retry only transient I/O errors (reading the file), never a file that is simply bad."""
    try:
        state.result()
    except OSError:
        return True
    except Exception:
        return False
    return False


@task(name="process", retries=2, retry_delay_seconds=1, retry_condition_fn=_retry_on_io, cache_policy=NO_CACHE,
      persist_result=False)
def process_task(fp: Fingerprint, settings: Settings, classify: bool) -> Processed | Failure:
    """Read, extract, segment and (when a model exists) classify one source, the English statements in
    one batch. Bad input comes back as a Failure; only I/O errors raise."""
    from pipeline.extract import extract_bytes
    from pipeline.segment import segment

    from pipeline.extract.bilingual import split_languages

    data = Path(fp.source.path).read_bytes()  # OSError here is retried
    try:
        done = []
        for document in split_languages(extract_bytes(data, fp.source, settings), fp.source.meta.get("language")):
            statements = segment(document, settings)
            predictions: list[Prediction] = []
            if classify:
                from pipeline.classify import classify_statements

                # English-only model: Welsh statements are kept and searchable, but not labelled.
                predictions = classify_statements([s for s in statements if s.language == "en"], settings)
            done.append(Processed(document, statements, predictions))
        return Processed(done[0].document, done[0].statements, done[0].predictions, parts=done[1:])
    except PipelineError as exc:
        return Failure(fp.source.path, exc.stage, str(exc), settings.software_version)


@task(name="fetch-sources", cache_policy=NO_CACHE, persist_result=False)  # the HTTP client retries itself
def fetch_task(watchlist: str, settings: Settings, only: list[str] | None = None) -> list[Any]:
    """Fetch every watched source into the archive; returns one SourceRun per source."""
    from pipeline import store
    from pipeline.fetch import SourceHealth, fetch_sources, load_watchlist

    db = store.open_db(settings.db_path)
    try:
        health = {name: SourceHealth(**row) for name, row in store.source_health(db).items()}
    finally:
        db.close()
    sources = [s for s in load_watchlist(Path(watchlist)) if not only or s.name in only]
    return fetch_sources(sources, settings, health=health)


@task(name="people", cache_policy=NO_CACHE, persist_result=False)
def refresh_people_task(settings: Settings) -> int:
    """Rebuild the people table from every name mention (variants merged, near misses flagged)."""
    from pipeline import store
    from pipeline.entities import merge_people

    db = store.open_db(settings.db_path)
    try:
        return store.replace_people(db, merge_people(store.person_mentions(db)))
    finally:
        db.close()


@task(name="pair", cache_policy=NO_CACHE, persist_result=False)
def pair_task(settings: Settings, document_ids: list[str]) -> int:
    """Pair the new documents with their other-language versions (English and Welsh)."""
    from pipeline import store
    from pipeline.pairing import pair_new_documents

    db = store.open_db(settings.db_path)
    try:
        return len(pair_new_documents(db, document_ids))
    finally:
        db.close()


@task(name="recur", cache_policy=NO_CACHE, persist_result=False)
def recur_task(settings: Settings, document_ids: list[str]) -> int:
    """Link the recommendations and concerns of new documents into the stored concerns, incrementally."""
    from pipeline import store
    from pipeline.linking import link_new_documents

    db = store.open_db(settings.db_path)
    try:
        return link_new_documents(db, settings, document_ids)
    finally:
        db.close()


class UnhealthySources(RuntimeError):
    """Raised at the end of a run (after everything is stored) so the run ends failed, naming the sources."""



@task(name="store", cache_policy=NO_CACHE, persist_result=False)
def store_task(settings: Settings, run_id: str, fp: Fingerprint, result: Processed | Failure,
               versions: dict[str, str]) -> str:
    from pipeline import store

    db = store.open_db(settings.db_path)
    try:
        if isinstance(result, Failure):
            store.save_failure(db, result, run_id=run_id, source=fp.ledger_fields(), versions=versions)
            return "failed"
        replaced = store.save_document(db, result.document, result.statements, run_id=run_id,
                                       source=fp.ledger_fields(), versions=versions, predictions=result.predictions,
                                       parts=[(p.document, p.statements, p.predictions) for p in result.parts])
        return "replaced" if replaced else "stored"
    finally:
        db.close()


def with_task_runner(workers: int = 2, dask: bool = False, dask_address: str | None = None):
    """The ingest flow on a chosen engine: threads on this machine (default), or Dask through prefect-dask,
    either an existing cluster (`dask_address`, e.g. tcp://scheduler:8786) or a local one of `workers` processes."""
    if dask or dask_address:
        import dask.config
        from prefect_dask import DaskTaskRunner

        # Each PDF is parsed in a child process with a memory cap; Dask workers may only have children
        # when they are not daemons. (On an existing cluster, set this in its own configuration.)
        dask.config.set({"distributed.worker.daemon": False})
        if dask_address:
            return ingest_flow.with_options(task_runner=DaskTaskRunner(address=dask_address))
        return ingest_flow.with_options(task_runner=DaskTaskRunner(
            cluster_kwargs={"n_workers": workers, "threads_per_worker": 1, "processes": True,
                            "dashboard_address": None}))
    from prefect.task_runners import ThreadPoolTaskRunner

    return ingest_flow.with_options(task_runner=ThreadPoolTaskRunner(max_workers=max(1, workers)))


def new_run_id() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ-") + uuid.uuid4().hex[:6]


@flow(name="scrutiny-ingest", log_prints=False, persist_result=False)
def ingest_flow(paths: list[str], db_path: str = "data/scrutiny.db", meta: dict[str, Any] | None = None,
                workers: int = 2, watchlist: str | None = None, contact: str | None = None,
                fetch_options: dict[str, Any] | None = None) -> dict:
    """Ingest documents from files, folders and manifests (and, with `watchlist`, what the watched
    publishers have newly published) into the SQLite database."""
    from dataclasses import asdict

    from pipeline import store

    logger = get_run_logger()
    fetch_extra = {**(fetch_options or {}), **({"contact": contact} if contact else {})}
    settings = Settings(db_path=Path(db_path), workers=workers, extra={"fetch": fetch_extra})
    versions = stage_versions(settings.models_dir)
    classify = versions["classify"] != "none"
    if not classify:
        logger.warning("no trained classifier in %s: statements are stored without area labels "
                       "(run `scrutiny train`)", settings.models_dir)
    fetched: list[Source] = []
    unhealthy: list[str] = []
    if watchlist:
        runs = fetch_task(watchlist, settings)
        db = store.open_db(settings.db_path)
        store.save_source_health(db, [asdict(r.health) for r in runs])
        db.close()
        fetched = [s for r in runs for s in r.new_sources]
        unhealthy = [f"{r.health.name} ({r.health.error or 'nothing new for longer than expected'})"
                     for r in runs if not r.health.ok or r.health.stale]
    work = plan_ingest(paths, settings, meta, extra=fetched)
    run_id = new_run_id()
    db = store.open_db(settings.db_path)
    store.start_run(db, run_id, work.inputs, __version__)
    counts = {"added": 0, "changed": 0, "unchanged": len(work.unchanged), "deleted": 0, "failed": 0}
    failures: list[dict[str, str]] = []
    previously = store.ledger(db)

    for source, reason in work.unreadable:
        store.save_failure(db, Failure(source.path, "source", reason, __version__), run_id=run_id,
                           source={"source_path": source.path}, versions=versions)
        counts["failed"] += 1
        failures.append({"source_path": source.path, "stage": "source", "reason": reason})

    # CPU work runs on the task runner (threads by default, Dask when asked); the database has one writer: here.
    futures = [(fp, process_task.submit(fp, settings, classify)) for fp in work.todo]
    stored_ids: list[str] = []
    for fp, future in futures:
        result: Processed | Failure
        try:
            result = future.result()
        except Exception as exc:  # a bug or a lost file costs one document, not the run
            result = Failure(fp.source.path, "ingest", f"{type(exc).__name__}: {exc}", __version__)
        outcome = store_task(settings, run_id, fp, result, versions)
        if isinstance(result, Failure):
            counts["failed"] += 1
            failures.append({"source_path": result.source_path, "stage": result.stage, "reason": result.reason})
            logger.warning("failed: %s (%s)", result.source_path, result.reason)
        else:
            counts["changed" if fp.source.path in previously else "added"] += 1
            counts["deleted"] += outcome == "replaced"
            stored_ids.append(result.document.id)
            stored_ids.extend(p.document.id for p in result.parts)

    if stored_ids:
        pair_task(settings, stored_ids)
        refresh_people_task(settings)
        recur_task(settings, stored_ids)

    message = (f"{counts['added']} added, {counts['changed']} changed, {counts['unchanged']} unchanged, "
               f"{counts['deleted']} deleted, {counts['failed']} failed")
    if unhealthy:
        message += "; sources needing attention: " + ", ".join(unhealthy)
    store.finish_run(db, run_id, counts, "failed" if unhealthy else "completed", message)
    db.close()
    logger.info(message)
    if unhealthy:
        raise UnhealthySources(message)
    return {"run_id": run_id, "db": str(db_path), "inputs": work.inputs, **counts, "failures": failures,
            "message": message}
