"""The benchmark harness: a tiny run (`python -m tools.bench --quick`) reports every stage, and the
generated corpus is reproducible from its seed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
STAGES = {
    "extract",
    "segment",
    "classify",
    "classify_encoder",
    "link",
    "link_add",
    "store",
    "search_1",
    "search_4",
    "canned",
    "pdf_memory",
    "prefect",
    "rerun",
}


def test_quick_run_reports_every_stage_with_a_ratio_or_a_reason(tmp_path):
    out = tmp_path / "bench"
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect")}
    proc = subprocess.run(
        [sys.executable, "-m", "tools.bench", "--quick", "--out", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]

    data = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert STAGES <= set(data["stages"])
    for key, stage in data["stages"].items():
        if stage["status"] == "measured":
            assert stage["ratio"] is not None and stage["ratio"] > 0, key
            assert stage["ours"] or stage["ratio_kind"] in ("memory", "agreement", "share"), key  # not timings
            target = stage["target"]
            if target is None:
                assert stage["holds"] is None, key  # "no target" in the table
            elif abs(stage["ratio"] - target["value"]) > 1e-4:  # (the ratio is written rounded to 4 places)
                within = (
                    stage["ratio"] <= target["value"] if target["op"] == "<=" else stage["ratio"] >= target["value"]
                )
                assert stage["holds"] is within, (key, stage["ratio"], target)
        else:
            assert stage["status"] == "skipped", (key, stage["reason"])
            assert stage["reason"].startswith("not yet measured: "), key
    for key in ("extract", "segment", "store", "search_1", "search_4", "canned", "pdf_memory", "rerun"):
        assert data["stages"][key]["status"] == "measured", (key, data["stages"][key]["reason"])
    assert data["stages"]["extract"]["memory"]["peak_mb"] > 0
    assert data["stages"]["prefect"]["status"] == "skipped"  # --quick never starts Prefect's server

    assert data["corpus"]["documents"] == 6 and set(data["corpus"]["formats"]) == {"pdf", "html", "docx"}
    assert data["run"]["documents_per_minute"] > 0
    assert {"cpu", "cores", "ram_gb", "python", "os"} <= set(data["machine"])
    table = (out / "results.md").read_text(encoding="utf-8")
    assert "| stage | ours (median) |" in table and table == proc.stdout
    # figures measured where the training packages are installed say they are not a user's
    assert ("Not a user's environment" in table) == bool(data["machine"]["training_packages"])
    for stage in data["stages"].values():
        assert stage["title"] in table


def test_corpus_documents_are_reproducible_from_the_seed():
    from tools.bench import corpus

    kinds = {}
    for i in range(12):
        kinds.setdefault(corpus.spec(7, i).fmt, i)
    assert set(kinds) == {"pdf", "html", "docx"}
    for i in kinds.values():
        first, second = corpus.build(7, i, max_pages=3), corpus.build(7, i, max_pages=3)
        assert first[3] == second[3] and first[:3] == second[:3]
    assert corpus.build(7, kinds["html"])[3] != corpus.build(8, kinds["html"])[3]


def test_training_packages_installed_beside_the_run_are_named(tmp_path, monkeypatch):
    from tools.bench.report import training_packages

    stand_in = tmp_path / "site" / "torch"
    stand_in.mkdir(parents=True)
    (stand_in / "__init__.py").write_text("")
    before = training_packages()
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    assert "torch" in training_packages()
    assert set(training_packages()) - {"torch"} == set(before) - {"torch"}
