"""The SQLite store: `ensure_db_shape` from the schema (pipeline.schema), transactions, and `save_*` functions.

This is the only module that imports sqlite-utils and the only one that writes
the database. Each document is written in one transaction together with its
ledger row, so a crash never leaves half a document behind.
"""

from __future__ import annotations

import json
import re
import sqlite3
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator

import sqlite_utils

from . import anchors
from .errors import StoreError
from .records import Document, Failure, Prediction, Statement
from .schema import SCHEMA, TABLES, VIEWS, Column, Table  # noqa: F401 (the schema is part of the store's interface)


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def open_db(path: Path | str) -> sqlite_utils.Database:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite_utils.Database(path)
    db.execute("PRAGMA foreign_keys = ON")
    db.execute("PRAGMA busy_timeout = 10000")
    ensure_db_shape(db)
    return db


def ensure_db_shape(db: sqlite_utils.Database) -> None:
    """Create or complete every table, foreign key, index and FTS index. Safe to run again."""
    for table in SCHEMA:
        t = db[table.name]
        cols = {c.name: c.type for c in table.columns}
        fks = [(c.name, *c.fk.split(".")) for c in table.columns if c.fk]
        if not t.exists():
            t.create(cols, pk=table.pk, foreign_keys=fks)  # SCHEMA lists referenced tables first
        else:
            for name, typ in cols.items():
                if name not in t.columns_dict:
                    t.add_column(name, typ)
        for idx in table.indexes:
            t.create_index(list(idx), if_not_exists=True)
        if table.fts and not db[f"{table.name}_fts"].exists():
            t.enable_fts(list(table.fts), create_triggers=True, tokenize="porter")
    for name, (_, sql) in VIEWS.items():
        current = db.execute("SELECT sql FROM sqlite_master WHERE type = 'view' AND name = ?", [name]).fetchone()
        if current is None or sql not in current[0]:
            db.execute(f"DROP VIEW IF EXISTS [{name}]")
            db.execute(f"CREATE VIEW [{name}] AS {sql}")
    missing = []
    for table in SCHEMA:
        present = {(fk.column, fk.other_table) for fk in db[table.name].foreign_keys}
        missing += [(table.name, c.name, *c.fk.split(".")) for c in table.columns
                    if c.fk and (c.name, c.fk.split(".")[0]) not in present]
    if missing:  # a database made by an older schema
        db.add_foreign_keys(missing)


# ---------------------------------------------------------------- transactions

@contextmanager
def transaction(db: sqlite_utils.Database) -> Iterator[None]:
    """All or nothing. A savepoint, because sqlite-utils' own write helpers commit as they go
    (they open `with conn:` blocks), so writes in here use plain SQL through `_write`."""
    conn = db.conn
    depth = _depth.get(id(conn), 0)  # nested: an inner savepoint, committed only with the outermost
    name = f"scrutiny_write{depth or ''}"
    _depth[id(conn)] = depth + 1
    try:
        conn.execute(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            # SQLite rolls the whole transaction back by itself on some errors (a full disk, I/O errors):
            # then there is no savepoint left to roll back to, and the original error is the one to report.
            if conn.in_transaction:
                try:
                    conn.execute(f"ROLLBACK TO {name}")
                    conn.execute(f"RELEASE {name}")
                except sqlite3.OperationalError:
                    if not depth and conn.in_transaction:
                        conn.rollback()
            raise
        conn.execute(f"RELEASE {name}")
        if not depth and conn.in_transaction:
            conn.commit()
    finally:
        if depth:
            _depth[id(conn)] = depth
        else:
            _depth.pop(id(conn), None)


_depth: dict[int, int] = {}


def _write(db: sqlite_utils.Database, table: str, rows: Iterable[dict[str, Any]], *, replace: bool = False) -> int:
    columns = [c.name for c in TABLES[table].columns]
    sql = (f"INSERT {'OR REPLACE ' if replace else ''}INTO [{table}] ({', '.join(f'[{c}]' for c in columns)}) "
           f"VALUES ({', '.join('?' for _ in columns)})")
    values = [[row.get(c) for c in columns] for row in rows]
    db.conn.executemany(sql, values)
    return len(values)


# ---------------------------------------------------------------- ledger

def ledger(db: sqlite_utils.Database) -> dict[str, dict[str, Any]]:
    return {r["source_path"]: r for r in db["sources"].rows}


def ledger_entry(db: sqlite_utils.Database, source_path: str) -> dict[str, Any] | None:
    """The ledger row of one source, or None when it was never processed."""
    rows = list(db["sources"].rows_where("source_path = ?", [source_path], limit=1))
    return rows[0] if rows else None


def has_language_parts(db: sqlite_utils.Database, document_id: str) -> bool:
    """Whether the file stored as `document_id` was split into language parts (a bilingual file)."""
    return db.execute("SELECT 1 FROM documents WHERE part_of = ? AND id != ? LIMIT 1",
                      [document_id, document_id]).fetchone() is not None


def document_ids(db: sqlite_utils.Database) -> list[str]:
    return [r[0] for r in db.execute("SELECT id FROM documents ORDER BY id")]


def statement_count(db: sqlite_utils.Database) -> int:
    return db["statements"].count


# ---------------------------------------------------------------- writes

def _doc_row(doc: Document, statements: list[Statement], run_id: str, segmenter_version: str) -> dict[str, Any]:
    m = doc.metadata
    year = int(m.published[:4]) if m.published and m.published[:4].isdigit() else None
    return {
        "id": doc.id, "source_path": doc.source_path, "source_url": m.url, "format": doc.format, "title": m.title,
        "publisher": m.publisher, "doc_type": m.doc_type, "local_authority": m.local_authority,
        "service": m.service, "published": m.published, "year": year, "language": m.language,
        "pages": doc.page_count, "size": doc.size, "statement_count": len(statements), "text": doc.text,
        "ocr_pages": json.dumps(list(doc.ocr_pages)), "notes": "; ".join(doc.notes) or None,
        "extractor_version": doc.extractor_version, "segmenter_version": segmenter_version,
        "ingested_at": now(), "run_id": run_id, "part_of": doc.part_of,
    }


def _layout_row(doc: Document) -> dict[str, Any]:
    return {"document_id": doc.id,
            "blocks": json.dumps([[b.kind, b.char_start, b.char_end, b.page, b.level] for b in doc.blocks]),
            "pages": json.dumps([[p.number, p.char_start, p.char_end, p.ocr] for p in doc.pages]),
            "notes": json.dumps(list(doc.notes))}


def _statement_row(s: Statement) -> dict[str, Any]:
    return {
        "id": s.id, "document_id": s.document_id, "seq": s.seq, "text": s.text, "page": s.page,
        "char_start": s.char_start, "char_end": s.char_end, "heading": s.heading, "kind": s.kind,
        "speaker": s.speaker, "language": s.language, "lemmas": s.lemmas,
    }


def _entity_row(s: Statement, e: Any) -> dict[str, Any]:
    return {"id": f"{s.id}:{e.label}:{e.char_start}-{e.char_end}", "statement_id": s.id,
            "document_id": s.document_id, "label": e.label, "text": e.text, "char_start": e.char_start,
            "char_end": e.char_end, "value": e.value, "roles": json.dumps(list(e.roles))}


def person_mentions(db: sqlite_utils.Database) -> list[tuple[str, tuple[str, ...]]]:
    """Every (name, roles) mention: PERSON entities and quote speakers, for rebuilding `people`."""
    rows = db.execute("SELECT coalesce(value, text), roles FROM entities WHERE label = 'PERSON'").fetchall()
    mentions = [(name, tuple(json.loads(roles or "[]"))) for name, roles in rows]
    for (speaker,) in db.execute("SELECT speaker FROM statements WHERE speaker IS NOT NULL").fetchall():
        mentions.append((speaker, ("councillor",) if speaker.startswith("Cllr ") else ()))
    return mentions


def replace_people(db: sqlite_utils.Database, people: Iterable[Any]) -> int:
    """Replace the derived `people` table (canonical names can change as new variants arrive)."""
    rows = [{"id": p.id, "name": p.name, "variants": json.dumps(list(p.variants)), "roles": json.dumps(list(p.roles)),
             "probable_variants": json.dumps([list(v) for v in p.probable_variants]), "mentions": p.mentions}
            for p in people]
    with transaction(db):
        db.execute("DELETE FROM people")
        _write(db, "people", rows)
    return len(rows)


def _delete_document(db: sqlite_utils.Database, document_id: str) -> None:
    """Delete a document and everything derived from it; for a bilingual file, both its language parts."""
    parts = [r[0] for r in db.execute("SELECT id FROM documents WHERE part_of = ? AND id != ?",
                                      [document_id, document_id]).fetchall()]
    for part in parts:
        _delete_one_document(db, part)
    _delete_one_document(db, document_id)


def _delete_one_document(db: sqlite_utils.Database, document_id: str) -> None:
    db.execute("DELETE FROM document_pairs WHERE english_id = ? OR welsh_id = ?", [document_id, document_id])
    db.execute("DELETE FROM concern_mentions WHERE document_id = ?", [document_id])
    db.execute("DELETE FROM recommendations WHERE document_id = ?", [document_id])
    db.execute("DELETE FROM entities WHERE document_id = ?", [document_id])
    db.execute("DELETE FROM predictions WHERE statement_id IN (SELECT id FROM statements WHERE document_id = ?)",
               [document_id])
    db.execute("DELETE FROM statements WHERE document_id = ?", [document_id])
    db.execute("DELETE FROM document_layout WHERE document_id = ?", [document_id])
    db.execute("DELETE FROM documents WHERE id = ?", [document_id])


def _replace_document(db: sqlite_utils.Database, doc: Document, statements: list[Statement],
                      predictions: Iterable[Prediction], run_id: str, segmenter_version: str) -> None:
    """Inside a transaction: a document, its layout, statements, entities and labels, replacing what it had."""
    _delete_document(db, doc.id)
    _write(db, "documents", [_doc_row(doc, statements, run_id, segmenter_version)])
    _write(db, "document_layout", [_layout_row(doc)], replace=True)
    _write(db, "statements", (_statement_row(s) for s in statements))
    _write(db, "entities", (_entity_row(s, e) for s in statements for e in s.entities), replace=True)
    _write(db, "predictions", (_prediction_row(p) for p in predictions), replace=True)
    _apply_corrections(db, document_id=doc.id)


def save_document(db: sqlite_utils.Database, doc: Document, statements: list[Statement], *, run_id: str,
                  source: dict[str, Any], versions: dict[str, str],
                  predictions: Iterable[Prediction] = (),
                  parts: Iterable[tuple[Document, list[Statement], list[Prediction]]] = ()) -> bool:
    """Write a document, its statements, their area labels and its ledger row in one transaction.

    `source` carries the ledger fields (source_path, sha256, size, mtime_ns, meta).
    Returns True when the source previously pointed at another document that is now removed.
    """
    deleted = False
    with transaction(db):
        previous = db.execute("SELECT document_id FROM sources WHERE source_path = ?", [source["source_path"]]).fetchone()
        old_id = previous[0] if previous else None
        parts = list(parts)
        # people's decisions follow their sentences into the new statements: those of this document segmented
        # again, and those of the file's previous version when it is about to go
        replaced = [(one.id, one, one_statements) for one, one_statements, _ in [(doc, statements, ()), *parts]]
        if old_id and old_id != doc.id:
            others = db.execute("SELECT count(*) FROM sources WHERE document_id = ? AND source_path != ?",
                                [old_id, source["source_path"]]).fetchone()[0]
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
        _write(db, "sources", [_ledger_row(source, doc.id, "ok", versions, run_id)], replace=True)
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
        for row in db.execute("SELECT statement_id, other, resolved FROM link_reviews "
                              "WHERE statement_id LIKE ? OR other LIKE ? OR resolved LIKE ?", [like, like, "%" + like]):
            for value in row:
                named.update(ids_in.findall(value or ""))
        gone = named - {s.id for s in statements}
        if not gone:
            continue
        old = [anchors.OldStatement(*r) for r in db.execute(
            "SELECT id, text, char_start, char_end FROM statements WHERE id IN (SELECT value FROM json_each(?))",
            [json.dumps(sorted(gone))])]
        stored_text = db.execute("SELECT text FROM documents WHERE id = ?", [stored_id]).fetchone()
        found = anchors.successors(old, statements, same_text=stored_text is not None and stored_text[0] == doc.text)
        for old_id, (new_id, how) in found.items():
            db.execute("UPDATE statement_aliases SET new_id = ? WHERE new_id = ?", [new_id, old_id])  # no chains
            _write(db, "statement_aliases", [{"old_id": old_id, "new_id": new_id, "document_id": doc.id,
                                              "matched_by": how, "recorded_at": stamp}], replace=True)
            db.execute("""UPDATE corrections SET statement_id = ? WHERE statement_id = ? AND NOT EXISTS (
                              SELECT 1 FROM corrections c WHERE c.statement_id = ? AND c.scheme = corrections.scheme)""",
                       [new_id, old_id, new_id])


def statement_aliases(db: sqlite_utils.Database) -> dict[str, str]:
    """Old statement id -> the statement that now carries the decisions that name it."""
    return {r[0]: r[1] for r in db.execute("SELECT old_id, new_id FROM statement_aliases")}


def pairing_candidates(db: sqlite_utils.Database, document_ids: Iterable[str]) -> tuple[list[dict[str, Any]],
                                                                                  list[dict[str, Any]], set[str]]:
    """For pairing English and Welsh versions: the given documents, every stored document in the other language
    that could be their partner (same or unknown council), and the ids already paired."""
    cols = """d.id, d.language, d.text, d.local_authority, d.published, d.pages, d.part_of, d.source_path,
              d.source_url, (SELECT group_concat(s.source_path, char(10)) FROM sources s WHERE s.document_id = d.id
              OR s.document_id = d.part_of) AS paths,
              (SELECT json_extract(s.meta, '$.translation_of') FROM sources s WHERE s.document_id = d.id
              OR s.document_id = d.part_of) AS translation_of"""
    ids = json.dumps(list(document_ids))
    new = [dict(r) for r in db.query(f"SELECT {cols} FROM documents d WHERE d.id IN (SELECT value FROM json_each(?))",
                                     [ids])]
    others = [dict(r) for r in db.query(
        f"""SELECT {cols} FROM documents d WHERE d.language IN ('en', 'cy') AND d.id NOT IN (SELECT value FROM json_each(?))
            AND (d.local_authority IS NULL OR d.local_authority IN (SELECT local_authority FROM documents
                 WHERE id IN (SELECT value FROM json_each(?))) OR EXISTS (SELECT 1 FROM documents
                 WHERE id IN (SELECT value FROM json_each(?)) AND local_authority IS NULL))""", [ids, ids, ids])]
    paired = {r[0] for r in db.execute("SELECT english_id FROM document_pairs UNION SELECT welsh_id FROM document_pairs")}
    return new, others, paired


def save_pairs(db: sqlite_utils.Database, pairs: Iterable[Any]) -> int:
    """Record English/Welsh pairs (pipeline.pairing.Pair); a document has one partner, so older pairs of either
    document are replaced."""
    rows = [{"english_id": p.english_id, "welsh_id": p.welsh_id, "score": p.score, "method": p.method,
             "evidence": json.dumps(p.evidence, sort_keys=True), "paired_at": now()} for p in pairs]
    with transaction(db):
        for r in rows:
            db.execute("DELETE FROM document_pairs WHERE english_id = ? OR welsh_id = ?", [r["english_id"], r["welsh_id"]])
        _write(db, "document_pairs", rows)
    return len(rows)


def save_failure(db: sqlite_utils.Database, failure: Failure, *, run_id: str, source: dict[str, Any],
                 versions: dict[str, str]) -> None:
    with transaction(db):
        db.execute("DELETE FROM failures WHERE source_path = ?", [failure.source_path])
        _write(db, "failures", [{
            "source_path": failure.source_path, "sha256": source.get("sha256") or "", "stage": failure.stage,
            "reason": failure.reason, "software_version": failure.software_version, "at": now(), "run_id": run_id,
        }])
        if source.get("sha256"):
            _write(db, "sources", [_ledger_row(source, None, "failed", versions, run_id)], replace=True)


def _ledger_row(source: dict[str, Any], document_id: str | None, status: str, versions: dict[str, str],
                run_id: str) -> dict[str, Any]:
    return {
        "source_path": source["source_path"], "sha256": source.get("sha256"), "size": source.get("size"),
        "mtime_ns": source.get("mtime_ns"), "document_id": document_id, "status": status,
        "versions": json.dumps(versions, sort_keys=True), "meta": json.dumps(source.get("meta") or {}, sort_keys=True),
        "run_id": run_id, "updated_at": now(),
    }


def _prediction_row(p: Prediction) -> dict[str, Any]:
    return {"statement_id": p.statement_id, "scheme": p.scheme, "labels": json.dumps(list(p.labels)),
            "scores": json.dumps(p.scores, sort_keys=True), "abstain": int(p.abstain), "model": p.model,
            "margin": p.margin}


def _apply_corrections(db: sqlite_utils.Database, document_id: str | None = None) -> None:
    """People win: lay corrections over the model's predictions (of one document, or all)."""
    where = "AND s.document_id = ?" if document_id else ""
    db.execute(f"""UPDATE predictions SET labels = c.labels, abstain = 0, model = 'correction', margin = 1.0
        FROM corrections c JOIN statements s ON s.id = c.statement_id
        WHERE predictions.statement_id = c.statement_id AND predictions.scheme = c.scheme {where}""",
               [document_id] if document_id else [])


MENTION_FIELDS = ("statement_id", "concern_id", "role", "score", "date", "document_id", "doc_type", "status_in_text",
                  "local_authority", "service", "text", "thread", "areas")


def recurrence_inputs(db: sqlite_utils.Database, document_ids: Iterable[str]) -> list[dict[str, Any]]:
    """Statements of these documents with their document's metadata and labels, for the recurrence stage."""
    return [dict(r) for r in db.query(
        """SELECT s.id, s.document_id, s.seq, s.text, s.kind, s.heading, s.lemmas, s.language,
                  d.local_authority, d.doc_type, d.published, d.service, p.labels
           FROM statements s JOIN documents d ON d.id = s.document_id
           LEFT JOIN predictions p ON p.statement_id = s.id
           WHERE s.document_id IN (SELECT value FROM json_each(?)) AND d.local_authority IS NOT NULL
           ORDER BY d.published, s.document_id, s.seq""", [json.dumps(list(document_ids))])]


def stored_mentions(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """Every stored mention with its statement's lemmas and seq (to rebuild the linking index)."""
    return [dict(r) for r in db.query(
        """SELECT m.*, s.lemmas, s.seq FROM concern_mentions m JOIN statements s ON s.id = m.statement_id
           ORDER BY m.date, m.document_id, s.seq""")]


def save_recurrence(db: sqlite_utils.Database, mentions: Iterable[Any], concerns: Iterable[Any],
                    picked: Iterable[dict[str, Any]] = ()) -> int:
    """Write picked recommendations, new mentions, and replace the given concerns (their status and counts
    change as mentions arrive)."""
    with transaction(db):
        return _write_recurrence(db, mentions, concerns, picked)


def _write_recurrence(db: sqlite_utils.Database, mentions: Iterable[Any], concerns: Iterable[Any],
                      picked: Iterable[dict[str, Any]]) -> int:
    mention_rows = [{**{f: getattr(m, f) for f in MENTION_FIELDS}, "areas": json.dumps(list(m.areas))}
                    for m in mentions]
    concern_rows = [{"concern_id": c.concern_id, "local_authority": c.local_authority, "service": c.service,
                     "areas": json.dumps(list(c.areas)), "first_raised": c.first_raised, "last_raised": c.last_raised,
                     "inspections": c.inspections, "status": c.status, "label": c.label,
                     "mentions": len(c.mentions)} for c in concerns]
    _write(db, "concerns", concern_rows, replace=True)
    _write(db, "concern_mentions", mention_rows, replace=True)
    _write(db, "recommendations", picked, replace=True)
    db.execute("DELETE FROM concerns WHERE concern_id NOT IN (SELECT concern_id FROM concern_mentions)")
    return len(mention_rows)


def council_documents(db: sqlite_utils.Database) -> list[tuple[str, str]]:
    """(document id, council) of every document about a council."""
    return [(r[0], r[1]) for r in db.execute(
        "SELECT id, local_authority FROM documents WHERE local_authority IS NOT NULL ORDER BY published, id")]


def statement_councils(db: sqlite_utils.Database, statement_ids: Iterable[str]) -> dict[str, str | None]:
    """Statement id -> its document's council, for those of `statement_ids` that exist."""
    return {r[0]: r[1] for r in db.execute(
        "SELECT s.id, d.local_authority FROM statements s JOIN documents d ON d.id = s.document_id "
        "WHERE s.id IN (SELECT value FROM json_each(?))", [json.dumps(sorted(set(statement_ids)))])}


def link_reviews(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """Reviewers' decisions, oldest first (the order they are replayed in), with the statement ids they name
    read through `statement_aliases`: a statement segmented again keeps its decisions."""
    aliases = statement_aliases(db)
    rows = [dict(r) for r in db.query("SELECT * FROM link_reviews ORDER BY id")]
    if not aliases:
        return rows

    def moved(value: Any) -> Any:
        if isinstance(value, str):
            return aliases.get(value, value)
        if isinstance(value, list):
            return [moved(v) for v in value]
        if isinstance(value, dict):
            return {k: moved(v) for k, v in value.items()}
        return value

    for r in rows:
        r["statement_id"], r["other"] = moved(r["statement_id"]), moved(r["other"])
        if r.get("resolved"):
            r["resolved"] = json.dumps(moved(json.loads(r["resolved"])), sort_keys=True)
    return rows


def save_reviews(db: sqlite_utils.Database, reviews: Iterable[dict[str, Any]], councils: Iterable[str],
                 mentions: Iterable[Any], concerns: Iterable[Any], picked: Iterable[dict[str, Any]]) -> int:
    """In one transaction: add reviewers' decisions, and replace the recurrence tables' rows of `councils`
    (local_authority values) by their relinked mentions, concerns and picked statements. Nothing else is
    touched: other councils keep their rows."""
    review_rows = [{**r, "id": None, "resolved": json.dumps(r["resolved"], sort_keys=True)} for r in reviews]
    councils = json.dumps(sorted(set(councils)))
    with transaction(db):
        _write(db, "link_reviews", review_rows)
        for table in ("concern_mentions", "recommendations", "concerns"):
            db.execute(f"DELETE FROM [{table}] WHERE local_authority IN (SELECT value FROM json_each(?))", [councils])
        _write_recurrence(db, mentions, concerns, picked)
    return len(review_rows)


def save_corrections(db: sqlite_utils.Database, rows: Iterable[dict[str, Any]]) -> int:
    """Import corrections ({"statement_id", "scheme", "labels", "note"}); all or nothing.

    Every statement id must exist; the error lists those that do not."""
    rows = list(rows)
    known = {r[0] for r in db.execute("SELECT id FROM statements WHERE id IN (SELECT value FROM json_each(?))",
                                      [json.dumps([r["statement_id"] for r in rows])]).fetchall()}
    unknown = [r["statement_id"] for r in rows if r["statement_id"] not in known]
    if unknown:
        raise StoreError(f"{len(unknown)} statement id(s) are not in the database, nothing imported: "
                         + ", ".join(unknown[:20]) + (" ..." if len(unknown) > 20 else ""))
    stamp = now()
    with transaction(db):
        _write(db, "corrections", ({"statement_id": r["statement_id"], "scheme": r.get("scheme") or "areas",
                                    "labels": json.dumps(list(r["labels"])), "note": r.get("note"),
                                    "imported_at": stamp} for r in rows), replace=True)
        _apply_corrections(db)
    return len(rows)


def corrections_for_training(db: sqlite_utils.Database, scheme: str) -> list[dict[str, Any]]:
    return [{"statement_id": r[0], "text": r[1], "labels": json.loads(r[2])} for r in db.execute(
        "SELECT c.statement_id, s.text, c.labels FROM corrections c JOIN statements s ON s.id = c.statement_id "
        "WHERE c.scheme = ? ORDER BY c.statement_id", [scheme]).fetchall()]


def corrections_map(db: sqlite_utils.Database, scheme: str) -> dict[str, list[str]]:
    return {r[0]: json.loads(r[1]) for r in db.execute(
        "SELECT statement_id, labels FROM corrections WHERE scheme = ?", [scheme]).fetchall()}


def save_predictions(db: sqlite_utils.Database, predictions: Iterable[Prediction]) -> int:
    rows = [_prediction_row(p) for p in predictions]
    with transaction(db):
        _write(db, "predictions", rows, replace=True)
    return len(rows)


def save_source_health(db: sqlite_utils.Database, health: Iterable[dict[str, Any]]) -> int:
    rows = [{**h, "ok": int(bool(h.get("ok"))), "stale": int(bool(h.get("stale")))} for h in health]
    with transaction(db):
        _write(db, "source_health", rows, replace=True)
    return len(rows)


def source_health(db: sqlite_utils.Database) -> dict[str, dict[str, Any]]:
    return {r["name"]: {**r, "ok": bool(r["ok"]), "stale": bool(r["stale"])} for r in db["source_health"].rows}


def start_run(db: sqlite_utils.Database, run_id: str, inputs: int, software_version: str) -> None:
    with transaction(db):
        _write(db, "runs", [{"id": run_id, "started_at": now(), "status": "running", "inputs": inputs,
                             "software_version": software_version}], replace=True)


def finish_run(db: sqlite_utils.Database, run_id: str, counts: dict[str, int], status: str, message: str) -> None:
    keys = ("added", "changed", "unchanged", "deleted", "failed")
    with transaction(db):
        db.execute(f"UPDATE runs SET finished_at = ?, status = ?, message = ?, {', '.join(f'{k} = ?' for k in keys)} "
                   "WHERE id = ?", [now(), status, message, *(counts.get(k, 0) for k in keys), run_id])


def integrity_ok(path: Path | str) -> bool:
    con = sqlite3.connect(path)
    try:
        return con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        con.close()


# ---------------------------------------------------------------- stage re-runs and operations

def stored_document(db: sqlite_utils.Database, document_id: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """A stored document's row and its layout row, or None when either is missing (stored before layouts were
    kept: such a document is re-extracted instead)."""
    row = db.execute("SELECT * FROM documents WHERE id = ?", [document_id]).fetchone()
    layout = db.execute("SELECT * FROM document_layout WHERE document_id = ?", [document_id]).fetchone()
    if row is None or layout is None:
        return None
    names = [d[0] for d in db.execute("SELECT * FROM documents LIMIT 0").description]
    return dict(zip(names, row)), {"blocks": json.loads(layout[1]), "pages": json.loads(layout[2]),
                                   "notes": json.loads(layout[3] or "[]")}


def stored_statements(db: sqlite_utils.Database, document_id: str) -> list[Statement]:
    cols = [c for c in ("document_id", "seq", "text", "char_start", "char_end", "page", "heading", "kind",
                        "speaker", "language", "lemmas")]
    rows = db.execute(f"SELECT {', '.join(cols)} FROM statements WHERE document_id = ? ORDER BY seq",
                      [document_id]).fetchall()
    return [Statement(**dict(zip(cols, r))) for r in rows]


def replace_predictions(db: sqlite_utils.Database, document_id: str, predictions: Iterable[Prediction], *,
                        source_path: str, versions: dict[str, str], run_id: str) -> int:
    """A new model's labels for one stored document, with its ledger's versions, in one transaction."""
    rows = [_prediction_row(p) for p in predictions]
    with transaction(db):
        db.execute("DELETE FROM predictions WHERE statement_id IN (SELECT id FROM statements WHERE document_id = ?)",
                   [document_id])
        _write(db, "predictions", rows, replace=True)
        _apply_corrections(db, document_id=document_id)
        db.execute("UPDATE sources SET versions = ?, run_id = ?, updated_at = ? WHERE source_path = ?",
                   [json.dumps(versions, sort_keys=True), run_id, now(), source_path])
    return len(rows)


def link_due(db: sqlite_utils.Database, link_version: str) -> tuple[list[str], bool]:
    """Stored documents not linked by `link_version`, and whether everything must be relinked (a new linker, or
    documents stored again over linked statements) rather than only new documents linked in."""
    due, full = set(), False
    for document_id, versions in db.execute("SELECT document_id, versions FROM sources WHERE status = 'ok'"):
        mark = json.loads(versions or "{}").get("link")
        if mark != link_version:
            due.add(document_id)
            full = full or mark != "pending"
    return sorted(due), full


def clear_recurrence(db: sqlite_utils.Database) -> None:
    """Drop every link, to relink from scratch (inside the caller's transaction)."""
    for table in ("concern_mentions", "recommendations", "concerns"):
        db.execute(f"DELETE FROM [{table}]")


def mark_linked(db: sqlite_utils.Database, link_version: str) -> None:
    """Record in the ledger that every stored document is linked by `link_version` (inside the linking
    transaction, so a crash cannot separate the links from this mark)."""
    for path, versions in db.execute("SELECT source_path, versions FROM sources WHERE status = 'ok'").fetchall():
        v = json.loads(versions or "{}")
        if v.get("link") != link_version:
            db.execute("UPDATE sources SET versions = ? WHERE source_path = ?",
                       [json.dumps({**v, "link": link_version}, sort_keys=True), path])


def mark_interrupted_runs(db: sqlite_utils.Database) -> int:
    """Runs still 'running' when a new run holds the run lock died mid-way (killed, power cut)."""
    with transaction(db):
        cur = db.execute("UPDATE runs SET status = 'interrupted', finished_at = ?, message = coalesce(message, '') "
                         "|| 'stopped before the end (process killed?); the next run completed its work' "
                         "WHERE status = 'running'", [now()])
    return cur.rowcount
