"""Segmentation: a Document's blocks become Statements, with our own spaCy pipeline.

The pipeline (models/segmenter.cfg) is the English tokenizer, a rule-based
sentence component registered as `scrutiny_sentences_v1`, and the lookup
lemmatizer from spacy-lookups-data. A heading is never a statement but heads the
statements under it; a list item is one statement; a paragraph gives one
statement per sentence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable

from spacy.language import Language
from spacy.tokens import Doc

from . import versions
from .config import Settings
from .language import detect_languages
from .records import Block, Document, Statement

SEGMENTER_VERSION = versions.SEGMENT

LIST_MARKER = re.compile(r"^\s*(?:\(?\d{1,2}(?:\.\d{1,2})*[.)]|\(?[a-z][.)]|\(?[ivx]{1,4}[.)]|[•·▪●◦■*–-])\s+")
QUOTE_OPEN = "\"“‘'"
QUOTE_CHARS = "\"“”‘’"
RECOMMENDATION_HEADING = re.compile(
    r"recommendation|areas? for (?:improvement|development)|priority areas?|what needs to (?:improve|happen)|"
    r"required actions?|actions? required|argymhellion|meysydd i'w gwella", re.I)
IMPERATIVES = frozenset(
    "ensure develop improve review strengthen establish implement consider embed increase reduce provide "
    "undertake address introduce make put continue take secure promote maintain deliver prioritise "
    "prioritize agree set create evaluate monitor revise update clarify build extend complete progress "
    "support enable identify strengthened commission".split()
)
SHOULD = re.compile(r"\b(?:should|must|needs? to|is required to|are required to|will need to|ought to)\b", re.I)
AUTHORITY_SUBJECT = re.compile(r"\b(?:local authority|council|authority|service|managers?|leaders?|the department|"
                               r"senior leaders|partners|the board|it)\b", re.I)

NAME = r"(?:[A-Z][\w'’-]+|[A-Z]\.)(?:\s+(?:[A-Z][\w'’-]+|[A-Z]\.|de|van|ap)){0,3}"
TITLE = r"(?:Cllr\.?|Councillor|Coun\.?|Dr\.?|Mr\.?|Mrs\.?|Ms\.?|Professor|Prof\.?|Sir|Dame|Lord|Baroness)"
ROLE = (r"(?i:(?:the\s+)?(?:council|group|opposition|deputy|cabinet|portfolio|chief|corporate|interim|acting|lead|"
        r"strategic|statutory|plaid cymru|labour|conservative|liberal democrat|independent|welsh|health|social|"
        r"children'?s|adult'?s?|services?|executive|director|leader|member|secretary|minister|inspector|head|"
        r"chair|chairman|chairwoman|mayor|officer|spokes(?:man|woman|person)|of|for|and)\s+){1,8}")
SPEECH_VERBS = (r"(?:said|says|added|told|explained|commented|stated|warned|admitted|insisted|continued|asked|"
                r"replied|answered|responded|noted)")
SAID_NAME = re.compile(rf"\b{SPEECH_VERBS}\s+(?:{ROLE})?(?P<name>{TITLE}\s+{NAME}|{NAME})")
NAME_SAID = re.compile(rf"(?P<name>(?:{TITLE}\s+)?{NAME})(?:\s*\([^)]{{1,40}}\))?(?:,\s+[^,\"“”]{{3,80}},)?,?\s+"
                       rf"(?:{SPEECH_VERBS}|went on to say)\b\s*[:,]?")
SKIP_NAMES = frozenset({"He", "She", "They", "It", "We", "The", "This", "That", "There", "Members", "Councillors",
                        "A", "An", "In", "But", "And", "Report", "Council", "Inspectors", "Officers"})


# ---------------------------------------------------------------- spaCy components

@Language.factory(
    "scrutiny_sentences_v1",
    default_config={"abbreviations": ["cllr", "mr", "mrs", "ms", "dr", "st", "no", "e.g", "i.e", "etc"]},
)
def make_sentences(nlp: Language, name: str, abbreviations: list[str]) -> "SentenceRules":
    return SentenceRules(abbreviations)


class SentenceRules:
    """Sentence boundaries by rule: terminal punctuation, not after an abbreviation or an initial,
    and only before something that can start a sentence (capital, digit, quote, bullet)."""

    def __init__(self, abbreviations: Iterable[str]) -> None:
        self.abbreviations = frozenset(a.lower().rstrip(".") for a in abbreviations)

    def _protected(self, doc: Doc, i: int) -> bool:
        """Is the full stop at token i part of an abbreviation, an initial or a number?"""
        if i == 0:
            return False
        prev = doc[i - 1]
        word = prev.text.lower().rstrip(".")
        if not prev.whitespace_:
            if word in self.abbreviations:
                return True
            if len(prev.text) == 1 and prev.text.isupper():  # an initial: "A. Bulman"
                return True
            # "e.g." tokenised as "e.g" + "."
            if re.fullmatch(r"(?:[a-z]\.){1,3}[a-z]", word):
                return True
        return False

    def __call__(self, doc: Doc) -> Doc:
        n = len(doc)
        if n == 0:
            return doc
        doc[0].is_sent_start = True
        for t in doc[1:]:
            t.is_sent_start = False
        i = 0
        while i < n:
            tok = doc[i]
            text = tok.text
            ends = text in (".", "!", "?", "…", "?!", "!?") or (
                len(text) > 1 and text[-1] in ".!?" and text.rstrip(".").lower() not in self.abbreviations
                and not re.fullmatch(r"(?:[A-Za-z]\.)+", text) and not re.fullmatch(r"[\d.,]+", text))
            if ends and text == "." and self._protected(doc, i):
                ends = False
            if ends and text.endswith(".") and len(text) > 1:
                # tokenizer-kept abbreviations ("Dr.", "No.", "St.") never end a sentence
                if text[:-1].lower() in self.abbreviations or re.fullmatch(r"[A-Z]\.", text):
                    ends = False
            if ends:
                j = i + 1
                # closing quotes and brackets belong to the sentence they close
                while j < n and doc[j].text in ("”", "’", "\"", "'", ")", "]") and not doc[j - 1].whitespace_:
                    j += 1
                if j < n:
                    nxt = doc[j].text
                    starts = nxt[:1].isupper() or nxt[:1].isdigit() or nxt[:1] in QUOTE_OPEN + "(•-–£"
                    if starts and (doc[j - 1].whitespace_ or doc[j].text[:1] in QUOTE_OPEN):
                        if not (nxt[:1].isdigit() and doc[i - 1].text.lower().rstrip(".") in self.abbreviations):
                            doc[j].is_sent_start = True
                i = j
                continue
            i += 1
        return doc


@Language.factory("scrutiny_lemma_case_v1")
def make_lemma_case(nlp: Language, name: str) -> "LemmaCase":
    return LemmaCase(nlp)


class LemmaCase:
    """The lookup table is case-sensitive: a capitalised word at the start of a sentence
    ("Children were ...") gets the lemma of its lower-case form."""

    def __init__(self, nlp: Language) -> None:
        self.nlp = nlp
        self._table = None

    def __call__(self, doc: Doc) -> Doc:
        if self._table is None:
            self._table = self.nlp.get_pipe("lemmatizer").lookups.get_table("lemma_lookup")
        for t in doc:
            if t.lemma_ == t.text and not t.text.islower() and t.text[:1].isupper():
                lower = t.text.lower()
                t.lemma_ = self._table.get(lower, lower)
        return doc


@lru_cache(maxsize=4)
def load_nlp(config_path: Path) -> Language:
    """Build our pipeline from its config file (cached per path; nothing is loaded at import)."""
    import spacy
    from spacy import util

    config = util.load_config(config_path)
    nlp = util.load_model_from_config(config, auto_fill=True, validate=True)
    nlp.initialize()  # the lookup lemmatizer reads its tables from spacy-lookups-data
    assert isinstance(nlp, Language) and spacy is not None
    return nlp


# ---------------------------------------------------------------- statements

@dataclass
class _Sentence:
    block: Block
    start: int  # offsets into the document text
    end: int
    text: str
    lemmas: str
    first_lemma: str


def _strip_marker(block: Block) -> tuple[int, str]:
    m = LIST_MARKER.match(block.text)
    if m and block.kind == "list_item":
        return m.end(), block.text[m.end():]
    return 0, block.text


def _sentences(nlp: Language, blocks: list[Block], batch_size: int) -> list[_Sentence]:
    texts, owners = [], []
    out: list[_Sentence] = []
    for b in blocks:
        if b.kind == "heading":
            continue
        offset, body = _strip_marker(b)
        if not body.strip():
            continue
        texts.append(body)
        owners.append((b, offset))
    for (block, offset), doc in zip(owners, nlp.pipe(texts, batch_size=batch_size)):
        spans = [doc[:]] if block.kind in ("list_item", "table_row") else list(doc.sents)
        for span in spans:
            text = span.text.strip()
            if not text or not re.search(r"\w", text):
                continue
            lead = len(span.text) - len(span.text.lstrip())
            start = block.char_start + offset + span.start_char + lead
            lemmas = " ".join(t.lemma_.lower() for t in span if t.is_alpha and not t.is_stop)
            first = next((t for t in span if t.is_alpha), None)
            out.append(_Sentence(block, start, start + len(text), text, lemmas,
                                 first.lemma_.lower() if first is not None else ""))
    return out


def _kind(s: _Sentence, heading: str | None, speaker: str | None, doc_type: str) -> str:
    text = s.text
    if speaker or (text[:1] in QUOTE_OPEN and any(c in text[1:] for c in "”\"")) or re.search(r"[“\"][^”\"]{20,}[”\"]", text):
        if speaker or re.search(SPEECH_VERBS, text):
            return "quote"
    words = text.split()
    first_word = re.sub(r"[^\w]", "", words[0]).lower() if words else ""
    if first_word in IMPERATIVES and words[0][:1].isupper():
        return "recommendation"
    if heading and RECOMMENDATION_HEADING.search(heading) and s.block.kind == "list_item":
        return "recommendation"
    m = SHOULD.search(text)
    if m and AUTHORITY_SUBJECT.search(text[: m.start()]) and doc_type in ("inspection_report", "government_statement",
                                                                          "other", "council_report"):
        return "recommendation"
    if len(words) < 4 or s.block.kind == "table_row":
        return "other"
    return "finding"


def normalise_person(name: str) -> str:
    name = " ".join(name.replace("’", "'").split())
    name = re.sub(r"^(?:Councillor|Coun\.?|Cllr\.?)\s+", "Cllr ", name)
    name = re.sub(r"^(Dr|Mr|Mrs|Ms|Prof)\.\s", r"\1 ", name)
    return name.strip(" ,.")


def _speaker_in(text: str) -> str | None:
    for rx in (SAID_NAME, NAME_SAID):
        for m in rx.finditer(text):
            name = m.group("name").strip()
            first = name.split()[0]
            if first in SKIP_NAMES or name.lower().startswith(("the ", "a ")):
                continue
            return normalise_person(name)
    return None


def _attribute_speakers(sents: list[_Sentence]) -> list[str | None]:
    """Attribute quotes to speakers, within a paragraph and across a quote that runs on."""
    speakers: list[str | None] = [None] * len(sents)
    by_block: dict[int, list[int]] = {}
    for i, s in enumerate(sents):
        by_block.setdefault(id(s.block), []).append(i)
    last_speaker: str | None = None
    last_block_quoted = False
    for idxs in by_block.values():
        block_text = sents[idxs[0]].block.text
        quoted = any(c in block_text for c in "“”\"")
        found = _speaker_in(block_text) if quoted else None
        # a paragraph that opens with a quote and names nobody continues the previous speaker's quote
        if quoted and found is None and block_text.lstrip()[:1] in QUOTE_OPEN and last_block_quoted:
            found = last_speaker
        if quoted and found:
            for i in idxs:
                if any(c in sents[i].text for c in QUOTE_CHARS) or len(idxs) == 1 or sents[i].text[:1].isupper():
                    speakers[i] = found
            last_speaker = found
        last_block_quoted = quoted and found is not None
    return speakers


def segment(document: Document, settings: Settings) -> list[Statement]:
    """Split a Document into Statements with offsets, heading, kind, speaker and language."""
    nlp = load_nlp(settings.segmenter_config)
    blocks = list(document.blocks)
    sents = _sentences(nlp, blocks, settings.batch_size)
    headings: dict[int, str | None] = {}
    current: str | None = None
    for b in blocks:
        if b.kind == "heading":
            current = b.text
        headings[id(b)] = current
    speakers = _attribute_speakers(sents)
    languages = detect_languages([s.text for s in sents], default=document.metadata.language)
    statements = []
    for seq, (s, speaker, lang) in enumerate(zip(sents, speakers, languages)):
        heading = headings.get(id(s.block))
        kind = _kind(s, heading, speaker, document.metadata.doc_type) if lang == "en" else (
            "quote" if speaker else "other" if len(s.text.split()) < 4 else "finding")
        statements.append(Statement(
            document_id=document.id, seq=seq, text=s.text, char_start=s.start, char_end=s.end,
            page=s.block.page, heading=heading, kind=kind,  # type: ignore[arg-type]
            speaker=speaker if kind == "quote" else None, language=lang, lemmas=s.lemmas,
        ))
    return statements
