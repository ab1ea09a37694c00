"""Opening the database, its shape from the schema, transactions and row writes."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from pipeline.store.schema import (  # noqa: F401 (the schema is part of the store's interface)
    SCHEMA,
    TABLES,
    VIEWS,
    Column,
    Table,
)


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# Databases this process has shaped: (device, inode) of the file -> its schema_version once shaped. Checking
# the shape reads every table's columns, indexes and keys (about 30 ms); a run opens the database once a document
# to read its ledger row and once to store it, so a file whose schema has not changed since is not checked again.
_shaped: dict[tuple[int, int], int] = {}


def open_db(path: Path | str) -> sqlite_utils.Database:
    """Open the database (made or completed to the schema: `ensure_db_shape`, skipped when this process
    already shaped this file and its schema has not changed since)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite_utils.Database(path)
    db.execute("PRAGMA foreign_keys = ON")
    db.execute("PRAGMA busy_timeout = 10000")
    try:
        stat = path.stat()
        key: tuple[int, int] | None = (stat.st_dev, stat.st_ino)
    except OSError:  # not a file on disk (":memory:")
        key = None
    if key is None or _shaped.get(key) != _schema_version(db):
        ensure_db_shape(db)
        if key is not None:
            _shaped[key] = _schema_version(db)
    return db


def _schema_version(db: sqlite_utils.Database) -> int:
    return int(db.execute("PRAGMA schema_version").fetchone()[0])


@contextmanager
def connect(path: Path | str) -> Iterator[sqlite_utils.Database]:
    """`open_db` for a `with` block: the connection is closed however the block ends."""
    db = open_db(path)
    try:
        yield db
    finally:
        db.close()


def ensure_db_shape(db: sqlite_utils.Database) -> None:
    """Create or complete every table, foreign key, index and FTS index. Safe to run again."""
    for table in SCHEMA:
        t = db.table(table.name)
        cols = {c.name: c.type for c in table.columns}
        fks = [(c.name, c.fk.partition(".")[0], c.fk.partition(".")[2]) for c in table.columns if c.fk]
        if not t.exists():
            t.create(cols, pk=table.pk, foreign_keys=fks)  # SCHEMA lists referenced tables first
        else:
            for name, typ in cols.items():
                if name not in t.columns_dict:
                    t.add_column(name, typ)
        for idx in table.indexes:
            t.create_index(list(idx), if_not_exists=True)
        if table.fts and not db[f"{table.name}_fts"].exists():
            t.enable_fts(list(table.fts), create_triggers=True, tokenize="porter")
    for name, (_, sql) in VIEWS.items():
        current = db.execute("SELECT sql FROM sqlite_master WHERE type = 'view' AND name = ?", [name]).fetchone()
        if current is None or sql not in current[0]:
            db.execute(f"DROP VIEW IF EXISTS [{name}]")
            db.execute(f"CREATE VIEW [{name}] AS {sql}")
    missing = []
    for table in SCHEMA:
        present = {(fk.column, fk.other_table) for fk in db.table(table.name).foreign_keys}
        missing += [
            (table.name, c.name, c.fk.partition(".")[0], c.fk.partition(".")[2])
            for c in table.columns
            if c.fk and (c.name, c.fk.split(".")[0]) not in present
        ]
    if missing:  # a database made by an older schema
        db.add_foreign_keys(missing)


@contextmanager
def transaction(db: sqlite_utils.Database) -> Iterator[None]:
    """All or nothing. A savepoint, because sqlite-utils' own write helpers commit as they go
    (they open `with conn:` blocks), so writes in here use plain SQL through `write_rows`."""
    conn = db.conn
    depth = _depth.get(id(conn), 0)  # nested: an inner savepoint, committed only with the outermost
    name = f"scrutiny_write{depth or ''}"
    _depth[id(conn)] = depth + 1
    try:
        conn.execute(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            # SQLite rolls the whole transaction back by itself on some errors (a full disk, I/O errors):
            # then there is no savepoint left to roll back to, and the original error is the one to report.
            if conn.in_transaction:
                try:
                    conn.execute(f"ROLLBACK TO {name}")
                    conn.execute(f"RELEASE {name}")
                except sqlite3.OperationalError:
                    if not depth and conn.in_transaction:
                        conn.rollback()
            raise
        conn.execute(f"RELEASE {name}")
        if not depth and conn.in_transaction:
            conn.commit()
    finally:
        if depth:
            _depth[id(conn)] = depth
        else:
            _depth.pop(id(conn), None)


_depth: dict[int, int] = {}


def write_rows(db: sqlite_utils.Database, table: str, rows: Iterable[dict[str, Any]], *, replace: bool = False) -> int:
    columns = [c.name for c in TABLES[table].columns]
    sql = (
        f"INSERT {'OR REPLACE ' if replace else ''}INTO [{table}] ({', '.join(f'[{c}]' for c in columns)}) "
        f"VALUES ({', '.join('?' for _ in columns)})"
    )
    values = [[row.get(c) for c in columns] for row in rows]
    db.conn.executemany(sql, values)
    return len(values)


def integrity_ok(path: Path | str) -> bool:
    con = sqlite3.connect(path)
    try:
        return con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        con.close()
