"""Recurrence: pick out recommendations and concerns, link them into concerns, and derive each concern's status.

Pure functions over frozen records. Every threshold, weight and cue list lives in
`models/recurrence.toml`, read by the cached `load_config`; the standard for what
one concern is, is ../shared/recurrence-guidelines.md.

`link` in brief:

- Statements are blocked by council (different councils are never compared) and
  an explicit service (children, adults) must agree.
- The learned models (`pipeline.recur.learned`, trained on real-grounded groupings of councils the project
  never evaluates on) describe each statement once: text vectors, a distribution over the issue taxonomy
  (models/recurrence-issues.toml: front door, assessment, placements, workforce, ..., the overall judgement and
  the intervention thread), the status its text reads and whether it is a concern mention at all.
- Each statement is scored against the earlier statements of its block, taken from one chunked sparse product of
  the text vectors: the pair model turns text similarity, issue agreement, the threads, time apart (episodes),
  document neighbours and status into the probability that the two are one concern. It joins the concern
  whose best `support` probabilities average at least the threshold chosen in training (so one chance
  resemblance cannot snowball), else it opens a new concern; a concern silent for `max_gap_days` is a
  separate episode.
- Its status in the text is what its words say (persisting, improved, resolved, "new" only where they say so;
  most statements say none), read by the learned status model.
- Statements are taken in time order, so a batch and the same statements added
  document by document give the same concerns. The `Index` keeps each block's
  vectors in immutable chunks: adding k statements costs k rows against their
  block, never an N x N matrix, and the old index stays valid (copy on write).

Reviewer decisions always win: `Decisions` fixes statements to concerns, holds
must-link and cannot-link pairs and keeps statements out of named concerns.
`pipeline.recur.review` turns the stored `link_reviews` into `Decisions`;
`pipeline.run.linking` relinks the councils a review touches and passes the
decisions to every later `link`.

The stage is split by responsibility: `recur_records` (the records), `recur_cues` (configuration, cues,
picking), `recur_index` (vectors and the index) and this module (linking, statuses, concerns), which
re-exports the public names of the others so that `from pipeline import recur` gives the whole stage.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from functools import lru_cache
from itertools import groupby

import numpy as np
import scipy.sparse as sp

from pipeline.recur.cues import (
    INSPECTION,
    Cues,
    Described,
    RecurConfig,
    config_for,
    cues,
    describe,
    describe_statements,
    is_concern,
    linking_numbers,
    load_config,
    normalise,
    pick_recommendations,
    status_in_text,
)
from pipeline.recur.index import (
    UNDATED,
    Block,
    Chunk,
    ConcernState,
    Index,
    Row,
    capped,
    compatible,
    concern_id_for,
    council_key,
    day_number,
    index_from,
    index_row,
    merged,
    order_key,
    vectorise,
)
from pipeline.recur.learned import CUES, Info, pair_features, pair_probability, searchable
from pipeline.recur.records import Assignment, Concern, Decisions, Item, Link, Mention, Pick

__all__ = [
    "INSPECTION",
    "UNDATED",
    "Assignment",
    "Block",
    "Chunk",
    "Concern",
    "ConcernState",
    "Cues",
    "Decisions",
    "Described",
    "Index",
    "Item",
    "Link",
    "Mention",
    "Pick",
    "RecurConfig",
    "Row",
    "concern_id_for",
    "concern_status",
    "concerns_from",
    "config_for",
    "linking_numbers",
    "council_key",
    "day_number",
    "concern_label",
    "cues",
    "describe",
    "describe_statements",
    "index_from",
    "is_concern",
    "link",
    "load_config",
    "pick_recommendations",
    "status_in_text",
    "vectorise",
]

_ACTION = searchable(CUES["action"])
_PAIRS_PER_PIECE = 8192
_DENSE_SHARE = 0.25  # a piece of the candidate product with more pairs above the floor is pruned densely
_FINDING = searchable(CUES["negative"])
_ENGLISH = re.compile(r"\b(?:the|and|of|is|are|was|were|to)\b")


# ---------------------------------------------------------------- linking


def _candidates(
    x: sp.csr_matrix, xt: sp.csr_matrix, block: Block, cfg: Mapping[str, float]
) -> list[tuple[np.ndarray, np.ndarray]]:
    """For each new row of `x` (`xt` is its transpose), its best earlier rows (old rows first, then earlier
    new ones) scoring at least `candidate_floor`, at most `max_candidates`. Each piece of the product holds
    at most about `chunk_cells` entries and is pruned before the next: memory stays bounded."""
    n_old, k = block.size, x.shape[0]
    top, out = int(cfg["max_candidates"]), []
    step = max(1, int(cfg["chunk_cells"]) // max(1, n_old + k))
    for r0 in range(0, k, step):
        xr, offset, found = x[r0 : r0 + step], 0, []
        earlier = xt if r0 + step >= k else xt[:, : r0 + step]
        for matrix, is_new in [(c.matrix.T, False) for c in block.chunks] + [(earlier, True)]:
            s = (xr @ matrix).tocoo()
            keep = (s.data >= cfg["candidate_floor"]) & ((s.col < s.row + r0) if is_new else True)
            found.append((s.row[keep], s.col[keep] + (n_old if is_new else offset), s.data[keep]))
            offset += matrix.shape[1]
        rows, cols, vals = (np.concatenate(part) for part in zip(*found))
        if len(vals) > _DENSE_SHARE * xr.shape[0] * (n_old + k) and len(vals) > top * xr.shape[0]:
            rows, cols, vals = _top_dense(rows, cols, vals, (xr.shape[0], n_old + k), top)
        order = np.lexsort((cols, -vals, rows))  # best first; ties: the earlier statement first
        rows, cols, vals = rows[order], cols[order], vals[order]
        bounds = np.searchsorted(rows, np.arange(xr.shape[0] + 1))
        out += [
            (cols[a : min(b, a + top)].copy(), vals[a : min(b, a + top)].copy()) for a, b in zip(bounds, bounds[1:])
        ]
    return out


def _top_dense(
    rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, shape: tuple[int, int], top: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The entries among the `top` best of their row (ties: the lower column first), for a piece of the product
    where most pairs score above the floor (a council repeating the same words): a partition of a dense copy of
    the piece costs less than sorting its entries. The piece is at most `chunk_cells` cells."""
    dense = np.full(shape, -np.inf, dtype=vals.dtype)
    dense[rows, cols] = vals
    t = min(top, shape[1])
    kth = -np.partition(-dense, t - 1, axis=1)[:, t - 1 : t]  # each row's t-th best value
    above, tied = dense > kth, dense == kth
    take = above | (tied & (np.cumsum(tied, axis=1, dtype=np.int32) <= t - above.sum(axis=1, keepdims=True)))
    take &= dense > -np.inf
    r, c = np.nonzero(take)
    return r.astype(rows.dtype), c.astype(cols.dtype), dense[r, c].astype(vals.dtype)


def _role(item: Item, c: Cues, status: str | None, state: ConcernState) -> str:
    if item.role == "discussed" or item.doc_type not in (INSPECTION, None) or c.recap:
        return "discussed"
    if status in ("improved", "resolved"):
        return "progress"
    first = state.first_inspected
    return "repeated" if first is not None and first < day_number(item.date) else "raised"


def concern_status(mentions: Iterable[Mention]) -> str:
    """new, repeated, improved or resolved, latest inspection first: resolved or improved when the latest
    inspection finds it so; repeated when more than one inspection raised it; improved when the council
    reports progress after the only inspection; otherwise new."""
    mentions = list(mentions)
    inspected = [m for m in mentions if m.role != "discussed"]
    if not inspected:
        return "new"
    last = max(day_number(m.date) for m in inspected)
    latest = {m.status_in_text for m in inspected if day_number(m.date) == last} | {
        "improved" for m in inspected if day_number(m.date) == last and m.role == "progress"
    }
    if latest & {"resolved", "improved"}:
        return "resolved" if "resolved" in latest else "improved"
    if len({m.document_id or m.date for m in inspected}) > 1:
        return "repeated"
    later = {m.status_in_text for m in mentions if m.role == "discussed" and last < day_number(m.date) < UNDATED}
    return "improved" if later & {"improved", "resolved"} else "new"


class _Linker:
    """Links the new statements of one block in time order. Private: `link` is the entry point."""

    def __init__(self, block: Block, config: RecurConfig, decisions: Decisions) -> None:
        self.block, self.config, self.decisions, self.cfg = block, config, decisions, config.linking
        self.concerns = dict(block.concerns)
        self.episodes = dict(block.episodes)
        self.rows: list[Row | None] = [row for chunk in block.chunks for row in chunk.rows]
        self.n_old = len(self.rows)
        self.must, self.cannot = decisions.partners("must_link"), decisions.partners("cannot_link")
        self.pairs = bool(self.must or self.cannot)
        # every statement linked so far, also those the index no longer offers as candidates (`capped`)
        self.concern_of = (
            {m.statement_id: cid for cid, state in self.concerns.items() for m in state.mentions} if self.pairs else {}
        )

    def _best(self, item: Item, c: Cues, day: int, scored: list[tuple[float, Row]], banned: set[str]) -> str | None:
        """The concern whose best `support` pair probabilities (best first; statements that are no candidates
        count as 0) average highest, when that reaches the learned threshold."""
        by: dict[str, list[float]] = {}
        for s, row in scored:
            if row.concern_id not in banned and compatible(c.service, row.service):
                by.setdefault(row.concern_id, []).append(s)
        best, best_value = None, -1.0
        support, threshold = self.config.support, self.config.link_threshold
        for cid, scores in by.items():
            state = self.concerns[cid]
            if (
                day != UNDATED
                and state.last_day is not None
                and day - state.last_day > self.config.episodes["max_gap_days"]
            ):
                continue  # a clearly separate later episode is a new concern
            m = min(support, len(state.mentions))
            mean = sum(scores[:m]) / max(1, m)  # best first: `scored` is sorted
            if mean >= threshold and mean > best_value:
                best, best_value = cid, mean
        return best

    def _banned(self, item: Item) -> set[str]:
        """Concerns a reviewer's decisions keep this statement out of: those of its cannot-link partners (where
        they are, or where a decision will put them) and those it is excluded from."""
        fixed = self.decisions.fixed
        return {
            self.concern_of[p] if p in self.concern_of else fixed[p]
            for p in self.cannot.get(item.id, ())
            if p in self.concern_of or p in fixed
        } | set(self.decisions.excluded.get(item.id, ()))

    def _new_id(self, item: Item, c: Cues) -> str:
        """The new concern's id, derived from its first statement, unless a decision bans the concern of that id
        (a reviewer took the statement out of the concern it once began, which lives on with its other
        statements, or after re-ingestion still holds them)."""
        cid, banned, n = concern_id_for(item.local_authority, item.id, c.thread), self._banned(item), 0
        while cid in banned:
            n += 1
            cid = concern_id_for(item.local_authority, f"{item.id} reviewed {n}", c.thread)
        return cid

    def _choose(self, item: Item, c: Cues, day: int, scored: list[tuple[float, Row]]) -> str | None:
        if item.id in self.decisions.fixed:
            return self.decisions.fixed[item.id]
        banned = self._banned(item)
        must = [
            self.concern_of[p]
            for p in self.must.get(item.id, ())
            if p in self.concern_of and self.concern_of[p] not in banned
        ]
        if must:
            return must[0]
        return self._best(item, c, day, scored, banned)

    def _probabilities(
        self, items: list[Item], item_cues: list[Cues], candidates: list[tuple[np.ndarray, np.ndarray]]
    ) -> list[np.ndarray]:
        """The pair model's probability for every candidate pair of the batch, in one call (features do not
        depend on where earlier statements went)."""
        model, n_old = self.config.learned, self.n_old
        old = [r for r in self.rows[:n_old] if r is not None]
        empty = np.zeros((0, len(model.issues)))
        issue = np.vstack([r.issue for r in old] + [c.issue for c in item_cues]) if items or old else empty
        status = np.vstack([r.status_p for r in old] + [c.status_p for c in item_cues])
        days = np.array([r.day for r in old] + [day_number(i.date) for i in items])
        docs = [r.document_id for r in old] + [i.document_id for i in items]
        seqs = np.array([r.seq or 0 for r in old] + [i.seq or 0 for i in items])
        later = np.concatenate([np.full(len(cols), n_old + k) for k, (cols, _) in enumerate(candidates)] + [[]])
        earlier = np.concatenate([cols for cols, _ in candidates] + [[]])
        later, earlier = later.astype(int), earlier.astype(int)
        sims = np.concatenate([vals for _, vals in candidates] + [[]])
        probs = np.zeros(len(later))
        step = _PAIRS_PER_PIECE  # features are built piece by piece: memory stays bounded
        for a0 in range(0, len(later), step):
            lt, er = later[a0 : a0 + step], earlier[a0 : a0 + step]
            gap = np.where((days[lt] >= UNDATED) | (days[er] >= UNDATED), UNDATED, days[lt] - days[er])
            same_doc = np.array([docs[a] is not None and docs[a] == docs[b] for a, b in zip(lt, er)], dtype=float)
            adjacent = same_doc * (np.abs(seqs[lt] - seqs[er]) <= 1)
            none = sp.csr_matrix((len(lt), 1))
            x = pair_features(
                model.issues,
                Info(none, issue[er], status[er], np.zeros(len(lt))),
                Info(none, issue[lt], status[lt], np.zeros(len(lt))),
                sims[a0 : a0 + step],
                gap,
                same_doc,
                adjacent,
            )
            probs[a0 : a0 + step] = pair_probability(model, x)
        bounds = np.cumsum([0] + [len(cols) for cols, _ in candidates])
        return [probs[a:b] for a, b in zip(bounds, bounds[1:])]

    def run(self, items: list[Item], item_cues: list[Cues], x: sp.csr_matrix) -> tuple[list[Assignment], Block]:
        xt = x.T.tocsr()  # the one conversion: the product's right side, and later the new chunk (as xt.T)
        out: list[Assignment] = []
        candidates = _candidates(x, xt, self.block, self.cfg)
        probabilities = self._probabilities(items, item_cues, candidates)
        for item, c, (cols, _), probs in zip(items, item_cues, candidates, probabilities):
            day = day_number(item.date)
            scored = sorted(
                ((float(p), row) for j, p in zip(cols, probs) if (row := self.rows[j]) is not None),
                key=lambda p: -p[0],
            )
            cid = self._choose(item, c, day, scored)
            if cid is None and item.attach_only:
                self.rows.append(None)
                out.append(Assignment(item.id, None, None, "discussed", c.status, ()))
                continue
            if created := cid is None:
                cid = self._new_id(item, c)
            opened = created or cid not in self.concerns  # or a reviewer's decision opens it
            if opened and c.thread:
                self.episodes[c.thread] = self.episodes.get(c.thread, ()) + (cid,)
            state = self.concerns.get(cid) or ConcernState(cid, c.thread if opened else None)
            said = c.status  # what the words say (with "new" only where they say so)
            links = tuple(Link(r.id, round(min(1.0, max(0.0, s)), 3)) for s, r in scored if r.concern_id == cid)[:3]
            mention = Mention(
                item.id,
                cid,
                _role(item, c, said, state),
                links[0].score if links else None,
                item.date,
                item.document_id,
                item.doc_type,
                said,
                item.local_authority,
                c.service,
                item.text,
                state.thread,
                item.labels,
            )
            self.concerns[cid] = state.adding(mention)
            self.rows.append(index_row(item, c, cid))
            if self.pairs:
                self.concern_of[item.id] = cid
            out.append(Assignment(item.id, cid, None, mention.role, said, links, mention))
        kept = [i for i, r in enumerate(self.rows[self.n_old :]) if r is not None]
        new_rows = tuple(r for r in self.rows[self.n_old :] if r is not None)
        chunks, indexed, cap = self.block.chunks, dict(self.block.indexed), int(self.cfg["rows_per_concern"])
        if kept:
            matrix = xt.T if len(kept) == x.shape[0] else xt[:, kept].T  # CSC, rows are statements
            chunks = merged(chunks + (Chunk(sp.csc_matrix(matrix), new_rows),), int(self.cfg["max_chunks"]))
            for r in new_rows:
                indexed[r.concern_id] = indexed.get(r.concern_id, 0) + 1
            if any(indexed[r.concern_id] > cap for r in new_rows):
                chunks, indexed = capped(chunks, cap)
        status = {cid: concern_status(self.concerns[cid].mentions) for cid in {a.concern_id for a in out} if cid}
        out = [replace(a, status=status[a.concern_id]) if a.concern_id else a for a in out]
        return out, Block(self.block.key, chunks, self.concerns, self.episodes, indexed)


@contextmanager
def _without_cycle_collector() -> Iterator[None]:
    """Linking allocates many small acyclic records; with a large index in memory, Python's cycle collector
    would walk the whole index again and again, making the cost of adding k statements grow with N.
    Reference counting still frees everything; the collector is restored on the way out."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def link(
    items: Sequence[Item],
    index: Index | None,
    config: RecurConfig,
    decisions: Decisions | None = None,
    described: Described | None = None,
) -> tuple[list[Assignment], Index]:
    """Link `items` into the concerns of `index` (None: an empty index). Returns one `Assignment` per item,
    in the order given, and the new index; the old index is unchanged. Within each council, items are
    taken in time order (date, document, seq). `described`: the items as picking described them, so the models
    do not run on them twice."""
    with _without_cycle_collector():
        return _link(items, index if index is not None else Index(config.version), config, decisions, described)


def _link(
    items: Sequence[Item],
    index: Index,
    config: RecurConfig,
    decisions: Decisions | None,
    described: Described | None = None,
) -> tuple[list[Assignment], Index]:
    if not items:
        return [], index
    blocks = dict(index.blocks)
    keys = [council_key(item.local_authority) for item in items]
    order = sorted(range(len(items)), key=lambda i: (keys[i], order_key(items[i], i)))
    ordered = [items[i] for i in order]
    # one call to the models for the batch, or none when picking described the items
    item_cues, info = described.take(ordered, config) if described is not None else describe(ordered, config)
    x = info.vectors  # each block takes its rows
    results: dict[int, Assignment] = {}
    start = 0
    for key, group in groupby(order, key=keys.__getitem__):
        end = start + len(list(group))
        linker = _Linker(blocks.get(key) or Block(key), config, decisions or Decisions())
        assigned, blocks[key] = linker.run(ordered[start:end], item_cues[start:end], x[start:end])
        results.update(zip(order[start:end], assigned))
        start = end
    return [results[i] for i in range(len(items))], Index(index.version, blocks)


# ---------------------------------------------------------------- concerns


def concerns_from(mentions: Iterable[Mention]) -> list[Concern]:
    """One `Concern` per concern id among `mentions`. Give every mention of each concern: the new
    assignments' `mention`s plus those already stored."""
    grouped: dict[str, list[Mention]] = {}
    for m in mentions:
        grouped.setdefault(m.concern_id, []).append(m)
    out = []
    for cid, ms in grouped.items():
        ms.sort(key=lambda m: (day_number(m.date), m.document_id or "", m.statement_id))
        raised = [m for m in ms if m.role != "discussed"]
        services = {m.service for m in ms if m.service in ("children", "adults")}
        dates = sorted((m.date for m in raised or ms if m.date), key=day_number)
        label = concern_label(ms)
        out.append(
            Concern(
                cid,
                ms[0].local_authority,
                services.pop() if len(services) == 1 else ("both" if services else None),
                tuple(sorted({a for m in ms for a in m.areas})),
                dates[0] if dates else None,
                dates[-1] if dates else None,
                len({m.document_id or m.date for m in raised}),
                concern_status(ms),
                label,
                tuple(ms),
            )
        )
    return out


def concern_label(mentions: Sequence[Mention]) -> str:
    """A concern's name, from its clearest mention: an inspection's recommendation or finding before discussion,
    a required action or a stated shortcoming before other text, a full sentence before a fragment, the earliest
    first (English first: the cues are English). Never a heading or a thread's name."""

    def rank(m: Mention) -> tuple:
        english, action, finding, sentence = _label_text(m.text)
        return (not english, m.role == "discussed", not action, not finding, not sentence, day_number(m.date))

    words = min(mentions, key=rank).text.split()
    return " ".join(words[:14]) + (" ..." if len(words) > 14 else "")


@lru_cache(maxsize=8192)
def _label_text(text: str) -> tuple[bool, bool, bool, bool]:
    """What `concern_label` asks of a text (English, an action, a stated shortcoming, a full sentence); cached,
    as a concern's label is recomputed whenever a mention joins it."""
    t = normalise(text)
    return (
        bool(_ENGLISH.search(t)),
        bool(_ACTION.search(t)),
        bool(_FINDING.search(t)),
        6 <= len(t.split()) <= 45,
    )
