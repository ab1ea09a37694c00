"""The drills themselves. Each returns a result: what was tried, what held, and the figures measured."""

from __future__ import annotations

import dataclasses
import hashlib
import sqlite3
import sys
import threading
import time
from pathlib import Path
from typing import Any

from pipeline import store
from pipeline.config import Settings
from pipeline.run.childproc import free_port, serving
from pipeline.run.lock import explain_db_error
from pipeline.run.runner import ingest_direct
from pipeline.store.check import integrity_problems
from tools.drills.compare import differences, lost_inputs, partial_documents

ROOT = Path(__file__).resolve().parents[2]


@dataclasses.dataclass
class Profile:
    name: str
    kill_trials: int
    prefect_trials: int
    kill_corpus: str  # "corpus" (the bundled 17 documents) or "small" (three written for the drills)
    serve_seconds: float
    clients: int = 16
    pdf_timeout_s: float = 30.0


PROFILES = {
    "full": Profile("full", 20, 3, "corpus", 60.0),
    "ci": Profile("ci", 3, 1, "small", 10.0, pdf_timeout_s=10.0),
}


def _result(name: str, tried: str, problems: list[str], **figures: Any) -> dict[str, Any]:
    return {"drill": name, "tried": tried, "held": not problems, "problems": problems[:10], **figures}


def _soundness(db: Path, reference: Path | None, inputs: list[str]) -> list[str]:
    problems = integrity_problems(db) + partial_documents(db) + [f"lost: {p}" for p in lost_inputs(db, inputs)]
    if reference is not None:
        problems += differences(db, reference)
    return problems


# ---------------------------------------------------------------- kill -9


def kill9(profile: Profile, work: Path, seed: int, small: Path) -> dict[str, Any]:
    from tools.drills.crash import kill_trials

    paths = [str(ROOT / "corpus")] if profile.kill_corpus == "corpus" else [str(small)]
    reference = work / "kill-reference.db"
    reference.unlink(missing_ok=True)
    started = time.monotonic()
    ingest_direct(paths, reference)
    trials = kill_trials(
        paths, reference, work / "kill", trials=profile.kill_trials, seed=seed, prefect_trials=profile.prefect_trials
    )
    problems = [f"trial {t['trial']}: {p}" for t in trials for p in t["problems"]]
    killed = sum(not t["finished_before_kill"] for t in trials)
    prefect = sum(not t["finished_before_kill"] and t["process"].startswith("scrutiny") for t in trials)
    return _result(
        "kill -9 at random moments",
        f"{killed} runs killed mid-way ({prefect} of them `scrutiny ingest` with Prefect) at seeded "
        f"moments (seed {seed}, {len(trials)} draws), each then re-run, on "
        f"{' '.join(Path(p).name for p in paths)}",
        problems,
        trials=trials,
        killed_mid_run=killed,
        seconds=round(time.monotonic() - started, 1),
    )


# ---------------------------------------------------------------- full disk, locked database


def full_disk(work: Path, normal: Path, reference: Path) -> dict[str, Any]:
    import shutil
    from unittest import mock

    folder = work / "full-input"  # the normal batch and one long document that cannot fit
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(normal, folder)
    (folder / "long.txt").write_text(
        "".join(
            f"Item {n}: the council reviewed part {n} of its workforce plan "
            f"and agreed to report back in month {n % 12 + 1}.\n\n"
            for n in range(400)
        ),
        encoding="utf-8",
    )
    reference = work / "full-reference.db"
    reference.unlink(missing_ok=True)
    ingest_direct([str(folder)], reference)
    db = work / "full.db"
    db.unlink(missing_ok=True)
    store.open_db(db).close()
    pages = sqlite3.connect(db).execute("PRAGMA page_count").fetchone()[0]
    real_open = store.open_db

    def capped(path):
        opened = real_open(path)
        opened.execute(f"PRAGMA max_page_count = {pages + 4}")
        return opened

    message, problems = None, []
    # store.connect opens through pipeline.store.db.open_db; callers of store.open_db through the package
    with mock.patch.object(store, "open_db", capped), mock.patch.object(store.db, "open_db", capped):
        try:
            ingest_direct([str(folder)], db)
            problems.append("the run did not fail although the database could not grow")
        except sqlite3.Error as exc:
            message = explain_db_error(exc, db)
    if not message or "could not grow" not in message:
        problems.append(f"unclear message: {message}")
    problems += integrity_problems(db) + partial_documents(db)
    con = sqlite3.connect(db)
    stored_before = con.execute("SELECT count(*) FROM documents").fetchone()[0]
    con.close()
    ingest_direct([str(folder)], db)  # with room again
    problems += _soundness(db, reference, [str(p) for p in sorted(folder.iterdir())])
    return _result(
        "full disk",
        f"PRAGMA max_page_count = {pages + 4} pages (the empty schema is {pages}), then a run with room",
        problems,
        message=message,
        stored_before_full=stored_before,
    )


def locked_database(work: Path, normal: Path, reference: Path) -> dict[str, Any]:
    db = work / "locked.db"
    db.unlink(missing_ok=True)
    store.open_db(db).close()
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO runs (id, status) VALUES ('another-program', 'running')")
    message, problems, started = None, [], time.monotonic()
    try:
        ingest_direct([str(normal)], db)
        problems.append("the run did not fail although another program held the write lock")
    except sqlite3.Error as exc:
        message = explain_db_error(exc, db)
    finally:
        other.execute("ROLLBACK")
        other.close()
    waited = round(time.monotonic() - started, 1)
    if not message or "locked by another program" not in message:
        problems.append(f"unclear message: {message}")
    con = sqlite3.connect(db)
    written = con.execute("SELECT (SELECT count(*) FROM documents) + (SELECT count(*) FROM runs)").fetchone()[0]
    con.close()
    if written:
        problems.append(f"{written} rows written while the database was locked")
    ingest_direct([str(normal)], db)
    problems += _soundness(db, reference, [str(p) for p in sorted(normal.iterdir())])
    return _result(
        "locked database",
        "another connection holds the write lock (BEGIN IMMEDIATE) beyond the 10 s busy timeout, then released",
        problems,
        message=message,
        failed_after_s=waited,
    )


# ---------------------------------------------------------------- fetch failures


def fetch_failures(work: Path) -> dict[str, Any]:
    from pipeline.fetch import FetchSettings, PoliteClient, fetch
    from tools.drills.badserver import EXPECTED, MisbehavingServer

    archive = work / "archive"
    fs = FetchSettings(
        archive_dir=archive,
        contact="drills@example.org",
        connect_timeout_s=1.0,
        read_timeout_s=0.5,
        total_timeout_s=5.0,
        max_bytes=64 * 1024,
        max_retries=2,
        backoff_base_s=0.05,
        backoff_max_s=0.2,
        retry_after_max_s=2.0,
        min_interval_s=0.0,
        trust_env=False,
    )
    refused = f"http://127.0.0.1:{free_port()}/refused.html"  # nothing listens there
    problems, outcomes = [], {}
    with MisbehavingServer() as server, PoliteClient(fs) as client:
        for path, expected in [*EXPECTED.items(), ("refused", "failed")]:
            url = refused if path == "refused" else server.url(path)
            r = fetch(url, fs, client=client)
            got = "archived" if r.status in ("new", "unchanged") and r.path else "failed"
            outcomes[path] = f"{r.status}{' (' + r.error + ')' if r.error else ''}"
            if got != expected:
                problems.append(f"{path}: expected {expected}, got {outcomes[path]}")
            if got == "failed" and not r.error:
                problems.append(f"{path}: failed without a reason")
    for f in (archive / "objects").rglob("*") if (archive / "objects").exists() else []:
        if f.is_file() and not f.name.startswith(hashlib.sha256(f.read_bytes()).hexdigest()):
            problems.append(f"archive file {f.name} does not hold the bytes its name says (partial write?)")
    return _result(
        "fetch failures",
        "a local server that answers 500, 429, 503, 404, resets, sends short "
        "bodies, stalls and oversends; and a refused port",
        problems,
        outcomes=outcomes,
    )


# ---------------------------------------------------------------- hostile files


def hostile_files(profile: Profile, work: Path, normal: Path, reference: Path) -> dict[str, Any]:
    from tools.drills.hostile import hostile_batch, normal_batch

    mixed = work / "mixed"
    if mixed.exists():
        import shutil

        shutil.rmtree(mixed)
    normal_batch(mixed)
    files = hostile_batch(mixed)
    db = work / "hostile.db"
    db.unlink(missing_ok=True)
    settings = dataclasses.replace(Settings(), pdf_timeout_s=profile.pdf_timeout_s)
    started = time.monotonic()
    summary = ingest_direct([str(mixed)], db, settings=settings)
    seconds = round(time.monotonic() - started, 1)
    inputs = [str(p) for p in sorted(mixed.iterdir())]
    problems = integrity_problems(db) + partial_documents(db) + [f"lost: {p}" for p in lost_inputs(db, inputs)]
    con = sqlite3.connect(db)
    reasons = dict(con.execute("SELECT source_path, reason FROM failures").fetchall())
    outcome = {kind: f"failed: {reasons[str(p)]}" if str(p) in reasons else "stored" for kind, p in files.items()}
    ref = sqlite3.connect(reference)
    query = "SELECT document_id, seq, text, char_start, char_end, kind FROM statements ORDER BY document_id, seq"
    ids = {r[0] for r in ref.execute("SELECT id FROM documents")}
    if [r for r in con.execute(query) if r[0] in ids] != ref.execute(query).fetchall():
        problems.append("the normal documents' statements differ from a batch without hostile files")
    con.close()
    ref.close()
    return _result(
        "hostile files in a normal batch",
        f"{len(files)} hostile files ({', '.join(files)}) mixed with {len(inputs) - len(files)} normal ones",
        problems,
        outcomes=outcome,
        seconds=seconds,
        summary=summary["message"],
    )


# ---------------------------------------------------------------- Datasette while the file is swapped


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


URLS = (
    "/scrutiny.json",
    "/scrutiny/statements.json?_size=10",
    "/scrutiny/documents.json?_size=5",
    "/scrutiny/statements.json?_search=council&_size=10",
    "/scrutiny/statements.json?_search=care+plan",
    "/scrutiny.json?sql=select+count(*)+from+documents",
    "/scrutiny/statements_labelled.json?_facet=kind",
    "/scrutiny/statements",
    "/scrutiny/documents",
)


def serve_under_swaps(profile: Profile, work: Path, versions: list[Path]) -> dict[str, Any]:
    import httpx

    from pipeline.publish.swap import publish

    served_dir = work / "served"
    served_dir.mkdir(parents=True, exist_ok=True)
    served = served_dir / "scrutiny.db"
    publish(versions[0], served)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    argv = [str(Path(sys.executable).parent / "scrutiny"), "serve", "--db", str(served), "--port", str(port)]
    stats: dict[str, Any] = {
        "requests": 0,
        "by_status": {},
        "errors": [],
        "time_limited": 0,
        "swaps": 0,
        "documents_seen": set(),
    }
    lock = threading.Lock()
    stop = threading.Event()
    with serving(
        argv, f"{base}/-/versions.json", what="scrutiny serve", timeout=60, cwd=ROOT, own_session=True
    ) as proc:

        def client(n: int) -> None:
            with httpx.Client(base_url=base, timeout=30) as c:
                i = n
                while not stop.is_set():
                    url = URLS[i % len(URLS)]
                    i += 1
                    try:
                        r = c.get(url)
                    except httpx.HTTPError as exc:
                        with lock:
                            stats["errors"].append(f"{url}: {type(exc).__name__}")
                        continue
                    with lock:
                        stats["requests"] += 1
                        stats["by_status"][r.status_code] = stats["by_status"].get(r.status_code, 0) + 1
                        if r.status_code >= 500:
                            if "_search" in url and "time limit" in r.text.lower():
                                stats["time_limited"] += 1
                            else:
                                stats["errors"].append(f"{url}: {r.status_code}")
                        elif url.endswith("count(*)+from+documents") and r.status_code == 200:
                            stats["documents_seen"].add(r.json()["rows"][0][0])

        def swapper() -> None:
            k = 0
            while not stop.wait(1.5):
                k += 1
                publish(versions[k % len(versions)], served)
                with lock:
                    stats["swaps"] += 1

        rss: list[float] = []
        threads = [threading.Thread(target=client, args=(n,)) for n in range(profile.clients)]
        threads.append(threading.Thread(target=swapper))
        for t in threads:
            t.start()
        try:
            started = time.monotonic()
            while time.monotonic() - started < profile.serve_seconds:
                time.sleep(1.0)
                rss.append(_rss_mb(proc.pid))
        finally:  # the clients and the swapper stop before the server does, even when the loop fails
            stop.set()
            for t in threads:
                t.join(timeout=60)
    warm = rss[max(0, len(rss) // 5 - 1)] if rss else 0.0
    problems = list(dict.fromkeys(stats["errors"]))[:10]
    if rss and max(rss[len(rss) // 5 :]) > warm * 1.5 + 50:
        problems.append(f"memory grew from {warm:.0f} MB after warm-up to {max(rss):.0f} MB")
    if not stats["requests"]:
        problems.append("no request was answered")
    if stats["swaps"] >= len(versions) and len(stats["documents_seen"]) < 2:
        problems.append("the server never showed a swapped-in file (it should follow swaps without a restart)")
    problems += integrity_problems(served)
    return _result(
        "Datasette while the served file is swapped",
        f"{profile.clients} concurrent loopback clients for {profile.serve_seconds:g} s, the served file "
        f"swapped every 1.5 s between {len(versions)} databases",
        problems,
        requests=stats["requests"],
        by_status={str(k): v for k, v in stats["by_status"].items()},
        swaps=stats["swaps"],
        time_limited_searches=stats["time_limited"],
        document_counts_seen=sorted(stats["documents_seen"]),
        rss_mb={
            "after_warm_up": round(warm, 1),
            "max": round(max(rss, default=0), 1),
            "end": round(rss[-1] if rss else 0, 1),
        },
    )
