"""The classification stage: a small model trained in seconds on a slice of corpus/labels.

Real files in tmp_path, no network, no mocks of scikit-learn or skops.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
from dataclasses import replace
from pathlib import Path

import pytest
from builders import AREA_CODES, FAST_CLASSIFIER, labelled_subset, write_jsonl

from pipeline import classify as C
from pipeline.classify.corrections import (
    CorrectionsError,
    apply_corrections,
    parse_labels,
    read_corrections,
    read_corrections_csv,
    read_corrections_jsonl,
)
from pipeline.cli.classify import add_commands, classify_lines
from pipeline.config import PROJECT_ROOT, Settings
from pipeline.lexicon.taxonomy import load_taxonomy
from pipeline.records import Statement

CODES = AREA_CODES


@pytest.fixture(scope="module")
def data_file(tmp_path_factory) -> Path:
    return write_jsonl(tmp_path_factory.mktemp("labels") / "subset.jsonl", labelled_subset())


@pytest.fixture(scope="module")
def model(data_file) -> C.Model:
    return C.train([data_file], Settings(), config=FAST_CLASSIFIER)


@pytest.fixture(scope="module")
def saved(model, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("models") / "areas.skops"
    C.save_model(model, path)
    return path


# ---------------------------------------------------------------- the factory


def test_build_pipeline_is_features_then_one_classifier_per_label():
    pipeline = C.build_pipeline(FAST_CLASSIFIER, CODES)
    assert [name for name, _ in pipeline.steps] == ["features", "classifier"]
    assert [name for name, _ in pipeline.named_steps["features"].transformer_list] == ["words", "chars"]
    calibrated = pipeline.named_steps["classifier"].estimator
    assert calibrated.cv == 3 and calibrated.estimator.random_state == 1


def test_build_pipeline_refuses_unknown_settings():
    with pytest.raises(C.ClassifyError, match="unknown classifier kind"):
        C.build_pipeline({**FAST_CLASSIFIER, "classifier": {"kind": "forest"}}, CODES)
    with pytest.raises(C.ClassifyError, match="features.words"):
        C.build_pipeline({**FAST_CLASSIFIER, "features": {"words": {"ngram_rnage": [1, 2]}}}, CODES)
    with pytest.raises(C.ClassifyError, match="at least one label"):
        C.build_pipeline(FAST_CLASSIFIER, ())


def test_the_shipped_configuration_builds():
    config = C.load_config(PROJECT_ROOT / "models" / "classifier.toml")
    assert C.build_pipeline(config, CODES).named_steps["features"]
    config["model"]["seed"] = -1  # load_config hands out copies: the cache is not changed
    assert C.load_config(PROJECT_ROOT / "models" / "classifier.toml")["model"]["seed"] != -1


# ---------------------------------------------------------------- training


def test_train_records_what_it_did(data_file):
    model = C.train([data_file], Settings(), config=FAST_CLASSIFIER)
    meta = model.metadata
    assert model.codes == CODES and model.scheme == "areas"
    assert model.name == meta["model"] and model.name.startswith("areas-test-0.")
    assert meta["corpus_hash"] == C.corpus_hash([data_file])
    assert meta["taxonomy_version"] == load_taxonomy("areas").version
    assert {"scikit-learn", "skops", "numpy", "scipy", "python"} <= set(meta["versions"])
    assert meta["training"]["corrections"] == 0
    assert all(0.2 <= t <= 0.8 for t in model.thresholds)
    cv = meta["metrics"]["cross_validation"]
    assert set(cv["per_label"]) == set(CODES) and 0.5 < cv["macro_f1"] <= 1
    assert 0 <= cv["abstain_rate"] <= 1


def test_model_fits_its_training_data(model, data_file):
    rows = C.read_labelled([data_file])
    metrics = C.evaluate(model, rows)
    assert metrics["macro_f1"] > 0.9
    assert metrics["statements"] == len(rows)


def test_model_predicts_unseen_statements(model):
    results = C.classify(
        model,
        [
            "The council is struggling to recruit and retain experienced social workers.",
            "Accept all cookies",
        ],
    )
    assert "C" in results[0]["labels"]
    assert results[1]["labels"] == []


def test_training_needs_enough_examples_of_each_label(tmp_path):
    rows = [{"text": f"Caseloads are high in team {i}.", "labels": ["C"]} for i in range(10)]
    with pytest.raises(C.ClassifyError, match="label A has 0 positive"):
        C.train([write_jsonl(tmp_path / "few.jsonl", rows)], Settings(), config=FAST_CLASSIFIER)


def test_a_scheme_without_labelled_data_cannot_be_trained():
    taxonomy = load_taxonomy("ciw_principles")
    folder = taxonomy.data_dir()
    files = C.label_files(folder) if folder.is_dir() else []
    with pytest.raises(
        C.ClassifyError, match="no labelled statements for scheme 'ciw_principles'.*corpus/labels/ciw_principles"
    ):
        C.train(files, Settings(), scheme="ciw_principles", config=FAST_CLASSIFIER)


def test_labels_must_belong_to_the_scheme(tmp_path, data_file):
    with pytest.raises(C.ClassifyError, match="not codes of scheme 'ciw_principles'"):
        C.train([data_file], Settings(), scheme="ciw_principles", config=FAST_CLASSIFIER)


def test_read_labelled_reports_every_bad_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(
        '{"text": "Fine.", "labels": ["A"]}\nnot json\n{"text": "", "labels": []}\n'
        '{"text": "Odd.", "labels": ["Z"]}\n{"text": "Twice.", "labels": ["A", "A"]}\n'
    )
    with pytest.raises(C.ClassifyError) as err:
        C.read_labelled([path], load_taxonomy())
    message = str(err.value)
    assert "4 bad" in message
    for line in (2, 3, 4, 5):
        assert f"bad.jsonl:{line}" in message


# ---------------------------------------------------------------- prediction


def test_classify_gives_the_contract_fields(model):
    results = C.classify(model, ["Supervision of staff was infrequent.", "Menu", ""])
    assert len(results) == 3
    for r in results:
        assert set(r) == {"labels", "scores", "abstain", "model", "margin"}
        assert set(r["labels"]) <= set(CODES) and list(r["scores"]) == list(CODES)
        assert all(isinstance(s, float) and 0 <= s <= 1 for s in r["scores"].values())
        assert isinstance(r["abstain"], bool) and r["model"] == model.name
        assert r["labels"] == [c for c, t in zip(CODES, model.thresholds) if r["scores"][c] >= t]
    assert C.classify(model, []) == []


def test_batches_give_the_same_answers_as_one_at_a_time(model, monkeypatch):
    texts = [r["text"] for r in labelled_subset(5)]
    together = C.classify(model, texts)
    monkeypatch.setattr(C, "BATCH_SIZE", 3)
    assert C.classify(model, texts) == together
    assert [C.classify(model, [t])[0] for t in texts] == together


def test_a_text_that_comes_again_is_scored_once_and_answered_alike(model, monkeypatch):
    header = "Action | Lead | Status"  # a table's header row, repeated on every page of an action plan
    texts = [header, "Supervision of staff was infrequent.", header, "Menu", header]
    alone = C.classify(model, [header, "Supervision of staff was infrequent.", "Menu"])
    calls = []
    estimator = model.pipeline.steps[-1][1]
    real = estimator.predict_proba
    monkeypatch.setattr(estimator, "predict_proba", lambda x: calls.append(x.shape[0]) or real(x))
    results = C.classify(model, texts)
    assert calls == [3]  # three different texts scored, in one call
    assert results == [alone[0], alone[1], alone[0], alone[2], alone[0]]
    results[0]["labels"].append("Z")  # each copy is the caller's own
    results[0]["scores"]["A"] = -1.0
    assert "Z" not in results[2]["labels"] and results[4]["scores"]["A"] == alone[0]["scores"]["A"]


def test_abstains_when_a_score_is_near_its_threshold(model):
    texts = [r["text"] for r in labelled_subset(10)]
    results = C.classify(model, texts)
    for r in results:
        near = any(abs(r["scores"][c] - t) < model.abstain_band for c, t in zip(CODES, model.thresholds))
        assert r["abstain"] == near  # scores are rounded to 4 places; no test text sits that close to an edge
    assert not any(r["abstain"] for r in C.classify(replace(model, abstain_band=0.0), texts))
    assert all(r["abstain"] for r in C.classify(replace(model, abstain_band=1.0), texts))


# ---------------------------------------------------------------- persistence


def test_save_and_load_round_trip(model, saved):
    sidecar = json.loads(Path(f"{saved}.json").read_text())
    assert sidecar["model"] == model.name and sidecar["corpus_hash"] == model.metadata["corpus_hash"]
    assert sidecar["versions"]["skops"] and "cross_validation" in sidecar["metrics"]
    loaded = C.load_model(saved)
    assert loaded.name == model.name and loaded.codes == model.codes and loaded.thresholds == model.thresholds
    texts = ["Agency staff fill a third of posts.", "The Improvement Board met in May."]
    assert C.classify(loaded, texts) == C.classify(model, texts)
    assert C.load_model(saved) is loaded  # cached while the file is unchanged


def test_load_reloads_a_rewritten_file(model, tmp_path):
    path = tmp_path / "m.skops"
    C.save_model(model, path)
    first = C.load_model(path)
    C.save_model(replace(model, abstain_band=0.2), path)
    assert C.load_model(path).abstain_band == 0.2 and first.abstain_band == model.abstain_band


def test_load_refuses_types_a_model_never_contains(tmp_path):
    import skops.io as sio
    from sklearn.preprocessing import StandardScaler

    path = tmp_path / "odd.skops"
    sio.dump({"pipeline": StandardScaler(), "name": "odd"}, path)
    with pytest.raises(C.ClassifyError, match="refusing to load.*StandardScaler"):
        C.load_model(path)


def test_load_refuses_a_mismatched_sidecar_and_a_missing_file(model, tmp_path):
    path = tmp_path / "m.skops"
    C.save_model(model, path)
    Path(f"{path}.json").write_text(json.dumps({"model": "someone-else-1"}))
    with pytest.raises(C.ClassifyError, match="someone-else-1"):
        C.load_model(path)
    with pytest.raises(C.ClassifyError, match="run `scrutiny train`"):
        C.load_model(tmp_path / "absent.skops")


def test_classify_statements_gives_prediction_records(saved):
    statements = [Statement("ab" * 32, 0, "Foster carers are in short supply.", 0, 34, 1, None, "finding", None, "en")]
    [prediction] = C.classify_statements(statements, Settings(), model_path=saved)
    assert prediction.statement_id == statements[0].id and prediction.scheme == "areas"
    assert set(prediction.labels) <= set(CODES)


# ---------------------------------------------------------------- corrections


def test_corrections_override_predictions(saved):
    statements = [
        Statement("cd" * 32, i, text, i * 100, i * 100 + len(text), None, None, "finding", None, "en")
        for i, text in enumerate(["Accept all cookies", "Social workers carry high caseloads."])
    ]
    predictions = C.classify_statements(statements, Settings(), model_path=saved)
    assert predictions[0].labels == ()
    corrected = apply_corrections(predictions, {statements[0].id: ("A", "D")})
    assert corrected[0].labels == ("A", "D") and corrected[0].model == "correction" and not corrected[0].abstain
    assert corrected[1] == predictions[1]


def test_training_folds_corrections_in(data_file):
    rows = C.read_labelled([data_file])
    target = next(r for r in rows if r["labels"] == ["C"])
    corrections = [
        {"statement_id": "x", "text": target["text"], "labels": ["B"]},
        {"statement_id": "y", "text": "Brand new statement about adoption panels.", "labels": ["B"]},
    ]
    model = C.train([data_file], Settings(), corrections=corrections, config=FAST_CLASSIFIER)
    training = model.metadata["training"]
    assert training["corrections"] == 2 and training["corrections_replacing_file_labels"] == 1
    assert training["statements"] == len(rows) + 1
    assert model.metadata["corpus_hash"] != C.corpus_hash([data_file])
    with pytest.raises(C.ClassifyError, match="not codes of scheme"):
        C.train([data_file], Settings(), corrections=[{"text": "x", "labels": ["Q"]}], config=FAST_CLASSIFIER)


def _csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return path


def test_read_corrections_csv(tmp_path):
    path = _csv(
        tmp_path / "fix.csv",
        [
            ["statement_id", "labels", "note"],
            ["0123456789abcdef:10-90", "D; A", "safeguarding partnership"],
            ["0123456789abcdef:91-120", "", ""],
            ["0123456789abcdef:121-150", "none", ""],
        ],
    )
    rows = read_corrections_csv(path)
    assert [r["labels"] for r in rows] == [["A", "D"], [], []]
    assert rows[0] == {
        "statement_id": "0123456789abcdef:10-90",
        "labels": ["A", "D"],
        "scheme": "areas",
        "note": "safeguarding partnership",
    }
    assert parse_labels("A,B|C D") == ["A", "B", "C", "D"]


def test_read_corrections_csv_names_every_bad_row(tmp_path):
    path = _csv(
        tmp_path / "bad.csv",
        [
            ["statement_id", "labels"],
            ["0123456789abcdef:10-90", "A"],
            ["not-an-id", "A"],
            ["0123456789abcdef:90-10", "B"],
            ["0123456789abcdef:200-300", "E"],
            ["0123456789abcdef:10-90", "C"],
        ],
    )
    with pytest.raises(CorrectionsError) as err:
        read_corrections_csv(path)
    message = str(err.value)
    assert "4 bad row(s), nothing imported" in message
    for line, reason in [
        (3, "not of the form"),
        (4, "ends before it starts"),
        (5, "unknown label(s) E"),
        (6, "already corrected on line 2"),
    ]:
        assert f"line {line}: " in message and reason in message
    with pytest.raises(CorrectionsError, match="missing column"):
        read_corrections_csv(_csv(tmp_path / "cols.csv", [["id", "labels"], ["x", "A"]]))


def test_read_corrections_jsonl_takes_the_training_format(tmp_path):
    path = write_jsonl(
        tmp_path / "people.jsonl",
        [
            {"statement_id": "0123456789abcdef:10-90", "labels": ["D", "A"], "note": "board and audit"},
            {"text": "  The improvement board met monthly. ", "labels": ["A"], "source_url": "https://example.org/p"},
            {"text": "Skip to content", "labels": [], "doc_type": "other", "register": "web furniture"},
            {"text": "Caseloads were too high.", "labels": "C"},
        ],
    )
    rows = read_corrections_jsonl(path)
    assert rows[0] == {
        "statement_id": "0123456789abcdef:10-90",
        "labels": ["A", "D"],
        "scheme": "areas",
        "note": "board and audit",
    }
    assert rows[1] == {
        "text": "The improvement board met monthly.",
        "labels": ["A"],
        "scheme": "areas",
        "source_url": "https://example.org/p",
    }
    assert [r["labels"] for r in rows[2:]] == [[], ["C"]] and "statement_id" not in rows[2]
    # the format is told by content, so a training file named .txt or a CSV named .jsonl both read
    assert read_corrections(path.rename(tmp_path / "people.txt")) == rows
    csv_named_jsonl = _csv(tmp_path / "fix.jsonl", [["statement_id", "labels"], ["0123456789abcdef:10-90", "B"]])
    assert read_corrections(csv_named_jsonl)[0]["labels"] == ["B"]


def test_read_corrections_jsonl_names_every_bad_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(
        "\n".join(
            [
                json.dumps({"text": "The board met.", "labels": ["A"]}),
                "{not json",
                json.dumps(["a", "list"]),
                json.dumps({"labels": ["A"]}),
                json.dumps({"statement_id": "not-an-id", "labels": ["A"]}),
                json.dumps({"text": "Staff left.", "labels": ["E"]}),
                json.dumps({"text": "Staff left.", "labels": [1]}),
                json.dumps({"text": "Staff left."}),
                json.dumps({"text": "the  board MET.", "labels": ["B"]}),
                json.dumps({"text": "Audits.", "labels": ["D"], "scheme": "ciw_principles"}),
            ]
        ),
        encoding="utf-8",
    )
    with pytest.raises(CorrectionsError) as err:
        read_corrections_jsonl(path)
    message = str(err.value)
    assert "9 bad line(s), nothing imported" in message
    for line, reason in [
        (2, "not valid JSON"),
        (3, "expected a JSON object"),
        (4, "needs a statement_id or a non-empty text"),
        (5, "not of the form"),
        (6, "unknown label(s) E"),
        (7, "must be a list of codes"),
        (8, "needs labels"),
        (9, "the same text is already labelled on line 1"),
        (10, "does not match 'areas'"),
    ]:
        assert f"line {line}: " in message and reason in message, (line, reason)


# ---------------------------------------------------------------- command line


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scrutiny")
    add_commands(parser.add_subparsers(dest="command", required=True))
    return parser


def _run(argv: list[str], monkeypatch, stdin: str = "") -> tuple[int, list[dict], str]:
    out, err = io.StringIO(), io.StringIO()
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(stdin.encode())))
    monkeypatch.setattr("sys.stdout", out)
    monkeypatch.setattr("sys.stderr", err)
    args = _parser().parse_args(argv)
    code = args.func(args)
    return code, [json.loads(line) for line in out.getvalue().splitlines()], err.getvalue()


def test_cli_classify_passes_fields_through_and_survives_bad_lines(saved, monkeypatch):
    stdin = (
        '{"id": "1", "text": "Caseloads are too high."}\n'
        "this is not json\n"
        '{"id": "3"}\n'
        "\n"
        '{"id": "4", "text": "Skip to main content", "page": 2}\n'
    )
    code, rows, err = _run(["classify", "--model", str(saved)], monkeypatch, stdin)
    assert code == 0 and len(rows) == 4
    assert rows[0]["id"] == "1" and set(rows[0]) >= {"labels", "scores", "abstain", "model"}
    assert "not valid JSON" in rows[1]["error"] and "line 2" in err
    assert rows[2]["id"] == "3" and "'text'" in rows[2]["error"]
    assert rows[3]["page"] == 2 and rows[3]["labels"] == []


def test_classify_lines_is_one_batch(model, monkeypatch):
    calls = []
    estimator = model.pipeline.steps[-1][1]  # the features are made for the batch, then scored in one call
    real = estimator.predict_proba
    monkeypatch.setattr(estimator, "predict_proba", lambda x: calls.append(x.shape[0]) or real(x))
    rows = classify_lines(model, [(i, json.dumps({"text": f"statement {i}"})) for i in range(1, 51)])
    assert len(rows) == 50 and calls == [50]


def test_cli_evaluate_prints_metrics(saved, data_file, monkeypatch):
    code, [metrics], err = _run(["evaluate", "--data", str(data_file), "--model", str(saved)], monkeypatch)
    assert code == 0 and set(metrics["per_label"]) == set(CODES)
    assert {"macro_f1", "abstain_rate", "model"} <= set(metrics)
    assert "macro-F1" in err and "precision" in err


def test_cli_refuses_a_scheme_mismatch_and_a_scheme_without_data(saved, monkeypatch):
    code, rows, err = _run(["classify", "--model", str(saved), "--scheme", "ciw_principles"], monkeypatch, "")
    assert code == 2 and "labels scheme 'areas', not 'ciw_principles'" in err
    code, rows, err = _run(["train", "--scheme", "ciw_principles", "--out", "/nonexistent/x.skops"], monkeypatch)
    assert code == 2 and "no labelled statements for scheme 'ciw_principles'" in err


def test_scores_rank_the_area_a_statement_is_about_first(model):
    [workforce] = C.classify(model, ["We have recruited twelve permanent social workers and cut agency use."])
    assert workforce["scores"]["C"] == max(workforce["scores"].values())
