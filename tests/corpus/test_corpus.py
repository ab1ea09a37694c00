"""The bundled sample corpus: complete, rebuildable, and free of page furniture once segmented."""

from __future__ import annotations

import csv
import re

import pytest
from conftest import ROOT

from pipeline.extract import extract
from pipeline.run.inputs import discover
from pipeline.segment import segment

CORPUS = ROOT / "corpus"
FURNITURE = re.compile(
    r"cookie|follow us|share this|link image|skip to|related stories|most read|"
    r"all rights reserved|privacy|fictional sample document|page \d+ of \d+",
    re.I,
)


def manifest_rows() -> list[dict]:
    with (CORPUS / "manifest.csv").open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_manifest_lists_every_document_with_its_metadata():
    rows = manifest_rows()
    listed = {r["path"] for r in rows}
    on_disk = {f"documents/{p.name}" for p in (CORPUS / "documents").iterdir()}
    assert listed == on_disk and len(rows) >= 12
    for r in rows:
        assert r["doc_type"] and r["local_authority"] and r["published"] and r["language"] in ("en", "cy")
    inspections = [r for r in rows if r["doc_type"] == "inspection_report"]
    by_council = {r["local_authority"] for r in inspections}
    assert any(sum(r["local_authority"] == c for r in inspections) >= 2 for c in by_council)
    assert {"pdf", "html", "docx"} <= {r["path"].rsplit(".", 1)[1] for r in rows}
    assert any(r["language"] == "cy" for r in rows)


def test_every_built_document_keeps_its_source_text():
    for built in (CORPUS / "documents").iterdir():
        if built.suffix in (".pdf", ".docx"):
            assert (CORPUS / "sources" / f"{built.stem}.md").is_file(), built.name
    assert (CORPUS / "build.py").is_file()


def test_folder_with_a_manifest_is_read_through_it():
    sources = discover([str(CORPUS)])
    assert len(sources) == len(manifest_rows())
    assert all(s.meta.get("doc_type") for s in sources)


@pytest.fixture(scope="module")
def corpus_statements():
    from pipeline.config import Settings

    settings = Settings()
    out = {}
    for source in discover([str(CORPUS)]):
        doc = extract(source, settings)
        out[source.path] = (doc, segment(doc, settings))
    return out


def test_no_page_furniture_becomes_a_statement(corpus_statements):
    for path, (_doc, statements) in corpus_statements.items():
        for s in statements:
            assert not FURNITURE.search(s.text), f"{path}: {s.text!r}"


def test_pdf_recommendations_are_separate_statements_with_pages(corpus_statements):
    ((doc, statements),) = [
        v for k, v in corpus_statements.items() if k.endswith("glanmor-childrens-inspection-2017.pdf")
    ]
    recs = [s for s in statements if s.kind == "recommendation" and s.heading == "Recommendations"]
    assert len(recs) >= 8
    assert all(s.page and s.page >= 2 for s in recs)
    assert all(not re.match(r"^\d+[.)]", s.text) for s in recs)  # the list number is not part of the text
    assert doc.metadata.local_authority == "Glanmor County Council"


def test_welsh_page_is_welsh(corpus_statements):
    welsh = [v for k, v in corpus_statements.items() if "datganiad" in k]
    assert welsh
    doc, statements = welsh[0]
    assert doc.metadata.language == "cy"
    assert sum(s.language == "cy" for s in statements) >= 0.8 * len(statements)
