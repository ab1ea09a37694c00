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
import pickle
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path
from typing import Any, BinaryIO

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
    english_rows = [r for r in rows if r["language"] == "en"]
    # one call to the models for the whole batch (each statement's description is its own)
    described = recur.describe_statements([r["id"] for r in english_rows], [r["text"] for r in english_rows], config)
    for (_, council, doc_type, date, service), group in _by_document(rows):
        group = list(group)
        statements = [
            _StatementView(**{k: r[k] for k in ("id", "document_id", "seq", "text", "kind", "heading", "lemmas")})
            for r in group
        ]
        english_ids = {r["id"] for r in group if r["language"] == "en"}
        english = [s for s in statements if s.id in english_ids]
        labels = {r["id"]: json.loads(r["labels"]) for r in group if r["labels"]}
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


def _stored(db: Any, local_authorities: Iterable[str]) -> list[tuple[recur.Item, recur.Mention]]:
    """The stored mentions of these councils (by the names stored with them), each with the item it was linked
    as: what `recur.index_from` rebuilds an index from."""
    out = []
    for r in store.stored_mentions(db, local_authorities):
        m = recur.Mention(
            **{f: r[f] for f in store.MENTION_FIELDS if f != "areas"}, areas=tuple(json.loads(r["areas"] or "[]"))
        )
        item = recur.Item(
            m.statement_id,
            m.text,
            m.local_authority,
            m.date,
            m.document_id,
            r["seq"],
            m.doc_type,
            m.service,
            r["lemmas"] or "",
            m.areas,
            m.role,
        )
        out.append((item, m))
    return out


def _batches(documents: list[tuple[str, int]], limit: int) -> Iterator[list[str]]:
    """Time-ordered (document id, statements) split into runs of whole documents of about `limit` statements."""
    batch: list[str] = []
    size = 0
    for document_id, n in documents:
        if batch and size + n > limit:
            yield batch
            batch, size = [], 0
        batch.append(document_id)
        size += n
    if batch:
        yield batch


def _council_batches(db: Any, keys: set[str] | None, due: set[str] | None, limit: int) -> dict[str, list[list[str]]]:
    """For each council (of `keys`, or all), its documents (of `due`, or all) in batches, in the order linking
    takes them (`recur.order_key`: by day, undated last, then by id), so that batches of any size link alike."""
    by_council: dict[str, list[tuple[int, str, int]]] = {}
    for document_id, council, published, n in store.documents_to_link(db):
        key = recur.council_key(council)
        if (due is None or document_id in due) and (keys is None or key in keys):
            by_council.setdefault(key, []).append((recur.day_number(published), document_id, n))
    return {
        key: list(_batches([(d, n) for _, d, n in sorted(documents)], limit)) for key, documents in by_council.items()
    }


# one batch linked: its new mentions, the concerns they touch and the picked rows (store.save_recurrence's
# arguments after `db`)
BatchLinked = tuple[list[recur.Mention], list[recur.Concern], list[dict[str, Any]]]


def _link_batches(
    key: str,
    stored: list[tuple[recur.Item, recur.Mention]],
    batches: Iterable[list[dict[str, Any]]],
    config: recur.RecurConfig,
    decisions: recur.Decisions,
) -> Iterator[BatchLinked]:
    """Link one council's batches of statements (`store.recurrence_inputs` rows, time-ordered) into an index of
    its stored mentions carried from batch to batch: for each batch, its new mentions, the concerns they touch
    (every concern of the council with the first batch: a re-ingested document's old mentions are gone) and
    the picked rows. Holds the council's index (bounded by `rows_per_concern`), its concerns' states (every
    mention of the council, without their vectors) and one batch at a time."""
    index = recur.index_from(stored, config)
    del stored
    first = True
    for rows in batches:
        items, described = _pick(rows, config, decisions.fixed)
        assignments, index = recur.link(items, index, config, decisions, described)
        new = [a.mention for a in assignments if a.mention is not None]
        block = index.blocks.get(key)
        states = block.concerns if block is not None else {}
        touched = set(states) if first else {m.concern_id for m in new}
        concerns = recur.concerns_from(
            m for cid in touched for m in states[cid].mentions if recur.council_key(m.local_authority) == key
        )
        yield new, concerns, _picked_rows(items, assignments)
        first = False


@dataclass(frozen=True)
class CouncilWork:
    """One council to link: `path` holds (pickled, written by `link_new_documents`) its stored mentions as
    (item, mention) pairs, then one list of `store.recurrence_inputs` rows per batch of its due documents."""

    key: str
    path: str
    decisions: recur.Decisions


def link_council(settings: Settings, work: CouncilWork) -> str:
    """Link one council from its work file, batch by batch, writing each batch's `BatchLinked` (pickled) to a
    results file beside it, whose path it returns. No database: this runs in a worker process during an ingest
    run, and reads and writes one batch at a time."""
    config = recur.config_for(settings)
    out = work.path + ".linked"
    with open(work.path, "rb") as source, open(out, "wb") as sink:
        for linked in _link_batches(work.key, pickle.load(source), _pickled(source), config, work.decisions):
            pickle.dump(linked, sink, protocol=pickle.HIGHEST_PROTOCOL)
    return out


def _pickled(f: BinaryIO) -> Iterator[Any]:
    while True:
        try:
            yield pickle.load(f)
        except EOFError:
            return


def link_new_documents(db: Any, settings: Settings, document_ids: list[str], spread: Spread | None = None) -> int:
    """Link the statements of `document_ids` (English ones the picker picks, and any a reviewer placed) into
    the stored concerns, with reviewers' decisions applied; returns new mentions written. `db` is an open store
    database (pipeline.store.open_db); all reads and writes go through pipeline.store, in this process.

    Linking never crosses councils, so it goes council by council, and within a council in time-ordered batches
    of whole documents (`batch_statements` statements or so), linked into the council's index carried from
    batch to batch. This process writes each council's stored mentions and the statements of its batches, read
    from the database a batch at a time, to a temporary file beside the database; a worker (`spread`:
    pipeline.run.batches.spread during an ingest run, fresh workers so that the processing models are let go;
    without it, this process) picks and links them batch by batch into a results file; and this process writes
    the results to the database batch by batch, council after council in order. The workers link councils side
    by side (a few in flight). Memory is bounded by a batch, one council's index (`rows_per_concern` bounds its
    vectors by the council's concerns) and its mentions, not by the database."""
    # with workers, this process only hands out councils and writes results: the numbers, not the models
    numbers = recur.config_for(settings).linking if spread is None else recur.linking_numbers(settings)
    decisions = review.decisions_from(store.link_reviews(db))
    batches = _council_batches(db, None, set(document_ids), int(numbers["batch_statements"]))
    names: dict[str, set[str]] = {}
    for name in store.mention_councils(db):
        names.setdefault(recur.council_key(name), set()).add(name)
    # beside the database, not in a temporary directory that may be held in memory
    with tempfile.TemporaryDirectory(
        prefix="scrutiny-link-", dir=Path(settings.db_path).parent, ignore_cleanup_errors=True
    ) as tmp:

        def works() -> Iterator[CouncilWork]:
            for n, (key, council) in enumerate(batches.items()):
                path = str(Path(tmp) / f"council-{n}")
                with open(path, "wb") as f:
                    pickle.dump(_stored(db, sorted(names.get(key, set()))), f, protocol=pickle.HIGHEST_PROTOCOL)
                    for batch in council:
                        pickle.dump(store.recurrence_inputs(db, batch), f, protocol=pickle.HIGHEST_PROTOCOL)
                yield CouncilWork(key, path, decisions)

        done = (
            (link_council(settings, w) for w in works())
            if spread is None
            else spread(link_council, settings, works(), True)
        )
        written = 0
        for out in done:
            with open(out, "rb") as f:
                for new, concerns, picked in _pickled(f):
                    written += store.save_recurrence(db, new, concerns, picked)
            Path(out).unlink()
            Path(out.removesuffix(".linked")).unlink(missing_ok=True)
        return written


# the worker's function, settings and work items, and whether to start fresh workers: pipeline.run.batches.spread
Spread = Callable[[Callable[[Settings, CouncilWork], str], Settings, Iterable[CouncilWork], bool], Iterable[Any]]


@dataclass(frozen=True)
class Relinked:
    """A council's recurrence rows rebuilt with the decisions applied, ready for `store.save_reviews`."""

    councils: frozenset[str]  # local_authority values whose rows are replaced
    mentions: list[recur.Mention]
    concerns: list[recur.Concern]
    picked: list[dict[str, Any]]


def relink_councils(db: Any, settings: Settings, council_keys: Iterable[str], decisions: recur.Decisions) -> Relinked:
    """Link every document of these councils again, in time order and in the batches an ingest of all of them
    links, from an empty index and with `decisions` (so unreviewed concerns come out as they were). Writes
    nothing."""
    config = recur.config_for(settings)
    keys = set(council_keys)
    mentions: dict[str, recur.Mention] = {}
    concerns: dict[str, recur.Concern] = {}
    rows: list[dict[str, Any]] = []
    for key, council in _council_batches(db, keys, None, int(config.linking["batch_statements"])).items():
        batches = (store.recurrence_inputs(db, batch) for batch in council)
        for new, touched, picked in _link_batches(key, [], batches, config, decisions):
            mentions.update((m.statement_id, m) for m in new)
            concerns.update((c.concern_id, c) for c in touched)
            rows.extend(picked)
    names = {c for d, c in store.council_documents(db) if recur.council_key(c) in keys} | {
        name for name in store.mention_councils(db) if recur.council_key(name) in keys
    }
    return Relinked(frozenset(names), list(mentions.values()), list(concerns.values()), rows)


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
