"""Entity rules and people: pure functions over text (every sentence here was written for the tests)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.records import Entity, Statement
from pipeline.segment.entities import Role, _role_gate, load_rules, parse_date, parse_money
from pipeline.segment.people import (
    Person,
    bare_name,
    given_compatible,
    merge_people,
    name_similarity,
    normalise_person,
    people_from,
    split_name,
)


def found(text: str) -> list[tuple[str, str, str, tuple[str, ...]]]:
    return [(f.label, text[f.start : f.end], f.value, f.roles) for f in load_rules().find(text)]


# ---------------------------------------------------------------- values


@pytest.mark.parametrize(
    "text, value",
    [
        ("\u00a349, 929", 49929),
        ("\u00a349,929", 49929),
        ("\u00a334, 822", 34822),
        ("\u00a32.1 million", 2_100_000),
        ("\u00a31.5m", 1_500_000),
        ("\u00a3500k", 500_000),
        ("\u00a33bn", 3_000_000_000),
        ("\u00a312.50", 12.5),
        ("\u00a3 750", 750),
        ("no money here", None),
    ],
)
def test_parse_money(text, value):
    assert parse_money(text) == value


@pytest.mark.parametrize(
    "text, iso",
    [
        ("17th October 2017", "2017-10-17"),
        ("17 October 2017", "2017-10-17"),
        ("October 17, 2017", "2017-10-17"),
        ("Thursday 29th November 2018", "2018-11-29"),
        ("October 2018", "2018-10"),
        ("Thursday (October 19)", "--10-19"),
        ("on 3 Sept. 2019", "2019-09-03"),
        ("04/02/2019", "2019-02-04"),
        ("the year 2019", None),
        ("May we", None),
    ],
)
def test_parse_date(text, iso):
    assert parse_date(text) == iso


# ---------------------------------------------------------------- names


def test_names_are_normalised():
    assert normalise_person("Councillor  Gwen Parry") == "Cllr Gwen Parry"
    assert normalise_person("Dr. Sian Howells") == "Dr Sian Howells"
    assert bare_name("Cllr. A. Bulman's") == "A Bulman"
    assert bare_name("County Councillor J.R. Cole") == "J R Cole"
    assert bare_name("Mr Michael Holding") == "Michael Holding"
    assert split_name("Alison Bulman") == split_name("Cllr Alison Bulman")
    assert split_name("A Bulman").initials == "A" and split_name("A Bulman").given is None
    assert split_name("Cllr Vaughan").surname == "Vaughan"


def test_given_names_that_can_be_one_person():
    assert given_compatible("Ali", "Alison")  # a known short form
    assert given_compatible("Chris", "Christopher")  # a clear abbreviation
    assert given_compatible("Dai", "David")
    assert not given_compatible("Denis", "Denise")  # one letter apart: a misspelling or another person
    assert not given_compatible("Jan", "Jane")
    assert not given_compatible("Alison", "Andrew")


def test_name_similarity():
    assert name_similarity("Denise Moultie", "Denise Moultrie") > 0.9
    assert name_similarity("Cllr Gwen Parry", "Gwen Parry") == 1.0
    assert name_similarity("Gwen Parry", "Huw Jenkins") < 0.5


# ---------------------------------------------------------------- rules


def test_people_with_roles():
    assert found("Labour Group Leader, Elwyn Madoc (Llanfair), said the plan was late.") == [
        ("PERSON", "Elwyn Madoc", "Elwyn Madoc", ("group leader",))
    ]
    assert found("Council Leader Councillor Gwen Parry opened the meeting.") == [
        ("PERSON", "Councillor Gwen Parry", "Gwen Parry", ("councillor", "leader of the council"))
    ]
    assert found("The report was presented by the lead inspector, Dafydd Rowlands.") == [
        ("PERSON", "Dafydd Rowlands", "Dafydd Rowlands", ("lead inspector",))
    ]
    assert found(
        "A new director of social services, Alison Prydderch, and a head of children\u2019s "
        "services, Jan Morris, were appointed."
    ) == [
        ("PERSON", "Alison Prydderch", "Alison Prydderch", ("director of social services",)),
        ("PERSON", "Jan Morris", "Jan Morris", ("head of children's services",)),
    ]
    assert found("Carys Pryce MS, Deputy Minister for Social Services, visited the team.") == [
        ("PERSON", "Carys Pryce", "Carys Pryce", ("member of the senedd", "deputy minister"))
    ]
    assert found("The Minister for Children, Huw Penri, wrote to the council.") == [
        ("PERSON", "Huw Penri", "Huw Penri", ("minister",))
    ]


ROLE_WORDS = [
    "group",
    "leader",
    "of",
    "the",
    "Labour",
    "council",
    "county",
    "deputy",
    "director",
    "social",
    "services",
    "interim",
    "chief",
    "executive",
    "inspector",
    "lead",
    "vice-chair",
    "chairman",
    "Cllr.",
    "s151",
    "officer",
    "leadership",
    "directorate",
    "children's",
    "head",
    "reporter",
    "-",
    ",",
    "said",
]


@given(st.lists(st.sampled_from(ROLE_WORDS), max_size=12))
def test_the_role_gate_passes_exactly_the_sentences_each_role_matches(words):
    """find_roles tries the roles only after one pass of a gate built from them: for every role, a gate made of
    that role alone must pass exactly the sentences the role's own pattern matches, or its mentions are lost (or
    looked for in vain)."""
    rules = load_rules()
    text = " ".join(words)
    for role in rules.roles:
        assert bool(_role_gate([role]).search(text)) == bool(role.pattern.search(text)), (role.name, text)
    assert bool(rules._any_role.search(text)) == any(r.pattern.search(text) for r in rules.roles)


@pytest.mark.parametrize(
    "text, role",
    [
        ("The Labour group leader spoke.", "group leader"),
        ("the Plaid Cymru group leader", "group leader"),
        ("leader of the Independent group", "group leader"),
        ("Its leadership was weak.", None),
        ("The directorate grew.", None),
        ("The officers met.", None),
        ("an interim director of social services", "director of social services"),
    ],
)
def test_the_role_gate_on_sentences(text, role):
    rules = load_rules()
    matched = {r.name for r in rules.roles if r.pattern.search(text)}
    assert (role in matched) if role else not matched
    for r in rules.roles:
        assert bool(_role_gate([r]).search(text)) == (r.name in matched), r.name


def test_a_role_pattern_made_otherwise_is_gated_as_it_is():
    import re

    loose = Role("officer", re.compile("officer", re.I), (), ())  # no whole-word test of its own
    assert _role_gate([loose]).search("The officers met.")


def test_roles_need_an_apposition():
    assert found("Alison Prydderch, who was appointed by Cllr Gwen Parry, spoke first.") == [
        ("PERSON", "Alison Prydderch", "Alison Prydderch", ()),
        ("PERSON", "Cllr Gwen Parry", "Gwen Parry", ("councillor",)),
    ]
    assert found("Tomos Ellis (former Director of Social Services) chairs the board.") == [
        ("PERSON", "Tomos Ellis", "Tomos Ellis", ())
    ]


def test_initials_titles_and_lists_of_councillors():
    assert found("Apologies were received from County Councillors S C Davies, D E Price and J Gibson-Watt.") == [
        ("PERSON", "County Councillors S C Davies", "S C Davies", ("councillor",)),
        ("PERSON", "D E Price", "D E Price", ("councillor",)),
        ("PERSON", "J Gibson-Watt", "J Gibson-Watt", ("councillor",)),
    ]
    assert found("The letter was signed by A Bulman and by A. Bulman.") == [
        ("PERSON", "A Bulman", "A Bulman", ()),
        ("PERSON", "A. Bulman", "A Bulman", ()),
    ]
    assert found("A warm welcome was extended to Mr. Dafydd Rowlands.") == [
        ("PERSON", "Mr. Dafydd Rowlands", "Dafydd Rowlands", ())
    ]


def test_names_next_to_speech_verbs():
    assert found("\u201cWe will do better,\u201d said Zeb Quilliam.") == [
        ("PERSON", "Zeb Quilliam", "Zeb Quilliam", ())
    ]
    assert found("Priority Improvement Area A covers leadership.") == []


def test_bodies_places_money_and_percentages():
    assert found("Care Inspectorate Wales (CIW) wrote to Glanmor County Council and Powys Teaching Health Board.") == [
        ("ORG", "Care Inspectorate Wales", "Care Inspectorate Wales", ()),
        ("ORG", "CIW", "Care Inspectorate Wales", ()),
        ("COUNCIL", "Glanmor County Council", "Glanmor County Council", ()),
        ("ORG", "Powys Teaching Health Board", "Powys Teaching Health Board", ()),
    ]
    assert found("Children in Afonwy cost \u00a349, 929 each, 12.5% more than the WLGA expected.") == [
        ("PLACE", "Afonwy", "Afonwy County Borough Council", ()),
        ("MONEY", "\u00a349, 929", "49929", ()),
        ("PERCENT", "12.5%", "12.5", ()),
        ("ORG", "WLGA", "Welsh Local Government Association", ()),
    ]
    assert found("The cost rose by \u00a32.1 million in 2019 to 20 per cent of the budget.") == [
        ("MONEY", "\u00a32.1 million", "2100000", ()),
        ("PERCENT", "20 per cent", "20", ()),
    ]


def test_a_person_named_like_a_health_board_is_the_board():
    assert found("Aneurin Bevan University Health Board has agreed the plan.") == [
        ("ORG", "Aneurin Bevan University Health Board", "Aneurin Bevan University Health Board", ())
    ]


@given(
    st.text(alphabet=st.sampled_from(list("Cllr A. Bulman, said \u00a349, 929 12.5% May 2019 of the ")), max_size=80)
)
def test_entities_lie_inside_the_text(text):
    for f in load_rules().find(text):
        assert 0 <= f.start < f.end <= len(text)


# ---------------------------------------------------------------- people


def test_name_variants_are_one_person():
    people = merge_people(
        [
            ("Ali Bulman", ("director of social services",)),
            ("Alison Bulman", ()),
            ("A Bulman", ()),
            ("Cllr. A. Bulman", ()),
        ]
    )
    assert people == [
        Person(
            name="Alison Bulman",
            variants=("A Bulman", "Ali Bulman", "Alison Bulman"),
            roles=("director of social services",),
            probable_variants=(),
            mentions=4,
        )
    ]


def test_a_near_misspelling_is_flagged_not_merged_nor_silently_split():
    people = merge_people([("Denise Moultrie", ("lead inspector",)), ("Denise Moultrie", ()), ("Denise Moultie", ())])
    assert [(p.name, p.probable_variants) for p in people] == [
        ("Denise Moultrie", (("Denise Moultie", 0.966),)),
        ("Denise Moultie", (("Denise Moultrie", 0.966),)),
    ]
    people = merge_people([("Denis Moultrie", ()), ("Denise Moultrie", ())])
    assert len(people) == 2 and all(p.probable_variants for p in people)


def test_surname_or_initial_joins_the_only_person_it_can_be():
    people = merge_people([("Elwyn Madoc", ("group leader",)), ("Cllr Madoc", ("councillor",))])
    assert [(p.name, p.roles, p.display) for p in people] == [
        ("Elwyn Madoc", ("group leader", "councillor"), "Cllr Elwyn Madoc")
    ]
    # two Bulmans whose names start with A: "A Bulman" could be either, so it stays apart and is flagged
    people = merge_people([("Alison Bulman", ()), ("Andrew Bulman", ()), ("A Bulman", ())])
    initial = next(p for p in people if p.name == "A Bulman")
    assert {name for name, _ in initial.probable_variants} == {"Alison Bulman", "Andrew Bulman"}
    # different people who share a surname stay apart, and are not flagged
    people = merge_people([("Gwen Parry", ()), ("Huw Parry", ())])
    assert len(people) == 2 and not any(p.probable_variants for p in people)


def test_people_from_statements_use_entities_and_speakers():
    def statement(seq, text, speaker=None, entities=()):
        return Statement(
            document_id="d" * 64,
            seq=seq,
            text=text,
            char_start=seq * 100,
            char_end=seq * 100 + len(text),
            page=None,
            heading=None,
            kind="quote" if speaker else "finding",
            speaker=speaker,
            language="en",
            entities=entities,
        )

    statements = [
        statement(
            0,
            "The director, Ali Bulman, spoke.",
            entities=(Entity("PERSON", "Ali Bulman", 14, 24, "Ali Bulman", ("director of social services",)),),
        ),
        statement(1, "\u201cWe will improve,\u201d she said.", speaker="Alison Bulman"),
        statement(
            2,
            "Cllr Madoc asked a question.",
            entities=(Entity("PERSON", "Cllr Madoc", 200, 210, "Madoc", ("councillor",)),),
        ),
    ]
    people = people_from(statements)
    assert [(p.name, p.variants, p.roles, p.mentions) for p in people] == [
        ("Alison Bulman", ("Ali Bulman", "Alison Bulman"), ("director of social services",), 2),
        ("Madoc", ("Madoc",), ("councillor",), 1),
    ]


def test_values_of_entities_found_by_other_means():
    from pipeline.segment.entities import normalise_value

    assert normalise_value("PERSON", "Councillor Gwen Parry's") == "Gwen Parry"
    assert normalise_value("DATE", "14 March 2021") == "2021-03-14"
    assert normalise_value("MONEY", "\u00a349, 929") == "49929"
    assert normalise_value("PERCENT", "12.5 per cent") == "12.5"
    assert normalise_value("ORG", "Barnardo's") == "Barnardo's"
