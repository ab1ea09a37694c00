"""Search and canned queries through a real Datasette server over loopback, against the bare SQLite query.

The server is `scrutiny serve` in its own process (uvicorn, our settings,
metadata and plugin, the database opened immutable), as a deployment runs it;
the clients are httpx with keep-alive, one thread each. Latency is per request,
reported as the 95th percentile over every request of every round. The bare
side runs the same canned SQL with the same parameters on a sqlite3 connection
with the same SQL functions, in this process.
"""

from __future__ import annotations

import sqlite3
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pipeline.run.childproc import free_port, serving

SERVE = "import sys; from pipeline.cli import main; sys.exit(main())"

# Parameters a scrutiny officer would give each canned query on the generated database.
CANNED_PARAMS: dict[str, dict[str, str]] = {
    "document_statements": {"document_id": ""},  # filled with a real id at run time
    "council_area_by_year": {"council": "Glanmor", "area": "B"},
    "person_quoted": {"name": "Pritchard"},
    "council_recommendations": {"council": "Afonwy"},
    "recurring_concerns": {"council": "Glanmor"},
    "open_concerns_raised_twice": {},
    "repeated_by_inspection": {"document_id": ""},
    "concern_timeline": {"concern_id": ""},
    "council_areas_by_year": {"council": "Glanmor"},
    "concern_feed": {"council": "Glanmor"},
    "search_statements": {"q": "supervision"},
    "search_recommendations": {"q": "care and support plans"},
}


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


@contextmanager
def server(db: Path, *, public: bool = False, timeout: float = 90.0) -> Iterator[str]:
    """`scrutiny serve` on a free loopback port; yields its base address and stops it afterwards."""
    port = free_port()
    cmd = [sys.executable, "-c", SERVE, "serve", "--db", str(db), "--port", str(port)] + (
        ["--public"] if public else []
    )
    base = f"http://127.0.0.1:{port}"
    with serving(cmd, f"{base}/-/versions.json", what="scrutiny serve", timeout=timeout):
        yield base


class Clients:
    """`n` keep-alive HTTP clients on threads; `run(paths)` sends every path from every client (each client starts
    at a different path) and records each request's latency."""

    def __init__(self, base: str, n: int) -> None:
        import httpx

        self.n = n
        self.clients = [httpx.Client(base_url=base, timeout=60) for _ in range(n)]
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self._lock = threading.Lock()

    def _one(self, k: int, paths: list[str]) -> None:
        client, mine = self.clients[k], paths[k % len(paths) :] + paths[: k % len(paths)]
        for p in mine:
            t = time.perf_counter()
            r = client.get(p)
            dt = time.perf_counter() - t
            with self._lock:
                self.latencies.append(dt)
                if r.status_code != 200:
                    self.errors.append(f"{r.status_code} {p}")

    def run(self, paths: list[str]) -> None:
        if self.n == 1:
            self._one(0, paths)
            return
        threads = [threading.Thread(target=self._one, args=(k, paths)) for k in range(self.n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def close(self) -> None:
        for c in self.clients:
            c.close()


class Bare:
    """The same canned SQL on a bare read-only sqlite3 connection, with the SQL functions the plugin registers."""

    def __init__(self, db: Path) -> None:
        from pipeline.publish import search

        self.con = sqlite3.connect(f"file:{db}?mode=ro&immutable=1", uri=True, check_same_thread=False)
        search.register(self.con)
        self.latencies: list[float] = []

    def run(self, queries: list[tuple[str, dict[str, str]]], times: int = 1) -> None:
        for _ in range(times):
            for sql, params in queries:
                t = time.perf_counter()
                self.con.execute(sql, params).fetchall()
                self.latencies.append(time.perf_counter() - t)

    def close(self) -> None:
        self.con.close()


def canned_params(db: Path) -> dict[str, dict[str, str]]:
    """CANNED_PARAMS with ids taken from the database (a document with many statements, a concern with many
    mentions)."""
    con = sqlite3.connect(f"file:{db}?mode=ro&immutable=1", uri=True)
    try:
        doc = con.execute("SELECT id FROM documents ORDER BY statement_count DESC, id LIMIT 1").fetchone()
        concern = con.execute("SELECT concern_id FROM concerns ORDER BY mentions DESC LIMIT 1").fetchone()
        inspection = con.execute(
            "SELECT document_id FROM concern_mentions WHERE role = 'repeated' ORDER BY date DESC LIMIT 1"
        ).fetchone()
    finally:
        con.close()
    params = {k: dict(v) for k, v in CANNED_PARAMS.items()}
    params["document_statements"]["document_id"] = doc[0] if doc else ""
    params["concern_timeline"]["concern_id"] = concern[0] if concern else ""
    params["repeated_by_inspection"]["document_id"] = inspection[0] if inspection else ""
    return params


def summary(latencies: list[float]) -> dict[str, Any]:
    if not latencies:
        return {"requests": 0}
    return {
        "requests": len(latencies),
        "p50_ms": round(statistics.median(latencies) * 1000, 3),
        "p95_ms": round(p95(latencies) * 1000, 3),
        "max_ms": round(max(latencies) * 1000, 3),
    }
