"""What a document is: title, publisher, type, council, service, date and language.

Known values (from a manifest or `--meta`) always win; the rest is inferred from
the text, the page's own metadata and its address.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import date
from typing import Any

from ..gazetteer import Gazetteer
from ..language import detect_language
from ..records import DOC_TYPES, SERVICES, Block, Metadata

MONTHS = {m: i for i, m in enumerate(
    "january february march april may june july august september october november december".split(), 1)}
MONTHS.update({m[:3]: i for m, i in list(MONTHS.items())})
MONTHS["sept"] = 9
WELSH_MONTHS = {m: i for i, m in enumerate(
    "ionawr chwefror mawrth ebrill mai mehefin gorffennaf awst medi hydref tachwedd rhagfyr".split(), 1)}
_MONTH_RE = "|".join(sorted(list(MONTHS) + list(WELSH_MONTHS), key=len, reverse=True))

LABELLED_DATE = re.compile(
    r"(?:created on|first published:?|published:?|last updated:?|updated:?|date of publication:?|"
    r"cyhoeddwyd gyntaf:?|cyhoeddwyd:?|dyddiad:?|date:|posted on|meeting date:?|meeting:|held on|"
    r"held (?:at|in) [^\n]{0,120}? on)\s*"
    r"(?:\w+day,?\s+)?(?P<d>[^\n]{4,40})", re.I)
DMY = re.compile(rf"\b(?P<day>\d{{1,2}})(?:st|nd|rd|th|af|ed|eg|ain)?\s+(?:of\s+)?(?P<mon>{_MONTH_RE})\.?,?\s+(?P<year>(?:19|20)\d\d)\b", re.I)
MDY = re.compile(rf"\b(?P<mon>{_MONTH_RE})\.?\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<year>(?:19|20)\d\d)\b", re.I)
MY = re.compile(rf"\b(?P<mon>{_MONTH_RE})\s+(?P<year>(?:19|20)\d\d)\b", re.I)
NUMERIC = re.compile(r"\b(?P<day>\d{1,2})[/.](?P<mon>\d{1,2})[/.](?P<year>(?:19|20)\d\d)\b")
ISO = re.compile(r"\b(?P<year>(?:19|20)\d\d)-(?P<mon>\d\d)-(?P<day>\d\d)\b")
URL_DATE = re.compile(r"/(?P<year>(?:19|20)\d\d)[/-](?P<mon>\d\d)(?:[/-](?P<day>\d\d))?(?:[/-]|$)")
URL_SLUG_DATE = re.compile(r"/(?P<yy>\d\d)(?P<mon>[01]\d)(?P<day>[0-3]\d)-[a-z]")

CHILDREN = re.compile(r"\b(children'?s?|child|young people|looked after|care leavers?|fostering|foster carers?|"
                      r"adoption|plant|phlant|blant)\b", re.I)
ADULTS = re.compile(r"\b(adults?'? (?:social care|services)|adult social|older people|care homes?|domiciliary|"
                    r"carers'? assessment|dementia|learning disabilit\w+|hospital discharge|oedolion)\b", re.I)

TYPE_CUES: dict[str, list[tuple[str, float]]] = {
    "inspection_report": [
        (r"\binspection\b", 1), (r"\bwe (?:inspected|found|looked at|saw|reviewed|considered)\b", 2),
        (r"\bour (?:inspection|findings|last inspection|previous inspection)\b", 3), (r"\blead inspector\b", 2),
        (r"\b(?:improvement check|performance evaluation inspection|assurance check|inspection report)\b", 3),
        (r"\bareas? for (?:improvement|development)\b", 2), (r"\bwe will (?:continue to )?monitor\b", 1),
        (r"\b(?:arolygiad|arolygwyr|gwiriad gwella|gwnaethom)\b", 2), (r"\bpriority areas? for (?:improvement|development)\b", 2),
    ],
    "council_minutes": [
        (r"\bminutes\b", 2), (r"\bpresent:", 3), (r"\bapologies\b", 2), (r"\bresolved\b", 1),
        (r"\bdeclarations? of interest\b", 3), (r"\bin the chair\b", 3), (r"\bcommittee\b", 1),
        (r"\bagenda\b", 1), (r"\bmembers (?:noted|asked|were|raised|agreed|considered)\b", 2),
        (r"\b(?:ieListDocuments|mgAi|moderngov)\b", 3), (r"\bcofnodion\b", 3), (r"\bymddiheuriadau\b", 3),
        (r"\bagenda and minutes\b", 4), (r"\bagenda item\b", 2), (r"^minutes:", 3), (r"\bitem\s+\d+\b", 1),
        (r"\bcyfarfod\b", 1), (r"\bpenderfynwyd\b", 2), (r"\bmeeting of the\b", 1), (r"\bcouncillors?\b", 0.5),
    ],
    "council_report": [
        (r"\breport (?:to|of) (?:the )?(?:cabinet|council|committee|portfolio holder)\b", 3),
        (r"\bpurpose of (?:the|this) report\b", 3), (r"\brecommendations? to cabinet\b", 2),
        (r"\bexecutive summary\b", 1), (r"\breason for recommendation\b", 3), (r"\bimpact assessment\b", 1),
    ],
    "improvement_plan": [
        (r"\bimprovement (?:plan|programme|program)\b", 3), (r"\bpriority improvement areas?\b", 3),
        (r"\baction plan\b", 1),
        (r"\bcorporate (?:improvement )?plan\b", 2), (r"\bwell-being objectives\b", 1), (r"\bcynllun gwella\b", 3),
    ],
    "government_statement": [
        (r"\bwritten statement\b", 4), (r"\bcabinet secretary\b", 2), (r"\bminister for\b", 2),
        (r"\bdeputy minister\b", 2), (r"\bwelsh government\b", 1), (r"\bfirst published\b", 1),
        (r"\bdatganiad ysgrifenedig\b", 4), (r"\bysgrifennydd y cabinet\b", 2), (r"\bgweinidog\b", 1),
        (r"\bllywodraeth cymru\b", 1), (r"\bassembly members?\b", 1), (r"\bmembers of the senedd\b", 1),
        (r"^[^\n]{0,80}\b(?:AM|MS|AS),? (?:Deputy )?(?:Minister|Cabinet Secretary)\b", 6),
        (r"^[^\n]{0,80}(?:y Gweinidog|Dirprwy Weinidog|Ysgrifennydd y Cabinet) dros\b", 6),
    ],
    "news": [
        (r"\bcreated on \d", 4), (r"\bby [A-Z][a-z]+ [A-Z][a-z]+,? (?:local democracy )?reporter\b", 4),
        (r"\blocal democracy reporter\b", 4), (r"\b(?:said|added|told)\b", 0.3),
        (r"\b(?:share this article|related stories|most read)\b", 1),
    ],
}
_TYPE_PATTERNS = {t: [(re.compile(p, re.I | re.M), w) for p, w in cues] for t, cues in TYPE_CUES.items()}


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


def _month(name: str) -> int | None:
    n = name.lower().rstrip(".")
    return MONTHS.get(n) or WELSH_MONTHS.get(n) or MONTHS.get(n[:3])


def parse_date(text: str) -> str | None:
    """The first date in `text` as ISO (day precision when the text has it)."""
    best: tuple[int, str] | None = None
    for rx in (DMY, MDY, NUMERIC, ISO, MY):
        m = rx.search(text)
        if not m:
            continue
        g = m.groupdict()
        mon = int(g["mon"]) if g["mon"].isdigit() else _month(g["mon"])
        value = _mk_date(int(g["year"]), mon, int(g["day"]) if g.get("day") else None)
        if value and (best is None or m.start() < best[0]):
            best = (m.start(), value)
    return best[1] if best else None


TODAY = re.compile(rf"\b(?:today|heddiw)\s*\(?\s*(?:\w+day,?\s+)?(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\s+(?P<mon>{_MONTH_RE})\b(?!\s+(?:19|20)\d\d)",
                   re.I)


def all_dates(text: str) -> list[str]:
    found = []
    for rx in (DMY, MDY, NUMERIC, ISO, MY):
        for m in rx.finditer(text):
            g = m.groupdict()
            mon = int(g["mon"]) if g["mon"].isdigit() else _month(g["mon"])
            value = _mk_date(int(g["year"]), mon, int(g["day"]) if g.get("day") else None)
            if value:
                found.append(value)
    return found


def _today_date(text: str) -> str | None:
    """'published today (9 January)': the year is the first one on or after the latest date the text names."""
    m = TODAY.search(text)
    if not m:
        return None
    mon, day = _month(m["mon"]), int(m["day"])
    dates = all_dates(text)
    if not dates or not mon:
        return None
    latest = max(dates)
    year = int(latest[:4])
    candidate = _mk_date(year, mon, day)
    if candidate and candidate[: len(latest)] < latest:
        candidate = _mk_date(year + 1, mon, day)
    return candidate


def infer_published(text: str, hint: str | None, url: str | None) -> str | None:
    head = text[:1500]
    m = LABELLED_DATE.search(head)
    if m:
        found = parse_date(m.group("d"))
        if found:
            return found
    found = _today_date(head)
    if found:
        return found
    if hint:
        found = parse_date(hint) or (hint if re.fullmatch(r"\d{4}(-\d\d){0,2}", hint) else None)
        if found:
            return found
    if url:
        m = URL_DATE.search(url)
        if m:
            return _mk_date(int(m["year"]), int(m["mon"]), int(m["day"]) if m["day"] else None)
        m = URL_SLUG_DATE.search(url)
        if m:
            return _mk_date(2000 + int(m["yy"]), int(m["mon"]), int(m["day"]))
    return parse_date(text[:600])


def infer_doc_type(text: str, title: str | None, publisher: str | None, url: str | None) -> str:
    head = (title or "") + "\n" + text[:4000]
    scores: Counter[str] = Counter()
    for t, patterns in _TYPE_PATTERNS.items():
        for rx, w in patterns:
            n = len(rx.findall(head))
            if n:
                scores[t] += w * min(n, 3)
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
    best, score = scores.most_common(1)[0]
    return best if score >= 3 else "other"


def infer_council(gz: Gazetteer, text: str, title: str | None, url: str | None) -> str | None:
    counts: Counter[str] = Counter()
    for name, n in gz.council_evidence(title or "").items():
        counts[name] += 5 * n
    for name, n in gz.council_evidence(text[:3000]).items():
        counts[name] += n
    for name, n in gz.council_evidence(text[3000:20000]).items():
        counts[name] += 0.3 * n
    if url:
        host = re.sub(r"^https?://", "", url).split("/")[0]
        for name, n in gz.council_evidence(host + " " + host.replace("-", " ").replace(".", " ")).items():
            counts[name] += 3
    if not counts:
        return None
    return counts.most_common(1)[0][0]


def infer_service(text: str) -> str | None:
    sample = text[:20000]
    c, a = len(CHILDREN.findall(sample)), len(ADULTS.findall(sample))
    if c == 0 and a == 0:
        return None
    if c >= 3 * max(a, 1) or (a == 0 and c >= 1):
        return "children"
    if a >= 3 * max(c, 1) or (c == 0 and a >= 1):
        return "adults"
    return "both"


def infer_publisher(gz: Gazetteer, text: str, sitename: str | None, doc_type: str, council: str | None) -> str | None:
    if sitename:
        return gz.canonical(sitename) or sitename
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


def infer_title(blocks: tuple[Block, ...], hint: str | None) -> str | None:
    if hint:
        return " ".join(hint.split())
    for b in blocks[:8]:
        if b.kind == "heading":
            return b.text[:300]
    return blocks[0].text[:200] if blocks else None


def infer_metadata(gz: Gazetteer, text: str, blocks: tuple[Block, ...], found: dict[str, Any],
                   known: dict[str, Any], url: str | None = None) -> Metadata:
    """Combine known values, the format's own metadata (`found`) and inference from the text."""
    url = known.get("url") or url or found.get("url")
    title = known.get("title") or infer_title(blocks, found.get("title"))
    council = gz.canonical(known.get("local_authority"), "council") or known.get("local_authority") \
        or infer_council(gz, text, title, url)
    publisher_hint = known.get("publisher") or (gz.canonical(found.get("sitename")) if found.get("sitename") else None)
    doc_type = known.get("doc_type") or infer_doc_type(text, title, publisher_hint, url)
    if doc_type not in DOC_TYPES:
        doc_type = "other"
    publisher = known.get("publisher") or infer_publisher(gz, text, found.get("sitename"), doc_type, council)
    service = known.get("service") or infer_service(text)
    if service not in SERVICES:
        service = None
    published = known.get("published") or infer_published(text, found.get("published"), url)
    language = known.get("language") or (found.get("lang") if found.get("lang") in ("en", "cy") else None) \
        or detect_language(text[:5000])
    return Metadata(title=title, publisher=publisher, doc_type=doc_type, local_authority=council, service=service,
                    published=str(published) if published else None, language=language,
                    byline=known.get("byline") or found.get("byline"), url=url)
