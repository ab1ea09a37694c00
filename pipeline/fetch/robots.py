"""robots.txt rules as RFC 9309 reads them, parsed by protego (groups per user agent, longest match wins, `*`, `$`).

The standard library's `urllib.robotparser` predates the RFC: it ignores `*`
and `$` inside paths and lets the first rule rather than the longest decide,
so it would let us into places a publisher has closed. protego follows the RFC.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from protego import Protego

_ALWAYS_ALLOWED = "/robots.txt"


@dataclass(frozen=True)
class RobotsRules:
    """The rules of one robots.txt that apply to one user agent."""

    parsed: Protego | None = None
    product: str = ""
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
        if urlsplit(url).path == _ALWAYS_ALLOWED:
            return True
        if self.disallow_all:
            return False
        return self.parsed is None or bool(self.parsed.can_fetch(url, self.product))


def parse_robots(text: str, product: str) -> RobotsRules:
    """The rules for `product` (e.g. "Scrutiny"): its own groups if any, else the `*` groups."""
    parsed = Protego.parse(text)
    delay = parsed.crawl_delay(product)
    return RobotsRules(
        parsed,
        product,
        max(0.0, float(delay)) if delay is not None else None,
        note="robots.txt read with protego",
    )
