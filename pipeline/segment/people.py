"""People: normalised names, name variants and merging the mentions of one person across documents."""

from __future__ import annotations

import hashlib
import re
import tomllib
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import lru_cache
from pathlib import Path

from pipeline.lexicon import DATA_DIR
from pipeline.records import Statement

DATA = DATA_DIR


PROBABLE_AT = 0.85  # name similarity from which two unmerged people are probable variants


UPPER = "A-ZÀ-ÖØ-ÞŴŶ"


LOWER = "a-zß-öø-ÿŵŷ"


HONORIFICS = (
    "Dr",
    "Mr",
    "Mrs",
    "Ms",
    "Miss",
    "Mx",
    "Professor",
    "Prof",
    "Sir",
    "Dame",
    "Lord",
    "Baroness",
    "Rev",
    "Revd",
    "Judge",
)


@dataclass(frozen=True)
class Person:
    """One person named across statements, with every form of the name seen."""

    name: str  # canonical: the fullest form of the name, without titles
    variants: tuple[str, ...]  # every form seen, titles removed
    roles: tuple[str, ...] = ()
    probable_variants: tuple[tuple[str, float], ...] = ()  # other people whose names are close to this one
    mentions: int = 0

    @property
    def id(self) -> str:
        """A deterministic id from the canonical name, for upserts."""
        return "person-" + hashlib.sha256(fold(self.name).encode("utf-8")).hexdigest()[:16]

    @property
    def display(self) -> str:
        """The name as a speaker is reported: 'Cllr Elwyn Vaughan' for a councillor."""
        return f"Cllr {self.name}" if "councillor" in self.roles else self.name


def fold(s: str) -> str:
    s = unicodedata.normalize("NFKD", s.replace("’", "'"))
    return "".join(c for c in s if not unicodedata.combining(c)).casefold()


_TITLE_PREFIX = re.compile(
    r"^(?:(?:county\s+|city\s+|town\s+)?(?:councill?ors?|cllrs?|coun)|"
    + "|".join(h.lower() for h in HONORIFICS)
    + r")\.?\s+",
    re.I,
)


def normalise_person(name: str) -> str:
    """A name as text gives it, tidied: 'Councillor Gwen Parry' -> 'Cllr Gwen Parry' (titles kept)."""
    name = " ".join(name.replace("’", "'").split())
    name = re.sub(r"'s?$", "", name)
    name = re.sub(r"^(?:County\s+|City\s+)?(?:Councill?or|Coun\.?|Cllr\.?)\s+", "Cllr ", name)
    name = re.sub(r"^(Dr|Mr|Mrs|Ms|Prof)\.\s", r"\1 ", name)
    return name.strip(" ,.")


def bare_name(name: str) -> str:
    """A name without titles, possessive or full stops: 'Cllr. A. Bulman's' -> 'A Bulman'."""
    name = normalise_person(name)
    while True:
        stripped = _TITLE_PREFIX.sub("", name)
        if stripped == name:
            break
        name = stripped
    name = re.sub(rf"\b([{UPPER}])\.\s?", r"\1 ", name)
    return " ".join(name.split())


@dataclass(frozen=True)
class NameParts:
    given: str | None  # a full given name ("Alison"), or None
    initials: str  # initials given without a given name ("A", "JR")
    surname: str


def split_name(name: str) -> NameParts | None:
    words = bare_name(name).split()
    if not words:
        return None
    surname = words[-1]
    given, initials = None, ""
    for w in words[:-1]:
        if len(w) == 1 or (len(w) == 2 and w.isupper()):
            initials += w
        elif given is None:
            given = w
    if given:
        initials = ""
    return NameParts(given, initials, surname)


@lru_cache(maxsize=2)
def short_forms(path: Path = DATA / "name_variants.toml") -> dict[str, frozenset[str]]:
    """Each given name (folded) with the names it may stand for: 'ali' -> {'alison', 'alistair'}."""
    data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    out: dict[str, set[str]] = defaultdict(set)
    for full, shorts in data.get("short_forms", {}).items():
        for s in shorts:
            out[fold(s)].add(fold(full))
            out[fold(full)].add(fold(s))
    return {k: frozenset(v) for k, v in out.items()}


def given_compatible(a: str, b: str) -> bool:
    """Could two given names be one person's? Equal, a known short form, or a clear abbreviation
    ("Chris"/"Christopher"); a one-letter difference ("Denis"/"Denise") is a misspelling, not a short form."""
    a, b = fold(a), fold(b)
    if a == b or b in short_forms().get(a, ()):
        return True
    short, long = sorted((a, b), key=len)
    return len(short) >= 3 and long.startswith(short) and len(long) - len(short) >= 2


def name_similarity(a: str, b: str) -> float:
    """Similarity of two names in [0, 1], on folded names without titles."""
    return _similarity(fold(bare_name(a)), fold(bare_name(b)))


def _similarity(folded_a: str, folded_b: str) -> float:
    return round(SequenceMatcher(None, folded_a, folded_b).ratio(), 3)


@dataclass
class _Cluster:
    forms: Counter
    roles: Counter
    parts: NameParts

    def canonical(self) -> str:
        def fullness(form: str) -> tuple[int, int, int]:
            p = split_name(form)
            return (1 if p and p.given else 0, len(form), self.forms[form])

        return max(self.forms, key=fullness)


def merge_people(mentions: Iterable[tuple[str, Iterable[str]]]) -> list[Person]:
    """People from (name, roles) mentions: variants of one name are merged, near misses flagged."""
    forms: dict[str, Counter] = defaultdict(Counter)
    roles_of: dict[str, Counter] = defaultdict(Counter)
    for name, roles in mentions:
        bare = bare_name(name)
        if not bare or split_name(bare) is None:
            continue
        forms[bare][bare] += 1
        for r in roles:
            roles_of[bare][r] += 1

    by_surname: dict[str, list[str]] = defaultdict(list)
    parts_of: dict[str, NameParts] = {}
    for form in forms:
        parts = split_name(form)
        assert parts is not None  # forms holds only names that split (see above)
        parts_of[form] = parts
        by_surname[fold(parts.surname)].append(form)

    clusters: list[_Cluster] = []
    for surname_forms in by_surname.values():
        full = [f for f in surname_forms if parts_of[f].given]
        partial = [f for f in surname_forms if not parts_of[f].given]
        local: list[_Cluster] = []
        for f in sorted(full, key=lambda x: (-len(x), x)):
            parts = parts_of[f]
            home = next((c for c in local if given_compatible(c.parts.given or "", parts.given or "")), None)
            if home is None:
                local.append(_Cluster(Counter(forms[f]), Counter(roles_of[f]), parts))
            else:
                home.forms.update(forms[f])
                home.roles.update(roles_of[f])
        for f in partial:
            parts = parts_of[f]
            initial = parts.initials[:1].casefold()
            fits = [c for c in local if not initial or fold(c.parts.given or "").startswith(initial)]
            if len(fits) == 1:  # one person it can be: merge; several: it stays apart (and is flagged below)
                fits[0].forms.update(forms[f])
                fits[0].roles.update(roles_of[f])
            else:
                local.append(_Cluster(Counter(forms[f]), Counter(roles_of[f]), parts))
        clusters.extend(local)

    names = [c.canonical() for c in clusters]
    probable: dict[int, list[tuple[str, float]]] = defaultdict(list)
    closeness = _Closeness()
    for i in range(len(clusters)):
        for j in range(i + 1, len(clusters)):
            score = closeness(clusters[i], clusters[j])
            if score >= PROBABLE_AT:
                probable[i].append((names[j], score))
                probable[j].append((names[i], score))
    people = [
        Person(
            name=names[i],
            variants=tuple(sorted(c.forms)),
            roles=tuple(r for r, _ in c.roles.most_common()),
            probable_variants=tuple(sorted(probable[i], key=lambda p: (-p[1], p[0]))),
            mentions=sum(c.forms.values()),
        )
        for i, c in enumerate(clusters)
    ]
    return sorted(people, key=lambda p: (-p.mentions, p.name))


class _Closeness:
    """How likely two unmerged clusters are one person misspelt: similarity of their closest forms. Every pair of
    clusters is compared, so each form is split once and each pair of surnames compared once."""

    def __init__(self) -> None:
        self._forms: dict[str, tuple[NameParts, str, str] | None] = {}
        self._surnames: dict[tuple[str, str], float] = {}

    def _form(self, form: str) -> tuple[NameParts, str, str] | None:
        if form not in self._forms:
            parts = split_name(form)
            self._forms[form] = None if parts is None else (parts, fold(parts.surname), fold(bare_name(form)))
        return self._forms[form]

    def _surname(self, a: str, b: str) -> float:
        ratio = self._surnames.get((a, b))
        if ratio is None:
            # SequenceMatcher's ratio is at most 2 * min(len) / (len a + len b): a bound under 0.75 settles it
            if len(a) + len(b) and 2 * min(len(a), len(b)) < 0.75 * (len(a) + len(b)):
                ratio = 0.0
            else:
                ratio = SequenceMatcher(None, a, b).ratio()
            self._surnames[(a, b)] = ratio
        return ratio

    def __call__(self, a: _Cluster, b: _Cluster) -> float:
        best = 0.0
        for fa in a.forms:
            for fb in b.forms:
                ia, ib = self._form(fa), self._form(fb)
                if ia is None or ib is None:
                    continue
                (pa, sa, na), (pb, sb, nb) = ia, ib
                surname = self._surname(sa, sb)
                if surname < 0.75:
                    continue
                if pa.given and pb.given:
                    score = _similarity(na, nb)  # name_similarity(fa, fb), on the names folded once
                elif sa == sb:  # "A Bulman" when two Bulmans fit
                    score = 0.9
                else:
                    score = round(surname, 3) if not (pa.given or pb.given) else 0.0
                best = max(best, score)
        return best


def people_from(statements: Iterable[Statement]) -> list[Person]:
    """The people named in statements (PERSON entities and quote speakers), merged into persons."""
    mentions: list[tuple[str, tuple[str, ...]]] = []
    for s in statements:
        for e in getattr(s, "entities", ()):
            if e.label == "PERSON":
                mentions.append((e.value or e.text, e.roles))
        if s.speaker:
            mentions.append((s.speaker, ("councillor",) if s.speaker.startswith("Cllr ") else ()))
    return merge_people(mentions)
