"""Area labels: the model's predictions and people's corrections, which win."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import sqlite_utils

from pipeline.errors import StoreError
from pipeline.records import Prediction
from pipeline.store.db import now, transaction, write_rows
from pipeline.store.schema import (  # noqa: F401 (the schema is part of the store's interface)
    SCHEMA,
    TABLES,
    VIEWS,
    Column,
    Table,
)


def prediction_row(p: Prediction) -> dict[str, Any]:
    return {
        "statement_id": p.statement_id,
        "scheme": p.scheme,
        "labels": json.dumps(list(p.labels)),
        "scores": json.dumps(p.scores, sort_keys=True),
        "abstain": int(p.abstain),
        "model": p.model,
        "margin": p.margin,
    }


def apply_corrections(db: sqlite_utils.Database, document_id: str | None = None) -> None:
    """People win: lay corrections over the model's predictions (of one document, or all)."""
    where = "AND s.document_id = ?" if document_id else ""
    db.execute(
        f"""UPDATE predictions SET labels = c.labels, abstain = 0, model = 'correction', margin = 1.0
        FROM corrections c JOIN statements s ON s.id = c.statement_id
        WHERE predictions.statement_id = c.statement_id AND predictions.scheme = c.scheme {where}""",
        [document_id] if document_id else [],
    )


def save_corrections(db: sqlite_utils.Database, rows: Iterable[dict[str, Any]]) -> int:
    """Import corrections ({"statement_id", "scheme", "labels", "note"}); all or nothing.

    Every statement id must exist; the error lists those that do not."""
    rows = list(rows)
    known = {
        r[0]
        for r in db.execute(
            "SELECT id FROM statements WHERE id IN (SELECT value FROM json_each(?))",
            [json.dumps([r["statement_id"] for r in rows])],
        ).fetchall()
    }
    unknown = [r["statement_id"] for r in rows if r["statement_id"] not in known]
    if unknown:
        raise StoreError(
            f"{len(unknown)} statement id(s) are not in the database, nothing imported: "
            + ", ".join(unknown[:20])
            + (" ..." if len(unknown) > 20 else "")
        )
    stamp = now()
    with transaction(db):
        write_rows(
            db,
            "corrections",
            (
                {
                    "statement_id": r["statement_id"],
                    "scheme": r.get("scheme") or "areas",
                    "labels": json.dumps(list(r["labels"])),
                    "note": r.get("note"),
                    "imported_at": stamp,
                }
                for r in rows
            ),
            replace=True,
        )
        apply_corrections(db)
    return len(rows)


def text_key(text: str) -> str:
    """The key a labelled text is matched by: whitespace collapsed, case folded (as training folds them in)."""
    return " ".join(text.split()).casefold()


def save_labels(db: sqlite_utils.Database, rows: Iterable[dict[str, Any]]) -> dict[str, int]:
    """Import people's labels; all or nothing. Returns how many became corrections and labelled texts.

    A row with a `statement_id` is a correction of that statement (every id must exist). A row with only a
    `text` corrects every stored statement with the same text (whitespace and case aside), and when no
    statement has it, it is kept in `labelled_texts`, which `corrections_for_training` folds into training.
    """
    rows = list(rows)
    by_text = [r for r in rows if not r.get("statement_id")]
    corrections = [r for r in rows if r.get("statement_id")]
    texts: list[dict[str, Any]] = []
    if by_text:
        ids: dict[str, list[str]] = {}
        for sid, text in db.execute("SELECT id, text FROM statements").fetchall():
            ids.setdefault(text_key(text), []).append(sid)
        for r in by_text:
            matches = ids.get(text_key(r["text"]))
            if matches:
                corrections.extend({**r, "statement_id": sid} for sid in matches)
            else:
                texts.append(r)
    stamp = now()
    with transaction(db):
        if corrections:
            save_corrections(db, corrections)
        write_rows(
            db,
            "labelled_texts",
            (
                {
                    "text_key": text_key(r["text"]),
                    "scheme": r.get("scheme") or "areas",
                    "text": r["text"],
                    "labels": json.dumps(list(r["labels"])),
                    "note": r.get("note"),
                    "source": r.get("source_url") or r.get("source"),
                    "imported_at": stamp,
                }
                for r in texts
            ),
            replace=True,
        )
    return {"corrections": len(corrections), "labelled_texts": len(texts)}


def corrections_for_training(db: sqlite_utils.Database, scheme: str) -> list[dict[str, Any]]:
    """People's labels to fold into training: corrected statements and labelled texts, the oldest first
    (so that when one text has two, the newer wins in `fold_in`); labelled texts have no statement id."""
    rows = db.execute(
        "SELECT c.imported_at, c.statement_id, s.text, c.labels FROM corrections c "
        "JOIN statements s ON s.id = c.statement_id WHERE c.scheme = ? "
        "UNION ALL SELECT imported_at, NULL, text, labels FROM labelled_texts WHERE scheme = ? "
        "ORDER BY 1, 2, 3",
        [scheme, scheme],
    ).fetchall()
    return [{"statement_id": r[1], "text": r[2], "labels": json.loads(r[3])} for r in rows]


def corrections_map(db: sqlite_utils.Database, scheme: str) -> dict[str, list[str]]:
    return {
        r[0]: json.loads(r[1])
        for r in db.execute("SELECT statement_id, labels FROM corrections WHERE scheme = ?", [scheme]).fetchall()
    }


def save_predictions(db: sqlite_utils.Database, predictions: Iterable[Prediction]) -> int:
    rows = [prediction_row(p) for p in predictions]
    with transaction(db):
        write_rows(db, "predictions", rows, replace=True)
    return len(rows)


def replace_predictions(
    db: sqlite_utils.Database,
    document_id: str,
    predictions: Iterable[Prediction],
    *,
    source_path: str,
    versions: dict[str, str],
    run_id: str,
) -> int:
    """A new model's labels for one stored document, with its ledger's versions, in one transaction."""
    rows = [prediction_row(p) for p in predictions]
    with transaction(db):
        db.execute(
            "DELETE FROM predictions WHERE statement_id IN (SELECT id FROM statements WHERE document_id = ?)",
            [document_id],
        )
        write_rows(db, "predictions", rows, replace=True)
        apply_corrections(db, document_id=document_id)
        db.execute(
            "UPDATE sources SET versions = ?, run_id = ?, updated_at = ? WHERE source_path = ?",
            [json.dumps(versions, sort_keys=True), run_id, now(), source_path],
        )
    return len(rows)
