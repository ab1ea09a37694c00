"""Reviewers' decisions on concerns: read from CSV, checked row by row, and replayed into `recur.Decisions`.

A review file is a CSV with a header row and one decision per row. Columns:
`action` (required), `statement_id`, `concern_id`, `other`, and optionally
`note` and `reviewer`:

    action,statement_id,concern_id,other,note
    confirm,3f2a9c1d0b7e4a55:1200-1318,glanmor-a152c75f91,,same turnover problem
    reject,3f2a9c1d0b7e4a55:1319-1402,glanmor-a152c75f91,,about supervision and not turnover
    reject,3f2a9c1d0b7e4a55:1319-1402,,8d1e0c9a7b6f5e4d:88-190,two different issues
    merge,,glanmor-a152c75f91,glanmor-7e9ff1df22,one workforce problem
    split,3f2a9c1d0b7e4a55:1403-1500,glanmor-7e9ff1df22,foster,foster carers are their own issue

- confirm: the statement belongs to the concern;
- reject: the statement does not belong to the concern (or never shares one with the `other` statement);
- merge: the two concerns are one (the first keeps its id);
- split: the statement moves out of the concern (default: the one it is in) into a new concern; rows of one
  file with the same `other` name move together into the same new concern, rows without one each alone.

Each row is checked on its own: a bad row gets a reason and the good rows still land. A decision is stored
with what it meant when imported (`resolved`: the statements of the concerns it named), and `decisions_from`
replays the stored decisions in order, a later one winning, into `recur.Decisions`. Because the replay never
looks at the current links, a rejected link never comes back and a merge or split holds after new documents
and re-ingestion, however the algorithm would link them. A concern's id derives from its first statement: when
a decision takes that statement out, the first statement staying (the `heir`) is pinned to the concern, which
so keeps its id.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.classify.corrections import STATEMENT_ID
from pipeline.errors import PipelineError
from pipeline.recur import Decisions, concern_id_for, council_key

ACTIONS = ("confirm", "reject", "merge", "split")
COLUMNS = ("action", "statement_id", "concern_id", "other", "note", "reviewer")
_NEEDS = {  # action -> columns a row must fill
    "confirm": ("statement_id", "concern_id"),
    "reject": ("statement_id",),  # and concern_id or other
    "merge": ("concern_id", "other"),
    "split": ("statement_id",),
}


class ReviewError(PipelineError):
    """A review file that cannot be read at all (bad rows are reported one by one instead)."""

    stage = "review"


class RowError(ValueError):
    """Why one row of a review file was not imported, in words a reviewer understands."""


@dataclass(frozen=True)
class Outcome:
    """What became of one row: `recorded`, `already recorded` (an identical decision is the latest one),
    or `failed` with an `error`."""

    line: int
    action: str
    statement_id: str | None
    concern_id: str | None
    other: str | None
    status: str
    error: str | None = None

    def as_row(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "action": self.action,
            "statement_id": self.statement_id,
            "concern_id": self.concern_id,
            "other": self.other,
            "status": self.status,
            "error": self.error,
        }


def read_review_csv(path: Path) -> list[tuple[int, dict[str, str]]]:
    """(line number, row) for every non-blank row; raises ReviewError only when the file cannot be read as a
    review file at all (not UTF-8 CSV, or no `action` column)."""
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            fields = [(f or "").strip().lower() for f in reader.fieldnames or []]
            if "action" not in fields:
                raise ReviewError(
                    f"{path}: no 'action' column; the header must name the columns "
                    f"{', '.join(COLUMNS[:4])} (and optionally note, reviewer)"
                )
            rows = []
            for row in reader:
                clean = {
                    (k or "").strip().lower(): (v or "").strip() if isinstance(v, str) else ""
                    for k, v in row.items()
                    if k is not None
                }
                if any(clean.values()):
                    rows.append((reader.line_num, clean))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ReviewError(f"{path}: cannot be read as CSV: {exc}") from None
    return rows


# ---------------------------------------------------------------- the links as they stand


@dataclass
class LinkView:
    """The concerns as the database has them, updated row by row as a file is checked, so that a later row
    of the same file sees what an earlier one did."""

    members: dict[str, set[str]]  # concern id -> statement ids
    councils: dict[str, str]  # concern id or statement id -> council key
    history: list[dict[str, Any]]  # stored decisions, oldest first
    aliases: dict[str, str] = field(default_factory=dict)  # merged-away concern -> the one it joined
    rank: dict[str, int] = field(default_factory=dict)  # statement id -> its place in time order

    @classmethod
    def build(
        cls,
        mentions: Iterable[dict[str, Any]],
        statement_councils: dict[str, str | None],
        history: list[dict[str, Any]],
    ) -> LinkView:
        members: dict[str, set[str]] = {}
        councils = {sid: council_key(c) for sid, c in statement_councils.items() if c}
        rank: dict[str, int] = {}
        for m in mentions:  # in time order
            rank[m["statement_id"]] = len(rank)
            members.setdefault(m["concern_id"], set()).add(m["statement_id"])
            councils.setdefault(m["concern_id"], council_key(m["local_authority"]))
            councils.setdefault(m["statement_id"], council_key(m["local_authority"]))
        view = cls(members, councils, list(history), rank=rank)
        for r in history:
            info = json.loads(r["resolved"] or "{}")
            if r["action"] == "merge" and info.get("other") != info.get("concern"):
                view.aliases[info["other"]] = info["concern"]
        return view

    def resolve(self, concern_id: str) -> str:
        seen = set()
        while concern_id in self.aliases and concern_id not in seen:
            seen.add(concern_id)
            concern_id = self.aliases[concern_id]
        return concern_id

    def concern_of(self, statement_id: str) -> str | None:
        return next((cid for cid, ms in self.members.items() if statement_id in ms), None)

    def heir(self, concern_id: str, leaving: set[str]) -> str | None:
        """When the statements leaving a concern include its first one (whose id the concern's id derives
        from), the first of those staying: the decision pins it to the concern, which so keeps its id."""
        ordered = sorted(self.members[concern_id], key=lambda s: (self.rank.get(s, len(self.rank)), s))
        staying = [s for s in ordered if s not in leaving]
        return staying[0] if staying and ordered[0] in leaving else None

    def move(self, statement_id: str, to: str | None) -> None:
        for ms in self.members.values():
            ms.discard(statement_id)
        if to is not None:
            self.members.setdefault(to, set()).add(statement_id)


def _statement(view: LinkView, sid: str | None, what: str = "statement") -> str:
    if sid is None or not STATEMENT_ID.match(sid):
        raise RowError(f"{what} id {sid!r} is not of the form <16 hex digits>:<start>-<end>")
    if sid not in view.councils:
        raise RowError(f"unknown {what} id {sid!r}: it is not in the database, or its document names no council")
    return sid


def _concern(view: LinkView, cid: str | None) -> str:
    if cid is None:
        raise RowError("a concern id is missing on this row")
    resolved = view.resolve(cid)
    if resolved not in view.members or not view.members[resolved]:
        raise RowError(f"unknown concern id {cid!r}: there is no such concern in the database")
    return resolved


def _same_council(view: LinkView, a: str, b: str) -> None:
    if view.councils[a] != view.councils[b]:
        raise RowError(
            f"{a} is about {view.councils[a]} and {b} about {view.councils[b]}: "
            f"concerns of different councils are never linked"
        )


def check_row(row: dict[str, str], view: LinkView, groups: dict[str, list[str]]) -> dict[str, Any]:
    """One row as a decision ready to store ({"action", "statement_id", "concern_id", "other", "resolved"}), or
    RowError. `groups` maps split names of this file to their statement ids. Does not change `view`."""
    action = row.get("action", "").lower()
    if action not in ACTIONS:
        raise RowError(f"unknown action {row.get('action')!r}: use one of {', '.join(ACTIONS)}")
    empty = [c for c in _NEEDS[action] if not row.get(c)]
    if action == "reject" and not (row.get("concern_id") or row.get("other")):
        empty.append("concern_id or other")
    if empty:
        raise RowError(f"{action} needs {' and '.join(empty)}, missing on this row")
    sid, cid, other = row.get("statement_id") or None, row.get("concern_id") or None, row.get("other") or None
    if action == "merge":
        x, y = _concern(view, cid), _concern(view, other)
        if x == y and cid == other:
            raise RowError(f"merge names the same concern twice ({cid})")
        _same_council(view, x, y)
        resolved: dict[str, Any] = {
            "concern": x,
            "members": sorted(view.members[x]),
            "other": y,
            "other_members": sorted(view.members[y]),
        }
        return {"action": action, "statement_id": None, "concern_id": cid, "other": other, "resolved": resolved}
    sid = _statement(view, sid)
    if action == "reject" and not cid:
        _same_council(view, sid, _statement(view, other, "other statement"))
        if other == sid:
            raise RowError("reject names the same statement twice")
        return {
            "action": action,
            "statement_id": sid,
            "concern_id": None,
            "other": other,
            "resolved": {"statement": other},
        }
    if action == "split":
        current = view.concern_of(sid)
        source = _concern(view, cid) if cid else current
        if source is None:
            raise RowError(f"statement {sid} is in no concern: there is nothing to split it from")
        if current != source:
            raise RowError(f"statement {sid} is in concern {current or 'none'}, not {cid}")
        group = sorted(set(groups.get(other, [sid]) if other else [sid]))
        new = concern_id_for(view.councils[source], "split " + " ".join(group))
        return {
            "action": action,
            "statement_id": sid,
            "concern_id": cid,
            "other": other,
            "resolved": {
                "concern": source,
                "members": sorted(view.members[source]),
                "new_concern": new,
                "group": group,
                "heir": view.heir(source, set(group)),
            },
        }
    x = _concern(view, cid)
    _same_council(view, sid, x)
    resolved = {"concern": x, "members": sorted(view.members[x] - {sid})}
    if action == "reject" and sid in view.members[x]:
        resolved["heir"] = view.heir(x, {sid})
    return {"action": action, "statement_id": sid, "concern_id": cid, "other": other, "resolved": resolved}


def _key(row: dict[str, Any]) -> tuple:
    return (
        (row.get("action") or "").lower(),
        row.get("statement_id") or None,
        row.get("concern_id") or None,
        row.get("other") or None,
    )


def already_recorded(row: dict[str, Any], view: LinkView) -> bool:
    """True when the same decision is stored and nothing later overrode it (the latest decision on the same
    statement, or for a merge, any identical merge): importing a file twice changes nothing. Checked before
    `check_row`, since a decision already applied may no longer make sense (a split statement is no longer
    in the concern it was split from)."""
    if _key(row)[0] == "merge":
        return any(_key(r) == _key(row) for r in view.history)
    latest = next((r for r in reversed(view.history) if r["statement_id"] == (row.get("statement_id") or None)), None)
    return latest is not None and _key(latest) == _key(row)


def apply_to_view(decision: dict[str, Any], view: LinkView) -> None:
    """What the decision does to the concerns, so later rows of the file see it."""
    info, sid = decision["resolved"], decision["statement_id"]
    action = decision["action"]
    if action == "confirm":
        view.move(sid, info["concern"])
    elif action == "reject" and "statement" in info:
        if view.concern_of(sid) is not None and view.concern_of(sid) == view.concern_of(info["statement"]):
            view.move(sid, None)
    elif action == "reject":
        if sid in view.members.get(info["concern"], ()):
            view.move(sid, None)
    elif action == "merge" and info["concern"] != info["other"]:
        view.members[info["concern"]] |= view.members.pop(info["other"], set())
        view.aliases[info["other"]] = info["concern"]
    elif action == "split":
        view.move(sid, info["new_concern"])
        view.councils[info["new_concern"]] = view.councils[info["concern"]]
    view.history.append({**decision, "resolved": json.dumps(info)})


def split_groups(rows: Iterable[tuple[int, dict[str, str]]]) -> dict[str, list[str]]:
    """Split name -> statement ids of the rows of one file that move together."""
    groups: dict[str, list[str]] = {}
    for _, row in rows:
        if row.get("action", "").lower() == "split" and row.get("other") and row.get("statement_id"):
            groups.setdefault(row["other"], []).append(row["statement_id"])
    return groups


# ---------------------------------------------------------------- replay


def _pair(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a <= b else (b, a)


def decisions_from(reviews: Iterable[dict[str, Any]]) -> Decisions:
    """Replay stored decisions (`link_reviews` rows, oldest first) into `recur.Decisions`; a later decision
    wins over an earlier one on the same statement. Uses only what each decision recorded when imported."""
    fixed: dict[str, str] = {}
    cannot: set[tuple[str, str]] = set()
    excluded: dict[str, set[str]] = {}
    aliases: dict[str, str] = {}

    def resolve(cid: str) -> str:
        seen = set()
        while cid in aliases and cid not in seen:
            seen.add(cid)
            cid = aliases[cid]
        return cid

    for r in reviews:
        info, sid, action = json.loads(r["resolved"] or "{}"), r["statement_id"], r["action"]
        if action == "confirm":
            fixed[sid] = resolve(info["concern"])
            excluded.get(sid, set()).discard(fixed[sid])
            cannot -= {_pair(sid, m) for m in info["members"]}
        elif action == "reject" and "statement" in info:
            cannot.add(_pair(sid, info["statement"]))
            if sid in fixed and fixed.get(sid) == fixed.get(info["statement"]):
                del fixed[sid]
        elif action == "reject":
            x = resolve(info["concern"])
            if fixed.get(sid) == x:
                del fixed[sid]
            excluded.setdefault(sid, set()).add(x)
            cannot |= {_pair(sid, m) for m in info["members"] if m != sid}
            if info.get("heir"):
                fixed[info["heir"]] = x
        elif action == "merge":
            x, y = resolve(info["concern"]), resolve(info["other"])
            if x != y:
                aliases[y] = x
            everyone = set(info["members"]) | set(info["other_members"])
            fixed.update({s: resolve(c) for s, c in fixed.items()})
            fixed.update(dict.fromkeys(everyone, x))
            for s in everyone:
                excluded.get(s, set()).discard(x)
            cannot = {p for p in cannot if not (p[0] in everyone and p[1] in everyone)}
        elif action == "split":
            group = set(info["group"])
            fixed[sid] = info["new_concern"]
            excluded.setdefault(sid, set()).add(resolve(info["concern"]))
            cannot -= {_pair(sid, g) for g in group}
            cannot |= {_pair(sid, m) for m in info["members"] if m not in group}
            if info.get("heir"):
                fixed[info["heir"]] = resolve(info["concern"])
    return Decisions(
        fixed={s: resolve(c) for s, c in fixed.items()},
        cannot_link=frozenset(cannot),
        excluded={s: frozenset(cs | {resolve(c) for c in cs}) for s, cs in excluded.items() if cs},
    )
