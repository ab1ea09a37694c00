"""Segmentation: a Document's blocks become Statements, with our own spaCy pipeline.

The pipeline (models/segmenter.cfg) is built from official packages only: the
English tokenizer, rule-based sentence boundaries (`scrutiny_sentences_v2`),
the language of each sentence by lingua (`scrutiny_language_v1`), the lookup
lemmatizer from spacy-lookups-data (`scrutiny_lemma_case_v1` mends its case),
entity rules from the data files (`scrutiny_entities_v1`) and what each
sentence is: a heading, or a statement of some kind, quoted or not, with its
speaker (`scrutiny_statements_v1`). No trained weights are needed; a trained
English pipeline can add its entities when asked for (`trained_pipeline`).

`segment(document, settings)` lays the document's blocks out as units (a
block, or a list item and the lines that continue it), runs them through the
pipeline, and keeps what is a statement: one sentence or one list item. A
heading is never a statement but heads the statements under it, also when the
extractor ran it into the paragraph that follows; tables of contents, menus and
page furniture give no statement. Quotes are attributed to their speaker, also
when the quote runs on over several paragraphs.
"""

from __future__ import annotations

import bisect
import re
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from pipeline.segment import without_torch  # noqa: F401  # before spaCy: thinc must not load PyTorch

# isort: split
from spacy.language import Language

from pipeline import versions
from pipeline.config import Settings
from pipeline.records import Block, Document, Entity, Statement
from pipeline.segment.components import QUOTE_OPEN, RECOMMENDATION_HEADING, Item  # importing it registers the factories
from pipeline.segment.people import bare_name, merge_people, normalise_person
from pipeline.segment.sentences import CONNECTORS, LIST_MARKER, LOGO, OPENERS, SECTION_MARKER, TERMINAL, heading_text

SEGMENTER_VERSION = versions.SEGMENT
__all__ = ["segment", "load_nlp", "normalise_person", "SEGMENTER_VERSION"]


def load_nlp(config_path: Path, trained_pipeline: str | None = None) -> Language:
    """Build our pipeline from its config file (cached per path and option; nothing is loaded at import).
    `trained_pipeline` (a package name or path) adds a trained pipeline's entities; the default needs none.
    Thread-safe: a run's threads that segment their first documents together share one pipeline, built once."""
    with _NLP_LOCK:
        return _load_nlp(Path(config_path), trained_pipeline)


_NLP_LOCK = threading.Lock()


@lru_cache(maxsize=4)
def _load_nlp(config_path: Path, trained_pipeline: str | None) -> Language:
    from spacy import util

    overrides = {"components.entities.trained_pipeline": trained_pipeline} if trained_pipeline else {}
    config = util.load_config(config_path, overrides=overrides, interpolate=False)
    nlp = util.load_model_from_config(config, auto_fill=True, validate=True)
    nlp.initialize()  # the lookup lemmatizer reads its tables from spacy-lookups-data
    return nlp


# ---------------------------------------------------------------- units and statements


@dataclass(slots=True)
class _Placed:
    """A statement item placed in the document: offset, page, heading and kind as its context gives them."""

    unit: _Unit
    item: Item
    start: int
    page: int | None
    heading: str | None
    kind: str


@dataclass
class _Unit:
    """One text put through the pipeline: a block, or a block with the blocks that continue it."""

    blocks: list[Block]
    start: int  # offset of the text in Document.text (after any list marker)
    end: int
    heading: str | None
    intro: str | None = None
    statements: list[int] = field(default_factory=list)  # indexes into the statement list
    speaker: str | None = None
    quoted: bool = False
    byline: str | None = None


def _marker_length(block: Block) -> int:
    rx = LIST_MARKER if block.kind == "list_item" else SECTION_MARKER
    m = rx.match(block.text)
    n = m.end() if m else 0
    logo = LOGO.match(block.text, n)
    return logo.end() if logo else n


def _continues(a: Block, b: Block) -> bool:
    """Does block b carry on the sentence of block a (a list item's wrapped line, a page-broken paragraph)?"""
    if a.kind not in ("list_item", "paragraph") or b.kind != "paragraph":
        return False
    if a.page is not None and b.page is not None and b.page not in (a.page, a.page + 1):
        return False
    at, bt = a.text.rstrip(), b.text.lstrip()
    if TERMINAL.search(at) or at.endswith((":", ";")) or bt[:1] in OPENERS:
        return False
    if bt[:1].islower() or bt[:1] in "/)&":
        return True
    # a wrapped list item also carries on with a capital after a comma, a connecting word or an open bracket
    last = at.split()[-1].lower() if at.split() else ""
    return a.kind == "list_item" and (
        at.endswith((",", "–", "-", "&", "/")) or last in CONNECTORS or at.count("(") > at.count(")")
    )


def _units(document: Document) -> list[_Unit]:
    units: list[_Unit] = []
    heading: str | None = None
    prev: Block | None = None
    for b in document.blocks:
        if b.kind == "heading":
            if heading_text(b.text):  # a date or a logo line heads nothing
                heading = b.text
            prev = None
            continue
        if prev is not None and units and _continues(prev, b):
            units[-1].blocks.append(b)
            units[-1].end = b.char_end
        else:
            start = b.char_start + _marker_length(b)
            units.append(_Unit([b], start, b.char_end, heading))
        prev = b
    return units


def _following(blocks: tuple[Block, ...]) -> dict[int, str | None]:
    """What comes after each block: 'heading', 'section' (a sub-numbered paragraph, '1.1 ...') or None."""
    out: dict[int, str | None] = {}
    for a, b in zip(blocks, blocks[1:]):
        out[id(a)] = "heading" if b.kind == "heading" else "section" if re.match(r"\d{1,2}\.\d", b.text) else None
    return out


def segment(document: Document, settings: Settings) -> list[Statement]:
    """Split a Document into Statements with offsets, heading, kind, speaker, language and entities."""
    nlp = load_nlp(settings.segmenter_config, settings.extra.get("trained_pipeline"))
    units = _units(document)
    text = document.text
    docs = []
    following = _following(document.blocks)
    for n, u in enumerate(units):
        doc = nlp.make_doc(text[u.start : u.end])
        first = u.blocks[0]
        doc._.unit = {
            "kind": first.kind,
            "heading": u.heading,
            "doc_type": document.metadata.doc_type,
            "language": document.metadata.language,
            "last": n == len(units) - 1,
            "numbered": first.kind == "list_item" and first.text[:1].isdigit(),
            "section": first.kind == "paragraph" and u.start > first.char_start and first.text[:1].isdigit(),
            "next": following.get(id(u.blocks[-1])),
        }
        if n and text[units[n - 1].start : units[n - 1].end].rstrip().endswith(":"):
            u.intro = text[max(units[n - 1].start, units[n - 1].end - 160) : units[n - 1].end]
        docs.append(doc)
    placed: list[_Placed] = []
    heading_override: str | None = None
    last_heading_block: str | None = None
    for u, doc in zip(units, nlp.pipe(docs, batch_size=settings.batch_size)):
        if u.heading != last_heading_block:  # a real heading block resets any heading found inline
            heading_override, last_heading_block = None, u.heading
        heading = heading_override or u.heading
        starts = [b.char_start for b in u.blocks]
        recommending = u.blocks[0].kind == "list_item" and bool(
            RECOMMENDATION_HEADING.search(" ".join(filter(None, [heading, u.intro])))
        )
        for item in doc._.items:
            if item.what == "heading":
                heading = heading_override = item.text
                recommending = u.blocks[0].kind == "list_item" and bool(RECOMMENDATION_HEADING.search(item.text))
                continue
            if item.what == "byline":  # "Cllr Rosemarie Harris, Leader of ..." names a speaker, heads nothing
                u.byline = item.text
                continue
            start = u.start + item.start
            page = u.blocks[max(0, bisect.bisect_right(starts, start) - 1)].page
            kind = item.kind
            if recommending and item.language == "en":
                kind = "recommendation"  # an item under "Areas for improvement", or after "... priority areas:"
            u.statements.append(len(placed))
            u.quoted = u.quoted or item.quoted
            if item.speaker and u.speaker is None:
                u.speaker = item.speaker
            placed.append(_Placed(u, item, start, page, heading, kind))
    speakers = _attribute_speakers(units, placed)
    canonical = _canonical_speakers(placed, speakers) if any(speakers) else {}
    out = []
    for seq, (p, speaker) in enumerate(zip(placed, speakers)):
        item, offset = p.item, p.unit.start
        kind = "quote" if item.quoted else p.kind
        out.append(
            Statement(
                document_id=document.id,
                seq=seq,
                text=item.text,
                char_start=p.start,
                char_end=p.start + len(item.text),
                page=p.page,
                heading=p.heading,
                kind=kind,  # type: ignore[arg-type]
                speaker=canonical.get(speaker, speaker) if kind == "quote" and speaker else None,
                language=item.language,
                lemmas=item.lemmas,
                entities=tuple(
                    Entity(label, t, offset + s, offset + e, value, roles)
                    for label, t, s, e, value, roles in item.entities
                ),
            )
        )
    return out


def _attribute_speakers(units: list[_Unit], placed: list[_Placed]) -> list[str | None]:
    """Speakers of quoted statements: named in the same paragraph, in the line that introduced the quote
    ('Cllr Vaughan added:'), in an attribution line after it, or earlier in a quote that runs on."""
    speakers: list[str | None] = [p.item.speaker for p in placed]
    last: _Unit | None = None  # the previous unit with statements
    pending: str | None = None  # speaker announced by a line ending with a colon
    for u in units:
        if u.byline and last is not None and last.quoted and last.speaker is None:
            for i in last.statements:
                if placed[i].item.quoted:
                    speakers[i] = u.byline
            last.speaker = u.byline
        if not u.statements:
            continue
        first_text = placed[u.statements[0]].item.text
        if u.quoted and u.speaker is None:
            if pending:
                u.speaker = pending
            elif (
                last is not None
                and last.speaker
                and first_text[:1] in QUOTE_OPEN + '"'
                and not any(placed[i].item.attributed for i in u.statements)
            ):
                u.speaker = last.speaker  # a quote that runs on over paragraphs, or follows "X said ..."
        if u.speaker:
            for i in u.statements:
                if placed[i].item.quoted and speakers[i] is None:
                    speakers[i] = u.speaker
        last_text = placed[u.statements[-1]].item.text
        pending = u.speaker if last_text.endswith(":") and not u.quoted else None
        last = u
    return speakers


def _canonical_speakers(placed: list[_Placed], speakers: list[str | None]) -> dict[str, str]:
    """Each speaker's fullest form in the document: 'Cllr Vaughan' beside 'Elwyn Vaughan' is 'Cllr Elwyn Vaughan'."""
    surnames = {sp.split()[-1].casefold() for sp in speakers if sp}  # only names a speaker could share
    mentions = [
        (value, roles)
        for p in placed
        for label, _, _, _, value, roles in p.item.entities
        if label == "PERSON" and value.split() and value.split()[-1].casefold() in surnames
    ]
    mentions += [(sp, ("councillor",) if sp.startswith("Cllr ") else ()) for sp in speakers if sp]
    people = merge_people(mentions)
    out: dict[str, str] = {}
    for sp in set(filter(None, speakers)):
        bare = bare_name(sp)
        person = next((p for p in people if bare in p.variants), None)
        out[sp] = person.display if person else sp
    return out
