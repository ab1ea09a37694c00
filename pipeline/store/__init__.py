"""The SQLite store: the only code that imports sqlite-utils, writes the database and turns rows into records.

One module per table family: `db` (opening, shape from `schema`, transactions, row writes), `documents`
(documents, statements, entities, people, the ledger), `predictions` (labels and corrections), `recurrence`
(pairs, concerns, mentions, link reviews), `runs` (runs, source health); `anchors` moves people's decisions to
the successors of their statements, `check` checks a file's integrity. Each document is written in one
transaction together with its ledger row, so a crash never leaves half a document behind. Callers use the
package (`store.save_document(db, ...)`); these names are its interface.
"""

from pipeline.store.db import connect, ensure_db_shape, integrity_ok, now, open_db, transaction, write_rows
from pipeline.store.documents import (
    council_documents,
    document_ids,
    document_row,
    entity_row,
    has_language_parts,
    layout_row,
    ledger,
    ledger_entry,
    ledger_row,
    person_mentions,
    replace_people,
    save_document,
    save_failure,
    statement_aliases,
    statement_councils,
    statement_count,
    statement_row,
    stored_document,
    stored_statements,
)
from pipeline.store.predictions import (
    apply_corrections,
    corrections_for_training,
    corrections_map,
    prediction_row,
    replace_predictions,
    save_corrections,
    save_predictions,
)
from pipeline.store.recurrence import (
    MENTION_FIELDS,
    clear_recurrence,
    link_due,
    link_reviews,
    mark_linked,
    pairing_candidates,
    recurrence_inputs,
    save_pairs,
    save_recurrence,
    save_reviews,
    stored_mentions,
)
from pipeline.store.runs import finish_run, mark_interrupted_runs, save_source_health, source_health, start_run
from pipeline.store.schema import SCHEMA, TABLES, VIEWS, Column, Table

__all__ = [
    "MENTION_FIELDS",
    "SCHEMA",
    "TABLES",
    "VIEWS",
    "Column",
    "Table",
    "apply_corrections",
    "clear_recurrence",
    "connect",
    "corrections_for_training",
    "corrections_map",
    "council_documents",
    "document_ids",
    "document_row",
    "entity_row",
    "ensure_db_shape",
    "finish_run",
    "has_language_parts",
    "integrity_ok",
    "layout_row",
    "ledger",
    "ledger_entry",
    "ledger_row",
    "link_due",
    "link_reviews",
    "mark_interrupted_runs",
    "mark_linked",
    "now",
    "open_db",
    "pairing_candidates",
    "person_mentions",
    "prediction_row",
    "recurrence_inputs",
    "replace_people",
    "replace_predictions",
    "save_corrections",
    "save_document",
    "save_failure",
    "save_pairs",
    "save_predictions",
    "save_recurrence",
    "save_reviews",
    "save_source_health",
    "source_health",
    "start_run",
    "statement_aliases",
    "statement_councils",
    "statement_count",
    "statement_row",
    "stored_document",
    "stored_mentions",
    "stored_statements",
    "transaction",
    "write_rows",
]
