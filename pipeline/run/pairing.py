"""English and Welsh versions of one document, paired.

Welsh public bodies publish most documents in both languages. Two stored
documents are taken for translations of each other when they are in the two
languages, about the same council, dated close together, and alike in the
things translation keeps: numbers, dates (written with Welsh or English month
names, compared as ISO dates), people's names, and length. A manifest can say
so outright (`translation_of`: the other version's path or address), and the two
language parts of one bilingual file are a pair by construction.

Pure functions; `pipeline.store` reads the candidates and writes the pairs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Set
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any

from pipeline.lexicon.dates import all_dates

THRESHOLD = 0.6
MAX_DAYS = 60  # versions published further apart than this are not the same document
WEIGHTS = {"council": 0.15, "date": 0.15, "numbers": 0.25, "dates": 0.15, "names": 0.2, "length": 0.1}
_NUMBER = re.compile(r"(?<![\w.,])(?:£|\$)?\d[\d,.]*\d%?|(?<![\w.,])\d{2,}%?")
_NAME = re.compile(r"\b[A-Z][a-z’'-]{2,}(?:\s+[A-Z][a-z’'-]{2,})+\b")
# Capitalised words that start sentences or name institutions, in either language: not names of people.
_NOT_NAMES = frozenset(
    "The This That These Our We In On At For And Mae Yr Ym Yn Ar Y Bydd Roedd Cyngor Council County "
    "Welsh Government Llywodraeth Cymru Wales Care Inspectorate Arolygiaeth Gofal Social Services "
    "Gwasanaethau Cymdeithasol Children Plant Adult Adults Oedolion Minister Gweinidog".split()
)


@dataclass(frozen=True)
class Pair:
    english_id: str
    welsh_id: str
    score: float
    method: str  # "bilingual file", "manifest" or "matched"
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Candidate:
    """What pairing needs of a stored document."""

    id: str
    language: str
    text: str
    local_authority: str | None = None
    published: str | None = None
    pages: int | None = None
    part_of: str | None = None
    aliases: tuple[str, ...] = ()  # its path and address, for manifest `translation_of` references
    translation_of: str | None = None  # from its manifest row
    # the text's length and its figures, dates and names, when given instead of `text` (candidates read from the
    # database carry `length` and leave `text` empty: `find_pairs`'s `features_of` reads the figures, dates and
    # names where a pair needs them)
    length: int | None = None
    features: tuple[frozenset[str], frozenset[str], frozenset[str]] | None = None


def _numbers(text: str) -> set[str]:
    """Figures as written without separators: "£49,929" and "£49,929." are one figure; translation keeps them."""
    return {m.group().rstrip(".,").replace(",", "") for m in _NUMBER.finditer(text)}


def _names(text: str) -> set[str]:
    names = set()
    for m in _NAME.finditer(text):
        words = [w for w in m.group().split() if w not in _NOT_NAMES]
        if len(words) >= 2:
            names.add(" ".join(words))
    return names


def _features(text: str) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """Figures, dates and names of a text."""
    return frozenset(_numbers(text)), frozenset(all_dates(text)), frozenset(_names(text))


_text_features = lru_cache(maxsize=4096)(_features)  # once per text however many candidates it is compared with


Features = tuple[frozenset[str], frozenset[str], frozenset[str]]


def _length_and_features(c: Candidate, features_of: Callable[[Candidate], Features] | None) -> tuple[int, Features]:
    length = c.length if c.length is not None else len(c.text)
    if c.features is not None:
        return length, c.features
    if not c.text and c.length:  # the text was not read with the candidate
        if features_of is None:
            raise ValueError(f"pairing {c.id}: its text was not read and no features_of was given")
        return length, features_of(c)
    return length, _text_features(c.text)


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float | None:
    if not a and not b:
        return None
    return len(a & b) / len(a | b)


def _to_date(iso: str) -> date:
    parts = [int(p) for p in iso.split("-")]
    return date(
        parts[0], parts[1] if len(parts) > 1 else 7, parts[2] if len(parts) > 2 else 15 if len(parts) > 1 else 1
    )


def _date_closeness(a: str | None, b: str | None) -> float | None:
    if not a or not b:
        return None
    n = min(len(a), len(b))
    if n < 7:  # years only
        return 1.0 if a[:4] == b[:4] else 0.0
    try:
        days = abs((_to_date(a[:n]) - _to_date(b[:n])).days)
    except ValueError:
        return None
    return max(0.0, 1.0 - days / MAX_DAYS)


def pair_score(
    a: Candidate, b: Candidate, features_of: Callable[[Candidate], Features] | None = None
) -> tuple[float, dict[str, Any]]:
    """How likely `a` and `b` are the two language versions of one document (0..1), with the evidence.
    `features_of`: the figures, dates and names of a candidate read without its text (worked out only for
    pairs that pass the cheap checks)."""
    if {a.language, b.language} != {"en", "cy"}:
        return 0.0, {"reason": "not one English and one Welsh document"}
    if a.local_authority and b.local_authority and a.local_authority != b.local_authority:
        return 0.0, {"reason": "different councils"}
    close = _date_closeness(a.published, b.published)
    if close == 0.0:
        return 0.0, {"reason": "published too far apart"}
    (length_a, fa), (length_b, fb) = _length_and_features(a, features_of), _length_and_features(b, features_of)
    lengths = sorted([length_a, length_b])
    length = min(1.0, lengths[0] / max(1, lengths[1]) / 0.7)  # Welsh runs up to about a third longer
    if a.pages and b.pages:
        length = min(length, min(a.pages, b.pages) / max(a.pages, b.pages) / 0.8, 1.0)
    features: dict[str, float | None] = {
        "council": 1.0 if a.local_authority and a.local_authority == b.local_authority else None,
        "date": close,
        "numbers": _jaccard(fa[0], fb[0]),
        "dates": _jaccard(fa[1], fb[1]),
        "names": _jaccard(fa[2], fb[2]),
        "length": length,
    }
    known = {k: v for k, v in features.items() if v is not None}
    if len(known) < 3:
        return 0.0, {"reason": "too little to compare", **known}
    score = sum(WEIGHTS[k] * v for k, v in known.items()) / sum(WEIGHTS[k] for k in known)
    return round(score, 3), {k: round(v, 3) for k, v in known.items()}


def _refers_to(ref: str, other: Candidate) -> bool:
    ref = ref.strip()
    return any(ref == alias or alias.endswith("/" + ref.lstrip("./")) for alias in other.aliases)


def find_pairs(
    new: Iterable[Candidate],
    stored: Iterable[Candidate],
    already: Set[str] = frozenset(),
    threshold: float = THRESHOLD,
    features_of: Callable[[Candidate], Features] | None = None,
) -> list[Pair]:
    """Pairs between the new documents and every stored one (new ones included), one partner per document:
    bilingual files first, then manifest references, then the best matches above `threshold`.

    Each new document is compared only with what could be its partner: the other language, and for matching
    the same council or an unknown one (`pair_score` gives every other pair 0), so a run of thousands of new
    documents costs about new x (other-language documents of a council), not new x everything."""
    new, stored = list(new), list(stored)
    by_id = {c.id: c for c in [*stored, *new]}
    position = {cid: k for k, cid in enumerate(by_id)}  # candidates are taken in this order, as before
    taken = set(already)
    pairs: list[Pair] = []
    by_language: dict[str, list[Candidate]] = {}
    by_council: dict[tuple[str, str | None], list[Candidate]] = {}
    by_file: dict[str, list[Candidate]] = {}
    for c in by_id.values():
        by_language.setdefault(c.language, []).append(c)
        by_council.setdefault((c.language, c.local_authority), []).append(c)
        if c.part_of:
            by_file.setdefault(c.part_of, []).append(c)
    referring = [c for c in by_id.values() if c.translation_of]

    def others(a: Candidate) -> Iterable[Candidate]:
        """The other-language candidates `pair_score` can score above 0 against `a`, in `by_id` order."""
        if a.local_authority is None:
            return [c for language, cs in by_language.items() if language != a.language for c in cs]
        found = [
            c
            for (language, council), cs in by_council.items()
            if language != a.language and council in (a.local_authority, None)
            for c in cs
        ]
        return sorted(found, key=lambda c: position[c.id])

    def add(a: Candidate, b: Candidate, method: str, score: float, evidence: dict[str, Any]) -> None:
        en, cy = (a, b) if a.language == "en" else (b, a)
        pairs.append(Pair(en.id, cy.id, score, method, evidence))
        taken.update((a.id, b.id))

    for a in new:
        if a.part_of and a.id not in taken:
            b = next((c for c in by_file[a.part_of] if c.id != a.id and c.language != a.language), None)
            if b and b.id not in taken:
                score, evidence = pair_score(a, b, features_of)
                add(a, b, "bilingual file", score, evidence)
    for a in new:
        # a's manifest row names c, else a row of c names a
        for pool, refers in ((by_id.values() if a.translation_of else (), True), (referring, False)):
            if a.id in taken:
                break
            for c in pool:
                if c.id == a.id or c.id in taken or c.language == a.language:
                    continue
                ref_from, to = (a, c) if refers else (c, a)
                if ref_from.translation_of and _refers_to(ref_from.translation_of, to):
                    score, evidence = pair_score(a, c, features_of)
                    add(a, c, "manifest", score, evidence)
                    break
    scored = []
    for a in new:
        if a.id in taken:
            continue
        for c in others(a):
            if c.id != a.id and c.id not in taken:
                score, evidence = pair_score(a, c, features_of)
                if score >= threshold:
                    scored.append((score, a.id, c.id, evidence))
    for score, a_id, c_id, evidence in sorted(scored, key=lambda t: -t[0]):
        if a_id not in taken and c_id not in taken:
            add(by_id[a_id], by_id[c_id], "matched", score, evidence)
    return pairs


def _candidate(row: dict[str, Any]) -> Candidate:
    aliases = [p for p in (row.get("paths") or "").split("\n") if p] + (
        [row["source_url"]] if row.get("source_url") else []
    )
    if row.get("source_path"):
        aliases.append(row["source_path"])
    return Candidate(
        id=row["id"],
        language=row["language"],
        text="",  # not read: its length is, and `features_of` reads the text where a pair needs it
        length=row.get("text_length") or 0,
        local_authority=row.get("local_authority"),
        published=row.get("published"),
        pages=row.get("pages"),
        part_of=row.get("part_of"),
        aliases=tuple(dict.fromkeys(aliases)),
        translation_of=row.get("translation_of"),
    )


def pair_new_documents(db: Any, document_ids: Iterable[str]) -> list[Pair]:
    """Find and store the English/Welsh partners of newly stored documents; returns the pairs recorded. Texts
    are read one at a time, and only of documents in a pair that passes the cheap checks (languages, council,
    dates): memory and time do not grow with the length of every text of a large run."""
    from pipeline import store

    @lru_cache(maxsize=4096)
    def features(document_id: str) -> Features:
        return _features(store.document_text(db, document_id))

    new, others, paired = store.pairing_candidates(db, document_ids)
    pairs = find_pairs(
        [_candidate(r) for r in new], [_candidate(r) for r in others], paired, features_of=lambda c: features(c.id)
    )
    store.save_pairs(db, pairs)
    return pairs
