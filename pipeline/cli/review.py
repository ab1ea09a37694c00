"""`scrutiny review-links FILE.csv`: store reviewers' decisions on concerns and relink the councils they touch.

Standard output: one JSON line per row of the file, in order,

    {"line": 2, "action": "merge", "statement_id": null, "concern_id": "...", "other": "...",
     "status": "recorded" | "already recorded" | "failed", "error": null | "reason"}

then, for the decisions reviewers recorded on the site and not read before (the reviews database beside the
database, see pipeline/run/site_reviews.py), one line each {"site_decision": id, "status", "error"}; then one
summary line {"db", "file", "reviews_db", "recorded", "already_recorded", "failed", "councils", "concerns",
"site"}. Without FILE.csv only the site's decisions are read.
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
    from pipeline.run.linking import ReviewReport, apply_reviews
    from pipeline.run.site_reviews import import_site_links, reviews_path_for

    db_path = Path(args.db)
    path = Path(args.file) if args.file else None
    reviews = Path(args.reviews) if args.reviews else reviews_path_for(db_path)
    if not db_path.exists():
        warn(f"review-links: no database at {db_path}: run `scrutiny ingest` first")
        return 2
    settings = Settings(db_path=db_path)
    db = store.open_db(db_path)
    try:
        report = apply_reviews(db, settings, path, args.reviewer) if path else ReviewReport()
        site = import_site_links(db, settings, reviews)
    except PipelineError as exc:
        warn(f"review-links: {exc}")
        return 2
    finally:
        db.close()
    for outcome in report.outcomes:
        emit(outcome.as_row())
        if outcome.error:
            warn(f"review-links: {path} line {outcome.line}: {outcome.error}")
    site_links = site.links if site else []
    for decision in site_links:
        emit({"site_decision": decision["id"], "status": decision["status"], "error": decision["error"]})
        if decision["error"]:
            warn(f"review-links: {reviews} decision {decision['id']}: {decision['error']}")
    summary = {
        "db": str(db_path),
        "file": str(path) if path else None,
        "reviews_db": str(reviews) if site else None,
        "recorded": report.count("recorded") + sum(o["status"] == "recorded" for o in site_links),
        "already_recorded": report.count("already recorded")
        + sum(o["status"] == "already recorded" for o in site_links),
        "failed": report.count("failed") + sum(o["status"] == "failed" for o in site_links),
        "councils": sorted(set(report.councils) | set(site.councils if site else [])),
        "concerns": report.concerns,
        "site": site.as_dict() if site else None,
    }
    emit(summary)
    warn(
        "review-links: "
        f"{summary['recorded']} decision(s) recorded, {summary['already_recorded']} already recorded, "
        f"{summary['failed']} failed"
        + (f"; relinked {', '.join(summary['councils'])}" if summary["councils"] else "")
        + ("" if site or path else f"; no file given and no reviews database at {reviews}")
    )
    return 1 if summary["failed"] else 0


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "review-links",
        help="store reviewers' decisions on concerns (confirm, reject, merge, split) from a CSV "
        "and relink the councils they touch; decisions always win over the algorithm",
    )
    p.add_argument(
        "file",
        metavar="FILE.csv",
        nargs="?",
        help="CSV with columns action, statement_id, concern_id, other, note (without one, only the decisions "
        "recorded on the site are read)",
    )
    p.add_argument("--db", default="data/scrutiny.db", help="SQLite database (default: data/scrutiny.db)")
    p.add_argument("--reviewer", help="who decided (a 'reviewer' column in the file wins)")
    p.add_argument(
        "--reviews",
        metavar="PATH",
        help="reviews database the site writes (default: beside the database, e.g. data/scrutiny.reviews.db)",
    )
    p.set_defaults(func=cmd_review_links)
