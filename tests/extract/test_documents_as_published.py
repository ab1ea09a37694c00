"""Documents as they are published: honest dates, news recognised, a damaged text file kept,
speakers found, lists run into one paragraph split. Every page, PDF and text here is written for these tests."""

from __future__ import annotations

import pytest

from pipeline.extract import extract
from pipeline.lexicon.dates import infer_date, iso_value
from pipeline.records import Source

FOOTER = "<footer><p>© 2026 Valley Publishing Ltd. All rights reserved.</p><a href='/privacy'>Privacy</a></footer>"
NEWS_FOOTER = FOOTER.replace("Valley Publishing", "Valley Newsgroup")
BODY = (
    "<p>Inspectors visited the county's children's services in March 2017 and spoke to families, staff and "
    "partner agencies about how referrals are handled.</p>"
    "<p>The council has appointed a new head of service and says waiting times for assessments have fallen "
    "since the visit.</p>"
    "<p>Members of the scrutiny committee will discuss the findings and the council's response next month.</p>"
)


def page(head: str = "", body: str = BODY, before: str = "", footer: str = FOOTER) -> str:
    return f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Report on services | Valley</title>
{head}</head><body>
<div class="cookie-banner"><p>We use cookies to make this site work.</p><button>Accept all cookies</button></div>
<header><nav><ul><li><a href="/">Home</a></li><li><a href="/news">News</a></li><li><a href="/sport">Sport</a></li>
<li><a href="/contact">Contact us</a></li></ul></nav></header>
<main><article><h1>Report on the county's children's services</h1>{before}{body}</article></main>{footer}
</body></html>"""


def read(tmp_path, settings, name: str, content: str | bytes):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return extract(Source(str(path)), settings)


# ---------------------------------------------------------------- dates


def test_a_copyright_footer_gives_no_date_and_the_evidence_is_kept(tmp_path, settings):
    doc = read(tmp_path, settings, "undated.html", page())
    assert doc.metadata.published is None
    assert "2017-03" in (doc.metadata.date_evidence or "")
    assert "2026" not in (doc.metadata.date_evidence or "")


@pytest.mark.parametrize(
    "head, before, how",
    [
        ('<meta property="article:published_time" content="2019-01-09T09:30:00+00:00">', "", "article:published_time"),
        ('<meta name="DC.date" content="2019-01-09">', "", "dc.date"),
        ('<meta name="citation_publication_date" content="2019/01/09">', "", "citation_publication_date"),
        (
            '<script type="application/ld+json">{"@context": "https://schema.org", "@graph": [{"@type": "WebPage", '
            '"datePublished": "2019-01-09T08:00:00Z"}]}</script>',
            "",
            "JSON-LD datePublished",
        ),
        ("", '<p class="meta">Posted <time datetime="2019-01-09">9 Jan</time></p>', "<time datetime>"),
    ],
)
def test_dates_the_page_states_in_its_markup_are_read(tmp_path, settings, head, before, how):
    doc = read(tmp_path, settings, "dated.html", page(head, before=before))
    assert doc.metadata.published == "2019-01-09"
    assert how in doc.metadata.date_evidence


def test_a_time_element_in_the_body_that_names_an_event_is_not_the_publication_date(tmp_path, settings):
    body = BODY + '<p>The committee meets on <time datetime="2019-02-14">14 February</time> to hear more.</p>'
    assert read(tmp_path, settings, "event.html", page(body=body)).metadata.published is None


def test_a_modified_date_alone_is_not_a_publication_date(tmp_path, settings):
    doc = read(tmp_path, settings, "mod.html", page('<meta property="article:modified_time" content="2026-01-05">'))
    assert doc.metadata.published is None


@pytest.mark.parametrize(
    "text, published, evidence",
    [
        (
            "Council news\n\nFirst published:\n9 March 2022\nLast updated:\n\nIn February 2021 the check took place.",
            "2022-03-09",
            "labelled line",
        ),
        ("Cyhoeddwyd: 4 Mai 2023\n\nYn 2019 gwnaethom arolygu'r gwasanaeth.", "2023-05-04", "labelled line"),
        (
            "Report on services\n\nPage last updated: 3 April 2024\n\nWe inspected the service in July 2017.",
            None,
            "last updated",
        ),
        ("Joint review of child protection: Abermaw, 2021\n\nOur findings on partnership working.", None, None),
        ("Council told to improve\nBy Sam Jones | 12 March 2024\n\nInspectors found delays.", "2024-03-12", "dateline"),
        ("Council told to improve\n12 March 2024 · 5 min read\n\nInspectors found delays.", "2024-03-12", "dateline"),
        ("Council told to improve\nBy Sam Jones | Updated 14 March 2024\n\nInspectors found delays.", None, None),
        (
            "Council told to improve\nUpdated 14 March 2024\n\nInspectors found delays in 2023.",
            None,
            "Updated 14 March",
        ),
        ("Cabinet | 12 March 2024 | Agenda item 5\n\nThe report on waiting times.", None, None),
        (
            "Report\n\nWe inspected in July 2017 and followed up in October 2018.\n\n© 2026 Inspectorate. All rights reserved.",
            None,
            "2018-10",
        ),
    ],
)
def test_only_stated_dates_are_publication_dates(text, published, evidence):
    found = infer_date(text, titles=(text.split("\n")[0],))
    assert found.published == published
    if published is None and evidence:
        assert evidence in found.evidence
    if published:
        assert found.how == evidence


def test_a_lone_year_in_the_title_is_evidence_not_a_date():
    found = infer_date(
        "Our findings on partnership working.", titles=("Joint review of child protection: Abermaw, 2021",)
    )
    assert found.published is None and found.evidence.startswith("2021")


@pytest.mark.parametrize(
    "value, iso",
    [
        ("2018-04-16T09:30:00+01:00", "2018-04-16"),
        ("20180416", "2018-04-16"),
        ("2018/04/16", "2018-04-16"),
        ("16 April 2018", "2018-04-16"),
        ("2018-04", "2018-04"),
        ("soon", None),
        ("", None),
    ],
)
def test_machine_readable_dates(value, iso):
    assert iso_value(value) == iso


def test_a_pdf_creation_date_counts_only_when_the_text_agrees(tmp_path, settings):
    from reportlab.pdfgen import canvas

    def pdf(name: str, created: str, text: str):
        path = tmp_path / name
        c = canvas.Canvas(str(path), invariant=1)  # dated D:20000101000000+00'00', replaced below (same length)
        c.drawString(72, 750, "Inspection of children's services")
        c.drawString(72, 720, text)
        c.showPage()
        c.save()
        path.write_bytes(path.read_bytes().replace(b"D:20000101000000+00'00'", created.encode()))
        return extract(Source(str(path)), settings)

    agrees = pdf("agrees.pdf", "D:20190109093000+00'00'", "We inspected the service in October 2018 and met staff.")
    assert agrees.metadata.published == "2019-01-09"
    assert agrees.metadata.title == "Inspection of children's services"  # not reportlab's "untitled"
    re_saved = pdf("resaved.pdf", "D:20260105093000+00'00'", "We inspected the service in October 2018 and met staff.")
    assert re_saved.metadata.published is None
    assert "2018-10" in re_saved.metadata.date_evidence


# ---------------------------------------------------------------- types


@pytest.mark.parametrize(
    "head, before",
    [
        ('<script type="application/ld+json">{"@type": "NewsArticle", "headline": "Report"}</script>', ""),
        ('<meta property="og:site_name" content="Cambrian News">', ""),
        (
            "",
            '<p class="byline">By Nia Pritchard</p><p>Posted on 4 March 2019</p>'
            "<p>“We accept the findings in full,” said Cllr Gwen Parry.</p>",
        ),
        ("", "<p>Notes to editors: the report is on the inspectorate's website.</p>"),
    ],
)
def test_news_is_recognised_from_what_the_page_says_about_itself(tmp_path, settings, head, before):
    assert read(tmp_path, settings, "news.html", page(head, before=before)).metadata.doc_type == "news"


NEWS_STORY = (
    "<p>A county's children's services must improve, inspectors have found, after families waited too long "
    "for assessments.</p>"
    "<p>The council said an improvement plan would go to cabinet next month.</p>"
    "<p>“We accept the findings and are already acting on them,” said Councillor Jane Morris.</p>"
)


def test_a_news_site_is_known_by_its_copyright_holder(tmp_path, settings):
    """No markup, byline or date: the footer's "© 2026 Valley Newsgroup Ltd." says who publishes the page. The
    story's words (an improvement plan, inspectors) do not make it a plan or a report."""
    meta = read(tmp_path, settings, "story.html", page(body=NEWS_STORY, footer=NEWS_FOOTER)).metadata
    assert (meta.doc_type, meta.publisher, meta.published) == ("news", "Valley Newsgroup", None)
    # the same story under a footer that names no outlet is not known as news by it
    assert read(tmp_path, settings, "plain.html", page(body=NEWS_STORY)).metadata.doc_type != "news"


@pytest.mark.parametrize(
    "footer",
    [
        "<footer><!-- site footer -->© 2026 Valley Newsgroup Ltd. All rights reserved.</footer>",
        "<footer><p>Home<br>© 2026 Valley Newsgroup</p></footer>",
        "<div class='site-Footer'><span>Copyright</span> <span>2026</span> <a href='/'>The Valley Courier</a></div>",
        "<div><p>Contact us</p><p>Copyright © 2026 Valley Newsgroup Ltd</p></div>",
        # a trade paper on the publisher list, though "care" keeps other names from counting as outlets
        "<footer><p>© 2026 Community Care</p></footer>",
    ],
)
def test_the_copyright_holder_is_read_however_the_footer_is_marked_up(tmp_path, settings, footer):
    assert read(tmp_path, settings, "story.html", page(body=NEWS_STORY, footer=footer)).metadata.doc_type == "news"


@pytest.mark.parametrize(
    "body, footer",
    [
        # a picture credit in the body names a photographer's paper, not the site
        ("<p>Photo © Daily Post</p>" + NEWS_STORY, FOOTER),
        # a numbered list item with a year is no copyright line
        (BODY + "<p>(c) 2023 Audits show response times fell short.</p>", FOOTER),
        # public bodies and providers whose names carry a paper's word
        (NEWS_STORY, "<footer><p>© 2026 NHS Wales Weekly</p></footer>"),
        (NEWS_STORY, "<footer><p>© Official Journal of the European Union</p></footer>"),
        (NEWS_STORY, "<footer><p>© 2026 Express Care Services Ltd</p></footer>"),
        (NEWS_STORY, "<footer><p>© The Gazette</p></footer>"),
    ],
)
def test_no_sign_of_news_outside_the_footer_or_in_a_public_body_s_name(tmp_path, settings, body, footer):
    assert read(tmp_path, settings, "page.html", page(body=body, footer=footer)).metadata.doc_type != "news"


def test_a_council_copyright_line_is_no_sign_of_news(tmp_path, settings):
    report = page(
        body=BODY.replace("<p>Members", "<p>Recommendation 1: the council should reduce waiting times.</p><p>Members")
    )
    report = report.replace("Valley Newsgroup Ltd", "Northshire County Council")
    assert read(tmp_path, settings, "report.html", report).metadata.doc_type != "news"
    text = (
        "Areas for improvement\n\n(c) the council should publish its news and times of meetings.\n\n© Crown copyright"
    )
    assert read(tmp_path, settings, "items.txt", text).metadata.doc_type != "news"


@pytest.mark.parametrize(
    "line, holders",
    [
        ("© 2026 Local Newsgroup Ltd. All rights reserved.", ["Local Newsgroup"]),
        ("Copyright © 2019-2024 The Courier | Privacy", ["The Courier"]),
        ("(c) 2026 Newsquest Media Group Ltd", ["Newsquest Media Group"]),
        ("(c) the council should publish news", []),
        ("© Crown copyright 2023", []),
    ],
)
def test_copyright_holders(line, holders):
    from pipeline.lexicon.news import copyright_holders

    assert copyright_holders("Home\n" + line + "\n") == holders


def test_an_inspection_report_is_not_news(tmp_path, settings):
    text = (
        "Inspection of children's services\n\nWe inspected the local authority's children's services in "
        "March 2017. Our inspection looked at how referrals are handled.\n\nAreas for improvement\n\n"
        "The local authority should reduce the time taken to complete assessments."
    )
    assert read(tmp_path, settings, "report.txt", text).metadata.doc_type == "inspection_report"


# ---------------------------------------------------------------- damaged text files


def test_a_text_file_with_nul_and_invalid_bytes_is_kept_whole_with_a_warning(tmp_path, settings):
    prose = [
        f"Paragraph {n}: the council’s cabinet reviewed its fostering service and agreed further steps."
        for n in range(30)
    ]
    data = "\n\n".join(prose).encode("utf-8")
    cut = data.index(b"Paragraph 10")
    damaged = data[:cut] + b"\x00\x00\x00" + data[cut : cut + 40] + b"\xff\xfe\xc3" + data[cut + 40 :]
    doc = read(tmp_path, settings, "damaged.txt", damaged)
    assert all(f"Paragraph {n}:" in doc.text for n in range(30))
    assert "\x00" not in doc.text
    assert any("NUL" in n for n in doc.notes) and any("invalid UTF-8" in n for n in doc.notes)


def test_binary_data_named_txt_is_still_refused(tmp_path, settings):
    from pipeline.errors import ExtractionError

    with pytest.raises(ExtractionError, match="binary"):
        read(tmp_path, settings, "blob.txt", bytes(range(256)) * 20)


# ---------------------------------------------------------------- speakers and boundaries

NEWS_PARAGRAPHS = [
    "The cabinet agreed a plan to recruit more foster carers across the county this winter.",
    "“We will act on every recommendation in the report,” said Cllr Mair Pritchard.",
    "“Families deserve better than a waiting list,” said the council's leader, Cllr Dafydd Rowlands.",
    "Gareth Llewellyn, the council's director of social services, said: “Our staff have worked hard. "
    "The report recognises that.”",
    "“We knew there was work to do. We have started it.",
    "“We will not stop until it is done.”",
    "Cllr Sioned Watkin said the report was a fair one.",
    "“We knew the assessments were too slow and we have fixed that.”",
    "“It is a step forward,” according to Professor Huw Bevan of the university.",
]


def test_speakers_in_the_four_quote_patterns(tmp_path, settings):
    from builders import make_news_html

    from pipeline.segment import segment

    doc = extract(Source(str(make_news_html(tmp_path / "n.html", "Council responds", NEWS_PARAGRAPHS))), settings)
    quotes = [s for s in segment(doc, settings) if s.kind == "quote"]

    class Said(dict):
        def __getitem__(self, start):
            return next(s.speaker for s in quotes if s.text.startswith(start))

    said = Said()
    assert said["“We will act on every recommend"] == "Cllr Mair Pritchard"  # "..., said Cllr X"
    assert said["“Families deserve better than "] == "Cllr Dafydd Rowlands"  # said the role, Cllr X
    assert said["Gareth Llewellyn, the council's"] == "Gareth Llewellyn"  # X, the director, said: ...
    assert said["The report recognises that.”"] == "Gareth Llewellyn"  # the quote goes on
    assert said["“We knew there was work to do."] == "Gareth Llewellyn"  # ... over paragraphs
    assert said["We have started it."] == "Gareth Llewellyn"
    assert said["“We will not stop until it is "] == "Gareth Llewellyn"
    assert said["“We knew the assessments were "] == "Cllr Sioned Watkin"  # named in the paragraph before
    assert said["“It is a step forward,” accord"] == "Huw Bevan"


def test_a_list_run_into_one_paragraph_is_split_at_its_bullets(tmp_path, settings):
    from pipeline.segment import segment

    html = page(
        body="<p>Membership of the partnership includes: · Cllr Gwen Parry (Leader) – Chair · Anna "
        "Morgan, director of social services · A representative of the health board. The partnership "
        "meets monthly and reports to cabinet. Its first report is due in June.</p>"
    )
    texts = [s.text for s in segment(read(tmp_path, settings, "list.html", html), settings)]
    assert "Cllr Gwen Parry (Leader) – Chair" in texts
    assert "Anna Morgan, director of social services" in texts
    assert "A representative of the health board." in texts
    assert "The partnership meets monthly and reports to cabinet." in texts


def test_the_bundled_documents_are_typed_without_their_manifest(settings):
    """Read as files alone, as a publisher's pages come, every bundled document gets the type its manifest
    row gives it: the local papers' pages by their copyright lines, the council's news by its markers."""
    import csv
    from pathlib import Path

    corpus = Path(__file__).resolve().parents[2] / "corpus"
    rows = list(csv.DictReader((corpus / "manifest.csv").open(encoding="utf-8")))
    got = {r["path"]: extract(Source(str(corpus / r["path"])), settings).metadata.doc_type for r in rows}
    assert got == {r["path"]: r["doc_type"] for r in rows}
