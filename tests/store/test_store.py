from __future__ import annotations

import json
import sqlite3

import pytest

from pipeline import store
from pipeline.extract.layout import RawBlock, assemble
from pipeline.records import Document, Failure, Metadata, Statement


def a_document(doc_id: str = "a" * 64, text_blocks=("Members noted the recommendations of the inspection.",)):
    text, blocks, pages = assemble([RawBlock("paragraph", t) for t in text_blocks])
    doc = Document(
        id=doc_id,
        source_path="x.txt",
        format="text",
        text=text,
        blocks=blocks,
        pages=pages,
        metadata=Metadata(title="T", doc_type="council_minutes", published="2018-05-01"),
        size=10,
        extractor_version="e",
    )
    statements = [
        Statement(doc_id, i, b.text, b.char_start, b.char_end, None, None, "finding", None, "en")
        for i, b in enumerate(blocks)
    ]
    return doc, statements


def test_a_database_is_shaped_once_a_process_until_its_schema_changes(tmp_path, monkeypatch):
    checks = []
    real = store.db.ensure_db_shape
    monkeypatch.setattr(store.db, "ensure_db_shape", lambda db: checks.append(1) or real(db))
    path = tmp_path / "s.db"
    for _ in range(3):  # a run opens it once a document: the shape is checked the first time only
        store.open_db(path).close()
    assert len(checks) == 1
    with sqlite3.connect(path) as con:  # someone else changes the schema: a view dropped, a column missing
        con.execute("DROP VIEW statements_labelled")
    db = store.open_db(path)
    assert len(checks) == 2 and "statements_labelled" in db.view_names()  # checked again and completed
    db.close()
    path.unlink()  # another file at the same path (perhaps the same inode): made from nothing
    db = store.open_db(path)
    assert len(checks) == 3 and "documents" in db.table_names()
    db.close()


def test_ensure_db_shape_is_idempotent(tmp_path):
    db = store.open_db(tmp_path / "s.db")
    before = {t: db[t].schema for t in db.table_names()}
    store.ensure_db_shape(db)
    store.ensure_db_shape(db)
    assert {t: db[t].schema for t in db.table_names()} == before
    for table in store.SCHEMA:
        assert set(db[table.name].columns_dict) == {c.name for c in table.columns}
    assert "statements_fts" in db.table_names()
    fks = {(fk.table, fk.column, fk.other_table) for fk in db["statements"].foreign_keys}
    assert ("statements", "document_id", "documents") in fks


def test_save_document_writes_document_statements_and_ledger_together(tmp_path):
    db = store.open_db(tmp_path / "s.db")
    store.start_run(db, "r1", 1, "t")
    doc, statements = a_document()
    store.save_document(
        db,
        doc,
        statements,
        run_id="r1",
        source={"source_path": "x.txt", "sha256": doc.id, "size": 10, "mtime_ns": 1},
        versions={},
    )
    assert db["documents"].count == 1 and db["statements"].count == 1
    assert db["sources"].get("x.txt")["document_id"] == doc.id
    assert db["documents"].get(doc.id)["year"] == 2018
    hits = list(
        db.query(
            "SELECT statements.id FROM statements JOIN statements_fts "
            "ON statements.rowid = statements_fts.rowid WHERE statements_fts MATCH 'recommendation'"
        )
    )
    assert len(hits) == 1  # porter stemming: "recommendations" matches "recommendation"


def test_changed_source_replaces_the_old_document(tmp_path):
    db = store.open_db(tmp_path / "s.db")
    store.start_run(db, "r1", 1, "t")
    old, s_old = a_document("a" * 64)
    new, s_new = a_document("b" * 64, ("A different text about placements for children.",))
    src = {"source_path": "x.txt", "size": 10, "mtime_ns": 1}
    assert not store.save_document(db, old, s_old, run_id="r1", source={**src, "sha256": old.id}, versions={})
    assert store.save_document(db, new, s_new, run_id="r1", source={**src, "sha256": new.id}, versions={})
    assert [r["id"] for r in db["documents"].rows] == [new.id]
    assert {r["document_id"] for r in db["statements"].rows} == {new.id}


def test_a_failed_write_leaves_nothing_half_written(tmp_path):
    db = store.open_db(tmp_path / "s.db")
    store.start_run(db, "r1", 1, "t")
    doc, statements = a_document()
    broken = statements + [statements[0]]  # a duplicate primary key fails the statements insert
    with pytest.raises(sqlite3.IntegrityError):
        store.save_document(
            db, doc, broken, run_id="r1", source={"source_path": "x.txt", "sha256": doc.id}, versions={}
        )
    assert db["documents"].count == 0 and db["statements"].count == 0 and db["sources"].count == 0


def test_failure_is_stored_with_reason_and_version(tmp_path):
    db = store.open_db(tmp_path / "s.db")
    store.start_run(db, "r1", 1, "t")
    store.save_failure(
        db,
        Failure("bad.pdf", "extract", "encrypted PDF", "0.1.0"),
        run_id="r1",
        source={"source_path": "bad.pdf", "sha256": "c" * 64},
        versions={},
    )
    row = next(db["failures"].rows)
    assert (row["source_path"], row["stage"], row["reason"], row["software_version"]) == (
        "bad.pdf",
        "extract",
        "encrypted PDF",
        "0.1.0",
    )
    assert db["sources"].get("bad.pdf")["status"] == "failed"
    assert store.integrity_ok(tmp_path / "s.db")


def test_corrections_override_predictions_and_survive_reingestion(tmp_path):
    import json

    from pipeline.records import Prediction

    db = store.open_db(tmp_path / "s.db")
    store.start_run(db, "r1", 1, "t")
    doc, statements = a_document(text_blocks=("Supervision of social workers is now monthly.", "The report was noted."))
    model_says = [
        Prediction(s.id, ("D",), {"A": 0.1, "B": 0.1, "C": 0.45, "D": 0.6}, True, "m-1", margin=0.05)
        for s in statements
    ]
    src = {"source_path": "x.txt", "sha256": doc.id}
    store.save_document(db, doc, statements, run_id="r1", source=src, versions={}, predictions=model_says)
    queue = [r["statement_id"] for r in db.query("select statement_id from review_queue")]
    assert set(queue) == {s.id for s in statements}

    assert store.save_corrections(db, [{"statement_id": statements[0].id, "labels": ["C"], "note": "staff"}]) == 1
    row = db["predictions"].get(statements[0].id)
    assert json.loads(row["labels"]) == ["C"] and row["model"] == "correction" and row["abstain"] == 0
    assert statements[0].id not in [r["statement_id"] for r in db.query("select statement_id from review_queue")]

    # re-ingesting the same document brings the model's labels back, and the correction wins again
    store.save_document(
        db, doc, statements, run_id="r1", source=src, versions={"classify": "m-2"}, predictions=model_says
    )
    assert json.loads(db["predictions"].get(statements[0].id)["labels"]) == ["C"]
    assert json.loads(db["predictions"].get(statements[1].id)["labels"]) == ["D"]
    assert store.corrections_for_training(db, "areas") == [
        {"statement_id": statements[0].id, "text": statements[0].text, "labels": ["C"]}
    ]


def _review(action, statement_id, concern_id, resolved, other=None):
    return {
        "action": action,
        "statement_id": statement_id,
        "concern_id": concern_id,
        "other": other,
        "resolved": resolved,
        "reviewer": "tester",
        "note": None,
        "at": "2026-01-01T00:00:00+00:00",
        "source_file": "review.csv",
        "line": 2,
    }


def test_decisions_follow_their_statements_when_a_document_is_segmented_again(tmp_path):
    import json
    from dataclasses import replace

    from pipeline.records import Prediction

    db = store.open_db(tmp_path / "s.db")
    store.start_run(db, "r1", 1, "t")
    doc, first = a_document(
        text_blocks=(
            "Supervision of social workers is now monthly.",
            "The waiting list for assessments has grown.",
            "The report was noted.",
        )
    )
    src = {"source_path": "x.txt", "sha256": doc.id}

    def says(statements):
        return [Prediction(s.id, ("D",), {"A": 0.1, "B": 0.1, "C": 0.2, "D": 0.6}, False, "m-1") for s in statements]

    store.save_document(db, doc, first, run_id="r1", source=src, versions={}, predictions=says(first))
    store.save_corrections(db, [{"statement_id": first[0].id, "labels": ["C"], "note": "staff supervision"}])
    store.save_reviews(
        db,
        [
            _review(
                "reject",
                first[1].id,
                "glanmor-0000000001",
                {"concern": "glanmor-0000000001", "members": [first[1].id, first[2].id]},
            )
        ],
        councils=[],
        mentions=[],
        concerns=[],
        picked=[],
    )

    # a new segmenter leaves the full stop out of each statement: same text, other spans, other ids
    second = [replace(s, char_end=s.char_end - 1, text=s.text[:-1]) for s in first]
    assert not {s.id for s in first} & {s.id for s in second}
    store.save_document(db, doc, second, run_id="r1", source=src, versions={"segment": "2"}, predictions=says(second))

    assert [r["statement_id"] for r in db["corrections"].rows] == [second[0].id]
    assert json.loads(db["predictions"].get(second[0].id)["labels"]) == ["C"]  # the person still wins
    assert store.corrections_for_training(db, "areas")[0]["text"] == "Supervision of social workers is now monthly"
    review = store.link_reviews(db)[0]
    assert review["statement_id"] == second[1].id
    assert json.loads(review["resolved"])["members"] == [second[1].id, second[2].id]
    assert next(db["link_reviews"].rows)["statement_id"] == first[1].id  # what the reviewer wrote is kept
    assert {r["matched_by"] for r in db["statement_aliases"].rows} == {"span"}
    assert list(db.query("select * from orphaned_decisions")) == []

    # segmented a third time: the decisions move on again, and no alias points at a statement that is gone
    third = [replace(s, char_start=s.char_start + 1) for s in second]
    store.save_document(db, doc, third, run_id="r1", source=src, versions={"segment": "3"}, predictions=says(third))
    assert store.link_reviews(db)[0]["statement_id"] == third[1].id
    assert {r["new_id"] for r in db["statement_aliases"].rows} <= {s.id for s in third}
    assert [r["statement_id"] for r in db["corrections"].rows] == [third[0].id]


def test_decisions_follow_their_sentences_into_a_changed_file_or_are_listed_as_orphaned(tmp_path):
    import json

    db = store.open_db(tmp_path / "s.db")
    store.start_run(db, "r1", 1, "t")
    old, s_old = a_document("a" * 64, ("Supervision of social workers is now monthly.", "Caseloads remain high."))
    src = {"source_path": "x.txt", "size": 10, "mtime_ns": 1}
    store.save_document(db, old, s_old, run_id="r1", source={**src, "sha256": old.id}, versions={})
    store.save_corrections(db, [{"statement_id": s.id, "labels": ["C"]} for s in s_old])

    # the council republishes the paper: a new opening paragraph, the first sentence kept, the second gone
    new, s_new = a_document(
        "b" * 64,
        (
            "An updated version of this paper.",
            "Supervision of social workers is now monthly.",
            "Agency staff cover four posts.",
        ),
    )
    store.save_document(db, new, s_new, run_id="r1", source={**src, "sha256": new.id}, versions={})
    moved = next(r for r in db["corrections"].rows if r["statement_id"].startswith("b" * 16))
    assert moved["statement_id"] == s_new[1].id and json.loads(moved["labels"]) == ["C"]
    assert next(db["statement_aliases"].rows)["matched_by"] == "text"
    orphaned = list(db.query("select kind, statement_id from orphaned_decisions"))
    assert orphaned == [{"kind": "correction", "statement_id": s_old[1].id}]


def test_corrections_for_unknown_statements_are_refused(tmp_path):
    from pipeline.errors import StoreError

    db = store.open_db(tmp_path / "s.db")
    with pytest.raises(StoreError, match="not in the database"):
        store.save_corrections(db, [{"statement_id": "0123456789abcdef:1-2", "labels": ["A"]}])
    assert db["corrections"].count == 0


def test_labels_by_text_correct_stored_statements_and_keep_the_rest_for_training(tmp_path):
    from pipeline.errors import StoreError
    from pipeline.records import Prediction

    db = store.open_db(tmp_path / "s.db")
    store.start_run(db, "r1", 1, "t")
    doc, statements = a_document(text_blocks=("The improvement board met monthly.", "Caseloads were too high."))
    said = [Prediction(s.id, ("D",), {"A": 0.1, "B": 0.1, "C": 0.3, "D": 0.6}, False, "m-1") for s in statements]
    src = {"source_path": "x.txt", "sha256": doc.id}
    store.save_document(db, doc, statements, run_id="r1", source=src, versions={}, predictions=said)
    counts = store.save_labels(
        db,
        [
            {"text": "the improvement  board met MONTHLY.", "labels": ["A"], "note": "board"},  # a stored statement
            {"statement_id": statements[1].id, "labels": ["C"]},
            {"text": "Foster carers were recruited.", "labels": ["B"], "source_url": "https://example.org/p"},
        ],
    )
    assert counts == {"corrections": 2, "labelled_texts": 1}
    assert store.corrections_map(db, "areas") == {statements[0].id: ["A"], statements[1].id: ["C"]}
    assert json.loads(db["predictions"].get(statements[0].id)["labels"]) == ["A"]  # people win at once
    kept = next(db["labelled_texts"].rows)
    assert kept["text"] == "Foster carers were recruited." and kept["source"] == "https://example.org/p"
    for_training = store.corrections_for_training(db, "areas")
    assert sorted((r["text"], tuple(r["labels"])) for r in for_training) == [
        ("Caseloads were too high.", ("C",)),
        ("Foster carers were recruited.", ("B",)),
        ("The improvement board met monthly.", ("A",)),
    ]
    assert next(r for r in for_training if r["text"].startswith("Foster"))["statement_id"] is None
    # a second import of the same text replaces its labels; all or nothing when an id is unknown
    assert store.save_labels(db, [{"text": "Foster carers were recruited.", "labels": ["B", "C"]}]) == {
        "corrections": 0,
        "labelled_texts": 1,
    }
    assert db["labelled_texts"].count == 1 and json.loads(next(db["labelled_texts"].rows)["labels"]) == ["B", "C"]
    with pytest.raises(StoreError, match="not in the database"):
        store.save_labels(
            db,
            [{"text": "A new sentence.", "labels": ["D"]}, {"statement_id": "0123456789abcdef:1-2", "labels": ["A"]}],
        )
    assert db["labelled_texts"].count == 1
    assert store.text_key(" A  b\nC ") == "a b c"


def test_entities_are_stored_and_people_rebuilt_with_variants_merged(tmp_path):
    from pipeline.records import Entity
    from pipeline.segment.people import merge_people

    db = store.open_db(tmp_path / "s.db")
    store.start_run(db, "r1", 1, "t")
    doc, statements = a_document(
        text_blocks=(
            "Alison Bulman, director of social services, spoke first.",
            "Ali Bulman said the plan was working.",
        )
    )
    first, second = statements
    statements = [
        Statement(
            **{
                **first.__dict__,
                "entities": (
                    Entity(
                        "PERSON",
                        "Alison Bulman",
                        first.char_start,
                        first.char_start + 13,
                        "Alison Bulman",
                        ("director of social services",),
                    ),
                ),
            }
        ),
        Statement(
            **{
                **second.__dict__,
                "entities": (Entity("PERSON", "Ali Bulman", second.char_start, second.char_start + 10, "Ali Bulman"),),
            }
        ),
    ]
    store.save_document(
        db, doc, statements, run_id="r1", source={"source_path": "x.txt", "sha256": doc.id}, versions={}
    )
    assert db["entities"].count == 2
    store.replace_people(db, merge_people(store.person_mentions(db)))
    people = list(db["people"].rows)
    assert len(people) == 1 and people[0]["name"] == "Alison Bulman"
    assert "Ali Bulman" in people[0]["variants"] and "director of social services" in people[0]["roles"]


def test_an_undated_document_keeps_its_date_evidence(tmp_path):
    import dataclasses

    db = store.open_db(tmp_path / "s.db")
    store.start_run(db, "r1", 1, "t")
    doc, statements = a_document()
    evidence = "2017-07: …we inspected the service in July 2017…"
    doc = dataclasses.replace(doc, metadata=Metadata(title="T", published=None, date_evidence=evidence))
    source = {"source_path": "x.txt", "sha256": doc.id, "size": 10, "mtime_ns": 1}
    store.save_document(db, doc, statements, run_id="r1", source=source, versions={})
    row = db["documents"].get(doc.id)
    assert row["published"] is None and row["year"] is None
    assert row["date_evidence"] == evidence
    kept, _ = store.stored_document(db, doc.id)
    assert kept["date_evidence"] == evidence
