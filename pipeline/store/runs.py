"""Runs and the health of watched sources."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlite_utils

from pipeline.store.db import now, transaction, write_rows
from pipeline.store.schema import (  # noqa: F401 (the schema is part of the store's interface)
    SCHEMA,
    TABLES,
    VIEWS,
    Column,
    Table,
)


def save_source_health(db: sqlite_utils.Database, health: Iterable[dict[str, Any]]) -> int:
    rows = [{**h, "ok": int(bool(h.get("ok"))), "stale": int(bool(h.get("stale")))} for h in health]
    with transaction(db):
        write_rows(db, "source_health", rows, replace=True)
    return len(rows)


def source_health(db: sqlite_utils.Database) -> dict[str, dict[str, Any]]:
    return {r["name"]: {**r, "ok": bool(r["ok"]), "stale": bool(r["stale"])} for r in db["source_health"].rows}


def start_run(db: sqlite_utils.Database, run_id: str, inputs: int, software_version: str) -> None:
    with transaction(db):
        write_rows(
            db,
            "runs",
            [
                {
                    "id": run_id,
                    "started_at": now(),
                    "status": "running",
                    "inputs": inputs,
                    "software_version": software_version,
                }
            ],
            replace=True,
        )


def finish_run(db: sqlite_utils.Database, run_id: str, counts: dict[str, int], status: str, message: str) -> None:
    keys = ("added", "changed", "unchanged", "deleted", "failed")
    with transaction(db):
        db.execute(
            f"UPDATE runs SET finished_at = ?, status = ?, message = ?, {', '.join(f'{k} = ?' for k in keys)} "
            "WHERE id = ?",
            [now(), status, message, *(counts.get(k, 0) for k in keys), run_id],
        )


def mark_interrupted_runs(db: sqlite_utils.Database) -> int:
    """Runs still 'running' when a new run holds the run lock died mid-way (killed, power cut)."""
    with transaction(db):
        cur = db.execute(
            "UPDATE runs SET status = 'interrupted', finished_at = ?, message = coalesce(message, '') "
            "|| 'stopped before the end (process killed?); the next run completed its work' "
            "WHERE status = 'running'",
            [now()],
        )
    return cur.rowcount
