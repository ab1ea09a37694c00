"""Recurrence over the database: link the statements of newly stored documents into the stored concerns.

The glue between `store` (what is stored) and `recur` (pure linking): the linking
index is rebuilt from stored mentions (nothing is relinked), only the new
documents' recommendations and concerns are linked, and the concerns they touch
are recomputed and written back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from itertools import groupby
from typing import Any, Iterable

from . import recur, store
from .config import Settings


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
    return groupby(rows, key=lambda r: (r["document_id"], r["local_authority"], r["doc_type"], r["published"],
                                        r["service"] if r["service"] in ("children", "adults") else None))


def link_new_documents(db: Any, settings: Settings, document_ids: list[str]) -> int:
    """Link the English statements of `document_ids` into the stored concerns; returns new mentions written.
    `db` is an open store database (pipeline.store.open_db); all reads and writes go through pipeline.store."""
    config = recur.config_for(settings)
    stored = store.stored_mentions(db)
    mentions = [recur.Mention(**{f: r[f] for f in store.MENTION_FIELDS if f != "areas"},
                              areas=tuple(json.loads(r["areas"] or "[]"))) for r in stored]
    index = recur.index_from(((recur.Item(m.statement_id, m.text, m.local_authority, m.date, m.document_id,
                                           r["seq"], m.doc_type, m.service, r["lemmas"] or "", m.areas, m.role),
                               m) for m, r in zip(mentions, stored)), config)
    rows = [r for r in store.recurrence_inputs(db, document_ids) if r["language"] == "en"]
    items: list[recur.Item] = []
    for (_, council, doc_type, date, service), group in _by_document(rows):
        group = list(group)
        statements = [_StatementView(**{k: r[k] for k in ("id", "document_id", "seq", "text", "kind", "heading",
                                                            "lemmas")}) for r in group]
        labels = {r["id"]: json.loads(r["labels"]) for r in group if r["labels"]}
        items += recur.pick_recommendations(statements, local_authority=council, doc_type=doc_type, date=date,
                                            service=service, config=config, labels=labels)
    assignments, _ = recur.link(items, index, config)
    new = [a.mention for a in assignments if a.mention is not None]
    touched = {m.concern_id for m in new}
    concerns = recur.concerns_from(m for m in [*mentions, *new] if m.concern_id in touched)
    picked = [{"statement_id": i.id, "document_id": i.document_id, "local_authority": i.local_authority,
               "service": i.service, "date": i.date, "doc_type": i.doc_type, "role": i.role,
               "raises": int(not i.attach_only), "concern_id": a.concern_id, "text": i.text}
              for i, a in zip(items, assignments)]
    return store.save_recurrence(db, new, concerns, picked)
