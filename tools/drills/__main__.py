"""`python -m tools.drills [--profile full|ci] [--seed N] [--only NAME...]`: run the fault drills, print
a table of what was tried and what held, and write build/drills/results.json. Exit status 1 if one did not hold."""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

DRILLS = ("kill9", "full_disk", "locked", "fetch", "hostile", "serve")


def _environment(out: Path) -> None:
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ["PREFECT_HOME"] = str((out / "prefect").resolve())


def table(results: list[dict]) -> str:
    lines = ["| drill | what was tried | held | notes |", "|---|---|---|---|"]
    for r in results:
        notes = "; ".join(r["problems"][:3]) if r["problems"] else r.get("note", "")
        lines.append(f"| {r['drill']} | {r['tried']} | {'**yes**' if r['held'] else '**no**'} | {notes} |")
    return "\n".join(lines)


def _note(r: dict) -> str:
    """One line of figures for the table."""
    if "trials" in r:
        return (
            f"{r['killed_mid_run']} of {len(r['trials'])} draws killed a run mid-way (the others came after "
            f"it ended); {sum(t['held'] for t in r['trials'])} re-runs equal to the uninterrupted run"
        )
    if "requests" in r:
        return (
            f"{r['requests']} requests, statuses {r['by_status']}, {r['swaps']} swaps, documents seen "
            f"{r['document_counts_seen']}, RSS {r['rss_mb']['after_warm_up']} -> {r['rss_mb']['end']} MB"
        )
    if "outcomes" in r and r["drill"].startswith("hostile"):
        stored = [k for k, v in r["outcomes"].items() if v == "stored"]
        return f"{r['seconds']} s; all failed with a reason except: {', '.join(stored) or 'none'} (stored)"
    if "outcomes" in r:
        return "; ".join(f"{k}: {v}" for k, v in r["outcomes"].items())[:300]
    return r.get("message") or ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.drills", description=__doc__)
    parser.add_argument("--profile", choices=("full", "ci"), default="full")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default="build/drills")
    parser.add_argument("--only", nargs="*", choices=DRILLS)
    args = parser.parse_args(argv)
    out = Path(args.out)
    work = out / "work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    _environment(out)

    from pipeline.run.runner import ingest_direct
    from tools.drills import run
    from tools.drills.hostile import normal_batch

    profile = run.PROFILES[args.profile]
    normal = work / "normal"
    normal_batch(normal)
    reference = work / "normal-reference.db"
    ingest_direct([str(normal)], reference)
    steps = {
        "kill9": lambda: run.kill9(profile, work, args.seed, normal),
        "full_disk": lambda: run.full_disk(work, normal, reference),
        "locked": lambda: run.locked_database(work, normal, reference),
        "fetch": lambda: run.fetch_failures(work),
        "hostile": lambda: run.hostile_files(profile, work, normal, reference),
        "serve": lambda: run.serve_under_swaps(
            profile, work, [reference, work / "hostile.db"] if (work / "hostile.db").exists() else [reference]
        ),
    }
    results, started = [], time.monotonic()
    for name in args.only or DRILLS:
        t0 = time.monotonic()
        print(f"drill: {name} ...", file=sys.stderr, flush=True)
        try:
            r = steps[name]()
        except Exception as exc:  # a drill that crashes did not hold; say why and go on
            r = run._result(
                name,
                "(the drill itself raised)",
                [f"{type(exc).__name__}: {exc}"],
                traceback=traceback.format_exc()[-2000:],
            )
        r["drill_seconds"] = round(time.monotonic() - t0, 1)
        r["note"] = _note(r) if "trials" in r or "requests" in r or "outcomes" in r or "message" in r else ""
        results.append(r)
        print(
            f"drill: {name}: {'held' if r['held'] else 'DID NOT HOLD'} ({r['drill_seconds']} s)",
            file=sys.stderr,
            flush=True,
        )
    header = (
        f"Drills, profile {profile.name}, seed {args.seed}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; {time.monotonic() - started:.0f} s in all."
    )
    text = header + "\n\n" + table(results)
    print(text)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(
        json.dumps(
            {"profile": profile.name, "seed": args.seed, "header": header, "results": results}, indent=2, default=str
        )
        + "\n"
    )
    (out / "results.md").write_text(text + "\n")
    return 0 if all(r["held"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
