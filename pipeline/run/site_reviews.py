"""Decisions reviewers recorded on the site, read into the database as the CSV ones are.

The site (pipeline/publish/site) writes reviewers' decisions to a separate reviews database, by default
`scrutiny.reviews.db` beside `scrutiny.db`, because the served database is immutable. Its two tables hold
what was decided and who decided it:

- `link_decisions`: confirm, reject or split a statement's link to a concern (a move is a confirm into the
  other concern), exactly the rows of a review CSV (`scrutiny review-links FILE.csv`);
- `label_decisions`: the areas of a statement, exactly the rows of a corrections CSV (`scrutiny label`).

`import_site_reviews` reads the decisions not read before, in the order they were made, checks and applies
them with the same code as the CSV files (a bad one is refused with its reason and costs only itself),
and marks each one read with its outcome (`imported_at`, `status`, `error`), which the site then shows.
`scrutiny review-links`, `scrutiny label` and every ingest call it, so a decision made on the site holds
from the next of them on, and for ever after, like a decision from a file.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.config import Settings

LINK_ACTIONS = ("confirm", "reject", "merge", "split")


def reviews_path_for(db_path: Path | str) -> Path:
    """`data/scrutiny.db` -> `data/scrutiny.reviews.db` (the default the site writes)."""
    db_path = Path(db_path)
    return db_path.with_name(f"{db_path.stem}.reviews.db")


@dataclass
class SiteImport:
    """What one import did: outcomes of link decisions and of label decisions, by decision id."""

    path: str
    links: list[dict[str, Any]] = field(default_factory=list)
    labels: list[dict[str, Any]] = field(default_factory=list)
    councils: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        def count(rows: list[dict[str, Any]], status: str) -> int:
            return sum(r["status"] == status for r in rows)

        return {
            "reviews_db": self.path,
            "link_decisions": {s: count(self.links, s) for s in ("recorded", "already recorded", "failed")},
            "label_decisions": {s: count(self.labels, s) for s in ("recorded", "failed")},
            "councils": self.councils,
        }


def _connect(path: Path) -> sqlite3.Connection:
    con = sqlite3.connect(str(path), timeout=30)
    con.row_factory = sqlite3.Row
    return con


def _tables(con: sqlite3.Connection) -> set[str]:
    return {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def pending(path: Path | str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(link decisions, label decisions) not read yet, oldest first; nothing when there is no reviews file."""
    path = Path(path)
    if not path.is_file():
        return [], []
    con = _connect(path)
    try:
        tables = _tables(con)
        links = (
            [dict(r) for r in con.execute("SELECT * FROM link_decisions WHERE imported_at IS NULL ORDER BY id")]
            if "link_decisions" in tables
            else []
        )
        labels = (
            [dict(r) for r in con.execute("SELECT * FROM label_decisions WHERE imported_at IS NULL ORDER BY id")]
            if "label_decisions" in tables
            else []
        )
    finally:
        con.close()
    return links, labels


def _mark(path: Path, table: str, outcomes: list[dict[str, Any]], at: str) -> None:
    if not outcomes:
        return
    con = _connect(path)
    try:
        with con:
            con.executemany(
                f"UPDATE {table} SET imported_at = ?, status = ?, error = ? WHERE id = ?",
                [(at, o["status"], o.get("error"), o["id"]) for o in outcomes],
            )
    finally:
        con.close()


def import_site_links(db: Any, settings: Settings, path: Path | str | None = None) -> SiteImport | None:
    """The link decisions only (`scrutiny review-links`)."""
    return import_site_reviews(db, settings, path, labels=False)


def import_site_labels(
    db: Any, settings: Settings, path: Path | str | None = None, scheme: str = "areas"
) -> SiteImport | None:
    """The label decisions only (`scrutiny label`)."""
    return import_site_reviews(db, settings, path, scheme, links=False)


def import_site_reviews(
    db: Any,
    settings: Settings,
    path: Path | str | None = None,
    scheme: str = "areas",
    *,
    links: bool = True,
    labels: bool = True,
) -> SiteImport | None:
    """Apply the site's pending decisions to `db` (link decisions through `apply_review_rows`, label decisions
    through the corrections checks and `store.save_corrections`) and mark them read. None when there is no
    reviews database."""
    from pipeline import store
    from pipeline.classify.corrections import CorrectionsError, check_correction_rows
    from pipeline.lexicon.taxonomy import load_taxonomy
    from pipeline.run.linking import apply_review_rows

    path = Path(path) if path is not None else reviews_path_for(settings.db_path)
    if not path.is_file():
        return None
    pending_links, pending_labels = pending(path)
    link_rows = pending_links if links else []
    label_rows = pending_labels if labels else []
    result = SiteImport(str(path))
    stamp = store.now()
    if link_rows:
        rows = [
            (
                d["id"],
                {
                    "action": (d["action"] or "").lower(),
                    "statement_id": d["statement_id"] or "",
                    "concern_id": d["concern_id"] or "",
                    "other": d["other"] or "",
                    "note": d["note"] or "",
                    "reviewer": d["reviewer"] or "",
                },
            )
            for d in link_rows
        ]
        report = apply_review_rows(db, settings, rows, source=f"site:{path.name}")
        result.links = [{"id": o.line, "status": o.status, "error": o.error} for o in report.outcomes]
        result.councils = list(report.councils)
    if label_rows:
        taxonomy = load_taxonomy(scheme)
        good: dict[str, dict[str, Any]] = {}
        for d in label_rows:  # one by one: a bad decision is refused alone; a later one on a statement wins
            row = {
                "statement_id": d["statement_id"],
                "labels": d["labels"] or "",
                "note": d["note"] or "",
                "scheme": d["scheme"] or scheme,
            }
            try:
                checked = check_correction_rows([(d["id"], row)], taxonomy, f"site:{path.name}")[0]
            except CorrectionsError as exc:  # "...: 1 bad row(s), nothing imported:\n  line N: why"
                reason = str(exc).splitlines()[-1].strip().split(": ", 1)[-1]
                result.labels.append({"id": d["id"], "status": "failed", "error": reason})
                continue
            if not db.execute("SELECT 1 FROM statements WHERE id = ?", [checked["statement_id"]]).fetchone():
                result.labels.append(
                    {
                        "id": d["id"],
                        "status": "failed",
                        "error": f"unknown statement id {checked['statement_id']!r}: it is not in "
                        "the database (its document was changed or removed)",
                    }
                )
                continue
            good[checked["statement_id"]] = {
                **checked,
                "note": checked.get("note") or f"by {d['reviewer']} on the site",
            }
            result.labels.append({"id": d["id"], "status": "recorded", "error": None})
        if good:
            store.save_corrections(db, list(good.values()))
    _mark(path, "link_decisions", result.links, stamp)
    _mark(path, "label_decisions", result.labels, stamp)
    return result


def apply_site_reviews(settings: Settings, path: Path | str | None = None) -> dict[str, Any] | None:
    """What an ingest does with the site's decisions: when any wait in the reviews database beside the
    database, apply them (links and labels) in their order; returns what was done, or None when nothing
    waited. Call with the run lock held."""
    from pipeline import store

    path = Path(path) if path is not None else reviews_path_for(settings.db_path)
    links, labels = pending(path)
    if not links and not labels:
        return None
    db = store.open_db(settings.db_path)
    try:
        result = import_site_reviews(db, settings, path)
    finally:
        db.close()
    return result.as_dict() if result else None
