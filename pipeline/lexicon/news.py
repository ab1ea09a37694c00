"""How a page shows it is news: the publishers and markers in `data/news.toml`, and a news item's shape."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from pipeline.lexicon import DATA_DIR

NEWS = DATA_DIR / "news.toml"
BYLINE = re.compile(r"^(?:by|gan) [A-Z][\w'’-]+(?: [A-Z][\w'’-]+){1,3}\b", re.M)
# A line that is only a date, or a labelled publication date: where a news item or a press release is dated.
DATELINE = re.compile(
    r"^\W*(?:(?:posted|published|created|first published|cyhoeddwyd)(?: on)?:?\s+)?"
    r"(?:(?:\w+day,? )?\d{1,2}(?:st|nd|rd|th)? \w+,? (?:19|20)\d\d\W*$|\d{1,2}/\d{1,2}/(?:19|20)\d\d\b[^\n]{0,12}$)",
    re.M | re.I,
)
ATTRIBUTED = re.compile(
    r"[”\"],? (?:said|added|says|explained|commented) [A-Z]|[A-Z][\w'’-]+,?[^.\n]{0,80} "
    r"(?:said|added|explained|commented):\s*[“\"]|[”\"] meddai\b|medd [A-Z]"
)


@lru_cache(maxsize=1)
def _data() -> dict[str, Any]:
    data = tomllib.loads(NEWS.read_text(encoding="utf-8"))
    data["_publishers"] = {_fold(p) for p in data["publishers"]}
    data["_release"] = re.compile("|".join(rf"\b{p}\b" for p in data["release_phrases"]), re.I)
    data["_paths"] = re.compile("|".join(data["paths"]), re.I)
    data["_outlet"] = re.compile(r"\b(?:" + "|".join(data["outlet_words"]) + r")\b", re.I)
    data["_ending"] = re.compile(r"\S\s+(?:" + "|".join(data["outlet_endings"]) + r")$", re.I)
    data["_not_outlet"] = re.compile(r"\b(?:" + "|".join(data["not_outlets"]) + r")\b", re.I)
    return data


# A copyright line and what it names: "© 2026 Local Newsgroup Ltd. All rights reserved.", "Copyright © 2019-2024
# The Courier", "(c) 2026 Newsquest Media Group". Site furniture is a short line of its own; "(c)" counts only
# before a year, since it also numbers list items ("(c) the council should ...").
_COPYRIGHT_LINE = re.compile(
    r"^[^\n]{0,80}?(?:©|&copy;|\bcopyright\b|\(c\)(?=\s*(?:19|20)\d\d))([^\n]{0,120})$", re.I | re.M
)
_HOLDER_NOISE = re.compile(
    r"©|&copy;|\(c\)|\bcopyright\b|\b(?:19|20)\d\d\b(?:\s*[-–]\s*(?:19|20)?\d\d\b)?|\ball rights\b.*$|"
    r"\b(?:ltd|limited|plc|llp|inc)\b\.?",
    re.I,
)
# A credit for a picture names its photographer or agency, not the site.
_CREDIT = re.compile(r"\b(?:photo(?:graph)?s?|pictures?|images?|pic|credit|llun)\b", re.I)
FURNITURE_LINES = 15  # a text's copyright lines are among its last lines (or its first few)


def copyright_holders(text: str, whole: bool = False) -> list[str]:
    """Who the copyright lines of a text name ("Local Newsgroup"), at most five, each cut at the full stop, bar,
    dash or comma that ends the name (an address may follow it). Only the first 5 and last `FURNITURE_LINES`
    lines are read unless `whole` (lines already known to be the page's furniture); a picture credit, or a
    "name" that starts in lower case or runs past eight words, is no holder."""
    if not whole:
        lines = [line for line in text.splitlines() if line.strip()]
        text = "\n".join(lines[:5] + lines[max(5, len(lines) - FURNITURE_LINES) :])
    out = []
    for m in _COPYRIGHT_LINE.finditer(text):
        if _CREDIT.search(m.group(0)):
            continue
        rest = re.split(r"\.\s|\s[|–-]\s|[|,]", m.group(1), maxsplit=1)[0]
        holder = " ".join(_HOLDER_NOISE.sub(" ", rest).split()).strip(" .,;:")
        if holder and holder[0].isupper() and len(holder.split()) <= 8 and holder.casefold() != "crown":
            out.append(holder)
        if len(out) == 5:
            break
    return out


def news_outlet(names: Iterable[str | None]) -> bool:
    """Does a site name or a copyright holder say it is a news outlet ("Derby Telegraph", "Local Newsgroup",
    "Powys County Times")? Never a name with a public body's, a service's or a provider's words."""
    d = _data()
    for name in names:
        if not name or d["_not_outlet"].search(name):
            continue
        bare = re.sub(r"^the\s+", "", name.strip(), flags=re.I)
        if d["_outlet"].search(bare) or d["_ending"].search(bare):
            return True
    return False


def _fold(name: str) -> str:
    return re.sub(r"\W+", " ", name.casefold()).strip()


def news_publisher(name: str | None = None, url: str | None = None) -> bool:
    """Is this site name or address that of a news organisation on the list?"""
    d = _data()
    if name and _fold(name) in d["_publishers"]:
        return True
    if url:
        host = re.sub(r"^https?://", "", url).split("/")[0].lower().removeprefix("www.")
        return any(host == h or host.endswith("." + h) for h in d["hosts"])
    return False


def news_cues(
    head: str, publisher: str | None, url: str | None, page: dict[str, Any], holders: Iterable[str] = ()
) -> tuple[float, bool]:
    """(score, declared): `declared` when the page says outright it is news (JSON-LD NewsArticle, a news
    publisher on the list, a site name or copyright holder that names a news outlet, a press release's markers);
    the score adds up weaker signs (og:type article, a news section address, a byline, a dateline with attributed
    quotes). `holders`: who the page's copyright lines name (`copyright_holders`)."""
    d = _data()
    if any(t in d["ld_types"] for t in page.get("ld_types") or ()):
        return 0.0, True
    if news_publisher(publisher or page.get("sitename"), url):
        return 0.0, True
    named = [*holders, *(page.get("copyright") or ())]
    if any(news_publisher(name) for name in named) or news_outlet([page.get("sitename"), *named]):
        return 0.0, True  # "© 2026 Community Care" is on the list; "© 2026 Valley Newsgroup" names an outlet
    if d["_release"].search(head):
        return 0.0, True
    score = 0.0
    quotes = len(ATTRIBUTED.findall(head))
    if quotes and (BYLINE.search(head[:1500]) or DATELINE.search(head[:800])):
        # A dated or bylined item that reports what people said: the shape of a news story or a press
        # release. The reports and minutes it is about speak for themselves and quote nobody this way.
        return 0.0, True
    if page.get("og_type") == "article":
        score += 1
    if url and d["_paths"].search(url):
        score += 4
    if BYLINE.search(head[:1500]):
        score += 2
    if DATELINE.search(head[:800]):
        score += 2
    score += min(3, quotes)
    return score, False
