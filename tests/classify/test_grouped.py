"""Training on statements written from real pages: folds grouped by page, our own statements weighed less.

A small model trained in seconds on a slice of corpus/labels, half of it given made-up source pages.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from builders import AREA_CODES as CODES
from builders import FAST_CLASSIFIER, labelled_subset, write_jsonl

from pipeline import classify as C
from pipeline.classify.model import fit_pipeline
from pipeline.classify.train import cv_splits, statement_weights
from pipeline.config import Settings


def _grounded_and_written() -> tuple[list[dict], list[dict]]:
    """Every other statement of the slice gets a source page (5 statements a page); the rest stay ours."""
    rows = labelled_subset(60)
    grounded = [{**r, "source_url": f"https://example.org/page/{i // 10}"} for i, r in enumerate(rows) if i % 2 == 0]
    written = [r for i, r in enumerate(rows) if i % 2 == 1]
    return grounded, written


@pytest.fixture(scope="module")
def label_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("grounded")
    grounded, written = _grounded_and_written()
    write_jsonl(folder / "areas-grounded.jsonl", grounded)
    write_jsonl(folder / "ours.jsonl", written)
    return folder


def test_folds_hold_out_whole_pages_and_always_fit_our_statements():
    grounded, written = _grounded_and_written()
    records = written[:40] + grounded + written[40:]
    splits, how = cv_splits(records, 3, seed=1)
    assert len(splits) == 3 and "grouped by source_url" in how
    ours = {i for i, r in enumerate(records) if not r.get("source_url")}
    held_out = np.concatenate([held for _, held in splits])
    # every statement from a page is held out exactly once; ours never
    assert sorted(held_out.tolist()) == sorted(set(range(len(records))) - ours)
    for fit, held in splits:
        assert ours <= set(fit.tolist())
        assert not set(fit.tolist()) & set(held.tolist())
        fit_pages = {records[i]["source_url"] for i in fit if records[i].get("source_url")}
        held_pages = {records[i]["source_url"] for i in held}
        assert not fit_pages & held_pages, "a page is on both sides of a fold"


def test_without_source_pages_the_folds_are_random_over_everything():
    rows = labelled_subset(20)
    splits, how = cv_splits(rows, 3, seed=1)
    assert "random folds" in how
    assert sorted(np.concatenate([h for _, h in splits]).tolist()) == list(range(len(rows)))


def test_weights_of_our_statements_pages_and_corrections():
    config = {"training": {"written_weight": 0.25}}
    records = [
        {"text": "a", "labels": []},
        {"text": "b", "labels": [], "source_url": "https://example.org/1"},
        {"text": "c", "labels": [], "source": "correction"},
    ]
    assert statement_weights(records, config).tolist() == [0.25, 1.0, 1.0]
    # with nothing from real pages there is nothing to weigh ours against
    assert statement_weights([records[0], records[2]], config).tolist() == [1.0, 1.0]
    assert statement_weights(records, {}).tolist() == [1.0, 1.0, 1.0]
    with pytest.raises(C.ClassifyError, match="written_weight"):
        statement_weights(records, {"training": {"written_weight": 0}})


def test_weights_change_the_fit_and_leave_no_routing_requests_behind():
    rows = labelled_subset(30)
    texts, y = [r["text"] for r in rows], C.indicators(rows, CODES)
    weights = np.where(np.arange(len(rows)) % 2 == 0, 0.1, 1.0)
    plain = fit_pipeline(C.build_pipeline(FAST_CLASSIFIER, CODES), texts, y)
    weighted = fit_pipeline(C.build_pipeline(FAST_CLASSIFIER, CODES), texts, y, weights)
    assert not np.allclose(plain.predict_proba(texts), weighted.predict_proba(texts))

    def holds_requests(obj, seen) -> bool:
        if id(obj) in seen or isinstance(obj, (type, np.ndarray, str)):
            return False
        seen.add(id(obj))
        if isinstance(obj, dict):
            return any(holds_requests(v, seen) for v in obj.values())
        if isinstance(obj, (list, tuple)):
            return any(holds_requests(v, seen) for v in obj)
        if hasattr(obj, "__dict__"):
            return "_metadata_request" in obj.__dict__ or any(holds_requests(v, seen) for v in vars(obj).values())
        return False

    assert not holds_requests(weighted, set())


def test_train_measures_on_held_out_pages_and_the_model_saves_and_loads(label_dir, tmp_path):
    config = {**FAST_CLASSIFIER, "training": {"written_weight": 0.5}}
    model = C.train(C.label_files(label_dir), Settings(), config=config)
    cv = model.metadata["metrics"]["cross_validation"]
    grounded = sum(1 for line in (label_dir / "areas-grounded.jsonl").open() if line.strip())
    assert cv["statements"] == grounded  # measured on the statements from real pages only
    assert "grouped by source_url" in cv["folds"]
    assert 0.0 <= cv["none_precision"] <= 1.0 and 0.0 <= cv["none_recall"] <= 1.0
    assert model.metadata["training"]["grounded"] == grounded
    assert model.metadata["training"]["written_weight"] == 0.5
    path = tmp_path / "areas.skops"
    C.save_model(model, path)
    with zipfile.ZipFile(path) as archive:
        assert "MetadataRequest" not in archive.read("schema.json").decode()
    loaded = C.load_model(path)
    texts = ["Caseloads for social workers have fallen since the last inspection.", "Contact us"]
    assert [r["labels"] for r in C.classify(loaded, texts)] == [r["labels"] for r in C.classify(model, texts)]
    assert json.loads(C.sidecar_path(path).read_text())["metrics"]["cross_validation"]["folds"] == cv["folds"]


def test_the_second_annotator_comparison_tells_the_labels_gap_from_the_models(tmp_path):
    """`make finetune` prints how a second person's blind labels and the model's out-of-fold labels each agree
    with ours; here the model is perfect on the lines the second person labelled, and that person differs on one
    of four areas for every other statement."""
    from pipeline.classify.finetune import second_annotator_figures

    grounded, _ = _grounded_and_written()
    (tmp_path / "labels").mkdir()
    write_jsonl(tmp_path / "labels" / "grounded.jsonl", grounded)
    grounded = grounded[1::2] + grounded[::2]  # the records in another order than the file's lines
    y = C.indicators(grounded, CODES).astype(float)
    second = []
    for line, r in enumerate(C.read_labelled([tmp_path / "labels" / "grounded.jsonl"]), 1):
        labels = list(r["labels"])
        if line % 2:  # every other statement: the second person adds or drops area D
            labels = [c for c in labels if c != "D"] if "D" in labels else [*labels, "D"]
        second.append({"line": line, "labels": labels})
    second += [{"line": 0, "labels": []}, {"line": 10**6, "labels": []}, {"line": 1, "labels": ["Z"]}, {"x": 1}]
    write_jsonl(tmp_path / "grounded-second-annotator.jsonl", second)
    fold = np.arange(len(grounded)) % 3
    config = C.load_config(Settings().models_dir / "classifier.toml")
    got = second_annotator_figures(grounded, y * 0.8 + 0.1, fold, config, CODES, tmp_path)
    assert got["statements"] == len(grounded) and got["lines_skipped"] == 4
    assert got["model_oof_vs_labels_macro_f1"] == 1.0
    assert got["second_annotator_vs_labels_per_label"]["D"] < 0.7
    assert got["second_annotator_vs_labels_macro_f1"] < 1.0
    assert {c: got["second_annotator_vs_labels_per_label"][c] for c in "ABC"} == dict.fromkeys("ABC", 1.0)
    (tmp_path / "grounded-second-annotator.jsonl").unlink()
    assert second_annotator_figures(grounded, y, fold, config, CODES, tmp_path) is None


def test_a_finetune_with_another_recipe_keeps_its_scores_apart_and_refuses_a_meaningless_one(
    capsys, monkeypatch, tmp_path
):
    """Out-of-fold scores are kept under a name that says their recipe (so a name keeps its meaning when a
    default changes), and runs with other epochs, learning rate, written weight or a smoke run never overwrite one
    another; a run asked for no epochs, a learning rate that is not positive, or both --cv-only and --reuse-oof
    stops at once, with the reason, before anything is read or fine-tuned."""
    from pipeline.classify.finetune import main, oof_name, rate_text

    assert [rate_text(x) for x in (2e-4, 5e-5, 1.5e-4, 1e-3)] == ["2e-4", "5e-5", "1.5e-4", "1e-3"]
    default = oof_name("areas", 5, 1.0, None)
    assert default == "oof-areas-5folds-epochs3-lr2e-4.npz"
    assert oof_name("areas", 5, 1.0, None, lr=5e-5) == "oof-areas-5folds-epochs3-lr5e-5.npz"
    others = {
        oof_name("areas", 5, 1.0, None, epochs=4),
        oof_name("areas", 5, 1.0, None, lr=1e-4),
        oof_name("areas", 5, 0.25, None),
        oof_name("areas", 5, 1.0, 300),
    }
    others.add(oof_name("areas", 5, 1.0, None, data="0123456789abcdef"))  # other labelled files: another file
    assert default not in others and len(others) == 5
    assert oof_name("areas", 5, 1.0, None, data="0123456789abcdef").endswith("-lr2e-4-data0123456789ab.npz")
    monkeypatch.chdir(tmp_path)  # --work is relative: nothing is written in the repository
    assert main(["--cv-only", "--epochs", "0"]) == 2
    assert "at least one epoch" in capsys.readouterr().err
    assert main(["--cv-only", "--lr=-1e-5"]) == 2
    assert "positive learning rate" in capsys.readouterr().err
    assert main(["--cv-only", "--reuse-oof"]) == 2
    assert "give one of them" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_kept_out_of_fold_scores_are_reused_only_for_the_data_they_were_made_on(tmp_path):
    """`make finetune --reuse-oof` reads the scores an earlier run kept instead of fine-tuning the folds again,
    only if they were made on the same statements, labels, folds, labelled files and recipe, and only from a file
    that records the last two; otherwise it says why."""
    from pipeline.classify.finetune import ClassifyError, kept_scores

    truth = np.array([[1, 0], [0, 1], [1, 1], [0, 0]])
    fold = np.array([0, 1, 0, 1])
    scores = np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.6], [0.1, 0.2]])
    recipe = {"epochs": 3, "optimizer": "AdamW lr 2e-4"}
    path = tmp_path / "oof.npz"
    common = {"fast": scores, "fold": fold, "truth": truth, "codes": ["A", "B"]}
    np.savez_compressed(path, encoder=scores, corpus="abc", recipe=json.dumps(recipe, sort_keys=True), **common)
    assert (kept_scores(path, truth, fold, ["A", "B"], "abc", recipe) == scores).all()
    cases = [
        ((truth[::-1], fold, ["A", "B"], "abc", recipe), "other statements or labels"),
        ((truth, 1 - fold, ["A", "B"], "abc", recipe), "other folds"),
        ((truth, fold, ["A", "C"], "abc", recipe), "other labels"),
        ((truth, fold, ["A", "B"], "xyz", recipe), "other labelled files"),
        ((truth, fold, ["A", "B"], "abc", {**recipe, "epochs": 4}), "another recipe"),
        ((truth[:3], fold[:3], ["A", "B"], "abc", recipe), "other statements"),
    ]
    for args, why in cases:
        with pytest.raises(ClassifyError, match=why):
            kept_scores(path, *args)
    # a file that does not say what made it could be another recipe's scores: refused
    np.savez_compressed(path, encoder=scores, **common)
    with pytest.raises(ClassifyError, match="labelled files it does not record, a recipe it does not record"):
        kept_scores(path, truth, fold, ["A", "B"], "abc", recipe)
    np.savez_compressed(path, corpus="abc", recipe=json.dumps(recipe, sort_keys=True), **common)
    with pytest.raises(ClassifyError, match="holds no encoder scores"):
        kept_scores(path, truth, fold, ["A", "B"], "abc", recipe)
    with pytest.raises(ClassifyError, match="no kept out-of-fold scores"):
        kept_scores(tmp_path / "missing.npz", truth, fold, ["A", "B"], "abc", recipe)
    (tmp_path / "bad.npz").write_text("not numpy", encoding="utf-8")
    np.savez_compressed(tmp_path / "whole.npz", encoder=scores, **common)
    (tmp_path / "cut.npz").write_bytes((tmp_path / "whole.npz").read_bytes()[:200])  # a save cut short
    for name in ("bad.npz", "cut.npz"):
        with pytest.raises(ClassifyError, match="not a file of kept"):
            kept_scores(tmp_path / name, truth, fold, ["A", "B"], "abc", recipe)


def test_a_grouped_run_keeps_its_scores_and_a_reuse_run_fits_from_them_without_fine_tuning_the_folds(
    monkeypatch, tmp_path
):
    """The path of `make finetune FINETUNE_ARGS="--cv-only --lr X"` then `--reuse-oof --lr X`, on a smoke slice with
    the network replaced by a stand-in: the grouped run fine-tunes every fold, writes its scores and no model; the
    reuse run fine-tunes only the final model, leaves the kept file as it was and records where its scores came
    from; a reuse run of another learning rate finds nothing to reuse."""
    import pipeline.classify.finetune as ft

    fits: list[int] = []

    def fake_fit(texts, y, *args, **kwargs):
        fits.append(len(texts))
        return "net"

    def fake_export(net, out):
        out.write_bytes(b"graph")
        return out

    def fake_scores(graph, texts, models_dir):
        return np.array([[(sum(map(ord, t)) % 97) / 97, (len(t) % 13) / 13, 0.5, 0.2] for t in texts])  # repeatable

    monkeypatch.setattr(ft, "weights_dir", lambda cache: cache)
    monkeypatch.setattr(ft, "fit", fake_fit)
    monkeypatch.setattr(ft, "export_int8", fake_export)
    monkeypatch.setattr(ft, "graph_scores", fake_scores)
    settings, work, out = Settings(), tmp_path / "work", tmp_path / "areas-minilm.int8.onnx"
    args = (settings, "areas", 3, out, None, 240, work, None)
    got = ft.run(*args, lr=1e-4, cv_only=True)
    [kept] = work.glob(ft.oof_name("areas", 3, 1.0, 240, lr=1e-4).removesuffix(".npz") + "-data*.npz")
    assert len(fits) == 3 and kept.is_file() and not out.exists()
    assert 0 <= got["metrics"]["cross_validation"]["macro_f1"] <= 1
    before = kept.read_bytes()
    fits.clear()
    sidecar = ft.run(*args, lr=1e-4, reuse=True)
    assert len(fits) == 1 and fits[0] == sidecar["training"]["statements"]  # the final fit only
    assert kept.read_bytes() == before
    assert sidecar["training"]["out_of_fold_scores_reused_from"] == kept.name
    assert sidecar["recipe"]["optimizer"].startswith("AdamW lr 1e-4")
    assert out.read_bytes() == b"graph" and json.loads((tmp_path / f"{out.name}.json").read_text())["sha256"]
    with pytest.raises(ft.ClassifyError, match="no kept out-of-fold scores"):
        ft.run(*args, lr=2e-4, reuse=True)


def test_grouped_figures_are_also_given_per_labelled_file_from_the_same_decisions():
    """With statements from two labelled files, the grouped figures are split by file as well: each file's figure is
    the metrics of the same out-of-fold decisions on its own statements, so a new file cannot hide a fall on the old."""
    from pipeline.classify.evaluate import metrics
    from pipeline.classify.finetune import choose
    from pipeline.classify.model import load_config
    from pipeline.classify.train import best_threshold

    rng = np.random.default_rng(3)
    n = 400
    y = rng.random((n, 4)) < 0.3
    encoder = np.clip(y * 0.5 + rng.random((n, 4)) * 0.6, 0, 1)
    fast = np.clip(y * 0.3 + rng.random((n, 4)) * 0.7, 0, 1)
    fold = np.arange(n) % 5
    files = ["old.jsonl"] * 300 + ["new.jsonl"] * 100
    config = load_config(Settings().models_dir / "classifier.toml")
    got = choose(y, encoder, fast, fold, config, CODES, files)
    cv = got["cross_validation"]
    assert set(cv["by_file"]) == {"old.jsonl", "new.jsonl"}
    assert cv["by_file"]["old.jsonl"]["statements"] == 300 and cv["by_file"]["new.jsonl"]["statements"] == 100
    # the same decisions, made fold by fold with thresholds from the other folds
    w = got["fast_weight"]
    scores = (1 - w) * encoder + w * fast
    decided = np.zeros(y.shape, dtype=bool)
    for f in range(5):
        thr = [best_threshold(y[fold != f, j], scores[fold != f, j], config) for j in range(4)]
        decided[fold == f] = scores[fold == f] >= np.array(thr)
    old = np.arange(n) < 300
    want = metrics(y[old], decided[old], np.zeros(300, dtype=bool), CODES)
    assert cv["by_file"]["old.jsonl"]["per_label"] == want["per_label"]
    # one file (or none given): no split
    assert "by_file" not in choose(y, encoder, fast, fold, config, CODES, ["old.jsonl"] * n)["cross_validation"]
    assert "by_file" not in choose(y, encoder, fast, fold, config, CODES)["cross_validation"]
