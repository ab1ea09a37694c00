from __future__ import annotations

from hypothesis import given, settings as hsettings, strategies as st

from pipeline.extract.layout import RawBlock, assemble
from pipeline.records import Document, Metadata
from pipeline.segment import normalise_person, segment


def doc_of(blocks: list[RawBlock], doc_type: str = "inspection_report") -> Document:
    text, bl, pages = assemble(blocks)
    return Document(id="f" * 64, source_path="t.txt", format="text", text=text, blocks=bl, pages=pages,
                    metadata=Metadata(doc_type=doc_type), size=len(text), extractor_version="x")


def texts(blocks, settings, **kw):
    return [s.text for s in segment(doc_of(blocks, **kw), settings)]


def test_abbreviations_titles_initials_and_figures_do_not_split(settings):
    para = ("Cllr. Rhys Morgan met Dr. Sian Howells at St. Mary's on 3 May. A. Bulman, the director, "
            "reported that item No. 3 was agreed, e.g. the new front door. The cost was \u00a349, 929 "
            "for 12.5% of placements. Members noted the report.")
    assert texts([RawBlock("paragraph", para)], settings) == [
        "Cllr. Rhys Morgan met Dr. Sian Howells at St. Mary's on 3 May.",
        "A. Bulman, the director, reported that item No. 3 was agreed, e.g. the new front door.",
        "The cost was \u00a349, 929 for 12.5% of placements.",
        "Members noted the report.",
    ]


def test_quote_spanning_sentences_splits_and_keeps_speaker(settings):
    blocks = [
        RawBlock("paragraph", "\u201cWe accept the findings. We are sorry,\u201d said Council Leader Councillor "
                              "Gwen Parry."),
        RawBlock("paragraph", "\u201cThe work starts today and it will be led from the top.\u201d"),
        RawBlock("paragraph", "Cllr Vaughan added: \u201cThe question is why standards differ so much.\u201d"),
    ]
    out = segment(doc_of(blocks, doc_type="news"), settings)
    assert [s.text for s in out][:2] == ["\u201cWe accept the findings.",
                                         "We are sorry,\u201d said Council Leader Councillor Gwen Parry."]
    assert {s.speaker for s in out[:3]} == {"Cllr Gwen Parry"}
    assert all(s.kind == "quote" for s in out)
    assert out[3].speaker == "Cllr Vaughan"


def test_heading_is_not_a_statement_but_heads_the_ones_below(settings):
    out = segment(doc_of([
        RawBlock("heading", "Priority areas for development"),
        RawBlock("list_item", "1. Ensure assessments are timely."),
        RawBlock("list_item", "2. Care and support plans must reflect what matters to the child."),
    ]), settings)
    assert [s.text for s in out] == ["Ensure assessments are timely.",
                                     "Care and support plans must reflect what matters to the child."]
    assert all(s.heading == "Priority areas for development" for s in out)
    assert all(s.kind == "recommendation" for s in out)


def test_kinds(settings):
    out = segment(doc_of([
        RawBlock("paragraph", "We found that supervision of staff was regular and recorded."),
        RawBlock("paragraph", "The local authority should improve the quality of risk assessments."),
        RawBlock("paragraph", "Develop a clear strategy for early help."),
        RawBlock("paragraph", "Agenda item 4."),
    ]), settings)
    assert [s.kind for s in out] == ["finding", "recommendation", "recommendation", "other"]


def test_welsh_statement_is_marked_welsh(settings):
    out = segment(doc_of([
        RawBlock("paragraph", "Mae'r cyngor wedi gwneud cynnydd sylweddol yn ei wasanaethau plant eleni."),
        RawBlock("paragraph", "The council has made significant progress in its children's services this year."),
    ]), settings)
    assert [s.language for s in out] == ["cy", "en"]


def test_lemmas_come_from_the_lookup_lemmatizer(settings):
    out = segment(doc_of([RawBlock("paragraph", "Children were placed in emergency placements.")]), settings)
    assert "child" in out[0].lemmas.split() and "place" in out[0].lemmas.split()


def test_normalise_person():
    assert normalise_person("Councillor Gwen Parry") == "Cllr Gwen Parry"
    assert normalise_person("Cllr. Vaughan") == "Cllr Vaughan"


words = st.sampled_from(["The", "council", "Cllr.", "Dr.", "said", "\u201cyes.\u201d", "plans", "No.", "3",
                         "e.g.", "A.", "Bulman", "were", "late.", "Why?", "\u00a349,", "929", "\u2022", "-", "!"])


@hsettings(max_examples=40, deadline=None)
@given(st.lists(st.lists(words, min_size=1, max_size=30).map(" ".join), min_size=1, max_size=6))
def test_statements_lie_inside_the_text_in_order_without_overlap(paragraphs):
    from pipeline.config import Settings

    doc = doc_of([RawBlock("paragraph", p) for p in paragraphs])
    out = segment(doc, Settings())
    end = 0
    for s in out:
        assert doc.text[s.char_start:s.char_end] == s.text
        assert s.char_start >= end
        end = s.char_end
    assert [s.seq for s in out] == list(range(len(out)))
