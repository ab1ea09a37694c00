"""Segmentation: sentence boundaries, headings, furniture, kinds, speakers, entities and language.

Every text here was written for these tests (fictional councils Glanmor and Afonwy, invented people).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from pipeline.extract import extract
from pipeline.extract.layout import RawBlock, assemble
from pipeline.records import Document, Metadata, Source
from pipeline.segment import load_nlp, normalise_person, segment


def doc_of(blocks: list[RawBlock], doc_type: str = "inspection_report", language: str = "en") -> Document:
    text, bl, pages = assemble(blocks)
    return Document(
        id="f" * 64,
        source_path="t.txt",
        format="text",
        text=text,
        blocks=bl,
        pages=pages,
        metadata=Metadata(doc_type=doc_type, language=language),
        size=len(text),
        extractor_version="x",
    )


def para(*texts: str) -> list[RawBlock]:
    return [RawBlock("paragraph", t) for t in texts]


def texts(blocks, settings, **kw):
    return [s.text for s in segment(doc_of(blocks, **kw), settings)]


def from_file(tmp_path: Path, settings, content: str):
    path = tmp_path / "excerpt.txt"
    path.write_text(content, encoding="utf-8")
    return segment(extract(Source(str(path)), settings), settings)


# ---------------------------------------------------------------- sentence boundaries


def test_abbreviations_titles_initials_and_figures_do_not_split(settings):
    para_ = (
        "Cllr. Rhys Morgan met Dr. Sian Howells at St. Mary's on 3 May. A. Bulman, the director, "
        "reported that item No. 3 was agreed, e.g. the new front door. The cost was \u00a349, 929 "
        "for 12.5% of placements. Members noted the report."
    )
    assert texts(para(para_), settings) == [
        "Cllr. Rhys Morgan met Dr. Sian Howells at St. Mary's on 3 May.",
        "A. Bulman, the director, reported that item No. 3 was agreed, e.g. the new front door.",
        "The cost was \u00a349, 929 for 12.5% of placements.",
        "Members noted the report.",
    ]


def test_initial_lists_and_titles_with_full_stops(settings):
    assert texts(
        para(
            "Apologies were received from Councillors G. L. Evans, M. Price and J. P. Morgan. "
            "A warm welcome was extended to Mr. Dafydd Rowlands, Lead Inspector. At the invitation "
            "of the Chair, Mr. Rowlands spoke."
        ),
        settings,
    ) == [
        "Apologies were received from Councillors G. L. Evans, M. Price and J. P. Morgan.",
        "A warm welcome was extended to Mr. Dafydd Rowlands, Lead Inspector.",
        "At the invitation of the Chair, Mr. Rowlands spoke.",
    ]


def test_abbreviations_that_can_end_a_sentence_and_labels(settings):
    assert texts(
        para(
            "Members met at 10 a.m. The chair opened the meeting. Staff, managers etc. were "
            "present. The plan is set out in Appendix B. The council agreed it, i.e. subject to "
            "funding."
        ),
        settings,
    ) == [
        "Members met at 10 a.m.",
        "The chair opened the meeting.",
        "Staff, managers etc. were present.",
        "The plan is set out in Appendix B.",
        "The council agreed it, i.e. subject to funding.",
    ]


def test_quote_spanning_sentences_splits_and_keeps_speaker(settings):
    blocks = para(
        "\u201cWe accept the findings. We are sorry,\u201d said Council Leader Councillor Gwen Parry.",
        "\u201cThe work starts today and it will be led from the top.\u201d",
        "Cllr Vaughan added: \u201cThe question is why standards differ so much.\u201d",
    )
    out = segment(doc_of(blocks, doc_type="news"), settings)
    assert [s.text for s in out][:2] == [
        "\u201cWe accept the findings.",
        "We are sorry,\u201d said Council Leader Councillor Gwen Parry.",
    ]
    assert {s.speaker for s in out[:3]} == {"Cllr Gwen Parry"}
    assert all(s.kind == "quote" for s in out)
    assert out[3].speaker == "Cllr Vaughan"


def test_list_item_of_two_sentences_gives_two_statements(settings):
    out = segment(
        doc_of(
            [
                RawBlock("heading", "Priority areas for development"),
                RawBlock(
                    "list_item",
                    "\u2022 Develop placement commissioning to reduce emergency placements. "
                    "To minimise the number of children placed far from home.",
                ),
            ]
        ),
        settings,
    )
    assert [s.text for s in out] == [
        "Develop placement commissioning to reduce emergency placements.",
        "To minimise the number of children placed far from home.",
    ]
    assert [s.kind for s in out] == ["recommendation", "recommendation"]


def test_bullet_on_a_line_of_its_own_starts_an_item(tmp_path, settings):
    out = from_file(
        tmp_path,
        settings,
        (
            "Glanmor County Council has agreed to:\n"
            "\u2022\n"
            "Appoint a permanent head of children's services by the end of the year.\n"
            "\u2022\n"
            "Strengthen the quality of care and support plans, so that\n"
            "the views of each child are recorded.\n"
        ),
    )
    assert [s.text for s in out] == [
        "Glanmor County Council has agreed to:",
        "Appoint a permanent head of children's services by the end of the year.",
        "Strengthen the quality of care and support plans, so that\n\nthe views of each child are recorded.",
    ]
    assert not any(s.text.strip() in "\u2022" for s in out)


def test_wrapped_list_item_is_joined_but_a_new_paragraph_is_not(settings):
    out = segment(
        doc_of(
            [
                RawBlock("list_item", "\u2022 Priority area A \u2013 Leadership,"),
                RawBlock("paragraph", "Governance and Partnership"),
                RawBlock("list_item", "\u2022 Priority area B \u2013 Workforce"),
                RawBlock("paragraph", "As agreed last year, the council has set up a partnership board."),
            ]
        ),
        settings,
    )
    assert [s.text for s in out] == [
        "Priority area A \u2013 Leadership,\n\nGovernance and Partnership",
        "Priority area B \u2013 Workforce",
        "As agreed last year, the council has set up a partnership board.",
    ]


# ---------------------------------------------------------------- headings, contents and menus


def test_heading_is_not_a_statement_but_heads_the_ones_below(settings):
    out = segment(
        doc_of(
            [
                RawBlock("heading", "Priority areas for development"),
                RawBlock("list_item", "1. Ensure assessments are timely."),
                RawBlock("list_item", "2. Care and support plans must reflect what matters to the child."),
            ]
        ),
        settings,
    )
    assert [s.text for s in out] == [
        "Ensure assessments are timely.",
        "Care and support plans must reflect what matters to the child.",
    ]
    assert all(s.heading == "Priority areas for development" for s in out)
    assert all(s.kind == "recommendation" for s in out)


def test_heading_run_into_the_next_sentence_is_split_off(settings):
    out = segment(
        doc_of(
            para(
                "Glanmor inspection letter We visited Glanmor County Council in May 2021.",
                "Findings The front door works well. Next steps We expect the council to update its plan.",
                "SAFE AT HOME we will help families to stay together wherever that is safe.",
            )
        ),
        settings,
    )
    assert [(s.text, s.heading) for s in out] == [
        ("We visited Glanmor County Council in May 2021.", "Glanmor inspection letter"),
        ("The front door works well.", "Findings"),
        ("We expect the council to update its plan.", "Next steps"),
        ("we will help families to stay together wherever that is safe.", "SAFE AT HOME"),
    ]


def test_numbered_headings_and_a_heading_at_the_end_of_a_paragraph(settings):
    out = segment(
        doc_of(
            [
                RawBlock("list_item", "1. Introduction"),
                RawBlock("paragraph", "1.1 About us Afonwy County Borough Council runs services for children."),
                RawBlock("paragraph", "1.2 We aim to:"),
                RawBlock("list_item", "- keep children safe"),
                RawBlock("paragraph", "Inspectors visited in May. Areas for improvement"),
                RawBlock("list_item", "- Assessments must be updated when circumstances change."),
            ]
        ),
        settings,
    )
    assert [(s.text, s.heading) for s in out] == [
        ("Afonwy County Borough Council runs services for children.", "About us"),
        ("We aim to:", "About us"),
        ("keep children safe", "About us"),
        ("Inspectors visited in May.", "About us"),
        ("Assessments must be updated when circumstances change.", "Areas for improvement"),
    ]
    assert out[-1].kind == "recommendation"


def test_short_unpunctuated_lines_are_headings_or_furniture(settings):
    out = segment(
        doc_of(
            para(
                "Skip to main content Global keyword search",
                "What is different?",
                "The council has published a new plan for its services to children.",
                "Minutes:",
                "There were no declarations of interest.",
                "Carys Pryce, Deputy Minister for Social Services",
                "14 March 2021",
                "The minister welcomed the progress made since the last inspection.",
            )
        ),
        settings,
    )
    assert [(s.text, s.heading) for s in out] == [
        ("The council has published a new plan for its services to children.", "What is different?"),
        ("There were no declarations of interest.", "Minutes:"),
        ("The minister welcomed the progress made since the last inspection.", "Minutes:"),
    ]


def test_table_of_contents_and_menu_lines_are_not_statements(tmp_path, settings):
    out = segment(
        doc_of(
            para(
                "01 Introduction 1.1 Leader's introduction ...... 3 1.2 A message from the Chief Executive...... 4",
                "2.1 The Economy...... 10 2.2 Health and Care ...... 20",
                "The plan was agreed by the cabinet in July.",
            )
        ),
        settings,
    )
    assert [s.text for s in out] == ["The plan was agreed by the cabinet in July."]
    out = from_file(
        tmp_path,
        settings,
        (
            "Home\nNews\nSport\nWhat's on\nContact us\n\n"
            "The council has agreed a new fostering strategy after a long consultation with families.\n"
        ),
    )
    assert [s.text for s in out] == [
        "The council has agreed a new fostering strategy after a long consultation with families."
    ]


def test_logo_text_glued_to_a_sentence_is_dropped(settings):
    assert texts(para("Glanmor logoThe council has accepted the recommendations of the inspection."), settings) == [
        "The council has accepted the recommendations of the inspection."
    ]


# ---------------------------------------------------------------- kinds


def test_kinds(settings):
    out = segment(
        doc_of(
            para(
                "We found that supervision of staff was regular and recorded.",
                "The local authority should improve the quality of risk assessments.",
                "Develop a clear strategy for early help.",
                "Agenda item 4.",
                "Review of the front door was completed in June.",
            )
        ),
        settings,
    )
    assert [s.kind for s in out] == ["finding", "recommendation", "recommendation", "other", "finding"]


def test_items_under_a_recommendation_heading_or_intro_are_recommendations(settings):
    out = segment(
        doc_of(
            [
                RawBlock("paragraph", "The inspectorate gave the council three priority areas for improvement:"),
                RawBlock("list_item", "- Care and support plans must reflect what matters to the child."),
                RawBlock("heading", "Recommendations"),
                RawBlock("list_item", "- Workforce planning is strengthened across the service."),
                RawBlock("heading", "Strengths"),
                RawBlock("list_item", "- Staff are committed and stable."),
            ]
        ),
        settings,
    )
    assert [s.kind for s in out] == ["finding", "recommendation", "recommendation", "finding"]


# ---------------------------------------------------------------- quotes and speakers


def test_speaker_named_earlier_is_normalised_to_the_fullest_form(settings):
    out = segment(
        doc_of(
            para(
                "Labour Group Leader, Elwyn Madoc (Llanfair), said: \u201cWe welcome the report.",
                "\u201cThere is more to do.\u201d",
                "Cllr Madoc added: \u201cStandards differ too much between counties.\u201d",
            ),
            doc_type="news",
        ),
        settings,
    )
    assert [s.speaker for s in out] == ["Cllr Elwyn Madoc"] * 3
    assert [s.kind for s in out] == ["quote"] * 3


def test_quote_over_several_paragraphs_after_an_introduction(settings):
    out = segment(
        doc_of(
            para(
                "Councillor Aled Pugh, the council\u2019s cabinet member for social services, said:",
                "\u201cWe welcome this report. It shows how much our staff have done.",
                "\u201cI would like to thank every social worker in Glanmor.\u201d",
                "The report will go to the cabinet next month.",
            ),
            doc_type="news",
        ),
        settings,
    )
    assert [(s.kind, s.speaker) for s in out] == [
        ("finding", None),
        ("quote", "Cllr Aled Pugh"),
        ("quote", "Cllr Aled Pugh"),
        ("quote", "Cllr Aled Pugh"),
        ("finding", None),
    ]


def test_attribution_line_after_a_quote_names_its_speaker(settings):
    out = segment(
        doc_of(
            para(
                "\u201cThe council is committed to keeping children safe, and I will lead the response myself.\u201d",
                "Cllr Gwen Parry, Leader of Glanmor County Council",
            ),
            doc_type="news",
        ),
        settings,
    )
    assert [(s.kind, s.speaker) for s in out] == [("quote", "Cllr Gwen Parry")]


def test_quoted_words_inside_a_finding_do_not_make_a_quote(settings):
    out = segment(
        doc_of(
            para("Inspectors noted \u201csignificant improvements\u201d since the last inspection in October 2019."),
            doc_type="news",
        ),
        settings,
    )
    assert [(s.kind, s.speaker) for s in out] == [("finding", None)]


def test_normalise_person():
    assert normalise_person("Councillor Gwen Parry") == "Cllr Gwen Parry"
    assert normalise_person("Cllr. Vaughan") == "Cllr Vaughan"
    assert normalise_person("County Councillor Jan Cole\u2019s") == "Cllr Jan Cole"


# ---------------------------------------------------------------- entities


def test_entities_people_roles_bodies_money_and_dates(settings):
    out = segment(
        doc_of(
            para(
                "On 17th October 2017 Care Inspectorate Wales published its report on Glanmor County Council.",
                "A new director of social services, Alison Prydderch, was appointed by Cllr Gwen Parry.",
                "The cost of a placement was \u00a349, 929 in Glanmor against \u00a32.1 million for the whole of Afonwy.",
            )
        ),
        settings,
    )
    found = [(e.label, e.text, e.value, e.roles) for s in out for e in s.entities]
    assert found == [
        ("DATE", "17th October 2017", "2017-10-17", ()),
        ("ORG", "Care Inspectorate Wales", "Care Inspectorate Wales", ()),
        ("COUNCIL", "Glanmor County Council", "Glanmor County Council", ()),
        ("PERSON", "Alison Prydderch", "Alison Prydderch", ("director of social services",)),
        ("PERSON", "Cllr Gwen Parry", "Gwen Parry", ("councillor",)),
        ("MONEY", "\u00a349, 929", "49929", ()),
        ("PLACE", "Glanmor", "Glanmor County Council", ()),
        ("MONEY", "\u00a32.1 million", "2100000", ()),
        ("PLACE", "Afonwy", "Afonwy County Borough Council", ()),
    ]
    doc = doc_of(para("On 17th October 2017 Care Inspectorate Wales published its report on Glanmor County Council."))
    entity = out[0].entities[0]
    assert doc.text[entity.char_start : entity.char_end] == "17th October 2017"


def test_entity_offsets_index_the_document_text(settings):
    doc = doc_of(
        [
            RawBlock("heading", "Findings"),
            RawBlock(
                "list_item",
                "- CIW lead inspector, Dafydd Rowlands, met the head of children's "
                "services, Mair Lloyd, on 3 May 2021.",
            ),
        ]
    )
    out = segment(doc, settings)
    people = [e for e in out[0].entities if e.label == "PERSON"]
    assert [(doc.text[e.char_start : e.char_end], e.roles) for e in people] == [
        ("Dafydd Rowlands", ("lead inspector",)),
        ("Mair Lloyd", ("head of children's services",)),
    ]


# ---------------------------------------------------------------- Welsh


def test_welsh_statement_is_marked_welsh_and_skips_english_rules(settings):
    out = segment(
        doc_of(
            para(
                "Mae'r cyngor wedi gwneud cynnydd sylweddol yn ei wasanaethau plant eleni.",
                "Sicrhau bod Cyngor Sir Glanmor yn gwario \u00a349, 929 ar bob lleoliad.",
                "The council has made significant progress in its children's services this year.",
            )
        ),
        settings,
    )
    assert [s.language for s in out] == ["cy", "cy", "en"]
    assert [s.kind for s in out] == ["finding", "finding", "finding"]
    assert out[0].entities == () and out[1].entities == ()


def test_welsh_document_short_lines_follow_the_document_language(settings):
    out = segment(
        doc_of(para("Diolch yn fawr, Llywydd.", "Mae'r adroddiad yn glir iawn am y gwaith."), language="cy"), settings
    )
    assert [s.language for s in out] == ["cy", "cy"]


# ---------------------------------------------------------------- the pipeline


def test_lemmas_come_from_the_lookup_lemmatizer(settings):
    out = segment(doc_of(para("Children were placed in emergency placements.")), settings)
    assert "child" in out[0].lemmas.split() and "place" in out[0].lemmas.split()


def test_default_pipeline_needs_no_trained_weights(settings):
    nlp = load_nlp(settings.segmenter_config)
    assert nlp.pipe_names == ["sentences", "language", "lemmatizer", "lemma_case", "entities", "statements"]
    assert not any(getattr(nlp.get_pipe(name), "model", None) for name in nlp.pipe_names)
    assert nlp.get_pipe("entities").trained_pipeline is None


def test_option_uses_a_trained_pipeline_for_entities(tmp_path, settings):
    import dataclasses

    import spacy

    trained = spacy.blank("en")
    trained.add_pipe("entity_ruler").add_patterns([{"label": "PERSON", "pattern": "Zeb Quilliam"}])
    trained.to_disk(tmp_path / "trained")
    blocks = para("The review of the fostering service was led by Zeb Quilliam in the spring.")
    plain = segment(doc_of(blocks), settings)
    assert [e.label for e in plain[0].entities] == []
    with_model = dataclasses.replace(settings, extra={"trained_pipeline": str(tmp_path / "trained")})
    out = segment(doc_of(blocks), with_model)
    assert [(e.label, e.text, e.value) for e in out[0].entities] == [("PERSON", "Zeb Quilliam", "Zeb Quilliam")]
    assert [s.text for s in out] == [s.text for s in plain]


words = st.sampled_from(
    [
        "The",
        "council",
        "Cllr.",
        "Dr.",
        "said",
        "\u201cyes.\u201d",
        "plans",
        "No.",
        "3",
        "e.g.",
        "A.",
        "Bulman",
        "were",
        "late.",
        "Why?",
        "\u00a349,",
        "929",
        "\u2022",
        "-",
        "!",
        "FIRST",
        "PLAN",
        "We",
        "Next",
        "steps",
        "1.1",
        "etc.",
        "\u201cWe",
        "Glanmor",
        "and,",
    ]
)


@hsettings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["paragraph", "list_item", "heading"]),
            st.lists(words, min_size=1, max_size=30).map(" ".join),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_statements_lie_inside_the_text_in_order_without_overlap(blocks):
    from pipeline.config import Settings

    doc = doc_of([RawBlock(kind, text) for kind, text in blocks])
    out = segment(doc, Settings())
    end = 0
    for s in out:
        assert doc.text[s.char_start : s.char_end] == s.text
        assert s.char_start >= end
        for e in s.entities:
            assert s.char_start <= e.char_start < e.char_end <= s.char_end
            assert doc.text[e.char_start : e.char_end] == e.text
        end = s.char_end
    assert [s.seq for s in out] == list(range(len(out)))


@pytest.mark.parametrize("text", ["", "   ", "\u2022", "1.", "...", "\u201c\u201d"])
def test_nothing_to_say_gives_no_statement(settings, text):
    assert texts(para(text), settings) == []


def test_a_table_row_is_one_statement(settings):
    out = segment(
        doc_of([RawBlock("table_row", "Recruit foster carers. | Head of service | March 2021. | Amber")]), settings
    )
    assert [(s.text, s.kind) for s in out] == [
        ("Recruit foster carers. | Head of service | March 2021. | Amber", "recommendation")
    ]


def test_a_bracketed_sentence_is_a_statement_but_a_bracketed_aside_is_not(settings):
    assert texts(
        para("(Translated)", "(Members are reminded that no party whip may be applied to this item.)"), settings
    ) == ["(Members are reminded that no party whip may be applied to this item.)"]
