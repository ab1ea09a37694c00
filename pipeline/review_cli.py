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
import json
import sys
from pathlib import Path
from typing import Any

from .config import Settings
from .errors import PipelineError


def _emit(row: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")


def _warn(message: str) -> None:
    print(f"scrutiny: review-links: {message}", file=sys.stderr)


def cmd_review_links(args: argparse.Namespace) -> int:
    from . import store
    from .linking import apply_reviews

    db_path, path = Path(args.db), Path(args.file)
    if not db_path.exists():
        _warn(f"no database at {db_path}: run `scrutiny ingest` first")
        return 2
    db = store.open_db(db_path)
    try:
        report = apply_reviews(db, Settings(db_path=db_path), path, args.reviewer)
    except PipelineError as exc:
        _warn(str(exc))
        return 2
    finally:
        db.close()
    for outcome in report.outcomes:
        _emit(outcome.as_row())
        if outcome.error:
            _warn(f"{path} line {outcome.line}: {outcome.error}")
    summary = {"db": str(db_path), "file": str(path), "recorded": report.count("recorded"),
               "already_recorded": report.count("already recorded"), "failed": report.count("failed"),
               "councils": report.councils, "concerns": report.concerns}
    _emit(summary)
    _warn(f"{summary['recorded']} decision(s) recorded, {summary['already_recorded']} already recorded, "
          f"{summary['failed']} failed" + (f"; relinked {', '.join(report.councils)}" if report.councils else ""))
    return 1 if summary["failed"] else 0


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "review-links", help="store reviewers' decisions on concerns (confirm, reject, merge, split) from a CSV "
                             "and relink the councils they touch; decisions always win over the algorithm")
    p.add_argument("file", metavar="FILE.csv", help="CSV with columns action, statement_id, concern_id, other, note")
    p.add_argument("--db", default="data/scrutiny.db", help="SQLite database (default: data/scrutiny.db)")
    p.add_argument("--reviewer", help="who decided (a 'reviewer' column in the file wins)")
    p.set_defaults(func=cmd_review_links)
