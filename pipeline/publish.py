"""Publishing with Datasette: metadata generated from the schema, safe settings, and the app.

Descriptive metadata (titles, descriptions, licence, facets) is kept apart from
behaviour settings (time and result limits), as Datasette itself does. Nothing
here is written twice: table and column descriptions come from `store.SCHEMA`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import __version__
from .store import SCHEMA

TITLE = "Scrutiny"
DESCRIPTION = ("Statements from social care inspection reports, council minutes and reports, government "
               "statements and local news, with where each came from (document, page, character offsets).")
LICENSE = "Open Government Licence v3.0"
LICENSE_URL = "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/"
SOURCE = "Care Inspectorate Wales, Welsh councils, Welsh Government and local news, as listed per document"

FACETS = {
    "documents": ["doc_type", "local_authority", "service", "year", "language"],
    "statements": ["kind", "language"],
    "failures": ["stage"],
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


def metadata(database: str = "scrutiny") -> dict[str, Any]:
    """Datasette metadata for the database, generated from the schema."""
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
    return {
        "title": TITLE,
        "description": DESCRIPTION,
        "license": LICENSE,
        "license_url": LICENSE_URL,
        "source": SOURCE,
        "about": f"Scrutiny {__version__}",
        "databases": {database: {"description": DESCRIPTION, "tables": tables}},
    }


def datasette_app(db_path: Path, *, settings: dict[str, Any] | None = None):
    """A read-only (immutable) Datasette instance over the database."""
    from datasette.app import Datasette

    db_path = Path(db_path)
    if not db_path.exists():
        raise FileNotFoundError(f"no database at {db_path}: run `scrutiny ingest` first")
    return Datasette(
        immutables=[str(db_path)],
        metadata=metadata(db_path.stem),
        settings={**SETTINGS, **(settings or {})},
        cors=False,
    )


def serve(db_path: Path, host: str = "127.0.0.1", port: int = 8001) -> None:
    """Serve the database until interrupted."""
    import uvicorn

    ds = datasette_app(db_path)
    uvicorn.run(ds.app(), host=host, port=port, log_level="warning")
