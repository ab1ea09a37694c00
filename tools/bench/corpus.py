"""The benchmark corpus: realistic documents generated from a seed into build/bench/corpus.

Document i depends only on the seed and i, so the 100-document corpus is the
first tenth of the 1,000-document one and a larger scale only adds files. Each
council has inspection rounds (children's services in 2015, 2018, 2021, 2024;
adult services a year later) whose issues carry over from round to round in new
words; the documents around a round talk about those issues:

- inspection reports (PDF, 10-40 pages): cover, contents, summary, a Welsh
  summary in some, numbered recommendations, findings by principle, tables;
  two columns with a running header and footer, as publishers lay them out
- follow-up letters (PDF, 1-3 pages, letterhead) recapping the last recommendations
- cabinet reports (PDF, 5-9 pages, one or two columns) with "That Cabinet ..."
  recommendations and action tables
- improvement plans (DOCX) with action tables; committee minutes (DOCX)
- news pages (HTML, with cookie banners, menus, share links, related stories)
- Welsh Government written statements (HTML, some in Welsh)

A manifest per scale (manifest-<N>.csv, the format `scrutiny ingest` reads)
gives each document's known metadata. PDFs are laid out by reportlab's platypus
(tools.bench.realistic); `simple_pdf` draws the same documents the way the first
corpus did (one column, every line placed), the second kind extraction is
measured on. Files are reused when present, so a
second run at the same seed only checks the stamp.
"""

from __future__ import annotations

import csv
import json
import os
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from tools.bench import BENCH_VERSION, prose
from tools.bench.prose import Council, Topic
from tools.bench.realistic import letter_pdf, report_pdf
from tools.bench.render import Item, docx_bytes, draw_pdf, news_html, paginate

GENERATOR_VERSION = f"{BENCH_VERSION}/corpus-3"
LETTERHEAD = (
    "Care Inspectorate Wales",
    "Welsh Government Office",
    "Sarn Mynach, Llandudno Junction LL31 9RZ",
    "0300 7900 126",
)
# Kinds, their format and weight out of 50: a deterministic interleave (smooth weighted round robin) gives
# every prefix of the corpus the same mix, so even a six-document quick run has PDFs, HTML and DOCX.
KINDS = {
    "news": ("html", 15),
    "minutes": ("docx", 10),
    "inspection": ("pdf", 7),
    "cabinet_report": ("pdf", 7),
    "followup": ("pdf", 4),
    "statement": ("html", 4),
    "improvement_plan": ("docx", 3),
}
DOC_TYPES = {
    "news": "news",
    "minutes": "council_minutes",
    "inspection": "inspection_report",
    "cabinet_report": "council_report",
    "followup": "inspection_report",
    "statement": "government_statement",
    "improvement_plan": "improvement_plan",
}
ROUNDS = {"children": (2015, 2018, 2021, 2024), "adults": (2016, 2019, 2022, 2025)}
CIW = "Care Inspectorate Wales"


def _kind_cycle() -> tuple[str, ...]:
    current = {k: 0 for k in KINDS}
    total = sum(w for _, w in KINDS.values())
    out = []
    for _ in range(total):
        for k, (_, w) in KINDS.items():
            current[k] += w
        best = max(current, key=lambda k: current[k])
        current[best] -= total
        out.append(best)
    return tuple(out)


KIND_CYCLE = _kind_cycle()


@dataclass(frozen=True)
class DocSpec:
    index: int
    kind: str
    council: Council
    service: str
    year: int
    month: int
    day: int
    round_year: int
    language: str = "en"

    @property
    def fmt(self) -> str:
        return KINDS[self.kind][0]

    @property
    def filename(self) -> str:
        slug = self.council.short.lower().replace(" ", "-")
        return f"{self.index:05d}-{slug}-{self.kind.replace('_', '-')}-{self.year}.{self.fmt}"

    @property
    def published(self) -> str:
        return f"{self.year:04d}-{self.month:02d}-{self.day:02d}"

    @property
    def service_name(self) -> str:
        return prose.SERVICE_NAMES[self.service]


def spec(seed: int, index: int) -> DocSpec:
    r = random.Random(f"{seed}:doc:{index}")
    kind = KIND_CYCLE[index % len(KIND_CYCLE)]
    council = prose.COUNCILS[r.randrange(len(prose.COUNCILS))]
    service = r.choice(("children", "adults"))
    round_year = r.choice(ROUNDS[service])
    offset = {"inspection": 0, "followup": 1, "news": 0, "statement": 0}.get(kind, r.choice((0, 1)))
    year = min(2025, round_year + offset)
    language = "cy" if kind == "statement" and r.random() < 0.25 else "en"
    return DocSpec(index, kind, council, service, year, r.randint(1, 12), r.randint(1, 28), round_year, language)


def issues(seed: int, council: Council, service: str, round_year: int) -> list[Topic]:
    """The issues an inspection round raises: most carry over from the previous round."""
    pool = prose.topics_for(service)
    r = random.Random(f"{seed}:issues:{council.short}:{service}")
    current = r.sample(pool, 6)
    for year in ROUNDS[service]:
        if year == round_year:
            return current
        keep = r.sample(current, 4)
        current = keep + r.sample([t for t in pool if t not in keep], 2)
    return current


def _previous_round(spec_: DocSpec) -> int | None:
    rounds = ROUNDS[spec_.service]
    i = rounds.index(spec_.round_year)
    return rounds[i - 1] if i else None


# ---------------------------------------------------------------- content by kind


def _inspection(r: random.Random, s: DocSpec, topics: list[Topic], pages: int) -> list[Item]:
    when = f"{prose.MONTHS[s.month - 1]} {s.year}"
    before = _previous_round(s)
    items: list[Item] = [
        ("title", f"Inspection of {s.service_name.capitalize()}"),
        ("h2", s.council.name),
        ("p", when),
        (
            "small",
            f"\u00a9 Crown copyright {s.year}. You may re-use this information under the terms of the Open "
            f"Government Licence.",
        ),
        ("break",),
        ("h1", "Contents"),
        (
            "toc",
            [
                ("1. Introduction", 3),
                ("2. Summary of findings", 3),
                ("3. Recommendations", 4),
                ("4. Findings", 5),
                ("5. Next steps", pages),
            ],
        ),
        ("break",),
        ("h1", "1. Introduction"),
        (
            "p",
            f"{CIW} (CIW) inspected {s.service_name} in {s.council.name} in {when}. Inspectors reviewed "
            f"{r.randint(40, 120)} case files, spoke with {r.randint(30, 90)} people and practitioners and "
            f"observed meetings in {s.council.towns[0]} and {s.council.towns[1]}.",
        ),
        ("p", prose.paragraph(r, topics, 3)),
        ("h1", "2. Summary of findings"),
    ]
    items += [("p", prose.paragraph(r, topics, r.randint(3, 6))) for _ in range(3)]
    if r.random() < 0.3:
        items += [("h1", "Crynodeb"), ("p", " ".join(r.sample(prose.WELSH, 5)))]
    items += [("h1", "3. Recommendations"), ("p", f"{s.council.name} should address the following recommendations.")]
    items += [
        ("li", f"{n}.", prose.recommendation(r, t, imperative=r.random() < 0.6)) for n, t in enumerate(topics, start=1)
    ]
    items.append(("h1", "4. Findings"))
    principles = ("People \u2013 voice and choice", "Prevention", "Well-being", "Partnerships and integration")
    p_i = 0
    while len(paginate(items)) < pages - 1:
        items.append(("h2", principles[p_i % len(principles)]))
        for t in r.sample(topics, 3):
            items.append(("p", prose.paragraph(r, [t], r.randint(3, 6), "fff")))
            if before and r.random() < 0.5:
                items.append(("p", prose.recap(r, t, before) + " " + prose.finding(r, t)))
        if p_i % 2 == 1:
            items.append(
                (
                    "table",
                    [["Measure", str(s.year - 1), str(s.year)]]
                    + [
                        [f"{t.phrases[0][0][:38]} on time (%)", f"{r.randint(40, 90)}", f"{r.randint(40, 95)}"]
                        for t in r.sample(topics, 3)
                    ],
                )
            )
        p_i += 1
    items += [
        ("h1", "5. Next steps"),
        (
            "p",
            f"CIW will monitor progress through its regular engagement with {s.council.name}. We expect "
            f"the local authority to publish an improvement plan within three months.",
        ),
    ]
    return items


def _followup(r: random.Random, s: DocSpec, topics: list[Topic], pages: int) -> list[Item]:
    director = prose.person(r)
    items: list[Item] = [
        ("h1", f"Follow-up visit: {s.service_name} in {s.council.name}"),
        ("p", f"{prose.date_text(s.year, s.month, s.day)}"),
        ("p", f"Dear {director},"),
        (
            "p",
            f"Following our inspection in {s.round_year}, {CIW} carried out a follow-up visit to review the "
            f"progress made against our recommendations.",
        ),
    ]
    for t in topics:
        items += [
            ("h2", t.phrases[0][0].capitalize()),
            ("p", prose.recap(r, t, s.round_year) + " " + prose.paragraph(r, [t], r.randint(2, 5))),
        ]
    while len(paginate(items)) < pages:
        t = r.choice(topics)
        items.append(("p", prose.paragraph(r, [t], r.randint(3, 6))))
    items += [("h1", "Areas for improvement")]
    items += [
        ("li", f"{n}.", prose.recommendation(r, t, imperative=True)) for n, t in enumerate(r.sample(topics, 3), start=1)
    ]
    items += [
        ("p", "We will continue to monitor progress."),
        ("p", "Yours sincerely,"),
        ("p", f"{prose.person(r)}, Head of Local Authority Inspection, {CIW}"),
    ]
    return items


def _cabinet_report(r: random.Random, s: DocSpec, topics: list[Topic], pages: int) -> list[Item]:
    items: list[Item] = [
        ("h1", f"Report to Cabinet: progress on the inspection of {s.service_name}"),
        ("p", f"Report of: Director of Social Services. Date of meeting: {prose.date_text(s.year, s.month, s.day)}."),
        ("h2", "1. Purpose of the report"),
        ("p", f"To update Cabinet on progress against the recommendations of the {s.round_year} CIW inspection."),
        ("h2", "2. Recommendations"),
        ("li", "2.1", "That Cabinet notes the progress made against the improvement plan."),
        (
            "li",
            "2.2",
            f"That Cabinet approves additional investment of \u00a3{r.randint(1, 9)}.{r.randint(1, 9)} "
            f"million in {s.service_name}.",
        ),
        ("h2", "3. Background"),
        ("p", prose.paragraph(r, topics, 4)),
        ("h2", "4. Progress"),
    ]
    for n, t in enumerate(topics * 3, start=1):
        if n > len(topics) and len(paginate(items)) >= pages - 1:
            break
        items += [
            ("h2", f"4.{n} {t.phrases[0][0].capitalize()}"),
            ("p", prose.paragraph(r, [t], r.randint(3, 6), "ffm")),
            ("p", prose.paragraph(r, [t], r.randint(2, 5), "fm")),
            (
                "table",
                [["Action", "Lead", "Status"]]
                + [
                    [
                        f"Improve {t.phrases[i % len(t.phrases)][0]}"[:40],
                        r.choice(("Head of Service", "Director", "Team Manager")),
                        r.choice(("Complete", "On track", "Delayed")),
                    ]
                    for i in range(r.randint(2, 4))
                ],
            ),
        ]
    items += [
        ("h2", "5. Financial implications"),
        ("p", f"The cost of agency staff was \u00a3{r.randint(1, 6)}.{r.randint(0, 9)} million last year."),
        ("h2", "6. Equality and Welsh language impact"),
        ("p", "An integrated impact assessment has been completed and no negative impacts were found."),
        ("h2", "7. Risks"),
        ("p", prose.paragraph(r, topics, 3)),
        ("h2", "8. Consultation"),
        (
            "p",
            f"The report was considered by the {r.choice(('People', 'Social Care'))} Scrutiny Committee, "
            f"whose comments are included.",
        ),
    ]
    return items


def _minutes(r: random.Random, s: DocSpec, topics: list[Topic]) -> list[Item]:
    committee = r.choice(
        (
            "People Scrutiny Committee",
            "Cabinet",
            "Social Care and Health Scrutiny Committee",
            "Corporate Parenting Panel",
        )
    )
    chair = prose.person(r)
    items: list[Item] = [
        ("title", f"Minutes of the {committee}"),
        ("p", f"Held at {s.council.towns[0]} Civic Centre on {prose.date_text(s.year, s.month, s.day)} at 10.00 am."),
        (
            "p",
            f"Present: Councillor {chair} (Chair); Councillors "
            + ", ".join(prose.person(r) for _ in range(r.randint(4, 9)))
            + ".",
        ),
        (
            "p",
            "Officers: "
            + ", ".join(
                f"{prose.person(r)} ({role})" for role in ("Director of Social Services", "Democratic Services Officer")
            )
            + ".",
        ),
        ("h2", "1. Apologies for absence"),
        ("p", f"Apologies were received from Councillor {prose.person(r)}."),
        ("h2", "2. Declarations of interest"),
        ("p", "No declarations of interest were made."),
    ]
    for n, t in enumerate(r.sample(topics, min(len(topics), r.randint(2, 4))), start=3):
        items.append(("h2", f"{n}. {t.phrases[0][0].capitalize()}"))
        for _ in range(r.randint(4, 9)):
            roll = r.random()
            items.append(("p", prose.quote(r, s.council) if roll < 0.2 else prose.minutes_line(r, t)))
        items.append(("num", prose.resolution(r)))
    items.append(("p", f"The meeting closed at {r.randint(11, 13)}.{r.choice(('05', '20', '45'))} pm."))
    return items


def _improvement_plan(r: random.Random, s: DocSpec, topics: list[Topic]) -> list[Item]:
    items: list[Item] = [
        ("title", f"{s.service_name.capitalize()} Improvement Plan {s.year}-{s.year + 2}"),
        ("p", f"This plan responds to the {CIW} inspection of {s.service_name} in {s.council.name}."),
    ]
    for t in topics:
        items += [("h2", t.phrases[0][0].capitalize()), ("p", prose.finding(r, t))]
        items += [("num", prose.recommendation(r, t, imperative=True)) for _ in range(r.randint(1, 3))]
        items.append(
            (
                "table",
                [["Action", "Lead officer", "By", "RAG"]]
                + [
                    [
                        prose.recommendation(r, t, imperative=True)[:60],
                        prose.person(r),
                        f"{prose.MONTHS[r.randrange(12)]} {s.year + 1}",
                        r.choice(("Green", "Amber", "Red")),
                    ]
                    for _ in range(r.randint(2, 4))
                ],
            )
        )
    return items


def _news(r: random.Random, s: DocSpec, topics: list[Topic]) -> list[str]:
    paras = [
        prose.news_lead(r, s.council, topics[0]),
        f"The report by {CIW}, published on {prose.date_text(s.year, s.month, s.day)}, made "
        f"{len(topics)} recommendations.",
    ]
    for t in topics[: r.randint(2, 4)]:
        paras.append(prose.finding(r, t) + " " + prose.finding(r, t))
    paras += [prose.quote(r, s.council) for _ in range(r.randint(1, 3))]
    paras.append(prose.recommendation(r, r.choice(topics)))
    return paras


def _statement(r: random.Random, s: DocSpec, topics: list[Topic]) -> list[str]:
    if s.language == "cy":
        return [" ".join(r.sample(prose.WELSH, 4)) for _ in range(r.randint(3, 5))]
    return [
        f"Today I am publishing the response of the Welsh Government to the inspection of {s.service_name} in "
        f"{s.council.name}."
    ] + [prose.paragraph(r, topics, r.randint(2, 4), "fr") for _ in range(r.randint(3, 6))]


# ---------------------------------------------------------------- one document


@dataclass(frozen=True)
class Entry:
    """A generated document on disk with its known metadata (one manifest row)."""

    spec: DocSpec
    path: Path
    title: str
    publisher: str
    pages: int | None

    def manifest_row(self) -> dict[str, str]:
        s = self.spec
        return {
            "path": self.path.name,
            "title": self.title,
            "publisher": self.publisher,
            "doc_type": DOC_TYPES[s.kind],
            "local_authority": s.council.name,
            "service": s.service,
            "published": s.published,
            "language": s.language,
        }


def _pdf(
    r: random.Random, s: DocSpec, topics: list[Topic], header: str, cap: Callable[[int], int]
) -> tuple[str, str, bytes]:
    """A PDF laid out as publishers' tools lay them out (tools.bench.realistic): inspection reports of 10-40
    pages in two columns after a cover, follow-up letters of 1-3 pages, cabinet reports of 5-9 pages in one or
    two columns. (The content is sized by the first corpus's one-column paginator, hence the factors.)"""
    if s.kind == "inspection":
        title, publisher = f"Inspection of {s.service_name.capitalize()}, {s.council.name}", CIW
        items = _inspection(r, s, topics, cap(round(r.choice((10, 12, 14, 16, 20, 24, 30, 40)) * 1.3)))
        cut = items.index(("break",))
        body = [i for i in items[cut + 1 :] if i[0] != "break"]
        data = report_pdf(
            items[:cut], body, header=f"{header} \u2013 inspection report", footer=CIW, title=title, author=publisher
        )
    elif s.kind == "followup":
        title, publisher = f"Follow-up letter: {s.service_name}, {s.council.name}", CIW
        items = _followup(r, s, topics, 1)
        tail = items.index(("h1", "Areas for improvement"))
        length = cap(r.randint(1, 3))
        body = items[4:tail][: {1: 2, 2: 6}.get(length, tail)]
        data = letter_pdf(
            items[:4] + body + items[tail:],
            letterhead=LETTERHEAD,
            footer=f"{CIW} \u2013 careinspectorate.wales",
            title=title,
            author=publisher,
        )
    else:
        title, publisher = f"Report to Cabinet: {s.service_name.capitalize()} improvement", s.council.name
        items = _cabinet_report(r, s, topics, cap(r.randint(7, 12)))
        data = report_pdf(
            (),
            items,
            header=header,
            footer=f"Agenda Item {r.randint(4, 12)}",
            title=title,
            author=publisher,
            columns=r.choice((1, 2)),
        )
    return title, publisher, data


def _page_count(data: bytes) -> int:
    import pypdfium2

    doc = pypdfium2.PdfDocument(data)
    try:
        return len(doc)
    finally:
        doc.close()


def simple_pdf(seed: int, index: int, max_pages: int | None = None) -> tuple[bytes, int] | None:
    """Document `index` drawn the way the first corpus (corpus-2) drew its PDFs, one column, every line placed
    by tools.bench.render (None for a document that is not a PDF): the second kind extraction is measured on."""
    s = spec(seed, index)
    if s.fmt != "pdf":
        return None
    r = random.Random(f"{seed}:text:{index}")
    cap = (lambda n: min(n, max_pages)) if max_pages else (lambda n: n)
    topics = issues(seed, s.council, s.service, s.round_year)
    header = f"{s.council.name} \u2013 {s.service_name.capitalize()}"
    if s.kind == "inspection":
        title, publisher = f"Inspection of {s.service_name.capitalize()}, {s.council.name}", CIW
        items = _inspection(r, s, topics, cap(r.randint(10, 18)))
        header, footer = f"{header} \u2013 inspection report", CIW
    elif s.kind == "followup":
        title, publisher = f"Follow-up letter: {s.service_name}, {s.council.name}", CIW
        items, footer = _followup(r, s, topics, cap(r.randint(3, 5))), CIW
    else:
        title, publisher = f"Report to Cabinet: {s.service_name.capitalize()} improvement", s.council.name
        items, footer = _cabinet_report(r, s, topics, cap(r.randint(5, 9))), f"Agenda Item {r.randint(4, 12)}"
    pages = paginate(items)
    data = draw_pdf(
        pages, header=header, footer=footer, title=title, author=publisher, cover_furniture=s.kind != "inspection"
    )
    return data, len(pages)


def build(seed: int, index: int, max_pages: int | None = None) -> tuple[DocSpec, str, str, bytes, int | None]:
    """Generate document `index`: (spec, title, publisher, bytes, pages). `max_pages` shortens the PDFs
    (the quick smoke run's corpus); a report never gets shorter than its fixed sections."""
    s = spec(seed, index)
    r = random.Random(f"{seed}:text:{index}")
    cap = (lambda n: min(n, max_pages)) if max_pages else (lambda n: n)
    topics = issues(seed, s.council, s.service, s.round_year)
    header = f"{s.council.name} \u2013 {s.service_name.capitalize()}"
    if s.kind in ("inspection", "followup", "cabinet_report"):
        title, publisher, data = _pdf(r, s, topics, header, cap)
        return s, title, publisher, data, _page_count(data)
    if s.kind in ("minutes", "improvement_plan"):
        items = _minutes(r, s, topics) if s.kind == "minutes" else _improvement_plan(r, s, topics)
        title = items[0][1]
        return (
            s,
            title,
            s.council.name,
            docx_bytes(
                items,
                header=header,
                footer=f"{s.council.name} \u2013 {s.published}",
                title=title,
                author=s.council.name,
            ),
            None,
        )
    if s.kind == "news":
        title = f"{s.council.short} told to improve {topics[0].phrases[0][0]}"
        by = f"By {prose.person(r)}, Local Democracy Reporter"
        data = news_html(
            title=title,
            site=s.council.paper,
            byline=by,
            paragraphs=_news(r, s, topics),
            dateline=f"Created on {s.day:02d}/{s.month:02d}/{s.year} @ 10:{r.randint(10, 59)}",
            variant=index,
        )
        return s, title, s.council.paper, data, None
    cy = s.language == "cy"
    title = (
        f"Datganiad ysgrifenedig: gwasanaethau cymdeithasol yn {s.council.short}"
        if cy
        else f"Written Statement: {s.service_name.capitalize()} in {s.council.name}"
    )
    data = news_html(
        title=title,
        site="Welsh Government",
        byline="Deputy Minister for Social Services",
        dateline=f"First published: {prose.date_text(s.year, s.month, s.day)}",
        paragraphs=_statement(r, s, topics),
        variant=index,
        lang=s.language,
    )
    return s, title, "Welsh Government", data, None


# ---------------------------------------------------------------- the corpus on disk


@dataclass(frozen=True)
class Corpus:
    root: Path
    seed: int
    entries: tuple[Entry, ...]
    manifest: Path

    @property
    def documents(self) -> int:
        return len(self.entries)

    def by_format(self, fmt: str) -> list[Entry]:
        return [e for e in self.entries if e.spec.fmt == fmt]

    def summary(self) -> dict[str, object]:
        return {
            "documents": self.documents,
            "seed": self.seed,
            "root": str(self.root),
            "formats": {f: len(self.by_format(f)) for f in ("pdf", "html", "docx")},
            "kinds": {k: sum(e.spec.kind == k for e in self.entries) for k in KINDS},
            "pdf_pages": sum(e.pages or 0 for e in self.entries),
            "bytes": sum(e.path.stat().st_size for e in self.entries),
            "councils": len({e.spec.council.name for e in self.entries}),
            "inspection_rounds": len({(e.spec.council.name, e.spec.service, e.spec.round_year) for e in self.entries}),
        }


def _stamp(root: Path) -> None:
    stamp = root / "stamp.json"
    if stamp.exists() and json.loads(stamp.read_text()).get("generator") == GENERATOR_VERSION:
        return
    if root.exists():  # files from another generator version: start again
        for f in root.iterdir():
            if f.is_file():
                f.unlink()
    root.mkdir(parents=True, exist_ok=True)
    stamp.write_text(json.dumps({"generator": GENERATOR_VERSION}))


def _index_path(root: Path) -> Path:
    return root / "index.jsonl"


def _known(root: Path) -> dict[int, dict]:
    path = _index_path(root)
    if not path.exists():
        return {}
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return {row["index"]: row for row in rows if (root / row["file"]).exists()}


def generate(
    out: Path, seed: int, documents: int, progress: Callable[[str], None] | None = None, max_pages: int | None = None
) -> Corpus:
    """Generate (or reuse) the first `documents` documents for `seed` under out/corpus/seed-<seed>/
    (seed-<seed>-max<N>/ with `max_pages`) and write manifest-<documents>.csv beside them."""
    root = out / "corpus" / (f"seed-{seed}" + (f"-max{max_pages}" if max_pages else ""))
    _stamp(root)
    known = _known(root)
    entries = []
    with _index_path(root).open("a", encoding="utf-8") as index:
        for i in range(documents):
            if i in known:
                row = known[i]
                entries.append(Entry(spec(seed, i), root / row["file"], row["title"], row["publisher"], row["pages"]))
                continue
            s, title, publisher, data, pages = build(seed, i, max_pages)
            (root / s.filename).write_bytes(data)
            index.write(
                json.dumps({"index": i, "file": s.filename, "title": title, "publisher": publisher, "pages": pages})
                + "\n"
            )
            entries.append(Entry(s, root / s.filename, title, publisher, pages))
            if progress and (i + 1) % 100 == 0:
                progress(f"corpus: {i + 1} of {documents} documents")
    manifest = root / f"manifest-{documents}.csv"
    write_manifest(manifest, entries)
    return Corpus(root, seed, tuple(entries), manifest)


def write_manifest(path: Path, entries: list[Entry] | tuple[Entry, ...]) -> Path:
    """A manifest (CSV) of some entries, with paths relative to the manifest's folder."""
    fields = ["path", "title", "publisher", "doc_type", "local_authority", "service", "published", "language"]
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        for e in entries:
            row = e.manifest_row()
            row["path"] = os.path.relpath(e.path.resolve(), path.parent.resolve())
            w.writerow(row)
    return path


# ---------------------------------------------------------------- the long report for the memory check


def _endless_report(seed: int) -> Iterator[Item]:
    r = random.Random(f"{seed}:long")
    council = prose.COUNCILS[0]
    topics = prose.topics_for("children")
    yield ("title", "Annual Performance Report: Social Services")
    yield ("h2", council.name)
    yield ("break",)
    section = 1
    while True:
        yield ("h1", f"{section}. {r.choice(topics).phrases[0][0].capitalize()}")
        for _ in range(3):
            yield ("p", prose.paragraph(r, topics, r.randint(4, 7)))
        yield (
            "table",
            [["Measure", "Last year", "This year"]]
            + [[f"Indicator {section}.{k}", str(r.randint(30, 90)), str(r.randint(30, 95))] for k in range(1, 4)],
        )
        yield ("li", "1.", prose.recommendation(r, r.choice(topics), imperative=True))
        section += 1


def long_report(out: Path, seed: int, pages: int, first: int) -> tuple[Path, Path]:
    """A `pages`-page report and a PDF of its first `first` pages (same layout, same furniture)."""
    root = out / "corpus" / f"seed-{seed}"
    _stamp(root)
    full, head = root / f"long-{pages}.pdf", root / f"long-{pages}-first-{first}.pdf"
    if full.exists() and head.exists():
        return full, head
    items: list[Item] = []
    gen = _endless_report(seed)
    while True:  # about 1.3 pages per section: paginate in steps, not item by item
        items += [next(gen) for _ in range(60)]
        laid = paginate(items)
        if len(laid) > pages:
            laid = laid[:pages]
            break
    kwargs = dict(
        header=f"{prose.COUNCILS[0].name} \u2013 Annual Performance Report",
        footer="Social Services",
        title="Annual Performance Report",
        author=prose.COUNCILS[0].name,
    )
    full.write_bytes(draw_pdf(laid, **kwargs))  # type: ignore[arg-type]
    head.write_bytes(draw_pdf(laid[:first], **kwargs))  # type: ignore[arg-type]
    return full, head
