"""The labelled statements in corpus/labels and the taxonomy files they are labelled by."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest

from pipeline.config import PROJECT_ROOT
from pipeline.lexicon.taxonomy import (
    TaxonomyError,
    available_schemes,
    load_taxonomy,
    markdown_table,
    taxonomy_path,
)
from pipeline.records import DOC_TYPES

LABELS = PROJECT_ROOT / "corpus" / "labels"
DEV = PROJECT_ROOT.parent / "shared" / "corpus-samples" / "dev-labels.jsonl"
FIELDS = {"text", "labels", "source", "doc_type"}
# The real-grounded statements (issue 15) keep the page they were written from: `source_url`, and the `register`.
GROUNDED = LABELS / "grounded.jsonl"
GROUNDED_FIELDS = {"text", "labels", "doc_type", "register", "source_url"}
SHARED_GROUNDED = PROJECT_ROOT.parent / "shared" / "training" / "areas-grounded.jsonl"
GROUNDED_CHANGES = PROJECT_ROOT / "corpus" / "grounded-changes.jsonl"


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def _label_schemes() -> list[str]:
    """The label schemes: taxonomy files that declare their `scheme` (models/taxonomy/issues.toml is the
    recurrence stage's taxonomy of issues, not a label scheme)."""
    return [s for s in available_schemes() if "scheme" in tomllib.loads(taxonomy_path(s).read_text(encoding="utf-8"))]


def _files_by_scheme() -> dict[str, list[Path]]:
    """Each scheme's labelled files: those in the folder its taxonomy names (not recursive)."""
    out = {}
    for scheme in _label_schemes():
        folder = load_taxonomy(scheme).data_dir()
        out[scheme] = sorted(folder.glob("*.jsonl")) if folder and folder.is_dir() else []
    return out


def _rows(paths: list[Path]) -> list[tuple[str, dict]]:
    rows = []
    for path in paths:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                rows.append((f"{path.name}:{n}", json.loads(line)))
    return rows


SCHEME_FILES = _files_by_scheme()


def test_the_default_scheme_has_data():
    assert len(SCHEME_FILES["areas"]) >= 8


@pytest.mark.parametrize("scheme", sorted(SCHEME_FILES))
def test_label_files_follow_the_schema(scheme):
    codes = set(load_taxonomy(scheme).codes)
    problems = []
    for where, row in _rows(SCHEME_FILES[scheme]):
        grounded = "source_url" in row
        want = GROUNDED_FIELDS if grounded else FIELDS
        if set(row) != want:
            problems.append(f"{where}: fields {sorted(row)} (want {sorted(want)})")
            continue
        text, labels = row["text"], row["labels"]
        if not isinstance(text, str) or not text.strip() or text != text.strip():
            problems.append(f"{where}: text must be non-empty without surrounding spaces")
        if not isinstance(labels, list) or len(set(labels)) != len(labels) or not set(labels) <= codes:
            problems.append(f"{where}: labels {labels!r} must be distinct codes of {sorted(codes)}")
        elif labels != sorted(labels, key=sorted(codes).index):
            problems.append(f"{where}: labels {labels} should be in code order")
        if row["doc_type"] not in DOC_TYPES:
            problems.append(f"{where}: doc_type {row['doc_type']!r} is not one of {DOC_TYPES}")
        if grounded:
            if not isinstance(row["source_url"], str) or not re.match(r"^https?://\S+$", row["source_url"]):
                problems.append(f"{where}: source_url must be the http(s) address of the page")
            if not isinstance(row["register"], str) or not row["register"].strip():
                problems.append(f"{where}: register must be a non-empty string")
        elif not isinstance(row["source"], str) or not row["source"].strip():
            problems.append(f"{where}: source must be a non-empty string")
    assert not problems, "\n".join(problems[:30])


@pytest.mark.parametrize("scheme", sorted(SCHEME_FILES))
def test_no_text_is_labelled_twice(scheme):
    seen: dict[str, str] = {}
    dupes = []
    for where, row in _rows(SCHEME_FILES[scheme]):
        key = _norm(row["text"])
        if key in seen:
            dupes.append(f"{where} repeats {seen[key]}: {row['text'][:60]}")
        seen[key] = where
    assert not dupes, "\n".join(dupes[:30])


def test_every_label_and_none_is_well_represented():
    rows = [row for _, row in _rows(SCHEME_FILES["areas"])]
    for code in load_taxonomy().codes:
        assert sum(code in r["labels"] for r in rows) >= 200, code
    assert sum(not r["labels"] for r in rows) >= 200


def test_none_is_at_least_fifteen_percent_and_no_file_is_empty():
    # issue 5: at least 15% of the labelled statements are none; an empty file would be silently skipped
    rows = _rows(SCHEME_FILES["areas"])
    assert sum(not row["labels"] for _, row in rows) / len(rows) >= 0.15
    counted = {where.split(":")[0] for where, _ in rows}
    assert counted == {p.name for p in SCHEME_FILES["areas"]}


@pytest.mark.skipif(not DEV.exists(), reason="the shared dev set is not beside this checkout")
def test_no_dev_statement_is_in_the_training_data():
    dev = {_norm(json.loads(line)["text"]) for line in DEV.read_text(encoding="utf-8").splitlines() if line.strip()}
    leaked = [
        where for scheme in SCHEME_FILES for where, row in _rows(SCHEME_FILES[scheme]) if _norm(row["text"]) in dev
    ]
    assert not leaked, f"dev statements must never be trained on: {leaked[:10]}"


# ---------------------------------------------------------------- the real-grounded statements (issue 15)


def _grounded() -> list[dict]:
    return [row for _, row in _rows([GROUNDED])]


def test_grounded_statements_are_whole_pages_with_every_label():
    rows = _grounded()
    assert len(rows) == 6804, "one written statement for every real statement of 506 pages"
    assert len({r["source_url"] for r in rows}) >= 500
    for code in load_taxonomy().codes:
        assert sum(code in r["labels"] for r in rows) >= 500, code
    assert sum(not r["labels"] for r in rows) >= 2500


def test_the_relabelling_record_matches_the_grounded_file():
    """corpus/grounded-changes.jsonl lists every label changed against the shared file, with its rule."""
    rows = _grounded()
    changes = [json.loads(line) for line in GROUNDED_CHANGES.read_text(encoding="utf-8").splitlines() if line]
    assert len(changes) >= 200
    for c in changes:
        assert set(c) == {"line", "old", "new", "pattern", "text"}
        row = rows[c["line"] - 1]
        assert row["text"] == c["text"] and row["labels"] == c["new"] != c["old"] and c["pattern"]


@pytest.mark.skipif(not SHARED_GROUNDED.exists(), reason="the shared training data is not beside this checkout")
def test_grounded_file_is_the_shared_file_with_only_the_recorded_relabelling():
    shared = [json.loads(line) for line in SHARED_GROUNDED.read_text(encoding="utf-8").splitlines() if line]
    changed = {c["line"]: c for c in map(json.loads, GROUNDED_CHANGES.read_text(encoding="utf-8").splitlines()) if c}
    rows = _grounded()
    assert len(rows) == len(shared)
    for n, (ours, theirs) in enumerate(zip(rows, shared), 1):
        assert {**ours, "labels": None} == {**theirs, "labels": None}, f"line {n}: only labels may differ"
        if n in changed:
            assert theirs["labels"] == changed[n]["old"], f"line {n}"
        else:
            assert ours["labels"] == theirs["labels"], f"line {n} changed without a record"


# "Doubtful cases, decided" (../shared/annotation-guidelines.md), checked on the grounded file by rules that
# had exceptions in the file as it was delivered and have none now, and by one example of each decision.
RATING = re.compile(r"\b(rated|judged|graded|grade|rating)\b", re.I)
VERDICT = re.compile(r"\b(inadequate|requires? improvement|requiring improvement|good|outstanding|adequate)\b", re.I)
NAMES_AN_AREA = re.compile(
    r"lead|govern|manag|help and protection|protect|care leaver|in care|looked[- ]after|adopt|permanence|practice|"
    r"safeguard|staff|workforce|social worker|caseload|partner|budget|money|invest|£|commission|direction|"
    r"intervention|improvement|notice|risk|harm|\bsafe|foster|placement|homes?\b|assess|early help|front door|"
    r"quality|audit|complain|capacity|trust\b|special measures|minister|government|scrutiny|record|executive|"
    r"senior|framework|provider|concern|fail|support|power|survey|resettlement|monitoring|experience|dignity|choice",
    re.I,
)
RULES = {
    "a bare overall rating is none": (
        lambda t: bool(RATING.search(t) and VERDICT.search(t) and not NAMES_AN_AREA.search(t)),
        lambda labels: labels == [],
    ),
    "courtesy thanks in a debate is none": (
        lambda t: bool(
            re.match(
                r"(Thank you|Many thanks|I thank the (hon|Member|Minister)|My thanks to the Member|"
                r"I am grateful to the (Member|Secretary|Minister)|I am grateful for the chance)",
                t,
            )
        ),
        lambda labels: labels == [],
    ),
    "a committee resolving to note, receive or endorse is none": (
        lambda t: bool(
            re.match(r"(RESOLVED|Resolved|Decision)\b[^.]*\b(note|noted|notes|receive|received|receives|endorse)", t)
        ),
        lambda labels: labels == [],
    ),
    "foster carers are B, not C": (
        lambda t: bool(
            re.search(r"foster carers?", t, re.I)
            and not re.search(r"social worker|staff|workforce|caseload|train", t, re.I)
        ),
        lambda labels: "C" not in labels,
    ),
    "thanks for staff's work is C": (
        lambda t: bool(
            re.search(r"\bthank\w*\b.*\b(staff|social workers|front-?line (staff|workers?))\b", t, re.I)
            and not re.search(r"thanks to|our own staff|for the report|put into revising", t, re.I)
        ),
        lambda labels: "C" in labels,
    ),
    "a council overspend is A": (
        lambda t: bool(
            re.search(r"overspen", t, re.I)
            and not re.search(r"placement|residential|care costs?|agency|staffing|children|fostering|homes", t, re.I)
        ),
        lambda labels: "A" in labels,
    ),
}


@pytest.mark.parametrize("rule", sorted(RULES))
def test_doubtful_case_rules_hold_on_the_grounded_file(rule):
    applies, holds = RULES[rule]
    matched = [r for r in _grounded() if applies(r["text"])]
    assert len(matched) >= 5, f"the rule '{rule}' should apply to several statements"
    broken = [f"{r['labels']}: {r['text']}" for r in matched if not holds(r["labels"])]
    assert not broken, f"{rule}:\n" + "\n".join(broken[:20])


DECIDED = [  # one statement of the grounded file per decision, and its labels
    ("Fairbairn House was graded Good in all three inspected categories.", []),
    ("Help and protection for children who need it: requires improvement.", ["B"]),
    ("Leadership, management and governance are judged good.", ["A"]),
    ("Thanks went to Jo George, the Principal Social Worker, and to every social worker", ["C"]),
    ("I thank the hon. Gentleman for obtaining this debate.", []),
    ("Foster carers should be acknowledged and treated as valued members of the workforce", ["B"]),
    ("Devon's children's services are forecast to overspend by £10.5m", ["A"]),
    ("Residential placements and supported lodgings added £1.5m in costs.", ["B"]),
    ("The government has formally served the council with an improvement notice.", ["A"]),
    ("RESOLVED: (1) that the Committee endorse the new action plan", []),
    ("The Committee received the Corporate Director's report setting out the audit programme", []),
    ("Producing a yearly self-evaluation is required under Ofsted's framework", ["D"]),
]


@pytest.mark.parametrize("start, labels", DECIDED)
def test_a_decided_doubtful_case_is_labelled_as_decided(start, labels):
    found = [r for r in _grounded() if r["text"].startswith(start)]
    assert len(found) == 1, start
    assert found[0]["labels"] == labels, f"{start}: {found[0]['labels']} (guidelines: {labels})"


# ---------------------------------------------------------------- the concern statements, labelled with areas

CONCERNS = PROJECT_ROOT / "corpus" / "recurrence-grounded.jsonl"
CONCERN_LABELS = LABELS / "grounded-concerns.jsonl"
CONCERN_RECORD = PROJECT_ROOT / "corpus" / "grounded-concerns-annotation.jsonl"
CONCERN_CHECKS = PROJECT_ROOT / "corpus" / "grounded-concerns-checks.jsonl"


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_the_concern_statements_carry_the_labels_their_annotators_gave():
    """labels/grounded-concerns.jsonl is the concern file's statements, line for line, with the labels of the
    annotation record: the two annotators' when they agreed, an adjudicated set (with its rule) when not."""
    concerns, labelled, record = _jsonl(CONCERNS), _jsonl(CONCERN_LABELS), _jsonl(CONCERN_RECORD)
    assert len(concerns) == len(labelled) == len(record) >= 1000
    assert [r["line"] for r in record] == list(range(1, len(concerns) + 1))
    codes = list(load_taxonomy().codes)
    for c, row, rec in zip(concerns, labelled, record):
        where = f"line {rec['line']}"
        assert (row["text"], row["doc_type"], row["source_url"]) == (c["text"], c["doc_type"], c["source_url"]), where
        assert row["labels"] == rec["labels"] == [x for x in codes if x in rec["labels"]], where
        if "rule" not in rec:  # neither adjudicated nor changed by the consistency pass: as both annotators gave
            assert rec["labels"] == rec["first"] == rec["second"], f"{where}: a label differs and no reason is recorded"
        else:
            assert rec["rule"].strip(), where
        if rec["first"] != rec["second"]:  # the adjudicator's reason is kept, even where a consistency pass followed
            reason = rec.get("adjudicated", {}).get("rule") or rec["rule"]
            assert reason.strip() and not reason.startswith("consistency pass"), f"{where}: no adjudication reason"
    # concern statements: nearly all are about an area; every area is well represented
    assert sum(not r["labels"] for r in labelled) < 0.2 * len(labelled)
    for code in codes:
        assert sum(code in r["labels"] for r in labelled) >= 100, code


def test_the_concern_annotators_were_checked_blind_against_the_grounded_labels():
    checks, grounded = _jsonl(CONCERN_CHECKS), _grounded()
    assert len(checks) == 150 and len({c["line"] for c in checks}) == 150
    for who in ("first", "second"):
        agree = sum(c[who] == grounded[c["line"] - 1]["labels"] for c in checks) / len(checks)
        assert agree >= 0.75, f"the {who} annotator agrees exactly on {agree:.2f} of the check statements"


def test_doubtful_case_rules_hold_on_the_concern_statements():
    rows = _jsonl(CONCERN_LABELS)
    matched = {rule: [r for r in rows if applies(r["text"])] for rule, (applies, _) in RULES.items()}
    assert sum(map(len, matched.values())) >= 10, "the rules should apply to some concern statements"
    broken = [
        f"{rule}: {r['labels']}: {r['text']}"
        for rule, rs in matched.items()
        for r in rs
        if not RULES[rule][1](r["labels"])
    ]
    assert not broken, "\n".join(broken[:20])
    # a judgement of safety (children left at risk of harm) is D, as grounded-changes.jsonl decides it: not a bare rating
    harm = [
        r
        for r in rows
        if re.search(r"(judged|rated|graded).*inadequate.*harm|inadequate.*failing to protect", r["text"])
    ]
    assert harm and all("D" in r["labels"] for r in harm), [r["text"] for r in harm if "D" not in r["labels"]]
    # the quality (not the timeliness) of assessments and plans is B and D
    quality = [
        r for r in rows if re.match(r"Assessments (were|still|had)\b.*\b(quality|standard|inconsistent)", r["text"])
    ]
    assert len(quality) >= 3 and all({"B", "D"} <= set(r["labels"]) for r in quality), [r["text"] for r in quality]


# ---------------------------------------------------------------- the taxonomy files


def test_default_scheme_is_the_four_areas():
    taxonomy = load_taxonomy()
    assert taxonomy.scheme == "areas" and taxonomy.codes == ("A", "B", "C", "D")
    assert taxonomy.label("C").name == "Workforce"
    assert all(label.includes for label in taxonomy.labels) and taxonomy.rules and taxonomy.none
    assert load_taxonomy() is taxonomy  # cached


def test_second_scheme_loads_without_code_changes():
    taxonomy = load_taxonomy("ciw_principles")
    assert len(taxonomy.codes) == 4 and taxonomy.data == "corpus/labels/ciw_principles"
    assert "areas" in available_schemes() and "ciw_principles" in available_schemes()


def test_taxonomy_errors_are_clear(tmp_path):
    with pytest.raises(TaxonomyError, match="no taxonomy file for scheme 'nope'.*known schemes: areas"):
        load_taxonomy("nope")
    with pytest.raises(TaxonomyError, match="invalid scheme name"):
        load_taxonomy("../areas")
    (tmp_path / "taxonomy").mkdir()
    (tmp_path / "taxonomy" / "broken.toml").write_text(
        'scheme = "broken"\nversion = "1"\ntitle = "t"\ndescription = "d"\nnone = "n"\n'
        '[[labels]]\ncode = "X"\nname = "x"\ndescription = "x"\n'
        '[[labels]]\ncode = "X"\nname = "y"\ndescription = "y"\n'
    )
    with pytest.raises(TaxonomyError, match="codes must be unique"):
        load_taxonomy("broken", tmp_path)


def test_model_card_table_is_generated_from_the_taxonomy():
    card = (PROJECT_ROOT / "models" / "README.md").read_text(encoding="utf-8")
    assert markdown_table(load_taxonomy()) in card, "regenerate the table with pipeline.lexicon.taxonomy.markdown_table"


def test_taxonomy_matches_the_guidelines_headings():
    guidelines = PROJECT_ROOT.parent / "shared" / "annotation-guidelines.md"
    if not guidelines.exists():
        pytest.skip("the shared guidelines are not beside this checkout")
    headings = dict(re.findall(r"^### ([A-D]) - (.+)$", guidelines.read_text(encoding="utf-8"), re.M))
    assert headings == {label.code: label.name for label in load_taxonomy().labels}
