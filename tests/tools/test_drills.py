"""`make drills` in its small CI profile: every drill runs for real and must hold."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import ROOT

pytestmark = pytest.mark.slow


def test_the_ci_profile_of_the_drills_holds(tmp_path):
    out = tmp_path / "drills"
    env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "tools.drills", "--profile", "ci", "--out", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    results = json.loads((out / "results.json").read_text())
    assert [r["drill"] for r in results["results"]] == [
        "kill -9 at random moments",
        "full disk",
        "locked database",
        "fetch failures",
        "hostile files in a normal batch",
        "Datasette while the served file is swapped",
    ]
    for r in results["results"]:
        assert r["held"], (r["drill"], r["problems"], proc.stderr[-3000:])
    assert proc.returncode == 0
    assert "| kill -9 at random moments |" in proc.stdout and (out / "results.md").is_file()
    kill = results["results"][0]
    assert kill["killed_mid_run"] == 3 and kill["trials"][0]["process"].startswith("scrutiny ingest")
    hostile = results["results"][4]["outcomes"]
    assert len(hostile) == 13 and all(v == "stored" or v.startswith("failed: ") for v in hostile.values())
    assert hostile["PDF whose pages repeat their paragraphs"] == "stored"
    serve = results["results"][5]
    assert serve["requests"] > 0 and serve["swaps"] >= 2
