"""Reviewing links: `scrutiny review-links` on a real database built from hand-written inspection reports.

Each test checks what a reviewer would check in the `concerns` and `concern_mentions` tables, and that the
decision still holds after a further document is linked (and, with the ingest flow, after re-ingestion).
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from pipeline import recur, store
from pipeline.config import Settings
from pipeline.recur.review import decisions_from

REPORT = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>
<body><main><h1>{title}</h1>
{body}
</main></body></html>
"""

# Our own wording: three inspections of one council's children's services, one of another council's adults'.
DOCS = {
    "glanmor-2017.html": (
        "Inspection of children's services in Glanmor",
        "2017-03-01",
        "Glanmor County Council",
        "children",
        [
            ("h2", "Summary"),
            ("p", "We inspected children's services in Glanmor in January 2017."),
            ("p", "Overall, we have serious concerns about the safety of children's services in Glanmor."),
            ("h2", "Recommendations"),
            ("li", "Ensure that every social worker receives regular formal supervision that is recorded on file."),
            ("li", "Reduce the turnover of permanent social workers and the reliance on agency staff."),
            ("li", "Increase the number of local foster placements so that children can live close to home."),
            ("li", "Complete assessments of children in need within the statutory timescale of 42 working days."),
            ("li", "Respond to complaints from families within the timescales of the complaints policy."),
        ],
    ),
    "glanmor-2019.html": (
        "Inspection of children's services in Glanmor",
        "2019-05-01",
        "Glanmor County Council",
        "children",
        [
            ("h2", "Summary"),
            ("p", "We returned to Glanmor in March 2019 to see what had changed."),
            ("p", "Overall, children's services in Glanmor have improved since our last inspection."),
            ("h2", "What we found"),
            ("p", "Supervision of social workers is still irregular and many supervision records are missing."),
            ("p", "Turnover of social workers remains high and a third of posts are filled by agency workers."),
            ("p", "There are still too few local foster placements, and children are placed far from home."),
            ("p", "Assessments of children in need are now completed within the statutory timescale."),
            ("p", "Families spoke warmly about staff."),
            ("h2", "Recommendations"),
            ("li", "Ensure that complaints from families are answered within the timescales of the policy."),
            ("li", "Improve the quality of care plans so that each plan says who will do what and by when."),
        ],
    ),
    "afonwy-2019.html": (
        "Inspection of adult services in Afonwy",
        "2019-06-01",
        "Afonwy County Borough Council",
        "adults",
        [
            ("h2", "Recommendations"),
            ("li", "Reduce the waiting list for domiciliary care packages."),
            ("li", "Ensure that every carer is offered an assessment of their own needs."),
            ("li", "Ensure that social workers in the adult team receive regular supervision."),
        ],
    ),
}
LATER = {
    "glanmor-2021.html": (
        "Inspection of children's services in Glanmor",
        "2021-06-01",
        "Glanmor County Council",
        "children",
        [
            ("h2", "What we found"),
            ("p", "Supervision of social workers is still not regular, and supervision records are often missing."),
            ("p", "Turnover of social workers is still high, with many posts filled by agency workers."),
            ("p", "There are still too few local foster placements for the children who need them."),
            ("p", "Assessments of children in need are completed within the statutory timescale."),
        ],
    ),
}
FIELDS = ["path", "title", "doc_type", "local_authority", "service", "published", "publisher"]


def write_documents(folder: Path, docs: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    manifest = folder / "manifest.csv"
    rows = list(csv.DictReader(manifest.open(encoding="utf-8"))) if manifest.exists() else []
    for name, (title, date, council, service, items) in docs.items():
        body = "\n".join(f"<ul><li>{t}</li></ul>" if s == "li" else f"<{s}>{t}</{s}>" for s, t in items)
        (folder / name).write_text(REPORT.format(title=title, body=body), encoding="utf-8")
        rows.append(
            {
                "path": name,
                "title": title,
                "doc_type": "inspection_report",
                "local_authority": council,
                "service": service,
                "published": date,
                "publisher": "Care Inspectorate Wales",
            }
        )
    with manifest.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    return folder


def store_and_link(db_path: Path, folder: Path, only: set[str] | None = None) -> None:
    """What the ingest flow does for these documents, without Prefect: extract, segment, store, link."""
    from pipeline.extract import extract
    from pipeline.run.inputs import discover
    from pipeline.run.linking import link_new_documents
    from pipeline.segment import segment
    from pipeline.versions import stage_versions

    settings = Settings(db_path=db_path)
    db = store.open_db(db_path)
    store.start_run(db, "test", 0, "test")
    ids = []
    for source in discover([str(folder)]):
        if only and Path(source.path).name not in only:
            continue
        doc = extract(source, settings)
        store.save_document(
            db,
            doc,
            segment(doc, settings),
            run_id="test",
            source={"source_path": source.path, "sha256": doc.id, "meta": source.meta},
            versions=stage_versions(None),
        )
        ids.append(doc.id)
    link_new_documents(db, settings, ids)
    db.close()


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return write_documents(tmp_path_factory.mktemp("docs"), DOCS)


@pytest.fixture(scope="module")
def built(folder) -> Path:
    db_path = folder.parent / "base.db"
    store_and_link(db_path, folder)
    return db_path


@pytest.fixture
def db_path(built, tmp_path) -> Path:
    path = tmp_path / "scrutiny.db"
    shutil.copy(built, path)
    return path


@pytest.fixture
def later(tmp_path, folder) -> tuple[Path, Path]:
    """Linking after a review: a further inspection, then the same documents stored and linked again (what
    re-ingestion does; the ingest flow itself is tested at the end)."""
    return write_documents(tmp_path / "later", LATER), folder


def link_later(db_path: Path, later: tuple[Path, Path]) -> None:
    store_and_link(db_path, later[0])
    store_and_link(db_path, later[1])


# ---------------------------------------------------------------- helpers: what a reviewer looks at


def query(db_path: Path, sql: str, params=()) -> list[tuple]:
    db = store.open_db(db_path)
    try:
        return [tuple(r) for r in db.execute(sql, list(params)).fetchall()]
    finally:
        db.close()


def sid(db_path: Path, start: str) -> str:
    rows = query(db_path, "SELECT id FROM statements WHERE text LIKE ? ORDER BY id", [start + "%"])
    assert len(rows) == 1, (start, rows)
    return rows[0][0]


def concern_of(db_path: Path, statement_id: str) -> str | None:
    rows = query(db_path, "SELECT concern_id FROM concern_mentions WHERE statement_id = ?", [statement_id])
    return rows[0][0] if rows else None


def members(db_path: Path, concern_id: str) -> set[str]:
    return {
        r[0] for r in query(db_path, "SELECT statement_id FROM concern_mentions WHERE concern_id = ?", [concern_id])
    }


def concern_row(db_path: Path, concern_id: str) -> dict | None:
    db = store.open_db(db_path)
    try:
        return next(iter(db.query("SELECT * FROM concerns WHERE concern_id = ?", [concern_id])), None)
    finally:
        db.close()


def tables(db_path: Path, council: str | None = None) -> dict[str, list[tuple]]:
    where = "WHERE local_authority LIKE ?" if council else ""
    return {
        t: query(db_path, f"SELECT * FROM {t} {where} ORDER BY 1", [council + "%"] if council else [])
        for t in ("concerns", "concern_mentions", "recommendations")
    }


def consistent(db_path: Path) -> None:
    """Every concern's count matches its mentions, and no concern is left without mentions."""
    bad = query(
        db_path,
        "SELECT c.concern_id FROM concerns c LEFT JOIN concern_mentions m USING (concern_id) "
        "GROUP BY c.concern_id HAVING count(m.statement_id) != c.mentions",
    )
    assert not bad, bad


def review(
    db_path: Path, rows: list[dict], tmp_path: Path, capsys, name: str = "review.csv", reviewer: str = "Ann Reviewer"
) -> tuple[int, list[dict], str]:
    from pipeline.cli import main

    path = tmp_path / name
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["action", "statement_id", "concern_id", "other", "note"])
        writer.writeheader()
        writer.writerows(rows)
    code = main(["review-links", str(path), "--db", str(db_path), "--reviewer", reviewer])
    out = capsys.readouterr()
    return code, [json.loads(line) for line in out.out.splitlines()], out.err


def row(action: str, statement_id: str = "", concern_id: str = "", other: str = "", note: str = "") -> dict:
    return {"action": action, "statement_id": statement_id, "concern_id": concern_id, "other": other, "note": note}


# ---------------------------------------------------------------- the algorithm's starting point


def test_the_algorithm_links_the_inspections(built):
    supervision = concern_of(built, sid(built, "Ensure that every social worker"))
    assert concern_of(built, sid(built, "Supervision of social workers is still")) == supervision
    turnover = concern_of(built, sid(built, "Reduce the turnover"))
    assert concern_of(built, sid(built, "Turnover of social workers remains")) == turnover != supervision
    assert concern_row(built, supervision)["status"] == "repeated"
    assert concern_of(built, sid(built, "Improve the quality of care plans")) not in (supervision, turnover)
    assert concern_of(built, sid(built, "Families spoke warmly")) is None  # too short to be picked
    overall = concern_of(built, sid(built, "Overall, we have serious concerns"))
    # the overall thread, named after its clearest mention (never a heading or the thread's name)
    assert overall.startswith("glanmor-overall-") and concern_row(built, overall)["label"].startswith(
        "Overall, we have"
    )
    assert concern_of(built, sid(built, "Overall, children's services")) == overall
    consistent(built)


def test_an_undated_document_is_linked_last_in_batches_too(built, tmp_path, monkeypatch):
    """Linking takes undated statements after the dated ones: batches are cut in that order, so one document per
    batch still gives what one batch of all gives when the first document has no date (it goes last)."""
    from pipeline.run.linking import link_new_documents

    paths = []
    for name in ("all.db", "one.db"):
        path = tmp_path / name
        shutil.copy(built, path)
        db = store.open_db(path)
        first = db.execute("SELECT id FROM documents ORDER BY published, id").fetchone()[0]
        db.execute("UPDATE documents SET published = NULL WHERE id = ?", [first])
        store.clear_recurrence(db)
        db.conn.commit()
        db.close()
        paths.append(path)
    config = recur.config_for(Settings())
    for path, limit in zip(paths, (10**6, 1)):
        monkeypatch.setattr(
            recur, "config_for", lambda settings, n=limit: config.with_overrides(linking={"batch_statements": n})
        )
        db = store.open_db(path)
        link_new_documents(db, Settings(db_path=path), store.document_ids(db))
        db.conn.commit()
        db.close()
    mentions = [query(p, "SELECT * FROM concern_mentions ORDER BY statement_id") for p in paths]
    assert mentions[0] and mentions[0] == mentions[1]
    assert query(paths[0], "SELECT * FROM concerns ORDER BY 1") == query(paths[1], "SELECT * FROM concerns ORDER BY 1")


def test_linking_in_batches_of_one_document_gives_the_same_tables(built, folder, tmp_path, monkeypatch):
    """A council's documents are read, picked, linked and written in time-ordered batches carrying the index:
    one document per batch gives the rows one batch of all of them gives."""
    config = recur.config_for(Settings())
    monkeypatch.setattr(recur, "config_for", lambda settings: config.with_overrides(linking={"batch_statements": 1}))
    calls: list[int] = []
    read = store.recurrence_inputs
    monkeypatch.setattr(store, "recurrence_inputs", lambda db, ids: calls.append(len(ids)) or read(db, ids))
    one_by_one = tmp_path / "one.db"
    store_and_link(one_by_one, folder)
    assert len(calls) > 2 and set(calls) == {1}  # a batch for each document

    def tables(path: Path) -> list[list[tuple]]:
        return [
            query(
                path,
                "SELECT * FROM concern_mentions ORDER BY 1",
            ),
            query(path, "SELECT * FROM concerns ORDER BY concern_id"),
            query(path, "SELECT * FROM recommendations ORDER BY statement_id"),
        ]

    assert len(query(one_by_one, "SELECT DISTINCT document_id FROM concern_mentions")) > 2  # several batches
    assert tables(one_by_one) == tables(built)


# ---------------------------------------------------------------- each action


def test_confirm_puts_statements_in_a_concern_and_they_stay(db_path, tmp_path, later, capsys):
    assessments = concern_of(db_path, sid(db_path, "Complete assessments of children"))
    care_plans, warm = sid(db_path, "Improve the quality of care plans"), sid(db_path, "Families spoke warmly")
    alone = concern_of(db_path, care_plans)
    code, out, _ = review(
        db_path,
        [
            row("confirm", care_plans, assessments, note="care plans follow assessment"),
            row("confirm", warm, assessments),
        ],
        tmp_path,
        capsys,
    )
    assert code == 0 and [r["status"] for r in out[:2]] == ["recorded", "recorded"]
    assert out[-1]["recorded"] == 2 and out[-1]["councils"] == ["Glanmor County Council"]
    assert concern_of(db_path, care_plans) == concern_of(db_path, warm) == assessments
    assert concern_row(db_path, alone) is None  # the care plans statement's own concern is gone
    assert concern_row(db_path, assessments)["mentions"] == len(members(db_path, assessments)) == 4
    consistent(db_path)
    link_later(db_path, later)
    assert {care_plans, warm} <= members(db_path, assessments)
    consistent(db_path)


def test_reject_takes_a_statement_out_and_it_never_comes_back(db_path, tmp_path, later, capsys):
    first, again = sid(db_path, "Ensure that every social worker"), sid(db_path, "Supervision of social workers is")
    supervision = concern_of(db_path, first)
    before = concern_row(db_path, supervision)
    assert before["status"] == "repeated" and before["inspections"] == 2
    code, out, _ = review(db_path, [row("reject", again, supervision, note="not the same finding")], tmp_path, capsys)
    assert code == 0 and out[0]["status"] == "recorded"
    assert members(db_path, supervision) == {first}
    assert concern_of(db_path, again) not in (None, supervision)
    after = concern_row(db_path, supervision)
    assert after["status"] == "new" and after["inspections"] == 1 and after["mentions"] == 1  # recomputed
    link_later(db_path, later)
    assert concern_of(db_path, again) != concern_of(db_path, first)  # the 2021 statement may join either, not both
    assert sid(db_path, "Ensure that every social worker") == first
    consistent(db_path)


def test_rejecting_the_first_statement_leaves_the_concern_its_id(db_path, tmp_path, later, capsys):
    first, again = sid(db_path, "Ensure that every social worker"), sid(db_path, "Supervision of social workers is")
    supervision = concern_of(db_path, first)
    code, out, _ = review(db_path, [row("reject", first, supervision)], tmp_path, capsys)
    assert code == 0 and out[0]["status"] == "recorded"
    assert members(db_path, supervision) == {again} and concern_of(db_path, first) not in (None, supervision)
    link_later(db_path, later)
    assert again in members(db_path, supervision) and first not in members(db_path, supervision)
    consistent(db_path)


def test_reject_a_pair_of_statements(db_path, tmp_path, later, capsys):
    first, again = sid(db_path, "Reduce the turnover"), sid(db_path, "Turnover of social workers remains")
    assert concern_of(db_path, first) == concern_of(db_path, again)
    code, out, _ = review(db_path, [row("reject", again, other=first)], tmp_path, capsys)
    assert code == 0 and out[0]["status"] == "recorded"
    assert concern_of(db_path, first) != concern_of(db_path, again)
    link_later(db_path, later)
    assert concern_of(db_path, first) != concern_of(db_path, again)


def test_merge_makes_one_concern_that_holds(db_path, tmp_path, later, capsys):
    supervision = concern_of(db_path, sid(db_path, "Ensure that every social worker"))
    turnover = concern_of(db_path, sid(db_path, "Reduce the turnover"))
    everyone = members(db_path, supervision) | members(db_path, turnover)
    untouched = {
        "afonwy": tables(db_path, "Afonwy"),
        "complaints": concern_row(db_path, concern_of(db_path, sid(db_path, "Respond to complaints"))),
    }
    code, out, _ = review(
        db_path, [row("merge", concern_id=supervision, other=turnover, note="one workforce issue")], tmp_path, capsys
    )
    assert code == 0 and out[0]["status"] == "recorded"
    assert members(db_path, supervision) == everyone and len(everyone) == 4
    assert concern_row(db_path, turnover) is None
    merged = concern_row(db_path, supervision)
    assert merged["mentions"] == 4 and merged["status"] == "repeated" and merged["inspections"] == 2
    # other councils keep their rows byte for byte; unreviewed concerns of the council come out as they were
    assert tables(db_path, "Afonwy") == untouched["afonwy"]
    assert concern_row(db_path, untouched["complaints"]["concern_id"]) == untouched["complaints"]
    link_later(db_path, later)
    assert everyone <= members(db_path, supervision)
    consistent(db_path)
    # the merged-away id still names the merged concern in later files
    care_plans = sid(db_path, "Improve the quality of care plans")
    assert review(db_path, [row("confirm", care_plans, turnover)], tmp_path, capsys, "again.csv")[0] == 0
    assert concern_of(db_path, care_plans) == supervision


def test_split_moves_statements_to_a_new_concern_that_holds(db_path, tmp_path, later, capsys):
    first, again = sid(db_path, "Increase the number of local foster"), sid(db_path, "There are still too few local")
    placements = concern_of(db_path, first)
    assert concern_of(db_path, again) == placements
    code, out, _ = review(db_path, [row("split", again, placements, "placements far from home")], tmp_path, capsys)
    assert code == 0 and out[0]["status"] == "recorded"
    new = concern_of(db_path, again)
    assert new not in (None, placements) and members(db_path, new) == {again}
    assert members(db_path, placements) == {first} and concern_row(db_path, placements)["status"] == "new"
    link_later(db_path, later)
    assert concern_of(db_path, first) != concern_of(db_path, again) == new
    consistent(db_path)


def test_split_a_group_from_its_concern_without_naming_it(db_path, tmp_path, capsys):
    """Rows of one file with the same `other` name move together; the concern defaults to the current one."""
    merged_rows = [
        row(
            "merge",
            concern_id=concern_of(db_path, sid(db_path, "Ensure that every social worker")),
            other=concern_of(db_path, sid(db_path, "Reduce the turnover")),
        )
    ]
    assert review(db_path, merged_rows, tmp_path, capsys, "merge.csv")[0] == 0
    turnover = [sid(db_path, "Reduce the turnover"), sid(db_path, "Turnover of social workers remains")]
    code, out, _ = review(db_path, [row("split", s, other="turnover") for s in turnover], tmp_path, capsys)
    assert code == 0
    assert concern_of(db_path, turnover[0]) == concern_of(db_path, turnover[1])
    assert members(db_path, concern_of(db_path, turnover[0])) == set(turnover)
    assert concern_of(db_path, sid(db_path, "Ensure that every social worker")) != concern_of(db_path, turnover[0])


# ---------------------------------------------------------------- bad rows, idempotence, replay


def test_bad_rows_are_reported_and_good_rows_land(db_path, tmp_path, capsys):
    care_plans = sid(db_path, "Improve the quality of care plans")
    assessments = concern_of(db_path, sid(db_path, "Complete assessments of children"))
    carers = sid(db_path, "Ensure that every carer")
    code, out, err = review(
        db_path,
        [
            row("approve", care_plans, assessments),
            row("confirm", care_plans, "glanmor-0000000000"),
            row("confirm", "0123456789abcdef:10-90", assessments),
            row("confirm", "not an id", assessments),
            row("confirm", care_plans),
            row("merge", concern_id=assessments),
            row("confirm", carers, assessments),
            row("split", sid(db_path, "Families spoke warmly")),
            row("confirm", care_plans, assessments),
        ],
        tmp_path,
        capsys,
    )
    assert code == 1
    rows, summary = out[:-1], out[-1]
    assert [r["line"] for r in rows] == list(range(2, 11))
    errors = [r["error"] for r in rows]
    assert "unknown action 'approve'" in errors[0]
    assert "unknown concern id 'glanmor-0000000000'" in errors[1]
    assert "unknown statement id '0123456789abcdef:10-90'" in errors[2]
    assert "not of the form" in errors[3]
    assert "confirm needs concern_id" in errors[4] and "merge needs other" in errors[5]
    assert "different councils" in errors[6] and "in no concern" in errors[7]
    assert errors[8] is None and rows[8]["status"] == "recorded"
    assert summary["recorded"] == 1 and summary["failed"] == 8
    assert err.count("review-links") >= 8 and "line 2: unknown action" in err
    assert concern_of(db_path, care_plans) == assessments  # the good row landed
    stored = query(db_path, "SELECT action, statement_id, concern_id, reviewer, line FROM link_reviews")
    assert stored == [("confirm", care_plans, assessments, "Ann Reviewer", 10)]


def test_confirming_every_link_as_it_stands_changes_nothing(db_path, tmp_path, capsys):
    """The councils a review touches are linked again from scratch: with decisions that agree with the
    algorithm, every row comes out as it was, scores, statuses and thread concerns included."""
    before = tables(db_path)
    mentions = query(db_path, "SELECT statement_id, concern_id FROM concern_mentions ORDER BY 1")
    code, out, _ = review(db_path, [row("confirm", s, c) for s, c in mentions], tmp_path, capsys)
    assert code == 0 and out[-1]["recorded"] == len(mentions) > 15 and len(out[-1]["councils"]) == 2
    assert tables(db_path) == before


def test_a_file_that_is_not_a_review_file_changes_nothing(db_path, tmp_path, capsys):
    from pipeline.cli import main

    before = tables(db_path)
    bad = tmp_path / "labels.csv"
    bad.write_text("statement_id,labels\nabc,A\n", encoding="utf-8")
    assert main(["review-links", str(bad), "--db", str(db_path)]) == 2
    assert "no 'action' column" in capsys.readouterr().err
    (tmp_path / "binary.csv").write_bytes(b"\xff\xfe\x00action")
    assert main(["review-links", str(tmp_path / "binary.csv"), "--db", str(db_path)]) == 2
    assert main(["review-links", str(tmp_path / "missing.csv"), "--db", str(db_path)]) == 2
    assert main(["review-links", str(bad), "--db", str(tmp_path / "none.db")]) == 2
    assert tables(db_path) == before and query(db_path, "SELECT count(*) FROM link_reviews") == [(0,)]


def test_the_same_file_twice_changes_nothing(db_path, tmp_path, capsys):
    placements = concern_of(db_path, sid(db_path, "Increase the number of local foster"))
    rows = [
        row(
            "merge",
            concern_id=concern_of(db_path, sid(db_path, "Ensure that every social worker")),
            other=concern_of(db_path, sid(db_path, "Reduce the turnover")),
        ),
        row("split", sid(db_path, "There are still too few local"), placements, "far"),
        row(
            "reject",
            sid(db_path, "Assessments of children in need are now"),
            concern_of(db_path, sid(db_path, "Complete assessments of children")),
        ),
        row("confirm", sid(db_path, "Families spoke warmly"), placements),
    ]
    assert review(db_path, rows, tmp_path, capsys)[0] == 0
    first = tables(db_path), query(db_path, "SELECT * FROM link_reviews")
    code, out, _ = review(db_path, rows, tmp_path, capsys)
    assert code == 0 and [r["status"] for r in out[:-1]] == ["already recorded"] * 4
    assert (tables(db_path), query(db_path, "SELECT * FROM link_reviews")) == first


def test_a_later_decision_wins():
    def stored(action, statement, concern, members, **extra):
        return {
            "action": action,
            "statement_id": statement,
            "resolved": json.dumps({"concern": concern, "members": members, **extra}),
        }

    history = [stored("reject", "s1", "c1", ["s2"]), stored("confirm", "s1", "c1", ["s2"])]
    d = decisions_from(history)
    assert d.fixed == {"s1": "c1"} and not d.cannot_link and "c1" not in d.excluded.get("s1", ())
    d = decisions_from(history[::-1])
    assert "s1" not in d.fixed and d.cannot_link == {("s1", "s2")} and d.excluded["s1"] == {"c1"}
    merged = decisions_from(
        [stored("reject", "s9", "c2", ["s3"]), stored("merge", None, "c1", ["s1"], other="c2", other_members=["s3"])]
    )
    assert merged.fixed == {"s1": "c1", "s3": "c1"} and merged.excluded["s9"] == {"c1", "c2"}


def test_excluded_keeps_a_statement_out_of_a_concern_it_would_open():
    config = recur.config_for(Settings())
    texts = ["Ensure that foster carers receive training.", "Foster carers still do not receive training."]
    items = [recur.Item(f"t{i}", t, "Glanmor", f"201{7 + 2 * i}-01-01", f"d{i}", 0) for i, t in enumerate(texts)]
    plain = [a.concern_id for a in recur.link(items, None, config)[0]]
    assert plain[0] == plain[1]
    decisions = recur.Decisions(excluded={"t0": frozenset({plain[0]})}, cannot_link=frozenset({("t0", "t1")}))
    reviewed = [a.concern_id for a in recur.link(items, None, config, decisions)[0]]
    assert reviewed[0] != plain[0] and reviewed[1] != reviewed[0]


# ---------------------------------------------------------------- through the ingest flow


def test_decisions_hold_after_reingestion_and_new_documents(prefect_harness, tmp_path, capsys, monkeypatch):
    from flows.ingest import ingest_flow
    from pipeline import versions

    folder = write_documents(tmp_path / "docs", DOCS)
    db_path = tmp_path / "flow.db"
    assert ingest_flow(paths=[str(folder)], db_path=str(db_path))["added"] == 3
    supervision = concern_of(db_path, sid(db_path, "Ensure that every social worker"))
    turnover = concern_of(db_path, sid(db_path, "Reduce the turnover"))
    placements = concern_of(db_path, sid(db_path, "Increase the number of local foster"))
    rejected = sid(db_path, "Assessments of children in need are now")
    assessments = concern_of(db_path, sid(db_path, "Complete assessments of children"))
    split = sid(db_path, "There are still too few local")
    assert (
        review(
            db_path,
            [
                row("merge", concern_id=supervision, other=turnover),
                row("reject", rejected, assessments),
                row("split", split, placements),
            ],
            tmp_path,
            capsys,
        )[0]
        == 0
    )
    workforce = members(db_path, supervision)

    def holds() -> None:
        assert workforce <= members(db_path, supervision) and concern_row(db_path, turnover) is None
        assert rejected not in members(db_path, assessments)
        assert concern_of(db_path, split) not in (None, placements)
        assert concern_of(db_path, sid(db_path, "Increase the number of local foster")) == placements
        consistent(db_path)

    holds()
    monkeypatch.setattr(versions, "SEGMENT", versions.SEGMENT + "-bumped")  # every document is processed again
    summary = ingest_flow(paths=[str(folder)], db_path=str(db_path))
    assert summary["changed"] == 3 and summary["failed"] == 0
    holds()
    write_documents(folder, LATER)
    assert ingest_flow(paths=[str(folder)], db_path=str(db_path))["added"] == 1
    holds()
    assert query(db_path, "SELECT count(*) FROM link_reviews") == [(3,)]


# ---------------------------------------------------------------- decisions recorded on the site


def site_decide(db_path: Path, reviews: Path, path: str, form: dict) -> None:
    """A signed-in reviewer's decision through the site's form (pipeline/publish/site), as a browser posts it."""
    import asyncio
    import re

    from pipeline import publish

    async def go():
        ds = publish.datasette_app(db_path, reviews=reviews, review_token="a-reviewers-token")
        page = await ds.client.get("/-/review/login")
        token = re.search(r'name="csrftoken" value="([^"]+)"', page.text).group(1)
        cookies = dict(page.cookies)
        signed = await ds.client.post(
            "/-/review/login",
            data={"csrftoken": token, "name": "Site Reviewer", "token": "a-reviewers-token"},
            cookies=cookies,
        )
        cookies["ds_actor"] = signed.cookies["ds_actor"]
        response = await ds.client.post(path, data={"csrftoken": token, **form}, cookies=cookies)
        assert response.status_code == 302, response.text[:300]

    asyncio.run(go())


def site_rows(reviews: Path, table: str) -> list[dict]:
    import sqlite3

    con = sqlite3.connect(reviews)
    con.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in con.execute(f"SELECT * FROM {table} ORDER BY id")]
    finally:
        con.close()


def test_site_decisions_are_read_by_review_links_like_the_csv_ones(db_path, tmp_path, later, capsys):
    from pipeline.cli import main

    reviews = tmp_path / "scrutiny.reviews.db"
    first, again = sid(db_path, "Ensure that every social worker"), sid(db_path, "Supervision of social workers is")
    supervision = concern_of(db_path, first)
    site_decide(
        db_path,
        reviews,
        "/-/review/link",
        {"action": "reject", "statement_id": again, "concern_id": supervision, "note": "not the same"},
    )
    site_decide(
        db_path,
        reviews,
        "/-/review/link",
        {"action": "confirm", "statement_id": again, "concern_id": supervision[:-1] + "x"},
    )  # no such concern
    assert again in members(db_path, supervision)  # recorded on the site, not applied yet
    code = main(["review-links", "--db", str(db_path)])  # no file: the site's decisions only
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 1  # one decision was refused, with its reason
    assert [(o["status"], bool(o["error"])) for o in out[:2]] == [("recorded", False), ("failed", True)]
    assert out[-1]["recorded"] == 1 and out[-1]["failed"] == 1 and out[-1]["councils"] == ["Glanmor County Council"]
    assert again not in members(db_path, supervision)
    stored = query(db_path, "SELECT action, statement_id, reviewer, note, source_file FROM link_reviews")
    assert stored == [("reject", again, "Site Reviewer", "not the same", "site:scrutiny.reviews.db")]
    marks = site_rows(reviews, "link_decisions")
    assert [m["status"] for m in marks] == ["recorded", "failed"] and all(m["imported_at"] for m in marks)
    assert "unknown concern" in marks[1]["error"]
    assert main(["review-links", "--db", str(db_path)]) == 0  # read once: nothing waits any more
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["recorded"] == 0
    consistent(db_path)
    link_later(db_path, later)  # and it holds like a decision from a file
    assert again not in members(db_path, supervision)


def test_site_relabelling_is_read_by_label(db_path, tmp_path, capsys):
    from pipeline.cli import main

    reviews = tmp_path / "scrutiny.reviews.db"
    statement = sid(db_path, "Reduce the turnover")
    site_decide(db_path, reviews, "/-/review/label", {"statement_id": statement, "area_A": "1", "area_C": "1"})
    assert main(["label", "--db", str(db_path)]) == 0
    out = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert out["imported"] == 0 and out["site"] == {"recorded": 1, "failed": 0}
    assert query(db_path, "SELECT labels FROM corrections WHERE statement_id = ?", [statement]) == [('["A", "C"]',)]
    assert store.corrections_map(store.open_db(db_path), "areas") == {statement: ["A", "C"]}
    assert site_rows(reviews, "label_decisions")[0]["status"] == "recorded"


def test_every_ingest_reads_the_site_decisions(prefect_harness, tmp_path, capsys):
    from flows.ingest import ingest_flow

    folder = write_documents(tmp_path / "docs", DOCS)
    db_path = tmp_path / "scrutiny.db"
    assert ingest_flow(paths=[str(folder)], db_path=str(db_path))["added"] == 3
    reviews = tmp_path / "scrutiny.reviews.db"
    statement = sid(db_path, "Supervision of social workers is")
    concern = concern_of(db_path, statement)
    site_decide(
        db_path, reviews, "/-/review/link", {"action": "split", "statement_id": statement, "concern_id": concern}
    )
    summary = ingest_flow(paths=[str(folder)], db_path=str(db_path))  # nothing changed in the documents
    assert summary["site_decisions"]["link_decisions"]["recorded"] == 1
    assert concern_of(db_path, statement) not in (None, concern)
    assert query(db_path, "SELECT action FROM link_reviews") == [("split",)]
