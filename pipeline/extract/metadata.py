"""What a document is: title, publisher, type, council, service, date and language.

Known values (from a manifest or `--meta`) always win; the rest is inferred from
the text, the page's own metadata and its address.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from typing import Any

from pipeline.lexicon.councils import Gazetteer, infer_council
from pipeline.lexicon.dates import DateFinding, all_dates, infer_date, iso_value
from pipeline.lexicon.language import detect_language
from pipeline.lexicon.news import copyright_holders, news_cues
from pipeline.lexicon.services import infer_service
from pipeline.records import DOC_TYPES, SERVICES, Block, Metadata

TYPE_CUES: dict[str, list[tuple[str, float]]] = {
    "inspection_report": [
        (r"\binspection\b", 1),
        (r"\bwe (?:inspected|found|looked at|saw|reviewed|considered)\b", 2),
        (r"\bour (?:inspection|findings|last inspection|previous inspection)\b", 3),
        (r"\blead inspector\b", 2),
        (r"\b(?:improvement check|performance evaluation inspection|assurance check|inspection report)\b", 3),
        (r"\bareas? for (?:improvement|development)\b", 2),
        (r"\bwe will (?:continue to )?monitor\b", 1),
        (r"\b(?:arolygiad|arolygwyr|gwiriad gwella|gwnaethom)\b", 2),
        (r"\bpriority areas? for (?:improvement|development)\b", 2),
    ],
    "council_minutes": [
        (r"\bminutes\b", 2),
        (r"\bpresent:", 3),
        (r"\bapologies\b", 2),
        (r"\bresolved\b", 1),
        (r"\bdeclarations? of interest\b", 3),
        (r"\bin the chair\b", 3),
        (r"\bcommittee\b", 1),
        (r"\bagenda\b", 1),
        (r"\bmembers (?:noted|asked|were|raised|agreed|considered)\b", 2),
        (r"\b(?:ieListDocuments|mgAi|moderngov)\b", 3),
        (r"\bcofnodion\b", 3),
        (r"\bymddiheuriadau\b", 3),
        (r"\bagenda and minutes\b", 4),
        (r"\bagenda item\b", 2),
        (r"^minutes:", 3),
        (r"\bitem\s+\d+\b", 1),
        (r"\bcyfarfod\b", 1),
        (r"\bpenderfynwyd\b", 2),
        (r"\bmeeting of the\b", 1),
        (r"\bcouncillors?\b", 0.5),
    ],
    "council_report": [
        (r"\breport (?:to|of) (?:the )?(?:cabinet|council|committee|portfolio holder)\b", 3),
        (r"\bpurpose of (?:the|this) report\b", 3),
        (r"\brecommendations? to cabinet\b", 2),
        (r"\bexecutive summary\b", 1),
        (r"\breason for recommendation\b", 3),
        (r"\bimpact assessment\b", 1),
    ],
    "improvement_plan": [
        (r"\bimprovement (?:plan|programme|program)\b", 3),
        (r"\bpriority improvement areas?\b", 3),
        (r"\baction plan\b", 1),
        (r"\bcorporate (?:improvement )?plan\b", 2),
        (r"\bwell-being objectives\b", 1),
        (r"\bcynllun gwella\b", 3),
    ],
    "government_statement": [
        (r"\bwritten statement\b", 4),
        (r"\bcabinet secretary\b", 2),
        (r"\bminister for\b", 2),
        (r"\bdeputy minister\b", 2),
        (r"\bwelsh government\b", 1),
        (r"\bfirst published\b", 1),
        (r"\bdatganiad ysgrifenedig\b", 4),
        (r"\bysgrifennydd y cabinet\b", 2),
        (r"\bgweinidog\b", 1),
        (r"\bllywodraeth cymru\b", 1),
        (r"\bassembly members?\b", 1),
        (r"\bmembers of the senedd\b", 1),
        (r"^[^\n]{0,80}\b(?:AM|MS|AS),? (?:Deputy )?(?:Minister|Cabinet Secretary)\b", 6),
        (r"^[^\n]{0,80}(?:y Gweinidog|Dirprwy Weinidog|Ysgrifennydd y Cabinet) dros\b", 6),
        # The minister's byline under the title: "Jane Jones MS, Minister for ..." or
        # "Jane Jones AC, Y Dirprwy Weinidog ..."
        (
            r"^[A-Z][\w'’-]+(?: [A-Z][\w'’-]+){1,3},? (?:(?:AM|MS|AC|AS),? )?(?:the )?(?:Deputy )?"
            r"(?:Minister|Cabinet Secretary) for\b",
            6,
        ),
        (
            r"^[A-Z][\w'’-]+(?: [A-Z][\w'’-]+){1,3},? (?:AC|AS),? [Yy] (?:Dirprwy )?(?:Weinidog|Gweinidog|Ysgrifennydd)\b",
            6,
        ),
        (r"\b(?:a |the )?statement by the (?:deputy )?(?:minister|cabinet secretary|first minister)\b", 4),
        (r"\bdatganiad gan y (?:Dirprwy )?(?:Weinidog|Gweinidog|Ysgrifennydd|Prif Weinidog)\b", 4),
    ],
    # A legislature's record of proceedings (a debate, questions) is none of our types: it is "other".
    "proceedings": [
        (r"\brecord of proceedings\b", 4),
        (r"\bcofnod y trafodion\b", 4),
        (r"\bplenary\b", 2),
        (r"\by cyfarfod llawn\b", 2),
        (r"\b(?:deputy )?presiding officer\b", 3),
        (r"\by (?:dirprwy )?lywydd\b", 3),
        (r"\btheyworkforyou\b", 4),
        (r"\bquestions? to the (?:first minister|minister|cabinet secretary)\b", 3),
        (r"\bcwestiynau i'r\b", 3),
        (r"\b(?:hansard|official report)\b", 2),
    ],
    "news": [
        (r"\bcreated on \d", 4),
        (r"\bby [A-Z][a-z]+ [A-Z][a-z]+,? (?:local democracy )?reporter\b", 4),
        (r"\blocal democracy reporter\b", 4),
        (r"\b(?:said|added|told)\b", 0.3),
        (r"\b(?:share this article|related stories|most read)\b", 1),
    ],
}
_TYPE_PATTERNS = {t: [(re.compile(p, re.I | re.M), w) for p, w in cues] for t, cues in TYPE_CUES.items()}


def infer_doc_type(
    text: str,
    title: str | None,
    publisher: str | None,
    url: str | None,
    page: dict[str, Any] | None = None,
    holders: Sequence[str] | None = None,
) -> str:
    """The document's type from what it says about itself (a news page's markup, a news publisher, a press
    release's notes to editors, a dated item quoting people) and from its structure; "other" when nothing fits.
    `holders`: who the text's copyright lines name, when the caller has read them already."""
    head = (title or "") + "\n" + text[:4000]
    scores: dict[str, float] = defaultdict(float)  # cue weights are not whole numbers
    for t, patterns in _TYPE_PATTERNS.items():
        for rx, w in patterns:
            n = len(rx.findall(head))
            if n:
                scores[t] += w * min(n, 3)
    holders = copyright_holders(text) if holders is None else holders  # the text's own copyright lines
    news, declared = news_cues(head, publisher, url, page or {}, holders)
    if declared:  # a news report about an inspection is news, however often it says "inspection"
        return "news"
    scores["news"] += news
    if publisher in ("Care Inspectorate Wales", "Healthcare Inspectorate Wales"):
        scores["inspection_report"] += 2
    if publisher == "Welsh Government":
        scores["government_statement"] += 2
    if url and re.search(r"moderngov|/ie(?:List|Issue)|/mgAi|democracy|democratiaeth|committeemeetings", url, re.I):
        scores["council_minutes"] += 4
    if title and re.search(r"\bminutes\b|\bcofnodion\b", title, re.I):
        scores["council_minutes"] += 3
    if not scores:
        return "other"
    best, score = max(scores.items(), key=lambda kv: kv[1])  # the first of equals, as most_common
    return best if score >= 3 and best != "proceedings" else "other"


def infer_publisher(
    gz: Gazetteer, text: str, sitename: str | None, doc_type: str, council: str | None, holders: Sequence[str] = ()
) -> str | None:
    """The site's name; else for news the copyright holder (the newsgroup); else what the type implies."""
    if sitename:
        return gz.canonical(sitename) or sitename
    if doc_type == "news" and holders:  # the last: the footer's, after any in the opening lines
        return gz.canonical(holders[-1]) or holders[-1]
    head = text[:800]
    if doc_type == "inspection_report":
        for m in gz.find(head):
            if m.body.kind == "inspectorate":
                return m.body.name
        return "Care Inspectorate Wales"
    if doc_type == "government_statement":
        return "Welsh Government"
    if doc_type in ("council_minutes", "council_report", "improvement_plan"):
        return council
    return None


# Titles that PDF and Word writers fill in by themselves: they name the software or the file, not the document.
PLACEHOLDER_TITLE = re.compile(
    r"^(?:untitled(?: document)?|no title|title|document\d*|slide \d+|microsoft (?:word|powerpoint) - .*|"
    r".*\.(?:docx?|pdf|pptx?|rtf|odt))$",
    re.I,
)


def infer_title(blocks: tuple[Block, ...], hint: str | None) -> str | None:
    """The title the document's metadata gives, unless its writer filled it in by itself; else the first
    heading, else the opening words."""
    if hint and not PLACEHOLDER_TITLE.match(" ".join(hint.split())):
        return " ".join(hint.split())
    for b in blocks[:8]:
        if b.kind == "heading":
            return b.text[:300]
    return blocks[0].text[:200] if blocks else None


FILE_DATE_SPAN_DAYS = 366  # a document is out within a year of the latest event its opening names


def declared_dates(text: str, found: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """Dates the format states: the page's markup (`found["dates"]`, already (ISO, how)), and a PDF's or a Word
    file's creation date. A file's creation date is often that of a later re-save or conversion, so it is taken
    only when the text agrees: it falls on or after the latest date the opening names, and within a year of it."""
    out = list(found.get("dates") or ())
    created = iso_value(str(found.get("created") or ""))
    if created and len(created) == 10:
        named = [d for d in all_dates(text[:3000]) if len(d) >= 7]
        latest = max(named) if named else None
        if latest and latest[:7] <= created[:7]:
            gap = date.fromisoformat(created) - date.fromisoformat((latest + "-01")[:10])
            if gap.days <= FILE_DATE_SPAN_DAYS:
                out.append((created, "file metadata (created)"))
    return tuple(out)


def infer_metadata(
    gz: Gazetteer,
    text: str,
    blocks: tuple[Block, ...],
    found: dict[str, Any],
    known: dict[str, Any],
    url: str | None = None,
    path: str | None = None,
) -> Metadata:
    """Combine known values, the format's own metadata (`found`) and inference from the text."""
    url = known.get("url") or url or found.get("url")
    title = known.get("title") or infer_title(blocks, found.get("title"))
    council = (
        gz.canonical(known.get("local_authority"), "council")
        or known.get("local_authority")
        or infer_council(gz, text, title, url)
    )
    publisher_hint = known.get("publisher") or (gz.canonical(found.get("sitename")) if found.get("sitename") else None)
    holders = copyright_holders(text)
    doc_type = known.get("doc_type") or infer_doc_type(
        text, title, publisher_hint or found.get("sitename"), url, found, holders
    )
    if doc_type not in DOC_TYPES:
        doc_type = "other"
    publisher = known.get("publisher") or infer_publisher(
        gz, text, found.get("sitename"), doc_type, council, found.get("copyright") or holders
    )
    service = known.get("service") or infer_service(text)
    if service not in SERVICES:
        service = None
    titles = tuple([title or ""] + [b.text for b in blocks[:8] if b.kind == "heading"])
    if known.get("published"):
        dating = DateFinding(str(known["published"]), "given")
    else:
        dating = infer_date(found.get("lines") or text, declared_dates(text, found), url, path, titles)
    language = (
        known.get("language")
        or (found.get("lang") if found.get("lang") in ("en", "cy") else None)
        or detect_language(text[:5000])
    )
    return Metadata(
        title=title,
        publisher=publisher,
        doc_type=doc_type,
        local_authority=council,
        service=service,
        published=dating.published,
        date_evidence=f"stated: {dating.how}" if dating.published else dating.evidence,
        language=language,
        byline=known.get("byline") or found.get("byline"),
        url=url,
    )
