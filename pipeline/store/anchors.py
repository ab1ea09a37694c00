"""Keep people's decisions on their statements when a document is segmented again.

A statement's id is its document and its span in the document text
(`records.statement_id_for`). A new segmenter, or a new extractor that lays
the text out differently, can give the same sentence another span, and so
another id. Corrections (`scrutiny label`) and link reviews
(`scrutiny review-links`) name statements by id; without help they would stop
applying without a word.

`successors` finds, for each old statement a decision names, the new
statement that carries it on:

1. the new statement with the same text (spaces and case aside); of several,
   the one whose start is nearest the old start;
2. otherwise, only when the document text itself is unchanged (so spans are
   comparable), the new statement that covers most of the old span, if the
   two spans overlap by at least half of the longer one.

An old statement with no such successor keeps its id: the decision that names
it is listed by the `orphaned_decisions` view, for a person to look at.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

from pipeline.records import Statement

MIN_SPAN_OVERLAP = 0.5  # of the longer of the two spans


class OldStatement(NamedTuple):
    id: str
    text: str
    char_start: int
    char_end: int


class Successor(NamedTuple):
    new_id: str
    matched_by: str  # "text" or "span"


def _key(text: str) -> str:
    return " ".join(text.split()).casefold()


def successors(old: Iterable[OldStatement], new: Sequence[Statement], same_text: bool) -> dict[str, Successor]:
    """Old statement id -> the new statement that carries its decisions, for the old ids absent from `new`."""
    new_ids = {s.id for s in new}
    by_text: dict[str, list[Statement]] = {}
    for s in new:
        by_text.setdefault(_key(s.text), []).append(s)
    found: dict[str, Successor] = {}
    for o in old:
        if o.id in new_ids:
            continue
        same = by_text.get(_key(o.text))
        if same:
            best = min(same, key=lambda s: (abs(s.char_start - o.char_start), s.char_start))
            found[o.id] = Successor(best.id, "text")
            continue
        if not same_text:
            continue
        best_overlap, best_id = 0, None
        for s in new:
            overlap = min(o.char_end, s.char_end) - max(o.char_start, s.char_start)
            if overlap > best_overlap:
                best_overlap, best_id = overlap, s.id
        longer = max(o.char_end - o.char_start, 1)
        if best_id is not None:
            longer = max(longer, next(s.char_end - s.char_start for s in new if s.id == best_id))
        if best_id is not None and best_overlap / longer >= MIN_SPAN_OVERLAP:
            found[o.id] = Successor(best_id, "span")
    return found
