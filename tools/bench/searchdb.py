"""A large statements database for the search benchmark, generated from a seed and cached.

The schema is the real one (`store.open_db` on a fresh file: tables, indexes,
FTS5 with its triggers); rows are synthetic statements from `prose`, inserted
with plain `executemany` in batches, so the FTS index is filled by the same
triggers a real ingest fires. The file is cached under build/bench/searchdb/
keyed by seed, size and generator version; a rerun reuses it.
"""

from __future__ import annotations

import os
import random
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tools.bench import BENCH_VERSION, prose

VERSION = f"{BENCH_VERSION}/searchdb-2"
PER_DOCUMENT = 50  # statements per synthetic document
BATCH = 20_000
HEADINGS = (
    "Summary of findings",
    "Recommendations",
    "People \u2013 voice and choice",
    "Prevention",
    "Well-being",
    "Partnerships and integration",
    "Areas for improvement",
    "Progress",
    "Background",
    "Next steps",
)


@dataclass(frozen=True)
class Query:
    """A search a researcher would type, and how often its terms occur."""

    text: str
    frequency: str  # common, medium, rare or none


# Common words appear in a large share of statements, rare ones (programme names) in about 1 in 5,000,
# and one term is in none, which costs a search the most when the result set is ordered by the key.
QUERIES: tuple[Query, ...] = (
    Query("children", "common"),
    Query("council", "common"),
    Query("assessments", "common"),
    Query("care and support plans", "medium"),
    Query("supervision", "medium"),
    Query("direct payments", "medium"),
    Query("reablement", "medium"),
    Query("Pritchard", "medium"),
    Query("Gwennol", "rare"),
    Query("Tarian", "rare"),
    Query("Cynefin programme", "rare"),
    Query("Penrhyndeudraeth", "none"),
)


def path_for(out: Path, seed: int, rows: int) -> Path:
    tag = VERSION.replace("/", "-")
    return out / "searchdb" / f"statements-{rows}-seed{seed}-{tag}.db"


def _rows(seed: int, rows: int):
    """Yield (document row, statement rows) per synthetic document."""
    r = random.Random(f"{seed}:searchdb")
    councils = prose.COUNCILS
    docs = (rows + PER_DOCUMENT - 1) // PER_DOCUMENT
    made = 0
    for d in range(docs):
        council = councils[d % len(councils)]
        doc_id = f"{r.getrandbits(256):064x}"
        year = r.choice(prose.YEARS)
        doc = (
            doc_id,
            f"bench/{d:07d}.pdf",
            "pdf",
            f"Report {d} on {council.short}",
            council.name,
            "inspection_report",
            council.name,
            r.choice(("children", "adults")),
            f"{year}-06-01",
            year,
            "en",
            12,
            100_000,
            min(PER_DOCUMENT, rows - made),
            "",
            "bench",
            "bench",
            "2026-01-01T00:00:00+00:00",
        )
        statements = []
        offset = 0
        heading = r.choice(HEADINGS)
        for seq in range(min(PER_DOCUMENT, rows - made)):
            text, kind = prose.statement(r, council)
            if seq % 8 == 0:
                heading = r.choice(HEADINGS)
            start, end = offset, offset + len(text)
            offset = end + 1
            lemmas = " ".join(w.lower() for w in text.split() if len(w) > 3)
            statements.append(
                (
                    f"{doc_id[:16]}:{start}-{end}",
                    doc_id,
                    seq,
                    text,
                    1 + seq // 12,
                    start,
                    end,
                    heading,
                    kind,
                    None,
                    "cy" if text in prose.WELSH else "en",
                    lemmas,
                )
            )
        made += len(statements)
        yield doc, statements


# Labels, recommendations and concerns derived in SQL from the statements (deterministic, from their rowids), so
# the canned queries that join predictions and concerns run against tables of a realistic size.
DERIVED = (
    "INSERT INTO predictions (statement_id, scheme, labels, scores, abstain, model, margin)\n"
    "SELECT id, 'areas', CASE (rowid * 2654435761) % 7 WHEN 0 THEN '[\"A\"]' WHEN 1 THEN '[\"B\"]'\n"
    "  WHEN 2 THEN '[\"C\"]' WHEN 3 THEN '[\"D\"]' WHEN 4 THEN '[\"B\", \"D\"]' ELSE '[]' END,\n"
    "  '{}', rowid % 13 = 0, 'bench', (rowid % 101) / 100.0 FROM statements",
    "INSERT INTO concern_mentions (statement_id, concern_id, role, score, date, document_id, doc_type,\n"
    "  local_authority, service, text, areas)\n"
    "SELECT s.id, d.local_authority || ':' || (s.rowid % 400), CASE WHEN s.rowid % 3 = 0 THEN 'repeated'\n"
    "  WHEN s.rowid % 7 = 0 THEN 'discussed' ELSE 'raised' END, 0.5, d.published, d.id, d.doc_type,\n"
    "  d.local_authority, d.service, s.text, '[\"B\"]'\n"
    "FROM statements s JOIN documents d ON d.id = s.document_id WHERE s.kind = 'recommendation' AND s.rowid % 10 = 0",
    "INSERT INTO recommendations (statement_id, document_id, local_authority, service, date, doc_type, role, raises,\n"
    "  concern_id, text)\n"
    "SELECT statement_id, document_id, local_authority, service, date, doc_type, role, 1, concern_id, text\n"
    "FROM concern_mentions",
    "INSERT INTO concerns (concern_id, local_authority, service, areas, first_raised, last_raised, inspections,\n"
    "  status, label, mentions)\n"
    "SELECT concern_id, local_authority, min(service), '[\"B\"]', min(date), max(date), count(DISTINCT document_id),\n"
    "  CASE WHEN count(*) > 20 THEN 'repeated' WHEN count(*) > 10 THEN 'improved' ELSE 'new' END, min(text), count(*)\n"
    "FROM concern_mentions GROUP BY concern_id",
)


def build(out: Path, seed: int, rows: int, progress: Callable[[str], None] | None = None) -> Path:
    """The cached database of `rows` statements (built on first use, in a temporary file then renamed)."""
    from pipeline import store

    path = path_for(out, seed, rows)
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    store.open_db(tmp).close()  # the real schema, indexes, FTS5 and triggers
    con = sqlite3.connect(tmp)
    con.execute("PRAGMA journal_mode = OFF")  # a scratch file: speed over durability
    con.execute("PRAGMA synchronous = OFF")
    doc_sql = (
        "INSERT INTO documents (id, source_path, format, title, publisher, doc_type, local_authority, service, "
        "published, year, language, pages, size, statement_count, text, extractor_version, "
        "segmenter_version, ingested_at) VALUES (" + ", ".join("?" * 18) + ")"
    )
    st_sql = (
        "INSERT INTO statements (id, document_id, seq, text, page, char_start, char_end, heading, kind, "
        "speaker, language, lemmas) VALUES (" + ", ".join("?" * 12) + ")"
    )
    docs, statements, done = [], [], 0
    for doc, rows_ in _rows(seed, rows):
        docs.append(doc)
        statements.extend(rows_)
        if len(statements) >= BATCH:
            con.executemany(doc_sql, docs)
            con.executemany(st_sql, statements)
            con.commit()
            done += len(statements)
            docs, statements = [], []
            if progress and done % 200_000 < BATCH:
                progress(f"search database: {done:,} of {rows:,} statements")
    con.executemany(doc_sql, docs)
    con.executemany(st_sql, statements)
    con.commit()
    if progress:
        progress("search database: labels, recommendations and concerns for the canned queries")
    for sql in DERIVED:
        con.execute(sql)
    con.commit()
    con.execute("ANALYZE")
    con.close()
    os.replace(tmp, path)
    return path
