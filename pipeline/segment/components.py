"""Our spaCy components after sentences: language of each sentence, lemma case, entities and statement kinds with
quote speakers. Importing this module registers them (and the sentence component).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spacy.attrs import IS_STOP, LOWER
from spacy.language import Language
from spacy.lookups import Table
from spacy.pipeline import Lemmatizer
from spacy.tokens import Doc, Span
from spacy.util import filter_spans, minibatch

from pipeline.lexicon.language import LANGUAGES, detect_languages
from pipeline.segment.entities import SPEECH_VERBS, EntityRules, load_rules, normalise_value
from pipeline.segment.people import normalise_person
from pipeline.segment.sentences import (
    SECTION_MARKER,
    SHARED_WORDS,
    doc_context,
    doc_text,
    register_extensions,
    span_text,
)

QUOTE_OPEN, QUOTE_CLOSE = "“", "”"


RECOMMENDATION_HEADING = re.compile(
    r"recommendation|areas? for (?:improvement|development)|priority (?:areas?|improvement)|"
    r"what needs to (?:improve|happen)|required actions?|actions? required|argymhellion|meysydd i'w gwella",
    re.I,
)


SHOULD = re.compile(r"\b(?:should|must|needs? to|is required to|are required to|will need to|ought to)\b", re.I)


NEED = re.compile(r"^there (?:is|remains) (?:a |an )?(?:clear |continuing |urgent )?need (?:to|for)\b", re.I)


AUTHORITY_SUBJECT = re.compile(
    r"\b(?:local authority|council|authority|service|managers?|leaders?|the department|"
    r"senior leaders|partners|the board|it)\b",
    re.I,
)


RECOMMENDING_DOC_TYPES = frozenset(
    {"inspection_report", "government_statement", "other", "council_report", "improvement_plan"}
)


VERB = re.compile(r"\b(?:" + "|".join(SPEECH_VERBS) + r"|went on to say|according to)\b")
# What may stand between a speech verb and the name it introduces: "said the council's leader, Cllr ...".
APPOSITION = re.compile(r"\s+(?:(?:the|a|an|its|their|our|his|her)\s+)?[^“”\".!?;,]{0,60},\s*")
PRONOUN = re.compile(r"\b(?:he|she|they|I|we)\s*$|^\s*(?:he|she|they)\b", re.I)


@Language.factory("scrutiny_language_v1", default_config={"default": "en"})
def make_language(nlp: Language, name: str, default: str) -> LanguageTagger:
    register_extensions()
    return LanguageTagger(default)


class LanguageTagger:
    """The language (en, cy) of every sentence, by lingua (pipeline.lexicon.language); batched across docs."""

    def __init__(self, default: str) -> None:
        self.default = default

    def __call__(self, doc: Doc) -> Doc:
        return next(iter(self.pipe([doc])))

    def pipe(self, docs: Iterable[Doc], batch_size: int = 128) -> Iterator[Doc]:
        for batch in minibatch(docs, batch_size):
            default = next((lang for d in batch if (lang := doc_context(d).get("language"))), self.default)
            # Welsh names can tip lingua on a short English sentence; English grammar words cannot: a sentence
            # with two of them is English. Lingua answers English or Welsh, or the default when unsure, so with
            # an English or Welsh default such a sentence is English whatever lingua says, and it is not asked.
            grammar = {id(doc): _english_grammar(doc) for doc in batch}
            settled = default in LANGUAGES
            asked: list[Span] = []
            for doc in batch:
                for s in doc.sents:
                    if settled and grammar[id(doc)](s):
                        s._.language = "en"
                    else:
                        asked.append(s)
            for s, lang in zip(asked, detect_languages([span_text(s) for s in asked], default=default)):
                s._.language = "en" if lang == "cy" and not settled and grammar[id(s.doc)](s) else lang
            yield from batch


def _english_grammar(doc: Doc) -> Callable[[Span], bool]:
    """A test of a sentence of `doc`: does it hold at least two different English stop words that are not also
    Welsh words? Read from the doc's arrays, without building a Token per word."""
    table = doc.to_array([LOWER, IS_STOP])
    shared = {doc.vocab.strings[w] for w in SHARED_WORDS}

    def test(s: Span) -> bool:
        rows = table[s.start : s.end]
        return len(set(rows[rows[:, 1] != 0, 0].tolist()) - shared) >= 2

    return test


@Language.factory("scrutiny_lemma_case_v1")
def make_lemma_case(nlp: Language, name: str) -> LemmaCase:
    return LemmaCase(nlp)


class LemmaCase:
    """The lookup table is case-sensitive: a capitalised word at the start of a sentence
    ("Children were ...") gets the lemma of its lower-case form."""

    def __init__(self, nlp: Language) -> None:
        self.nlp = nlp
        self._table: Table | None = None

    def __call__(self, doc: Doc) -> Doc:
        if self._table is None:
            lemmatizer = self.nlp.get_pipe("lemmatizer")
            assert isinstance(lemmatizer, Lemmatizer), "the pipeline's lemmatizer is spaCy's lookup lemmatizer"
            self._table = lemmatizer.lookups.get_table("lemma_lookup")
        for t in doc:
            if t.lemma_ == t.text and not t.text.islower() and t.text[:1].isupper():
                lower = t.text.lower()
                t.lemma_ = self._table.get(lower, lower)
        return doc


@Language.factory("scrutiny_entities_v1", default_config={"data_dir": None, "trained_pipeline": None})
def make_entities(nlp: Language, name: str, data_dir: str | None, trained_pipeline: str | None) -> EntityTagger:
    register_extensions()
    return EntityTagger(data_dir, trained_pipeline)


TRAINED_LABELS = {
    "PERSON": "PERSON",
    "ORG": "ORG",
    "GPE": "PLACE",
    "DATE": "DATE",
    "MONEY": "MONEY",
    "PERCENT": "PERCENT",
}


class EntityTagger:
    """People (with roles), organisations, councils, places, money, percentages and dates in English
    sentences, by the rules of pipeline.segment.entities; Welsh sentences are skipped. With `trained_pipeline`
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
            for f in self._rules.find(span_text(sent)):
                span = doc.char_span(
                    sent.start_char + f.start, sent.start_char + f.end, label=f.label, alignment_mode="expand"
                )
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
        for ent in self._trained(doc_text(doc)).ents:
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
    default_config={
        "imperatives": ["ensure", "develop", "improve", "review"],
        "noun_followers": ["of", "for", "was", "is", "has"],
    },
)
def make_statements(nlp: Language, name: str, imperatives: list[str], noun_followers: list[str]) -> StatementTagger:
    register_extensions()
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
    attributed: bool = False  # a speech verb outside quotation marks gives the words to someone (not "he added")
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
        unit = doc_context(doc)
        marks = doc._.marks or {}
        text = doc_text(doc)
        inside = _inside_quotes(text)
        ents = list(doc.ents)
        sents = [s for s in doc.sents if not span_text(s).isspace()]
        items: list[Item] = []
        previous = None
        for sent in sents:
            raw = span_text(sent)
            body = raw.strip()
            lead = len(raw) - len(raw.lstrip())
            mark = marks.get(sent.start_char)
            if mark:
                if mark == "heading":
                    byline = _byline(sent) if len(sents) == 1 else None
                    items.append(
                        Item(
                            "byline" if byline else "heading",
                            byline or body,
                            sent.start_char + lead,
                            sent.start_char + lead + len(body),
                        )
                    )
                continue
            marker = SECTION_MARKER.match(body)
            if marker:
                body, lead = body[marker.end() :], lead + marker.end()
            if not re.search(r"[^\W\d_]", body):
                continue
            begin = sent.start_char + lead
            item = Item(
                "statement",
                body,
                begin,
                begin + len(body),
                language=sent._.language or "en",
                lemmas=" ".join(t.lemma_.lower() for t in sent if t.is_alpha and not t.is_stop),
            )
            quoted = sum(inside[begin : sent.end_char])
            mine = [e for e in ents if begin <= e.start_char and e.end_char <= begin + len(body)]
            item.entities = tuple(
                (e.label_, e.text, e.start_char, e.end_char, e._.value or e.text, tuple(e._.roles or ())) for e in mine
            )
            if item.language != "en":
                item.kind = "other" if len(body.split()) < 4 else "finding"
            else:
                item.speaker = self._speaker(text, sent, mine, inside)
                item.attributed = item.speaker is not None or self._attributed(text, sent, inside)
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
            before = [
                p
                for p in people
                if p.end_char <= m.start()
                and m.start() - p.end_char <= 90
                and not re.search(r"[“”\".!?;]", text[p.end_char : m.start()])
            ]
            after = [
                p
                for p in people
                if p.start_char >= m.end()
                and p.start_char - m.end() <= 80
                and (
                    not re.search(r"[“”\".!?;,]", text[m.end() : p.start_char])
                    or APPOSITION.fullmatch(text[m.end() : p.start_char])
                )
            ]
            chosen = before[-1] if before else after[0] if after else None
            if chosen is not None:
                return normalise_person(chosen.text)
        return None

    @staticmethod
    def _attributed(text: str, sent: Span, inside: list[bool]) -> bool:
        """Does the sentence give its words to someone by a speech verb outside quotation marks, other than by a
        pronoun ("he added")? Then a quote in it is not the previous speaker's running on."""
        for m in VERB.finditer(text, sent.start_char, sent.end_char):
            if inside[m.start()]:
                continue
            if PRONOUN.search(text[max(sent.start_char, m.start() - 12) : m.start()]) or PRONOUN.match(
                text[m.end() : m.end() + 8]
            ):
                continue
            return True
        return False

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
        if (m and len(subject.split()) <= 8 and AUTHORITY_SUBJECT.search(subject) or NEED.match(text)) and unit.get(
            "doc_type", "other"
        ) in RECOMMENDING_DOC_TYPES:
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
        elif c == '"':
            state = not state
            inside[i] = True
            continue
        inside[i] = state
    return inside
