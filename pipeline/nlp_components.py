"""Scrutiny's spaCy components, registered under versioned names and assembled by models/segmenter.cfg.

- `scrutiny_sentences_v2`: rule-based sentence boundaries (abbreviations, initials, figures, quotations,
  list items, headings run into the next sentence, contents lines and menus);
- `scrutiny_language_v1`: the language of each sentence (lingua, English and Welsh only);
- `scrutiny_lemma_case_v1`: mends the case of the lookup lemmatizer's lemmas;
- `scrutiny_entities_v1`: entity rules from the gazetteer and data files (optionally a trained pipeline's);
- `scrutiny_statements_v1`: what each sentence is (heading, recommendation, quote, finding, other) and who
  is quoted.

pipeline.segment loads the pipeline (importing this module registers the factories) and turns a document's
blocks into statements.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.util import filter_spans, minibatch

from .entities import SPEECH_VERBS, EntityRules, load_rules, normalise_person, normalise_value
from .language import detect_languages

BULLETS = "•·▪●◦■*–„-"
LIST_MARKER = re.compile(rf"^\s*(?:\(?\d{{1,2}}(?:\.\d{{1,2}})*[.)]|\(?[a-z][.)]|\(?[ivx]{{1,4}}[.)]|[{BULLETS}])\s+")
# a section number or a bullet glyph before a sentence in a paragraph ("1.2 We aim to:", "„ As part of ...")
SECTION_MARKER = re.compile(rf"^(?:\(?\d{{1,2}}(?:\.\d{{1,2}})+\)?|\d{{1,2}}\.|[{BULLETS}])\s+(?=[A-Z“\"‘(])")
LOGO = re.compile(r"^(?:[\w&'’-]+ ){0,4}logo(?=[A-Z])")
TOC = re.compile(r"(?:\.{4,}|…{2,}|(?:\. ){4,})\s*\d")
TERMINAL = re.compile(r"[.!?…][\"”’')\]]*$")
OPENERS = "\"“‘'(["
CLOSERS = ("”", "’", "\"", "'", ")", "]")
QUOTE_OPEN, QUOTE_CLOSE = "“", "”"
CONNECTORS = frozenset("""and or of the to in for with by a an on at from as that which who whose including
between into under than their its our is are was were be been has have will would should must nor but""".split())
SHARED_WORDS = frozenset({"a", "i", "am", "at"})  # English stop words that are Welsh words too
SENTENCE_OPENERS = frozenset("The This These Those It Its We Our There They I You He She".split())
RECOMMENDATION_HEADING = re.compile(
    r"recommendation|areas? for (?:improvement|development)|priority (?:areas?|improvement)|"
    r"what needs to (?:improve|happen)|required actions?|actions? required|argymhellion|meysydd i'w gwella", re.I)
SHOULD = re.compile(r"\b(?:should|must|needs? to|is required to|are required to|will need to|ought to)\b", re.I)
NEED = re.compile(r"^there (?:is|remains) (?:a |an )?(?:clear |continuing |urgent )?need (?:to|for)\b", re.I)
AUTHORITY_SUBJECT = re.compile(r"\b(?:local authority|council|authority|service|managers?|leaders?|the department|"
                               r"senior leaders|partners|the board|it)\b", re.I)
RECOMMENDING_DOC_TYPES = frozenset({"inspection_report", "government_statement", "other", "council_report",
                                    "improvement_plan"})
VERB = re.compile(r"\b(?:" + "|".join(SPEECH_VERBS) + r"|went on to say)\b")


# ---------------------------------------------------------------- spaCy components

def _extensions() -> None:
    for name in ("language", "value"):
        if not Span.has_extension(name):
            Span.set_extension(name, default=None)
    if not Span.has_extension("roles"):
        Span.set_extension("roles", default=())
    for name in ("unit", "marks", "items"):
        if not Doc.has_extension(name):
            Doc.set_extension(name, default=None)


def _context(doc: Doc) -> dict[str, Any]:
    """What segment() told the pipeline about the unit a doc holds (a bare text gets the defaults)."""
    return doc._.unit or {}


@Language.factory(
    "scrutiny_sentences_v2",
    default_config={"abbreviations": ["cllr", "mr", "mrs", "ms", "dr", "st", "no", "e.g", "i.e"],
                    "final_abbreviations": ["etc", "a.m", "p.m"], "label_words": ["area", "appendix", "annex"],
                    "starters": ["The", "This", "We"], "weak_starters": ["In", "Following"],
                    "heading_words": 12, "trailing_heading_words": 8},
)
def make_sentences(nlp: Language, name: str, abbreviations: list[str], final_abbreviations: list[str],
                   label_words: list[str], starters: list[str], weak_starters: list[str], heading_words: int,
                   trailing_heading_words: int) -> "SentenceRules":
    _extensions()
    return SentenceRules(abbreviations, final_abbreviations, label_words, starters, weak_starters, heading_words,
                         trailing_heading_words)


class SentenceRules:
    """Sentence boundaries by rule, and which sentences are headings or furniture rather than statements.

    A boundary follows terminal punctuation (and any closing quote or bracket) when the next word can start
    a sentence and the full stop is not that of an abbreviation, an initial or a number. A line break the
    extractor flattened is found again where a sentence opener ("The", "We", "In this") follows a word with
    no punctuation; what stands before it, if short, was a heading."""

    def __init__(self, abbreviations: Iterable[str], final_abbreviations: Iterable[str],
                 label_words: Iterable[str], starters: Iterable[str], weak_starters: Iterable[str],
                 heading_words: int, trailing_heading_words: int) -> None:
        self.abbreviations = frozenset(a.lower().rstrip(".") for a in abbreviations)
        self.final_abbreviations = frozenset(a.lower().rstrip(".") for a in final_abbreviations)
        self.label_words = frozenset(w.lower() for w in label_words)
        self.starters = frozenset(starters)
        self.weak_starters = frozenset(weak_starters)
        self.heading_words = heading_words
        self.trailing_heading_words = trailing_heading_words

    # -- boundaries

    def _initial_ends(self, doc: Doc, i: int, letter_index: int) -> bool:
        """Does the full stop of an initial ('A.') at token i end a sentence? Only after a label word
        ('Area A.') or before an obvious sentence opener ('... of Appendix B. The')."""
        before = doc[letter_index - 1].lower_ if letter_index > 0 else ""
        k = i + 1
        while k < len(doc) and doc[k].is_space:
            k += 1
        nxt = doc[k].text if k < len(doc) else ""
        return before in self.label_words or nxt in self.starters

    def _ends(self, doc: Doc, i: int) -> str | None:
        """'yes', 'capital' (ends only before a capital letter) or None for token i."""
        t = doc[i].text
        if t in ("!", "?", "…", "...", "?!", "!?", "!!"):
            return "yes"
        if t == ".":
            if i == 0:
                return "yes"
            prev = doc[i - 1]
            if prev.whitespace_ or prev.is_space:
                return "yes"
            word = prev.lower_
            if word in self.abbreviations or re.fullmatch(r"(?:[a-z]\.){1,3}[a-z]", word):
                return None
            if word in self.final_abbreviations:
                return "capital"
            if len(prev.text) == 1 and prev.text.isupper():
                return "yes" if self._initial_ends(doc, i, i - 1) else None
            return "yes"
        if len(t) > 1 and t.endswith("."):
            base = t[:-1].lower()
            if base in self.abbreviations:
                return None
            if re.fullmatch(r"(?:[A-Z]\.){1,3}", t):
                return "yes" if self._initial_ends(doc, i, i) else None
            if base in self.final_abbreviations or re.fullmatch(r"(?:[a-z]\.)+[a-z]", base):
                return "capital"
            if re.fullmatch(r"[\d.,]+", t):
                return None
            return "yes"
        if len(t) > 1 and t[-1] in "!?":
            return "yes"
        return None

    def _lost_break(self, doc: Doc, i: int) -> bool:
        """Is token i a sentence opener glued to a previous line without punctuation ('Next steps We expect')?"""
        tok = doc[i]
        if i == 0:
            return False
        prev = doc[i - 1]
        if tok.text == "“" and (prev.is_upper or prev.like_num) and prev.whitespace_:
            return True  # a quotation after a title in capitals or a number ('PROGRAMME 2017-2020 “Working')
        if not tok.is_title:
            return False
        if prev.is_space or not (prev.is_alpha or prev.like_num or prev.text in (")", "’", "'")):
            return False
        if prev.lower_ in CONNECTORS or prev.lower_ in self.abbreviations or prev.text[:1] in "“\"":
            return False
        if tok.text in self.starters:
            return True
        if tok.text in self.weak_starters and i + 1 < len(doc):
            nxt = doc[i + 1].text
            return nxt[:1].islower() or nxt == ","
        return False

    def _caps_prefix(self, doc: Doc, start: int, end: int) -> int | None:
        """Index where an all-capitals heading run at the start of a sentence ends ('SAFE AT HOME we will')."""
        j, words, long = start, 0, False
        while j < end and (doc[j].is_upper and doc[j].is_alpha or doc[j].text in ("-", "–", "&", "'s", "’s")):
            if doc[j].is_alpha:
                words += 1
                long = long or len(doc[j].text) >= 4
            j += 1
        k = j
        while k < end and doc[k].is_space:
            k += 1
        if words >= 2 and long and k < end and doc[k].is_alpha and not doc[k].is_upper:
            return k
        return None

    def __call__(self, doc: Doc) -> Doc:
        n = len(doc)
        if n == 0:
            return doc
        starts = [False] * n
        starts[0] = True
        if _context(doc).get("kind") == "table_row":  # a row of a table is one statement
            for k, tok in enumerate(doc):
                tok.is_sent_start = starts[k]
            doc._.marks = {}
            return doc
        lost: set[int] = set()
        i = 0
        while i < n:
            ends = self._ends(doc, i)
            if ends:
                j = i + 1
                while j < n and doc[j].text in CLOSERS and not doc[j - 1].whitespace_:
                    j += 1
                k = j
                while k < n and doc[k].is_space:
                    k += 1
                if k < n and (doc[j - 1].whitespace_ or k > j or doc[k].text[:1] in OPENERS):
                    first = doc[k].text[:1]
                    if ends == "capital":
                        ok = first.isupper()
                    else:
                        ok = first.isupper() or first.isdigit() or first in OPENERS or first in "•·–-£„"
                    if ok:
                        starts[k] = True
                i = j
                continue
            if self._lost_break(doc, i):
                starts[i] = True
                lost.add(i)
            i += 1
        # an all-capitals heading run at the start of a sentence is split off
        heads: set[int] = set()
        for s in [k for k in range(n) if starts[k]]:
            e = next((k for k in range(s + 1, n) if starts[k]), n)
            j = self._caps_prefix(doc, s, e)
            if j is not None:
                starts[j] = True
                heads.add(s)
        if _context(doc).get("section"):  # "1.1 About us Care Inspectorate Wales is ..."
            j = self._numbered_heading(doc)
            if j is not None:
                starts[j] = True
                heads.add(0)
        for k, tok in enumerate(doc):
            tok.is_sent_start = starts[k]
        doc._.marks = self._marks(doc, lost, heads)
        return doc

    # -- headings and furniture

    def _marks(self, doc: Doc, lost: set[int], heads: set[int]) -> dict[int, str]:
        """Sentences (by start character) that are 'heading' or 'furniture', not statements."""
        unit = _context(doc)
        sents = list(doc.sents)
        marks: dict[int, str] = {}
        if TOC.search(doc.text):
            return {s.start_char: "furniture" for s in sents}
        texts = [s.text.strip() for s in sents]
        content = [k for k, t in enumerate(texts) if t]
        item = unit.get("kind") == "list_item"
        for k in content:
            s, t = sents[k], texts[k]
            words = t.split()
            nxt = sents[k + 1].start if k + 1 < len(sents) else None
            if not re.search(r"[^\W\d_]", t) or (not re.search(r"[a-zß-ÿ]", t) and len(words) <= 6 and not item):
                marks[s.start_char] = "heading" if _heading_text(t) else "furniture"
            elif item and len(content) == 1 and _furniture_line(t):
                marks[s.start_char] = "furniture"  # a list of dates or links, not of statements
            elif s.start in heads:
                marks[s.start_char] = "heading"
            elif nxt in lost and not TERMINAL.search(t) and self._titleish(t) and not (item and k == content[0]):
                marks[s.start_char] = "heading" if _heading_text(t) else "furniture"
        if item and unit.get("numbered") and len(content) == 1 and unit.get("next") in ("heading", "section"):
            t = texts[content[0]]
            if len(t.split()) <= 4 and not TERMINAL.search(t) and t[:1].isupper():
                marks[sents[content[0]].start_char] = "heading"  # "1. Introduction" over "1.1 ..."
        if unit.get("kind", "paragraph") != "paragraph":
            return marks
        left = [k for k in content if sents[k].start_char not in marks]
        if len(left) == 1 and len(content) == 1:
            t = texts[left[0]]
            # a last line in prose is a sentence the excerpt cut short, not a heading
            prose = unit.get("last") and (t[:1] in OPENERS or any(
                w[:1].islower() and w.lower() not in CONNECTORS for w in t.split()))
            if _furniture_line(t) or self._heading_like(t) and not prose:
                marks[sents[left[0]].start_char] = "heading" if _heading_text(t) else "furniture"
        elif left and not unit.get("last"):
            t = texts[left[-1]]
            if not TERMINAL.search(t) and not t.endswith(":") and len(t.split()) <= self.trailing_heading_words:
                marks[sents[left[-1]].start_char] = "heading" if _heading_text(t) else "furniture"
        return marks

    def _heading_like(self, text: str) -> bool:
        """A whole block that reads as a heading: no sentence punctuation and short or title-cased,
        a label ('Minutes:', 'Others in Attendance:') or a short question standing alone ('What is different?')."""
        words = text.split()
        if re.search(r":[-–]?$", text):
            label = [w for w in words if w.lower() not in CONNECTORS]
            return len(words) <= 3 and bool(label) and all(w[:1].isupper() for w in label) \
                and words[-1].rstrip(":-–").lower() not in CONNECTORS
        if text.endswith("?"):
            return len(words) <= 5
        if TERMINAL.search(text):
            return False
        return self._titleish(text)

    def _titleish(self, text: str) -> bool:
        """Short, or mostly capitalised words: a title, a name list, a byline."""
        words = text.split()
        if len(words) <= self.heading_words:
            return True
        alpha = [w for w in words if re.match(r"[^\W\d_]", w) and w.lower() not in CONNECTORS]
        capitalised = sum(w[:1].isupper() for w in alpha)
        return bool(alpha) and capitalised / len(alpha) >= 0.6

    def _numbered_heading(self, doc: Doc) -> int | None:
        """After a section number, a short heading runs into its first sentence: 'About us Care ...'.
        The heading ends where a capitalised word follows a lower-case one within the first six words."""
        toks = [t for t in doc[:8] if not t.is_space][:7]
        for a, b in zip(toks, toks[1:]):
            if not (a.is_alpha and b.is_alpha):
                return None
            if a.text.islower() and b.is_title:
                return b.i
        return None


def _furniture_line(text: str) -> bool:
    """A date, a number, a logo, a link or a bracketed aside on a line of its own."""
    t = text.strip()
    return bool(re.fullmatch(r"[\W\d_]*|\([^()]{0,30}\)|(?:\w+day,? )?\d{1,2}(?:st|nd|rd|th)? \w+ \d{4}|\d[\d /.-]+", t)
                or re.search(r"\blogo$|@|https?:|www\.", t, re.I))


def _heading_text(text: str) -> bool:
    """Is a heading-like line worth heading the statements below it? Not furniture, nor a line shaped
    like a sentence ("This was published under the 2016 to 2021 administration ...")."""
    words = text.split()
    return bool(words) and not _furniture_line(text) and not (
        words[0] in SENTENCE_OPENERS and len(words) >= 6
        and any(w[:1].islower() and w.lower() not in CONNECTORS for w in words))


@Language.factory("scrutiny_language_v1", default_config={"default": "en"})
def make_language(nlp: Language, name: str, default: str) -> "LanguageTagger":
    _extensions()
    return LanguageTagger(default)


class LanguageTagger:
    """The language (en, cy) of every sentence, by lingua (pipeline.language); batched across docs."""

    def __init__(self, default: str) -> None:
        self.default = default

    def __call__(self, doc: Doc) -> Doc:
        return next(iter(self.pipe([doc])))

    def pipe(self, docs: Iterable[Doc], batch_size: int = 128) -> Iterator[Doc]:
        for batch in minibatch(docs, batch_size):
            sents = [s for doc in batch for s in doc.sents]
            default = next((_context(d).get("language") for d in batch if _context(d).get("language")), self.default)
            for s, lang in zip(sents, detect_languages([s.text for s in sents], default=default)):
                # Welsh names can tip lingua on a short English sentence; English grammar words cannot
                if lang == "cy" and len({t.lower_ for t in s if t.is_stop and t.lower_ not in SHARED_WORDS}) >= 2:
                    lang = "en"
                s._.language = lang
            yield from batch


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


@Language.factory("scrutiny_entities_v1", default_config={"data_dir": None, "trained_pipeline": None})
def make_entities(nlp: Language, name: str, data_dir: str | None, trained_pipeline: str | None) -> "EntityTagger":
    _extensions()
    return EntityTagger(data_dir, trained_pipeline)


TRAINED_LABELS = {"PERSON": "PERSON", "ORG": "ORG", "GPE": "PLACE", "DATE": "DATE", "MONEY": "MONEY",
                  "PERCENT": "PERCENT"}


class EntityTagger:
    """People (with roles), organisations, councils, places, money, percentages and dates in English
    sentences, by the rules of pipeline.entities; Welsh sentences are skipped. With `trained_pipeline`
    (an installed package name or a path) its entities fill in where the rules found nothing."""

    def __init__(self, data_dir: str | None, trained_pipeline: str | None) -> None:
        self.data_dir = Path(data_dir) if data_dir else None
        self.trained_pipeline = trained_pipeline
        self._rules: EntityRules | None = None
        self._trained: Language | None = None

    def _load(self) -> None:
        self._rules = load_rules(self.data_dir) if self.data_dir else load_rules()
        if self.trained_pipeline:
            import spacy

            trained = spacy.load(self.trained_pipeline)
            keep = {"tok2vec", "transformer", "ner", "entity_ruler", "span_ruler"}
            trained.select_pipes(enable=[p for p in trained.pipe_names if p in keep])
            self._trained = trained

    def __call__(self, doc: Doc) -> Doc:
        if self._rules is None:
            self._load()
        assert self._rules is not None
        spans: list[Span] = []
        english = [s for s in doc.sents if s._.language in (None, "en")]
        for sent in english:
            for f in self._rules.find(sent.text):
                span = doc.char_span(sent.start_char + f.start, sent.start_char + f.end, label=f.label,
                                     alignment_mode="expand")
                if span is not None:
                    span._.value, span._.roles = f.value, f.roles
                    spans.append(span)
        if self._trained is not None and english:
            spans += self._trained_spans(doc, english, spans)
        doc.ents = filter_spans(spans)
        return doc

    def _trained_spans(self, doc: Doc, english: list[Span], found: list[Span]) -> list[Span]:
        assert self._trained is not None
        taken = [(s.start_char, s.end_char) for s in found]
        ranges = [(s.start_char, s.end_char) for s in english]
        out = []
        for ent in self._trained(doc.text).ents:
            label = TRAINED_LABELS.get(ent.label_)
            if label is None or not any(a <= ent.start_char < b for a, b in ranges):
                continue
            if any(not (ent.end_char <= a or ent.start_char >= b) for a, b in taken):
                continue
            span = doc.char_span(ent.start_char, ent.end_char, label=label, alignment_mode="expand")
            if span is None:
                continue
            span._.value = normalise_value(label, span.text)
            out.append(span)
        return out


@Language.factory(
    "scrutiny_statements_v1",
    default_config={"imperatives": ["ensure", "develop", "improve", "review"],
                    "noun_followers": ["of", "for", "was", "is", "has"]},
)
def make_statements(nlp: Language, name: str, imperatives: list[str], noun_followers: list[str]
                    ) -> "StatementTagger":
    _extensions()
    return StatementTagger(imperatives, noun_followers)


@dataclass(slots=True)
class Item:
    """What a sentence of a unit is, with offsets into the unit's text: a statement, a heading or a byline."""

    what: str  # statement | heading | byline
    text: str
    start: int
    end: int
    kind: str = "other"
    quoted: bool = False
    speaker: str | None = None
    language: str = "en"
    lemmas: str = ""
    entities: tuple[tuple[str, str, int, int, str, tuple[str, ...]], ...] = ()


class StatementTagger:
    """Turns the sentences of a unit into Items (doc._.items): statements with their kind (recommendation,
    finding, other), quotation, speaker, lemmas and entities, and the headings and bylines between them.

    Kinds and speakers come from English rules: a Welsh sentence is a finding (or other, if short) with no
    speaker. A sentence is quoted, in either language, when it starts within quotation marks or most of it
    lies within them; its speaker is the person next to a speech verb ('said Cllr Harris', 'Cllr Vaughan
    added:'). Quotes running on over paragraphs are joined up by segment(), which sees every unit."""

    def __init__(self, imperatives: Iterable[str], noun_followers: Iterable[str]) -> None:
        self.imperatives = frozenset(w.lower() for w in imperatives)
        self.noun_followers = frozenset(w.lower() for w in noun_followers)

    def __call__(self, doc: Doc) -> Doc:
        unit = _context(doc)
        marks = doc._.marks or {}
        inside = _inside_quotes(doc.text)
        ents = list(doc.ents)
        sents = [s for s in doc.sents if not s.text.isspace()]
        items: list[Item] = []
        previous = None
        for sent in sents:
            raw = sent.text
            body = raw.strip()
            lead = len(raw) - len(raw.lstrip())
            mark = marks.get(sent.start_char)
            if mark:
                if mark == "heading":
                    byline = _byline(sent) if len(sents) == 1 else None
                    items.append(Item("byline" if byline else "heading", byline or body, sent.start_char + lead,
                                      sent.start_char + lead + len(body)))
                continue
            marker = SECTION_MARKER.match(body)
            if marker:
                body, lead = body[marker.end():], lead + marker.end()
            if not re.search(r"[^\W\d_]", body):
                continue
            begin = sent.start_char + lead
            item = Item("statement", body, begin, begin + len(body), language=sent._.language or "en",
                        lemmas=" ".join(t.lemma_.lower() for t in sent if t.is_alpha and not t.is_stop))
            quoted = sum(inside[begin:sent.end_char])
            mine = [e for e in ents if begin <= e.start_char and e.end_char <= begin + len(body)]
            item.entities = tuple((e.label_, e.text, e.start_char, e.end_char, e._.value or e.text,
                                   tuple(e._.roles or ())) for e in mine)
            if item.language != "en":
                item.kind = "other" if len(body.split()) < 4 else "finding"
            else:
                item.speaker = self._speaker(doc.text, sent, mine, inside)
                item.kind = previous = self._kind(body, unit, previous)
            # within quotation marks from its start, mostly, or an attributed quote ('X said: "...')
            item.quoted = bool(inside[begin] or quoted * 2 >= len(body) or quoted and item.speaker)
            items.append(item)
        doc._.items = items
        return doc

    def _speaker(self, text: str, sent: Span, ents: list[Span], inside: list[bool]) -> str | None:
        people = [e for e in ents if e.label_ == "PERSON" and not inside[e.start_char]]
        if not people:
            return None
        for m in VERB.finditer(text, sent.start_char, sent.end_char):
            if inside[m.start()]:
                continue
            before = [p for p in people if p.end_char <= m.start() and m.start() - p.end_char <= 90
                      and not re.search(r"[“”\".!?;]", text[p.end_char:m.start()])]
            after = [p for p in people if p.start_char >= m.end() and p.start_char - m.end() <= 60
                     and not re.search(r"[“”\".!?;,]", text[m.end():p.start_char])]
            chosen = before[-1] if before else after[0] if after else None
            if chosen is not None:
                return normalise_person(chosen.text)
        return None

    def _kind(self, text: str, unit: dict[str, Any], previous: str | None) -> str:
        """The kind a sentence has by itself; segment() adds what its heading says."""
        words = text.split()
        first = re.sub(r"[^\w]", "", words[0]).lower() if words else ""
        second = re.sub(r"[^\w]", "", words[1]).lower() if len(words) > 1 else ""
        if first in self.imperatives and words[0][:1].isupper() and second not in self.noun_followers:
            return "recommendation"
        if previous == "recommendation" and re.match(r"(?:This|These) (?:includes?|means?|should|will)\b|To\b", text):
            return "recommendation"
        m = SHOULD.search(text)
        subject = text[: m.start()] if m else ""
        if (m and len(subject.split()) <= 8 and AUTHORITY_SUBJECT.search(subject) or NEED.match(text)) and \
                unit.get("doc_type", "other") in RECOMMENDING_DOC_TYPES:
            return "recommendation"
        if len(words) < 4 or unit.get("kind") == "table_row":
            return "other"
        return "finding"


def _byline(sent: Span) -> str | None:
    """A line that only names a person ('Cllr Rosemarie Harris, Leader of Powys County Council')."""
    people = [e for e in sent.ents if e.label_ == "PERSON"]
    if people and people[0].start_char - sent.start_char <= 1:
        return normalise_person(people[0].text)
    return None


def _inside_quotes(text: str) -> list[bool]:
    """For each character: is it within double quotation marks (curly, or straight ones taken in pairs)?"""
    inside, state = [False] * len(text), False
    for i, c in enumerate(text):
        if c == QUOTE_OPEN:
            state = True
        elif c == QUOTE_CLOSE:
            inside[i] = True
            state = False
            continue
        elif c == "\"":
            state = not state
            inside[i] = True
            continue
        inside[i] = state
    return inside
