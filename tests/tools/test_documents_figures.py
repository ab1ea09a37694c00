"""tools/documents_figures.py: the renderings it measures on, and its refusal without the shared samples."""

from __future__ import annotations

from tools.documents_figures import html_page, main, paragraphs, pdf_file


def test_paragraphs_split_bulleted_lines_into_items():
    text = "Intro line one\nline two\n\nWe found:\n• first item\n• second item"
    assert paragraphs(text) == ["Intro line one line two", "We found:", "• first item", "• second item"]


def test_the_html_rendering_carries_the_furniture_and_states_a_date_only_when_asked():
    d = {"text": "A paragraph.", "title": "T", "publisher": "P", "language": "en", "date": "2019-01-09"}
    bare, dated = html_page(d, 0, with_date=False), html_page(d, 0, with_date=True)
    assert "© 2026 P. All rights reserved." in bare and "Accept all cookies" in bare
    assert "2019-01-09" not in bare and 'content="2019-01-09T09:30:00+00:00"' in dated


def test_the_pdf_rendering_is_read_back(tmp_path, settings):
    from pipeline.extract import extract
    from pipeline.records import Source

    d = {"text": "\n\n".join(f"Paragraph {n} says the service improved." for n in range(60)), "title": "Report"}
    doc = extract(Source(str(pdf_file(tmp_path / "r.pdf", d))), settings)
    assert doc.page_count and doc.page_count > 1
    assert all(f"Paragraph {n} says" in doc.text for n in range(60))


def test_without_the_shared_samples_it_says_so(tmp_path, capsys):
    assert main(["--shared", str(tmp_path)]) == 2
    assert "corpus-samples is absent" in capsys.readouterr().err
