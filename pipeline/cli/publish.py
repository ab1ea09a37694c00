"""`scrutiny serve` and `scrutiny publish`: the database served with Datasette, or written as a site folder."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from pipeline.cli.common import emit, say, warn
from pipeline.errors import PipelineError


def cmd_serve(args: argparse.Namespace) -> int:
    import os

    from pipeline.publish import serve
    from pipeline.publish.site.common import REVIEW_TOKEN_ENV, REVIEW_TOKEN_MIN
    from pipeline.run.site_reviews import reviews_path_for

    db = Path(args.db)
    if not db.exists():
        warn(f"no database at {db}: run `scrutiny ingest` first")
        return 2
    token = None
    if args.review_token_file:
        try:
            token = Path(args.review_token_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            warn(f"cannot read the reviewers' token: {exc}")
            return 2
    token = token or os.environ.get(REVIEW_TOKEN_ENV) or None
    if token is not None and len(token) < REVIEW_TOKEN_MIN:
        warn(f"the reviewers' token must be at least {REVIEW_TOKEN_MIN} characters long")
        return 2
    # reviewing needs a token: without one nobody could write, so no reviews database is opened
    reviews = (Path(args.reviews) if args.reviews else reviews_path_for(db)) if token else None
    archive = Path(args.archive) if args.archive else db.parent / "archive"
    say(f"serving {db} at http://{args.host}:{args.port}/  (Ctrl+C to stop)")
    if reviews is not None:
        say(f"reviewers sign in at /-/review/login; their decisions go to {reviews}")
    serve(db, host=args.host, port=args.port, public=args.public, reviews=reviews, review_token=token, archive=archive)
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    from pipeline.publish.deploy import write_site

    try:
        summary = write_site(Path(args.db), Path(args.dir), public=args.public)
    except PipelineError as exc:
        warn(str(exc))
        return 2
    emit(summary)
    warn(f"wrote {summary['dir']}: serve it with `datasette {summary['dir']}`")
    return 0


def add_commands(sub: Any) -> None:
    p = sub.add_parser("serve", help="serve the database read-only with Datasette on 127.0.0.1")
    p.add_argument("--db", default="data/scrutiny.db", help="SQLite database (default: data/scrutiny.db)")
    p.add_argument("--port", type=int, default=8001, help="port (default: 8001)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    p.add_argument("--public", action="store_true", help="public deployment: switch off arbitrary SQL")
    p.add_argument(
        "--review-token-file",
        metavar="PATH",
        help="file holding the reviewers' token (or set SCRUTINY_REVIEW_TOKEN): who signs in with it may record "
        "decisions on links and labels; without one, nobody can",
    )
    p.add_argument(
        "--reviews",
        metavar="PATH",
        help="writable reviews database for those decisions, when a token is set (default: beside the database, "
        "e.g. data/scrutiny.reviews.db)",
    )
    p.add_argument(
        "--archive",
        metavar="DIR",
        help="fetch archive the source files are served from (default: archive/ beside the database)",
    )
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("publish", help="write a folder that `datasette DIR` or `datasette package` serves as it is")
    p.add_argument("dir", metavar="DIR", help="folder to write (new, empty, or written by publish before)")
    p.add_argument("--db", default="data/scrutiny.db", help="SQLite database (default: data/scrutiny.db)")
    p.add_argument("--public", action="store_true", help="public deployment: switch off arbitrary SQL")
    p.set_defaults(func=cmd_publish)
