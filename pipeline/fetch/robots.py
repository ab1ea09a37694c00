"""robots.txt rules as RFC 9309 reads them: groups per user agent, longest match wins, `*` and `$`.

The standard library's `urllib.robotparser` predates the RFC: it ignores `*`
and `$` inside paths and lets the first rule rather than the longest decide,
so it would let us into places a publisher has closed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import unquote, urlsplit

_ALWAYS_ALLOWED = "/robots.txt"


@dataclass(frozen=True)
class Rule:
    allow: bool
    pattern: str

    def matches(self, path: str) -> bool:
        return _compile(self.pattern).match(path) is not None


@lru_cache(maxsize=1024)
def _compile(pattern: str) -> re.Pattern[str]:
    anchored = pattern.endswith("$")
    body = pattern[:-1] if anchored else pattern
    regex = ".*".join(re.escape(part) for part in body.split("*"))
    return re.compile(regex + ("$" if anchored else ""), re.S)


@dataclass(frozen=True)
class RobotsRules:
    """The rules of one robots.txt that apply to one user agent."""

    rules: tuple[Rule, ...] = ()
    crawl_delay: float | None = None
    disallow_all: bool = False
    note: str = ""  # why the rules are what they are, for logs ("404: allow all", ...)

    @classmethod
    def allow_everything(cls, note: str) -> RobotsRules:
        return cls(note=note)

    @classmethod
    def deny_everything(cls, note: str) -> RobotsRules:
        return cls(disallow_all=True, note=note)

    def allows(self, url: str) -> bool:
        parts = urlsplit(url)
        path = unquote(parts.path or "/") + (f"?{unquote(parts.query)}" if parts.query else "")
        if parts.path == _ALWAYS_ALLOWED:
            return True
        if self.disallow_all:
            return False
        best: Rule | None = None
        for rule in self.rules:
            if rule.matches(path):
                longer = best is None or len(rule.pattern) > len(best.pattern)
                # Equal lengths: the least restrictive rule wins (RFC 9309, 2.2.2).
                tie_to_allow = best is not None and len(rule.pattern) == len(best.pattern) and rule.allow
                if longer or tie_to_allow:
                    best = rule
        return best is None or best.allow


@dataclass
class _Group:
    agents: list[str] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    crawl_delay: float | None = None


def parse_robots(text: str, product: str) -> RobotsRules:
    """The rules for `product` (e.g. "Scrutiny"): its own groups if any, else the `*` groups, merged."""
    groups: list[_Group] = []
    current: _Group | None = None
    in_rules = False
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if ":" not in line:
            continue
        key, value = (s.strip() for s in line.split(":", 1))
        key = key.lower()
        if key == "user-agent":
            if current is None or in_rules:
                current = _Group()
                groups.append(current)
                in_rules = False
            current.agents.append(value.lower())
        elif key in ("allow", "disallow") and current is not None:
            in_rules = True
            if value:  # an empty Disallow disallows nothing
                current.rules.append(Rule(key == "allow", unquote(value)))
        elif key == "crawl-delay" and current is not None:
            in_rules = True
            try:
                current.crawl_delay = max(0.0, float(value))
            except ValueError:
                pass
    token = product.lower()
    mine = [g for g in groups if token in g.agents]
    chosen = mine or [g for g in groups if "*" in g.agents]
    delays = [g.crawl_delay for g in chosen if g.crawl_delay is not None]
    return RobotsRules(
        tuple(r for g in chosen for r in g.rules),
        max(delays) if delays else None,
        note=f"robots.txt: {len(chosen)} group(s) apply",
    )
