"""Entities in English statements, and the people they name: pure functions over text.

`EntityRules.find(text)` returns the people (with the roles the text gives
them), organisations, councils, places, money amounts, percentages and dates of
one sentence, each with a normalised value. `people_from(statements)` merges
the names of many statements into people: "Ali Bulman", "Alison Bulman" and
"A Bulman" are one person; a near miss ("Denise Moultie" beside "Denise
Moultrie") is flagged as a probable variant, with its similarity, and neither
merged nor silently split.

The word lists live in `pipeline/data/` (given_names.txt, name_variants.toml,
roles.toml, organisations.toml, and the lead's gazetteer.toml). The spaCy
component that applies these rules is in `pipeline/segment.py`.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import lru_cache
from pathlib import Path
from typing import Iterable

from .gazetteer import Gazetteer, load_gazetteer
from .records import Statement

DATA = Path(__file__).resolve().parent / "data"
PROBABLE_AT = 0.85  # name similarity from which two unmerged people are probable variants

UPPER = "A-ZÀ-ÖØ-ÞŴŶ"
LOWER = "a-zß-öø-ÿŵŷ"
NAMEWORD = rf"(?:Mc|Mac|O['’]|D['’]|Fitz)?[{UPPER}][{LOWER}]+(?:[-'’][{UPPER}][{LOWER}]+)*"
INITIALS = rf"(?:(?:[{UPPER}]\.\s?){{1,3}}|(?:[{UPPER}]\s){{1,3}}|[{UPPER}]{{2}}\s)"
HONORIFICS = ("Dr", "Mr", "Mrs", "Ms", "Miss", "Mx", "Professor", "Prof", "Sir", "Dame", "Lord", "Baroness",
              "Rev", "Revd", "Judge")
SPEECH_VERBS = ("said", "says", "added", "told", "explained", "commented", "stated", "warned", "admitted",
                "insisted", "continued", "asked", "replied", "answered", "responded", "noted", "remarked")
# Capitalised words that do not end a person's name ("Aneurin Bevan University Health Board" is no person).
NOT_NAME = frozenset("""
Council County Borough City Services Service Social Children Childrens Children's Children’s Care Wales Welsh
Government Board Inspectorate Report Plan Act Committee Health University Police Authority Cymru Street Road
House Hall Centre School Trust Partnership Programme Team Group Unit Office Department Assembly Senedd Measure
Improvement Leader Minister Secretary Director Councillor Cllr Chief Executive Head Inspector Chair Member
Cabinet Local Notice Warning Review Powys Gwynedd The This That These We Our In On At For And Of To It
January February March April May June July August September October November December Monday Tuesday
Wednesday Thursday Friday Saturday Sunday Labour Conservative Plaid Liberal Independent Group Leader
""".split())

# Words that end an apposition: "Alison Prydderch, who was appointed by ..." gives her no role after "by".
NOT_APPOSITION = re.compile(r"\b(?:was|were|is|are|has|have|had|will|would|said|says|told|met|by|to|with|from|"
                            r"and|or|but|when|while)\b", re.I)
# Between a role and the name it comes before: "Minister for Children and Social Care, " / "leader, Councillor".
ROLE_TO_NAME = re.compile(
    r"(?:\s+(?:for|of)\s+[A-Z][\w'’-]*(?:\s+(?:and|&|of|for|the|[A-Z][\w'’-]*))*)?(?:['’]s)?\s*,?\s*"
    r"(?i:(?:the|a|an|our|my|new|then|interim|acting|colleague)\s+)*")
MONTHS = {m: i for i, m in enumerate(
    "january february march april may june july august september october november december".split(), 1)}
MONTHS.update({m[:3]: i for m, i in list(MONTHS.items())})
MONTHS["sept"] = 9
MONTH = r"(?:January|February|March|April|May|June|July|August|September|October|November|December|" \
        r"Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)\.?"
WEEKDAY = r"(?:(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day,?\s+(?:the\s+)?)"
ORDINAL = r"(?:st|nd|rd|th)"
DATE_PATTERNS = (
    re.compile(rf"\b{WEEKDAY}?(?P<d>\d{{1,2}}){ORDINAL}?\s+(?:of\s+)?(?P<m>{MONTH})"
               rf"(?:,?\s+(?P<y>(?:19|20)\d\d))?(?!\w)"),
    re.compile(rf"\b{WEEKDAY}?(?P<m>{MONTH})\s+(?P<d>\d{{1,2}}){ORDINAL}?(?:,?\s+(?P<y>(?:19|20)\d\d))?(?!\w)"),
    re.compile(rf"\b(?P<m>{MONTH})\s+(?P<y>(?:19|20)\d\d)\b"),
    re.compile(r"\b(?P<d>\d{1,2})/(?P<m>\d{1,2})/(?P<y>(?:19|20)\d\d)\b"),
)
MONEY = re.compile(
    r"£\s?(?P<num>\d{1,3}(?:,\s?\d{3})+(?!\d)|\d+)(?:\.(?P<dec>\d+))?"
    r"(?:\s?(?P<mult>million|billion|thousand|bn|m|k)\b)?", re.I)
PERCENT = re.compile(r"(?<![\w.])(?P<num>\d+(?:\.\d+)?)\s?(?:%|per cent\b|percent\b)")
MULTIPLIERS = {"thousand": 10**3, "k": 10**3, "million": 10**6, "m": 10**6, "billion": 10**9, "bn": 10**9}


# ---------------------------------------------------------------- records

@dataclass(frozen=True)
class Found:
    """An entity in one text: offsets into that text, a label and a normalised value."""

    start: int
    end: int
    label: str  # PERSON, ORG, COUNCIL, PLACE, MONEY, PERCENT, DATE
    value: str
    roles: tuple[str, ...] = ()


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
        return "person-" + hashlib.sha256(_fold(self.name).encode("utf-8")).hexdigest()[:16]

    @property
    def display(self) -> str:
        """The name as a speaker is reported: 'Cllr Elwyn Vaughan' for a councillor."""
        return f"Cllr {self.name}" if "councillor" in self.roles else self.name


@dataclass(frozen=True)
class Role:
    name: str
    pattern: re.Pattern[str]
    titles: tuple[str, ...] = ()
    postnominals: tuple[str, ...] = ()


# ---------------------------------------------------------------- names

def _fold(s: str) -> str:
    s = unicodedata.normalize("NFKD", s.replace("’", "'"))
    return "".join(c for c in s if not unicodedata.combining(c)).casefold()


_TITLE_PREFIX = re.compile(
    r"^(?:(?:county\s+|city\s+|town\s+)?(?:councill?ors?|cllrs?|coun)|" + "|".join(h.lower() for h in HONORIFICS)
    + r")\.?\s+", re.I)


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
            out[_fold(s)].add(_fold(full))
            out[_fold(full)].add(_fold(s))
    return {k: frozenset(v) for k, v in out.items()}


def given_compatible(a: str, b: str) -> bool:
    """Could two given names be one person's? Equal, a known short form, or a clear abbreviation
    ("Chris"/"Christopher"); a one-letter difference ("Denis"/"Denise") is a misspelling, not a short form."""
    a, b = _fold(a), _fold(b)
    if a == b or b in short_forms().get(a, ()):
        return True
    short, long = sorted((a, b), key=len)
    return len(short) >= 3 and long.startswith(short) and len(long) - len(short) >= 2


def name_similarity(a: str, b: str) -> float:
    """Similarity of two names in [0, 1], on folded names without titles."""
    return round(SequenceMatcher(None, _fold(bare_name(a)), _fold(bare_name(b))).ratio(), 3)


# ---------------------------------------------------------------- values

def parse_money(text: str) -> float | None:
    """'£49, 929' -> 49929; '£2.1 million' -> 2100000; '£500k' -> 500000."""
    m = MONEY.search(text)
    if m is None:
        return None
    number = float(re.sub(r"[,\s]", "", m.group("num")) + (f".{m.group('dec')}" if m.group("dec") else ""))
    mult = (m.group("mult") or "").lower()
    return round(number * MULTIPLIERS.get(mult, 1), 2)


def _number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def parse_date(text: str) -> str | None:
    """ISO 8601, as complete as the text: '17th October 2017' -> '2017-10-17', 'October 2018' -> '2018-10',
    'Thursday (October 19)' -> '--10-19'."""
    for rx in DATE_PATTERNS:
        m = rx.search(text)
        if m:
            return _iso(m)
    return None


def _iso(m: re.Match[str]) -> str | None:
    gd = m.groupdict()
    month_text = gd["m"].rstrip(".").lower()
    month = int(month_text) if month_text.isdigit() else MONTHS.get(month_text)
    day = int(gd["d"]) if gd.get("d") else None
    year = gd.get("y")
    if not month or month > 12 or (day is not None and not 1 <= day <= 31):
        return None
    if year and len(year) == 2:
        year = f"20{year}"
    if year and day:
        return f"{year}-{month:02d}-{day:02d}"
    if year:
        return f"{year}-{month:02d}"
    return f"--{month:02d}-{day:02d}" if day else None


def normalise_value(label: str, text: str) -> str:
    """The normalised value of an entity's text: a bare name, an ISO date, a number; else the text."""
    if label == "PERSON":
        return bare_name(text) or text
    if label == "DATE":
        return parse_date(text) or text
    if label == "MONEY":
        money = parse_money(text)
        return text if money is None else _number(money)
    if label == "PERCENT":
        m = PERCENT.search(text)
        return _number(float(m.group("num"))) if m else text
    return text


# ---------------------------------------------------------------- rules

def _words(path: Path) -> list[str]:
    return [line.strip() for line in Path(path).read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")]


class EntityRules:
    """Rule-based entity finder for one English sentence at a time."""

    def __init__(self, given_names: Iterable[str], roles: list[Role], gazetteer: Gazetteer,
                 organisations: dict[str, str]) -> None:
        self.roles = roles
        self._any_role = re.compile("|".join(f"(?:{r.pattern.pattern})" for r in roles) or "(?!)", re.I)
        self.gazetteer = gazetteer
        given = "|".join(sorted({re.escape(g) for g in given_names}, key=len, reverse=True))
        titles = sorted({t.rstrip(".") for r in roles for t in r.titles} | set(HONORIFICS), key=len, reverse=True)
        self._councillor_titles = {_fold(t.rstrip(".")) for r in roles if r.name == "councillor" for t in r.titles}
        title = "|".join(re.escape(t) for t in titles)
        verbs = "|".join(SPEECH_VERBS)
        self._titled = re.compile(
            rf"(?<![\w-])(?P<title>{title})\.?\s+(?P<name>(?:{INITIALS})?{NAMEWORD}(?:\s+{NAMEWORD}){{0,2}})")
        self._list_more = re.compile(rf"\s*(?:,|\band\b|&)\s*(?P<name>{INITIALS}{NAMEWORD}|(?:{given})\s+{NAMEWORD})")
        self._given = re.compile(
            rf"(?<![\w-])(?P<name>(?:{given})(?:\s+(?:{given}))?(?:\s+[{UPPER}]\.?)?\s+{NAMEWORD})(?![\w-])")
        self._initial_dot = re.compile(rf"(?<![\w.])(?P<name>(?:[{UPPER}]\.\s?){{1,3}}{NAMEWORD})")
        self._initial_bare = re.compile(rf"(?<=[{LOWER},;:(] )(?P<name>[{UPPER.replace('A-Z', 'A-HJ-Z')}]\s{NAMEWORD})")
        self._said_name = re.compile(rf"\b(?:{verbs})\s+(?P<name>{NAMEWORD}(?:\s+{NAMEWORD}){{1,2}})")
        self._name_said = re.compile(
            rf"(?P<name>{NAMEWORD}\s+{NAMEWORD})(?:\s*\([^)]{{1,40}}\))?,?\s+(?:{verbs}|went on to say)\b")
        self._role_then_name = re.compile(rf",\s+(?P<name>{NAMEWORD}\s+{NAMEWORD})(?![\w-])")
        self._name_then_role = re.compile(
            rf"(?<![\w-])(?P<name>{NAMEWORD}\s+{NAMEWORD})(?:\s+(?:MS|AM|MP))?,\s+(?:(?:the|a|an|our)\s+)?$")
        self._postnominal = {p: r.name for r in roles for p in r.postnominals}
        orgs = sorted(organisations, key=len, reverse=True)
        self._org_value = {_fold(k): v for k, v in organisations.items()}
        # short forms (PAVO, WLGA) only in their own capitalisation, as in the gazetteer
        forms = [f"(?i:{re.escape(o)})" if len(o) >= 6 else re.escape(o) for o in orgs] or ["(?!)"]
        self._orgs = re.compile(r"(?<![\w-])(?:" + "|".join(forms) + r")(?![\w-])")

    # -- pieces

    def find_roles(self, text: str) -> list[tuple[int, int, str]]:
        """Role mentions, leftmost-longest: (start, end, canonical role)."""
        if not self._any_role.search(text):  # most sentences name no role: one pass instead of one per role
            return []
        found = [(m.start(), m.end(), r.name) for r in self.roles for m in r.pattern.finditer(text)]
        found.sort(key=lambda f: (f[0], -(f[1] - f[0])))
        out, end = [], -1
        for f in found:
            if f[0] >= end:
                out.append(f)
                end = f[1]
        return out

    def _people(self, text: str) -> list[tuple[int, int, str | None]]:
        """Person name spans with the title that came with them, if any."""
        spans: list[tuple[int, int, str | None]] = []
        for m in self._titled.finditer(text):
            title = m.group("title")
            spans.append((m.start(), m.end("name"), title))
            if title.lower().endswith("s"):  # "Councillors A Jones, B Evans and C Price"
                pos = m.end("name")
                while (more := self._list_more.match(text, pos)) is not None:
                    spans.append((more.start("name"), more.end("name"), title))
                    pos = more.end()
        for rx in (self._given, self._initial_dot, self._initial_bare, self._said_name, self._name_said):
            for m in rx.finditer(text):
                spans.append((m.start("name"), m.end("name"), None))
        return spans

    def find(self, text: str) -> list[Found]:
        found: list[Found] = []
        taken: list[tuple[int, int]] = []

        def free(s: int, e: int) -> bool:
            return all(e <= a or s >= b for a, b in taken)

        def add(f: Found) -> None:
            found.append(f)
            taken.append((f.start, f.end))

        for m in self.gazetteer.find(text):
            label = "ORG"
            if m.body.kind == "council":
                folded = _fold(m.surface)
                full = {_fold(m.body.name), _fold(m.body.welsh or "")}
                label = "COUNCIL" if ("council" in folded or "cyngor" in folded or folded in full) else "PLACE"
            if free(m.start, m.end):
                add(Found(m.start, m.end, label, m.body.name))
        for m in self._orgs.finditer(text):
            if free(m.start(), m.end()):
                add(Found(m.start(), m.end(), "ORG", self._org_value.get(_fold(m.group(0)), m.group(0))))
        for m in MONEY.finditer(text):
            if free(m.start(), m.end()):
                add(Found(m.start(), m.end(), "MONEY", _number(parse_money(m.group(0)) or 0)))
        for m in PERCENT.finditer(text):
            if free(m.start(), m.end()):
                add(Found(m.start(), m.end(), "PERCENT", _number(float(m.group("num")))))
        for rx in DATE_PATTERNS:
            for m in rx.finditer(text):
                iso = _iso(m)
                if iso and free(m.start(), m.end()):
                    add(Found(m.start(), m.end(), "DATE", iso))

        roles = self.find_roles(text)
        people = self._people(text)
        # names next to a role ("lead inspector, Denise Moultrie") are people even with an unknown given name
        for rs, re_, _ in roles:
            after = self._role_then_name.match(text, re_)
            if after:
                people.append((after.start("name"), after.end("name"), None))
            before = self._name_then_role.search(text, 0, rs)
            if before:
                people.append((before.start("name"), before.end("name"), None))
        people.sort(key=lambda p: (p[0], -(p[1] - p[0])))
        for s, e, title in people:
            s, e = self._trim(text, s, e, title)
            if e <= s or not free(s, e):
                continue
            name = text[s:e]
            if title is None and all(w.strip(".") in NOT_NAME for w in name.split()[-1:]):
                continue
            person_roles = self._roles_of(text, s, e, title, roles, people)
            add(Found(s, e, "PERSON", bare_name(name), person_roles))
        found.sort(key=lambda f: f.start)
        return found

    def _trim(self, text: str, s: int, e: int, title: str | None) -> tuple[int, int]:
        """Drop trailing words that cannot end a name ("Cllr Harris Council" -> "Cllr Harris")."""
        words = list(re.finditer(r"\S+", text[s:e]))
        keep = len(words)
        first_name_word = 1 if title else 0
        while keep > first_name_word + 1 and words[keep - 1].group(0).strip(".") in NOT_NAME:
            keep -= 1
        if keep == 0:
            return s, s
        return s, s + words[keep - 1].end()

    def _roles_of(self, text: str, s: int, e: int, title: str | None,
                  roles: list[tuple[int, int, str]], people: list[tuple[int, int, str | None]]) -> tuple[str, ...]:
        out: list[str] = []
        if title and _fold(title.rstrip(".")) in self._councillor_titles:
            out.append("councillor")
        tail = e
        post = re.match(r"\s+(MS|AM|MP)\b", text[e:])
        if post:
            out.append(self._postnominal.get(post.group(1), "member"))
            tail = e + post.end()
        for rs, re_, name in roles:
            if rs <= s < re_ or s <= rs < e:  # the title itself ("Councillor") is no apposition
                continue
            if any(ps <= rs < pe for ps, pe, _ in people if (ps, pe) != (s, e)):
                continue  # another person's title ("... appointed by Cllr Parry")
            if re_ <= s:
                between = text[re_:s]
                if ROLE_TO_NAME.fullmatch(between):
                    out.append(name)
            elif rs >= tail:
                between = text[tail:rs]
                if "former" in between.lower() or any(tail <= ps < rs for ps, _, _ in people) or \
                        re.match(r"\s*,\s*(?:and|or)\b", between) or NOT_APPOSITION.search(between):
                    continue
                if re.fullmatch(r"\s*(?:\([^)]*\)\s*)?[,(]\s*(?:[\w’'-]+\s+){0,6}", between) and \
                        not re.search(r"[.;:!?\"“”]", between):
                    out.append(name)
        return tuple(dict.fromkeys(out))


@lru_cache(maxsize=2)
def load_rules(data_dir: Path = DATA) -> EntityRules:
    """The entity rules built from the data files (cached; nothing is read at import)."""
    data_dir = Path(data_dir)
    roles_data = tomllib.loads((data_dir / "roles.toml").read_text(encoding="utf-8"))
    roles = [Role(r["name"], re.compile(r"(?<![\w-])(?:" + "|".join(r["patterns"]) + r")(?![\w-])", re.I),
                  tuple(r.get("titles", ())), tuple(r.get("postnominals", ())))
             for r in roles_data["role"]]
    orgs_data = tomllib.loads((data_dir / "organisations.toml").read_text(encoding="utf-8"))
    organisations = {}
    for o in orgs_data.get("organisation", []):
        for form in [o["name"], *o.get("variants", [])]:
            organisations[form] = o["name"]
    return EntityRules(_words(data_dir / "given_names.txt"), roles, load_gazetteer(data_dir / "gazetteer.toml"),
                       organisations)


# ---------------------------------------------------------------- people

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
    for form in forms:
        parts = split_name(form)
        assert parts is not None
        by_surname[_fold(parts.surname)].append(form)

    clusters: list[_Cluster] = []
    for surname_forms in by_surname.values():
        full = [f for f in surname_forms if split_name(f).given]  # type: ignore[union-attr]
        partial = [f for f in surname_forms if not split_name(f).given]  # type: ignore[union-attr]
        local: list[_Cluster] = []
        for f in sorted(full, key=lambda x: (-len(x), x)):
            parts = split_name(f)
            home = next((c for c in local if given_compatible(c.parts.given or "", parts.given or "")), None)
            if home is None:
                local.append(_Cluster(Counter(forms[f]), Counter(roles_of[f]), parts))  # type: ignore[arg-type]
            else:
                home.forms.update(forms[f])
                home.roles.update(roles_of[f])
        for f in partial:
            parts = split_name(f)
            assert parts is not None
            initial = parts.initials[:1].casefold()
            fits = [c for c in local if not initial or _fold(c.parts.given or "").startswith(initial)]
            if len(fits) == 1:  # one person it can be: merge; several: it stays apart (and is flagged below)
                fits[0].forms.update(forms[f])
                fits[0].roles.update(roles_of[f])
            else:
                local.append(_Cluster(Counter(forms[f]), Counter(roles_of[f]), parts))
        clusters.extend(local)

    names = [c.canonical() for c in clusters]
    probable: dict[int, list[tuple[str, float]]] = defaultdict(list)
    for i in range(len(clusters)):
        for j in range(i + 1, len(clusters)):
            score = _closeness(clusters[i], clusters[j])
            if score >= PROBABLE_AT:
                probable[i].append((names[j], score))
                probable[j].append((names[i], score))
    people = [
        Person(name=names[i], variants=tuple(sorted(c.forms)), roles=tuple(r for r, _ in c.roles.most_common()),
               probable_variants=tuple(sorted(probable[i], key=lambda p: (-p[1], p[0]))),
               mentions=sum(c.forms.values()))
        for i, c in enumerate(clusters)
    ]
    return sorted(people, key=lambda p: (-p.mentions, p.name))


def _closeness(a: _Cluster, b: _Cluster) -> float:
    """How likely two unmerged clusters are one person misspelt: similarity of their closest forms."""
    best = 0.0
    for fa in a.forms:
        for fb in b.forms:
            pa, pb = split_name(fa), split_name(fb)
            if pa is None or pb is None:
                continue
            surname = SequenceMatcher(None, _fold(pa.surname), _fold(pb.surname)).ratio()
            if surname < 0.75:
                continue
            if pa.given and pb.given:
                score = name_similarity(fa, fb)
            elif _fold(pa.surname) == _fold(pb.surname):  # "A Bulman" when two Bulmans fit
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
