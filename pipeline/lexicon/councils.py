"""Councils, inspectorates, health boards and police forces, loaded from data files.

The bodies live in `pipeline/data/gazetteer.toml`; this module only turns them
into a matcher. Matching is leftmost-longest, so "Powys Teaching Health Board"
is a health board, not a mention of Powys County Council.
"""

from __future__ import annotations

import re
import tomllib
from collections import Counter, defaultdict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pipeline.lexicon import DATA_DIR

DEFAULT_PATH = DATA_DIR / "gazetteer.toml"
KINDS = ("council", "inspectorate", "government", "health_board", "police")


@dataclass(frozen=True)
class Body:
    kind: str
    name: str
    welsh: str | None
    variants: tuple[str, ...]
    fictional: bool = False
    places: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()

    @property
    def surface_forms(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys([self.name, *([self.welsh] if self.welsh else []), *self.variants]))


@dataclass(frozen=True)
class Mention:
    body: Body
    start: int
    end: int
    surface: str


class Gazetteer:
    def __init__(self, bodies: list[Body], version: str) -> None:
        self.bodies = bodies
        self.version = version
        self._by_form: dict[str, Body] = {}
        insensitive: list[str] = []
        sensitive: list[str] = []
        for body in bodies:
            for form in body.surface_forms:
                self._by_form.setdefault(form.casefold(), body)
                # Short forms (RCT, Môn, CIW) only count in their own capitalisation.
                (insensitive if len(form) >= 6 else sensitive).append(form)

        def alternation(forms: list[str]) -> str:
            return "|".join(re.escape(f) for f in sorted(set(forms), key=len, reverse=True))

        parts = []
        if insensitive:
            parts.append(f"(?i:{alternation(insensitive)})")
        if sensitive:
            parts.append(alternation(sensitive))
        # Longest-first across both groups: try the case-insensitive (long) forms first.
        self._pattern = re.compile(r"(?<![\w-])(?:" + "|".join(parts) + r")(?![\w-])")
        self._place_of = {p: b for b in bodies for p in b.places}
        self._domain_of = {d.lower(): b for b in bodies for d in b.domains}
        self._places = (
            re.compile(r"(?<![\w-])(?:" + alternation(list(self._place_of)) + r")(?![\w-])") if self._place_of else None
        )
        self._domains = (
            re.compile(r"(?i)(?<![\w-])(?:" + alternation(list(self._domain_of)) + r")\b") if self._domain_of else None
        )

    def find(self, text: str) -> list[Mention]:
        found = []
        for m in self._pattern.finditer(text):
            body = self._by_form.get(m.group(0).casefold())
            if body is not None:
                found.append(Mention(body, m.start(), m.end(), m.group(0)))
        return found

    def council_counts(self, text: str) -> Counter[str]:
        return Counter(m.body.name for m in self.find(text) if m.body.kind == "council")

    def council_evidence(self, text: str) -> dict[str, float]:
        """Weighted evidence for each council: names count 1, web domains 2, towns 0.5."""
        evidence: dict[str, float] = defaultdict(float)
        for name, n in self.council_counts(text).items():
            evidence[name] += n
        if self._domains is not None:
            for m in self._domains.finditer(text):
                evidence[self._domain_of[m.group(0).lower()].name] += 2
        if self._places is not None:
            for m in self._places.finditer(text):
                evidence[self._place_of[m.group(0)].name] += 0.5
        return evidence

    def canonical(self, name: str | None, kind: str | None = None) -> str | None:
        """The canonical name for any known form of a body's name, or None."""
        if not name:
            return None
        body = self._by_form.get(name.strip().casefold())
        if body is None:
            mentions = self.find(name)
            body = mentions[0].body if mentions else None
        if body is None or (kind and body.kind != kind):
            return None
        return body.name

    def of_kind(self, kind: str) -> list[Body]:
        return [b for b in self.bodies if b.kind == kind]


@lru_cache(maxsize=4)
def load_gazetteer(path: Path = DEFAULT_PATH) -> Gazetteer:
    data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    bodies = []
    for kind in KINDS:
        for row in data.get(kind, []):
            bodies.append(
                Body(
                    kind=kind,
                    name=row["name"],
                    welsh=row.get("welsh"),
                    variants=tuple(row.get("variants", [])),
                    fictional=bool(row.get("fictional", False)),
                    places=tuple(row.get("places", [])),
                    domains=tuple(row.get("domains", [])),
                )
            )
    return Gazetteer(bodies, data.get("version", "gazetteer"))


def infer_council(
    gz: Gazetteer, text: str = "", title: str | None = None, url: str | None = None, unique: bool = False
) -> str | None:
    """The council a document or a listing's title is about: what names it (councils, their towns and web
    domains) in the title weighs 5, in the opening 1, further on 0.3, in the web address 3. None when nothing
    names a council; a tie at the top goes to the council named first, or, with `unique` (a listing's title,
    which says little else), to none."""
    counts: dict[str, float] = defaultdict(float)  # weighted evidence, not whole counts
    for name, n in gz.council_evidence(title or "").items():
        counts[name] += 5 * n
    for name, n in gz.council_evidence(text[:3000]).items():
        counts[name] += n
    for name, n in gz.council_evidence(text[3000:20000]).items():
        counts[name] += 0.3 * n
    if url:
        host = re.sub(r"^https?://", "", url).split("/")[0]
        for name in gz.council_evidence(host + " " + host.replace("-", " ").replace(".", " ")):
            counts[name] += 3
    ranked = sorted(counts.items(), key=lambda kv: -kv[1])[:2]  # stable: the first named first among equals
    if not ranked or (unique and len(ranked) > 1 and ranked[0][1] == ranked[1][1]):
        return None
    return ranked[0][0]
