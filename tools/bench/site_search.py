"""The site's search page next to the canned search, in process, on the bench's search database.

    python -m tools.bench.site_search [--rows 1000000] [--seed 1] [--out build/bench] [--times 10]

Builds (or reuses) the search database `make bench` uses, then times, through Datasette's in-process client
(no HTTP, so the figures are the server's own work), the best of `--times` requests for each of the bench's
queries: the site's search page (`/-/search`), Datasette's HTML page and JSON of the canned search, and the
site's JSON export (up to 1,000 matches with their full text). Prints one JSON line per endpoint with the
median over the queries of the best times, and the slowest query.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from pathlib import Path
from urllib.parse import urlencode

from tools.bench import searchdb


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.bench.site_search", description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=1_000_000, help="statements in the search database")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", type=Path, default=Path("build/bench"))
    p.add_argument("--times", type=int, default=10, help="requests per query and endpoint (the best is kept)")
    args = p.parse_args(argv)
    db = searchdb.build(args.out, args.seed, args.rows, lambda m: print(m, flush=True))
    for line in asyncio.run(measure(db, args.times)):
        print(json.dumps(line))
    return 0


async def measure(db: Path, times: int) -> list[dict]:
    from pipeline import publish

    ds = publish.datasette_app(db)
    endpoints = {
        "site search page": "/-/search?",
        "canned search, HTML": f"/{db.stem}/search_statements?",
        "canned search, JSON": f"/{db.stem}/search_statements.json?_shape=array&",
        "site export, JSON (up to 1,000 matches)": "/-/search.json?",
    }
    out = []
    for name, path in endpoints.items():
        best: dict[str, float] = {}
        for q in (query.text for query in searchdb.QUERIES):
            url = path + urlencode({"q": q})
            assert (await ds.client.get(url)).status_code == 200, url  # warm-up
            runs = []
            for _ in range(times):
                started = time.perf_counter()
                await ds.client.get(url)
                runs.append(time.perf_counter() - started)
            best[q] = min(runs)
        slowest = max(best, key=best.__getitem__)
        out.append(
            {
                "endpoint": name,
                "median_ms": round(statistics.median(best.values()) * 1000, 2),
                "slowest_ms": round(best[slowest] * 1000, 2),
                "slowest_query": slowest,
                "queries": len(best),
            }
        )
    return out


if __name__ == "__main__":
    raise SystemExit(main())
