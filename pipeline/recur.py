"""Recurrence: pick out recommendations and concerns, link them into concerns, and derive each concern's status.

Pure functions over frozen records. Every threshold, weight and cue list lives in
`models/recurrence.toml`, read by the cached `load_config`; the standard for what
one concern is, is ../shared/recurrence-guidelines.md.

`link` in brief:

- Statements are blocked by council (different councils are never compared) and
  an explicit service (children, adults) must agree.
- Cues from the text: the topics a statement names (its main topic is the first
  specific one), its thread (overall judgement, intervention, corporate support)
  when it names one and no specific topic, its status in the text and whether it
  recaps an earlier finding.
- A thread statement joins the council's open episode of that thread; an episode
  closes when found resolved, or after a long silence.
- Any other statement is scored against the earlier statements of its block,
  taken from one chunked sparse product of stateless hashed vectors (lemma words
  and bigrams, character n-grams, topics), adjusted for document neighbours, main
  topics, areas, recurrence cues and time apart. It joins the concern whose best
  link and whose mean of best `support` links both clear their thresholds (so one
  chance resemblance cannot snowball), else it opens a new concern.
- Statements are taken in time order, so a batch and the same statements added
  document by document give the same concerns. The `Index` keeps each block's
  vectors in immutable chunks: adding k statements costs k rows against their
  block, never an N x N matrix, and the old index stays valid (copy on write).

Reviewer decisions always win: `Decisions` fixes statements to concerns and holds
must-link and cannot-link pairs; after a review, rebuild with `index_from`.
"""

from __future__ import annotations

import gc
import hashlib
import re
import tomllib
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date as Date
from functools import lru_cache
from itertools import groupby
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

import numpy as np
import scipy.sparse as sp

from .config import Settings
from .gazetteer import load_gazetteer

INSPECTION = "inspection_report"
UNDATED = 10**7  # an ordinal after every real date: undated statements come last
_NUMBER = re.compile(r"(?<![\w.,])(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)(\s*(?:%|per cent|y cant))?")
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")
_RECURRING = ("persisting", "improved", "resolved")
THREAD_LABELS = {"overall": "Overall judgement", "intervention": "Intervention and monitoring",
                 "corporate": "Corporate support"}


# ---------------------------------------------------------------- configuration

@dataclass(frozen=True)
class RecurConfig:
    version: str
    vectors: Mapping[str, Any]
    linking: Mapping[str, float]
    episodes: Mapping[str, float]
    threads: tuple[tuple[str, re.Pattern[str]], ...]
    topics: tuple[tuple[str, re.Pattern[str]], ...]
    general_topics: frozenset[str]
    status: tuple[tuple[str, re.Pattern[str]], ...]
    patterns: Mapping[str, re.Pattern[str]]  # recap, concern, process, process_headings, headings, ...
    imperatives: frozenset[str]
    generic: frozenset[str]

    def with_overrides(self, **sections: Mapping[str, Any]) -> "RecurConfig":
        """A copy with some numbers changed: `config.with_overrides(linking={"link_threshold": 0.5})`."""
        return replace(self, **{k: {**getattr(self, k), **v} for k, v in sections.items()})


def _any(patterns: str | Iterable[str]) -> re.Pattern[str]:
    patterns = [patterns] if isinstance(patterns, str) else list(patterns)
    return re.compile("|".join(f"(?:{p})" for p in patterns))  # lower case, matched against lower-cased text


@lru_cache(maxsize=4)
def load_config(path: Path) -> RecurConfig:
    """Read models/recurrence.toml (cached per path; nothing is read at import)."""
    data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    cue_patterns = {k: v for k, v in data["cues"].items() if k not in ("general_topics", "imperatives")}
    return RecurConfig(
        version=data["version"], vectors=data["vectors"], linking=data["linking"], episodes=data["episodes"],
        threads=tuple((t["name"], _any(t["patterns"])) for t in data["threads"]),
        topics=tuple((name, _any(p)) for name, p in data["topics"].items()),
        general_topics=frozenset(data["cues"]["general_topics"].split()),
        status=tuple((name, _any(p)) for name, p in data["status"].items()),
        patterns={k: _any(v) for k, v in cue_patterns.items()},
        imperatives=frozenset(data["cues"]["imperatives"].split()),
        generic=frozenset(data["vectors"]["generic"].split()),
    )


def config_for(settings: Settings) -> RecurConfig:
    return load_config(settings.models_dir / "recurrence.toml")


# ---------------------------------------------------------------- records

@dataclass(frozen=True)
class Item:
    """A statement to link. `lemmas` (as `Statement.lemmas`) is optional but better; `seq` is its position in
    its document; `labels` are its area codes; `role` is a hint from `is_concern`; an `attach_only` item joins
    an existing concern or none."""

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
    role: str | None = None
    attach_only: bool = False


@dataclass(frozen=True)
class Link:
    id: str
    score: float


@dataclass(frozen=True)
class Mention:
    """One statement linked to a concern: a row of `concern_mentions`. `score` is its best link to the
    concern's earlier mentions (None for the first)."""

    statement_id: str
    concern_id: str
    role: str  # raised, repeated, discussed or progress
    score: float | None
    date: str | None
    document_id: str | None
    doc_type: str | None
    status_in_text: str | None
    local_authority: str
    service: str | None
    text: str = ""
    thread: str | None = None  # overall, intervention, corporate: the concern's thread
    areas: tuple[str, ...] = ()


@dataclass(frozen=True)
class Assignment:
    """Where `link` put one statement. `status` is its concern's status once the batch is linked;
    `concern_id` is None only for an attach-only item that matched nothing."""

    id: str
    concern_id: str | None
    status: str | None
    role: str
    status_in_text: str | None
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
    status: str  # new, repeated, improved or resolved
    label: str
    mentions: tuple[Mention, ...]


@dataclass(frozen=True)
class Decisions:
    """Reviewer decisions, which win over any score: `fixed` puts a statement in a concern (an existing id or
    a new one); `must_link` pairs share a concern; `cannot_link` pairs never do."""

    fixed: Mapping[str, str] = field(default_factory=dict)
    must_link: frozenset[tuple[str, str]] = frozenset()
    cannot_link: frozenset[tuple[str, str]] = frozenset()

    def partners(self, kind: str) -> dict[str, list[str]]:
        """Statement id -> the ids it must (kind "must_link") or cannot ("cannot_link") share a concern with."""
        out: dict[str, list[str]] = {}
        for a, b in getattr(self, kind):
            out.setdefault(a, []).append(b)
            out.setdefault(b, []).append(a)
        return out


@dataclass(frozen=True)
class Pick:
    """Why a statement is worth linking: `role` is a hint for `link` (None: decided from the concern's
    history); `raises` is False when it may only join an existing concern."""

    role: str | None
    raises: bool


# ---------------------------------------------------------------- cues from the text

@dataclass(frozen=True)
class Cues:
    topics: frozenset[str]
    primary: str | None  # the main topic
    thread: str | None
    status: str | None
    recap: bool
    service: str | None


def _norm(text: str) -> str:
    """Lower case, one kind of apostrophe, single spaces: what cue patterns are matched against."""
    return " ".join(text.replace("’", "'").replace("‘", "'").lower().split())


def status_in_text(text: str, config: RecurConfig) -> str | None:
    """new, persisting, improved or resolved when the statement says so, else None. A mixed verdict (some
    recommendations met, others not) is improvement."""
    t = _norm(text)
    said = [name for name, rx in config.status if rx.search(t)]
    if "resolved" in said and "persisting" in said and "new" not in said:
        return "improved"
    return said[0] if said else None


def cues(item: Item, config: RecurConfig) -> Cues:
    t, p = _norm(item.text), config.patterns
    body = p["speaker"].sub("", t, count=1)  # "The Director said that ..." is not about leadership
    body = body if len(body.split()) >= 4 else t
    found = sorted((name in config.general_topics, m.start(), name)
                   for name, rx in config.topics if (m := rx.search(body)))
    topics = frozenset(name for _, _, name in found)
    thread = next((name for name, rx in config.threads if rx.search(t)), None)
    # A judgement on one specific issue belongs to that issue; a list of several belongs to the whole.
    listing = len(topics) >= 2 and bool(p["enumeration"].search(t)) and \
        len(re.findall(r"[,;:](?!\d)", t)) >= config.linking["summary_separators"]
    if len(topics) >= config.linking["summary_topics"] or listing:
        thread = thread or "overall"
    elif thread == "overall" and topics:
        thread = None
    service = item.service
    if service is None:
        named = [name for name in ("children", "adults") if p[f"service_{name}"].search(t)]
        service = named[0] if len(named) == 1 else ("both" if named else None)
    return Cues(topics, found[0][2] if found else None, thread, status_in_text(t, config),
                bool(p["recap"].search(t)), service)


def is_concern(text: str, kind: str | None, heading: str | None, doc_type: str | None,
               config: RecurConfig) -> Pick | None:
    """Is this statement a recommendation, a concern or a judgement on progress (or, outside inspection
    reports, a discussion of one)? None for statements to leave out.

    In an inspection report, recommendations, items under a recommendations heading, stated concerns and
    thread statements raise concerns; recaps ("at our last inspection we found") are discussion; other
    findings may only join an existing concern. Report furniture (introductions, methods, the list of what
    follows) is left out. Elsewhere, statements that name a topic or a thread are discussion, and only
    thread statements (a warning notice, an overall verdict) may open a concern.
    """
    t, p = _norm(text), config.patterns
    heading = _norm(heading or "")
    listed = bool(p["headings"].search(heading))
    if (len(t.split()) < 4 and not listed) or p["process"].search(t) or p["process_headings"].search(heading):
        return None
    c = cues(Item("", t, ""), config)
    if doc_type not in (INSPECTION, None):
        return Pick("discussed", c.thread is not None) if c.topics or c.thread else None
    if c.recap:
        return Pick("discussed", True)
    if c.thread:
        return Pick("progress" if c.status in ("improved", "resolved") else "raised", True)
    if c.status in ("improved", "resolved"):
        return Pick("progress", False)
    first = re.sub(r"[^\w]", "", t.split()[0]).lower()
    if kind == "recommendation" or first in config.imperatives or listed or p["concern"].search(t) \
            or c.status in ("new", "persisting"):
        return Pick("raised", True)
    return Pick(None, False) if kind == "finding" and len(t.split()) >= 6 else None


def pick_recommendations(statements: Iterable[Any], *, local_authority: str, doc_type: str | None,
                         date: str | None, service: str | None, config: RecurConfig,
                         labels: Mapping[str, Sequence[str]] | None = None) -> list[Item]:
    """The `Item`s to link from one document's `Statement`s, chosen by `is_concern`."""
    items = []
    for s in statements:
        pick = is_concern(s.text, s.kind, s.heading, doc_type, config)
        if pick is not None:
            items.append(Item(s.id, s.text, local_authority, date, s.document_id, s.seq, doc_type, service,
                              s.lemmas, tuple((labels or {}).get(s.id, ())), pick.role, not pick.raises))
    return items


# ---------------------------------------------------------------- vectors (stateless)

@lru_cache(maxsize=4096)
def council_key(name: str) -> str:
    """Canonical council name: short, long and Welsh forms of a council share one key."""
    return load_gazetteer().canonical(name, "council") or " ".join(name.split()).casefold()


@lru_cache(maxsize=256)
def _council_words(key: str) -> frozenset[str]:
    body = next((b for b in load_gazetteer().of_kind("council") if b.name == key), None)
    return frozenset(w.casefold() for f in (body.surface_forms if body else (key,)) for w in _WORD.findall(f))


def _tokens(item: Item) -> list[str]:
    drop = _council_words(council_key(item.local_authority)) if item.local_authority else frozenset()
    if item.lemmas:
        return [w for w in item.lemmas.split() if w not in drop]
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return [w for w in _WORD.findall(_norm(item.text)) if w not in ENGLISH_STOP_WORDS and w not in drop]


def _numbers(text: str) -> list[str]:
    out = []
    for m in _NUMBER.finditer(text):
        value, percent = m.group(1).replace(",", ""), bool(m.group(2))
        if percent or not (re.fullmatch(r"(?:19|20)\d\d", value) or len(value) == 1):  # years say little
            out.append(f"#{value}{'%' if percent else ''}")
    return out


@lru_cache(maxsize=8)
def _hashers(n_features: int, ngrams: tuple[int, int]):
    from sklearn.feature_extraction import FeatureHasher
    from sklearn.feature_extraction.text import HashingVectorizer

    return (FeatureHasher(n_features=n_features, input_type="dict", alternate_sign=False),
            HashingVectorizer(n_features=n_features, analyzer="char_wb", ngram_range=ngrams,
                              alternate_sign=False, norm=None, lowercase=False))


def _scaled(m: sp.spmatrix, weight: float) -> sp.csr_matrix:
    """Sublinear counts, rows l2-normalised, times sqrt(weight)."""
    m = sp.csr_matrix(m, dtype=np.float32)
    big = m.data > 1.0
    m.data[big] = 1.0 + np.log(m.data[big])
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    m.data *= np.repeat(np.sqrt(weight) / np.where(norms > 0, norms, 1.0), np.diff(m.indptr)).astype(np.float32)
    return m


def vectorise(items: Sequence[Item], item_cues: Sequence[Cues], config: RecurConfig) -> sp.csr_matrix:
    """Rows of [words | characters | topics], scaled so that the dot product of two rows is the weighted sum
    of the three cosines. Stateless: nothing is fitted, and an item always gets the same row."""
    v, generic = config.vectors, config.generic
    words, chars = _hashers(int(v["n_features"]), tuple(v["char_ngrams"]))
    low = float(v["generic_weight"])  # words every statement of the domain shares still count, a little
    word_rows, char_docs, topic_rows = [], [], []
    for item, c in zip(items, item_cues):
        toks = _tokens(item)
        feats: dict[str, float] = {}
        for w in toks:
            feats[w] = feats.get(w, 0.0) + (low if w in generic else 1.0)
        for a, b in zip(toks, toks[1:]):
            if not (a in generic and b in generic):
                feats[f"{a} {b}"] = feats.get(f"{a} {b}", 0.0) + 1.0
        for num in _numbers(item.text) if v["numbers"] else ():
            feats[num] = feats.get(num, 0.0) + 1.0
        word_rows.append(feats)
        char_docs.append(" ".join(w for w in toks if w not in generic))
        topic_rows.append({t: 1.0 if t == c.primary else float(v["secondary_topic"]) for t in c.topics})
    return sp.hstack([_scaled(words.transform(word_rows), v["weight_words"]),
                      _scaled(chars.transform(char_docs), v["weight_chars"]),
                      _scaled(words.transform(topic_rows), v["weight_topics"])], format="csr", dtype=np.float32)


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
    primary: str | None
    labels: frozenset[str]


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

    def adding(self, m: Mention) -> "ConcernState":
        day = _day(m.date)
        dated = day != UNDATED
        inspected = m.role != "discussed" and dated
        return replace(self, mentions=self.mentions + (m,),
                       first_inspected=min(self.first_inspected or day, day) if inspected else self.first_inspected,
                       services=self.services | ({m.service} if m.service in ("children", "adults") else set()),
                       last_day=max(self.last_day or day, day) if dated else self.last_day,
                       closed_day=min(self.closed_day or day, day) if dated and m.status_in_text == "resolved"
                       else self.closed_day)


@dataclass(frozen=True)
class Block:
    """One council: its statements' vectors in immutable chunks, and the state of its concerns."""

    key: str
    chunks: tuple[Chunk, ...] = ()
    concerns: Mapping[str, ConcernState] = field(default_factory=dict)
    episodes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # thread -> concern ids, oldest first

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
def _day(value: str | None) -> int:
    parts = [int(p) for p in re.findall(r"\d+", value or "")[:3]]
    try:
        return Date(parts[0], *(parts[1:] + [1, 1])[:2]).toordinal()
    except (ValueError, IndexError):
        return UNDATED


def _compatible(a: str | None, b: str | None) -> bool:
    return a in (None, "both") or b in (None, "both") or a == b


def concern_id_for(council: str, first_statement_id: str, thread: str | None = None) -> str:
    """Deterministic: the council's slug, the thread if any, and a digest of the first statement's id."""
    words = [w for w in re.findall(r"[a-z0-9]+", council_key(council).casefold())
             if w not in ("county", "borough", "city", "council", "cyngor", "sir", "bwrdeistref", "sirol", "of")]
    digest = hashlib.sha1(first_statement_id.encode("utf-8")).hexdigest()[:10]
    return f"{'-'.join(words) or 'council'}-{thread + '-' if thread else ''}{digest}"


def _row(item: Item, c: Cues, concern_id: str, thread: str | None) -> Row:
    # Members of a thread concern lend it no topics: a specific issue must not join an overall verdict
    # because the verdict happens to name it.
    return Row(item.id, concern_id, item.document_id, item.seq, _day(item.date), c.service,
               frozenset() if thread else c.topics, None if thread else c.primary, frozenset(item.labels))


def _merged(chunks: tuple[Chunk, ...], max_chunks: int) -> tuple[Chunk, ...]:
    """Merge the newest chunks while they are comparable in size (sizes stay geometric, so each row is
    merged O(log N) times), and any past `max_chunks`."""
    out = list(chunks)
    while len(out) > 1 and (len(out) > max_chunks or out[-1].matrix.shape[0] * 2 >= out[-2].matrix.shape[0]):
        b, a = out.pop(), out.pop()
        out.append(Chunk(sp.vstack([a.matrix, b.matrix], format="csc"), a.rows + b.rows))
    return tuple(out)


def _order_key(item: Item, position: int) -> tuple:
    return (_day(item.date), item.document_id or "", item.seq if item.seq is not None else position, position)


def index_from(linked: Iterable[tuple[Item, Mention]], config: RecurConfig) -> Index:
    """Rebuild the index from stored mentions (after a restart or a review), relinking nothing."""
    per_block: dict[str, list[tuple[Item, Mention]]] = {}
    for item, mention in linked:
        per_block.setdefault(council_key(item.local_authority), []).append((item, mention))
    blocks = {}
    for key, pairs in per_block.items():
        pairs.sort(key=lambda p: _order_key(p[0], 0))
        item_cues = [cues(item, config) for item, _ in pairs]
        concerns: dict[str, ConcernState] = {}
        episodes: dict[str, tuple[str, ...]] = {}
        for _, m in pairs:
            state = concerns.get(m.concern_id) or ConcernState(m.concern_id, m.thread)
            if not state.mentions and m.thread:
                episodes[m.thread] = episodes.get(m.thread, ()) + (m.concern_id,)
            concerns[m.concern_id] = state.adding(m)
        rows = tuple(_row(item, c, m.concern_id, m.thread) for (item, m), c in zip(pairs, item_cues))
        chunk = Chunk(vectorise([item for item, _ in pairs], item_cues, config).tocsc(), rows)
        blocks[key] = Block(key, (chunk,), concerns, episodes)
    return Index(config.version, blocks)


# ---------------------------------------------------------------- linking

def _candidates(x: sp.csr_matrix, xt: sp.csr_matrix, block: Block,
                cfg: Mapping[str, float]) -> list[tuple[np.ndarray, np.ndarray]]:
    """For each new row of `x` (`xt` is its transpose), its best earlier rows (old rows first, then earlier
    new ones) scoring at least `candidate_floor`, at most `max_candidates`. Each piece of the product holds
    at most about `chunk_cells` entries and is pruned before the next: memory stays bounded."""
    n_old, k = block.size, x.shape[0]
    top, out = int(cfg["max_candidates"]), []
    step = max(1, int(cfg["chunk_cells"]) // max(1, n_old + k))
    for r0 in range(0, k, step):
        xr, offset, found = x[r0:r0 + step], 0, []
        earlier = xt if r0 + step >= k else xt[:, :r0 + step]
        for matrix, is_new in [(c.matrix.T, False) for c in block.chunks] + [(earlier, True)]:
            s = (xr @ matrix).tocoo()
            keep = (s.data >= cfg["candidate_floor"]) & ((s.col < s.row + r0) if is_new else True)
            found.append((s.row[keep], s.col[keep] + (n_old if is_new else offset), s.data[keep]))
            offset += matrix.shape[1]
        rows, cols, vals = (np.concatenate(part) for part in zip(*found))
        order = np.lexsort((-vals, rows))
        rows, cols, vals = rows[order], cols[order], vals[order]
        bounds = np.searchsorted(rows, np.arange(xr.shape[0] + 1))
        out += [(cols[a:min(b, a + top)].copy(), vals[a:min(b, a + top)].copy()) for a, b in zip(bounds, bounds[1:])]
    return out


def _pair_score(score: float, item: Item, c: Cues, day: int, row: Row, cfg: Mapping[str, float]) -> float:
    """The text score of a pair, adjusted for document neighbours, topics, areas, recurrence and time."""
    if item.document_id and item.document_id == row.document_id:
        near = item.seq is not None and row.seq is not None and abs(item.seq - row.seq) <= cfg["adjacent_gap"]
        score += cfg["same_document_adjacent"] if near else cfg["same_document"]
    if c.primary and row.primary:
        if c.primary == row.primary:
            score += cfg["topic_shared"] + (cfg["single_topic"] if len(c.topics) == len(row.topics) == 1 else 0)
        else:
            score -= cfg["primary_conflict"] if c.topics & row.topics else cfg["topic_conflict"]
    if item.labels and row.labels:
        score += cfg["area_shared"] if row.labels & set(item.labels) else -cfg["area_conflict"]
    if (c.recap or c.status in _RECURRING) and row.day < day and row.document_id != item.document_id:
        score += cfg["recap_bonus"]
    if UNDATED not in (day, row.day):
        score -= cfg["time_decay"] * max(0.0, abs(day - row.day) / 365.25 - cfg["decay_after_years"])
    return score


def _role(item: Item, c: Cues, state: ConcernState) -> str:
    if item.role == "discussed" or item.doc_type not in (INSPECTION, None) or c.recap:
        return "discussed"
    if c.status in ("improved", "resolved"):
        return "progress"
    first = state.first_inspected
    return "repeated" if first is not None and first < _day(item.date) else "raised"


def concern_status(mentions: Iterable[Mention]) -> str:
    """new, repeated, improved or resolved, latest inspection first: resolved or improved when the latest
    inspection finds it so; repeated when more than one inspection raised it; improved when the council
    reports progress after the only inspection; otherwise new."""
    mentions = list(mentions)
    inspected = [m for m in mentions if m.role != "discussed"]
    if not inspected:
        return "new"
    last = max(_day(m.date) for m in inspected)
    latest = {m.status_in_text for m in inspected if _day(m.date) == last} | \
        {"improved" for m in inspected if _day(m.date) == last and m.role == "progress"}
    if latest & {"resolved", "improved"}:
        return "resolved" if "resolved" in latest else "improved"
    if len({m.document_id or m.date for m in inspected}) > 1:
        return "repeated"
    later = {m.status_in_text for m in mentions if m.role == "discussed" and last < _day(m.date) < UNDATED}
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
        self.concern_of = {r.id: r.concern_id for r in self.rows if r} if self.pairs else {}

    def _episode(self, c: Cues, day: int, banned: set[str]) -> str | None:
        ep = self.config.episodes
        for cid in reversed(self.episodes.get(c.thread or "", ())):
            state = self.concerns[cid]
            if cid in banned or not all(_compatible(c.service, s) for s in state.services):
                continue
            if day == UNDATED or state.last_day is None:
                return cid
            if state.closed_day is not None:  # news of the resolution still belongs; a new alarm does not
                return cid if day - state.closed_day <= ep["grace_days"] and c.status != "new" else None
            return cid if day - state.last_day <= ep["max_gap_days"] else None
        return None

    def _best(self, item: Item, c: Cues, day: int, scored: list[tuple[float, Row]],
              banned: set[str]) -> str | None:
        by: dict[str, list[float]] = {}
        for s, row in scored:
            if row.concern_id not in banned and _compatible(c.service, row.service):
                by.setdefault(row.concern_id, []).append(s)
        best, best_value = None, -1.0
        for cid, scores in by.items():
            state = self.concerns[cid]
            if day != UNDATED and state.last_day is not None and day - state.last_day > \
                    self.config.episodes["max_gap_days"]:
                continue  # a clearly separate later episode is a new concern
            m = min(int(self.cfg["support"]), len(state.mentions))
            mean = sum(scores[:m]) / max(1, m)  # best first: `scored` is sorted
            if scores[0] >= self.cfg["link_threshold"] and mean >= self.cfg["support_threshold"] and \
                    scores[0] + mean > best_value:
                best, best_value = cid, scores[0] + mean
        return best

    def _choose(self, item: Item, c: Cues, day: int, scored: list[tuple[float, Row]]) -> str | None:
        if item.id in self.decisions.fixed:
            return self.decisions.fixed[item.id]
        banned = {self.concern_of[p] for p in self.cannot.get(item.id, ()) if p in self.concern_of}
        must = [self.concern_of[p] for p in self.must.get(item.id, ())
                if p in self.concern_of and self.concern_of[p] not in banned]
        if must:
            return must[0]
        return self._episode(c, day, banned) if c.thread else self._best(item, c, day, scored, banned)

    def run(self, items: list[Item], item_cues: list[Cues], x: sp.csr_matrix) -> tuple[list[Assignment], Block]:
        xt = x.T.tocsr()  # the one conversion: the product's right side, and later the new chunk (as xt.T)
        out: list[Assignment] = []
        for item, c, (cols, vals) in zip(items, item_cues, _candidates(x, xt, self.block, self.cfg)):
            day = _day(item.date)
            scored = sorted(((_pair_score(float(v), item, c, day, row, self.cfg), row)
                             for j, v in zip(cols, vals) if (row := self.rows[j]) is not None),
                            key=lambda p: -p[0])
            cid = self._choose(item, c, day, scored)
            if cid is None and item.attach_only:
                self.rows.append(None)
                out.append(Assignment(item.id, None, None, "discussed", c.status, ()))
                continue
            if created := cid is None:
                cid = concern_id_for(item.local_authority, item.id, c.thread)
                if c.thread:
                    self.episodes[c.thread] = self.episodes.get(c.thread, ()) + (cid,)
            state = self.concerns.get(cid) or ConcernState(cid, c.thread if created else None)
            links = tuple(Link(r.id, round(min(1.0, max(0.0, s)), 3)) for s, r in scored if r.concern_id == cid)[:3]
            mention = Mention(item.id, cid, _role(item, c, state), links[0].score if links else None, item.date,
                              item.document_id, item.doc_type, c.status, item.local_authority, c.service, item.text,
                              state.thread, item.labels)
            self.concerns[cid] = state.adding(mention)
            self.rows.append(_row(item, c, cid, state.thread))
            if self.pairs:
                self.concern_of[item.id] = cid
            out.append(Assignment(item.id, cid, None, mention.role, c.status, links, mention))
        kept = [i for i, r in enumerate(self.rows[self.n_old:]) if r is not None]
        chunks = self.block.chunks
        if kept:
            matrix = xt.T if len(kept) == x.shape[0] else xt[:, kept].T  # CSC, rows are statements
            new = Chunk(sp.csc_matrix(matrix), tuple(self.rows[self.n_old + i] for i in kept))  # type: ignore[misc]
            chunks = _merged(chunks + (new,), int(self.cfg["max_chunks"]))
        status = {cid: concern_status(self.concerns[cid].mentions) for cid in {a.concern_id for a in out} if cid}
        out = [replace(a, status=status[a.concern_id]) if a.concern_id else a for a in out]
        return out, Block(self.block.key, chunks, self.concerns, self.episodes)


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


def link(items: Sequence[Item], index: Index | None, config: RecurConfig,
         decisions: Decisions | None = None) -> tuple[list[Assignment], Index]:
    """Link `items` into the concerns of `index` (None: an empty index). Returns one `Assignment` per item,
    in the order given, and the new index; the old index is unchanged. Within each council, items are
    taken in time order (date, document, seq)."""
    with _without_cycle_collector():
        return _link(items, index if index is not None else Index(config.version), config, decisions)


def _link(items: Sequence[Item], index: Index, config: RecurConfig,
          decisions: Decisions | None) -> tuple[list[Assignment], Index]:
    if not items:
        return [], index
    blocks = dict(index.blocks)
    keys = [council_key(item.local_authority) for item in items]
    order = sorted(range(len(items)), key=lambda i: (keys[i], _order_key(items[i], i)))
    ordered = [items[i] for i in order]
    item_cues = [cues(item, config) for item in ordered]
    x = vectorise(ordered, item_cues, config)  # one call for the batch; each block takes its rows
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
        ms.sort(key=lambda m: (_day(m.date), m.document_id or "", m.statement_id))
        raised = [m for m in ms if m.role != "discussed"]
        services = {m.service for m in ms if m.service in ("children", "adults")}
        dates = sorted((m.date for m in raised or ms if m.date), key=_day)
        thread = next((m.thread for m in ms if m.thread), None)
        words = next((m for m in ms if m.role in ("raised", "repeated")), ms[0]).text.split()
        label = THREAD_LABELS.get(thread or "") or " ".join(words[:14]) + (" ..." if len(words) > 14 else "")
        out.append(Concern(
            cid, ms[0].local_authority, services.pop() if len(services) == 1 else ("both" if services else None),
            tuple(sorted({a for m in ms for a in m.areas})), dates[0] if dates else None,
            dates[-1] if dates else None, len({m.document_id or m.date for m in raised}), concern_status(ms),
            label, tuple(ms)))
    return out
