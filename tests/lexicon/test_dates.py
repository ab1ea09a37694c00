"""Publication dates from the forms real documents use (texts written for these tests)."""

from __future__ import annotations

import pytest

from pipeline.lexicon.dates import (
    address_date,
    all_dates,
    annual_report_year,
    date_line,
    file_name_date,
    infer_date,
    infer_published,
    parse_date,
    title_year,
)


@pytest.mark.parametrize(
    "text, iso",
    [
        ("12th March, 2024", "2024-03-12"),
        ("Thursday, 29th November, 2018 2.00 pm", "2018-11-29"),
        ("March 12, 2024", "2024-03-12"),
        ("04/02/2019 @ 19:19", "2019-02-04"),
        ("03/31/2022", "2022-03-31"),  # month first, since 31 cannot be a month
        ("2021-06-30", "2021-06-30"),
        ("Sept 2019", "2019-09"),
        ("4 Mai 2023", "2023-05-04"),
        ("14 Chwefror 2018", "2018-02-14"),
        ("ar 31 o fis Mawrth 2018", "2018-03-31"),
        ("ym mis Fehefin 2019", "2019-06"),
        ("31/02/2019", None),
        ("the 2016 to 2021 administration", None),
    ],
)
def test_parse_date_forms(text, iso):
    assert parse_date(text) == iso


def test_overlapping_forms_count_once():
    assert all_dates("held on 1 May 2018 and again in June 2018") == ["2018-05-01", "2018-06"]


@pytest.mark.parametrize(
    "text, iso",
    [
        (
            "Skip to content\n\nAlys Prydderch MS, Minister for Care\n\nFirst published:\n9 March 2022\nLast updated:\n\n"
            "On 3 February 2021 the inspectorate reported.",
            "2022-03-09",
        ),
        ("Cyhoeddwyd: 4 Mai 2023\n\nYn 2019 gwnaethom ...", "2023-05-04"),
        ("Council news\nCreated on 04/02/2019 @ 19:19\nThe council met in January 2018.", "2019-02-04"),
        ("Posted on Wednesday 2nd September 2020\nAn inspection in March 2019 ...", "2020-09-02"),
        (
            "Agenda pack\nMeeting Date Tuesday, 8 October 2019 Shire Hall\nFor information contact 1 October 2019",
            "2019-10-08",
        ),
        (
            "MINUTES OF A MEETING OF THE CABINET HELD AT THE GUILDHALL, ABERMAW ON TUESDAY, 5 MARCH 2019\n"
            "The minutes of 12 February 2019 were signed.",
            "2019-03-05",
        ),
        ("Meeting: 22/09/2020 - Cabinet (Item 8)", "2020-09-22"),
    ],
)
def test_labelled_dates_win_over_other_dates(text, iso):
    assert infer_published(text) == iso


def test_published_today_takes_its_year_from_the_other_dates():
    text = (
        "In October 2018 inspectors visited Abermaw's children's services. Their report is published today "
        "(9 January). A follow-up notice was issued in April 2018."
    )
    assert infer_published(text) == "2019-01-09"
    welsh = "Ym mis Hydref 2018 bu arolygwyr yn ymweld. Mae'r adroddiad yn cael ei gyhoeddi heddiw (9 Ionawr)."
    assert infer_published(welsh) == "2019-01-09"


def test_a_line_that_is_only_a_date_is_the_dateline():
    text = "Council news\n\n• 6 February 2025\n\nThe check took place between 14 and 16 October 2024."
    assert date_line(text) == "2025-02-06"
    assert infer_published(text, path="/archive/250306-check.html") == "2025-02-06"


def test_a_sentence_with_a_date_is_not_a_dateline():
    assert date_line("We inspected the service in July 2017 and again in October 2018.") is None


def test_address_and_file_name_dates():
    assert address_date("https://news.example.wales/2018/01/report-published") == "2018-01"
    assert address_date("https://inspectorate.example/190109-report-on-services") == "2019-01-09"
    assert file_name_date("/data/minutes-2019-03-04.pdf") == "2019-03-04"
    assert file_name_date("/data/20190304_minutes.pdf") == "2019-03-04"
    assert file_name_date("/data/201029-letter-to-council.html") == "2020-10-29"
    assert file_name_date("/data/report-201907544.pdf") is None  # a case number, not a date
    assert file_name_date("/data/123456-notes.txt") is None  # no 34th month
    # the address outranks a date the body mentions in passing
    text = "We inspected services in July 2017 and followed up in October 2018."
    assert infer_published(text, url="https://inspectorate.example/190109-report") == "2019-01-09"


def test_year_in_title_and_annual_reports_are_evidence_not_dates():
    assert title_year(("Joint review of child protection: Abermaw, 2021",)) == "2021"
    assert title_year(("Improvement Programme 2017-2020",)) is None
    assert title_year(("Plan 2017 to 2020",)) is None
    assert annual_report_year("Cyflwynodd yr Arweinydd yr Adroddiad Blynyddol Corfforaethol am 2020-21.") == "2021"
    assert annual_report_year("The Annual Performance Report 2018/19 was noted.") == "2019"
    found = infer_date(
        "Joint review\n\nOur findings on partnership working.",
        titles=("Joint review of child protection: Abermaw, 2021",),
    )
    assert found.published is None and found.evidence == "2021: year in the title"


def test_a_date_the_text_only_mentions_is_evidence_not_the_date():
    text = (
        "1.3 The report covered the work completed between December 2022 and March 2023, with the council's responses."
    )
    found = infer_date("Governance committee item\n\n" + "x " * 400 + text)
    assert found.published is None
    assert found.evidence.startswith("2023-03: …") and "March 2023" in found.evidence


def test_html_meta_date_wins_over_text_dates_but_not_labels():
    assert infer_published("An inspection in May 2018 found ...", hint="2018-08-20") == "2018-08-20"
    assert infer_published("Published: 1 June 2018\nAn inspection in May 2018", hint="2018-08-20") == "2018-06-01"


def test_no_date_gives_none():
    assert infer_published("The council spent two weeks earlier this year reviewing its services.") is None
