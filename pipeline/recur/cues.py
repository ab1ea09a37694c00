"""Recurrence, what the text says: the configuration (cue lists and numbers), the cues a statement carries
(topics, thread, status in text, recap) and which statements are picked for linking.

Every cue list and threshold lives in `models/recurrence.toml`, read by the cached `load_config`; the
standard for what one concern is, is ../shared/recurrence-guidelines.md. Linking itself is in `recur`.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from pipeline.config import Settings
from pipeline.recur.records import Item, Pick

INSPECTION = "inspection_report"


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

    def with_overrides(self, **sections: Mapping[str, Any]) -> RecurConfig:
        """A copy with some numbers changed: `config.with_overrides(linking={"link_threshold": 0.5})`."""
        changes: dict[str, Any] = {k: {**getattr(self, k), **v} for k, v in sections.items()}
        return replace(self, **changes)


def _any(patterns: str | Iterable[str]) -> re.Pattern[str]:
    patterns = [patterns] if isinstance(patterns, str) else list(patterns)
    return re.compile("|".join(f"(?:{p})" for p in patterns))  # lower case, matched against lower-cased text


@lru_cache(maxsize=4)
def load_config(path: Path) -> RecurConfig:
    """Read models/recurrence.toml (cached per path; nothing is read at import)."""
    data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    cue_patterns = {k: v for k, v in data["cues"].items() if k not in ("general_topics", "imperatives")}
    return RecurConfig(
        version=data["version"],
        vectors=data["vectors"],
        linking=data["linking"],
        episodes=data["episodes"],
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


# ---------------------------------------------------------------- cues from the text


@dataclass(frozen=True)
class Cues:
    topics: frozenset[str]
    primary: str | None  # the main topic
    thread: str | None
    status: str | None
    recap: bool
    service: str | None


def normalise(text: str) -> str:
    """Lower case, one kind of apostrophe, single spaces: what cue patterns are matched against."""
    return " ".join(text.replace("’", "'").replace("‘", "'").lower().split())


def status_in_text(text: str, config: RecurConfig) -> str | None:
    """new, persisting, improved or resolved when the statement says so, else None. A mixed verdict (some
    recommendations met, others not) is improvement."""
    t = normalise(text)
    said = [name for name, rx in config.status if rx.search(t)]
    if "resolved" in said and "persisting" in said and "new" not in said:
        return "improved"
    return said[0] if said else None


def cues(item: Item, config: RecurConfig) -> Cues:
    t, p = normalise(item.text), config.patterns
    body = p["speaker"].sub("", t, count=1)  # "The Director said that ..." is not about leadership
    body = body if len(body.split()) >= 4 else t
    found = sorted(
        (name in config.general_topics, m.start(), name) for name, rx in config.topics if (m := rx.search(body))
    )
    topics = frozenset(name for _, _, name in found)
    thread = next((name for name, rx in config.threads if rx.search(t)), None)
    # A judgement on one specific issue belongs to that issue; a list of several belongs to the whole.
    listing = (
        len(topics) >= 2
        and bool(p["enumeration"].search(t))
        and len(re.findall(r"[,;:](?!\d)", t)) >= config.linking["summary_separators"]
    )
    if len(topics) >= config.linking["summary_topics"] or listing:
        thread = thread or "overall"
    elif thread == "overall" and topics:
        thread = None
    service = item.service
    if service is None:
        named = [name for name in ("children", "adults") if p[f"service_{name}"].search(t)]
        service = named[0] if len(named) == 1 else ("both" if named else None)
    return Cues(
        topics, found[0][2] if found else None, thread, status_in_text(t, config), bool(p["recap"].search(t)), service
    )


def is_concern(
    text: str, kind: str | None, heading: str | None, doc_type: str | None, config: RecurConfig
) -> Pick | None:
    """Is this statement a recommendation, a concern or a judgement on progress (or, outside inspection
    reports, a discussion of one)? None for statements to leave out.

    In an inspection report, recommendations, items under a recommendations heading, stated concerns and
    thread statements raise concerns; recaps ("at our last inspection we found") are discussion; other
    findings may only join an existing concern. Report furniture (introductions, methods, the list of what
    follows) is left out. Elsewhere, statements that name a topic or a thread are discussion, and only
    thread statements (a warning notice, an overall verdict) may open a concern.
    """
    t, p = normalise(text), config.patterns
    heading = normalise(heading or "")
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
    if (
        kind == "recommendation"
        or first in config.imperatives
        or listed
        or p["concern"].search(t)
        or c.status in ("new", "persisting")
    ):
        return Pick("raised", True)
    return Pick(None, False) if kind == "finding" and len(t.split()) >= 6 else None


def pick_recommendations(
    statements: Iterable[Any],
    *,
    local_authority: str,
    doc_type: str | None,
    date: str | None,
    service: str | None,
    config: RecurConfig,
    labels: Mapping[str, Sequence[str]] | None = None,
) -> list[Item]:
    """The `Item`s to link from one document's `Statement`s, chosen by `is_concern`."""
    items = []
    for s in statements:
        pick = is_concern(s.text, s.kind, s.heading, doc_type, config)
        if pick is not None:
            items.append(
                Item(
                    s.id,
                    s.text,
                    local_authority,
                    date,
                    s.document_id,
                    s.seq,
                    doc_type,
                    service,
                    s.lemmas,
                    tuple((labels or {}).get(s.id, ())),
                    pick.role,
                    not pick.raises,
                )
            )
    return items
