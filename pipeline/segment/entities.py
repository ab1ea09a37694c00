"""Entity rules over spaCy docs: people, roles, organisations, places, dates, money and percentages, with their
normalised values.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pipeline.lexicon.councils import Gazetteer, load_gazetteer
from pipeline.lexicon.dates import english_months
from pipeline.segment.people import DATA, HONORIFICS, LOWER, UPPER, bare_name, fold

NAMEWORD = rf"(?:Mc|Mac|O['’]|D['’]|Fitz)?[{UPPER}][{LOWER}]+(?:[-'’][{UPPER}][{LOWER}]+)*"


INITIALS = rf"(?:(?:[{UPPER}]\.\s?){{1,3}}|(?:[{UPPER}]\s){{1,3}}|[{UPPER}]{{2}}\s)"


SPEECH_VERBS = (
    "said",
    "says",
    "added",
    "told",
    "explained",
    "commented",
    "stated",
    "warned",
    "admitted",
    "insisted",
    "continued",
    "asked",
    "replied",
    "answered",
    "responded",
    "noted",
    "remarked",
)


# Capitalised words that do not end a person's name ("Aneurin Bevan University Health Board" is no person).
NOT_NAME = frozenset(
    """
Council County Borough City Services Service Social Children Childrens Children's Children’s Care Wales Welsh
Government Board Inspectorate Report Plan Act Committee Health University Police Authority Cymru Street Road
House Hall Centre School Trust Partnership Programme Team Group Unit Office Department Assembly Senedd Measure
Improvement Leader Minister Secretary Director Councillor Cllr Chief Executive Head Inspector Chair Member
Cabinet Local Notice Warning Review Powys Gwynedd The This That These We Our In On At For And Of To It
January February March April May June July August September October November December Monday Tuesday
Wednesday Thursday Friday Saturday Sunday Labour Conservative Plaid Liberal Independent Group Leader
""".split()
)


# Words that end an apposition: "Alison Prydderch, who was appointed by ..." gives her no role after "by".
NOT_APPOSITION = re.compile(
    r"\b(?:was|were|is|are|has|have|had|will|would|said|says|told|met|by|to|with|from|"
    r"and|or|but|when|while)\b",
    re.I,
)


# A role's patterns are matched as whole words: between these two.
ROLE_OPEN, ROLE_CLOSE = r"(?<![\w-])(?:", r")(?![\w-])"
# Between a role and the name it comes before: "Minister for Children and Social Care, " / "leader, Councillor".
ROLE_TO_NAME = re.compile(
    r"(?:\s+(?:for|of)\s+[A-Z][\w'’-]*(?:\s+(?:and|&|of|for|the|[A-Z][\w'’-]*))*)?(?:['’]s)?\s*,?\s*"
    r"(?i:(?:the|a|an|our|my|new|then|interim|acting|colleague)\s+)*"
)


MONTHS = english_months()  # the one English month table (pipeline.lexicon.dates)


MONTH = "(?:" + "|".join(sorted((m.capitalize() for m in MONTHS), key=len, reverse=True)) + r")\.?"


WEEKDAY = r"(?:(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day,?\s+(?:the\s+)?)"


ORDINAL = r"(?:st|nd|rd|th)"


DATE_PATTERNS = (
    re.compile(
        rf"\b{WEEKDAY}?(?P<d>\d{{1,2}}){ORDINAL}?\s+(?:of\s+)?(?P<m>{MONTH})"
        rf"(?:,?\s+(?P<y>(?:19|20)\d\d))?(?!\w)"
    ),
    re.compile(rf"\b{WEEKDAY}?(?P<m>{MONTH})\s+(?P<d>\d{{1,2}}){ORDINAL}?(?:,?\s+(?P<y>(?:19|20)\d\d))?(?!\w)"),
    re.compile(rf"\b(?P<m>{MONTH})\s+(?P<y>(?:19|20)\d\d)\b"),
    re.compile(r"\b(?P<d>\d{1,2})/(?P<m>\d{1,2})/(?P<y>(?:19|20)\d\d)\b"),
)


MONEY = re.compile(
    r"£\s?(?P<num>\d{1,3}(?:,\s?\d{3})+(?!\d)|\d+)(?:\.(?P<dec>\d+))?"
    r"(?:\s?(?P<mult>million|billion|thousand|bn|m|k)\b)?",
    re.I,
)


PERCENT = re.compile(r"(?<![\w.])(?P<num>\d+(?:\.\d+)?)\s?(?:%|per cent\b|percent\b)")


MULTIPLIERS = {"thousand": 10**3, "k": 10**3, "million": 10**6, "m": 10**6, "billion": 10**9, "bn": 10**9}


@dataclass(frozen=True)
class Found:
    """An entity in one text: offsets into that text, a label and a normalised value."""

    start: int
    end: int
    label: str  # PERSON, ORG, COUNCIL, PLACE, MONEY, PERCENT, DATE
    value: str
    roles: tuple[str, ...] = ()


@dataclass(frozen=True)
class Role:
    name: str
    pattern: re.Pattern[str]
    titles: tuple[str, ...] = ()
    postnominals: tuple[str, ...] = ()


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


def _words(path: Path) -> list[str]:
    return [
        line.strip()
        for line in Path(path).read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]


# A run of optional words at the start of a role pattern ("(?:[a-z]+ ){0,2}group leader").
_OPTIONAL_LEAD = re.compile(r"^\(\?:\[[^\]]+\]\+ \)\{0,\d+\}")


def _role_gate(roles: list[Role]) -> re.Pattern[str]:
    """One pattern that matches wherever any role's does: the whole-word roles' patterns without the leading run
    of optional words of their first alternative, inside one word-start test (a pattern made otherwise is taken
    as it is). Tried at every character of every sentence, those runs cost four times the rest; without them the
    gate matches the same sentences (a role's match holds the shorter one) and find_roles still matches each
    role's whole pattern."""
    bodies, others = [], []
    for r in roles:
        body = r.pattern.pattern
        if body.startswith(ROLE_OPEN) and body.endswith(ROLE_CLOSE):
            # the lead of the role's first alternative ("(?:[a-z]+ ){0,2}group leader|leader of the ... group"):
            # what follows it in that alternative still matches wherever the whole did
            bodies.append(_OPTIONAL_LEAD.sub("", body[len(ROLE_OPEN) : -len(ROLE_CLOSE)]))
        else:
            others.append(body)
    parts = ([ROLE_OPEN + "|".join(f"(?:{b})" for b in bodies) + ROLE_CLOSE] if bodies else []) + [
        f"(?:{o})" for o in others
    ]
    return re.compile("|".join(parts) or "(?!)", re.I)


class EntityRules:
    """Rule-based entity finder for one English sentence at a time."""

    def __init__(
        self, given_names: Iterable[str], roles: list[Role], gazetteer: Gazetteer, organisations: dict[str, str]
    ) -> None:
        self.roles = roles
        self._any_role = _role_gate(roles)
        self.gazetteer = gazetteer
        given = "|".join(sorted({re.escape(g) for g in given_names}, key=len, reverse=True))
        titles = sorted({t.rstrip(".") for r in roles for t in r.titles} | set(HONORIFICS), key=len, reverse=True)
        self._councillor_titles = {fold(t.rstrip(".")) for r in roles if r.name == "councillor" for t in r.titles}
        title = "|".join(re.escape(t) for t in titles)
        verbs = "|".join(SPEECH_VERBS)
        self._titled = re.compile(
            rf"(?<![\w-])(?P<title>{title})\.?\s+(?P<name>(?:{INITIALS})?{NAMEWORD}(?:\s+{NAMEWORD}){{0,2}})"
        )
        self._list_more = re.compile(rf"\s*(?:,|\band\b|&)\s*(?P<name>{INITIALS}{NAMEWORD}|(?:{given})\s+{NAMEWORD})")
        self._given = re.compile(
            rf"(?<![\w-])(?P<name>(?:{given})(?:\s+(?:{given}))?(?:\s+[{UPPER}]\.?)?\s+{NAMEWORD})(?![\w-])"
        )
        self._initial_dot = re.compile(rf"(?<![\w.])(?P<name>(?:[{UPPER}]\.\s?){{1,3}}{NAMEWORD})")
        self._initial_bare = re.compile(rf"(?<=[{LOWER},;:(] )(?P<name>[{UPPER.replace('A-Z', 'A-HJ-Z')}]\s{NAMEWORD})")
        self._said_name = re.compile(rf"\b(?:{verbs})\s+(?P<name>{NAMEWORD}(?:\s+{NAMEWORD}){{1,2}})")
        self._name_said = re.compile(
            rf"(?P<name>{NAMEWORD}\s+{NAMEWORD})(?:\s*\([^)]{{1,40}}\))?,?\s+(?:{verbs}|went on to say)\b"
        )
        self._role_then_name = re.compile(rf",\s+(?P<name>{NAMEWORD}\s+{NAMEWORD})(?![\w-])")
        self._name_then_role = re.compile(
            rf"(?<![\w-])(?P<name>{NAMEWORD}\s+{NAMEWORD})(?:\s+(?:MS|AM|MP))?,\s+(?:(?:the|a|an|our)\s+)?$"
        )
        self._postnominal = {p: r.name for r in roles for p in r.postnominals}
        orgs = sorted(organisations, key=len, reverse=True)
        self._org_value = {fold(k): v for k, v in organisations.items()}
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

        for mention in self.gazetteer.find(text):
            label = "ORG"
            if mention.body.kind == "council":
                folded = fold(mention.surface)
                full = {fold(mention.body.name), fold(mention.body.welsh or "")}
                label = "COUNCIL" if ("council" in folded or "cyngor" in folded or folded in full) else "PLACE"
            if free(mention.start, mention.end):
                add(Found(mention.start, mention.end, label, mention.body.name))
        for m in self._orgs.finditer(text):
            if free(m.start(), m.end()):
                add(Found(m.start(), m.end(), "ORG", self._org_value.get(fold(m.group(0)), m.group(0))))
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

    def _roles_of(
        self,
        text: str,
        s: int,
        e: int,
        title: str | None,
        roles: list[tuple[int, int, str]],
        people: list[tuple[int, int, str | None]],
    ) -> tuple[str, ...]:
        out: list[str] = []
        if title and fold(title.rstrip(".")) in self._councillor_titles:
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
                if (
                    "former" in between.lower()
                    or any(tail <= ps < rs for ps, _, _ in people)
                    or re.match(r"\s*,\s*(?:and|or)\b", between)
                    or NOT_APPOSITION.search(between)
                ):
                    continue
                if re.fullmatch(r"\s*(?:\([^)]*\)\s*)?[,(]\s*(?:[\w’'-]+\s+){0,6}", between) and not re.search(
                    r"[.;:!?\"“”]", between
                ):
                    out.append(name)
        return tuple(dict.fromkeys(out))


@lru_cache(maxsize=2)
def load_rules(data_dir: Path = DATA) -> EntityRules:
    """The entity rules built from the data files (cached; nothing is read at import)."""
    data_dir = Path(data_dir)
    roles_data = tomllib.loads((data_dir / "roles.toml").read_text(encoding="utf-8"))
    roles = [
        Role(
            r["name"],
            re.compile(ROLE_OPEN + "|".join(r["patterns"]) + ROLE_CLOSE, re.I),
            tuple(r.get("titles", ())),
            tuple(r.get("postnominals", ())),
        )
        for r in roles_data["role"]
    ]
    orgs_data = tomllib.loads((data_dir / "organisations.toml").read_text(encoding="utf-8"))
    organisations = {}
    for o in orgs_data.get("organisation", []):
        for form in [o["name"], *o.get("variants", [])]:
            organisations[form] = o["name"]
    return EntityRules(
        _words(data_dir / "given_names.txt"), roles, load_gazetteer(data_dir / "gazetteer.toml"), organisations
    )
