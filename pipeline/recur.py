"""Recurrence: pick out recommendations and concerns, link them into concerns, derive each concern's status.

Pure functions over frozen records; every threshold, weight and cue list comes
from `models/recurrence.toml` (read by the cached `load_config`). The standard
for what counts as one concern is ../shared/recurrence-guidelines.md.

How linking works (`link`):

- Statements are blocked by council: statements about different councils are
  never compared, let alone linked. An explicit service (children, adults)
  must agree too.
- Each statement gets cues from the text: the specific topics it names, a
  thread (overall judgement, intervention, corporate support) when it names
  one and no specific topic, its status in the text (new, persisting, improved,
  resolved) and whether it recaps an earlier finding.
- Thread statements join the council's open episode of that thread (an
  episode ends when found resolved or after a long silence).
- Other statements are compared with the earlier statements of their block
  through one chunked sparse product of stateless hashed vectors (lemma words
  and bigrams, character n-grams, topics). A pair's score is adjusted for
  neighbours in the same document, topic conflicts and recap cues. A statement
  joins the concern whose best link and whose mean of best `support` links
  both clear their thresholds; otherwise it opens a new concern. Requiring
  support from more than one member stops single-linkage snowballs.
- Statements are taken in time order, so linking a batch and adding the same
  statements one document at a time give the same result. The `Index` keeps
  each block's vectors in immutable chunks: adding k statements costs k rows
  against the block (O(k x block) in the sparse product), never N x N, and the
  old index is left untouched (copy on write).

Reviewer decisions always win: pass `Decisions` (fixed concern ids for
statements, must-link and cannot-link pairs) to `link`; rebuild the index
with `index_from` from stored mentions after a review has moved statements.
"""

from __future__ import annotations

import hashlib
import math
import re
import tomllib
from dataclasses import dataclass, field, replace
from datetime import date as Date
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Iterator, Literal, Mapping, Sequence

import numpy as np
import scipy.sparse as sp

from .config import Settings
from .gazetteer import load_gazetteer

Role = Literal["raised", "repeated", "discussed", "progress"]
INSPECTION = "inspection_report"
UNDATED = 10**7  # after every real date: undated statements come last
_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "`": "'"})
_NUMBER = re.compile(r"(?<![\w.,])(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)(\s*(?:%|per cent|y cant))?")
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")


# ---------------------------------------------------------------- configuration

@dataclass(frozen=True)
class RecurConfig:
    version: str
    vectors: Mapping[str, object]
    linking: Mapping[str, float]
    episodes: Mapping[str, float]
    threads: tuple[tuple[str, re.Pattern[str]], ...]
    topics: tuple[tuple[str, re.Pattern[str]], ...]
    status: tuple[tuple[str, re.Pattern[str]], ...]
    recap: re.Pattern[str]
    concern: re.Pattern[str]
    headings: re.Pattern[str]
    imperatives: frozenset[str]
    services: tuple[tuple[str, re.Pattern[str]], ...]
    generic: frozenset[str]

    def with_overrides(self, **sections: Mapping[str, object]) -> "RecurConfig":
        """A copy with some numbers changed, e.g. `with_overrides(linking={"link_threshold": 0.5})`."""
        return replace(self, **{k: {**getattr(self, k), **v} for k, v in sections.items()})


def _any(patterns: Iterable[str]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.I)


@lru_cache(maxsize=4)
def load_config(path: Path) -> RecurConfig:
    """Read models/recurrence.toml (cached per path; nothing is read at import)."""
    data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    pick = data["pick"]
    return RecurConfig(
        version=data["version"],
        vectors=data["vectors"],
        linking=data["linking"],
        episodes=data["episodes"],
        threads=tuple((t["name"], _any(t["patterns"])) for t in data["threads"]),
        topics=tuple((name, re.compile(p, re.I)) for name, p in data["topics"].items()),
        status=tuple((name, _any(ps)) for name, ps in data["status"].items()),
        recap=_any(pick["recap"]),
        concern=_any(pick["concern"]),
        headings=re.compile(pick["headings"], re.I),
        imperatives=frozenset(pick["imperatives"].split()),
        services=tuple((name, re.compile(p, re.I)) for name, p in data["services"].items()),
        generic=frozenset(data["vectors"]["generic"].split()),
    )


def config_for(settings: Settings) -> RecurConfig:
    return load_config(settings.models_dir / "recurrence.toml")


# ---------------------------------------------------------------- records

@dataclass(frozen=True)
class Item:
    """A statement to link. `lemmas` (space-joined content lemmas, as `Statement.lemmas`) is optional but
    better; `seq` is the position in its document; `attach_only` items join an existing concern or none."""

    id: str
    text: str
    local_authority: str
    date: str | None = None  # ISO, possibly YYYY or YYYY-MM
    document_id: str | None = None
    seq: int | None = None
    doc_type: str | None = None
    service: str | None = None
    lemmas: str = ""
    labels: tuple[str, ...] = ()
    role: str | None = None  # a hint from `is_concern`: raised, progress or discussed
    attach_only: bool = False


@dataclass(frozen=True)
class Link:
    id: str
    score: float


@dataclass(frozen=True)
class Mention:
    """One statement linked to a concern, as stored in `concern_mentions`."""

    statement_id: str
    concern_id: str
    role: str
    score: float
    date: str | None
    document_id: str | None
    doc_type: str | None
    status_in_text: str | None
    local_authority: str
    service: str | None
    text: str = ""
    thread: str | None = None


@dataclass(frozen=True)
class Assignment:
    """Where `link` put one statement. `status` is its concern's status once the batch is linked;
    `concern_id` is None only for an attach-only item that matched nothing."""

    id: str
    concern_id: str | None
    status: str | None
    role: str
    status_in_text: str | None
    score: float
    links: tuple[Link, ...]
    mention: Mention | None = None


@dataclass(frozen=True)
class Concern:
    concern_id: str
    local_authority: str
    service: str | None
    areas: tuple[str, ...]
    first_raised: str | None
    last_raised: str | None
    inspections: int
    status: str
    label: str
    mentions: tuple[Mention, ...]


@dataclass(frozen=True)
class Decisions:
    """Reviewer decisions, which always win over scores: `fixed` puts a statement in a given concern;
    `must_link` pairs share a concern; `cannot_link` pairs never do."""

    fixed: Mapping[str, str] = field(default_factory=dict)
    must_link: frozenset[tuple[str, str]] = frozenset()
    cannot_link: frozenset[tuple[str, str]] = frozenset()

    def partners(self, pairs: frozenset[tuple[str, str]], sid: str) -> set[str]:
        return {b for a, b in pairs if a == sid} | {a for a, b in pairs if b == sid}


# ---------------------------------------------------------------- cues from the text

@dataclass(frozen=True)
class Cues:
    topics: frozenset[str]
    thread: str | None
    status: str | None
    recap: bool
    service: str | None


def _norm(text: str) -> str:
    return " ".join(text.translate(_APOSTROPHES).split())


def status_in_text(text: str, config: RecurConfig) -> str | None:
    """new, persisting, improved or resolved when the statement says so; otherwise None."""
    t = _norm(text)
    return next((name for name, rx in config.status if rx.search(t)), None)


def cues(item: Item, config: RecurConfig) -> Cues:
    t = _norm(item.text)
    topics = frozenset(name for name, rx in config.topics if rx.search(t))
    thread = next((name for name, rx in config.threads if rx.search(t)), None)
    # An overall judgement about one specific issue belongs to that issue; a list of several goes to the whole.
    if len(topics) >= config.linking["summary_topics"]:
        thread = thread or "overall"
    elif thread == "overall" and topics:
        thread = None
    service = item.service
    if service is None:
        found = [name for name, rx in config.services if rx.search(t)]
        service = found[0] if len(found) == 1 else ("both" if found else None)
    return Cues(topics, thread, status_in_text(t, config), bool(config.recap.search(t)), service)


def is_concern(text: str, kind: str | None, heading: str | None, doc_type: str | None,
               config: RecurConfig) -> str | None:
    """The role hint of a statement worth linking (raised, progress or discussed), or None.

    In an inspection report: recommendations, items under a recommendations heading, stated concerns and
    judgements on progress. Elsewhere: statements that name a specific topic or a thread, as discussion.
    """
    t = _norm(text)
    if len(t.split()) < 4 and not (heading and config.headings.search(heading)):
        return None
    item_cues = cues(Item("", t, ""), config)
    if doc_type not in (INSPECTION, None):
        return "discussed" if item_cues.topics or item_cues.thread else None
    if item_cues.recap:
        return "discussed"
    if item_cues.status in ("improved", "resolved"):
        return "progress"
    first = re.sub(r"[^\w]", "", t.split()[0]).lower()
    if (kind == "recommendation" or first in config.imperatives or (heading and config.headings.search(heading))
            or config.concern.search(t) or item_cues.thread or item_cues.status in ("new", "persisting")):
        return "raised"
    return None


def pick_recommendations(statements: Iterable[object], *, local_authority: str, doc_type: str | None,
                         date: str | None, service: str | None, config: RecurConfig,
                         labels: Mapping[str, Sequence[str]] | None = None) -> list[Item]:
    """Items to link from one document's `Statement`s (see `is_concern`). Outside inspection reports, only
    thread statements may open a concern; the rest attach to an existing one or are dropped."""
    items = []
    for s in statements:
        role = is_concern(s.text, s.kind, s.heading, doc_type, config)  # type: ignore[attr-defined]
        if role is None:
            continue
        item = Item(id=s.id, text=s.text, local_authority=local_authority, date=date,  # type: ignore[attr-defined]
                    document_id=s.document_id, seq=s.seq, doc_type=doc_type, service=service,  # type: ignore
                    lemmas=s.lemmas, labels=tuple((labels or {}).get(s.id, ())), role=role)  # type: ignore
        thread = cues(item, config).thread
        items.append(replace(item, attach_only=doc_type not in (INSPECTION, None) and thread is None))
    return items


# ---------------------------------------------------------------- vectors (stateless)

def council_key(name: str) -> str:
    """Canonical council name (short and Welsh forms of a council share a key)."""
    canonical = load_gazetteer().canonical(name, "council")
    return canonical or " ".join(name.split()).casefold()


@lru_cache(maxsize=256)
def _council_words(key: str) -> frozenset[str]:
    body = next((b for b in load_gazetteer().of_kind("council") if b.name == key), None)
    forms = body.surface_forms if body else (key,)
    return frozenset(w.casefold() for f in forms for w in _WORD.findall(f))


def _tokens(item: Item) -> list[str]:
    text = item.lemmas or _norm(item.text).lower()
    drop = _council_words(council_key(item.local_authority)) if item.local_authority else frozenset()
    if item.lemmas:
        return [w for w in text.split() if w not in drop]
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return [w for w in _WORD.findall(text) if w not in ENGLISH_STOP_WORDS and w not in drop]


def _numbers(text: str) -> list[str]:
    out = []
    for m in _NUMBER.finditer(text):
        value = m.group(1).replace(",", "")
        percent = bool(m.group(2))
        if not percent and (re.fullmatch(r"(?:19|20)\d\d", value) or len(value) == 1):
            continue  # years and single digits say little about which concern
        out.append(f"#{value}{'%' if percent else ''}")
    return out


@lru_cache(maxsize=8)
def _hashers(n_features: int, ngram_min: int, ngram_max: int):
    from sklearn.feature_extraction import FeatureHasher
    from sklearn.feature_extraction.text import HashingVectorizer

    words = FeatureHasher(n_features=n_features, input_type="dict", alternate_sign=False)
    chars = HashingVectorizer(n_features=n_features, analyzer="char_wb", ngram_range=(ngram_min, ngram_max),
                              alternate_sign=False, norm=None, lowercase=False)
    return words, chars


def _normalised(m: sp.csr_matrix, weight: float) -> sp.csr_matrix:
    m = m.tocsr().astype(np.float32)
    big = m.data > 1.0
    m.data[big] = 1.0 + np.log(m.data[big])  # sublinear counts; down-weighted generic words stay as they are
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sp.csr_matrix(sp.diags(math.sqrt(weight) / norms) @ m)


def vectorise(items: Sequence[Item], item_cues: Sequence[Cues], config: RecurConfig) -> sp.csr_matrix:
    """Rows of [words | chars | topics], each part l2-normalised and scaled so that the dot product of two
    rows is the weighted sum of the three cosines. Stateless: no fitting, same row for the same item."""
    v = config.vectors
    n = int(v["n_features"])  # type: ignore[arg-type]
    lo, hi = v["char_ngrams"]  # type: ignore[misc]
    words, chars = _hashers(n, int(lo), int(hi))
    generic, low = config.generic, float(v["generic_weight"])  # type: ignore[arg-type]
    word_rows, char_docs, topic_rows = [], [], []
    for item, c in zip(items, item_cues):
        toks = _tokens(item)
        feats: dict[str, float] = {}
        for w in toks:
            feats[w] = feats.get(w, 0.0) + (low if w in generic else 1.0)
        for a, b in zip(toks, toks[1:]):
            if not (a in generic and b in generic):
                feats[f"{a} {b}"] = feats.get(f"{a} {b}", 0.0) + 1.0
        if v.get("numbers", True):
            for num in _numbers(item.text):
                feats[num] = feats.get(num, 0.0) + 1.0
        word_rows.append(feats)
        char_docs.append(" ".join(w for w in toks if w not in generic))
        topic_rows.append({f"topic:{t}": 1.0 for t in c.topics})
    parts = [
        _normalised(words.transform(word_rows), float(v["weight_words"])),  # type: ignore[arg-type]
        _normalised(chars.transform(char_docs), float(v["weight_chars"])),  # type: ignore[arg-type]
        _normalised(words.transform(topic_rows), float(v["weight_topics"])),  # type: ignore[arg-type]
    ]
    return sp.hstack(parts, format="csr", dtype=np.float32)


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
    topics: frozenset[str]
    recurrence_cue: bool


@dataclass(frozen=True)
class Chunk:
    matrix: sp.csr_matrix
    rows: tuple[Row, ...]


@dataclass(frozen=True)
class ConcernState:
    concern_id: str
    thread: str | None
    mentions: tuple[Mention, ...]
    services: frozenset[str] = frozenset()

    @property
    def last_day(self) -> int | None:
        days = [d for d in (_day(m.date) for m in self.mentions) if d != UNDATED]
        return max(days) if days else None

    @property
    def closed_day(self) -> int | None:
        days = [_day(m.date) for m in self.mentions if m.status_in_text == "resolved" and _day(m.date) != UNDATED]
        return min(days) if days else None


@dataclass(frozen=True)
class Block:
    """One council's statements: vectors in immutable chunks, and the state of its concerns."""

    key: str
    chunks: tuple[Chunk, ...] = ()
    concerns: Mapping[str, ConcernState] = field(default_factory=dict)
    episodes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # thread -> concern ids, oldest first

    @property
    def size(self) -> int:
        return sum(c.matrix.shape[0] for c in self.chunks)


@dataclass(frozen=True)
class Index:
    """Per-council blocks of linked statements. Never modified: `link` returns a new index that shares
    the unchanged blocks and chunks with the old one."""

    version: str
    blocks: Mapping[str, Block] = field(default_factory=dict)

    def __len__(self) -> int:
        return sum(b.size for b in self.blocks.values())


def _day(value: str | None) -> int:
    if not value:
        return UNDATED
    parts = [int(p) for p in re.findall(r"\d+", value)[:3]]
    try:
        return Date(parts[0], *(parts[1:] + [1, 1])[:2]).toordinal()
    except (ValueError, IndexError):
        return UNDATED


def _compatible(a: str | None, b: str | None) -> bool:
    return a in (None, "both") or b in (None, "both") or a == b


def _slug(key: str) -> str:
    words = [w for w in re.findall(r"[a-z0-9]+", key.casefold())
             if w not in ("county", "borough", "city", "council", "cyngor", "sir", "bwrdeistref", "sirol", "of")]
    return "-".join(words) or "council"


def concern_id_for(council: str, first_statement_id: str, thread: str | None = None) -> str:
    """Deterministic: the council and the id of the concern's first statement."""
    digest = hashlib.sha1(first_statement_id.encode("utf-8")).hexdigest()[:10]
    return f"{_slug(council_key(council))}-{thread + '-' if thread else ''}{digest}"


def _merged(chunks: tuple[Chunk, ...], max_chunks: int) -> tuple[Chunk, ...]:
    """Merge the newest chunks while they are comparable in size (sizes stay geometric, so merging costs
    O(log N) per row over time), and all of them past `max_chunks`."""
    chunks = list(chunks)
    while len(chunks) > 1 and (len(chunks) > max_chunks
                               or chunks[-1].matrix.shape[0] * 2 >= chunks[-2].matrix.shape[0]):
        b, a = chunks.pop(), chunks.pop()
        chunks.append(Chunk(sp.vstack([a.matrix, b.matrix], format="csr"), a.rows + b.rows))
    return tuple(chunks)


# ---------------------------------------------------------------- linking

def _candidates(x: sp.csr_matrix, block: Block, floor: float, cells: int) -> list[list[tuple[int, float]]]:
    """For each new row, the earlier rows (old ones first, then earlier new ones) scoring >= floor.
    Chunked so that no product holds more than about `cells` entries; never N x N."""
    n_old, k = block.size, x.shape[0]
    out: list[list[tuple[int, float]]] = [[] for _ in range(k)]
    per = max(1, cells // max(1, n_old + k))
    for r0 in range(0, k, per):
        r1 = min(k, r0 + per)
        xr, offset = x[r0:r1], 0
        parts = [(chunk.matrix, offset + 0) for chunk in block.chunks]
        for matrix, _ in parts:
            s = (xr @ matrix.T).tocoo()
            keep = s.data >= floor
            for r, c, v in zip(s.row[keep], s.col[keep], s.data[keep]):
                out[r0 + r].append((offset + int(c), float(v)))
            offset += matrix.shape[0]
        s = (xr @ x[:r1].T).tocoo()
        keep = (s.data >= floor) & (s.col < s.row + r0)
        for r, c, v in zip(s.row[keep], s.col[keep], s.data[keep]):
            out[r0 + r].append((n_old + int(c), float(v)))
    return out


def _pair_score(score: float, item: Item, c: Cues, day: int, row: Row, cfg: Mapping[str, float]) -> float:
    if (item.document_id and item.document_id == row.document_id and item.seq is not None and row.seq is not None
            and abs(item.seq - row.seq) <= cfg["adjacent_gap"]):
        score += cfg["same_document_adjacent"]
    elif item.document_id and item.document_id == row.document_id:
        score += cfg["same_document"]
    if c.topics and row.topics:
        score += cfg["topic_shared"] if c.topics & row.topics else -cfg["topic_conflict"]
    if (c.recap or c.status in ("persisting", "improved", "resolved")) and row.day < day and \
            row.document_id != item.document_id:
        score += cfg["recap_bonus"]
    if UNDATED not in (day, row.day):
        score -= cfg["time_decay"] * max(0.0, abs(day - row.day) / 365.25 - cfg["decay_after_years"])
    return score


def _role(item: Item, c: Cues, state: ConcernState | None) -> str:
    if item.role == "discussed" or item.doc_type not in (INSPECTION, None) or c.recap:
        return "discussed"
    if c.status in ("improved", "resolved"):
        return "progress"
    day = _day(item.date)
    earlier = state is not None and any(
        m.role in ("raised", "repeated", "progress") and m.document_id != item.document_id and _day(m.date) < day
        for m in state.mentions)
    return "repeated" if earlier else "raised"


def concern_status(mentions: Iterable[Mention]) -> str:
    """new, repeated, improved or resolved, from the latest inspection first (see the guidelines):
    resolved when the latest inspection finds it met; improved when it finds progress, or when the council
    reports progress after the only inspection; repeated when raised by more than one inspection."""
    mentions = list(mentions)
    inspected = [m for m in mentions if m.role in ("raised", "repeated", "progress")]
    documents = {m.document_id or m.date for m in inspected}
    if not inspected:
        return "new"
    last_day = max(_day(m.date) for m in inspected)
    latest = [m for m in inspected if _day(m.date) == last_day]
    if any(m.status_in_text == "resolved" for m in latest):
        return "resolved"
    if any(m.status_in_text == "improved" or m.role == "progress" for m in latest):
        return "improved"
    if len(documents) > 1:
        return "repeated"
    later = [m for m in mentions if m.role == "discussed" and last_day < _day(m.date) < UNDATED]
    return "improved" if any(m.status_in_text in ("improved", "resolved") for m in later) else "new"


class _Linker:
    """Links the new statements of one block, in time order. Private: `link` is the entry point."""

    def __init__(self, block: Block, config: RecurConfig, decisions: Decisions) -> None:
        self.block, self.config, self.decisions = block, config, decisions
        self.cfg = config.linking
        self.concerns = dict(block.concerns)
        self.episodes = {k: tuple(v) for k, v in block.episodes.items()}
        self.old_rows = [row for chunk in block.chunks for row in chunk.rows]
        self.concern_of = {row.id: row.concern_id for row in self.old_rows} if decisions.must_link or \
            decisions.cannot_link else {}

    def _episode(self, item: Item, c: Cues, day: int, banned: set[str]) -> str | None:
        ep = self.config.episodes
        for cid in reversed(self.episodes.get(c.thread or "", ())):
            state = self.concerns[cid]
            if cid in banned or not all(_compatible(c.service, s) for s in state.services):
                continue
            closed, last = state.closed_day, state.last_day
            if day == UNDATED or last is None:
                return cid
            if closed is not None:
                return cid if day - closed <= ep["grace_days"] and c.status != "new" else None
            return cid if day - last <= ep["max_gap_days"] else None
        return None

    def _best(self, item: Item, c: Cues, day: int, cands: list[tuple[int, float]], rows: list[Row | None],
              banned: set[str]) -> tuple[str | None, list[tuple[float, Row]]]:
        by: dict[str, list[tuple[float, Row]]] = {}
        for pos, score in cands:
            row = rows[pos]
            if row is None or row.concern_id in banned or not _compatible(c.service, row.service):
                continue
            by.setdefault(row.concern_id, []).append((_pair_score(score, item, c, day, row, self.cfg), row))
        best, best_value, best_links = None, -1.0, []
        support = int(self.cfg["support"])
        for cid, scored in by.items():
            scored.sort(key=lambda p: -p[0])
            m = min(support, len(self.concerns[cid].mentions))
            top = [p[0] for p in scored[:m]] + [0.0] * (m - len(scored[:m]))
            mean = sum(top) / max(1, m)
            if scored[0][0] >= self.cfg["link_threshold"] and mean >= self.cfg["support_threshold"]:
                if scored[0][0] + mean > best_value:
                    best, best_value, best_links = cid, scored[0][0] + mean, scored
        return best, best_links

    def run(self, items: list[Item]) -> tuple[list[Assignment], Block]:
        config, decisions = self.config, self.decisions
        item_cues = [cues(it, config) for it in items]
        x = vectorise(items, item_cues, config)
        cands = _candidates(x, self.block, float(self.cfg["candidate_floor"]), int(self.cfg["chunk_cells"]))
        rows: list[Row | None] = list(self.old_rows)
        out: list[Assignment] = []
        for item, c, cand in zip(items, item_cues, cands):
            day = _day(item.date)
            banned = {self.concern_of[p] for p in decisions.partners(decisions.cannot_link, item.id)
                      if p in self.concern_of}
            must = [self.concern_of[p] for p in decisions.partners(decisions.must_link, item.id)
                    if p in self.concern_of and self.concern_of[p] not in banned]
            links: list[tuple[float, Row]] = []
            thread = c.thread
            if item.id in decisions.fixed:
                cid: str | None = decisions.fixed[item.id]
            elif must:
                cid = must[0]
            elif thread:
                cid = self._episode(item, c, day, banned)
                links = [(_pair_score(s, item, c, day, rows[p], self.cfg), rows[p]) for p, s in cand  # type: ignore
                         if rows[p] is not None and rows[p].concern_id == cid]  # type: ignore[union-attr]
                links.sort(key=lambda p: -p[0])
            else:
                cid, links = self._best(item, c, day, cand, rows, banned)
            if cid is None and not item.attach_only:
                cid = concern_id_for(item.local_authority, item.id, thread)
                self.episodes[thread or ""] = self.episodes.get(thread or "", ()) + ((cid,) if thread else ())
            if cid is None:
                rows.append(None)
                out.append(Assignment(item.id, None, None, "discussed", c.status, 0.0, ()))
                continue
            state = self.concerns.get(cid) or ConcernState(cid, thread, ())
            role = _role(item, c, state if state.mentions else None)
            score = round(max(0.0, min(1.0, links[0][0])), 3) if links else 1.0
            mention = Mention(item.id, cid, role, score, item.date, item.document_id, item.doc_type, c.status,
                              item.local_authority, c.service, item.text, state.thread)
            services = state.services | ({c.service} if c.service in ("children", "adults") else set())
            self.concerns[cid] = replace(state, mentions=state.mentions + (mention,), services=frozenset(services))
            row = Row(item.id, cid, item.document_id, item.seq, day, c.service, c.topics,
                      c.recap or c.status in ("persisting", "improved", "resolved"))
            rows.append(row)
            if self.concern_of or decisions.must_link or decisions.cannot_link:
                self.concern_of[item.id] = cid
            top = tuple(Link(r.id, round(max(0.0, min(1.0, s)), 3)) for s, r in links[:3])
            out.append(Assignment(item.id, cid, None, role, c.status, score, top, mention))
        kept = [i for i, r in enumerate(rows[len(self.old_rows):]) if r is not None]
        chunks = self.block.chunks
        if kept:
            new_rows = tuple(rows[len(self.old_rows) + i] for i in kept)
            chunks = _merged(chunks + (Chunk(x[kept], new_rows),), int(self.cfg["max_chunks"]))  # type: ignore
        out = [replace(a, status=concern_status(self.concerns[a.concern_id].mentions)) if a.concern_id else a
               for a in out]
        return out, Block(self.block.key, chunks, self.concerns, self.episodes)


def _order_key(item: Item, position: int) -> tuple:
    return (_day(item.date), item.document_id or "", item.seq if item.seq is not None else position, position)


def link(items: Sequence[Item], index: Index | None, config: RecurConfig,
         decisions: Decisions | None = None) -> tuple[list[Assignment], Index]:
    """Link `items` into the concerns of `index` (or of an empty index), returning one `Assignment` per item
    (in the order given) and the new index. Items are taken in time order within each council."""
    index = index if index is not None else Index(config.version)
    decisions = decisions or Decisions()
    blocks = dict(index.blocks)
    groups: dict[str, list[int]] = {}
    for i in sorted(range(len(items)), key=lambda i: _order_key(items[i], i)):
        groups.setdefault(council_key(items[i].local_authority), []).append(i)
    results: list[Assignment | None] = [None] * len(items)
    for key, positions in groups.items():
        block = blocks.get(key) or Block(key)
        assigned, blocks[key] = _Linker(block, config, decisions).run([items[i] for i in positions])
        for i, a in zip(positions, assigned):
            results[i] = a
    return [a for a in results if a is not None], Index(index.version, blocks)


def index_from(linked: Iterable[tuple[Item, Mention]], config: RecurConfig) -> Index:
    """Rebuild the index from stored mentions (after a restart or a review) without relinking anything."""
    per_block: dict[str, list[tuple[Item, Mention]]] = {}
    for item, mention in linked:
        per_block.setdefault(council_key(item.local_authority), []).append((item, mention))
    blocks = {}
    for key, pairs in per_block.items():
        pairs.sort(key=lambda p: _order_key(p[0], 0))
        item_cues = [cues(it, config) for it, _ in pairs]
        concerns: dict[str, ConcernState] = {}
        episodes: dict[str, tuple[str, ...]] = {}
        rows = []
        for (item, m), c in zip(pairs, item_cues):
            state = concerns.get(m.concern_id) or ConcernState(m.concern_id, m.thread, ())
            if not state.mentions and m.thread:
                episodes[m.thread] = episodes.get(m.thread, ()) + (m.concern_id,)
            services = state.services | ({c.service} if c.service in ("children", "adults") else set())
            concerns[m.concern_id] = replace(state, mentions=state.mentions + (m,), services=frozenset(services))
            rows.append(Row(item.id, m.concern_id, item.document_id, item.seq, _day(item.date), c.service, c.topics,
                            c.recap or c.status in ("persisting", "improved", "resolved")))
        chunk = Chunk(vectorise([it for it, _ in pairs], item_cues, config), tuple(rows))
        blocks[key] = Block(key, (chunk,), concerns, episodes)
    return Index(config.version, blocks)


# ---------------------------------------------------------------- concerns

def _label(mentions: Sequence[Mention], thread: str | None) -> str:
    if thread:
        return {"overall": "Overall judgement", "intervention": "Intervention and monitoring",
                "corporate": "Corporate support"}.get(thread, thread.capitalize())
    first = next((m for m in mentions if m.role in ("raised", "repeated")), mentions[0])
    words = first.text.split()
    return " ".join(words[:14]) + (" ..." if len(words) > 14 else "")


def concerns_from(mentions: Iterable[Mention], labels: Mapping[str, Sequence[str]] | None = None) -> list[Concern]:
    """One `Concern` per concern id among `mentions` (give every mention of each concern: the new
    assignments' `mention`s plus those already stored). `labels` maps statement ids to area codes."""
    grouped: dict[str, list[Mention]] = {}
    for m in mentions:
        grouped.setdefault(m.concern_id, []).append(m)
    out = []
    for cid, ms in grouped.items():
        ms.sort(key=lambda m: (_day(m.date), m.document_id or "", m.statement_id))
        raised = [m for m in ms if m.role in ("raised", "repeated", "progress")]
        areas = sorted({a for m in ms for a in (labels or {}).get(m.statement_id, ())})
        services = {m.service for m in ms if m.service in ("children", "adults")}
        thread = next((m.thread for m in ms if m.thread), None)
        dates = [m.date for m in (raised or ms) if m.date]
        out.append(Concern(
            concern_id=cid, local_authority=ms[0].local_authority,
            service=services.pop() if len(services) == 1 else ("both" if services else None),
            areas=tuple(areas), first_raised=min(dates, key=_day) if dates else None,
            last_raised=max(dates, key=_day) if dates else None,
            inspections=len({m.document_id or m.date for m in raised}), status=concern_status(ms),
            label=_label(ms, thread), mentions=tuple(ms)))
    return out
