"""Publishing with Datasette: metadata generated from the schema, safe settings, and the app.

Descriptive metadata (titles, descriptions, licence, facets) is kept apart from
behaviour settings (time and result limits), as Datasette itself does. Nothing
here is written twice: table and column descriptions come from `store.SCHEMA`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline import __version__
from pipeline.publish.search import QUERIES as SEARCH_QUERIES
from pipeline.store import SCHEMA, VIEWS

TITLE = "Scrutiny"
DESCRIPTION = (
    "Statements from social care inspection reports, council minutes and reports, government "
    "statements and local news, with where each came from (document, page, character offsets)."
)
LICENSE = "Open Government Licence v3.0"
LICENSE_URL = "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/"
SOURCE = "Care Inspectorate Wales, Welsh councils, Welsh Government and local news, as listed per document"

FACETS: dict[str, list[Any]] = {
    "documents": ["doc_type", "local_authority", "service", "year", "language"],
    "statements": ["kind", "language"],
    "statements_labelled": [{"array": "labels"}, "local_authority", "service", "doc_type", "year", "language", "kind"],
    "concerns": ["status", "local_authority", "service", {"array": "areas"}],
    "concern_mentions": ["role", "local_authority", "service", "doc_type", "status_in_text"],
    "recommendations": ["local_authority", "service", "doc_type", "role"],
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
        # bounded: the 500 most recently stored quotes of the person, then ordered by publication date
        "sql": "WITH quoted AS (\n"
        "  SELECT rowid FROM statements\n"
        "  WHERE kind = 'quote' AND speaker IS NOT NULL AND speaker LIKE '%' || :name || '%'\n"
        "  ORDER BY rowid DESC LIMIT 500)\n"
        "SELECT d.published, d.title, d.local_authority, s.speaker, s.text, s.page, s.document_id\n"
        "FROM quoted q JOIN statements s ON s.rowid = q.rowid JOIN documents d ON d.id = s.document_id\n"
        "ORDER BY d.published DESC, s.seq",
    },
    "council_recommendations": {
        "title": "Recommendations about a council, by date",
        "description": "Recommendation statements in documents about a council (part of the name is enough).",
        "sql": "SELECT d.published, d.doc_type, d.title, s.heading, s.text, s.page, s.document_id\n"
        "FROM documents d JOIN statements s ON s.document_id = d.id\n"
        "WHERE d.local_authority LIKE '%' || :council || '%' AND +s.kind = 'recommendation'\n"
        "ORDER BY d.published, s.seq LIMIT 1000",
    },
    "recurring_concerns": {
        "title": "Recurring concerns for a council",
        "description": "Concerns raised more than once (or by more than one inspection), most mentioned first.",
        "sql": "SELECT c.status, c.label, c.inspections, c.mentions, c.first_raised, c.last_raised, c.areas,\n"
        "  c.service, c.concern_id\n"
        "FROM concerns c WHERE c.local_authority LIKE '%' || :council || '%' AND c.inspections >= 2\n"
        "ORDER BY c.inspections DESC, c.mentions DESC",
    },
    "open_concerns_raised_twice": {
        "title": "Concerns raised in two or more inspections and not resolved",
        "description": "Across all councils: what the inspectorate keeps finding.",
        "sql": "SELECT c.local_authority, c.service, c.status, c.label, c.inspections, c.first_raised,\n"
        "  c.last_raised, c.concern_id\n"
        "FROM concerns c WHERE c.inspections >= 2 AND c.status != 'resolved'\n"
        "ORDER BY c.local_authority, c.inspections DESC",
    },
    "repeated_by_inspection": {
        "title": "What an inspection repeated from the one before",
        "description": "Give the document id of an inspection report: its statements that repeat an earlier concern.",
        "sql": "SELECT m.role, m.status_in_text, c.label AS concern, c.first_raised, m.text, s.page, m.concern_id\n"
        "FROM concern_mentions m JOIN concerns c USING (concern_id) JOIN statements s ON s.id = m.statement_id\n"
        "WHERE m.document_id = :document_id AND c.first_raised < m.date\n"
        "ORDER BY s.seq",
    },
    "concern_timeline": {
        "title": "A concern's timeline",
        "description": "Every mention of a concern, in date order: raised, repeated, discussed, progress, "
        "each with its document and page.",
        "sql": "SELECT m.date, m.role, m.status_in_text, d.doc_type, d.title, m.text, s.page,\n"
        "  CASE WHEN d.source_url IS NOT NULL AND d.format = 'pdf' AND s.page IS NOT NULL\n"
        "       THEN d.source_url || '#page=' || s.page ELSE d.source_url END AS source,\n"
        "  round(m.score, 3) AS score, m.statement_id, m.document_id\n"
        "FROM concern_mentions m JOIN statements s ON s.id = m.statement_id\n"
        "JOIN documents d ON d.id = m.document_id\n"
        "WHERE m.concern_id = :concern_id ORDER BY m.date, s.document_id, s.seq",
    },
    "council_areas_by_year": {
        "title": "A council's statements by area and year",
        "description": "How many statements on each priority area appeared each year (for a chart).",
        "sql": "SELECT d.year, j.value AS area, count(*) AS statements\n"
        "FROM statements s JOIN documents d ON d.id = s.document_id\n"
        "JOIN predictions p ON p.statement_id = s.id, json_each(p.labels) j\n"
        "WHERE d.local_authority LIKE '%' || :council || '%' AND d.year IS NOT NULL\n"
        "GROUP BY d.year, j.value ORDER BY d.year, j.value",
    },
    "concern_feed": {
        "title": "New and repeated concerns",
        "description": "Concerns that are new or repeated, newest first, for a council (part of the name is enough); "
        "add .atom to the address for an Atom feed to subscribe to.",
        "sql": "SELECT c.concern_id AS atom_id,\n"
        "  c.local_authority || ': ' || c.status || ' concern: ' || c.label AS atom_title,\n"
        "  coalesce(c.last_raised, c.first_raised) AS atom_updated,\n"
        "  'Raised ' || coalesce(c.first_raised, '?') || ', last ' || coalesce(c.last_raised, '?') || ', in '\n"
        "    || c.inspections || ' inspection(s); ' || c.mentions || ' mention(s).' AS atom_content,\n"
        "  '/-/concern/' || c.concern_id AS atom_link\n"
        "FROM concerns c WHERE c.status IN ('new', 'repeated')\n"
        "  AND c.local_authority LIKE '%' || :council || '%'\n"
        "ORDER BY atom_updated DESC LIMIT 200",
    },
}
QUERIES.update(SEARCH_QUERIES)

# Labels of the canned queries' inputs, as the query pages show them.
PARAM_LABELS: dict[str, str] = {
    "q": "Words to find",
    "council": "Council (part of its name is enough)",
    "area": "Area code (A, B, C or D)",
    "document_id": "Document id",
    "concern_id": "Concern id",
    "name": "Name (part of it is enough)",
}
# Tables of the pipeline's own book-keeping: hidden from the index and database pages (still reachable).
INTERNAL_TABLES = (
    "runs",
    "sources",
    "failures",
    "source_health",
    "document_layout",
    "statement_aliases",
    "link_reviews",
    "document_pairs",
)  # bounded, ranked full-text search (pipeline/search.py)


def metadata(database: str = "scrutiny", *, public: bool = False) -> dict[str, Any]:
    """Datasette metadata for the database, generated from the schema.

    `public=True` switches off arbitrary SQL (canned queries, tables and search stay)."""
    from pipeline.publish.site.common import REVIEWS_DATABASE

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
    for name in INTERNAL_TABLES:  # kept out of the index and the database page; their pages still answer
        if name in tables:
            tables[name]["hidden"] = True
    queries = {name: {**q, "hide_sql": True} for name, q in QUERIES.items()}
    meta: dict[str, Any] = {
        "title": TITLE,
        "description": DESCRIPTION,
        "license": LICENSE,
        "license_url": LICENSE_URL,
        "source": SOURCE,
        "about": f"Scrutiny {__version__}",
        "databases": {
            database: {"description": DESCRIPTION, "tables": tables, "queries": queries},
            # the reviews database, where a site with reviewing switched on has one: reviewers only, even to read
            REVIEWS_DATABASE: {
                "allow": {"scrutiny_reviewer": True},
                "description": "Reviewers' decisions made on the site",
            },
        },
    }
    site: dict[str, Any] = {"params": PARAM_LABELS, "fictional_councils": fictional_councils()}
    areas = area_names()
    if areas:  # the site's pages name the areas; written from the taxonomy, never by hand
        site["areas"] = areas
        site["area_details"] = area_details()
    meta["plugins"] = {"scrutiny-site": site}
    if public:
        meta["allow_sql"] = False
    return meta


def area_details(scheme: str = "areas") -> list[dict[str, str]]:
    """[{code, name, description}] of the scheme's areas, for the home page; empty without the taxonomy file."""
    from pipeline.lexicon.taxonomy import TaxonomyError, load_taxonomy

    try:
        return [
            {"code": label.code, "name": label.name, "description": label.description}
            for label in load_taxonomy(scheme).labels
        ]
    except (TaxonomyError, OSError):
        return []


def fictional_councils() -> list[str]:
    """Names of the councils the gazetteer marks fictional (those of the bundled sample corpus): the home page
    says so when the database holds them."""
    try:
        from pipeline.lexicon.councils import load_gazetteer

        return sorted(b.name for b in load_gazetteer().bodies if b.fictional)
    except Exception:  # noqa: BLE001 - a missing or broken gazetteer only loses the banner
        return []


def area_names(scheme: str = "areas") -> dict[str, str]:
    """Code -> name of the label scheme's areas, or nothing when the taxonomy file is not there (an install
    without models/): the pages then show the codes alone."""
    from pipeline.lexicon.taxonomy import TaxonomyError, load_taxonomy

    try:
        return {label.code: label.name for label in load_taxonomy(scheme).labels}
    except (TaxonomyError, OSError):
        return {}


def reviews_path_for(db_path: Path | str) -> Path:
    """Where the site's reviewers' decisions go by default: `scrutiny.reviews.db` beside `scrutiny.db`."""
    db_path = Path(db_path)
    return db_path.with_name(f"{db_path.stem}.reviews.db")


def datasette_app(
    db_path: Path,
    *,
    settings: dict[str, Any] | None = None,
    public: bool = False,
    reviews: Path | str | None = None,
    review_token: str | None = None,
    archive: Path | str | None = None,
):
    """A read-only (immutable) Datasette instance over the database.

    With `reviews`, a second, writable database where signed-in reviewers' decisions go (created when
    missing); only actors holding `review_token` may write it, or even read it. `archive` is the fetch
    archive the site serves source files from (content-addressed); both stay out of the public metadata."""
    from datasette.app import Datasette
    from datasette.database import Database

    from pipeline.publish.site import REVIEWS_DATABASE, ensure_reviews_schema

    db_path = Path(db_path)
    if not db_path.exists():
        raise FileNotFoundError(f"no database at {db_path}: run `scrutiny ingest` first")
    meta = metadata(db_path.stem, public=public)
    ds = Datasette(
        immutables=[str(db_path)],
        metadata=meta,
        settings={**SETTINGS, **(settings or {})},
        cors=False,
    )
    if reviews is not None:
        ensure_reviews_schema(reviews)
        ds.add_database(Database(ds, path=str(reviews), is_mutable=True), name=REVIEWS_DATABASE)
    ds._scrutiny_private = {"review_token": review_token, "archive": str(archive) if archive else None}
    return ds


def _swapped_database(ds: Any, path: Path, generation: int) -> Any:
    """A Datasette `Database` for a swapped-in file. Datasette 0.65 keeps each executor thread's connection in a
    thread-local under the database's name, so a new `Database` of the same name would go on using the old
    file's connections: this one keys them by name and generation."""
    import asyncio

    from datasette.database import Database, connections

    class SwappedDatabase(Database):
        async def execute_fn(self, fn):
            if self.ds.executor is None:
                return await super().execute_fn(fn)
            slot = f"{self.name}@swap{generation}"

            def in_thread():
                conn = getattr(connections, slot, None)
                if not conn:
                    conn = self.connect()
                    self.ds._prepare_connection(conn, self.name)
                    setattr(connections, slot, conn)
                return fn(conn)

            return await asyncio.get_event_loop().run_in_executor(self.ds.executor, in_thread)

    return SwappedDatabase(ds, path=str(path), is_mutable=False)


class FollowSwaps:
    """ASGI wrapper that notices when the served file was swapped for a new one (pipeline.publish.swap renames a checked
    snapshot over it) and serves the new file from the next request on.

    Datasette opens an immutable database once and keeps its connections, which stay on the old file (its inode
    lives while open), so without this a server shows the old data until restarted. At most once every
    `check_every` seconds a request stats the path; when its inode, size or time changed, a fresh `Database` for
    the path replaces the old one in one assignment (requests already running finish on the old file), and
    the old one's connections are closed a minute later, well after the SQL time limit."""

    def __init__(self, app: Any, ds: Any, db_path: Path, *, check_every: float = 1.0, close_after: float = 60.0):
        self.app, self.ds, self.path = app, ds, Path(db_path)
        self.name = self.path.stem
        self.check_every, self.close_after = check_every, close_after
        self.checked = 0.0
        self.key = self._key()
        self.swaps = 0

    def _key(self) -> tuple[int, int, int] | None:
        try:
            st = self.path.stat()
        except OSError:  # mid-rename on some file systems, or removed: keep serving what is open
            return None
        return st.st_ino, st.st_size, st.st_mtime_ns

    def _follow(self) -> None:
        import asyncio

        key = self._key()
        if key is None or key == self.key:
            return
        old = self.ds.databases.get(self.name)
        new = _swapped_database(self.ds, self.path, self.swaps + 1)
        new.name = new.route = self.name
        self.ds.databases = {**self.ds.databases, self.name: new}  # one assignment: no request sees a mix
        self.key = key
        self.swaps += 1
        if old is not None:
            asyncio.get_running_loop().call_later(self.close_after, old.close)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        import time

        now = time.monotonic()
        if scope.get("type") == "http" and now - self.checked >= self.check_every:
            self.checked = now
            self._follow()
        await self.app(scope, receive, send)


def serve(
    db_path: Path,
    host: str = "127.0.0.1",
    port: int = 8001,
    public: bool = False,
    *,
    reviews: Path | str | None = None,
    review_token: str | None = None,
    archive: Path | str | None = None,
) -> None:
    """Serve the database until interrupted, following atomic swaps of the file (FollowSwaps)."""
    import uvicorn

    ds = datasette_app(db_path, public=public, reviews=reviews, review_token=review_token, archive=archive)
    uvicorn.run(FollowSwaps(ds.app(), ds, Path(db_path)), host=host, port=port, log_level="warning")
