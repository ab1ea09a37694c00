"""Documents, statements, entities, people and the ledger of sources: records to rows and back."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

import sqlite_utils

from pipeline.records import Document, Failure, Prediction, Statement
from pipeline.store import anchors
from pipeline.store.db import now, transaction, write_rows
from pipeline.store.predictions import apply_corrections, prediction_row
from pipeline.store.schema import (  # noqa: F401 (the schema is part of the store's interface)
    SCHEMA,
    TABLES,
    VIEWS,
    Column,
    Table,
)


def ledger(db: sqlite_utils.Database) -> dict[str, dict[str, Any]]:
    return {r["source_path"]: r for r in db["sources"].rows}


def ledger_entry(db: sqlite_utils.Database, source_path: str) -> dict[str, Any] | None:
    """The ledger row of one source, or None when it was never processed."""
    rows = list(db["sources"].rows_where("source_path = ?", [source_path], limit=1))
    return rows[0] if rows else None


def has_language_parts(db: sqlite_utils.Database, document_id: str) -> bool:
    """Whether the file stored as `document_id` was split into language parts (a bilingual file)."""
    return (
        db.execute(
            "SELECT 1 FROM documents WHERE part_of = ? AND id != ? LIMIT 1", [document_id, document_id]
        ).fetchone()
        is not None
    )


def document_ids(db: sqlite_utils.Database) -> list[str]:
    return [r[0] for r in db.execute("SELECT id FROM documents ORDER BY id")]


def document_text(db: sqlite_utils.Database, document_id: str) -> str:
    """A stored document's text ("" for none)."""
    row = db.execute("SELECT text FROM documents WHERE id = ?", [document_id]).fetchone()
    return (row[0] or "") if row else ""


def documents_to_link(db: sqlite_utils.Database) -> list[tuple[str, str, str | None, int]]:
    """(document id, council, published, statements) of every document about a council."""
    return [
        (r[0], r[1], r[2], r[3])
        for r in db.execute(
            """SELECT d.id, d.local_authority, d.published, (SELECT COUNT(*) FROM statements s WHERE s.document_id = d.id)
               FROM documents d WHERE d.local_authority IS NOT NULL"""
        )
    ]


def statement_count(db: sqlite_utils.Database) -> int:
    return db["statements"].count


def document_row(doc: Document, statements: list[Statement], run_id: str, segmenter_version: str) -> dict[str, Any]:
    m = doc.metadata
    year = int(m.published[:4]) if m.published and m.published[:4].isdigit() else None
    return {
        "id": doc.id,
        "source_path": doc.source_path,
        "source_url": m.url,
        "format": doc.format,
        "title": m.title,
        "publisher": m.publisher,
        "doc_type": m.doc_type,
        "local_authority": m.local_authority,
        "service": m.service,
        "published": m.published,
        "date_evidence": m.date_evidence,
        "year": year,
        "language": m.language,
        "pages": doc.page_count,
        "size": doc.size,
        "statement_count": len(statements),
        "text": doc.text,
        "ocr_pages": json.dumps(list(doc.ocr_pages)),
        "notes": "; ".join(doc.notes) or None,
        "extractor_version": doc.extractor_version,
        "segmenter_version": segmenter_version,
        "ingested_at": now(),
        "run_id": run_id,
        "part_of": doc.part_of,
    }


def layout_row(doc: Document) -> dict[str, Any]:
    return {
        "document_id": doc.id,
        "blocks": json.dumps([[b.kind, b.char_start, b.char_end, b.page, b.level] for b in doc.blocks]),
        "pages": json.dumps([[p.number, p.char_start, p.char_end, p.ocr] for p in doc.pages]),
        "notes": json.dumps(list(doc.notes)),
    }


def statement_row(s: Statement) -> dict[str, Any]:
    return {
        "id": s.id,
        "document_id": s.document_id,
        "seq": s.seq,
        "text": s.text,
        "page": s.page,
        "char_start": s.char_start,
        "char_end": s.char_end,
        "heading": s.heading,
        "kind": s.kind,
        "speaker": s.speaker,
        "language": s.language,
        "lemmas": s.lemmas,
    }


def entity_row(s: Statement, e: Any) -> dict[str, Any]:
    return {
        "id": f"{s.id}:{e.label}:{e.char_start}-{e.char_end}",
        "statement_id": s.id,
        "document_id": s.document_id,
        "label": e.label,
        "text": e.text,
        "char_start": e.char_start,
        "char_end": e.char_end,
        "value": e.value,
        "roles": json.dumps(list(e.roles)),
    }


def person_mentions(db: sqlite_utils.Database) -> list[tuple[str, tuple[str, ...]]]:
    """Every (name, roles) mention: PERSON entities and quote speakers, for rebuilding `people`."""
    rows = db.execute("SELECT coalesce(value, text), roles FROM entities WHERE label = 'PERSON'").fetchall()
    mentions = [(name, tuple(json.loads(roles or "[]"))) for name, roles in rows]
    for (speaker,) in db.execute("SELECT speaker FROM statements WHERE speaker IS NOT NULL").fetchall():
        mentions.append((speaker, ("councillor",) if speaker.startswith("Cllr ") else ()))
    return mentions


def replace_people(db: sqlite_utils.Database, people: Iterable[Any]) -> int:
    """Replace the derived `people` table (canonical names can change as new variants arrive)."""
    rows = [
        {
            "id": p.id,
            "name": p.name,
            "variants": json.dumps(list(p.variants)),
            "roles": json.dumps(list(p.roles)),
            "probable_variants": json.dumps([list(v) for v in p.probable_variants]),
            "mentions": p.mentions,
        }
        for p in people
    ]
    with transaction(db):
        db.execute("DELETE FROM people")
        write_rows(db, "people", rows)
    return len(rows)


def _delete_document(db: sqlite_utils.Database, document_id: str) -> None:
    """Delete a document and everything derived from it; for a bilingual file, both its language parts."""
    parts = [
        r[0]
        for r in db.execute(
            "SELECT id FROM documents WHERE part_of = ? AND id != ?", [document_id, document_id]
        ).fetchall()
    ]
    for part in parts:
        _delete_one_document(db, part)
    _delete_one_document(db, document_id)


def _delete_one_document(db: sqlite_utils.Database, document_id: str) -> None:
    db.execute("DELETE FROM document_pairs WHERE english_id = ? OR welsh_id = ?", [document_id, document_id])
    db.execute("DELETE FROM concern_mentions WHERE document_id = ?", [document_id])
    db.execute("DELETE FROM recommendations WHERE document_id = ?", [document_id])
    db.execute("DELETE FROM entities WHERE document_id = ?", [document_id])
    db.execute(
        "DELETE FROM predictions WHERE statement_id IN (SELECT id FROM statements WHERE document_id = ?)", [document_id]
    )
    db.execute("DELETE FROM statements WHERE document_id = ?", [document_id])
    db.execute("DELETE FROM document_layout WHERE document_id = ?", [document_id])
    db.execute("DELETE FROM documents WHERE id = ?", [document_id])


def _replace_document(
    db: sqlite_utils.Database,
    doc: Document,
    statements: list[Statement],
    predictions: Iterable[Prediction],
    run_id: str,
    segmenter_version: str,
) -> None:
    """Inside a transaction: a document, its layout, statements, entities and labels, replacing what it had."""
    _delete_document(db, doc.id)
    write_rows(db, "documents", [document_row(doc, statements, run_id, segmenter_version)])
    write_rows(db, "document_layout", [layout_row(doc)], replace=True)
    write_rows(db, "statements", (statement_row(s) for s in statements))
    write_rows(db, "entities", (entity_row(s, e) for s in statements for e in s.entities), replace=True)
    write_rows(db, "predictions", (prediction_row(p) for p in predictions), replace=True)
    apply_corrections(db, document_id=doc.id)


def save_document(
    db: sqlite_utils.Database,
    doc: Document,
    statements: list[Statement],
    *,
    run_id: str,
    source: dict[str, Any],
    versions: dict[str, str],
    predictions: Iterable[Prediction] = (),
    parts: Iterable[tuple[Document, list[Statement], list[Prediction]]] = (),
) -> bool:
    """Write a document, its statements, their area labels and its ledger row in one transaction.

    `source` carries the ledger fields (source_path, sha256, size, mtime_ns, meta).
    Returns True when the source previously pointed at another document that is now removed.
    """
    deleted = False
    with transaction(db):
        previous = db.execute(
            "SELECT document_id FROM sources WHERE source_path = ?", [source["source_path"]]
        ).fetchone()
        old_id = previous[0] if previous else None
        parts = list(parts)
        # people's decisions follow their sentences into the new statements: those of this document segmented
        # again, and those of the file's previous version when it is about to go
        replaced = [(one.id, one, one_statements) for one, one_statements, _ in [(doc, statements, ()), *parts]]
        if old_id and old_id != doc.id:
            others = db.execute(
                "SELECT count(*) FROM sources WHERE document_id = ? AND source_path != ?",
                [old_id, source["source_path"]],
            ).fetchone()[0]
            if not others:
                _reanchor_decisions(db, [*replaced, (old_id, doc, statements)])
                _delete_document(db, old_id)
                deleted = True
            else:
                _reanchor_decisions(db, replaced)
        else:
            _reanchor_decisions(db, replaced)
        # re-processing the same bytes (a stage version changed) replaces the old statements; a bilingual
        # file's other language part is written the same way, in the same transaction
        for one, one_statements, one_predictions in [(doc, statements, predictions), *parts]:
            _replace_document(db, one, one_statements, one_predictions, run_id, versions.get("segment", ""))
        db.execute("DELETE FROM failures WHERE source_path = ?", [source["source_path"]])
        write_rows(db, "sources", [ledger_row(source, doc.id, "ok", versions, run_id)], replace=True)
    return deleted


def _reanchor_decisions(db: sqlite_utils.Database, documents: list[tuple[str, Document, list[Statement]]]) -> None:
    """Before stored documents are replaced: point people's decisions at the statements that now carry them.

    `documents` are (id of the stored document, the document replacing it, its statements): the same id
    when a document is segmented again, the previous version's id when a file has changed.

    Only statements that a correction or a link review names (directly or through an earlier alias) are
    looked at, so a first ingest, or a re-run nobody has reviewed, costs three small queries per document.
    A moved correction is rewritten to the new id; a link review keeps what the reviewer wrote and is read
    through `statement_aliases` (see `link_reviews`).
    """
    if not db.execute("SELECT EXISTS (SELECT 1 FROM corrections) OR EXISTS (SELECT 1 FROM link_reviews)").fetchone()[0]:
        return  # nobody has decided anything yet: nothing to carry over
    stamp = now()
    for stored_id, doc, statements in documents:
        prefix = stored_id[:16] + ":"
        like = prefix + "%"  # hex and a colon: no LIKE wildcards inside
        named = {r[0] for r in db.execute("SELECT statement_id FROM corrections WHERE statement_id LIKE ?", [like])}
        named |= {r[0] for r in db.execute("SELECT new_id FROM statement_aliases WHERE new_id LIKE ?", [like])}
        ids_in = re.compile(re.escape(prefix) + r"\d+-\d+")
        for row in db.execute(
            "SELECT statement_id, other, resolved FROM link_reviews "
            "WHERE statement_id LIKE ? OR other LIKE ? OR resolved LIKE ?",
            [like, like, "%" + like],
        ):
            for value in row:
                named.update(ids_in.findall(value or ""))
        gone = named - {s.id for s in statements}
        if not gone:
            continue
        old = [
            anchors.OldStatement(*r)
            for r in db.execute(
                "SELECT id, text, char_start, char_end FROM statements WHERE id IN (SELECT value FROM json_each(?))",
                [json.dumps(sorted(gone))],
            )
        ]
        stored_text = db.execute("SELECT text FROM documents WHERE id = ?", [stored_id]).fetchone()
        found = anchors.successors(old, statements, same_text=stored_text is not None and stored_text[0] == doc.text)
        for old_id, (new_id, how) in found.items():
            db.execute("UPDATE statement_aliases SET new_id = ? WHERE new_id = ?", [new_id, old_id])  # no chains
            write_rows(
                db,
                "statement_aliases",
                [{"old_id": old_id, "new_id": new_id, "document_id": doc.id, "matched_by": how, "recorded_at": stamp}],
                replace=True,
            )
            db.execute(
                """UPDATE corrections SET statement_id = ? WHERE statement_id = ? AND NOT EXISTS (
                              SELECT 1 FROM corrections c WHERE c.statement_id = ? AND c.scheme = corrections.scheme)""",
                [new_id, old_id, new_id],
            )


def statement_aliases(db: sqlite_utils.Database) -> dict[str, str]:
    """Old statement id -> the statement that now carries the decisions that name it."""
    return {r[0]: r[1] for r in db.execute("SELECT old_id, new_id FROM statement_aliases")}


def save_failure(
    db: sqlite_utils.Database, failure: Failure, *, run_id: str, source: dict[str, Any], versions: dict[str, str]
) -> None:
    with transaction(db):
        db.execute("DELETE FROM failures WHERE source_path = ?", [failure.source_path])
        write_rows(
            db,
            "failures",
            [
                {
                    "source_path": failure.source_path,
                    "sha256": source.get("sha256") or "",
                    "stage": failure.stage,
                    "reason": failure.reason,
                    "software_version": failure.software_version,
                    "at": now(),
                    "run_id": run_id,
                }
            ],
        )
        if source.get("sha256"):
            write_rows(db, "sources", [ledger_row(source, None, "failed", versions, run_id)], replace=True)


def ledger_row(
    source: dict[str, Any], document_id: str | None, status: str, versions: dict[str, str], run_id: str
) -> dict[str, Any]:
    return {
        "source_path": source["source_path"],
        "sha256": source.get("sha256"),
        "size": source.get("size"),
        "mtime_ns": source.get("mtime_ns"),
        "document_id": document_id,
        "status": status,
        "versions": json.dumps(versions, sort_keys=True),
        "meta": json.dumps(source.get("meta") or {}, sort_keys=True),
        "run_id": run_id,
        "updated_at": now(),
    }


def council_documents(db: sqlite_utils.Database) -> list[tuple[str, str]]:
    """(document id, council) of every document about a council."""
    return [
        (r[0], r[1])
        for r in db.execute(
            "SELECT id, local_authority FROM documents WHERE local_authority IS NOT NULL ORDER BY published, id"
        )
    ]


def statement_councils(db: sqlite_utils.Database, statement_ids: Iterable[str]) -> dict[str, str | None]:
    """Statement id -> its document's council, for those of `statement_ids` that exist."""
    return {
        r[0]: r[1]
        for r in db.execute(
            "SELECT s.id, d.local_authority FROM statements s JOIN documents d ON d.id = s.document_id "
            "WHERE s.id IN (SELECT value FROM json_each(?))",
            [json.dumps(sorted(set(statement_ids)))],
        )
    }


def stored_document(db: sqlite_utils.Database, document_id: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """A stored document's row and its layout row, or None when either is missing (stored before layouts were
    kept: such a document is re-extracted instead)."""
    row = db.execute("SELECT * FROM documents WHERE id = ?", [document_id]).fetchone()
    layout = db.execute("SELECT * FROM document_layout WHERE document_id = ?", [document_id]).fetchone()
    if row is None or layout is None:
        return None
    names = [d[0] for d in db.execute("SELECT * FROM documents LIMIT 0").description]
    return dict(zip(names, row)), {
        "blocks": json.loads(layout[1]),
        "pages": json.loads(layout[2]),
        "notes": json.loads(layout[3] or "[]"),
    }


def stored_statements(db: sqlite_utils.Database, document_id: str) -> list[Statement]:
    cols = [
        c
        for c in (
            "document_id",
            "seq",
            "text",
            "char_start",
            "char_end",
            "page",
            "heading",
            "kind",
            "speaker",
            "language",
            "lemmas",
        )
    ]
    rows = db.execute(
        f"SELECT {', '.join(cols)} FROM statements WHERE document_id = ? ORDER BY seq", [document_id]
    ).fetchall()
    return [Statement(**dict(zip(cols, r))) for r in rows]
