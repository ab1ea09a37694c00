"""When a document was published, from what it states, never guessed from what it mentions.

The labels and month names live in `pipeline/lexicon/data/dates.toml`. A document names many dates (of
inspections, meetings, earlier reports) and only some of them are its own, and a web page carries dates
that are the site's ("© 2026 ... All rights reserved."). `infer_date` takes the publication date only from
what states it, the most explicit first:

1. a labelled line in the opening ("First published: 15 January 2018", "Created on 04/02/2019 @ 19:19",
   "Cyhoeddwyd: 4 Mai 2023", "Meeting date Thursday, 19 October 2017"); "Last updated" is not a publication;
2. "published today (9 January)": the year is inferred from the other dates;
3. what the format declares: HTML meta (article:published_time, DC.date, citation_publication_date ...),
   JSON-LD datePublished, a labelled <time datetime>, a PDF's creation date when the text agrees with it;
4. a line of the opening that is only a date (a dateline);
5. the source address and the file name (/2018/01/..., /190109-report-..., minutes-2019-03-04.pdf).

Copyright lines are removed before any rule runs. When nothing states the date, `published` stays empty and
`evidence` keeps the best clue for people to read: the latest date the opening names with the words around it
("2017-07: ...we inspected services in July 2017..."), a lone year in the title, or the end of an annual
report's period. Those used to be taken as the date; they were wrong too often to be.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import PurePosixPath

from pipeline.lexicon import DATA_DIR

DATA = DATA_DIR / "dates.toml"
HEAD = 1500  # characters of the opening searched for labelled dates and datelines
OPENING = 3000


@lru_cache(maxsize=1)
def _data() -> dict:
    return tomllib.loads(DATA.read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def english_months() -> dict[str, int]:
    """English month name and three-letter form (and "sept") -> number: the one English month table."""
    out: dict[str, int] = {}
    for i, name in enumerate(_data()["months"]["en"], 1):
        out[name] = out[name[:3]] = i
    out["sept"] = 9
    return out


@lru_cache(maxsize=1)
def months() -> dict[str, int]:
    """Month name (English, Welsh, mutated Welsh, three-letter English) -> number."""
    m = _data()["months"]
    out = dict(english_months())
    for key in ("cy", "cy_mutated"):
        for i, name in enumerate(m[key], 1):
            if name:
                out[name] = i
    return out


def _month_re() -> str:
    return "|".join(sorted(months(), key=len, reverse=True))


@lru_cache(maxsize=1)
def _patterns() -> dict[str, re.Pattern[str]]:
    mon = _month_re()
    ordinal = r"(?:st|nd|rd|th|af|ed|eg|ain|fed|ydd)?"
    labels = _data()["labels"]
    label_re = "|".join([*labels["en"], *labels["cy"], *labels["spanning"]])
    return {
        "DMY": re.compile(
            rf"\b(?P<day>\d{{1,2}}){ordinal}\s+(?:of\s+|o\s+fis\s+)?(?P<mon>{mon})\.?,?\s+"
            rf"(?P<year>(?:19|20)\d\d)\b",
            re.I,
        ),
        "MDY": re.compile(
            rf"\b(?P<mon>{mon})\.?\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<year>(?:19|20)\d\d)\b", re.I
        ),
        "MY": re.compile(rf"\b(?P<mon>{mon})\s+(?P<year>(?:19|20)\d\d)\b", re.I),
        "NUMERIC": re.compile(r"\b(?P<day>\d{1,2})[/.](?P<mon>\d{1,2})[/.](?P<year>(?:19|20)\d\d)\b"),
        "ISO": re.compile(r"\b(?P<year>(?:19|20)\d\d)-(?P<mon>\d\d)-(?P<day>\d\d)(?!\d)"),  # also 2020-02-20T12:00Z
        "LABELLED": re.compile(
            rf"(?:^|(?<=\W))(?:{label_re})\s*(?:\w+day,?\s+|dydd \w+,?\s+)?(?P<d>[^\n]{{4,40}})", re.I | re.M
        ),
        "TODAY": re.compile(
            rf"\b(?:today|heddiw)\s*\(?\s*(?:\w+day,?\s+)?(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\s+"
            rf"(?P<mon>{mon})\b(?!\s+(?:19|20)\d\d)",
            re.I,
        ),
        "ANNUAL": re.compile(
            rf"\b(?:{'|'.join(_data()['annual']['words'])})\b[^.\n]{{0,80}}?"
            r"\b(?P<y1>(?:19|20)\d\d)\s*[-/–]\s*(?P<y2>\d\d(?:\d\d)?)\b",
            re.I,
        ),
    }


def _mk_date(year: int, month: int | None = None, day: int | None = None) -> str | None:
    try:
        if month and day:
            return date(year, month, day).isoformat()
        if month:
            date(year, month, 1)
            return f"{year:04d}-{month:02d}"
        return f"{year:04d}"
    except ValueError:
        return None


def _value(rx: str, m: re.Match[str]) -> str | None:
    g = m.groupdict()
    year = int(g["year"])
    day = int(g["day"]) if g.get("day") else None
    mon = int(g["mon"]) if g["mon"].isdigit() else months().get(g["mon"].lower().rstrip("."))
    value = _mk_date(year, mon, day)
    if value is None and rx == "NUMERIC" and day and mon and mon > 12 >= day:
        value = _mk_date(year, day, mon)  # 03/31/2022: an American month-first date
    return value


def dated_spans(text: str) -> list[tuple[int, int, str]]:
    """Every date written in `text` as (start, end, ISO), longest reading first where forms overlap."""
    found: list[tuple[int, int, str]] = []
    taken: list[tuple[int, int]] = []
    for rx in ("DMY", "MDY", "NUMERIC", "ISO", "MY"):
        for m in _patterns()[rx].finditer(text):
            if any(s <= m.start() < e or s < m.end() <= e for s, e in taken):
                continue  # "May 2018" inside "1 May 2018" is the same date
            value = _value(rx, m)
            if value:
                found.append((m.start(), m.end(), value))
                taken.append((m.start(), m.end()))
    return sorted(found)


def parse_date(text: str) -> str | None:
    """The first date in `text` as ISO (day precision when the text has it)."""
    spans = dated_spans(text)
    return spans[0][2] if spans else None


def day_date(text: str | None) -> str | None:
    """The first date with a day written in `text`, as ISO ("Tuesday, 12th March, 2024 10.00 am", "23/01/2024",
    "2020-02-20T12:00:00Z", "Cyhoeddwyd: 27 Mehefin 2019"): what a listing's date column holds."""
    if not text:
        return None
    return next((v for _, _, v in dated_spans(text) if len(v) == 10), None)


def all_dates(text: str) -> list[str]:
    return [v for _, _, v in dated_spans(text)]


def today_date(text: str) -> str | None:
    """'published today (9 January)': the year is the first one on or after the latest date the text names."""
    m = _patterns()["TODAY"].search(text[:HEAD])
    if not m:
        return None
    mon, day = months().get(m["mon"].lower()), int(m["day"])
    dates = all_dates(text[:HEAD])
    if not dates or not mon:
        return None
    latest = max(dates)
    year = int(latest[:4])
    candidate = _mk_date(year, mon, day)
    if candidate and candidate[: len(latest)] < latest:
        candidate = _mk_date(year + 1, mon, day)
    return candidate


URL_DATE = re.compile(r"/(?P<year>(?:19|20)\d\d)[/-](?P<mon>\d\d)(?:[/-](?P<day>\d\d))?(?:[/-]|$)")
URL_SLUG_DATE = re.compile(r"/(?P<yy>\d\d)(?P<mon>[01]\d)(?P<day>[0-3]\d)-[a-z]")
NAME_ISO = re.compile(r"(?<!\d)(?P<year>(?:19|20)\d\d)[-_.]?(?P<mon>[01]\d)[-_.]?(?P<day>[0-3]\d)(?!\d)")
NAME_SLUG = re.compile(r"(?:^|[-_])(?P<yy>[12]\d)(?P<mon>[01]\d)(?P<day>[0-3]\d)[-_][a-z]")


def address_date(url: str | None) -> str | None:
    """A date in a web address: /2018/01/..., /2018-01-15-..., or a yymmdd- slug (/190109-report-...)."""
    if not url:
        return None
    m = URL_DATE.search(url)
    if m:
        return _mk_date(int(m["year"]), int(m["mon"]), int(m["day"]) if m["day"] else None)
    m = URL_SLUG_DATE.search(url)
    if m:
        return _mk_date(2000 + int(m["yy"]), int(m["mon"]), int(m["day"]))
    return None


def file_name_date(path: str | None) -> str | None:
    """A date in a file's name, read like the last part of an address: minutes-2019-03-04.pdf, 20190304_minutes.pdf,
    or a yymmdd- slug saved from an address (190109-report.html)."""
    if not path:
        return None
    stem = PurePosixPath(str(path).replace("\\", "/")).name.lower()
    m = NAME_ISO.search(stem)
    if m:
        return _mk_date(int(m["year"]), int(m["mon"]), int(m["day"]))
    m = NAME_SLUG.search(stem)
    if m:
        return _mk_date(2000 + int(m["yy"]), int(m["mon"]), int(m["day"]))
    return None


DATE_LINE = re.compile(r"^[\W_]*(?:\w+day,?\s+|dydd \w+,?\s+)?(?P<d>[^\n]{6,40}?)\s*$", re.M)


# A news item's byline row: "By Sam Jones | 12 March 2024", "12 March 2024 · 5 min read".
UPDATED = re.compile(r"\b(?:updated|modified|revised|diweddarwyd|diweddariad)\b", re.I)
ROW_SEPARATOR = re.compile(r"\s+[|·•]\s+|\s*\|\s*")
BYLINE_PART = re.compile(r"^(?:[Bb]y|BY|[Gg]an)\s+[A-Z][\w'’-]+(?:\s+[A-Z][\w'’.-]+){0,3}$")  # a byline: names
READ_PART = re.compile(r"^\d+\s*min(?:ute)?s?\s+read$", re.I)  # a reading time
TIME_PART = re.compile(r"^\d\d?[:.]\d\d\s*(?:[ap]m|gmt|bst)?$", re.I)  # a time, counted only beside one of those


def _only_date(part: str) -> str | None:
    spans = dated_spans(part)
    if len(spans) == 1 and spans[0][1] - spans[0][0] >= len(part.strip()) - 12:
        return spans[0][2]
    return None


def date_line(text: str) -> str | None:
    """A line of the opening that is nothing but a date ("17th October 2017", "• 6 February 2025", "28/01/2026"),
    or a byline row whose other parts are a byline, a reading time or a time ("By Sam Jones | 12 March 2024"):
    the page's own dateline."""
    for m in DATE_LINE.finditer(text[:HEAD]):
        if UPDATED.search(m.group(0)):
            continue  # "Updated 14 March 2024" dates a change, not the page
        found = _only_date(m["d"])
        if found:
            return found
        parts = [p.strip() for p in ROW_SEPARATOR.split(m.group(0).strip(" \t•·|"))]
        if len(parts) > 1:
            read = [(p, _only_date(p)) for p in parts]
            dates = [d for _, d in read if d]
            rest = [p for p, d in read if not d]
            bylined = [p for p in rest if BYLINE_PART.match(p) or READ_PART.match(p)]
            if len(dates) == 1 and bylined and all(p in bylined or TIME_PART.match(p) for p in rest):
                return dates[0]
    return None


LONE_YEAR = re.compile(r"(?<![\d/–-])(?P<year>(?:19|20)\d\d)(?![\d/–-])")
YEAR_RANGE = re.compile(r"\b(?:19|20)\d\d\s*(?:to|-|–|/|i)\s*(?:(?:19|20)?\d\d)\b")


def title_year(titles: tuple[str, ...]) -> str | None:
    """A single year in the title or a top heading ("..., 2021"); a range such as 2017-2020 names a period."""
    for title in titles:
        years = {m["year"] for m in LONE_YEAR.finditer(YEAR_RANGE.sub(" ", title))}
        if len(years) == 1:
            return years.pop()
    return None


def annual_report_year(text: str) -> str | None:
    """ "Annual Report 2020-21" covers a year that ends in 2021: it is published in 2021."""
    m = _patterns()["ANNUAL"].search(text[:OPENING])
    if not m:
        return None
    y1, y2 = int(m["y1"]), m["y2"]
    end = int(y2) if len(y2) == 4 else (y1 // 100) * 100 + int(y2)
    return f"{end:04d}" if 0 < end - y1 <= 1 else None


COPYRIGHT = re.compile(
    r"^[^\n]*(?:©|\(c\)|\bcopyright\b|\bhawlfraint\b|all rights reserved|cedwir pob hawl)[^\n]*$", re.I | re.M
)
# Labels that introduce a date the page states about itself which is not its publication date.
NOT_PUBLICATION = re.compile(r"^(?:last |updated|diweddarwyd)", re.I)


@dataclass(frozen=True)
class DateFinding:
    """The publication date a document states (ISO, possibly partial) and how it states it; when nothing
    states it, `published` is None and `evidence` holds the best clue for people to read."""

    published: str | None
    how: str | None = None  # "labelled line", "meta article:published_time", "address", ...
    evidence: str | None = None


def without_furniture(text: str) -> str:
    """The text without copyright lines: "© 2026 ... All rights reserved." dates the site, not the document."""
    return COPYRIGHT.sub("", text)


def stated_label(text: str) -> tuple[str | None, str | None]:
    """(publication date, last-updated date) from the labelled lines of the opening."""
    updated = None
    for m in _patterns()["LABELLED"].finditer(text[:HEAD]):
        found = parse_date(m.group("d"))
        if not found:
            continue
        if NOT_PUBLICATION.match(m.group(0).strip()):
            updated = updated or found
            continue
        return found, updated
    return None, updated


def evidence_of(text: str, titles: tuple[str, ...] = ()) -> str | None:
    """The best clue to when an undated document was written: the latest date its opening names, with the
    words around it ("2017-07: …we inspected services in July 2017…"), else a year in its title or the end
    of an annual report's period."""
    spans = dated_spans(text[:OPENING])
    if spans:
        s, e, value = max(spans, key=lambda sp: sp[2])
        lo = text.rfind(" ", 0, max(0, s - 40)) + 1 if s > 40 else 0
        hi = text.find(" ", e + 30)
        snippet = " ".join(text[lo : hi if hi > 0 else e + 30].split())
        return f"{value}: …{snippet}…"[:200]
    year = title_year(titles)
    if year:
        return f"{year}: year in the title"
    annual = annual_report_year(text)
    if annual:
        return f"{annual}: end of the annual report's period"
    return None


def infer_date(
    text: str,
    declared: tuple[tuple[str, str], ...] = (),
    url: str | None = None,
    path: str | None = None,
    titles: tuple[str, ...] = (),
) -> DateFinding:
    """The date a document states as its own, the most explicit statement first: a labelled line ("First
    published:", "Cyhoeddwyd:", "Date of meeting"), "published today (9 January)", what the format declares
    (`declared`: (ISO, how) pairs such as HTML meta, JSON-LD, <time>, PDF metadata), a line of the opening
    that is only a date, the address, the file name. Never a copyright year, a lone year or a date the text
    merely mentions: those are kept as evidence."""
    text = without_furniture(text)
    label, updated = stated_label(text)
    if label:
        return DateFinding(label, "labelled line")
    today = today_date(text)
    if today:
        return DateFinding(today, "published today")
    for value, how in declared:
        if value:
            return DateFinding(value, how)
    for rule, how in (
        (lambda: date_line(text), "dateline"),
        (lambda: address_date(url), "address"),
        (lambda: file_name_date(path), "file name"),
    ):
        found = rule()
        if found:
            return DateFinding(found, how)
    evidence = f"{updated}: last updated" if updated else evidence_of(text, titles)
    return DateFinding(None, None, evidence)


def iso_value(value: str | None) -> str | None:
    """A machine-readable date ("2018-04-16T09:30:00+01:00", "2018-04-16", "16/04/2018", "20180416") as ISO."""
    if not value:
        return None
    value = value.strip()
    value = re.sub(r"^D:", "", value)  # a PDF date: D:20190109093000+00'00'
    m = re.match(
        r"((?:19|20)\d\d)-(\d\d)-(\d\d)(?:$|[T\s])|((?:19|20)\d\d)(\d\d)(\d\d)(?:\d{2,6})?(?:$|[T\s+Z'-])", value
    )
    if m:
        y, mo, d = (m[1], m[2], m[3]) if m[1] else (m[4], m[5], m[6])
        return _mk_date(int(y), int(mo), int(d))
    m = re.fullmatch(r"((?:19|20)\d\d)(?:-(\d\d))?", value)
    if m:
        return _mk_date(int(m[1]), int(m[2]) if m[2] else None)
    m = re.match(r"((?:19|20)\d\d)/(\d\d)/(\d\d)\b", value)
    if m:
        return _mk_date(int(m[1]), int(m[2]), int(m[3]))
    return parse_date(value)


def infer_published(
    text: str, hint: str | None = None, url: str | None = None, path: str | None = None, titles: tuple[str, ...] = ()
) -> str | None:
    """The document's publication date (ISO, possibly partial), or None when nothing states it."""
    value = iso_value(hint)
    return infer_date(text, ((value, "declared"),) if value else (), url, path, titles).published
