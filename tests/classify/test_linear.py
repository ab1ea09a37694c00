"""The TF-IDF model's linear form: the same scores as the scikit-learn pipeline, read without scikit-learn.

A small model is trained in seconds on a slice of corpus/labels; files are real, in tmp_path.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from builders import FAST_CLASSIFIER, labelled_subset, write_jsonl

from pipeline import classify as C
from pipeline.classify.linear import LinearForm, from_pipeline, linear_path
from pipeline.config import PROJECT_ROOT, Settings

# Text as it comes from real pages: accents, Welsh circumflexes, ligatures, typographic quotes, odd spacing,
# digits and symbols, a line read without spaces, nothing at all.
VARIED = [
    "The council must improve the supervision of social workers in the Children's Services.",
    "Café, naïve and façade: the résumé of the rôle was ‘reviewed’ — “twice”.",
    "Mae’r cyngor wedi gwella’r gwasanaethau; ŵyr, tŷ, dŵr, ŷd and â ê î ô û.",
    "ﬁnance ﬀ Ⅻ ½ ² İstanbul ǅ ß ẞ",
    "Caseloads\tof\n\n40+   per   worker\u00a0(£1,200/month) at 3.5% e.g. 2017-2020",
    "recruitmentandretentionofqualifiedsocialworkersremainsachallengeforthecouncil" * 2,
    "",
    "   ",
    "Leadership leadership LEADERSHIP leadership, leadership.",
    "a",  # last: a text without word n-grams at the end of a batch
]

# The production configuration's word view strips accents; the test model's does too.
CONFIG = {
    **FAST_CLASSIFIER,
    "features": {
        **FAST_CLASSIFIER["features"],
        "words": {**FAST_CLASSIFIER["features"]["words"], "strip_accents": "unicode"},
    },
}


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> Path:
    rows = labelled_subset()
    data = write_jsonl(tmp_path_factory.mktemp("labels") / "subset.jsonl", rows)
    path = tmp_path_factory.mktemp("models") / "areas.skops"
    C.save_model(C.train([data], Settings(), config=CONFIG), path)
    return path


def _texts() -> list[str]:
    rows = C.read_labelled(C.label_files(PROJECT_ROOT / "corpus" / "labels"))
    return [r["text"] for r in rows[::7][:1500]] + VARIED


def test_the_linear_form_scores_as_the_pipeline_does(saved):
    full = C.load_model(saved)
    form = from_pipeline(full.pipeline)
    assert form is not None
    texts = _texts()
    assert form.views[0].strip_accents == "unicode"
    expected = full.pipeline.predict_proba(texts)  # scikit-learn's own path, not pipeline.ngrams
    np.testing.assert_allclose(form.predict_proba(texts), expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(form.predict_proba(["a"]), full.pipeline.predict_proba(["a"]), rtol=0, atol=1e-12)


def test_save_writes_the_linear_form_and_its_hash_and_load_reads_it(saved):
    flat = linear_path(saved)
    assert flat.name == "areas.linear.npz" and flat.is_file()
    side = json.loads(Path(f"{saved}.json").read_text(encoding="utf-8"))
    assert side["linear"]["file"] == flat.name and len(side["linear"]["sha256"]) == 64
    full, light = C.load_model(saved), C.load_model(saved, linear=True)
    assert isinstance(light.pipeline, LinearForm) and light.kind == "fast" and light.vectorizer is None
    assert (light.name, light.codes, light.thresholds, light.abstain_band) == (
        full.name,
        full.codes,
        full.thresholds,
        full.abstain_band,
    )
    texts = _texts()
    assert C.classify(light, texts) == C.classify(full, texts)  # labels, rounded scores, abstentions, margins


def _copy(saved: Path, folder: Path) -> Path:
    for name in (saved.name, f"{saved.name}.json", linear_path(saved).name):
        shutil.copy(saved.parent / name, folder / name)
    return folder / saved.name


def test_a_damaged_missing_or_foreign_linear_form_is_not_used(saved, tmp_path, caplog):
    """The skops file is the model: whenever its linear form is not the one the sidecar describes (damaged,
    missing, or left from another skops file), the skops file is read instead, with a warning."""
    expected = C.classify(C.load_model(saved), VARIED)
    cases = {
        "damaged": lambda p: _flip(linear_path(p)),
        "missing": lambda p: linear_path(p).unlink(),
        "another model": lambda p: _flip(p),  # a skops file the form was not made from
    }
    for i, (case, spoil) in enumerate(cases.items()):
        (tmp_path / str(i)).mkdir()
        path = _copy(saved, tmp_path / str(i))
        spoil(path)
        caplog.clear()
        if case == "another model":
            with pytest.raises(C.ClassifyError):  # not the old form: the skops file, refused as damaged
                C.load_model(path, linear=True)
            assert "read with scikit-learn" in caplog.text
            continue
        model = C.load_model(path, linear=True)
        assert not isinstance(model.pipeline, LinearForm), case
        assert "read with scikit-learn" in caplog.text, case
        assert C.classify(model, VARIED) == expected, case


def _flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def test_a_pipeline_of_another_shape_has_no_linear_form(tmp_path):
    config = {**FAST_CLASSIFIER, "calibration": {"method": "isotonic", "cv": 3}}
    data = write_jsonl(tmp_path / "subset.jsonl", labelled_subset(per_label=40))
    path = tmp_path / "iso.skops"
    C.save_model(C.train([data], Settings(), config=config), path)
    assert not linear_path(path).exists()
    assert "linear" not in json.loads(Path(f"{path}.json").read_text(encoding="utf-8"))
    assert not isinstance(C.load_model(path, linear=True).pipeline, LinearForm)


def test_classifying_statements_needs_no_scikit_learn(saved):
    """What an ingest worker does: classify with the saved model, in a fresh process; scikit-learn and skops
    stay unloaded (about 110 MB of memory per worker)."""
    script = f"""
import sys
from pathlib import Path
from pipeline.config import Settings
from pipeline.records import Statement
from pipeline.classify import classify_statements
s = Statement("ab" * 32, 0, "Supervision of social workers is not regular.", 0, 45, 1, None, "finding", None, "en")
out = classify_statements([s], Settings(), model_path=Path({str(saved)!r}))
print(out[0].model, sorted(m for m in sys.modules if m.split(".")[0] in ("sklearn", "skops")))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    name, loaded = done.stdout.strip().split(" ", 1)
    assert name == C.load_model(saved).name and loaded == "[]"
