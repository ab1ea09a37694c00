"""The labelled statements in corpus/labels and the taxonomy files they are labelled by."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from pipeline.config import PROJECT_ROOT
from pipeline.lexicon.taxonomy import TaxonomyError, available_schemes, load_taxonomy, markdown_table
from pipeline.records import DOC_TYPES

LABELS = PROJECT_ROOT / "corpus" / "labels"
DEV = PROJECT_ROOT.parent / "shared" / "corpus-samples" / "dev-labels.jsonl"
FIELDS = {"text", "labels", "source", "doc_type"}


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def _files_by_scheme() -> dict[str, list[Path]]:
    """Each scheme's labelled files: those in the folder its taxonomy names (not recursive)."""
    out = {}
    for scheme in available_schemes():
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
        if set(row) != FIELDS:
            problems.append(f"{where}: fields {sorted(row)} (want {sorted(FIELDS)})")
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
        if not isinstance(row["source"], str) or not row["source"].strip():
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
