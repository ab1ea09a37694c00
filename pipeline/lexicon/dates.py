"""When a document was published, from the forms real documents use.

The labels and month names live in `pipeline/data/dates.toml`. The rules are
tried from the most to the least explicit, because a document names many dates
(of inspections, meetings, earlier reports) and only some of them are its own:

1. a labelled date in the opening ("First published: 15 January 2018", "Created on
   04/02/2019 @ 19:19", "Cyhoeddwyd: 4 Mai 2023", "Meeting date Thursday, 19 October 2017");
2. "published today (9 January)": the year is inferred from the other dates;
3. the date the format itself declares (HTML meta); a line of the opening that is only a date;
   the source address and the file name (/2018/01/..., /190109-report-..., minutes-2019-03-04.pdf);
4. the first date in the first lines;
5. a lone year in the title ("Joint inspection: Neath Port Talbot, 2021");
6. the year after an annual report's period ("Annual Report 2020-21" is out in 2021);
7. the latest date named in the opening: a document is published after what it reports.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from datetime import date
from functools import lru_cache
from pathlib import PurePosixPath

from pipeline.lexicon import DATA_DIR

DATA = DATA_DIR / "dates.toml"
HEAD = 1500  # characters of the opening searched for labelled dates and datelines
DATELINE = 600
OPENING = 3000


@lru_cache(maxsize=1)
def _data() -> dict:
    return tomllib.loads(DATA.read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def months() -> dict[str, int]:
    """Month name (English, Welsh, mutated Welsh, three-letter English) -> number."""
    m = _data()["months"]
    out: dict[str, int] = {}
    for i, name in enumerate(m["en"], 1):
        out[name] = out[name[:3]] = i
    out["sept"] = 9
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
        "ISO": re.compile(r"\b(?P<year>(?:19|20)\d\d)-(?P<mon>\d\d)-(?P<day>\d\d)\b"),
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


def all_dates(text: str) -> list[str]:
    return [v for _, _, v in dated_spans(text)]


def labelled_date(text: str) -> str | None:
    """The first date the opening introduces with a label, such as "First published:" or "Cyhoeddwyd:"."""
    for m in _patterns()["LABELLED"].finditer(text[:HEAD]):
        found = parse_date(m.group("d"))
        if found:
            return found
    return None


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


def date_line(text: str) -> str | None:
    """A line of the opening that is nothing but a date ("17th October 2017", "• 6 February 2025", "28/01/2026"):
    the page's own dateline."""
    for m in DATE_LINE.finditer(text[:HEAD]):
        spans = dated_spans(m["d"])
        if len(spans) == 1 and spans[0][1] - spans[0][0] >= len(m["d"].strip()) - 12:
            return spans[0][2]
    return None


def dateline(text: str) -> str | None:
    """The first date in the first lines: where news pages, letters and minutes put their date."""
    return parse_date(text[:DATELINE])


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


def latest_date(text: str) -> str | None:
    """The latest date the opening names: a document is published after the events it reports."""
    dates = all_dates(text[:OPENING])
    return max(dates) if dates else None  # ISO strings sort as dates; "2023-03" sorts before "2023-03-15"


def infer_published(
    text: str, hint: str | None = None, url: str | None = None, path: str | None = None, titles: tuple[str, ...] = ()
) -> str | None:
    """The document's publication date (ISO, possibly partial), by the rules above, most explicit first."""
    rules: tuple[Callable[[], str | None], ...] = (
        lambda: labelled_date(text),
        lambda: today_date(text),
        lambda: (parse_date(hint) or (hint if re.fullmatch(r"\d{4}(-\d\d){0,2}", hint) else None)) if hint else None,
        lambda: date_line(text),
        lambda: address_date(url),
        lambda: file_name_date(path),
        lambda: dateline(text),
        lambda: title_year(titles),
        lambda: annual_report_year(text),
        lambda: latest_date(text),
    )
    for rule in rules:
        found = rule()
        if found:
            return found
    return None
