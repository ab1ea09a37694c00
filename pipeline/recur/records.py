"""The records of the recurrence stage: what is linked (`Item`), what linking says (`Assignment`, `Mention`,
`Link`), what it builds (`Concern`), and what reviewers decide (`Decisions`).

Frozen dataclasses with no behaviour beyond small helpers, so that picking, the index and linking
(`recur_cues`, `recur_index`, `recur`) can share them without importing each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


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
    a new one); `must_link` pairs share a concern; `cannot_link` pairs never do; `excluded` keeps a statement
    out of the concerns with the given ids, whoever else is in them (and a concern it opens gets another id)."""

    fixed: Mapping[str, str] = field(default_factory=dict)
    must_link: frozenset[tuple[str, str]] = frozenset()
    cannot_link: frozenset[tuple[str, str]] = frozenset()
    excluded: Mapping[str, frozenset[str]] = field(default_factory=dict)

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
