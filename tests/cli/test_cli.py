"""The command line against ../shared/cli-contract.md: fields, errors, exit codes, documentation."""

from __future__ import annotations

import json
import re
import sys

from builders import make_news_html
from conftest import ROOT

from pipeline.cli import build_parser, main

STATEMENT_FIELDS = {
    "document_id",
    "source_path",
    "seq",
    "text",
    "page",
    "char_start",
    "char_end",
    "heading",
    "kind",
    "speaker",
    "language",
}
DOCUMENT_FIELDS = {
    "document_id",
    "source_path",
    "title",
    "publisher",
    "doc_type",
    "local_authority",
    "service",
    "published",
    "language",
    "pages",
    "error",
}


def lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_statements_follow_the_contract(tmp_path, capsys):
    page = make_news_html(
        tmp_path / "news.html",
        "Inspectors return to Glanmor",
        [
            "Inspectors will return to Glanmor next year. The council said it welcomed the report.",
        ],
    )
    (tmp_path / "bad.pdf").write_bytes(b"nonsense")
    assert main(["statements", str(page), str(tmp_path / "bad.pdf")]) == 0
    captured = capsys.readouterr()
    rows = lines(captured.out)
    good = [r for r in rows if "error" not in r]
    assert [r["text"] for r in good] == [
        "Inspectors will return to Glanmor next year.",
        "The council said it welcomed the report.",
    ]
    for r in good:
        assert STATEMENT_FIELDS <= set(r)
        assert r["kind"] in ("finding", "recommendation", "quote", "other") and r["language"] == "en"
    assert [r["seq"] for r in good] == [0, 1]
    errors = [r for r in rows if "error" in r]
    assert errors == [{"source_path": str(tmp_path / "bad.pdf"), "error": errors[0]["error"]}]
    assert "not a PDF" in errors[0]["error"] and "bad.pdf" in captured.err


def test_only_bad_inputs_exit_non_zero(tmp_path, capsys):
    (tmp_path / "bad.pdf").write_bytes(b"nonsense")
    assert main(["statements", str(tmp_path / "bad.pdf")]) == 1
    assert lines(capsys.readouterr().out)[0]["error"]


def test_documents_follow_the_contract_and_meta_wins(tmp_path, capsys):
    page = make_news_html(
        tmp_path / "news.html",
        "Glanmor care services praised",
        [
            "Inspectors praised Glanmor County Council's children's services in a report published today.",
        ],
    )
    assert (
        main(
            [
                "documents",
                str(page),
                "--meta",
                json.dumps({"publisher": "Valley Gazette Ltd", "local_authority": "Ynys Môn"}),
            ]
        )
        == 0
    )
    row = lines(capsys.readouterr().out)[0]
    assert DOCUMENT_FIELDS <= set(row)
    assert row["error"] is None and row["doc_type"] == "news"
    assert row["publisher"] == "Valley Gazette Ltd"
    assert row["local_authority"] == "Isle of Anglesey County Council"
    assert row["published"] == "2019-03-12" and row["service"] == "children"
    assert row["date_evidence"] == "stated: labelled line"  # "Created on 12/03/2019 @ 10:15", not the footer's year


def test_statements_read_standard_input(monkeypatch, capsys):
    import io
    import sys

    monkeypatch.setattr(
        sys, "stdin", io.TextIOWrapper(io.BytesIO(b"Members noted the report. The chair thanked officers."))
    )
    assert main(["statements", "-"]) == 0
    assert [r["text"] for r in lines(capsys.readouterr().out)] == [
        "Members noted the report.",
        "The chair thanked officers.",
    ]


def test_every_command_is_documented_in_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    for name in commands:
        assert re.search(rf"`scrutiny {name}\b", readme), f"README does not document `scrutiny {name}`"
    assert "make run" in readme and "make test" in readme


def test_label_imports_corrections(tmp_path, capsys):
    import csv

    from store.test_store import a_document

    from pipeline import store

    db_path = tmp_path / "s.db"
    db = store.open_db(db_path)
    store.start_run(db, "r1", 1, "t")
    doc, statements = a_document()
    store.save_document(
        db, doc, statements, run_id="r1", source={"source_path": "x.txt", "sha256": doc.id}, versions={}
    )
    db.close()
    good = tmp_path / "fix.csv"
    with good.open("w", newline="") as f:
        csv.writer(f).writerows([["statement_id", "labels", "note"], [statements[0].id, "A;D", "board and audit"]])
    assert main(["label", str(good), "--db", str(db_path)]) == 0
    assert lines(capsys.readouterr().out) == [
        {"imported": 1, "corrections": 1, "labelled_texts": 0, "scheme": "areas", "db": str(db_path)}
    ]
    assert store.corrections_map(store.open_db(db_path), "areas") == {statements[0].id: ["A", "D"]}
    bad = tmp_path / "bad.csv"
    bad.write_text("statement_id,labels\nnot-an-id,Z\n")
    assert main(["label", str(bad), "--db", str(db_path)]) == 2
    assert "bad row" in capsys.readouterr().err


def test_label_takes_the_training_jsonl_format_and_train_folds_it_in(tmp_path, capsys, monkeypatch):
    """The labelling loop: people's labels in the corpus/labels format go into the database with `scrutiny
    label`, and `scrutiny train --with-corrections` trains on them (a small model, in seconds)."""
    from builders import FAST_CLASSIFIER
    from store.test_store import a_document

    from pipeline import classify, store

    db_path = tmp_path / "s.db"
    with store.connect(db_path) as db:
        store.start_run(db, "r1", 1, "t")
        doc, statements = a_document(text_blocks=("The improvement board met monthly.", "Caseloads were too high."))
        src = {"source_path": "x.txt", "sha256": doc.id}
        store.save_document(db, doc, statements, run_id="r1", source=src, versions={})
    people = tmp_path / "people.jsonl"
    people.write_text(
        "".join(
            json.dumps(row) + "\n"
            for row in [
                {"text": "The improvement board met monthly.", "labels": ["A"], "source_url": "https://example.org/m"},
                {"statement_id": statements[1].id, "labels": ["C"], "note": "workforce"},
                {"text": "Kinship carers waited months for an assessment of their home.", "labels": ["B"]},
            ]
        ),
        encoding="utf-8",
    )
    assert main(["label", str(people), "--db", str(db_path)]) == 0
    assert lines(capsys.readouterr().out) == [
        {"imported": 3, "corrections": 2, "labelled_texts": 1, "scheme": "areas", "db": str(db_path)}
    ]
    with store.connect(db_path) as db:
        assert store.corrections_map(db, "areas") == {statements[0].id: ["A"], statements[1].id: ["C"]}

    rows, counts = [], dict.fromkeys(("A", "B", "C", "D", "none"), 0)
    for r in classify.read_labelled(classify.label_files(ROOT / "corpus" / "labels")):
        keys = r["labels"] or ["none"]
        if any(counts[k] < 40 for k in keys):
            rows.append({"text": r["text"], "labels": r["labels"]})
            for k in keys:
                counts[k] += 1
    data = tmp_path / "labels"
    data.mkdir()
    (data / "few.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    training = sys.modules["pipeline.classify.train"]  # the module (pipeline.classify.train is also the function)
    monkeypatch.setattr(training, "load_config", lambda path: FAST_CLASSIFIER)  # a small, fast configuration
    out = tmp_path / "m.skops"
    assert main(["train", "--data", str(data), "--out", str(out), "--with-corrections", str(db_path)]) == 0
    summary = lines(capsys.readouterr().out)[0]
    assert summary["corrections"] == 3 and summary["statements"] == len(rows) + 3
    model = classify.load_model(out)
    assert model.metadata["training"]["corrections"] == 3
    assert model.metadata["corpus_hash"] != classify.corpus_hash([data / "few.jsonl"])
