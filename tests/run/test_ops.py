"""Operations: per-stage reprocessing, the run lock, loud failures on a full or locked database, crash
convergence after kill -9, and the atomic swap of the served file. Real SQLite, real files, real processes."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from builders import make_small_corpus
from conftest import ROOT

from pipeline import store
from pipeline.config import Settings
from pipeline.run.runner import ingest_direct
from pipeline.store.check import integrity_problems
from tools.drills.compare import differences, lost_inputs, partial_documents

PY = sys.executable


@pytest.fixture
def models(tmp_path) -> Path:
    """A models folder of our own: the recurrence config and models (and, in some tests, a classifier)."""
    d = tmp_path / "models"
    d.mkdir()
    for name in ("recurrence.toml", "recur.skops", "recur.skops.json"):
        shutil.copy(ROOT / "models" / name, d / name)
    return d


@pytest.fixture
def calls(monkeypatch) -> Counter:
    """Count the calls of each stage's entry point, as the runner reaches them."""
    import pipeline.classify
    import pipeline.extract
    import pipeline.run.linking
    import pipeline.segment

    counter: Counter = Counter()
    for module, name, stage in (
        (pipeline.extract, "extract_bytes", "extract"),
        (pipeline.segment, "segment", "segment"),
        (pipeline.classify, "classify_statements", "classify"),
        (pipeline.run.linking, "link_new_documents", "link"),
    ):
        real = getattr(module, name)

        def counted(*args, _real=real, _stage=stage, **kwargs):
            counter[_stage] += 1
            return _real(*args, **kwargs)

        monkeypatch.setattr(module, name, counted)
    return counter


def _ingest(docs: Path, db: Path, models: Path) -> dict:
    return ingest_direct([str(docs)], db, settings=Settings(models_dir=models, pdf_timeout_s=60))


def _cold(docs: Path, db: Path, models: Path) -> Path:
    _ingest(docs, db, models)
    return db


def test_a_new_segmenter_resegments_stored_text_without_extracting(tmp_path, models, calls, monkeypatch):
    docs = make_small_corpus(tmp_path)
    db = tmp_path / "warm.db"
    first = _ingest(docs, db, models)
    assert first["stages"]["extract"] == 3 and first["failed"] == 1
    calls.clear()
    monkeypatch.setattr("pipeline.versions.SEGMENT", "segment-test-bump")
    again = _ingest(docs, db, models)
    # only the input that failed is read again (it has no stored text); the three stored ones are not
    assert calls["extract"] == 1 and calls["segment"] == 3 and calls["link"] == 1
    assert again["stages"] == {"extract": 0, "segment": 3, "classify": 0, "link": 3} and again["failed"] == 1
    assert differences(db, _cold(docs, tmp_path / "cold.db", models)) == []
    assert integrity_problems(db) == []


def test_corrections_and_link_reviews_keep_applying_after_a_new_segmenter(tmp_path, models, monkeypatch):
    """People's decisions name statements by id (document and span); a segmenter that draws the spans
    differently must not make them stop applying."""
    import pipeline.segment
    from pipeline.cli import main

    docs = make_small_corpus(tmp_path)
    db = tmp_path / "warm.db"
    _ingest(docs, db, models)
    con = sqlite3.connect(db)
    waits = con.execute("SELECT id FROM statements WHERE text LIKE 'Reduce the waiting list%'").fetchone()[0]
    notes = con.execute("SELECT id FROM statements WHERE text LIKE 'The improvement board met%'").fetchone()[0]
    mention = con.execute(
        "SELECT statement_id, concern_id FROM concern_mentions WHERE statement_id = ?", [waits]
    ).fetchone()
    con.close()
    assert mention is not None, "the recommendation should have been linked into a concern"
    (tmp_path / "labels.csv").write_text(f"statement_id,labels,note\n{notes},A,board\n")
    assert main(["label", str(tmp_path / "labels.csv"), "--db", str(db)]) == 0
    (tmp_path / "review.csv").write_text(f"action,statement_id,concern_id\nconfirm,{waits},{mention[1]}\n")
    assert main(["review-links", str(tmp_path / "review.csv"), "--db", str(db)]) == 0

    real = pipeline.segment.segment

    def without_full_stops(document, settings):  # a new segmenter: each statement stops before its full stop
        return [
            dataclasses.replace(s, char_end=s.char_end - 1, text=s.text[:-1]) if s.text.endswith(".") else s
            for s in real(document, settings)
        ]

    monkeypatch.setattr("pipeline.segment.segment", without_full_stops)
    monkeypatch.setattr("pipeline.versions.SEGMENT", "segment-test-bump")
    again = _ingest(docs, db, models)
    assert again["stages"]["segment"] == 3
    con = sqlite3.connect(db)
    new_waits, new_notes = (
        con.execute("SELECT id FROM statements WHERE text LIKE ?", [like]).fetchone()[0]
        for like in ("Reduce the waiting list%", "The improvement board met%")
    )
    assert new_waits != waits and new_notes != notes
    assert con.execute("SELECT statement_id, labels FROM corrections").fetchall() == [(new_notes, '["A"]')]
    assert con.execute("SELECT concern_id FROM concern_mentions WHERE statement_id = ?", [new_waits]).fetchone() == (
        mention[1],
    )  # the confirmed concern holds it still
    assert con.execute("SELECT count(*) FROM orphaned_decisions").fetchone()[0] == 0
    con.close()
    assert integrity_problems(db) == []


def test_a_new_extractor_reextracts_everything_including_failures(tmp_path, models, calls, monkeypatch):
    docs = make_small_corpus(tmp_path)
    db = tmp_path / "warm.db"
    _ingest(docs, db, models)
    calls.clear()
    monkeypatch.setattr("pipeline.versions.EXTRACT", "extract-test-bump")
    again = _ingest(docs, db, models)
    assert calls["extract"] == 4 and again["stages"]["extract"] == 3 and again["failed"] == 1
    assert differences(db, _cold(docs, tmp_path / "cold.db", models)) == []


def test_a_new_linker_config_only_relinks(tmp_path, models, calls):
    docs = make_small_corpus(tmp_path)
    db = tmp_path / "warm.db"
    _ingest(docs, db, models)
    calls.clear()
    with (models / "recurrence.toml").open("a") as f:
        f.write("\n# a comment is enough to change the linker's version\n")
    again = _ingest(docs, db, models)
    assert (calls["extract"], calls["segment"], calls["link"]) == (0, 0, 1)
    assert again["stages"] == {"extract": 0, "segment": 0, "classify": 0, "link": 3}
    assert again["unchanged"] == 4
    assert _ingest(docs, db, models)["run_id"] is None  # and then nothing is due
    assert differences(db, _cold(docs, tmp_path / "cold.db", models)) == []


@pytest.fixture(scope="module")
def two_models(tmp_path_factory):
    """Two real classifiers with different names (the second a retuned copy of the first)."""
    from builders import FAST_CLASSIFIER, labelled_subset, write_jsonl

    from pipeline import classify as C

    data = write_jsonl(tmp_path_factory.mktemp("labels") / "subset.jsonl", labelled_subset(30))
    first = C.train([data], Settings(), config=FAST_CLASSIFIER)
    name = first.name + "-retuned"
    second = dataclasses.replace(
        first,
        name=name,
        thresholds=tuple(max(0.05, t - 0.1) for t in first.thresholds),
        metadata={**first.metadata, "model": name},
    )
    return first, second


def test_a_new_model_reclassifies_stored_statements_only(tmp_path, models, calls, two_models):
    from pipeline.classify import save_model

    docs = make_small_corpus(tmp_path)
    db = tmp_path / "warm.db"
    save_model(two_models[0], models / "areas.skops")
    _ingest(docs, db, models)
    assert store.open_db(db)["predictions"].count > 0
    calls.clear()
    save_model(two_models[1], models / "areas.skops")
    again = _ingest(docs, db, models)
    assert (calls["extract"], calls["segment"], calls["classify"], calls["link"]) == (0, 0, 3, 1)
    assert again["stages"] == {"extract": 0, "segment": 0, "classify": 3, "link": 3}
    models_used = {r[0] for r in store.open_db(db).execute("SELECT DISTINCT model FROM predictions")}
    assert models_used == {two_models[1].name}
    assert differences(db, _cold(docs, tmp_path / "cold.db", models)) == []


def test_plan_sorts_sources_by_the_earliest_stage_to_redo(tmp_path, models):
    from pipeline.run.inputs import discover, plan
    from pipeline.versions import stage_versions

    docs = make_small_corpus(tmp_path)
    db = tmp_path / "p.db"
    _ingest(docs, db, models)
    ledger = store.ledger(store.open_db(db))
    versions = stage_versions(models)
    sources = discover([str(docs)])
    assert not plan(sources, ledger, versions).has_work
    p = plan(sources, ledger, {**versions, "segment": "other"})
    assert (len(p.todo), len(p.resegment), len(p.unchanged)) == (1, 3, 0)  # the failed one is retried whole
    p = plan(sources, ledger, {**versions, "classify": "other"})
    assert (len(p.todo), len(p.reclassify), len(p.unchanged)) == (0, 3, 1)
    p = plan(sources, ledger, {**versions, "link": "other"})
    assert (len(p.todo), p.relink, len(p.unchanged)) == (0, True, 4)


# ---------------------------------------------------------------- two runs at once

HOLD = """
import sys, time
from pipeline.run.lock import run_lock
with run_lock(sys.argv[1]):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def test_a_second_ingest_is_refused_with_a_clear_message_while_one_runs(tmp_path):
    db = tmp_path / "busy.db"
    holder = subprocess.Popen([PY, "-c", HOLD, str(db), "30"], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert holder.stdout.readline().strip() == "held"
        started = time.monotonic()
        second = subprocess.run(
            [str(Path(PY).parent / "scrutiny"), "ingest", str(ROOT / "corpus"), "--db", str(db)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=120,
            env={**os.environ, "PREFECT_HOME": str(tmp_path / "prefect")},
        )
        assert second.returncode == 3
        assert "another ingest run is using" in second.stderr and f"pid {holder.pid}" in second.stderr
        assert time.monotonic() - started < 30  # refused before Prefect starts
        assert not db.exists() or store.open_db(db)["documents"].count == 0
    finally:
        holder.kill()
        holder.wait()


def test_a_second_run_that_waits_goes_ahead_when_the_first_finishes(tmp_path):
    docs = make_small_corpus(tmp_path)
    db = tmp_path / "queue.db"
    holder = subprocess.Popen([PY, "-c", HOLD, str(db), "2"], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert holder.stdout.readline().strip() == "held"
    started = time.monotonic()
    summary = ingest_direct([str(docs)], db, lock_wait=60)
    assert time.monotonic() - started >= 1.5 and summary["added"] == 3
    holder.wait()


RUN = """
import json, sys
from pipeline.run.runner import ingest_direct
from pipeline.run.lock import RunLocked
try:
    print(json.dumps(ingest_direct([sys.argv[1]], sys.argv[2])), flush=True)
except RunLocked as exc:
    print(json.dumps({"refused": str(exc)}), flush=True)
    sys.exit(3)
"""


def test_two_runs_started_together_leave_one_sound_database(tmp_path):
    docs = make_small_corpus(tmp_path)
    db = tmp_path / "both.db"
    procs = [
        subprocess.Popen([PY, "-c", RUN, str(docs), str(db)], stdout=subprocess.PIPE, text=True, cwd=ROOT)
        for _ in range(2)
    ]
    outs = [json.loads(p.communicate(timeout=300)[0].strip().splitlines()[-1]) for p in procs]
    refused = [o for o in outs if "refused" in o]
    done = [o for o in outs if "added" in o]
    # either the second was refused, or it started after the first had finished and found nothing to do
    assert len(done) >= 1 and sum(o["added"] for o in done) == 3
    assert all("another ingest run" in o["refused"] for o in refused)
    assert integrity_problems(db) == [] and partial_documents(db) == []
    assert differences(db, _cold(docs, tmp_path / "cold.db", ROOT / "models")) == []


# ---------------------------------------------------------------- a full disk, a locked database


def test_a_full_database_fails_the_run_loudly_with_nothing_half_written(prefect_harness, tmp_path, monkeypatch, capsys):
    from pipeline.cli import main

    docs = make_small_corpus(tmp_path)
    (docs / "long.txt").write_text(
        "".join(
            f"Paragraph {n} says the council reviewed item {n} of its workforce "
            f"plan and agreed to act on it by month {n % 12 + 1}.\n\n"
            for n in range(400)
        )
    )
    db_path = tmp_path / "full.db"
    store.open_db(db_path).close()
    pages = sqlite3.connect(db_path).execute("PRAGMA page_count").fetchone()[0]
    real_open = store.open_db

    def capped(path):  # the disk fills up a few pages after the empty schema
        db = real_open(path)
        db.execute(f"PRAGMA max_page_count = {pages + 4}")
        return db

    monkeypatch.setattr(store, "open_db", capped)
    monkeypatch.setattr(store.db, "open_db", capped)  # store.connect opens through it
    code = main(["ingest", str(docs), "--db", str(db_path)])
    err = capsys.readouterr().err
    assert code == 1 and "could not grow" in err and "nothing is half-written" in err
    monkeypatch.undo()
    assert integrity_problems(db_path) == [] and partial_documents(db_path) == []
    con = sqlite3.connect(db_path)
    assert con.execute("SELECT count(*) FROM documents WHERE source_path LIKE '%long.txt'").fetchone()[0] == 0
    con.close()
    # and the next run, with room, completes the work
    assert main(["ingest", str(docs), "--db", str(db_path)]) == 0
    assert lost_inputs(db_path, [str(p) for p in sorted(docs.iterdir())]) == []


def test_a_locked_database_fails_the_run_loudly_and_writes_nothing(prefect_harness, tmp_path, capsys):
    from pipeline.cli import main

    docs = make_small_corpus(tmp_path)
    db_path = tmp_path / "locked.db"
    store.open_db(db_path).close()
    other = sqlite3.connect(db_path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another program holds the write lock beyond our busy timeout
    other.execute("INSERT INTO runs (id, status) VALUES ('other-program', 'running')")
    try:
        code = main(["ingest", str(docs), "--db", str(db_path)])
    finally:
        other.execute("ROLLBACK")
        other.close()
    err = capsys.readouterr().err
    assert code == 1 and "is locked by another program" in err
    con = sqlite3.connect(db_path)
    assert con.execute("SELECT count(*) FROM documents").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM runs").fetchone()[0] == 0
    assert integrity_problems(db_path) == []


# ---------------------------------------------------------------- kill -9


def test_runs_killed_at_random_moments_converge_to_an_uninterrupted_run(tmp_path):
    from tools.drills.crash import kill_trials

    docs = make_small_corpus(tmp_path)
    reference = _cold(docs, tmp_path / "reference.db", ROOT / "models")
    results = kill_trials([str(docs)], reference, tmp_path / "trials", trials=3, seed=7, prefect_trials=0)
    assert sum(not r["finished_before_kill"] for r in results) == 3
    for r in results:
        assert r["held"], r


# ---------------------------------------------------------------- the atomic swap


def test_publish_swaps_in_a_checked_snapshot_and_open_readers_keep_the_old_file(tmp_path):
    from pipeline.publish.swap import PublishError, building_path, publish

    docs = make_small_corpus(tmp_path)
    work = tmp_path / "work.db"
    served = tmp_path / "served.db"
    ingest_direct([str(docs / "notes.txt")], work)
    publish(work, served)
    reader = sqlite3.connect(f"file:{served}?mode=ro", uri=True)
    assert reader.execute("SELECT count(*) FROM documents").fetchone()[0] == 1
    ingest_direct([str(docs)], work)
    publish(work, served)
    assert reader.execute("SELECT count(*) FROM documents").fetchone()[0] == 1  # the old, complete file
    assert sqlite3.connect(served).execute("SELECT count(*) FROM documents").fetchone()[0] == 3
    assert not building_path(served).exists() and integrity_problems(served) == []
    # a snapshot that fails its checks never replaces the served file
    before = served.read_bytes()
    with pytest.raises(PublishError):
        publish(tmp_path / "absent.db", served)
    assert served.read_bytes() == before


def test_a_build_that_fails_leaves_the_served_file_untouched(tmp_path):
    from pipeline.publish.swap import building, building_path

    served = tmp_path / "served.db"
    ingest_direct([str(make_small_corpus(tmp_path) / "notes.txt")], served)
    before = served.read_bytes()
    with pytest.raises(RuntimeError):
        with building(served) as path:
            sqlite3.connect(path).execute("DELETE FROM statements")
            raise RuntimeError("the build stopped half-way")
    assert served.read_bytes() == before and not building_path(served).exists()
    with building(served) as path:
        con = sqlite3.connect(path)
        con.execute("UPDATE documents SET title = 'new title'")
        con.commit()
        con.close()
    assert sqlite3.connect(served).execute("SELECT title FROM documents").fetchone()[0] == "new title"


def test_ingest_swap_to_swaps_the_served_copy_in_after_the_run(prefect_harness, tmp_path, capsys):
    from pipeline.cli import main
    from pipeline.publish.swap import building_path

    docs = make_small_corpus(tmp_path)
    work, served = tmp_path / "work.db", tmp_path / "published" / "scrutiny.db"
    assert main(["ingest", str(docs), "--db", str(work), "--swap-to", str(served)]) == 0
    assert "checked, swapped in atomically" in capsys.readouterr().err
    assert differences(work, served) == [] and not building_path(served).exists()
    assert integrity_problems(served) == []


def test_ingest_refuses_a_file_over_the_size_cap_before_reading_it(tmp_path, monkeypatch):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "small.txt").write_text("The council should improve supervision of social workers.\n")
    big = docs / "big.txt"
    big.write_text("The council should review its placements. " * 200)  # about 8.6 kB
    read = []
    real = Path.read_bytes

    def watched(self):
        read.append(self.name)
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", watched)
    db = tmp_path / "s.db"
    summary = ingest_direct([str(docs)], db, settings=Settings(db_path=db, max_file_bytes=4096))
    assert summary["added"] == 1 and summary["failed"] == 1
    [failure] = summary["failures"]
    assert failure["source_path"].endswith("big.txt") and failure["reason"].startswith("too large")
    assert "big.txt" not in read
    con = sqlite3.connect(db)
    assert con.execute("SELECT count(*) FROM documents").fetchone()[0] == 1
    assert con.execute("SELECT status FROM sources WHERE source_path LIKE '%big.txt'").fetchone()[0] == "failed"


def test_a_new_status_reader_relinks_only_when_the_linker_reads_it(tmp_path):
    """The status reader's encoder is in the link version when `[status] encoder = true`, and only then."""
    from pipeline.recur.status_encoder import GRAPH_FILE
    from pipeline.versions import STATUS_READER_SIDECAR, link_version

    assert STATUS_READER_SIDECAR == f"{GRAPH_FILE}.json"
    models = tmp_path / "models"
    models.mkdir()
    config = (ROOT / "models" / "recurrence.toml").read_text(encoding="utf-8")
    assert "\nencoder = false\n" in config  # off by default
    (models / "recurrence.toml").write_text(config, encoding="utf-8")
    sidecar = models / STATUS_READER_SIDECAR
    sidecar.write_text('{"sha256": "one"}', encoding="utf-8")
    off = link_version(models)
    sidecar.write_text('{"sha256": "two"}', encoding="utf-8")
    assert link_version(models) == off  # off: a rebuilt reader changes nothing

    (models / "recurrence.toml").write_text(config.replace("\nencoder = false\n", "\nencoder = true\n"))
    on = link_version(models)
    assert on != off
    sidecar.write_text('{"sha256": "three"}', encoding="utf-8")
    assert link_version(models) != on  # on: a rebuilt reader relinks


def _in_a_fresh_process(fn, settings, works, fresh):
    """`spread` as a run gives it: each council linked in another process (spawned, so nothing patched here
    reaches it)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        yield from [pool.submit(fn, settings, w).result() for w in works]


def test_the_process_handing_out_councils_loads_no_recurrence_model(tmp_path, models, monkeypatch):
    """With workers, the process that hands out the councils and writes their results needs only the linking
    numbers: the learned models (about 150 MB) are the workers'. The concerns are the same as linked here."""
    import pipeline.recur
    from pipeline import store
    from pipeline.run.linking import link_new_documents

    docs = make_small_corpus(tmp_path)
    db = tmp_path / "one.db"
    _ingest(docs, db, models)
    settings = Settings(db_path=db, models_dir=models)
    reference = tmp_path / "two.db"
    shutil.copy(db, reference)
    for path in (db, reference):
        handle = store.open_db(path)
        with store.transaction(handle):
            store.clear_recurrence(handle)
        handle.close()

    handle = store.open_db(reference)
    with store.transaction(handle):
        here = dataclasses.replace(settings, db_path=reference)
        linked_here = link_new_documents(handle, here, store.document_ids(handle))
    handle.close()

    def refused(*args, **kwargs):
        raise AssertionError("the recurrence models were loaded by the process that hands out councils")

    monkeypatch.setattr(pipeline.recur, "config_for", refused)
    for module in ("pipeline.recur.cues", "pipeline.recur.learned"):
        monkeypatch.setattr(sys.modules[module], "load_models", refused)
    handle = store.open_db(db)
    with store.transaction(handle):
        linked_there = link_new_documents(handle, settings, store.document_ids(handle), _in_a_fresh_process)
    handle.close()
    assert linked_there == linked_here > 0
    assert differences(db, reference) == []


def test_the_linking_numbers_are_refused_without_the_models(tmp_path):
    """The process that hands out councils says how to build the models before handing any out."""
    import pipeline.recur

    (tmp_path / "recurrence.toml").write_text((ROOT / "models" / "recurrence.toml").read_text())
    from pipeline.recur.learned import RecurModelError

    with pytest.raises(RecurModelError, match="make recur-model"):
        pipeline.recur.linking_numbers(Settings(models_dir=tmp_path))
    assert pipeline.recur.linking_numbers(Settings())["batch_statements"] > 0
