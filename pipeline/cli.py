"""The `scrutiny` command line: one thin function per command (see ../shared/cli-contract.md).

Stage commands write JSON Lines to standard output and progress to standard
error. They never start Prefect; only `ingest` runs the flow.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any, Iterator

from . import __version__
from .config import Settings
from .errors import PipelineError
from .records import Source


def _emit(row: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")


def _warn(message: str) -> None:
    print(f"scrutiny: {message}", file=sys.stderr)


def _meta(arg: str | None) -> dict[str, Any]:
    if not arg:
        return {}
    try:
        value = json.loads(arg)
    except json.JSONDecodeError as exc:
        raise SystemExit(f"scrutiny: --meta is not valid JSON: {exc}")
    if not isinstance(value, dict):
        raise SystemExit("scrutiny: --meta must be a JSON object")
    return value


def _documents(paths: list[str], meta: dict[str, Any], settings: Settings) -> Iterator[tuple[Source, Any]]:
    """Extract each path (or standard input for '-'); yields (source, Document or error message)."""
    from .extract import extract, extract_bytes
    from .sources import discover

    for source in discover([p for p in paths if p != "-"], meta) if paths != ["-"] else []:
        try:
            yield source, extract(source, settings)
        except PipelineError as exc:
            yield source, str(exc)
    if "-" in paths:
        source = Source("-", meta)
        try:
            yield source, extract_bytes(sys.stdin.buffer.read(), source, settings)
        except PipelineError as exc:
            yield source, str(exc)


def cmd_statements(args: argparse.Namespace) -> int:
    from .segment import segment

    settings = Settings(extra={"trained_pipeline": args.trained_pipeline} if args.trained_pipeline else {})
    ok = bad = 0
    for source, doc in _documents(args.paths, _meta(args.meta), settings):
        if isinstance(doc, str):
            bad += 1
            _warn(f"{source.path}: {doc}")
            _emit({"source_path": source.path, "error": doc})
            continue
        ok += 1
        for note in doc.notes:
            _warn(f"{source.path}: {note}")
        ocr_pages = set(doc.ocr_pages)
        for s in (s for part in _parts(doc, source) for s in segment(part, settings)):
            _emit({"document_id": s.document_id, "source_path": source.path, "seq": s.seq, "text": s.text,
                   "page": s.page, "char_start": s.char_start, "char_end": s.char_end, "heading": s.heading,
                   "kind": s.kind, "speaker": s.speaker, "language": s.language, "ocr": s.page in ocr_pages,
                   "entities": [{"label": e.label, "text": e.text, "char_start": e.char_start,
                                 "char_end": e.char_end, "value": e.value, "roles": list(e.roles)}
                                for e in s.entities]})
    return 1 if bad and not ok else 0


def cmd_documents(args: argparse.Namespace) -> int:
    settings = Settings()
    ok = bad = 0
    for source, doc in _documents(args.paths, _meta(args.meta), settings):
        if isinstance(doc, str):
            bad += 1
            _warn(f"{source.path}: {doc}")
            _emit({"document_id": None, "source_path": source.path, "title": None, "publisher": None,
                   "doc_type": None, "local_authority": None, "service": None, "published": None,
                   "language": None, "pages": None, "error": doc})
            continue
        ok += 1
        for part in _parts(doc, source):  # a bilingual file gives one line per language
            m = part.metadata
            _emit({"document_id": part.id, "source_path": source.path, "title": m.title, "publisher": m.publisher,
                   "doc_type": m.doc_type, "local_authority": m.local_authority, "service": m.service,
                   "published": m.published, "language": m.language, "pages": part.page_count, "error": None,
                   "format": part.format, "byline": m.byline, "url": m.url, "ocr_pages": list(part.ocr_pages),
                   "notes": list(part.notes), "part_of": part.part_of})
    return 1 if bad and not ok else 0


def _parts(doc, source):
    """The document's language parts: itself, or its English and Welsh parts when it is bilingual."""
    from .extract.bilingual import split_languages

    return split_languages(doc, source.meta.get("language"))


def prefect_environment(data_dir: Path) -> None:
    """Prefect runs embedded (a temporary local server) with its state under data/ and no telemetry."""
    home = (data_dir / "prefect").resolve()
    home.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PREFECT_HOME", str(home))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")


def cmd_ingest(args: argparse.Namespace) -> int:
    settings = Settings(db_path=Path(args.db))
    meta = _meta(args.meta)
    from .workplan import plan_ingest  # cheap: no Prefect, no parsing

    try:
        work = plan_ingest(args.paths, settings, meta)
    except PipelineError as exc:
        _warn(str(exc))
        return 2
    if not work.has_work and not args.sources:
        summary = {"run_id": None, "db": str(settings.db_path), "inputs": work.inputs, "added": 0, "changed": 0,
                   "unchanged": len(work.unchanged), "deleted": 0, "failed": 0, "failures": [],
                   "message": f"nothing changed: {len(work.unchanged)} sources unchanged, nothing added, "
                              f"changed or deleted"}
        _emit(summary)
        _warn(summary["message"])
        return _swap_in(args, settings) if args.swap_to and not Path(args.swap_to).exists() else 0
    from .runlock import RunLocked, explain_db_error, run_lock

    try:  # taken before Prefect starts, so a second run is told at once (the flow re-enters it)
        lock = run_lock(settings.db_path, timeout=args.wait)
        lock.__enter__()
    except RunLocked as exc:
        _warn(str(exc))
        return 3
    prefect_environment(settings.data_dir)
    from flows.ingest import with_task_runner

    redo = len(work.todo) + len(work.resegment) + len(work.reclassify)
    _warn(f"ingesting {redo} of {work.inputs} sources into {settings.db_path}"
          f"{' (and relinking)' if work.relink else ''} ...")
    flow = with_task_runner(args.workers, dask=args.dask, dask_address=args.dask_address)
    try:
        summary = flow(paths=args.paths, db_path=str(settings.db_path), meta=meta or None, workers=args.workers,
                       watchlist=args.sources, contact=os.environ.get("SCRUTINY_CONTACT"))
    except Exception as exc:  # the run is stored; it ended failed (e.g. a watched source is broken)
        _warn(f"the run ended failed: {explain_db_error(exc, settings.db_path) or exc}")
        return 1
    finally:
        lock.__exit__(None, None, None)
    _emit(summary)
    _warn(summary["message"])
    for f in summary["failures"]:
        _warn(f"  failed: {f['source_path']}: {f['reason']}")
    if args.swap_to and _swap_in(args, settings):
        return 1
    return 0 if summary["inputs"] > summary["failed"] or not summary["inputs"] else 1


def _swap_in(args: argparse.Namespace, settings: Settings) -> int:
    """Swap a checked snapshot of the database in as the served file (pipeline.swap)."""
    from .swap import publish

    try:
        publish(settings.db_path, Path(args.swap_to))
    except PipelineError as exc:
        _warn(str(exc))
        return 1
    _warn(f"copied {settings.db_path} to {args.swap_to} (checked, swapped in atomically)")
    return 0


def cmd_fetch(args: argparse.Namespace) -> int:
    """Fetch watched sources (or given addresses) into the archive; no Prefect, no parsing."""
    from dataclasses import asdict

    from . import store
    from .fetch import SourceHealth, fetch, fetch_sources, load_watchlist

    contact = os.environ.get("SCRUTINY_CONTACT")
    settings = Settings(db_path=Path(args.db), extra={"fetch": {"contact": contact}} if contact else {})
    if args.urls:
        results = [fetch(url, settings) for url in args.urls]
        for r in results:
            _emit({**asdict(r), "path": str(r.path) if r.path else None})
        return 0 if any(r.status != "failed" for r in results) else 1
    db = store.open_db(settings.db_path)
    try:
        health = {name: SourceHealth(**row) for name, row in store.source_health(db).items()}
        watched = [s for s in load_watchlist(Path(args.sources)) if not args.only or s.name in args.only]
        runs = fetch_sources(watched, settings, health=health)
        store.save_source_health(db, [asdict(r.health) for r in runs])
    finally:
        db.close()
    for run in runs:
        for r in run.results:
            _emit({"source": run.source.name, **asdict(r), "path": str(r.path) if r.path else None})
        _emit({"source_health": asdict(run.health)})
        if not run.health.ok or run.health.stale:
            _warn(f"source {run.health.name}: {run.health.error or 'nothing new for longer than expected'}")
    return 0 if any(r.health.ok for r in runs) or not runs else 1


def cmd_label(args: argparse.Namespace) -> int:
    """Import label corrections from a CSV (statement_id, labels[, note]) into the corrections table."""
    from . import store
    from .corrections import read_corrections_csv
    from .taxonomy import load_taxonomy

    db_path = Path(args.db)
    if not db_path.exists():
        _warn(f"no database at {db_path}: run `scrutiny ingest` first")
        return 2
    try:
        rows = read_corrections_csv(Path(args.file), load_taxonomy(args.scheme))
        db = store.open_db(db_path)
        try:
            n = store.save_corrections(db, [{**r, "scheme": args.scheme} for r in rows])
        finally:
            db.close()
    except PipelineError as exc:
        _warn(str(exc))
        return 2
    _emit({"imported": n, "scheme": args.scheme, "db": str(db_path)})
    _warn(f"{n} correction(s) imported; they override the model now and after re-ingestion "
          f"(`scrutiny train --with-corrections {db_path}` folds them into the next model)")
    return 0


def cmd_schedule(args: argparse.Namespace) -> int:
    settings = Settings(db_path=Path(args.db))
    prefect_environment(settings.data_dir)
    from contextlib import nullcontext

    from flows.server import local_server

    own_server = not os.environ.get("PREFECT_API_URL")
    with local_server(args.server_port) if own_server else nullcontext(os.environ["PREFECT_API_URL"]) as api:
        os.environ["PREFECT_API_URL"] = api
        from flows.schedule import serve_ingest  # imports Prefect, which now reads the server's address

        _warn(f"serving the ingest flow on the schedule '{args.cron}' ({args.timezone}) over {' '.join(args.paths)} "
              f"into {settings.db_path}, with the Prefect API at {api}; Ctrl+C to stop")
        serve_ingest([str(Path(p).resolve()) for p in args.paths], str(settings.db_path.resolve()), cron=args.cron,
                     timezone=args.timezone, meta=_meta(args.meta) or None, workers=args.workers,
                     watchlist=str(Path(args.sources).resolve()) if args.sources else None,
                     contact=os.environ.get("SCRUTINY_CONTACT"), dask_address=args.dask_address)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from .publish import serve

    db = Path(args.db)
    if not db.exists():
        _warn(f"no database at {db}: run `scrutiny ingest` first")
        return 2
    print(f"Scrutiny is serving {db} at http://{args.host}:{args.port}/  (Ctrl+C to stop)", file=sys.stderr,
          flush=True)
    serve(db, host=args.host, port=args.port, public=args.public)
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    from .deploy import write_site

    try:
        summary = write_site(Path(args.db), Path(args.dir), public=args.public)
    except PipelineError as exc:
        _warn(str(exc))
        return 2
    _emit(summary)
    _warn(f"wrote {summary['dir']}: serve it with `datasette {summary['dir']}`")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scrutiny",
        description="Scrutiny: inspection reports, council papers and news as a statement-level evidence base.",
    )
    parser.add_argument("--version", action="version", version=f"scrutiny {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("statements", help="extract and segment documents; one JSON line per statement")
    p.add_argument("paths", nargs="+", metavar="PATH", help="files, folders or manifests ('-' reads standard input)")
    p.add_argument("--meta", help="known metadata as a JSON object (wins over inferred values)")
    p.add_argument("--trained-pipeline", metavar="NAME_OR_PATH",
                   help="also use an installed trained spaCy pipeline's entities (the default needs none)")
    p.set_defaults(func=cmd_statements)

    p = sub.add_parser("documents", help="extract documents and infer their metadata; one JSON line per document")
    p.add_argument("paths", nargs="+", metavar="PATH", help="files, folders or manifests ('-' reads standard input)")
    p.add_argument("--meta", help="known metadata as a JSON object (wins over inferred values)")
    p.set_defaults(func=cmd_documents)

    p = sub.add_parser("ingest", help="run the Prefect ingest flow into the SQLite database")
    p.add_argument("paths", nargs="*", metavar="PATH_OR_MANIFEST", help="files, folders or manifests (CSV or YAML)")
    p.add_argument("--db", default="data/scrutiny.db", help="SQLite database (default: data/scrutiny.db)")
    p.add_argument("--meta", help="known metadata for every source, as a JSON object")
    p.add_argument("--workers", type=int, default=2, help="documents processed at once (default: 2)")
    p.add_argument("--dask", action="store_true", help="run the tasks on a local Dask cluster of --workers processes")
    p.add_argument("--dask-address", help="run the tasks on an existing Dask cluster (e.g. tcp://host:8786)")
    p.add_argument("--sources", metavar="WATCHLIST",
                   help="also fetch what the watched publishers newly published (e.g. corpus/sources.yaml)")
    p.add_argument("--swap-to", metavar="SERVED_DB",
                   help="after the run, swap a checked snapshot in as this file atomically (serve this one)")
    p.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                   help="when another run holds the database, wait this long for it (default: refuse at once)")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("fetch", help="fetch watched publishers (or addresses) into the archive")
    p.add_argument("urls", nargs="*", metavar="URL", help="addresses to fetch (default: the watch list)")
    p.add_argument("--sources", default="corpus/sources.yaml", help="watch list (default: corpus/sources.yaml)")
    p.add_argument("--only", nargs="*", metavar="NAME", help="only these sources of the watch list")
    p.add_argument("--db", default="data/scrutiny.db", help="database for source health (default: data/scrutiny.db)")
    p.set_defaults(func=cmd_fetch)

    p = sub.add_parser("schedule", help="serve the ingest flow as a Prefect deployment on a cron schedule")
    p.add_argument("paths", nargs="*", metavar="PATH_OR_MANIFEST", help="files, folders or manifests to ingest")
    p.add_argument("--sources", metavar="WATCHLIST", help="also fetch the watched publishers on each run")
    p.add_argument("--db", default="data/scrutiny.db", help="SQLite database (default: data/scrutiny.db)")
    p.add_argument("--cron", default="0 6 * * *", help="cron schedule (default: daily at 06:00)")
    p.add_argument("--timezone", default="Europe/London", help="time zone of the schedule (default: Europe/London)")
    p.add_argument("--meta", help="known metadata for every source, as a JSON object")
    p.add_argument("--workers", type=int, default=2, help="documents processed at once (default: 2)")
    p.add_argument("--dask-address", help="run each scheduled run's tasks on this Dask cluster (tcp://host:8786)")
    p.add_argument("--server-port", type=int, default=4200,
                   help="port of the local Prefect server started when PREFECT_API_URL is not set (default: 4200)")
    p.set_defaults(func=cmd_schedule)

    from .classify_cli import add_commands as add_classifier_commands

    add_classifier_commands(sub)

    from .recur_cli import add_commands as add_recurrence_commands

    add_recurrence_commands(sub)

    from .review_cli import add_commands as add_review_commands

    add_review_commands(sub)

    p = sub.add_parser("label", help="import label corrections from a CSV (statement_id, labels, note)")
    p.add_argument("file", metavar="FILE.csv", help="CSV with columns statement_id, labels (e.g. A;D), note")
    p.add_argument("--db", default="data/scrutiny.db", help="SQLite database (default: data/scrutiny.db)")
    p.add_argument("--scheme", default="areas", help="label scheme (default: areas)")
    p.set_defaults(func=cmd_label)

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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
