"""Publishing with Datasette: metadata generated from the schema, safe settings, and the app.

Descriptive metadata (titles, descriptions, licence, facets) is kept apart from
behaviour settings (time and result limits), as Datasette itself does. Nothing
here is written twice: table and column descriptions come from `store.SCHEMA`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import __version__
from .store import SCHEMA, VIEWS

TITLE = "Scrutiny"
DESCRIPTION = ("Statements from social care inspection reports, council minutes and reports, government "
               "statements and local news, with where each came from (document, page, character offsets).")
LICENSE = "Open Government Licence v3.0"
LICENSE_URL = "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/"
SOURCE = "Care Inspectorate Wales, Welsh councils, Welsh Government and local news, as listed per document"

FACETS: dict[str, list[Any]] = {
    "documents": ["doc_type", "local_authority", "service", "year", "language"],
    "statements": ["kind", "language"],
    "statements_labelled": [{"array": "labels"}, "local_authority", "doc_type", "year", "language", "kind"],
    "predictions": [{"array": "labels"}, "abstain", "model"],
    "failures": ["stage"],
    "entities": ["label"],
    "source_health": ["ok", "stale"],
}
SORT = {"statements": None, "documents": "published", "runs": "started_at"}

# Behaviour: a public deployment must not be a denial-of-service lever.
SETTINGS: dict[str, Any] = {
    "sql_time_limit_ms": 2000,
    "max_returned_rows": 1000,
    "default_page_size": 50,
    "facet_time_limit_ms": 500,
    "allow_download": False,
    "suggest_facets": False,
    "default_cache_ttl": 300,
}


QUERIES: dict[str, dict[str, Any]] = {
    "document_statements": {
        "title": "Statements of one document, in order",
        "description": "Every statement of a document with its page, heading and kind. Give the document id.",
        "sql": "SELECT s.seq, s.page, s.heading, s.kind, p.labels, s.speaker, s.text, s.language,\n"
               "  CASE WHEN d.source_url IS NOT NULL AND d.format = 'pdf' AND s.page IS NOT NULL\n"
               "       THEN d.source_url || '#page=' || s.page ELSE d.source_url END AS source,\n"
               "  s.id AS statement_id\n"
               "FROM statements s JOIN documents d ON d.id = s.document_id\n"
               "LEFT JOIN predictions p ON p.statement_id = s.id\n"
               "WHERE s.document_id = :document_id ORDER BY s.seq",
    },
    "council_area_by_year": {
        "title": "Statements on an area for a council, by year",
        "description": "Statements labelled with an area (A, B, C or D) in documents about a council.",
        "sql": "SELECT d.year, d.doc_type, d.title, s.kind, p.labels, s.text, s.page, s.document_id\n"
               "FROM statements s JOIN documents d ON d.id = s.document_id\n"
               "JOIN predictions p ON p.statement_id = s.id\n"
               "WHERE d.local_authority LIKE '%' || :council || '%'\n"
               "  AND EXISTS (SELECT 1 FROM json_each(p.labels) WHERE value = upper(:area))\n"
               "ORDER BY d.year, d.published, s.seq LIMIT 1000",
    },
    "person_quoted": {
        "title": "Where a person is quoted",
        "description": "Quotes attributed to a person, newest first. Part of a name is enough.",
        "sql": "SELECT d.published, d.title, d.local_authority, s.speaker, s.text, s.page, s.document_id\n"
               "FROM statements s JOIN documents d ON d.id = s.document_id\n"
               "WHERE s.kind = 'quote' AND s.speaker LIKE '%' || :name || '%'\n"
               "ORDER BY d.published DESC, s.seq LIMIT 500",
    },
    "council_recommendations": {
        "title": "Recommendations about a council, by date",
        "description": "Recommendation statements in documents about a council (part of the name is enough).",
        "sql": "SELECT d.published, d.doc_type, d.title, s.heading, s.text, s.page, s.document_id\n"
               "FROM statements s JOIN documents d ON d.id = s.document_id\n"
               "WHERE s.kind = 'recommendation' AND d.local_authority LIKE '%' || :council || '%'\n"
               "ORDER BY d.published, s.seq LIMIT 1000",
    },
}


def metadata(database: str = "scrutiny", *, public: bool = False) -> dict[str, Any]:
    """Datasette metadata for the database, generated from the schema.

    `public=True` switches off arbitrary SQL (canned queries, tables and search stay)."""
    tables: dict[str, Any] = {}
    for table in SCHEMA:
        entry: dict[str, Any] = {
            "description": table.description,
            "columns": {c.name: c.description for c in table.columns},
        }
        if table.name in FACETS:
            entry["facets"] = FACETS[table.name]
        if SORT.get(table.name):
            entry["sort_desc"] = SORT[table.name]
        if table.fts:
            entry["fts_table"] = f"{table.name}_fts"
            entry["fts_pk"] = "rowid"
            entry["searchmode"] = "escaped"
        tables[table.name] = entry
    for name, (description, _) in VIEWS.items():
        tables[name] = {"description": description, **({"facets": FACETS[name]} if name in FACETS else {})}
    tables["statements_labelled"].update({"fts_table": "statements_fts", "fts_pk": "statement_rowid"})
    meta: dict[str, Any] = {
        "title": TITLE,
        "description": DESCRIPTION,
        "license": LICENSE,
        "license_url": LICENSE_URL,
        "source": SOURCE,
        "about": f"Scrutiny {__version__}",
        "databases": {database: {"description": DESCRIPTION, "tables": tables, "queries": QUERIES}},
    }
    if public:
        meta["allow_sql"] = False
    return meta


def datasette_app(db_path: Path, *, settings: dict[str, Any] | None = None, public: bool = False):
    """A read-only (immutable) Datasette instance over the database."""
    from datasette.app import Datasette

    db_path = Path(db_path)
    if not db_path.exists():
        raise FileNotFoundError(f"no database at {db_path}: run `scrutiny ingest` first")
    return Datasette(
        immutables=[str(db_path)],
        metadata=metadata(db_path.stem, public=public),
        settings={**SETTINGS, **(settings or {})},
        cors=False,
    )


def serve(db_path: Path, host: str = "127.0.0.1", port: int = 8001, public: bool = False) -> None:
    """Serve the database until interrupted."""
    import uvicorn

    ds = datasette_app(db_path, public=public)
    uvicorn.run(ds.app(), host=host, port=port, log_level="warning")
