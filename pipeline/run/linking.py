"""Recurrence over the database: link the statements of newly stored documents into the stored concerns, and
apply reviewers' decisions.

The glue between `store` (what is stored), `recur` (pure linking) and `review`
(reviewers' decisions). New documents: the linking index is rebuilt from stored
mentions (nothing is relinked), only the new documents' recommendations and
concerns are linked, and the concerns of their councils are recomputed and
written back. Reviews: the councils a review file touches are relinked from
their documents with every stored decision applied, and only their rows are
rewritten. Decisions are loaded from `link_reviews` on both paths, so they win
after new documents and re-ingestion too.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path
from typing import Any

from pipeline import recur, store
from pipeline.config import Settings
from pipeline.recur import review


@dataclass(frozen=True)
class _StatementView:
    id: str
    document_id: str
    seq: int
    text: str
    kind: str
    heading: str | None
    lemmas: str


def _by_document(rows: list[dict[str, Any]]) -> Iterable:
    return groupby(
        rows,
        key=lambda r: (
            r["document_id"],
            r["local_authority"],
            r["doc_type"],
            r["published"],
            r["service"] if r["service"] in ("children", "adults") else None,
        ),
    )


def _pick(
    rows: list[dict[str, Any]], config: recur.RecurConfig, forced: Iterable[str] = ()
) -> tuple[list[recur.Item], recur.Described | None]:
    """The items to link from `recurrence_inputs` rows: those `recur.pick_recommendations` picks, plus any
    statement a reviewer put in a concern (`forced`) that the picker leaves out; and the picked statements as
    the models described them while picking, for `recur.link` to reuse."""
    forced = set(forced)
    items: list[recur.Item] = []
    kept: list[recur.Described] = []
    for (_, council, doc_type, date, service), group in _by_document(rows):
        group = list(group)
        statements = [
            _StatementView(**{k: r[k] for k in ("id", "document_id", "seq", "text", "kind", "heading", "lemmas")})
            for r in group
        ]
        english_ids = {r["id"] for r in group if r["language"] == "en"}
        english = [s for s in statements if s.id in english_ids]
        labels = {r["id"]: json.loads(r["labels"]) for r in group if r["labels"]}
        described = recur.describe_statements([s.id for s in english], [s.text for s in english], config)
        picked = recur.pick_recommendations(
            english,  # the cues are English
            local_authority=council,
            doc_type=doc_type,
            date=date,
            service=service,
            config=config,
            labels=labels,
            described=described,
        )
        chosen = {i.id for i in picked}
        picked += [
            recur.Item(
                s.id,
                s.text,
                council,
                date,
                s.document_id,
                s.seq,
                doc_type,
                service,
                s.lemmas or "",
                tuple(labels.get(s.id, ())),
            )
            for s in statements
            if s.id in forced - chosen
        ]
        kept.append(described.only(i.id for i in picked if i.id in english_ids))  # a forced one too, if described
        items += sorted(picked, key=lambda i: i.seq if i.seq is not None else -1)
    return items, recur.Described.joined(kept)


def _picked_rows(items: list[recur.Item], assignments: list[recur.Assignment]) -> list[dict[str, Any]]:
    return [
        {
            "statement_id": i.id,
            "document_id": i.document_id,
            "local_authority": i.local_authority,
            "service": i.service,
            "date": i.date,
            "doc_type": i.doc_type,
            "role": i.role,
            "raises": int(not i.attach_only),
            "concern_id": a.concern_id,
            "text": i.text,
        }
        for i, a in zip(items, assignments)
    ]


def _stored(
    db: Any, local_authorities: Iterable[str] | None = None
) -> tuple[list[recur.Mention], list[dict[str, Any]]]:
    stored = store.stored_mentions(db, local_authorities)
    return [
        recur.Mention(
            **{f: r[f] for f in store.MENTION_FIELDS if f != "areas"}, areas=tuple(json.loads(r["areas"] or "[]"))
        )
        for r in stored
    ], stored


def link_new_documents(db: Any, settings: Settings, document_ids: list[str], spread: Spread | None = None) -> int:
    """Link the statements of `document_ids` (English ones the picker picks, and any a reviewer placed) into
    the stored concerns, with reviewers' decisions applied; returns new mentions written. `db` is an open store
    database (pipeline.store.open_db); all reads and writes go through pipeline.store, in this process.

    Linking never crosses councils, so it goes council by council: a council's stored mentions and its due
    documents' statements are read from the database, linked and written before the next council's are read.
    Memory is bounded by the largest councils in flight, not by the database (a full relink of 10,000 documents
    holds a few councils' statements at a time). `spread` (pipeline.run.batches.spread during an ingest run)
    links councils side by side in fresh worker processes, a few at a time and written in order; without it
    each council is linked here."""
    decisions = review.decisions_from(store.link_reviews(db))
    due = set(document_ids)
    by_council: dict[str, list[str]] = {}
    for document_id, council in store.council_documents(db):
        if document_id in due:
            by_council.setdefault(recur.council_key(council), []).append(document_id)
    names: dict[str, set[str]] = {}
    for name in store.mention_councils(db):
        names.setdefault(recur.council_key(name), set()).add(name)
    work = (
        _council_work(db, key, documents, names.get(key, set()), decisions) for key, documents in by_council.items()
    )
    if spread is None:
        config = recur.config_for(settings)
        linked: Iterable[CouncilLinked] = (_link_council(config, w) for w in work)
    else:
        linked = spread(link_council, settings, work, True)  # fresh workers: the processing models let go
    return sum(store.save_recurrence(db, *result) for result in linked)


@dataclass(frozen=True)
class CouncilWork:
    """What linking one council needs from the database: its stored mentions (with their statements' seq and
    lemmas), its due documents' statements (`store.recurrence_inputs`) and the reviewers' decisions."""

    key: str
    mentions: list[recur.Mention]
    stored: list[tuple[int | None, str]]
    rows: list[dict[str, Any]]
    decisions: recur.Decisions


# new mentions, the council's concerns, the picked rows: the arguments of store.save_recurrence after `db`
CouncilLinked = tuple[list[recur.Mention], list[recur.Concern], list[dict[str, Any]]]
Spread = Callable[
    [Callable[[Settings, CouncilWork], CouncilLinked], Settings, Iterable[CouncilWork], bool], Iterable[Any]
]


def _council_work(
    db: Any, key: str, document_ids: list[str], names: set[str], decisions: recur.Decisions
) -> CouncilWork:
    mentions, stored = _stored(db, sorted(names))
    return CouncilWork(
        key,
        mentions,
        [(r["seq"], r["lemmas"] or "") for r in stored],
        store.recurrence_inputs(db, document_ids),
        decisions,
    )


def link_council(settings: Settings, work: CouncilWork) -> CouncilLinked:
    """Link one council's due documents into its stored concerns (no database: see `link_new_documents`)."""
    return _link_council(recur.config_for(settings), work)


def _link_council(config: recur.RecurConfig, work: CouncilWork) -> CouncilLinked:
    index = recur.index_from(
        (
            (
                recur.Item(
                    m.statement_id,
                    m.text,
                    m.local_authority,
                    m.date,
                    m.document_id,
                    seq,
                    m.doc_type,
                    m.service,
                    lemmas,
                    m.areas,
                    m.role,
                ),
                m,
            )
            for m, (seq, lemmas) in zip(work.mentions, work.stored, strict=True)
        ),
        config,
    )
    items, described = _pick(work.rows, config, work.decisions.fixed)
    assignments, _ = recur.link(items, index, config, work.decisions, described)
    new = [a.mention for a in assignments if a.mention is not None]
    # Every concern of the council is recomputed: a re-ingested document's old mentions are gone.
    concerns = recur.concerns_from(
        m for m in [*work.mentions, *new] if recur.council_key(m.local_authority) == work.key
    )
    return new, concerns, _picked_rows(items, assignments)


@dataclass(frozen=True)
class Relinked:
    """A council's recurrence rows rebuilt with the decisions applied, ready for `store.save_reviews`."""

    councils: frozenset[str]  # local_authority values whose rows are replaced
    mentions: list[recur.Mention]
    concerns: list[recur.Concern]
    picked: list[dict[str, Any]]


def relink_councils(db: Any, settings: Settings, council_keys: Iterable[str], decisions: recur.Decisions) -> Relinked:
    """Link every document of these councils again, in time order, from an empty index and with `decisions`
    (the batch gives what document-by-document linking gives, so unreviewed concerns come out as they were).
    Writes nothing."""
    config = recur.config_for(settings)
    keys = set(council_keys)
    documents = [(d, c) for d, c in store.council_documents(db) if recur.council_key(c) in keys]
    items, described = _pick(store.recurrence_inputs(db, [d for d, _ in documents]), config, decisions.fixed)
    assignments, _ = recur.link(items, None, config, decisions, described)
    mentions = [a.mention for a in assignments if a.mention is not None]
    names = {c for _, c in documents} | {
        m["local_authority"] for m in store.stored_mentions(db) if recur.council_key(m["local_authority"]) in keys
    }
    return Relinked(frozenset(names), mentions, recur.concerns_from(mentions), _picked_rows(items, assignments))


@dataclass
class ReviewReport:
    """What `apply_reviews` did: one outcome per row, the councils relinked and how many concerns they have."""

    outcomes: list[review.Outcome] = field(default_factory=list)
    councils: list[str] = field(default_factory=list)
    concerns: int = 0

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)


def apply_reviews(db: Any, settings: Settings, path: Path, reviewer: str | None = None) -> ReviewReport:
    """Import a review CSV (see `pipeline.recur.review`): check each row, store the good ones in `link_reviews`,
    and relink the councils they touch with every stored decision applied, all in one transaction. A bad row
    is reported in the outcomes and costs only itself. Raises review.ReviewError for an unreadable file."""
    return apply_review_rows(db, settings, review.read_review_csv(path), str(path), reviewer)


def apply_review_rows(
    db: Any, settings: Settings, rows: list[tuple[int, dict[str, str]]], source: str, reviewer: str | None = None
) -> ReviewReport:
    """`apply_reviews` for (line, row) pairs from anywhere: a CSV file, or the decisions reviewers recorded on
    the site (pipeline/run/site_reviews.py; their `line` is the decision's id). `source` is stored with
    each decision."""
    history = store.link_reviews(db)
    named = {value for _, row in rows for c in ("statement_id", "other") if (value := row.get(c))}
    view = review.LinkView.build(store.stored_mentions(db), store.statement_councils(db, named), history)
    groups, report, accepted = review.split_groups(rows), ReviewReport(), []
    stamp = store.now()
    for line, row in rows:
        key = (
            row.get("action", ""),
            row.get("statement_id") or None,
            row.get("concern_id") or None,
            row.get("other") or None,
        )
        if review.already_recorded(row, view):
            report.outcomes.append(review.Outcome(line, *key, status="already recorded"))
            continue
        try:
            decision = review.check_row(row, view, groups)
        except review.RowError as exc:
            report.outcomes.append(review.Outcome(line, *key, status="failed", error=str(exc)))
            continue
        council = view.councils[decision["resolved"].get("concern") or decision["statement_id"]]
        review.apply_to_view(decision, view)
        accepted.append(
            (
                council,
                {
                    **decision,
                    "reviewer": row.get("reviewer") or reviewer,
                    "note": row.get("note") or None,
                    "at": stamp,
                    "source_file": source,
                    "line": line,
                },
            )
        )
        report.outcomes.append(review.Outcome(line, *key, status="recorded"))
    if accepted:
        decisions = review.decisions_from(
            [*history, *({**d, "resolved": json.dumps(d["resolved"])} for _, d in accepted)]
        )
        relinked = relink_councils(db, settings, {c for c, _ in accepted}, decisions)
        store.save_reviews(
            db, [d for _, d in accepted], relinked.councils, relinked.mentions, relinked.concerns, relinked.picked
        )
        report.councils, report.concerns = sorted(relinked.councils), len(relinked.concerns)
    return report
