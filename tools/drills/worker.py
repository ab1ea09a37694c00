"""`python -m tools.drills.worker --db DB PATH...`: the ingest flow's work without Prefect (the drills kill
this process at random moments; starting Prefect for each of twenty trials would cost minutes)."""

from __future__ import annotations

import argparse
import json
import sys

from pipeline.run.lock import RunLocked
from pipeline.run.runner import ingest_direct


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.drills.worker")
    parser.add_argument("paths", nargs="+")
    parser.add_argument("--db", required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--wait", type=float, default=0.0)
    args = parser.parse_args(argv)
    try:
        summary = ingest_direct(args.paths, args.db, workers=args.workers, lock_wait=args.wait)
    except RunLocked as exc:
        print(f"scrutiny: {exc}", file=sys.stderr)
        return 3
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
