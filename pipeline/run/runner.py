"""One ingest run, stage by stage, on any engine: the Prefect flow's tasks or a plain thread pool.

The flow (flows/ingest.py) and the direct path (`ingest_direct`, used by the
drills, which kill runs and cannot pay Prefect's start-up per trial) share this
orchestration, so what the drills prove holds for the flow.

Each source is redone from the earliest stage whose input or version changed
(pipeline.run.inputs.stage_to_redo): new bytes or a new extractor re-extract; a new
segmenter re-segments the stored text and layout; a new model re-classifies the
stored statements; a new linker relinks. Linking is the last step of a run and
the ledger records which documents it covered, in the same transaction, so a run
killed before it links leaves the work marked as due for the next run.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipeline import __version__
from pipeline.config import Settings
from pipeline.errors import PipelineError
from pipeline.records import Block, Document, Failure, Metadata, Page, Prediction, Statement
from pipeline.run.heap import give_back
from pipeline.run.inputs import LINK_PENDING, LINK_STALE, Fingerprint, Plan, stage_to_redo

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Processed:
    """A source extracted (or its stored text re-segmented) into statements, with their labels."""

    document: Document
    statements: list[Statement]
    predictions: list[Prediction]
    stage: str = "extract"  # the earliest stage that ran: extract or segment
    # The other language of a bilingual file (pipeline.extract.bilingual), stored with it as its own document.
    parts: list[Processed] = field(default_factory=list)

    @property
    def document_ids(self) -> list[str]:
        return [self.document.id, *(p.document.id for p in self.parts)]


@dataclass(frozen=True)
class Reclassified:
    """A stored document's statements labelled again by a new model."""

    document_id: str
    predictions: list[Prediction]
    stage: str = "classify"


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ-") + uuid.uuid4().hex[:6]


# ---------------------------------------------------------------- per-document work (parallel)


def _classify(statements: list[Statement], settings: Settings, classify: bool) -> list[Prediction]:
    if not classify:
        return []
    from pipeline.classify import classify_statements

    # English-only model: Welsh statements are kept and searchable, but not labelled.
    return classify_statements([s for s in statements if s.language == "en"], settings)


def _document_from_store(row: dict[str, Any], layout: dict[str, Any]) -> Document:
    """Rebuild the extractor's Document from what the store kept: the text, its layout and metadata."""
    text = row["text"] or ""
    blocks = tuple(
        Block(kind, text[start:end], start, end, page, level) for kind, start, end, page, level in layout["blocks"]
    )
    pages = tuple(Page(number, start, end, bool(ocr)) for number, start, end, ocr in layout["pages"])
    meta = Metadata(
        title=row["title"],
        publisher=row["publisher"],
        doc_type=row["doc_type"],
        local_authority=row["local_authority"],
        service=row["service"],
        published=row["published"],
        date_evidence=row.get("date_evidence"),
        language=row["language"],
        url=row["source_url"],
    )
    return Document(
        id=row["id"],
        source_path=row["source_path"],
        format=row["format"],
        text=text,
        blocks=blocks,
        pages=pages,
        metadata=meta,
        size=row["size"],
        extractor_version=row["extractor_version"],
        notes=tuple(layout["notes"]),
    )


def _stored_stage(fp: Fingerprint, settings: Settings) -> tuple[str | None, str | None, Any]:
    """(stage to redo, stored document id, open db) for a source, from the ledger; db is None for new sources."""
    from pipeline import store
    from pipeline.versions import stage_versions

    if not Path(settings.db_path).exists():
        return "extract", None, None
    db = store.open_db(settings.db_path)
    row = store.ledger_entry(db, fp.source.path)
    if row is None:
        db.close()
        return "extract", None, None
    return stage_to_redo(fp, row, stage_versions(settings.models_dir, settings.classifier)), row["document_id"], db


def process_source(fp: Fingerprint, settings: Settings, classify: bool) -> Processed | Reclassified | Failure:
    """Redo one source from the earliest stage that needs it. Bad input comes back as a Failure; only I/O
    errors (reading the file, which the flow retries) raise."""
    from pipeline import store
    from pipeline.segment import segment

    stage, document_id, db = _stored_stage(fp, settings)
    try:
        if db is not None and document_id and stage in ("segment", "classify"):
            if stage == "classify":
                return Reclassified(
                    document_id, _classify(store.stored_statements(db, document_id), settings, classify)
                )
            kept = store.stored_document(db, document_id)
            # stored before layouts were kept, or a bilingual file (its parts are split at extraction): re-extract
            if kept is not None and not store.has_language_parts(db, document_id):
                document = _document_from_store(*kept)
                statements = segment(document, settings)
                return Processed(document, statements, _classify(statements, settings, classify), "segment")
    except PipelineError as exc:
        return Failure(fp.source.path, exc.stage, str(exc), settings.software_version)
    finally:
        if db is not None:
            db.close()
    return extract_source(fp, settings, classify)


def extract_source(fp: Fingerprint, settings: Settings, classify: bool) -> Processed | Failure:
    """Read, extract, segment and (when a model exists) classify one source."""
    from pipeline.extract import check_size, extract_bytes
    from pipeline.extract.bilingual import split_languages
    from pipeline.segment import segment

    path = Path(fp.source.path)
    try:
        check_size(path.stat().st_size, settings)  # before reading: a huge file is refused, never loaded
    except PipelineError as exc:
        return Failure(fp.source.path, exc.stage, str(exc), settings.software_version)
    data = path.read_bytes()  # OSError here (and in stat above) is retried by the flow
    try:
        done = []
        for document in split_languages(extract_bytes(data, fp.source, settings), fp.source.meta.get("language")):
            statements = segment(document, settings)
            done.append(Processed(document, statements, _classify(statements, settings, classify)))
        return Processed(done[0].document, done[0].statements, done[0].predictions, parts=done[1:])
    except PipelineError as exc:
        return Failure(fp.source.path, exc.stage, str(exc), settings.software_version)


# ---------------------------------------------------------------- single-writer steps


def store_result(
    settings: Settings,
    run_id: str,
    fp: Fingerprint,
    result: Processed | Reclassified | Failure,
    versions: dict[str, str],
) -> str:
    """Write one source's result with its ledger row in one transaction; returns stored, replaced,
    reclassified or failed. The ledger marks the document as due for linking."""
    from pipeline import store

    db = store.open_db(settings.db_path)
    try:
        if isinstance(result, Failure):
            store.save_failure(db, result, run_id=run_id, source=fp.ledger_fields(), versions=versions)
            return "failed"
        previous = store.ledger_entry(db, fp.source.path)
        mark = json.loads(previous["versions"] or "{}").get("link") if previous else None
        fresh = previous is None or previous["status"] != "ok" or mark == LINK_PENDING
        if isinstance(result, Reclassified):
            store.replace_predictions(
                db,
                result.document_id,
                result.predictions,
                source_path=fp.source.path,
                versions={**versions, "link": LINK_STALE},
                run_id=run_id,
            )
            return "reclassified"
        replaced = store.save_document(
            db,
            result.document,
            result.statements,
            run_id=run_id,
            source=fp.ledger_fields(),
            predictions=result.predictions,
            parts=[(p.document, p.statements, p.predictions) for p in result.parts],
            versions={**versions, "link": LINK_PENDING if fresh else LINK_STALE},
        )
        return "replaced" if replaced else "stored"
    finally:
        db.close()


def refresh_people(settings: Settings) -> int:
    """Rebuild the people table from every name mention (variants merged, near misses flagged)."""
    from pipeline import store
    from pipeline.segment.people import merge_people

    db = store.open_db(settings.db_path)
    try:
        return store.replace_people(db, merge_people(store.person_mentions(db)))
    finally:
        db.close()


def pair_documents(settings: Settings, document_ids: list[str]) -> int:
    """Pair the given documents with their other-language versions (English and Welsh); returns pairs made."""
    from pipeline import store
    from pipeline.run.pairing import pair_new_documents

    db = store.open_db(settings.db_path)
    try:
        return len(pair_new_documents(db, document_ids))
    finally:
        db.close()


def link_stored(settings: Settings) -> int:
    """Link what the ledger says is due, in one transaction with the ledger's mark: only new documents
    (incrementally, against the stored concerns) or, after a new linker or documents stored again over
    linked statements, everything from scratch. Returns the number of documents linked."""
    from pipeline import store
    from pipeline.run.batches import spread
    from pipeline.run.linking import link_new_documents
    from pipeline.versions import link_version

    version = link_version(settings.models_dir)
    db = store.open_db(settings.db_path)
    try:
        with store.transaction(db):
            due, full = store.link_due(db, version)
            if not due:
                return 0
            if full:
                store.clear_recurrence(db)
                due = store.document_ids(db)
            link_new_documents(db, settings, due, spread)  # councils side by side in the run's workers
            store.mark_linked(db, version)
        return len(due)
    finally:
        db.close()


# ---------------------------------------------------------------- the run

Outcome = Processed | Reclassified | Failure


def run_ingest(
    work: Plan,
    settings: Settings,
    versions: dict[str, str],
    *,
    process_many: Callable[[list[Fingerprint]], Iterator[list[tuple[Fingerprint, Outcome | BaseException]]]],
    store_many: Callable[[str, list[tuple[Fingerprint, Outcome]]], list[str]],
    people: Callable[[], Any],
    link: Callable[[list[str]], Any],
    pair: Callable[[list[str]], Any] | None = None,
    run_id: str | None = None,
    unhealthy: Iterable[str] = (),
) -> dict[str, Any]:
    """Carry out a plan; the engine supplies the steps. Call with the run lock held (pipeline.run.lock).

    `process_many` yields the work done in batches, in order; `store_many` stores a batch (one transaction per
    document) and returns each document's outcome. A batch is dropped once stored: memory does not grow with
    the number of documents."""
    from pipeline import store

    run_id = run_id or new_run_id()
    db = store.open_db(settings.db_path)
    try:
        store.mark_interrupted_runs(db)
        store.start_run(db, run_id, work.inputs, __version__)
        previously = store.ledger(db)
    finally:
        db.close()
    counts = {"added": 0, "changed": 0, "unchanged": len(work.unchanged), "deleted": 0, "failed": 0}
    stages = {"extract": 0, "segment": 0, "classify": 0, "link": 0}
    failures: list[dict[str, str]] = []

    def failed(path: str, stage: str, reason: str) -> None:
        counts["failed"] += 1
        failures.append({"source_path": path, "stage": stage, "reason": reason})
        # INFO: the summary lists every failure, and each front end reports them from there (the CLI on
        # standard error, the flow in its run log); -v shows them as they happen.
        logger.info("failed: %s (%s)", path, reason)

    for source, reason in work.unreadable:
        failure = Failure(source.path, "source", reason, __version__)
        db = store.open_db(settings.db_path)
        try:
            store.save_failure(db, failure, run_id=run_id, source={"source_path": source.path}, versions=versions)
        finally:
            db.close()
        failed(source.path, "source", reason)

    todo = list(work.todo) + [fp for fp, _ in work.resegment] + [fp for fp, _ in work.reclassify]
    stored = 0
    new_documents: list[str] = []  # extracted or re-segmented this run: to pair with their other language
    for batch in process_many(todo):
        done: list[tuple[Fingerprint, Outcome]] = [
            (fp, result)
            if not isinstance(result, BaseException)  # a bug or a lost file costs one document, not the run
            else (fp, Failure(fp.source.path, "ingest", f"{type(result).__name__}: {result}", __version__))
            for fp, result in batch
        ]
        del batch
        for (fp, result), outcome in zip(done, store_many(run_id, done), strict=True):
            if isinstance(result, Failure):
                failed(result.source_path, result.stage, result.reason)
                continue
            stages[result.stage] += 1
            stored += 1
            counts["changed" if fp.source.path in previously else "added"] += 1
            counts["deleted"] += outcome == "replaced"
            if isinstance(result, Processed):
                new_documents += result.document_ids
        del done
        give_back()  # the batch is stored and dropped: its freed pages go back to the system, not to this arena

    if new_documents and pair is not None:
        pair(new_documents)
    if stored or work.relink:
        people()
        stages["link"] = int(link([]) or 0)
    # decisions reviewers recorded on the site since the last run: applied like a review or corrections CSV
    from pipeline.run.site_reviews import apply_site_reviews

    site = apply_site_reviews(settings)
    message = (
        f"{counts['added']} added, {counts['changed']} changed, {counts['unchanged']} unchanged, "
        f"{counts['deleted']} deleted, {counts['failed']} failed; stages run: "
        + ", ".join(f"{k} {v}" for k, v in stages.items())
    )
    if site:
        message += "; decisions from the site: {} on links, {} on labels".format(
            sum(site["link_decisions"].values()), sum(site["label_decisions"].values())
        )
    unhealthy = list(unhealthy)
    if unhealthy:
        message += "; sources needing attention: " + ", ".join(unhealthy)
    db = store.open_db(settings.db_path)
    try:
        store.finish_run(db, run_id, counts, "failed" if unhealthy else "completed", message)
    finally:
        db.close()
    return {
        "run_id": run_id,
        "db": str(settings.db_path),
        "inputs": work.inputs,
        **counts,
        "failures": failures,
        "stages": stages,
        **({"site_decisions": site} if site else {}),
        "message": message,
    }


def store_results(
    settings: Settings, run_id: str, done: list[tuple[Fingerprint, Outcome]], versions: dict[str, str]
) -> list[str]:
    """`store_result` for each document of a batch, in order (one transaction each)."""
    return [store_result(settings, run_id, fp, result, versions) for fp, result in done]


def thread_pool_process(settings: Settings, classify: bool, workers: int):
    """`process_many` on a plain thread pool (each PDF is still parsed in its own child process), one document
    per batch, at most two per thread in flight."""
    from pipeline.run.batches import in_order

    def process_many(fps: list[Fingerprint]) -> Iterator[list[tuple[Fingerprint, Outcome | BaseException]]]:
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            yield from in_order(
                ([fp] for fp in fps),
                lambda group: pool.submit(lambda: [process_source(group[0], settings, classify)]),
                ahead=2 * max(1, workers),
            )

    return process_many


def ingest_direct(
    paths: list[str],
    db_path: Path | str,
    *,
    meta: dict[str, Any] | None = None,
    workers: int = 2,
    lock_wait: float = 0.0,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """The ingest flow's work without Prefect: the same plan, steps and single writer, on threads."""
    import dataclasses

    from pipeline.run.lock import run_lock
    from pipeline.run.plan import plan_ingest
    from pipeline.versions import stage_versions

    settings = dataclasses.replace(settings or Settings(), db_path=Path(db_path), workers=workers)
    versions = stage_versions(settings.models_dir, settings.classifier)
    classify = versions["classify"] != "none"
    with run_lock(settings.db_path, timeout=lock_wait):
        work = plan_ingest(paths, settings, meta)
        if not work.has_work:
            return {**work.nothing_changed(settings.db_path), "stages": {}}
        return run_ingest(
            work,
            settings,
            versions,
            process_many=thread_pool_process(settings, classify, workers),
            store_many=lambda run_id, done: store_results(settings, run_id, done, versions),
            people=lambda: refresh_people(settings),
            link=lambda ids: link_stored(settings),
            pair=lambda ids: pair_documents(settings, ids),
        )
