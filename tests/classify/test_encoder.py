"""The fine-tuned encoder (models/areas-minilm.int8.onnx): loaded with its hash checked, run with ONNX Runtime.

The committed graph itself is used (no PyTorch here); damaged or replaced copies are made in tmp_path.
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from pipeline import classify as C
from pipeline.classify.encoder import TOKENIZER_FILE, EncoderScorer
from pipeline.cli.classify import add_commands
from pipeline.config import PROJECT_ROOT, Settings
from pipeline.hashing import sha256_file
from pipeline.records import Statement
from pipeline.versions import model_version

MODELS = PROJECT_ROOT / "models"
ENCODER = MODELS / "areas-minilm.int8.onnx"

pytestmark = pytest.mark.skipif(not ENCODER.is_file(), reason="no fine-tuned encoder in models/")

# Plain statements whose areas the annotation guidelines leave in no doubt (written for this test).
CLEAR = [
    (
        "The council has struggled to recruit and retain qualified social workers, and agency staff fill many posts.",
        "C",
    ),
    (
        "Audits of case files found that supervision was not recorded and managers did not check the quality of work.",
        "D",
    ),
    (
        "The cabinet member and senior leaders did not receive the performance reports they needed to hold services to account.",
        "A",
    ),
    (
        "Children waited too long for assessments, and care and support plans were not reviewed when their needs changed.",
        "B",
    ),
]


SMALL = {
    "model": {"name": "small", "version": "0", "seed": 1},
    "features": {"words": {"ngram_range": [1, 2], "n_features": 2**16, "sublinear_tf": True}},
    "classifier": {"kind": "linear_svc", "C": 0.5},
    "calibration": {"method": "sigmoid", "cv": 3},
    "thresholds": {"cv_folds": 3, "min": 0.2, "max": 0.8, "step": 0.02, "tolerance": 0.01},
    "abstain": {"band": 0.05},
}


def train_small(folder: Path) -> Path:
    """A small TF-IDF model on 1,500 of the labelled statements, saved with its sidecar (seconds)."""
    rows = C.read_labelled(C.label_files(PROJECT_ROOT / "corpus" / "labels"))[::8][:1500]
    data = folder / "subset.jsonl"
    folder.mkdir(parents=True, exist_ok=True)
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    path = folder / "areas.skops"
    C.save_model(C.train([data], Settings(), config=SMALL), path)
    return path


def _copy_encoder(folder: Path, fast: Path | None = None) -> Path:
    """The committed encoder, its sidecar and tokenizer (and, when it blends, a TF-IDF model) in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in (ENCODER.name, f"{ENCODER.name}.json", TOKENIZER_FILE):
        shutil.copy(MODELS / name, folder / name)
    if fast is not None:
        shutil.copy(fast, folder / "areas.skops")
        shutil.copy(f"{fast}.json", folder / "areas.skops.json")
        shutil.copy(fast.with_name(fast.stem + ".linear.npz"), folder / "areas.linear.npz")
    return folder / ENCODER.name


def _blends() -> bool:
    meta = json.loads(Path(f"{ENCODER}.json").read_text(encoding="utf-8"))
    return float(meta.get("blend", {}).get("fast_weight", 0)) > 0


@pytest.fixture(scope="module")
def fast_model(tmp_path_factory) -> Path | None:
    """A TF-IDF model for the encoder to blend with, when its sidecar says it blends (trained small, in seconds)."""
    if not _blends():
        return None
    return train_small(tmp_path_factory.mktemp("fast"))


@pytest.fixture(scope="module")
def encoder(tmp_path_factory, fast_model) -> C.Model:
    return C.load_model(_copy_encoder(tmp_path_factory.mktemp("enc"), fast_model))


def test_the_committed_encoder_labels_plain_statements_by_their_area(encoder):
    results = C.classify(encoder, [text for text, _ in CLEAR])
    for (text, area), result in zip(CLEAR, results):
        assert area in result["labels"], (text, result)
        assert result["model"] == encoder.name and encoder.kind == "encoder"
        assert set(result["scores"]) == {"A", "B", "C", "D"}
    procedure = C.classify(encoder, ["The meeting closed at 4.15pm.", "Apologies were received from two members."])
    assert all(r["labels"] == [] for r in procedure)


def test_a_statements_scores_depend_on_its_text_alone_not_on_the_statements_beside_it(encoder):
    """The int8 graph quantises its activations per call, so texts scored in one batch would move one another's
    scores (by up to 0.62 on real statements): each text is scored alone, and a statement gets the same scores
    whatever document, order or company it comes in."""
    texts = [t for t, _ in CLEAR] + ["Thank you.", "A very long statement " * 60]
    together = encoder.pipeline.predict_proba(texts)
    assert np.array_equal(together, encoder.pipeline.predict_proba(texts))  # the same texts: the same scores
    alone = np.vstack([encoder.pipeline.predict_proba([t]) for t in texts])
    assert np.array_equal(together, alone)
    order = list(range(len(texts)))[::-1]
    assert np.array_equal(encoder.pipeline.predict_proba([texts[i] for i in order]), together[order])
    assert encoder.pipeline.predict_proba([]).shape == (0, 4)


def test_abstain_follows_the_band_around_the_thresholds(encoder):
    texts = [t for t, _ in CLEAR] + ["Staff were positive about the changes.", "The report was noted."]
    scores = encoder.pipeline.predict_proba(texts)
    margins = np.abs(scores - np.asarray(encoder.thresholds)).min(axis=1)
    for result, margin in zip(C.classify(encoder, texts), margins):
        assert result["abstain"] == (margin < encoder.abstain_band)
        assert result["margin"] == pytest.approx(margin, abs=1e-4)


def test_a_damaged_or_replaced_graph_is_refused(tmp_path, fast_model):
    path = _copy_encoder(tmp_path / "m", fast_model)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(C.ClassifyError, match="sha256 .* differs from its sidecar"):
        C.load_model(path)


def test_a_graph_without_its_sidecar_or_with_a_foreign_tokenizer_is_refused(tmp_path, fast_model):
    path = _copy_encoder(tmp_path / "a", fast_model)
    Path(f"{path}.json").unlink()
    with pytest.raises(C.ClassifyError, match="no sidecar"):
        C.load_model(path)
    path = _copy_encoder(tmp_path / "b", fast_model)
    (path.parent / TOKENIZER_FILE).write_text("{}", encoding="utf-8")
    with pytest.raises(C.ClassifyError, match="not the all-MiniLM-L6-v2 tokenizer"):
        C.load_model(path)
    with pytest.raises(C.ClassifyError, match="make finetune"):
        C.load_model(tmp_path / "absent-minilm.int8.onnx")


def test_the_sidecar_records_the_graph_hash_and_grouped_figures():
    meta = json.loads(Path(f"{ENCODER}.json").read_text(encoding="utf-8"))
    assert meta["sha256"] == sha256_file(ENCODER)
    assert set(meta["thresholds"]) == {"A", "B", "C", "D"}
    cv = meta["metrics"]["cross_validation"]
    assert "grouped by source_url" in cv["folds"]
    assert 0 < cv["macro_f1"] <= 1 and set(cv["per_label"]) == {"A", "B", "C", "D"}
    assert 0 <= cv["none_precision"] <= 1 and 0 <= cv["none_recall"] <= 1


def test_default_is_the_encoder_and_fast_is_tfidf(tmp_path, fast_model):
    folder = _copy_encoder(tmp_path / "models", fast_model).parent
    shutil.copy(MODELS / "classifier.toml", folder / "classifier.toml")
    settings = Settings(models_dir=folder)
    assert C.default_model_path(settings).name == ENCODER.name
    assert C.default_model_path(settings, kind="fast").name == "areas.skops"
    with pytest.raises(C.ClassifyError, match="unknown model kind"):
        C.default_model_path(settings, kind="best")
    version = model_version(folder)
    assert version.startswith("areas-minilm-")
    if fast_model is not None:  # retraining the TF-IDF model it blends with re-classifies too
        assert version.endswith("+" + json.loads((folder / "areas.skops.json").read_text())["model"])
    statements = [Statement("d", i, t, 0, len(t), 1, None, "finding", None, "en") for i, (t, _) in enumerate(CLEAR)]
    predictions = C.classify_statements(statements, settings)
    assert [p.model for p in predictions] == [json.loads(Path(f"{ENCODER}.json").read_text())["model"]] * len(CLEAR)
    assert all(area in p.labels for p, (_, area) in zip(predictions, CLEAR))


def test_the_classify_command_takes_fast_default_or_a_file(tmp_path, monkeypatch, capsys, fast_model):
    folder = _copy_encoder(tmp_path / "models", fast_model).parent
    if fast_model is None:  # `--model fast` needs a TF-IDF model: use a small one
        small = train_small(tmp_path / "fast")
        shutil.copy(small, folder / "areas.skops")
        shutil.copy(f"{small}.json", folder / "areas.skops.json")
    monkeypatch.setattr("pipeline.cli.classify.Settings", lambda: Settings(models_dir=folder))
    parser = argparse.ArgumentParser()
    add_commands(parser.add_subparsers())
    line = json.dumps({"id": 1, "text": CLEAR[0][0]}) + "\n"
    names = {}
    for choice in ("default", "fast", str(folder / ENCODER.name)):
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(line.encode())))
        args = parser.parse_args(["classify", "--model", choice])
        assert args.func(args) == 0
        row = json.loads(capsys.readouterr().out)
        assert row["id"] == 1 and "C" in row["labels"]
        names[choice] = row["model"]
    assert names["default"].startswith("areas-minilm-") and names["fast"].startswith("areas-")
    assert names["default"] != names["fast"] and names[str(folder / ENCODER.name)] == names["default"]


def test_encoder_scorer_blends_with_the_fast_model_by_its_weight(encoder):
    texts = [t for t, _ in CLEAR]

    class Fixed:
        def predict_proba(self, texts):
            return np.full((len(texts), 4), 0.5)

    plain = EncoderScorer(encoder.pipeline.session, encoder.pipeline.tokenizer)
    mixed = EncoderScorer(encoder.pipeline.session, encoder.pipeline.tokenizer, Fixed(), 0.25)
    assert np.allclose(mixed.predict_proba(texts), 0.75 * plain.predict_proba(texts) + 0.25 * 0.5)


def test_without_the_tfidf_model_it_blends_with_default_falls_back_and_named_choices_stop(tmp_path, fast_model):
    from pipeline.cli.ingest import classifier_problem
    from pipeline.versions import classifier_file

    if fast_model is None:
        pytest.skip("the committed encoder does not blend")
    folder = _copy_encoder(tmp_path / "models").parent  # the encoder without areas.skops
    settings = Settings(models_dir=folder)
    assert classifier_file(folder).name == "areas.skops"  # default: the TF-IDF model (missing: no labels)
    assert model_version(folder) == "none" and model_version(folder, classifier="encoder") == "none"
    assert classifier_problem(settings) is None
    assert "blends with" in classifier_problem(replace(settings, classifier="encoder"))
    assert "no model at" in classifier_problem(replace(settings, classifier="fast"))
    assert "no model at" in classifier_problem(replace(settings, classifier=str(tmp_path / "nope.onnx")))
    with pytest.raises(C.ClassifyError, match="which is missing: run `scrutiny train`"):
        C.load_model(folder / ENCODER.name)


def test_editing_the_sidecar_reloads_the_thresholds(tmp_path, fast_model):
    path = _copy_encoder(tmp_path / "m", fast_model)
    first = C.load_model(path)
    side = Path(f"{path}.json")
    meta = json.loads(side.read_text(encoding="utf-8"))
    meta["thresholds"]["A"] = 0.9
    side.write_text(json.dumps(meta), encoding="utf-8")
    again = C.load_model(path)
    assert again is not first and again.thresholds[0] == 0.9
    side.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(C.ClassifyError, match="expected a JSON object"):
        C.load_model(path)


class Concurrency:
    """A stand-in ONNX Runtime session that counts how many of its calls run at once."""

    def __init__(self) -> None:
        import threading

        self.lock = threading.Lock()
        self.now = self.most = 0

    def run(self, _outputs, inputs):
        import time

        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        time.sleep(0.01)  # long enough for a second thread's call to overlap, when there is one
        with self.lock:
            self.now -= 1
        return [np.zeros((inputs["input_ids"].shape[0], 4), dtype=np.float32)]


def test_a_run_worker_scores_one_call_at_a_time_and_the_same(encoder, monkeypatch):
    from pipeline.classify import encoder as E

    monkeypatch.setattr(E, "_threads_cap", None)
    texts = [f"Statement {i} about caseloads." for i in range(40)]
    session = Concurrency()
    EncoderScorer(session, encoder.pipeline.tokenizer, threads=2).encoder_scores(texts)
    assert session.most == 2  # a process of its own: two calls side by side
    before = EncoderScorer(encoder.pipeline.session, encoder.pipeline.tokenizer).encoder_scores(texts)

    E.one_call_at_a_time()  # what a run's worker process does first (pipeline.run.batches)
    session = Concurrency()
    EncoderScorer(session, encoder.pipeline.tokenizer, threads=2).encoder_scores(texts)
    assert session.most == 1
    after = EncoderScorer(encoder.pipeline.session, encoder.pipeline.tokenizer).encoder_scores(texts)
    assert np.array_equal(before, after)


def test_the_run_workers_initializer_caps_the_encoder():
    import subprocess

    script = (
        "from pipeline.run.batches import _init_worker\n"
        "import pipeline.classify.encoder as E\n"
        "print(E._threads_cap)\n"
        "_init_worker()\n"
        "print(E._threads_cap)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["None", "1"]
