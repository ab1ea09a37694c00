"""`scrutiny review-links FILE.csv`: store reviewers' decisions on concerns and relink the councils they touch.

Standard output: one JSON line per row of the file, in order,

    {"line": 2, "action": "merge", "statement_id": null, "concern_id": "...", "other": "...",
     "status": "recorded" | "already recorded" | "failed", "error": null | "reason"}

then one summary line {"db", "file", "recorded", "already_recorded", "failed", "councils", "concerns"}.
Each failed row is also reported on standard error. Good rows are stored even when others fail; the exit
status is 1 when any row failed (a reviewer's file is written by hand and every row matters) and 2 when the
file or the database cannot be used at all.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pipeline.cli.common import emit, warn
from pipeline.config import Settings
from pipeline.errors import PipelineError


def cmd_review_links(args: argparse.Namespace) -> int:
    from pipeline import store
    from pipeline.run.linking import apply_reviews

    db_path, path = Path(args.db), Path(args.file)
    if not db_path.exists():
        warn(f"review-links: no database at {db_path}: run `scrutiny ingest` first")
        return 2
    try:
        with store.connect(db_path) as db:
            report = apply_reviews(db, Settings(db_path=db_path), path, args.reviewer)
    except PipelineError as exc:
        warn(f"review-links: {exc}")
        return 2
    for outcome in report.outcomes:
        emit(outcome.as_row())
        if outcome.error:
            warn(f"review-links: {path} line {outcome.line}: {outcome.error}")
    summary = {
        "db": str(db_path),
        "file": str(path),
        "recorded": report.count("recorded"),
        "already_recorded": report.count("already recorded"),
        "failed": report.count("failed"),
        "councils": report.councils,
        "concerns": report.concerns,
    }
    emit(summary)
    warn(
        "review-links: "
        f"{summary['recorded']} decision(s) recorded, {summary['already_recorded']} already recorded, "
        f"{summary['failed']} failed" + (f"; relinked {', '.join(report.councils)}" if report.councils else "")
    )
    return 1 if summary["failed"] else 0


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "review-links",
        help="store reviewers' decisions on concerns (confirm, reject, merge, split) from a CSV "
        "and relink the councils they touch; decisions always win over the algorithm",
    )
    p.add_argument("file", metavar="FILE.csv", help="CSV with columns action, statement_id, concern_id, other, note")
    p.add_argument("--db", default="data/scrutiny.db", help="SQLite database (default: data/scrutiny.db)")
    p.add_argument("--reviewer", help="who decided (a 'reviewer' column in the file wins)")
    p.set_defaults(func=cmd_review_links)
