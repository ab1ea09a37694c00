"""Recurrence, the incremental index: the text vectors of statements (the learned models' TF-IDF, fitted once
at training, so adding statements never refits anything), and per-council blocks of them in immutable chunks
with the state of each concern.

Adding k statements costs k rows against their block, never an N x N matrix, and an old index stays
valid (copy on write). `index_from` rebuilds an index from stored mentions without relinking anything.

A block offers at most `rows_per_concern` statements of each concern as candidates: its newest ones (`capped`).
Linking joins a concern by its best pair (`support` 1), so a concern mentioned again and again stays as easy to
find, while a block grows with the number of concerns of its council, not with the number of times an archive
repeats them: the cost of adding a document stays flat as the archive grows. No concern of the evaluation files
or the bundled corpus has that many statements, so the cap changes nothing there.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date as Date
from functools import lru_cache

import numpy as np
import scipy.sparse as sp

from pipeline.lexicon.councils import load_gazetteer
from pipeline.recur.cues import Cues, RecurConfig, describe
from pipeline.recur.records import Item, Mention

UNDATED = 10**7  # an ordinal after every real date: undated statements come last


# ---------------------------------------------------------------- vectors


@lru_cache(maxsize=4096)
def council_key(name: str) -> str:
    """Canonical council name: short, long and Welsh forms of a council share one key."""
    return load_gazetteer().canonical(name, "council") or " ".join(name.split()).casefold()


def vectorise(items: Sequence[Item], item_cues: Sequence[Cues] | None, config: RecurConfig) -> sp.csr_matrix:
    """Rows of l2-normalised word and character TF-IDF (the learned models' vectoriser): the dot product of
    two rows is their text similarity. Stateless at run time: an item always gets the same row."""
    return describe(items, config, read=False)[1].vectors


# ---------------------------------------------------------------- the incremental index


@dataclass(frozen=True)
class Row:
    """What linking needs to know about one indexed statement."""

    id: str
    concern_id: str
    document_id: str | None
    seq: int | None
    day: int
    service: str | None
    labels: frozenset[str]
    issue: np.ndarray  # issue probabilities (the learned issue model's classes)
    status_p: np.ndarray  # status-in-text probabilities (pipeline.recur.learned.STATUSES order)


@dataclass(frozen=True)
class Chunk:
    matrix: sp.csc_matrix  # rows are statements; CSC so that `.T` is a free CSR for the product
    rows: tuple[Row, ...]


@dataclass(frozen=True)
class ConcernState:
    """A concern as linking sees it: its mentions so far and what episodes need from them."""

    concern_id: str
    thread: str | None
    mentions: tuple[Mention, ...] = ()
    services: frozenset[str] = frozenset()  # explicit services of its mentions
    last_day: int | None = None  # latest dated mention
    closed_day: int | None = None  # first dated mention that finds it resolved
    first_inspected: int | None = None  # first mention by an inspection (not discussion)

    def adding(self, m: Mention) -> ConcernState:
        day = day_number(m.date)
        dated = day != UNDATED
        inspected = m.role != "discussed" and dated
        return replace(
            self,
            mentions=self.mentions + (m,),
            first_inspected=min(self.first_inspected or day, day) if inspected else self.first_inspected,
            services=self.services | ({m.service} if m.service in ("children", "adults") else set()),
            last_day=max(self.last_day or day, day) if dated else self.last_day,
            closed_day=min(self.closed_day or day, day)
            if dated and m.status_in_text == "resolved"
            else self.closed_day,
        )


@dataclass(frozen=True)
class Block:
    """One council: its statements' vectors in immutable chunks, and the state of its concerns."""

    key: str
    chunks: tuple[Chunk, ...] = ()
    concerns: Mapping[str, ConcernState] = field(default_factory=dict)
    episodes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # thread -> concern ids, oldest first
    indexed: Mapping[str, int] = field(default_factory=dict)  # concern id -> its statements among the chunks' rows

    @property
    def size(self) -> int:
        return sum(c.matrix.shape[0] for c in self.chunks)


@dataclass(frozen=True)
class Index:
    """Per-council blocks of linked statements. Never modified: `link` returns a new index sharing the
    unchanged blocks and chunks with the old one."""

    version: str
    blocks: Mapping[str, Block] = field(default_factory=dict)

    def __len__(self) -> int:
        return sum(b.size for b in self.blocks.values())


@lru_cache(maxsize=65536)
def day_number(value: str | None) -> int:
    parts = [int(p) for p in re.findall(r"\d+", value or "")[:3]]
    try:
        return Date(parts[0], *(parts[1:] + [1, 1])[:2]).toordinal()
    except (ValueError, IndexError):
        return UNDATED


def compatible(a: str | None, b: str | None) -> bool:
    return a in (None, "both") or b in (None, "both") or a == b


def concern_id_for(council: str, first_statement_id: str, thread: str | None = None) -> str:
    """Deterministic: the council's slug, the thread if any, and a digest of the first statement's id."""
    words = [
        w
        for w in re.findall(r"[a-z0-9]+", council_key(council).casefold())
        if w not in ("county", "borough", "city", "council", "cyngor", "sir", "bwrdeistref", "sirol", "of")
    ]
    digest = hashlib.sha1(first_statement_id.encode("utf-8")).hexdigest()[:10]
    return f"{'-'.join(words) or 'council'}-{thread + '-' if thread else ''}{digest}"


def index_row(item: Item, c: Cues, concern_id: str) -> Row:
    return Row(
        item.id,
        concern_id,
        item.document_id,
        item.seq,
        day_number(item.date),
        c.service,
        frozenset(item.labels),
        c.issue,
        c.status_p,
    )


def merged(chunks: tuple[Chunk, ...], max_chunks: int) -> tuple[Chunk, ...]:
    """Merge the newest chunks while they are comparable in size (sizes stay geometric, so each row is
    merged O(log N) times), and any past `max_chunks`."""
    out = list(chunks)
    while len(out) > 1 and (len(out) > max_chunks or out[-1].matrix.shape[0] * 2 >= out[-2].matrix.shape[0]):
        b, a = out.pop(), out.pop()
        out.append(Chunk(sp.vstack([a.matrix, b.matrix], format="csc"), a.rows + b.rows))
    return tuple(out)


def newest(concern_ids: Sequence[str], per_concern: int) -> np.ndarray:
    """Which of these rows (oldest first) are among the newest `per_concern` of their concern."""
    seen: dict[str, int] = {}
    keep = np.zeros(len(concern_ids), dtype=bool)
    for i in range(len(concern_ids) - 1, -1, -1):
        n = seen.get(concern_ids[i], 0)
        keep[i] = n < per_concern
        seen[concern_ids[i]] = n + 1
    return keep


def capped(chunks: tuple[Chunk, ...], per_concern: int) -> tuple[tuple[Chunk, ...], dict[str, int]]:
    """The chunks with only the newest `per_concern` rows of each concern, newest by date as `index_from` takes
    them (a document stored late may be older than those before it), in one chunk when any had to go; and the
    rows each concern keeps."""
    rows = [r for c in chunks for r in c.rows]
    by_date = sorted(range(len(rows)), key=lambda i: (rows[i].day, rows[i].document_id or "", rows[i].seq or 0))
    keep = np.zeros(len(rows), dtype=bool)
    keep[by_date] = newest([rows[i].concern_id for i in by_date], per_concern)
    counts = dict(Counter(r.concern_id for r, k in zip(rows, keep) if k))
    if keep.all():
        return chunks, counts
    pieces, start = [], 0
    for c in chunks:  # each chunk's kept rows, so that no copy of the whole index is made
        n = c.matrix.shape[0]
        kept = np.flatnonzero(keep[start : start + n])
        start += n
        if len(kept):
            pieces.append(c.matrix if len(kept) == n else c.matrix[kept])
    matrix = sp.vstack(pieces, format="csc")
    return (Chunk(matrix, tuple(r for r, k in zip(rows, keep) if k)),), counts


def order_key(item: Item, position: int) -> tuple:
    """Linking's order: by day (undated last), document, then position in it."""
    return (day_number(item.date), item.document_id or "", item.seq if item.seq is not None else position, position)


def index_from(linked: Iterable[tuple[Item, Mention]], config: RecurConfig) -> Index:
    """Rebuild the index from stored mentions (after a restart or a review), relinking nothing: every mention
    in its concern's state, the newest `rows_per_concern` of each concern as rows (only those are described)."""
    per_block: dict[str, list[tuple[Item, Mention]]] = {}
    for item, mention in linked:
        per_block.setdefault(council_key(item.local_authority), []).append((item, mention))
    blocks = {}
    for key, pairs in per_block.items():
        pairs.sort(key=lambda p: order_key(p[0], 0))
        concerns: dict[str, ConcernState] = {}
        episodes: dict[str, tuple[str, ...]] = {}
        for _, m in pairs:
            state = concerns.get(m.concern_id) or ConcernState(m.concern_id, m.thread)
            if not state.mentions and m.thread:
                episodes[m.thread] = episodes.get(m.thread, ()) + (m.concern_id,)
            concerns[m.concern_id] = state.adding(m)
        keep = newest([m.concern_id for _, m in pairs], int(config.linking["rows_per_concern"]))
        pairs = [p for p, k in zip(pairs, keep) if k]
        item_cues, info = describe([item for item, _ in pairs], config, read=False)  # rows need no status reading
        rows = tuple(index_row(item, c, m.concern_id) for (item, m), c in zip(pairs, item_cues, strict=True))
        chunk = Chunk(info.vectors.tocsc(), rows)
        blocks[key] = Block(key, (chunk,), concerns, episodes, dict(Counter(m.concern_id for _, m in pairs)))
    return Index(config.version, blocks)
