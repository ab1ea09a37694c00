"""A fresh worker process whose threads take their first documents at the same moment (what every run's
thread pool does): they must share one spaCy pipeline and one model, and neither may fail while they are built.

Before the loaders were locked, both threads built their own pipeline, and one of them could fail with
spaCy's "Extension 'language' already exists"; a run then recorded a good file as failed (found by the
kill -9 drill, whose uninterrupted run differed from the reference)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import json, sys, threading
from pipeline.config import Settings
from pipeline.records import Document, Metadata, Block
from pipeline.segment import _load_nlp, segment
from pipeline.classify import classify_statements
from pipeline.classify.model import _load

settings = Settings(db_path=sys.argv[1])
text = "The council should shorten waits for assessments. Members agreed an action plan."
doc = Document(id="a" * 64, source_path="t.txt", format="text", text=text,
               blocks=(Block("paragraph", text, 0, len(text), None, 0),), pages=(),
               metadata=Metadata(doc_type="council_minutes", language="en"), size=len(text), extractor_version="x")
barrier = threading.Barrier(THREADS)
out, errors = {}, []

def work(n):
    try:
        barrier.wait()
        statements = segment(doc, settings)
        predictions = classify_statements(statements, settings)
        out[n] = {
            "statements": [s.text for s in statements],
            "labels": [list(p.labels) for p in predictions],
        }
    except Exception as exc:
        errors.append(f"{type(exc).__name__}: {exc}")

threads = [threading.Thread(target=work, args=(n,)) for n in range(THREADS)]
for t in threads: t.start()
for t in threads: t.join()
loads = {"nlp": _load_nlp.cache_info(), "model": _load.cache_info()}
# every build stayed in its cache: a second build of the same thing would be a miss that replaced the first
print(json.dumps({"out": out, "errors": errors, "built": {k: [c.misses, c.currsize] for k, c in loads.items()}}))
"""


def test_threads_taking_their_first_documents_together_share_one_pipeline_and_model(tmp_path):
    threads = 4
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT.replace("THREADS", str(threads)), str(tmp_path / "scrutiny.db")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["errors"] == []
    done = list(result["out"].values())
    assert len(done) == threads
    nlp_builds, nlp_kept = result["built"]["nlp"]
    assert nlp_builds == nlp_kept == 1, f"the spaCy pipeline was built {nlp_builds} times"
    model_loads, models_kept = result["built"]["model"]  # an encoder loads its TF-IDF partner too
    assert model_loads == models_kept, f"{model_loads} model loads for {models_kept} models"
    assert all(d["statements"] == done[0]["statements"] and d["labels"] == done[0]["labels"] for d in done)
    assert len(done[0]["statements"]) == 2
