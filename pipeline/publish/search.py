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
from typing import NamedTuple

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

_TOKEN = re.compile(r'(-?)"([^"]*)"?|(\S+)')
_WORD = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*\*?", re.UNICODE)


# NamedTuples, not dataclasses: a folder written by `scrutiny publish` loads this file without registering it
# as a module, and dataclasses look their module up.
class Term(NamedTuple):
    """One thing to find: a word, a `prefix*` or a "quoted phrase" (words joined by single spaces)."""

    text: str
    kind: str = "word"  # word, prefix or phrase

    def fts(self) -> str:
        """As an FTS5 string: always quoted, so nothing typed is taken as FTS syntax."""
        return f'"{self.text}"' + ("*" if self.kind == "prefix" else "")


class Query(NamedTuple):
    """What a person typed, parsed: `groups` must all match (each group is one term or several joined by OR),
    `excluded` must not (NOT word, -word)."""

    groups: tuple[tuple[Term, ...], ...] = ()
    excluded: tuple[Term, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.groups

    def positive(self) -> list[Term]:
        return [t for g in self.groups for t in g]


def _terms_of(token: str) -> list[Term]:
    out = []
    for w in _WORD.findall(token):
        prefix = w.endswith("*")
        w = w.rstrip("*")
        if w:
            out.append(Term(w, "prefix" if prefix else "word"))
    return out


@lru_cache(maxsize=512)
def parse(q: str | None) -> Query:
    """Parse a query as people type them: words (all required), `OR` between two terms (either will do),
    `NOT word` or `-word` (must not be there), `"a phrase"`, `prefix*`. Stop words are dropped outside quotes
    unless the query has nothing else; `AND` is what words do anyway. Anything else is only text."""
    groups: list[tuple[list[Term], bool]] = []  # (terms, only stop words)
    excluded: list[Term] = []
    pending_or = negate = False
    for m in _TOKEN.finditer(q or ""):
        minus, quoted, bare = m.group(1), m.group(2), m.group(3)
        if bare in ("OR", "|"):
            pending_or = bool(groups)
            continue
        if bare in ("AND", "&"):
            continue
        if bare == "NOT":
            negate = True
            continue
        if quoted is None:
            minus = "-" if bare.startswith("-") and len(bare) > 1 else ""
            found = [(t, t.kind == "word" and t.text.lower() in STOPWORDS) for t in _terms_of(bare[len(minus) :])]
        else:
            words = [w.rstrip("*") for w in _WORD.findall(quoted)]
            words = [w for w in words if w]
            found = [(Term(" ".join(words), "phrase" if len(words) > 1 else "word"), False)] if words else []
        if negate or minus:
            excluded += [t for t, _ in found]
        else:
            for i, (term, stop) in enumerate(found):
                if pending_or and i == 0 and groups:
                    terms_, only_stop = groups[-1]
                    groups[-1] = (terms_ + [term], only_stop and stop)
                else:
                    groups.append(([term], stop))
        pending_or = negate = False
    kept = [g for g, only_stop in groups if not only_stop] or [g for g, _ in groups]
    return Query(tuple(tuple(dict.fromkeys(g)) for g in kept), tuple(dict.fromkeys(excluded)))


def terms(q: str) -> tuple[list[str], list[str]]:
    """(phrases, words) of a query's positive terms; a prefix keeps its `*`."""
    query = parse(q or "")
    phrases = [t.text for t in query.positive() if t.kind == "phrase"]
    words = [t.text + ("*" if t.kind == "prefix" else "") for t in query.positive() if t.kind != "phrase"]
    return phrases, words


def _group(g: tuple[Term, ...]) -> str:
    return g[0].fts() if len(g) == 1 else "(" + " OR ".join(t.fts() for t in g) + ")"


def _not(expr: str, query: Query) -> str:
    return expr + "".join(f" NOT {t.fts()}" for t in query.excluded)


@lru_cache(maxsize=256)
def fts_query(q: str | None) -> str:
    """A safe FTS5 MATCH expression for statements with all of the words (one of each OR group), none of the
    excluded ones: every term quoted (no operators can be injected), `word*` kept as a prefix search,
    phrases kept whole. An empty query matches nothing."""
    query = parse(q or "")
    if query.empty:
        return '""'
    return _not(" AND ".join(_group(g) for g in query.groups), query)


@lru_cache(maxsize=256)
def fts_some(q: str | None) -> str | None:
    """A safe FTS5 expression for statements with at least one of the words (and none excluded), or None when
    the query has a single group (then "some" is "all")."""
    query = parse(q or "")
    if len(query.groups) < 2:
        return None
    every = " AND ".join(_group(g) for g in query.groups)
    return _not("(" + " OR ".join(t.fts() for t in query.positive()) + f") NOT ({every})", query)


@lru_cache(maxsize=256)
def fts_any(q: str | None) -> str:
    """A safe FTS5 expression for text with any of the query's terms (for concerns worded alike)."""
    terms_ = parse(q or "").positive()
    return " OR ".join(t.fts() for t in terms_) if terms_ else '""'


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
    conn.create_function("scrutiny_fts_some", 1, fts_some, deterministic=True)
    conn.create_function("scrutiny_fts_any", 1, fts_any, deterministic=True)
    conn.create_function("scrutiny_snippet", 3, snippet, deterministic=True)
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
