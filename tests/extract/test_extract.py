from __future__ import annotations

import pytest
from builders import make_docx, make_news_html, make_pdf

from pipeline.errors import ExtractionError, NoText
from pipeline.extract import extract, sniff_format
from pipeline.records import Source, document_id_for

HEADER = "Inspection of Children's Services | Llanfair Bay County Council"
FOOTER = "Test document made by the Scrutiny test suite"


def inspection_pdf(tmp_path):
    pages = [
        [
            ("h1", "Inspection of Children's Services"),
            ("p", "We inspected children's services in Glanmor County Council in September 2017."),
            ("h2", "Summary of findings"),
            (
                "p",
                "Inspectors found that assessments were often late and that plans for children lacked detail. "
                "Senior leaders had not yet set a clear direction for the service.",
            ),
        ],
        [
            ("h2", "Recommendations"),
            ("li", "1. Ensure assessments are completed within statutory timescales."),
            ("li", "2. Develop a workforce strategy to reduce reliance on agency social workers."),
            ("li", "3. The local authority should strengthen management oversight of casework."),
        ],
        [("h2", "Next steps"), ("p", "We will return to review progress within twelve months.")],
    ]
    return make_pdf(tmp_path / "inspection.pdf", pages, header=HEADER, footer=FOOTER)


def test_pdf_drops_running_headers_footers_and_page_numbers(tmp_path, settings):
    doc = extract(Source(str(inspection_pdf(tmp_path))), settings)
    assert doc.format == "pdf" and len(doc.pages) == 3
    assert "Llanfair Bay" not in doc.text  # the running header
    assert FOOTER not in doc.text
    assert "Page 1 of 3" not in doc.text and "Page 2" not in doc.text


def test_pdf_blocks_keep_headings_list_items_and_pages(tmp_path, settings):
    doc = extract(Source(str(inspection_pdf(tmp_path))), settings)
    kinds = [(b.kind, b.text, b.page) for b in doc.blocks]
    assert ("heading", "Inspection of Children's Services", 1) in kinds
    assert ("heading", "Recommendations", 2) in kinds
    items = [t for k, t, p in kinds if k == "list_item"]
    assert items == [
        "1. Ensure assessments are completed within statutory timescales.",
        "2. Develop a workforce strategy to reduce reliance on agency social workers.",
        "3. The local authority should strengthen management oversight of casework.",
    ]
    for b in doc.blocks:  # offsets index the stored text
        assert doc.text[b.char_start : b.char_end] == b.text
    # the wrapped paragraph is one block, not one per line
    para = [t for k, t, p in kinds if t.startswith("Inspectors found")]
    assert para and para[0].endswith("direction for the service.")


def test_pdf_metadata_inferred_from_text(tmp_path, settings):
    doc = extract(Source(str(inspection_pdf(tmp_path))), settings)
    m = doc.metadata
    assert m.doc_type == "inspection_report"
    assert m.local_authority == "Glanmor County Council"
    assert m.service == "children"
    assert m.language == "en"


def test_known_metadata_wins(tmp_path, settings):
    meta = {"local_authority": "Powys", "published": "2017-10-17", "doc_type": "council_report"}
    doc = extract(Source(str(inspection_pdf(tmp_path)), meta), settings)
    assert doc.metadata.local_authority == "Powys County Council"  # canonical name
    assert doc.metadata.published == "2017-10-17"
    assert doc.metadata.doc_type == "council_report"


def test_two_column_pdf_reads_left_column_first(tmp_path, settings):
    left = [("p", f"Left column sentence number {i} talks about early help services in the county.") for i in range(14)]
    right = [
        ("p", f"Right column sentence number {i} talks about foster carer recruitment this year.") for i in range(14)
    ]
    path = make_pdf(tmp_path / "cols.pdf", [left + right], two_columns=True)
    doc = extract(Source(str(path)), settings)
    text = doc.text
    assert text.index("Left column sentence number 13") < text.index("Right column sentence number 0")
    assert "early help services in the county. Right" not in text


def test_pdf_hyphenated_words_rejoined(tmp_path, settings):
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    path = tmp_path / "hyphen.pdf"
    c = canvas.Canvas(str(path), pagesize=A4, invariant=1)
    c.setFont("Helvetica", 10)
    c.drawString(50, 700, "The council agreed a new safe-")
    c.drawString(50, 687, "guarding framework with its partners and the police. Work continues.")
    c.save()
    doc = extract(Source(str(path)), settings)
    assert "safe-guarding framework" not in doc.text
    assert "safeguarding framework with its partners" in doc.text


def test_html_news_keeps_article_and_drops_furniture(tmp_path, settings):
    path = make_news_html(
        tmp_path / "news.html",
        "Council told to improve care for children",
        [
            "Glanmor County Council has been told to improve its children's services after a critical inspection.",
            "\u201cWe accept every recommendation,\u201d said Council Leader Councillor Gwen Parry.",
        ],
    )
    doc = extract(Source(str(path)), settings)
    assert "critical inspection" in doc.text
    lowered = doc.text.lower()
    for furniture in (
        "cookie",
        "follow us",
        "share this",
        "mobile phone link image",
        "related stories",
        "road works",
        "copyright",
        "what's on",
    ):
        assert furniture not in lowered, furniture
    assert doc.metadata.title.startswith("Council told to improve care for children")
    assert doc.metadata.published == "2019-03-12"
    assert doc.metadata.doc_type == "news"


def test_html_declared_encoding_is_honoured(tmp_path, settings):
    html = (
        '<html><head><meta charset="windows-1252"><title>Caf\xe9 report</title></head><body><article>'
        "<p>The caf\xe9 run by the council\u2019s looked after children team opened in Ynys M\xf4n last month "
        "and has since welcomed many families from across the county.</p></article></body></html>"
    )
    path = tmp_path / "cp1252.html"
    path.write_bytes(html.encode("cp1252"))
    doc = extract(Source(str(path)), settings)
    assert "caf\xe9 run by the council\u2019s" in doc.text
    assert doc.metadata.local_authority == "Isle of Anglesey County Council"


def test_docx_headings_and_numbered_lists(tmp_path, settings):
    path = make_docx(
        tmp_path / "minutes.docx",
        [
            ("h1", "Minutes of the Scrutiny Committee"),
            ("p", "Present: Councillor A. Jones (Chair), Councillor B. Evans."),
            ("h2", "Children's services improvement plan"),
            ("p", "Members noted the progress report on the improvement plan."),
            ("num", "Review the caseloads of social workers in the assessment team."),
            ("num", "Report back to the committee in March."),
        ],
        footer="Minutes are draft until approved",
    )
    doc = extract(Source(str(path)), settings)
    assert [b.kind for b in doc.blocks] == ["heading", "paragraph", "heading", "paragraph", "list_item", "list_item"]
    assert doc.blocks[4].text == "1. Review the caseloads of social workers in the assessment team."
    assert doc.blocks[5].text.startswith("2. ")
    assert "draft until approved" not in doc.text
    assert doc.metadata.doc_type == "council_minutes"


def test_plain_text_bullet_on_its_own_line_starts_an_item(tmp_path, settings):
    path = tmp_path / "pasted.txt"
    path.write_text(
        "Priority areas\n\nThe inspectorate set out what needs to change in the coming year.\n\n"
        "\u2022\nImprove the timeliness of assessments.\n\u2022\nStrengthen supervision of staff.\n",
        encoding="utf-8",
    )
    doc = extract(Source(str(path)), settings)
    items = [b.text for b in doc.blocks if b.kind == "list_item"]
    assert items == ["Improve the timeliness of assessments.", "Strengthen supervision of staff."]
    assert "\u2022" not in doc.text


@pytest.mark.parametrize(
    "name,data,reason",
    [
        ("random.pdf", b"\x89\x01\x02 not a pdf at all", "not a PDF"),
        ("truncated.pdf", b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog", "PDF"),
        ("binary.html", b"\x00\x01\x02\x03" * 100, "binary"),
        ("nul.txt", b"\x00\x01\x02\x03binary data named as text" * 8, "binary"),
        ("empty.txt", b"", "empty"),
        ("archive.docx", b"this is not a zip", "not a DOCX"),
    ],
)
def test_bad_files_fail_with_a_clear_reason(tmp_path, settings, name, data, reason):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises((ExtractionError, NoText)) as info:
        extract(Source(str(path)), settings)
    assert reason.lower() in str(info.value).lower()


def test_pdf_without_text_is_a_failure_not_a_silent_success(tmp_path, settings):
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    path = tmp_path / "blank.pdf"
    c = canvas.Canvas(str(path), pagesize=A4, invariant=1)
    c.rect(100, 100, 200, 200, fill=1)
    c.showPage()
    c.save()
    with pytest.raises(NoText, match="no text"):
        extract(Source(str(path)), settings)


def test_document_id_is_sha256_of_bytes(tmp_path, settings):
    path = inspection_pdf(tmp_path)
    doc = extract(Source(str(path)), settings)
    assert doc.id == document_id_for(path.read_bytes())
    assert len(doc.id) == 64


def test_format_is_sniffed_from_bytes_not_name():
    assert sniff_format(b"%PDF-1.7 ...", "report.txt") == "pdf"
    assert sniff_format(b"<!DOCTYPE html><html><body>x</body></html>", "page.txt") == "html"
    with pytest.raises(ExtractionError, match="not a PDF"):
        sniff_format(b"hello", "fake.pdf")


# ---------------------------------------------------------------- hostile and broken input


def test_encrypted_pdf(tmp_path, settings):
    from reportlab.lib import pdfencrypt
    from reportlab.pdfgen import canvas

    path = tmp_path / "locked.pdf"
    c = canvas.Canvas(str(path), encrypt=pdfencrypt.StandardEncryption("secret", canPrint=0))
    c.drawString(100, 700, "Text nobody can read without the password.")
    c.save()
    with pytest.raises(ExtractionError, match="encrypted"):
        extract(Source(str(path)), settings)


def test_page_tree_that_points_to_itself(tmp_path, settings):
    path = tmp_path / "loop.pdf"
    path.write_bytes(
        b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
        b"2 0 obj << /Type /Pages /Kids [2 0 R] /Count 1 >> endobj\n"
        b"trailer << /Root 1 0 R >>\n%%EOF"
    )
    with pytest.raises(ExtractionError, match="broken PDF"):
        extract(Source(str(path)), settings)


def test_decompression_bomb_is_stopped_within_bounds(tmp_path):
    import dataclasses
    import time
    import zlib

    from pipeline.config import Settings

    data = zlib.compress(b"0" * (150 * 2**20), 9)
    path = tmp_path / "bomb.pdf"
    path.write_bytes(
        b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
        b"2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n"
        b"3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >> endobj\n"
        b"4 0 obj << /Length "
        + str(len(data)).encode()
        + b" /Filter /FlateDecode >> stream\n"
        + data
        + b"\nendstream endobj\ntrailer << /Root 1 0 R >>\n%%EOF"
    )
    tight = dataclasses.replace(Settings(), pdf_timeout_s=8, pdf_seconds_per_mb=0, pdf_memory_mb=600)
    started = time.monotonic()
    # PDFium may decode the stream within the caps and find no text on the page; pdfminer ran out of time or
    # memory: either way the file fails with a reason, in bounded time
    with pytest.raises(ExtractionError, match="too large|timed out|parser process died|no text"):
        extract(Source(str(path)), tight)
    assert time.monotonic() - started < 60
    # the reader recovers for the next file
    doc = extract(Source(str(inspection_pdf(tmp_path))), tight)
    assert doc.pages


def test_deeply_nested_html_keeps_its_text(tmp_path, settings):
    path = tmp_path / "deep.html"
    path.write_text(
        "<html><body>" + "<div>" * 20000 + "<p>Supervision of social workers is now monthly and "
        "recorded on every file in the county.</p>" + "</div>" * 20000 + "</body></html>"
    )
    doc = extract(Source(str(path)), settings)
    assert "Supervision of social workers is now monthly" in doc.text


def test_oversized_html_is_refused(tmp_path):
    import dataclasses

    from pipeline.config import Settings

    path = tmp_path / "huge.html"
    path.write_text("<html><body>" + "<p>Words about care.</p>" * 60_000 + "</body></html>")
    with pytest.raises(ExtractionError, match="too large"):
        extract(Source(str(path)), dataclasses.replace(Settings(), max_html_bytes=2**20))


def test_broken_utf8_is_mended_with_a_warning_and_legacy_encoding_is_read(tmp_path, settings):
    broken = tmp_path / "broken.txt"
    broken.write_bytes("The council\u2019s plan was agreed ".encode() + b"\xff\xfe" + b" in June.")
    doc = extract(Source(str(broken)), settings)
    assert "The council\u2019s plan was agreed \ufffd\ufffd in June." in doc.text
    assert doc.notes == ("replaced 2 invalid UTF-8 byte sequences with U+FFFD",)
    legacy = tmp_path / "legacy.txt"
    legacy.write_bytes("The caf\xe9 for care leavers opened in the county last week.".encode("cp1252"))
    assert "caf\xe9 for care leavers" in extract(Source(str(legacy)), settings).text


def scanned_pdf(tmp_path):
    """A two-page PDF: page 1 has a text layer, page 2 is only a picture of text (a scan)."""
    from PIL import Image, ImageDraw, ImageFont
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    image = Image.new("L", (1700, 500), 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=44)
    draw.text((60, 80), "Members agreed the new fostering allowance.", fill=0, font=font)
    draw.text((60, 200), "The committee will meet again in March.", fill=0, font=font)
    path = tmp_path / "scanned.pdf"
    c = canvas.Canvas(str(path), pagesize=A4, invariant=1)
    c.setFont("Helvetica", 11)
    c.drawString(60, 750, "Minutes of the Corporate Parenting Panel held on 3 February 2019.")
    c.showPage()
    c.drawImage(ImageReader(image), 40, 500, width=520, height=153)
    c.showPage()
    c.save()
    return path


def test_scanned_page_is_ocred_and_marked(tmp_path, settings):
    import shutil

    if shutil.which("tesseract") is None:
        pytest.skip("Tesseract is not installed (.ci/run installs Debian's tesseract-ocr)")
    doc = extract(Source(str(scanned_pdf(tmp_path))), settings)
    assert doc.ocr_pages == (2,)  # page 1 has text and is never OCRed
    assert "Corporate Parenting Panel" in doc.text
    assert "fostering allowance" in doc.text and "meet again in March" in doc.text
    assert not doc.notes


def test_scanned_page_without_ocr_is_reported_not_skipped(tmp_path):
    import dataclasses

    from pipeline.config import Settings

    doc = extract(Source(str(scanned_pdf(tmp_path))), dataclasses.replace(Settings(), ocr="off"))
    assert doc.ocr_pages == ()
    assert doc.notes and "page(s) 2 have no text layer" in doc.notes[0]
