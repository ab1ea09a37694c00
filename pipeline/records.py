"""Frozen records passed between the stages of the pipeline.

Identifiers are deterministic so every write is an upsert and every run can be
repeated: a document is the sha256 of its bytes, a statement is its document id
plus its character offsets.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

BlockKind = Literal["heading", "paragraph", "list_item", "table_row"]
StatementKind = Literal["finding", "recommendation", "quote", "other"]

DOC_TYPES = (
    "inspection_report",
    "council_minutes",
    "council_report",
    "improvement_plan",
    "government_statement",
    "news",
    "other",
)
SERVICES = ("children", "adults", "both")


def document_id_for(data: bytes) -> str:
    """The id of a document: the sha256 of its bytes."""
    return hashlib.sha256(data).hexdigest()


def statement_id_for(document_id: str, char_start: int, char_end: int) -> str:
    """The id of a statement: its document and its span in the document text."""
    return f"{document_id[:16]}:{char_start}-{char_end}"


@dataclass(frozen=True)
class Source:
    """Where a document's bytes came from, with any metadata known in advance."""

    path: str
    meta: dict[str, Any] = field(default_factory=dict)
    url: str | None = None


@dataclass(frozen=True)
class Page:
    number: int  # 1-based
    char_start: int
    char_end: int
    ocr: bool = False


@dataclass(frozen=True)
class Block:
    """A unit of layout in the extracted text: a heading, a paragraph, a list item or a table row.

    `char_start`/`char_end` index `Document.text`; `text` equals that slice.
    """

    kind: BlockKind
    text: str
    char_start: int
    char_end: int
    page: int | None = None
    level: int = 0  # heading level (1 = top); list nesting for items


@dataclass(frozen=True)
class Metadata:
    title: str | None = None
    publisher: str | None = None
    doc_type: str = "other"
    local_authority: str | None = None
    service: str | None = None
    published: str | None = None  # ISO date, possibly partial (YYYY or YYYY-MM)
    # How the date was stated ("stated: labelled line"); when nothing states it and `published` is empty, the best
    # clue for people to read ("2017-07: …we inspected services in July 2017…").
    date_evidence: str | None = None
    language: str = "en"
    byline: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class Document:
    id: str
    source_path: str
    format: Literal["pdf", "html", "docx", "text"]
    text: str
    blocks: tuple[Block, ...]
    pages: tuple[Page, ...]
    metadata: Metadata
    size: int
    extractor_version: str
    notes: tuple[str, ...] = ()  # what a reader should know: pages that could not be read, and why
    # For one language part of a bilingual file (pipeline.extract.bilingual): the file's id (sha256 of its bytes).
    part_of: str | None = None

    @property
    def ocr_pages(self) -> tuple[int, ...]:
        return tuple(p.number for p in self.pages if p.ocr)

    @property
    def page_count(self) -> int | None:
        return len(self.pages) or None


@dataclass(frozen=True)
class Entity:
    """A named thing in a statement: a person (with the roles the text gives), an organisation, a council,
    a place, a money amount, a percentage or a date. Offsets index `Document.text`; `value` is normalised
    ("£49, 929" -> "49929", "17th October 2017" -> "2017-10-17", "Cllr. A. Bulman" -> "A Bulman")."""

    label: str  # PERSON, ORG, COUNCIL, PLACE, MONEY, PERCENT, DATE
    text: str
    char_start: int
    char_end: int
    value: str
    roles: tuple[str, ...] = ()


@dataclass(frozen=True)
class Statement:
    document_id: str
    seq: int
    text: str
    char_start: int
    char_end: int
    page: int | None
    heading: str | None
    kind: StatementKind
    speaker: str | None
    language: str
    lemmas: str = ""  # space-joined lemmas of content words, for the models downstream
    entities: tuple[Entity, ...] = ()  # English statements only; Welsh ones are not run through entity rules

    @property
    def id(self) -> str:
        return statement_id_for(self.document_id, self.char_start, self.char_end)


@dataclass(frozen=True)
class Failure:
    """A source that could not be processed, stored as data so the batch goes on."""

    source_path: str
    stage: str
    reason: str
    software_version: str
    document_id: str | None = None


@dataclass(frozen=True)
class Prediction:
    """Area labels for one statement (filled by the classification stage)."""

    statement_id: str
    labels: tuple[str, ...]
    scores: dict[str, float]
    abstain: bool
    model: str
    scheme: str = "areas"
    margin: float = 1.0  # distance of the closest score to its threshold: small means unsure


def as_dict(record: Any) -> dict[str, Any]:
    return asdict(record)
