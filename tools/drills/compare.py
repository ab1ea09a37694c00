"""Compare two Scrutiny databases by what they hold, not by when or in which run it was written.

Used by the drills and the tests to check that a run that was killed, refused,
or redone stage by stage converges to the database an uninterrupted cold run
builds. Ignored: run ids and timestamps (`runs` entirely; `ingested_at`,
`run_id`, `updated_at`, `at`, `imported_at`; `mtime_ns`, which copying a file
changes) and, for inputs that failed, the classifier and linker versions in the
ledger (those stages never had anything of a failed input to work on, so a
new model or linker leaves such rows as they were).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

IGNORED_COLUMNS = {
    "ingested_at",
    "run_id",
    "updated_at",
    "at",
    "imported_at",
    "mtime_ns",
    "checked_at",
    "last_success_at",
    "last_new_at",
}
IGNORED_TABLES = {"runs"}


def _tables(con: sqlite3.Connection) -> list[str]:
    """User tables, without FTS shadow tables (their content is checked by the integrity checks)."""
    names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    fts = {n for n in names if n.endswith("_fts")}
    return [
        n
        for n in names
        if n not in fts
        and not any(n.startswith(f + "_") for f in fts)
        and not n.startswith("sqlite_")
        and n not in IGNORED_TABLES
    ]


def _normal(table: str, row: dict[str, Any]) -> dict[str, Any]:
    row = {k: v for k, v in row.items() if k not in IGNORED_COLUMNS}
    if table == "sources" and row.get("status") != "ok" and row.get("versions"):
        versions = json.loads(row["versions"])
        row["versions"] = json.dumps({k: v for k, v in versions.items() if k in ("extract", "segment")}, sort_keys=True)
    return row


def snapshot(path: Path | str) -> dict[str, list[tuple]]:
    """Every row of every table (minus what is ignored), sorted, as comparable tuples."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    con.row_factory = sqlite3.Row
    try:
        out = {}
        for table in _tables(con):
            rows = [_normal(table, dict(r)) for r in con.execute(f"SELECT * FROM [{table}]")]
            out[table] = sorted(tuple(sorted((k, json.dumps(v)) for k, v in r.items())) for r in rows)
        return out
    finally:
        con.close()


def differences(a: Path | str, b: Path | str, limit: int = 5) -> list[str]:
    """What differs between two databases, in words; an empty list means they hold the same."""
    sa, sb = snapshot(a), snapshot(b)
    problems = []
    for table in sorted(set(sa) | set(sb)):
        ra, rb = sa.get(table), sb.get(table)
        if ra is None or rb is None:
            problems.append(f"table {table} only in {'the second' if ra is None else 'the first'}")
            continue
        if ra == rb:
            continue
        only_a = [r for r in ra if r not in set(rb)]
        only_b = [r for r in rb if r not in set(ra)]
        problems.append(
            f"{table}: {len(ra)} vs {len(rb)} rows; {len(only_a)} only in the first, "
            f"{len(only_b)} only in the second; e.g. {dict(only_a[0]) if only_a else dict(only_b[0])}"[:600]
        )
        if len(problems) >= limit:
            break
    return problems


def lost_inputs(db_path: Path | str, inputs: list[str]) -> list[str]:
    """Inputs that are neither a stored document nor a failure with a reason."""
    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        stored = {
            r[0]
            for r in con.execute(
                "SELECT s.source_path FROM sources s JOIN documents d ON d.id = s.document_id WHERE s.status = 'ok'"
            )
        }
        failed = {
            r[0] for r in con.execute("SELECT source_path FROM failures WHERE reason IS NOT NULL AND reason != ''")
        }
    finally:
        con.close()
    return [p for p in inputs if p not in stored and p not in failed]


def partial_documents(db_path: Path | str) -> list[str]:
    """Documents whose stored statements do not match their statement count, or without a ledger row, and
    statements, predictions or mentions whose document or statement is missing."""
    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        bad = [
            f"document {r[0][:16]}: {r[1]} statements stored, {r[2]} expected"
            for r in con.execute(
                "SELECT d.id, (SELECT count(*) FROM statements s WHERE s.document_id = d.id), d.statement_count "
                "FROM documents d"
            )
            if r[1] != r[2]
        ]
        bad += [
            f"document {r[0][:16]} has no ledger row"
            for r in con.execute(
                "SELECT id FROM documents WHERE id NOT IN (SELECT document_id FROM sources WHERE document_id IS NOT NULL)"
            )
        ]
        bad += [
            f"{n} orphan {what}"
            for what, sql in (
                ("statements", "SELECT count(*) FROM statements WHERE document_id NOT IN (SELECT id FROM documents)"),
                (
                    "predictions",
                    "SELECT count(*) FROM predictions WHERE statement_id NOT IN (SELECT id FROM statements)",
                ),
                (
                    "mentions",
                    "SELECT count(*) FROM concern_mentions WHERE statement_id NOT IN (SELECT id FROM statements)",
                ),
            )
            for n in [con.execute(sql).fetchone()[0]]
            if n
        ]
        dupes = con.execute("SELECT count(*) - count(DISTINCT document_id || ':' || seq) FROM statements").fetchone()[0]
        if dupes:
            bad.append(f"{dupes} duplicate statements (same document and position)")
        return bad
    finally:
        con.close()
