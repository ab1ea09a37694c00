"""Pairs, concern mentions, concerns and link reviews."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

import sqlite_utils

from pipeline.store.db import now, transaction, write_rows
from pipeline.store.documents import statement_aliases
from pipeline.store.schema import (  # noqa: F401 (the schema is part of the store's interface)
    SCHEMA,
    TABLES,
    VIEWS,
    Column,
    Table,
)


def pairing_candidates(
    db: sqlite_utils.Database, document_ids: Iterable[str]
) -> tuple[Iterator[dict[str, Any]], Iterator[dict[str, Any]], set[str]]:
    """For pairing English and Welsh versions: the given documents, every stored document in the other language
    that could be their partner (same or unknown council), and the ids already paired. The documents (with
    their text's length, not the text: `document_text`) are read as they are taken, one at a time: take all of
    the first before the second."""
    cols = """d.id, d.language, length(d.text) AS text_length, d.local_authority, d.published, d.pages, d.part_of,
              d.source_path, d.source_url,
              (SELECT group_concat(s.source_path, char(10)) FROM sources s
               WHERE s.document_id IN (d.id, d.part_of)) AS paths,
              (SELECT json_extract(s.meta, '$.translation_of') FROM sources s
               WHERE s.document_id IN (d.id, d.part_of)) AS translation_of"""
    ids = json.dumps(list(document_ids))
    new = (
        dict(r)
        for r in db.query(f"SELECT {cols} FROM documents d WHERE d.id IN (SELECT value FROM json_each(?))", [ids])
    )
    others = (
        dict(r)
        for r in db.query(
            f"""SELECT {cols} FROM documents d WHERE d.language IN ('en', 'cy') AND d.id NOT IN (SELECT value FROM json_each(?))
            AND (d.local_authority IS NULL OR d.local_authority IN (SELECT local_authority FROM documents
                 WHERE id IN (SELECT value FROM json_each(?))) OR EXISTS (SELECT 1 FROM documents
                 WHERE id IN (SELECT value FROM json_each(?)) AND local_authority IS NULL))""",
            [ids, ids, ids],
        )
    )
    paired = {
        r[0] for r in db.execute("SELECT english_id FROM document_pairs UNION SELECT welsh_id FROM document_pairs")
    }
    return new, others, paired


def save_pairs(db: sqlite_utils.Database, pairs: Iterable[Any]) -> int:
    """Record English/Welsh pairs (pipeline.run.pairing.Pair); a document has one partner, so older pairs of either
    document are replaced."""
    rows = [
        {
            "english_id": p.english_id,
            "welsh_id": p.welsh_id,
            "score": p.score,
            "method": p.method,
            "evidence": json.dumps(p.evidence, sort_keys=True),
            "paired_at": now(),
        }
        for p in pairs
    ]
    with transaction(db):
        for r in rows:
            db.execute(
                "DELETE FROM document_pairs WHERE english_id = ? OR welsh_id = ?", [r["english_id"], r["welsh_id"]]
            )
        write_rows(db, "document_pairs", rows)
    return len(rows)


MENTION_FIELDS = (
    "statement_id",
    "concern_id",
    "role",
    "score",
    "date",
    "document_id",
    "doc_type",
    "status_in_text",
    "local_authority",
    "service",
    "text",
    "thread",
    "areas",
)


def recurrence_inputs(db: sqlite_utils.Database, document_ids: Iterable[str]) -> list[dict[str, Any]]:
    """Statements of these documents with their document's metadata and labels, for the recurrence stage."""
    return [
        dict(r)
        for r in db.query(
            """SELECT s.id, s.document_id, s.seq, s.text, s.kind, s.heading, s.lemmas, s.language,
                  d.local_authority, d.doc_type, d.published, d.service, p.labels
           FROM statements s JOIN documents d ON d.id = s.document_id
           LEFT JOIN predictions p ON p.statement_id = s.id
           WHERE s.document_id IN (SELECT value FROM json_each(?)) AND d.local_authority IS NOT NULL
           ORDER BY d.published, s.document_id, s.seq""",
            [json.dumps(list(document_ids))],
        )
    ]


def stored_mentions(db: sqlite_utils.Database, local_authorities: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """Every stored mention (or those of these councils, by the name stored with them) with its statement's
    lemmas and seq (to rebuild the linking index)."""
    where, params = "", []
    if local_authorities is not None:
        where, params = (
            "WHERE m.local_authority IN (SELECT value FROM json_each(?))",
            [json.dumps(list(local_authorities))],
        )
    return [
        dict(r)
        for r in db.query(
            f"""SELECT m.*, s.lemmas, s.seq FROM concern_mentions m JOIN statements s ON s.id = m.statement_id
           {where} ORDER BY m.date, m.document_id, s.seq""",
            params,
        )
    ]


def mention_councils(db: sqlite_utils.Database) -> list[str]:
    """The council names stored with mentions (a council's mentions may carry more than one spelling)."""
    return [
        r[0]
        for r in db.execute("SELECT DISTINCT local_authority FROM concern_mentions WHERE local_authority IS NOT NULL")
    ]


def save_recurrence(
    db: sqlite_utils.Database, mentions: Iterable[Any], concerns: Iterable[Any], picked: Iterable[dict[str, Any]] = ()
) -> int:
    """Write picked recommendations, new mentions, and replace the given concerns (their status and counts
    change as mentions arrive)."""
    with transaction(db):
        return _write_recurrence(db, mentions, concerns, picked)


def _write_recurrence(
    db: sqlite_utils.Database, mentions: Iterable[Any], concerns: Iterable[Any], picked: Iterable[dict[str, Any]]
) -> int:
    mention_rows = [
        {**{f: getattr(m, f) for f in MENTION_FIELDS}, "areas": json.dumps(list(m.areas))} for m in mentions
    ]
    concern_rows = [
        {
            "concern_id": c.concern_id,
            "local_authority": c.local_authority,
            "service": c.service,
            "areas": json.dumps(list(c.areas)),
            "first_raised": c.first_raised,
            "last_raised": c.last_raised,
            "inspections": c.inspections,
            "status": c.status,
            "label": c.label,
            "mentions": len(c.mentions),
        }
        for c in concerns
    ]
    write_rows(db, "concerns", concern_rows, replace=True)
    write_rows(db, "concern_mentions", mention_rows, replace=True)
    write_rows(db, "recommendations", picked, replace=True)
    db.execute("DELETE FROM concerns WHERE concern_id NOT IN (SELECT concern_id FROM concern_mentions)")
    return len(mention_rows)


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


def save_reviews(
    db: sqlite_utils.Database,
    reviews: Iterable[dict[str, Any]],
    councils: Iterable[str],
    mentions: Iterable[Any],
    concerns: Iterable[Any],
    picked: Iterable[dict[str, Any]],
) -> int:
    """In one transaction: add reviewers' decisions, and replace the recurrence tables' rows of `councils`
    (local_authority values) by their relinked mentions, concerns and picked statements. Nothing else is
    touched: other councils keep their rows."""
    review_rows = [{**r, "id": None, "resolved": json.dumps(r["resolved"], sort_keys=True)} for r in reviews]
    councils = json.dumps(sorted(set(councils)))
    with transaction(db):
        write_rows(db, "link_reviews", review_rows)
        for table in ("concern_mentions", "recommendations", "concerns"):
            db.execute(f"DELETE FROM [{table}] WHERE local_authority IN (SELECT value FROM json_each(?))", [councils])
        _write_recurrence(db, mentions, concerns, picked)
    return len(review_rows)


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
            db.execute(
                "UPDATE sources SET versions = ? WHERE source_path = ?",
                [json.dumps({**v, "link": link_version}, sort_keys=True), path],
            )
