"""Is a database file sound? SQLite's own check, every full-text index against its table, and foreign keys.

Read-only: used by the drills, the atomic swap (a file is checked before it is
published) and the tests.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from pipeline.store import SCHEMA


def integrity_problems(path: Path | str) -> list[str]:
    """Everything wrong with a database file: SQLite's integrity check, each FTS index against its table, and
    foreign keys. An empty list means the file is sound."""
    con = sqlite3.connect(path)
    try:
        problems = [r[0] for r in con.execute("PRAGMA integrity_check").fetchall() if r[0] != "ok"]
        names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        for t in SCHEMA:
            fts = f"{t.name}_fts"
            if t.fts and fts in names:
                try:
                    con.execute(f"INSERT INTO [{fts}]([{fts}]) VALUES('integrity-check')")
                except sqlite3.DatabaseError as exc:
                    problems.append(f"{fts}: {exc}")
        problems += [f"foreign key: {r}" for r in con.execute("PRAGMA foreign_key_check").fetchall()]
        con.rollback()
        return problems
    finally:
        con.close()
