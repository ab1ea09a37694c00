"""The database schema as data: every table, column, key, index and FTS index, with descriptions.

pipeline.store creates and completes the database from it (`ensure_db_shape`), and
pipeline.publish generates Datasette's metadata from the same descriptions, so
nothing is written twice.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    name: str
    type: type
    description: str
    fk: str | None = None  # "table.column"


@dataclass(frozen=True)
class Table:
    name: str
    description: str
    pk: str | tuple[str, ...]
    columns: tuple[Column, ...]
    fts: tuple[str, ...] = ()
    indexes: tuple[tuple[str, ...], ...] = ()
    stage: str = "store"  # the stage whose output this table holds


SCHEMA: tuple[Table, ...] = (
    Table(
        "source_health",
        "Watched publishers: when each last worked and last had something new.",
        "name",
        (
            Column("name", str, "Source name in the watch list (corpus/sources.yaml)"),
            Column("kind", str, "Adapter that reads its listing: ciw_reports, moderngov or rss"),
            Column("url", str, "Listing page watched"),
            Column("checked_at", str, "Last check (UTC)"),
            Column("ok", int, "1 when the listing was fetched and links were found on it"),
            Column("last_success_at", str, "Last successful check (UTC)"),
            Column("last_new_at", str, "When a new document last appeared (UTC)"),
            Column("consecutive_failures", int, "Failed checks in a row"),
            Column("links_found", int, "Document links found at the last check"),
            Column("new_documents", int, "New documents fetched at the last check"),
            Column("failed_documents", int, "Document fetches that failed at the last check"),
            Column("deferred_documents", int, "New links left for the next run by the per-run cap"),
            Column("stale", int, "1 when nothing new has appeared for longer than expected"),
            Column("error", str, "Why the last check failed"),
        ),
    ),
    Table(
        "runs",
        "One row per ingest run, with what it did.",
        "id",
        (
            Column("id", str, "Run id"),
            Column("started_at", str, "Start (UTC)"),
            Column("finished_at", str, "End (UTC)"),
            Column("status", str, "running, completed or failed"),
            Column("inputs", int, "Sources given to the run"),
            Column("added", int, "Documents added"),
            Column("changed", int, "Sources whose content or processing changed"),
            Column("unchanged", int, "Sources skipped because nothing changed"),
            Column("deleted", int, "Documents removed because their source changed"),
            Column("failed", int, "Sources that failed"),
            Column("software_version", str, "Version of Scrutiny"),
            Column("message", str, "Summary of the run"),
        ),
    ),
    Table(
        "documents",
        "One row per source document (inspection report, minutes, report, statement, news page).",
        "id",
        (
            Column("id", str, "sha256 of the document's bytes"),
            Column("source_path", str, "File the document was read from"),
            Column("source_url", str, "Address the document was published at, when known"),
            Column("format", str, "pdf, html, docx or text"),
            Column("title", str, "Title, from the document or its metadata"),
            Column("publisher", str, "Body that published it (inspectorate, council, government, news outlet)"),
            Column(
                "doc_type",
                str,
                "inspection_report, council_minutes, council_report, improvement_plan, "
                "government_statement, news or other",
            ),
            Column("local_authority", str, "Council the document is about (canonical English name)"),
            Column("service", str, "children, adults, both, or empty when not stated"),
            Column(
                "published",
                str,
                "Publication date (ISO; may be a year or a month only), only when the document states it: a "
                "labelled line, its markup or metadata, a dateline, its address; never a copyright year",
            ),
            Column(
                "date_evidence",
                str,
                "How the date was stated ('stated: labelled line'), or, when no date is stated, the best clue to "
                "when it was written ('2017-07: …inspected in July 2017…'), for people to judge",
            ),
            Column("year", int, "Year of publication"),
            Column("language", str, "Main language of the document: en or cy"),
            Column("pages", int, "Number of pages, for paged formats"),
            Column("size", int, "Size of the source file in bytes"),
            Column("statement_count", int, "Number of statements extracted"),
            Column("ocr_pages", str, "JSON list of pages read by OCR (no text layer)"),
            Column("notes", str, "What a reader should know, such as pages that could not be read"),
            Column("text", str, "Extracted text; statements' character offsets index this text"),
            Column("extractor_version", str, "Version of the extraction stage that produced the text"),
            Column("segmenter_version", str, "Version of the segmentation stage that produced the statements"),
            Column("ingested_at", str, "When the document was stored (UTC)"),
            Column("run_id", str, "Run that stored it", "runs.id"),
            Column(
                "part_of",
                str,
                "For one language part of a bilingual file: the file's sha256. The English part keeps "
                "that id, the Welsh part's id is derived from it; both are paired in document_pairs",
            ),
        ),
        indexes=(("local_authority",), ("doc_type",), ("year",)),
    ),
    Table(
        "document_pairs",
        "English and Welsh versions of one document, paired: the two language parts of a "
        "bilingual file, versions a manifest links (translation_of), or documents matched by council, date, "
        "figures, dates, names and length.",
        ("english_id", "welsh_id"),
        (
            Column("english_id", str, "The English version", "documents.id"),
            Column("welsh_id", str, "The Welsh version", "documents.id"),
            Column("score", float, "How alike the two are, 0 to 1 (matched pairs need at least 0.6)"),
            Column("method", str, "bilingual file, manifest or matched"),
            Column("evidence", str, "JSON of the features compared: council, date, numbers, dates, names, length"),
            Column("paired_at", str, "When the pair was recorded (UTC)"),
        ),
        indexes=(("welsh_id",),),
    ),
    Table(
        "document_layout",
        "The extracted layout of each document (blocks and pages as offsets into its text), "
        "kept so a new segmenter can re-segment stored text without reading the file again.",
        "document_id",
        (
            Column("document_id", str, "Document", "documents.id"),
            Column(
                "blocks",
                str,
                "JSON list of [kind, char_start, char_end, page, level] for headings, paragraphs, "
                "list items and table rows",
            ),
            Column("pages", str, "JSON list of [number, char_start, char_end, ocr] per page"),
            Column("notes", str, "JSON list of the extractor's notes"),
        ),
        stage="extract",
    ),
    Table(
        "statements",
        "One row per statement: a sentence or list item of a document, with its provenance.",
        "id",
        (
            Column("id", str, "Document id prefix plus character offsets"),
            Column("document_id", str, "Document the statement comes from", "documents.id"),
            Column("seq", int, "Position of the statement in its document (0-based)"),
            Column("text", str, "The statement as written"),
            Column("page", int, "Page number (1-based) for paged formats"),
            Column("char_start", int, "Start offset into the document's text"),
            Column("char_end", int, "End offset into the document's text"),
            Column("heading", str, "Heading the statement sits under"),
            Column("kind", str, "finding, recommendation, quote or other"),
            Column("speaker", str, "Person quoted, for quotes"),
            Column("language", str, "Language of the statement: en or cy"),
            Column("lemmas", str, "Lemmas of its content words (for search and models)"),
        ),
        fts=("text", "heading"),
        indexes=(("document_id", "seq"), ("kind",), ("language",)),
        stage="segment",
    ),
    Table(
        "entities",
        "Named things in statements: people with roles, organisations, councils, money, dates.",
        "id",
        (
            Column("id", str, "Statement id, label and offsets"),
            Column("statement_id", str, "Statement the entity is in", "statements.id"),
            Column("document_id", str, "Document the entity is in", "documents.id"),
            Column("label", str, "PERSON, ORG, COUNCIL, PLACE, MONEY, PERCENT or DATE"),
            Column("text", str, "The entity as written"),
            Column("char_start", int, "Start offset into the document's text"),
            Column("char_end", int, "End offset into the document's text"),
            Column("value", str, "Normalised value (a name without titles, an amount in pounds, an ISO date)"),
            Column("roles", str, "JSON list of roles the text gives a person (councillor, director, ...)"),
        ),
        fts=("text", "value"),
        indexes=(("label", "value"), ("statement_id",)),
        stage="segment",
    ),
    Table(
        "people",
        "People named or quoted, with the variants of their names merged; rebuilt after each run.",
        "id",
        (
            Column("id", str, "Deterministic id from the canonical name"),
            Column("name", str, "Canonical name: the fullest form seen, without titles"),
            Column("variants", str, "JSON list of every form of the name seen"),
            Column("roles", str, "JSON list of roles the texts give"),
            Column(
                "probable_variants",
                str,
                "JSON list of [name, similarity] of other people with close names "
                "(possible misspellings: flagged, not merged)",
            ),
            Column("mentions", int, "Number of mentions"),
        ),
        fts=("name", "variants"),
    ),
    Table(
        "predictions",
        "Priority-area labels for statements, written by the classification stage.",
        "statement_id",
        (
            Column("statement_id", str, "Statement labelled", "statements.id"),
            Column("scheme", str, "Label scheme (taxonomy file) used"),
            Column("labels", str, "JSON list of area codes; empty list means none"),
            Column("scores", str, "JSON object of calibrated probabilities per area"),
            Column("abstain", int, "1 when the model was unsure"),
            Column("model", str, "Model name and version, or 'correction' when a person set the labels"),
            Column("margin", float, "Distance of the closest score to its threshold (small: unsure)"),
        ),
        indexes=(("abstain", "margin"),),
        stage="classify",
    ),
    Table(
        "corrections",
        "Labels set by people; they override the model and survive re-ingestion.",
        ("statement_id", "scheme"),
        (
            Column(
                "statement_id",
                str,
                "Statement corrected (moved to the statement that carries the same sentence "
                "when the document is segmented again: see statement_aliases)",
            ),
            Column("scheme", str, "Label scheme"),
            Column("labels", str, "JSON list of area codes; empty list means none"),
            Column("note", str, "Why, in the reviewer's words"),
            Column("imported_at", str, "When the correction was imported (UTC)"),
        ),
        stage="classify",
    ),
    Table(
        "labelled_texts",
        "Labelled sentences imported by `scrutiny label` that no stored statement carries; "
        "`scrutiny train --with-corrections` folds them into training.",
        ("text_key", "scheme"),
        (
            Column("text_key", str, "The text with whitespace collapsed and case folded (how it is matched)"),
            Column("scheme", str, "Label scheme"),
            Column("text", str, "The sentence as imported"),
            Column("labels", str, "JSON list of area codes; empty list means none"),
            Column("note", str, "Why, in the labeller's words"),
            Column("source", str, "Where the sentence comes from (source_url or source of the imported line)"),
            Column("imported_at", str, "When it was imported (UTC)"),
        ),
        stage="classify",
    ),
    Table(
        "statement_aliases",
        "When a document was segmented again and a statement that people's decisions name "
        "got a new id: the old id and the statement that now carries those decisions (see pipeline/anchors.py).",
        "old_id",
        (
            Column("old_id", str, "Id the decisions name"),
            Column("new_id", str, "Statement that now carries them (kept when that one goes too)"),
            Column("document_id", str, "Document of both"),
            Column("matched_by", str, "text (the same sentence) or span (most of the same stretch of unchanged text)"),
            Column("recorded_at", str, "When the document was segmented again (UTC)"),
        ),
        indexes=(("new_id",),),
        stage="segment",
    ),
    Table(
        "recommendations",
        "Recommendations, areas for improvement, stated concerns and judgements on progress "
        "picked out of documents, with the concern each was linked to.",
        "statement_id",
        (
            Column("statement_id", str, "Statement picked", "statements.id"),
            Column("document_id", str, "Document it is in", "documents.id"),
            Column("local_authority", str, "Council"),
            Column("service", str, "children or adults, when known"),
            Column("date", str, "Date of the document (the inspection's publication for reports)"),
            Column("doc_type", str, "Type of the document"),
            Column(
                "role",
                str,
                "raised, progress or discussed (as picked; the mention's final role is in concern_mentions)",
            ),
            Column("raises", int, "1 when it may open a concern, 0 when it may only join one"),
            Column("concern_id", str, "Concern it was linked to (empty when it matched none)"),
            Column("text", str, "The statement"),
        ),
        fts=("text",),
        indexes=(("local_authority", "date"),),
        stage="recur",
    ),
    Table(
        "concerns",
        "Concerns: one specific issue for one council's service, linked across inspections and papers.",
        "concern_id",
        (
            Column("concern_id", str, "Deterministic id of the concern"),
            Column("local_authority", str, "Council"),
            Column("service", str, "children, adults or both"),
            Column("areas", str, "JSON list of the priority areas its statements carry"),
            Column("first_raised", str, "Date it was first raised"),
            Column("last_raised", str, "Date it was last raised or judged"),
            Column("inspections", int, "Number of inspections (documents) that raised or judged it"),
            Column("status", str, "new, repeated, improved or resolved, from its mentions, latest first"),
            Column("label", str, "Short label: its first wording, or the thread (overall, intervention)"),
            Column("mentions", int, "Number of linked statements"),
        ),
        fts=("label",),
        indexes=(("local_authority", "status"),),
        stage="recur",
    ),
    Table(
        "concern_mentions",
        "Every statement linked to a concern, with its role, score and date.",
        "statement_id",
        (
            Column("statement_id", str, "Statement linked", "statements.id"),
            Column("concern_id", str, "Concern it belongs to", "concerns.concern_id"),
            Column("role", str, "raised, repeated, progress or discussed"),
            Column("score", float, "Score of its best link to the concern's earlier mentions"),
            Column("date", str, "Date of its document"),
            Column("document_id", str, "Document it is in", "documents.id"),
            Column("doc_type", str, "Type of that document"),
            Column("status_in_text", str, "new, persisting, improved or resolved when the statement says so"),
            Column("local_authority", str, "Council"),
            Column("service", str, "children or adults, when known"),
            Column("text", str, "The statement"),
            Column("thread", str, "overall, intervention or corporate for judgement threads"),
            Column("areas", str, "JSON list of the statement's areas"),
        ),
        indexes=(("concern_id", "date"),),
        stage="recur",
    ),
    Table(
        "link_reviews",
        "Reviewers' decisions on concerns (`scrutiny review-links`), in the order they were made. "
        "They always win over the linking algorithm and are never cleared by re-ingestion.",
        "id",
        (
            Column("id", int, "Order of the decision: a later decision wins over an earlier one"),
            Column("action", str, "confirm, reject, merge or split"),
            Column("statement_id", str, "Statement the decision is about (empty for merge)"),
            Column("concern_id", str, "Concern named: the one confirmed, rejected, merged into or split from"),
            Column(
                "other",
                str,
                "The other statement (reject), the other concern (merge) or the new concern's "
                "name within its file (split)",
            ),
            Column(
                "resolved",
                str,
                "What the row meant when imported, as JSON: the statements of the concerns it "
                "named and, for a split, the new concern's id and statements",
            ),
            Column("reviewer", str, "Who decided"),
            Column("note", str, "Why, in the reviewer's words"),
            Column("at", str, "When the decision was imported (UTC)"),
            Column("source_file", str, "CSV file it came from"),
            Column("line", int, "Line of that file"),
        ),
        indexes=(("statement_id",), ("concern_id",)),
        stage="review",
    ),
    Table(
        "failures",
        "Sources that could not be processed, with the reason; the batch went on.",
        ("source_path", "sha256", "stage"),
        (
            Column("source_path", str, "File or address that failed"),
            Column("sha256", str, "sha256 of the bytes that failed, when they could be read"),
            Column("stage", str, "Stage that failed: source, extract, segment, store"),
            Column("reason", str, "Why, in words a person understands"),
            Column("software_version", str, "Version of Scrutiny that failed"),
            Column("at", str, "When it failed (UTC)"),
            Column("run_id", str, "Run in which it failed", "runs.id"),
        ),
    ),
    Table(
        "sources",
        "Ledger of every input seen: what its bytes were and what became of them.",
        "source_path",
        (
            Column("source_path", str, "File the input was read from"),
            Column("sha256", str, "sha256 of its bytes when last processed"),
            Column("size", int, "Size in bytes"),
            Column("mtime_ns", int, "Modification time seen (nanoseconds)"),
            Column("document_id", str, "Document it produced (null when it failed)"),
            Column("status", str, "ok or failed"),
            Column("versions", str, "Stage versions that processed it"),
            Column("meta", str, "Known metadata supplied with it (JSON)"),
            Column("run_id", str, "Run that last processed it", "runs.id"),
            Column("updated_at", str, "When it was last processed (UTC)"),
        ),
        indexes=(("document_id",),),
    ),
)
TABLES = {t.name: t for t in SCHEMA}

# Views are schema too: recreated by ensure_db_shape whenever their SQL changes.
VIEWS: dict[str, tuple[str, str]] = {
    "statements_labelled": (
        "Every statement with its document's metadata and its area labels, for faceted search.",
        # labels and abstain are subqueries, not a LEFT JOIN: SQLite 3.40 returns no rows for Datasette's array
        # facet (`json_each(inner.labels) j join inner`) when the column comes from a LEFT JOIN's right side.
        """SELECT s.rowid AS statement_rowid, s.id, s.text, s.kind, s.speaker, s.language, s.page, s.heading, s.seq,
       d.local_authority, d.service, d.doc_type, d.year, d.published, d.title, d.publisher,
       (SELECT p.labels FROM predictions p WHERE p.statement_id = s.id) AS labels,
       (SELECT p.abstain FROM predictions p WHERE p.statement_id = s.id) AS abstain, s.document_id
FROM statements s JOIN documents d ON d.id = s.document_id""",
    ),
    "review_queue": (
        "Statements whose labels most need a person's eye: abstentions first, then the smallest margins.",
        """SELECT s.id AS statement_id, p.labels, p.scores, p.abstain, p.margin, s.text,
       d.local_authority, d.doc_type, d.title, s.document_id
FROM predictions p JOIN statements s ON s.id = p.statement_id JOIN documents d ON d.id = s.document_id
WHERE p.model != 'correction'
ORDER BY p.abstain DESC, p.margin ASC""",
    ),
    "orphaned_decisions": (
        "People's corrections and link reviews that name a statement no longer in the database (its document "
        "was changed or removed, or segmented again with no statement carrying the same sentence): they no "
        "longer apply, and a person should re-enter or drop them.",
        """SELECT 'correction' AS kind, c.statement_id, c.scheme || ': ' || c.labels AS decision, c.note,
       c.imported_at AS at, NULL AS review_id
FROM corrections c WHERE NOT EXISTS (SELECT 1 FROM statements s WHERE s.id = c.statement_id)
UNION ALL
SELECT 'link review', r.statement_id, r.action || ' ' || coalesce(r.concern_id, '') AS decision, r.note, r.at, r.id
FROM link_reviews r
WHERE coalesce(r.statement_id, '') != '' AND NOT EXISTS (SELECT 1 FROM statements s WHERE s.id = coalesce(
      (SELECT a.new_id FROM statement_aliases a WHERE a.old_id = r.statement_id), r.statement_id))""",
    ),
}
