"""Scrutiny's Datasette plugin: a SQLite authorizer that makes a public deployment safe.

Debian's SQLite still exposes the legacy `fts3_tokenizer()` function, which
returns a memory address through an ordinary SELECT; `load_extension()` loads
code; `ATTACH` opens other files; `PRAGMA writable_schema` rewrites the schema.
Datasette runs whatever SQL a visitor types, so each is refused for every
connection Datasette opens.
"""

from __future__ import annotations

import sqlite3

from datasette import hookimpl

BLOCKED_FUNCTIONS = frozenset({"fts3_tokenizer", "load_extension", "readfile", "writefile", "edit", "fts5_source_id"})
BLOCKED_PRAGMAS = frozenset({"writable_schema", "trusted_schema", "temp_store_directory", "data_store_directory"})


def authorizer(action: int, arg1: str | None, arg2: str | None, db_name: str | None, source: str | None) -> int:
    if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() in BLOCKED_FUNCTIONS:
        return sqlite3.SQLITE_DENY
    if action in (sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH):
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_PRAGMA and (arg1 or "").lower() in BLOCKED_PRAGMAS:
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


@hookimpl
def prepare_connection(conn: sqlite3.Connection) -> None:
    conn.set_authorizer(authorizer)
