"""Bilingual files split into an English and a Welsh part; English and Welsh versions paired.

Every text here is written for these tests (a fictional council, Glanmor)."""

from __future__ import annotations

import json

import pytest

from pipeline import store
from pipeline.extract import extract
from pipeline.extract.bilingual import part_id, split_languages
from pipeline.records import Source, document_id_for
from pipeline.run.pairing import Candidate, find_pairs, pair_new_documents, pair_score
from tests.builders import make_pdf

EN_PARAS = [
    "The council reviewed how quickly families are assessed after a referral is made to the front door.",
    "Managers told us that staff turnover has slowed the work, and that agency workers cover eleven posts.",
    "The council will publish a revised plan for its fostering service before the end of the summer.",
    "Members asked for a report on the number of children waiting for a named social worker each month.",
]
CY_PARAS = [
    "Adolygodd y cyngor pa mor gyflym y caiff teuluoedd eu hasesu ar ôl i atgyfeiriad gael ei wneud.",
    "Dywedodd rheolwyr wrthym fod trosiant staff wedi arafu'r gwaith, a bod gweithwyr asiantaeth yn llenwi un swydd ar ddeg.",
    "Bydd y cyngor yn cyhoeddi cynllun diwygiedig ar gyfer ei wasanaeth maethu cyn diwedd yr haf.",
    "Gofynnodd yr aelodau am adroddiad ar nifer y plant sy'n aros am weithiwr cymdeithasol penodol bob mis.",
]

EN_STATEMENT = """Written Statement: Update on Glanmor County Council children's services

First published: 12 March 2024

Dafydd Rowlands MS, Minister for Social Care

On 14 November 2023 the inspectorate published its report on children's services in Glanmor County Council. \
The report found that 37 children waited more than 20 working days for an assessment, and that 412 cases had no \
named social worker.

The council has since appointed Mererid Price as Head of Children's Services and committed £1,250,000 to recruit \
18 social workers by 31 July 2024.

I will update Members again by 30 September 2024.
"""

CY_STATEMENT = """Datganiad Ysgrifenedig: Y wybodaeth ddiweddaraf am wasanaethau plant Cyngor Sir Glanmor

Cyhoeddwyd gyntaf: 12 Mawrth 2024

Dafydd Rowlands AS, y Gweinidog dros Ofal Cymdeithasol

Ar 14 Tachwedd 2023 cyhoeddodd yr arolygiaeth ei hadroddiad ar wasanaethau plant Cyngor Sir Glanmor. Canfu'r \
adroddiad fod 37 o blant wedi aros mwy nag 20 diwrnod gwaith am asesiad, ac nad oedd gan 412 o achosion weithiwr \
cymdeithasol penodol.

Ers hynny mae'r cyngor wedi penodi Mererid Price yn Bennaeth Gwasanaethau Plant ac wedi ymrwymo £1,250,000 i \
recriwtio 18 o weithwyr cymdeithasol erbyn 31 Gorffennaf 2024.

Byddaf yn rhoi'r wybodaeth ddiweddaraf i'r Aelodau eto erbyn 30 Medi 2024.
"""

CY_OTHER = """Pwyllgor Craffu Gofal Cymdeithasol Cyngor Sir Glanmor

Cyhoeddwyd: 20 Mawrth 2024

Cyfarfu'r pwyllgor i drafod cyllideb gofal oedolion. Nododd yr aelodau fod 96 o bobl yn aros am ofal cartref, \
ac y byddai'r cyngor yn gwario £640,000 ar wasanaethau ailalluogi yn ystod 2024-25.

Gofynnodd y Cynghorydd Elin Howells am ddiweddariad ar y rhestr aros erbyn mis Gorffennaf.
"""


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_alternating_paragraphs_become_an_english_and_a_welsh_part(tmp_path, settings):
    text = "\n\n".join(p for pair in zip(CY_PARAS, EN_PARAS) for p in pair) + "\n"
    path = _write(tmp_path, "bilingual.txt", text)
    doc = extract(Source(str(path)), settings)
    en, cy = split_languages(doc)
    assert (en.metadata.language, cy.metadata.language) == ("en", "cy")
    assert en.text == "\n\n".join(EN_PARAS)
    assert cy.text == "\n\n".join(CY_PARAS)
    file_id = document_id_for(path.read_bytes())
    assert en.id == file_id and cy.id == part_id(file_id, "cy") != file_id
    assert en.part_of == cy.part_of == file_id
    for part in (en, cy):  # offsets index each part's own text
        assert all(part.text[b.char_start : b.char_end] == b.text for b in part.blocks)


def test_welsh_first_halves_of_a_pdf_keep_their_pages(tmp_path, settings):
    path = make_pdf(
        tmp_path / "halves.pdf",
        [
            [("h1", "Adroddiad Blynyddol Gwasanaethau Plant")] + [("p", p) for p in CY_PARAS],
            [("h1", "Children's Services Annual Report")] + [("p", p) for p in EN_PARAS],
        ],
    )
    doc = extract(Source(str(path)), settings)
    en, cy = split_languages(doc)
    assert cy.blocks[0].text == "Adroddiad Blynyddol Gwasanaethau Plant" and cy.metadata.title == cy.blocks[0].text
    assert en.metadata.title == "Children's Services Annual Report"
    assert {b.page for b in cy.blocks} == {1} and {b.page for b in en.blocks} == {2}
    assert [p.number for p in en.pages] == [1, 2]  # page spans still cover the whole file


def test_english_document_with_a_welsh_greeting_is_not_split(tmp_path, settings):
    text = "Diolch yn fawr, Dirprwy Lywydd.\n\n" + "\n\n".join(EN_PARAS * 2) + "\n"
    doc = extract(Source(str(_write(tmp_path, "speech.txt", text))), settings)
    assert split_languages(doc) == (doc,)


def test_a_language_given_with_the_source_wins(tmp_path, settings):
    text = "\n\n".join(p for pair in zip(CY_PARAS, EN_PARAS) for p in pair) + "\n"
    doc = extract(Source(str(_write(tmp_path, "declared.txt", text))), settings)
    assert split_languages(doc, known_language="cy") == (doc,)


def _candidate(doc, **extra):
    m = doc.metadata
    return Candidate(
        id=doc.id,
        language=m.language,
        text=doc.text,
        local_authority=m.local_authority,
        published=m.published,
        pages=doc.page_count,
        **extra,
    )


@pytest.fixture
def statements(tmp_path, settings):
    docs = {}
    for name, text in (("en.txt", EN_STATEMENT), ("cy.txt", CY_STATEMENT), ("cy-other.txt", CY_OTHER)):
        docs[name] = extract(Source(str(_write(tmp_path, name, text))), settings)
    return docs


def test_english_and_welsh_versions_score_high_and_others_low(statements):
    en, cy, other = (_candidate(statements[n]) for n in ("en.txt", "cy.txt", "cy-other.txt"))
    assert en.local_authority == cy.local_authority == "Glanmor County Council"
    assert en.published == cy.published == "2024-03-12"
    score, evidence = pair_score(en, cy)
    assert score >= 0.8, evidence
    assert evidence["dates"] >= 0.8  # 14 Tachwedd 2023 is 14 November 2023
    low, _ = pair_score(en, other)
    assert low < 0.6
    assert pair_score(en, Candidate("x", "cy", CY_STATEMENT, "Afonwy County Borough Council", "2024-03-12"))[0] == 0.0
    assert pair_score(en, Candidate("y", "cy", CY_STATEMENT, "Glanmor County Council", "2024-09-12"))[0] == 0.0
    assert pair_score(en, Candidate("z", "en", EN_STATEMENT, "Glanmor County Council", "2024-03-12"))[0] == 0.0


def test_many_new_documents_are_compared_only_with_possible_partners(statements, monkeypatch):
    """A run of many new documents: each is scored only against the other language of its own council (or an
    unknown one), and texts are not read with the candidates; the true pair is found among 20 councils'
    documents."""
    import pipeline.run.pairing as pairing

    en, cy = (_candidate(statements[n]) for n in ("en.txt", "cy.txt"))
    row = {"id": en.id, "language": "en", "text_length": len(EN_STATEMENT), "local_authority": en.local_authority}
    assert pairing._candidate(row).text == "" and pairing._candidate(row).length == len(EN_STATEMENT)
    councils = [f"Council {k}" for k in range(20)]
    noise = [
        Candidate(f"{lang}{k}", lang, f"Report number {k} of {councils[k % 20]}.", councils[k % 20], "2024-03-12")
        for k in range(400)
        for lang in ("en", "cy")
        if (k % 4 == 0) == (lang == "cy")
    ]  # 300 English, 100 Welsh
    calls = []
    real = pairing.pair_score
    monkeypatch.setattr(pairing, "pair_score", lambda a, b, f=None: calls.append((a.id, b.id)) or real(a, b, f))
    pairs = find_pairs([en, *noise], [cy])
    assert [(p.english_id, p.welsh_id, p.method) for p in pairs] == [(en.id, cy.id, "matched")]
    by_id = {c.id: c for c in [en, cy, *noise]}
    assert all(by_id[y].local_authority in (None, by_id[x].local_authority) for x, y in calls)
    assert len(calls) < 401 * 101 / 10  # every English against every Welsh would be about 30,000


def test_find_pairs_matches_one_partner_each(statements):
    en, cy, other = (_candidate(statements[n]) for n in ("en.txt", "cy.txt", "cy-other.txt"))
    pairs = find_pairs([en], [cy, other])
    assert [(p.english_id, p.welsh_id, p.method) for p in pairs] == [(en.id, cy.id, "matched")]
    assert find_pairs([en], [cy, other], already={cy.id}) == []


def test_manifest_translation_of_pairs_even_unlike_documents(statements):
    en = _candidate(statements["en.txt"], aliases=("/corpus/en.txt",), translation_of="cy-other.txt")
    other = _candidate(statements["cy-other.txt"], aliases=("/corpus/cy-other.txt",))
    pairs = find_pairs([en], [other])
    assert [(p.english_id, p.welsh_id, p.method) for p in pairs] == [(en.id, other.id, "manifest")]


def _save(db, path, docs):
    first, *rest = docs
    store.save_document(
        db,
        first,
        [],
        run_id="r1",
        source={"source_path": str(path), "sha256": first.id},
        versions={},
        parts=[(d, [], []) for d in rest],
    )


def test_store_keeps_parts_and_pairs_and_deletes_them_with_their_file(tmp_path, settings, statements):
    db = store.open_db(tmp_path / "pairs.db")
    store.start_run(db, "r1", 3, "test")
    text = "\n\n".join(p for pair in zip(CY_PARAS, EN_PARAS) for p in pair) + "\n"
    path = _write(tmp_path, "bilingual.txt", text)
    en_part, cy_part = split_languages(extract(Source(str(path)), settings))
    _save(db, path, [en_part, cy_part])
    _save(db, tmp_path / "en.txt", [statements["en.txt"]])
    _save(db, tmp_path / "cy.txt", [statements["cy.txt"]])
    _save(db, tmp_path / "cy-other.txt", [statements["cy-other.txt"]])
    ids = [en_part.id, cy_part.id, statements["en.txt"].id, statements["cy.txt"].id, statements["cy-other.txt"].id]
    pairs = pair_new_documents(db, ids)
    rows = {(r["english_id"], r["welsh_id"]): r for r in db["document_pairs"].rows}
    assert set(rows) == {(en_part.id, cy_part.id), (statements["en.txt"].id, statements["cy.txt"].id)}
    assert rows[(en_part.id, cy_part.id)]["method"] == "bilingual file"
    assert json.loads(rows[(statements["en.txt"].id, statements["cy.txt"].id)]["evidence"])["numbers"] > 0.5
    assert len(pairs) == 2
    parts = {r["id"]: r for r in db.query("SELECT id, language, part_of FROM documents WHERE part_of IS NOT NULL")}
    assert {r["language"] for r in parts.values()} == {"en", "cy"}
    # the file changes: both of its parts and their pair go
    path.write_text(EN_STATEMENT.replace("Glanmor", "Afonwy"), encoding="utf-8")
    changed = extract(Source(str(path)), settings)
    _save(db, path, [changed])
    assert db.execute("SELECT count(*) FROM documents WHERE id IN (?, ?)", [en_part.id, cy_part.id]).fetchone()[0] == 0
    assert [(r["english_id"], r["welsh_id"]) for r in db["document_pairs"].rows] == [
        (statements["en.txt"].id, statements["cy.txt"].id)
    ]
    assert "document_pairs" in {t.name for t in store.SCHEMA}


def test_ingest_flow_splits_bilingual_files_and_pairs_versions(prefect_harness, tmp_path):
    from flows.ingest import ingest_flow

    folder = tmp_path / "in"
    folder.mkdir()
    _write(folder, "bilingual.txt", "\n\n".join(p for pair in zip(CY_PARAS, EN_PARAS) for p in pair) + "\n")
    _write(folder, "statement-en.txt", EN_STATEMENT)
    _write(folder, "statement-cy.txt", CY_STATEMENT)
    db_path = tmp_path / "flow.db"
    summary = ingest_flow(paths=[str(folder)], db_path=str(db_path))
    assert summary["added"] == 3 and summary["failed"] == 0
    db = store.open_db(db_path)
    langs = dict(
        db.execute("""SELECT d.language, group_concat(DISTINCT s.language) FROM documents d
                               JOIN statements s ON s.document_id = d.id WHERE d.part_of IS NOT NULL
                               GROUP BY d.language""").fetchall()
    )
    assert langs == {"en": "en", "cy": "cy"}  # each part has its own statements, in its own language
    methods = sorted(r["method"] for r in db["document_pairs"].rows)
    assert methods == ["bilingual file", "matched"]
    # nothing changed: a second run redoes nothing and keeps the pairs
    again = ingest_flow(paths=[str(folder)], db_path=str(db_path))
    assert again["unchanged"] == 3 and db["document_pairs"].count == 2
