"""Full-text search that stays fast on common words: a bounded result set, ranked in Python.

SQLite's FTS5 `rank` (bm25) needs each term's document frequency, which it gets
by walking the term's whole doclist: on a million statements a search for
"children" or "and" spends tens of milliseconds counting before it returns one
row. So the search never asks FTS5 to rank. It takes the newest `BOUND` matches
in the index's own order (cheap: FTS5 walks its doclists backwards and stops),
and ranks only those with `score`, a term-coverage and proximity score computed
here. Stop words are dropped from the query unless quoted, so "care and support
plans" does not intersect the doclist of "and".

Three SQL functions are registered on every Datasette connection (see
datasette_plugin.prepare_connection): `scrutiny_fts(q)` turns what a person
typed into a safe FTS5 expression, `scrutiny_snippet(text, q)` gives a window of
the text around the first match with the matched words marked, and
`scrutiny_score(text, q)` ranks.
"""

from __future__ import annotations

import re
import sqlite3
from functools import lru_cache

BOUND = 200  # matches ranked per search: the cost of a search is bounded by this, not by the term's frequency
PAGE = 20
MARK_OPEN, MARK_CLOSE = "\u27e6", "\u27e7"  # ⟦ ⟧: plain-text marks, escaped like any text wherever shown

STOPWORDS = frozenset(
    """
a an and are as at be been but by for from had has have in into is it its of on or that the their there these they
this to was were which will with within
ac a'r ar at gan i o y yr yn yw mae ei eu am fel hefyd
""".split()
)

_TOKEN = re.compile(r'"([^"]*)"|(\S+)')
_WORD = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*\*?", re.UNICODE)


def terms(q: str) -> tuple[list[str], list[str]]:
    """(phrases, words) of a query: text in double quotes is a phrase; stop words are dropped outside quotes
    unless the query has nothing else."""
    phrases: list[str] = []
    words: list[str] = []
    for quoted, bare in _TOKEN.findall(q or ""):
        if quoted:
            ws = _WORD.findall(quoted)
            if ws:
                phrases.append(" ".join(w.rstrip("*") for w in ws))
        else:
            words += _WORD.findall(bare)
    kept = [w for w in words if w.lower().rstrip("*") not in STOPWORDS]
    if not kept and not phrases:
        kept = words
    return phrases, kept


@lru_cache(maxsize=256)
def fts_query(q: str | None) -> str:
    """A safe FTS5 MATCH expression for what a person typed: every term quoted (no operators can be
    injected), `word*` kept as a prefix search, phrases kept whole. An empty query matches nothing."""
    phrases, words = terms(q or "")
    parts = [f'"{p}"' for p in phrases]
    for w in words:
        prefix = w.endswith("*")
        w = w.rstrip("*").replace('"', "")
        if w:
            parts.append(f'"{w}"' + ("*" if prefix else ""))
    return " ".join(parts) if parts else '""'


@lru_cache(maxsize=256)
def _marker(q: str) -> re.Pattern[str] | None:
    """One pattern for every term of the query (a word and its inflections, as the porter index matches them
    roughly, or a whole phrase), for marking a snippet; None for an empty query."""
    phrases, words = terms(q)
    parts = [r"\b" + re.escape(_stem(w.rstrip("*").lower())) + r"\w*" for w in words if w.rstrip("*")]
    parts += [r"\b" + r"\W+".join(re.escape(w) for w in p.split()) + r"\b" for p in phrases]
    return re.compile("|".join(f"(?:{p})" for p in parts), re.IGNORECASE) if parts else None


def _stem(word: str) -> str:
    """A light suffix strip, enough to mark "assessments" when "assessment" was searched and back."""
    for suffix in ("ments", "ment", "ings", "ing", "ies", "es", "ed", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


@lru_cache(maxsize=256)
def _needles(q: str) -> tuple[tuple[str, float], ...]:
    """Lower-case (needle, weight) pairs for `score`: word stems weigh 1, phrases 2."""
    phrases, words = terms(q)
    out = [(_stem(w.rstrip("*").lower()), 1.0) for w in words]
    out += [(" ".join(p.lower().split()), 2.0) for p in phrases]
    return tuple((n, w) for n, w in out if n)


def _find_word(text: str, needle: str) -> int:
    """Index of `needle` at the start of a word in `text` (both lower case), or -1. Plain `str.find`, which is
    what keeps ranking cheap: `score` runs on every bounded match."""
    i = text.find(needle)
    while i > 0 and text[i - 1].isalnum():
        i = text.find(needle, i + 1)
    return i


def score(text: str | None, q: str | None) -> float:
    """Higher is better: distinct terms present (phrases count double), then how close together the first
    matches are, then shorter statements (a term in a short statement says more)."""
    if not text or not q:
        return 0.0
    low = text.lower()
    found = 0.0
    first = last = -1
    for needle, weight in _needles(q):
        i = _find_word(low, needle)
        if i >= 0:
            found += weight
            first = i if first < 0 else min(first, i)
            last = max(last, i)
    spread = last - first if found else 0
    return found * 1000.0 - min(spread, 500) - len(text) / 100.0


def snippet(text: str | None, q: str | None, width: int = 220) -> str:
    """A window of `width` characters around the first match, with the matched words between ⟦ and ⟧."""
    if not text:
        return ""
    joined = _marker(q or "")
    first = joined.search(text) if joined else None
    start = 0 if first is None else max(0, first.start() - width // 3)
    if start:
        space = text.find(" ", start)
        start = space + 1 if first is not None and 0 <= space < first.start() else start
    window = text[start : start + width]
    end_cut = start + width < len(text)
    if joined is not None:
        window = joined.sub(lambda m: f"{MARK_OPEN}{m.group(0)}{MARK_CLOSE}", window)
    return ("\u2026" if start else "") + window + ("\u2026" if end_cut else "")


def register(conn: sqlite3.Connection) -> None:
    """Make the search functions available to SQL on `conn` (deterministic, so SQLite may cache them)."""
    conn.create_function("scrutiny_fts", 1, fts_query, deterministic=True)
    conn.create_function("scrutiny_snippet", 2, snippet, deterministic=True)
    conn.create_function("scrutiny_score", 2, score, deterministic=True)


def search_sql(fts_table: str, table: str, columns: str, joins: str = "") -> str:
    """SQL of a bounded search over `table` through its FTS index: the newest BOUND matches, ranked by `score`,
    one page of them. Only the page's rows get their snippet and joins. `columns` may use the alias `t` for the
    table, `ranked.score`, and any alias `joins` brings in."""
    return (
        f"WITH hits AS (\n"
        f"  SELECT rowid FROM {fts_table} WHERE {fts_table} MATCH scrutiny_fts(:q)\n"
        f"  ORDER BY rowid DESC LIMIT {BOUND}\n"
        f"), ranked AS (\n"
        f"  SELECT x.rowid AS rid, scrutiny_score(x.text, :q) AS score FROM hits JOIN {table} x ON x.rowid = hits.rowid\n"
        f"  ORDER BY score DESC, x.rowid DESC LIMIT {PAGE}\n"
        f")\n"
        f"SELECT {columns}\n"
        f"FROM ranked JOIN {table} t ON t.rowid = ranked.rid{joins}\n"
        f"ORDER BY ranked.score DESC, ranked.rid DESC"
    )


STATEMENT_SEARCH = search_sql(
    "statements_fts",
    "statements",
    "scrutiny_snippet(t.text, :q) AS snippet, d.local_authority, d.published, d.doc_type, d.title, t.page, t.kind,\n"
    "  t.language, t.id AS statement_id, t.document_id",
    "\nJOIN documents d ON d.id = t.document_id",
)

RECOMMENDATION_SEARCH = search_sql(
    "recommendations_fts",
    "recommendations",
    "scrutiny_snippet(t.text, :q) AS snippet, t.local_authority, t.service, t.date, t.doc_type, t.role,\n"
    "  t.concern_id, t.statement_id, t.document_id",
)

QUERIES: dict[str, dict[str, str]] = {
    "search_statements": {
        "title": "Search statements",
        "description": (
            f'Words to find (stop words are ignored unless quoted; "quotes" for a phrase, word* for a '
            f"prefix). The {BOUND} most recently stored matches are ranked by how many of the words they "
            f"contain and how close together, and the best {PAGE} shown, so a search stays fast on "
            "common words. For every match, filter the statements table with _search."
        ),
        "sql": STATEMENT_SEARCH,
    },
    "search_recommendations": {
        "title": "Search recommendations and concerns",
        "description": (
            f"Words to find in the recommendations, areas for improvement and judgements picked out of "
            f"inspection reports; ranked like Search statements (best {PAGE} of the {BOUND} most recently "
            "stored matches)."
        ),
        "sql": RECOMMENDATION_SEARCH,
    },
}
