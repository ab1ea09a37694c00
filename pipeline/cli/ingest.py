"""`scrutiny ingest`, `scrutiny fetch` and `scrutiny schedule`: runs over the database, with Prefect."""

from __future__ import annotations

import argparse
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

from pipeline.cli.common import emit, meta_arg, warn
from pipeline.config import Settings
from pipeline.errors import PipelineError


def prefect_environment(data_dir: Path) -> None:
    """Prefect runs embedded (a temporary local server) with its state under data/ and no telemetry."""
    home = (data_dir / "prefect").resolve()
    home.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PREFECT_HOME", str(home))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")


def _site_decisions(settings: Settings, args: argparse.Namespace) -> dict | str | None:
    """A run with no source to redo still reads the decisions reviewers recorded on the site since the last
    one (under the run lock); "locked" when another run holds it."""
    from pipeline.run.lock import RunLocked, run_lock
    from pipeline.run.site_reviews import apply_site_reviews, pending, reviews_path_for

    if not any(pending(reviews_path_for(settings.db_path))):
        return None
    try:
        with run_lock(settings.db_path, timeout=args.wait):
            return apply_site_reviews(settings)
    except RunLocked as exc:
        warn(str(exc))
        return "locked"


def classifier_problem(settings: Settings) -> str | None:
    """Why the classifier named by --model cannot label this run, or None. "default" always can (it falls back
    to the TF-IDF model, or to no labels with a warning); a named kind or file must be there and complete."""
    from pipeline.versions import blend_partner, classifier_file, model_version

    choice = settings.classifier
    if choice == "default":
        return None
    path = classifier_file(settings.models_dir, "areas", choice)
    if not path.is_file():
        kinds = "default, fast, encoder"
        return f"--model {choice}: no model at {path} (use {kinds} or a model file; `scrutiny train` builds fast)"
    if model_version(settings.models_dir, "areas", choice) == "none":
        partner = blend_partner(path)
        if partner is not None and not partner.is_file():
            return f"--model {choice}: {path.name} blends with {partner}, which is missing: run `scrutiny train`"
        return f"--model {choice}: {path} has no readable sidecar ({path.name}.json)"
    return None


def cmd_ingest(args: argparse.Namespace) -> int:
    settings = Settings(db_path=Path(args.db), classifier=args.model)
    if (problem := classifier_problem(settings)) is not None:
        warn(problem)
        return 2
    meta = meta_arg(args.meta)
    from pipeline.run.plan import plan_ingest  # cheap: no Prefect, no parsing

    try:
        work = plan_ingest(args.paths, settings, meta)
    except PipelineError as exc:
        warn(str(exc))
        return 2
    if not work.has_work and not args.sources:
        summary: dict[str, Any] = work.nothing_changed(settings.db_path)
        site = _site_decisions(settings, args)
        if site == "locked":
            return 3
        if site:
            summary["site_decisions"] = site
            summary["message"] += "; decisions from the site applied"
        emit(summary)
        warn(summary["message"])
        if site and args.swap_to:
            return _swap_in(args, settings)
        return _swap_in(args, settings) if args.swap_to and not Path(args.swap_to).exists() else 0
    from pipeline.run.lock import RunLocked, explain_db_error, run_lock

    try:  # taken before Prefect starts, so a second run is told at once (the flow re-enters it)
        lock = run_lock(settings.db_path, timeout=args.wait)
        lock.__enter__()
    except RunLocked as exc:
        warn(str(exc))
        return 3
    prefect_environment(settings.data_dir)
    from flows.ingest import with_task_runner

    redo = len(work.todo) + len(work.resegment) + len(work.reclassify)
    warn(
        f"ingesting {redo} of {work.inputs} sources into {settings.db_path}"
        f"{' (and relinking)' if work.relink else ''} ..."
    )
    flow = with_task_runner(args.workers, dask=args.dask, dask_address=args.dask_address)
    try:
        summary = flow(
            paths=args.paths,
            db_path=str(settings.db_path),
            meta=meta or None,
            workers=args.workers,
            watchlist=args.sources,
            contact=os.environ.get("SCRUTINY_CONTACT"),
            classifier=args.model,
        )
    except Exception as exc:  # the run is stored; it ended failed (e.g. a watched source is broken)
        warn(f"the run ended failed: {explain_db_error(exc, settings.db_path) or exc}")
        return 1
    finally:
        lock.__exit__(None, None, None)
    emit(summary)
    warn(summary["message"])
    for f in summary["failures"]:
        warn(f"  failed: {f['source_path']}: {f['reason']}")
    if args.swap_to and _swap_in(args, settings):
        return 1
    return 0 if summary["inputs"] > summary["failed"] or not summary["inputs"] else 1


def _swap_in(args: argparse.Namespace, settings: Settings) -> int:
    """Swap a checked snapshot of the database in as the served file (pipeline.publish.swap)."""
    from pipeline.publish.swap import publish

    try:
        publish(settings.db_path, Path(args.swap_to))
    except PipelineError as exc:
        warn(str(exc))
        return 1
    warn(f"copied {settings.db_path} to {args.swap_to} (checked, swapped in atomically)")
    return 0


def cmd_fetch(args: argparse.Namespace) -> int:
    """Fetch watched sources (or given addresses) into the archive; no Prefect, no parsing."""

    from pipeline import store
    from pipeline.fetch import SourceHealth, fetch, fetch_sources, load_watchlist

    contact = os.environ.get("SCRUTINY_CONTACT")
    settings = Settings(db_path=Path(args.db), extra={"fetch": {"contact": contact}} if contact else {})
    if args.urls:
        results = [fetch(url, settings) for url in args.urls]
        for r in results:
            emit({**asdict(r), "path": str(r.path) if r.path else None})
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
            emit({"source": run.source.name, **asdict(r), "path": str(r.path) if r.path else None})
        emit({"source_health": asdict(run.health)})
        if not run.health.ok or run.health.stale:
            warn(f"source {run.health.name}: {run.health.error or 'nothing new for longer than expected'}")
    return 0 if any(r.health.ok for r in runs) or not runs else 1


def cmd_schedule(args: argparse.Namespace) -> int:
    settings = Settings(db_path=Path(args.db))
    prefect_environment(settings.data_dir)
    from contextlib import nullcontext

    from flows.server import local_server

    own_server = not os.environ.get("PREFECT_API_URL")
    with local_server(args.server_port) if own_server else nullcontext(os.environ["PREFECT_API_URL"]) as api:
        os.environ["PREFECT_API_URL"] = api
        from flows.schedule import serve_ingest  # imports Prefect, which now reads the server's address

        warn(
            f"serving the ingest flow on the schedule '{args.cron}' ({args.timezone}) over {' '.join(args.paths)} "
            f"into {settings.db_path}, with the Prefect API at {api}; Ctrl+C to stop"
        )
        serve_ingest(
            [str(Path(p).resolve()) for p in args.paths],
            str(settings.db_path.resolve()),
            cron=args.cron,
            timezone=args.timezone,
            meta=meta_arg(args.meta) or None,
            workers=args.workers,
            watchlist=str(Path(args.sources).resolve()) if args.sources else None,
            contact=os.environ.get("SCRUTINY_CONTACT"),
            dask_address=args.dask_address,
        )
    return 0


def add_commands(sub: Any) -> None:
    p = sub.add_parser("ingest", help="run the Prefect ingest flow into the SQLite database")
    p.add_argument("paths", nargs="*", metavar="PATH_OR_MANIFEST", help="files, folders or manifests (CSV or YAML)")
    p.add_argument("--db", default="data/scrutiny.db", help="SQLite database (default: data/scrutiny.db)")
    p.add_argument("--meta", help="known metadata for every source, as a JSON object")
    p.add_argument("--workers", type=int, default=2, help="documents processed at once (default: 2)")
    p.add_argument("--dask", action="store_true", help="run the tasks on a local Dask cluster of --workers processes")
    p.add_argument("--dask-address", help="run the tasks on an existing Dask cluster (e.g. tcp://host:8786)")
    p.add_argument(
        "--model",
        default="default",
        metavar="KIND|PATH",
        help="classifier: default (the fine-tuned encoder when there is one), fast (TF-IDF), encoder, or a model file",
    )
    p.add_argument(
        "--sources",
        metavar="WATCHLIST",
        help="also fetch what the watched publishers newly published (e.g. corpus/sources.yaml)",
    )
    p.add_argument(
        "--swap-to",
        metavar="SERVED_DB",
        help="after the run, swap a checked snapshot in as this file atomically (serve this one)",
    )
    p.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="when another run holds the database, wait this long for it (default: refuse at once)",
    )
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
    p.add_argument(
        "--server-port",
        type=int,
        default=4200,
        help="port of the local Prefect server started when PREFECT_API_URL is not set (default: 4200)",
    )
    p.set_defaults(func=cmd_schedule)
