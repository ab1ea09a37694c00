"""Scrutiny's Datasette plugin: a SQLite authorizer that makes a public deployment safe.

Debian's SQLite still exposes the legacy `fts3_tokenizer()` function, which
returns a memory address through an ordinary SELECT; `load_extension()` loads
code; `ATTACH` opens other files; `PRAGMA writable_schema` rewrites the schema.
Datasette runs whatever SQL a visitor types, so each is refused for every
connection Datasette opens.
"""

from __future__ import annotations

import re
import sqlite3
from datetime import UTC, datetime
from urllib.parse import quote, urlencode
from xml.sax.saxutils import escape

from datasette import hookimpl
from datasette.utils.asgi import Response

try:
    from pipeline.publish import search
except (
    ImportError
):  # a copy in a folder written by `scrutiny publish`, served without the package: search.py lies beside it
    import importlib.util as _util
    from pathlib import Path as _Path

    _spec = _util.spec_from_file_location("scrutiny_search", _Path(__file__).with_name("scrutiny_search.py"))
    assert _spec is not None and _spec.loader is not None
    search = _util.module_from_spec(_spec)
    _spec.loader.exec_module(search)

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
def render_cell(value, column):
    """Search snippets mark the words found between \u27e6 and \u27e7: shown as <mark>, after escaping the text."""
    if column != "snippet" or not isinstance(value, str) or search.MARK_OPEN not in value:
        return None
    from markupsafe import Markup
    from markupsafe import escape as html_escape

    return Markup(str(html_escape(value)).replace(search.MARK_OPEN, "<mark>").replace(search.MARK_CLOSE, "</mark>"))


@hookimpl
def prepare_connection(conn: sqlite3.Connection) -> None:
    search.register(conn)
    conn.set_authorizer(authorizer)


ATOM_COLUMNS = ("atom_id", "atom_title", "atom_updated", "atom_content")


def _attr(value: str) -> str:
    """Escaped for a double-quoted XML attribute (saxutils.escape alone leaves quotes as they are)."""
    return escape(value, {'"': "&quot;"})


def _slug(name: str) -> str:
    """As the site's council slugs (pipeline/publish/site.slug)."""
    return re.sub(r"[^a-z0-9]+", "-", (name or "").lower()).strip("-")


def _atom_date(value: str | None) -> str:
    value = (value or "1970-01-01")[:10]
    value = value + "-01" * (2 - value.count("-"))  # a year or a month only
    return f"{value}T00:00:00Z"


def _entry_link(datasette, base: str, database: str, row, columns) -> str:
    """Where an entry points: the query's `atom_link` (a path on this site, such as a concern's page) when it
    has one, else the concern's timeline query."""
    link = row["atom_link"] if "atom_link" in columns else None
    if link and str(link).startswith("/") and not str(link).startswith("//"):
        return base + datasette.urls.path(quote(str(link), safe="/-_.~:"))
    return base + datasette.urls.query(database, "concern_timeline") + "?" + urlencode({"concern_id": row["atom_id"]})


def _feed_title(datasette, database: str, query_name: str | None, request) -> str:
    """The query's title and the values asked for, so two councils' feeds read differently in a feed reader."""
    query = (datasette.metadata("queries", database=database) or {}).get(query_name or "") or {}
    title = query.get("title") if isinstance(query, dict) else None
    values = [request.args.get(k) for k in request.args.keys() if not k.startswith("_") and request.args.get(k)]
    return (title or query_name or "Scrutiny") + (": " + ", ".join(values) if values else "")


def render_atom(datasette, request, rows, columns, query_name, database, sql):
    """An Atom feed of a query whose columns are atom_id, atom_title, atom_updated and atom_content."""
    missing = [c for c in ATOM_COLUMNS if c not in columns]
    if missing:
        return Response.text(f"this query has no {', '.join(missing)} column(s) for a feed", status=400)
    base = f"{request.scheme}://{request.host}"
    feed_id = f"{base}{request.path}?{request.query_string}"
    # an empty feed is as new as now: a reader must not show it as dated 1970
    updated = max(
        (_atom_date(r["atom_updated"]) for r in rows), default=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    )
    council = request.args.get("council")
    page = (
        f'<link rel="alternate" type="text/html" href="{_attr(base + datasette.urls.path("/-/feed/" + _slug(council)))}"/>'
        if council and _slug(council)
        else ""
    )
    entries = []
    for r in rows:
        entries.append(
            "<entry>"
            f"<id>tag:scrutiny,{escape(str(r['atom_id']))}</id>"
            f"<title>{escape(str(r['atom_title']))}</title>"
            f"<updated>{_atom_date(r['atom_updated'])}</updated>"
            f'<link href="{_attr(_entry_link(datasette, base, database, r, columns))}"/>'
            f'<content type="text">{escape(str(r["atom_content"] or ""))}</content>'
            "</entry>"
        )
    body = (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<feed xmlns="http://www.w3.org/2005/Atom">'
        f"<id>{escape(feed_id)}</id><title>{escape(_feed_title(datasette, database, query_name, request))}</title>"
        f'<link rel="self" href="{_attr(feed_id)}"/>'
        + page
        + f"<updated>{updated}</updated><author><name>Scrutiny</name></author>"
        + "".join(entries)
        + "</feed>"
    )
    return Response(body, content_type="application/atom+xml; charset=utf-8")


@hookimpl
def register_output_renderer(datasette):
    return {
        "extension": "atom",
        "render": render_atom,
        "can_render": lambda columns: all(c in columns for c in ATOM_COLUMNS),
    }
