"""`scrutiny serve` and `scrutiny publish`: the database served with Datasette, or written as a site folder."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from pipeline.cli.common import emit, say, warn
from pipeline.errors import PipelineError


def cmd_serve(args: argparse.Namespace) -> int:
    from pipeline.publish import serve

    db = Path(args.db)
    if not db.exists():
        warn(f"no database at {db}: run `scrutiny ingest` first")
        return 2
    say(f"serving {db} at http://{args.host}:{args.port}/  (Ctrl+C to stop)")
    serve(db, host=args.host, port=args.port, public=args.public)
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
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("publish", help="write a folder that `datasette DIR` or `datasette package` serves as it is")
    p.add_argument("dir", metavar="DIR", help="folder to write (new, empty, or written by publish before)")
    p.add_argument("--db", default="data/scrutiny.db", help="SQLite database (default: data/scrutiny.db)")
    p.add_argument("--public", action="store_true", help="public deployment: switch off arbitrary SQL")
    p.set_defaults(func=cmd_publish)
