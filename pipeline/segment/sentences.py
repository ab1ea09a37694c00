"""Sentence boundaries: the spaCy component that splits a unit of a document into sentences by rule (lists, headings,
quotes, abbreviations, furniture).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from typing import Any

import numpy as np
from spacy.attrs import SENT_START
from spacy.language import Language
from spacy.tokens import Doc, Span

BULLETS = "•·▪●◦■*–„-"


LIST_MARKER = re.compile(rf"^\s*(?:\(?\d{{1,2}}(?:\.\d{{1,2}})*[.)]|\(?[a-z][.)]|\(?[ivx]{{1,4}}[.)]|[{BULLETS}])\s+")


# a section number or a bullet glyph before a sentence in a paragraph ("1.2 We aim to:", "„ As part of ...")
SECTION_MARKER = re.compile(rf"^(?:\(?\d{{1,2}}(?:\.\d{{1,2}})+\)?|\d{{1,2}}\.|[{BULLETS}])\s+(?=[A-Z“\"‘(])")


INLINE_BULLETS = frozenset("•·▪●◦■")
SENTENCE_FINAL = frozenset(".!?…")  # the last character of every token that can end a sentence
LOGO = re.compile(r"^(?:[\w&'’-]+ ){0,4}logo(?=[A-Z])")


TOC = re.compile(r"(?:\.{4,}|…{2,}|(?:\. ){4,})\s*\d")


TERMINAL = re.compile(r"[.!?…][\"”’')\]]*$")


OPENERS = "\"“‘'(["


CLOSERS = ("”", "’", '"', "'", ")", "]")


CONNECTORS = frozenset(
    """and or of the to in for with by a an on at from as that which who whose including
between into under than their its our is are was were be been has have will would should must nor but""".split()
)


SHARED_WORDS = frozenset({"a", "i", "am", "at"})  # English stop words that are Welsh words too


SENTENCE_OPENERS = frozenset("The This These Those It Its We Our There They I You He She".split())


_EXTENSIONS_LOCK = threading.Lock()


def register_extensions() -> None:
    """Declare the attributes our components keep on spaCy's docs and spans (once per process). Locked: two
    threads building the pipeline at once would both find an attribute missing, and the second to declare it
    fails ("Extension 'language' already exists")."""
    with _EXTENSIONS_LOCK:
        for name in ("language", "value"):
            if not Span.has_extension(name):
                Span.set_extension(name, default=None)
        if not Span.has_extension("roles"):
            Span.set_extension("roles", default=())
        for name in ("unit", "marks", "items"):
            if not Doc.has_extension(name):
                Doc.set_extension(name, default=None)


_TEXT_KEY = "scrutiny_text"


def doc_text(doc: Doc) -> str:
    """The doc's text, joined from its tokens once and kept: spaCy's `Doc.text` and `Span.text` join every token
    in Python on each call, and the components read a unit's text once per sentence."""
    text = doc.user_data.get(_TEXT_KEY)
    if text is None:
        text = doc.user_data[_TEXT_KEY] = doc.text
    return text


def span_text(span: Span) -> str:
    """`span.text`, sliced from the doc's kept text."""
    return doc_text(span.doc)[span.start_char : span.end_char]


def _set_starts(doc: Doc, starts: list[bool]) -> None:
    """Mark sentence starts in one array write: setting `Token.is_sent_start` one token at a time checks the
    whole doc's annotation on every call."""
    values = np.where(np.array(starts, dtype=bool), 1, -1).astype(np.int64).astype(np.uint64)
    doc.from_array([SENT_START], values.reshape(-1, 1))  # type: ignore[arg-type]  # thinc types it Ints2d


def doc_context(doc: Doc) -> dict[str, Any]:
    """What segment() told the pipeline about the unit a doc holds (a bare text gets the defaults)."""
    return doc._.unit or {}


@Language.factory(
    "scrutiny_sentences_v2",
    default_config={
        "abbreviations": ["cllr", "mr", "mrs", "ms", "dr", "st", "no", "e.g", "i.e"],
        "final_abbreviations": ["etc", "a.m", "p.m"],
        "label_words": ["area", "appendix", "annex"],
        "starters": ["The", "This", "We"],
        "weak_starters": ["In", "Following"],
        "heading_words": 12,
        "trailing_heading_words": 8,
    },
)
def make_sentences(
    nlp: Language,
    name: str,
    abbreviations: list[str],
    final_abbreviations: list[str],
    label_words: list[str],
    starters: list[str],
    weak_starters: list[str],
    heading_words: int,
    trailing_heading_words: int,
) -> SentenceRules:
    register_extensions()
    return SentenceRules(
        abbreviations, final_abbreviations, label_words, starters, weak_starters, heading_words, trailing_heading_words
    )


class SentenceRules:
    """Sentence boundaries by rule, and which sentences are headings or furniture rather than statements.

    A boundary follows terminal punctuation (and any closing quote or bracket) when the next word can start
    a sentence and the full stop is not that of an abbreviation, an initial or a number. A line break the
    extractor flattened is found again where a sentence opener ("The", "We", "In this") follows a word with
    no punctuation; what stands before it, if short, was a heading."""

    def __init__(
        self,
        abbreviations: Iterable[str],
        final_abbreviations: Iterable[str],
        label_words: Iterable[str],
        starters: Iterable[str],
        weak_starters: Iterable[str],
        heading_words: int,
        trailing_heading_words: int,
    ) -> None:
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

    @staticmethod
    def _inline_bullet(doc: Doc, i: int) -> bool:
        """Is token i a bullet glyph standing between words ('includes: · Cllr Harris · Carl Cooper')? A list the
        extractor ran into one paragraph (an HTML list flattened, a PDF's items joined): each bullet starts an
        item. Dashes are not taken for bullets here: prose uses them."""
        return (
            0 < i < len(doc) - 1
            and doc[i].text in INLINE_BULLETS
            and bool(doc[i - 1].whitespace_)
            and bool(doc[i].whitespace_)
        )

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
        if prev.lower_ in CONNECTORS or prev.lower_ in self.abbreviations or prev.text[:1] in '“"':
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
        if doc_context(doc).get("kind") == "table_row":  # a row of a table is one statement
            _set_starts(doc, starts)
            doc._.marks = {}
            return doc
        lost: set[int] = set()
        # each token's text read once: most tokens end no sentence, open no item and follow no lost break, and
        # these tests on the text alone rule them out without building spaCy's Token objects again
        texts = [t.text for t in doc]
        i = 0
        while i < n:
            t = texts[i]
            ends = self._ends(doc, i) if t[-1:] in SENTENCE_FINAL else None
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
            if t in INLINE_BULLETS and self._inline_bullet(doc, i):
                starts[i] = True  # a list run into one paragraph: "includes: · A · B" is one item per bullet
            elif (t == "“" or t.istitle()) and self._lost_break(doc, i):
                starts[i] = True
                lost.add(i)
            i += 1
        # an all-capitals heading run at the start of a sentence is split off
        heads: set[int] = set()
        for s in [k for k in range(n) if starts[k]]:
            e = next((k for k in range(s + 1, n) if starts[k]), n)
            cut = self._caps_prefix(doc, s, e)
            if cut is not None:
                starts[cut] = True
                heads.add(s)
        if doc_context(doc).get("section"):  # "1.1 About us Care Inspectorate Wales is ..."
            cut = self._numbered_heading(doc)
            if cut is not None:
                starts[cut] = True
                heads.add(0)
        _set_starts(doc, starts)
        doc._.marks = self._marks(doc, lost, heads)
        return doc

    # -- headings and furniture

    def _marks(self, doc: Doc, lost: set[int], heads: set[int]) -> dict[int, str]:
        """Sentences (by start character) that are 'heading' or 'furniture', not statements."""
        unit = doc_context(doc)
        sents = list(doc.sents)
        marks: dict[int, str] = {}
        if TOC.search(doc_text(doc)):
            return {s.start_char: "furniture" for s in sents}
        texts = [span_text(s).strip() for s in sents]
        content = [k for k, t in enumerate(texts) if t]
        item = unit.get("kind") == "list_item"
        for k in content:
            s, t = sents[k], texts[k]
            words = t.split()
            nxt = sents[k + 1].start if k + 1 < len(sents) else None
            if not re.search(r"[^\W\d_]", t) or (not re.search(r"[a-zß-ÿ]", t) and len(words) <= 6 and not item):
                marks[s.start_char] = "heading" if heading_text(t) else "furniture"
            elif item and len(content) == 1 and _furniture_line(t):
                marks[s.start_char] = "furniture"  # a list of dates or links, not of statements
            elif s.start in heads:
                marks[s.start_char] = "heading"
            elif nxt in lost and not TERMINAL.search(t) and self._titleish(t) and not (item and k == content[0]):
                marks[s.start_char] = "heading" if heading_text(t) else "furniture"
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
            prose = unit.get("last") and (
                t[:1] in OPENERS or any(w[:1].islower() and w.lower() not in CONNECTORS for w in t.split())
            )
            if _furniture_line(t) or self._heading_like(t) and not prose:
                marks[sents[left[0]].start_char] = "heading" if heading_text(t) else "furniture"
        elif left and not unit.get("last"):
            t = texts[left[-1]]
            if not TERMINAL.search(t) and not t.endswith(":") and len(t.split()) <= self.trailing_heading_words:
                marks[sents[left[-1]].start_char] = "heading" if heading_text(t) else "furniture"
        return marks

    def _heading_like(self, text: str) -> bool:
        """A whole block that reads as a heading: no sentence punctuation and short or title-cased,
        a label ('Minutes:', 'Others in Attendance:') or a short question standing alone ('What is different?')."""
        words = text.split()
        if re.search(r":[-–]?$", text):
            label = [w for w in words if w.lower() not in CONNECTORS]
            return (
                len(words) <= 3
                and bool(label)
                and all(w[:1].isupper() for w in label)
                and words[-1].rstrip(":-–").lower() not in CONNECTORS
            )
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
    return bool(
        re.fullmatch(r"[\W\d_]*|\([^()]{0,30}\)|(?:\w+day,? )?\d{1,2}(?:st|nd|rd|th)? \w+ \d{4}|\d[\d /.-]+", t)
        or re.search(r"\blogo$|@|https?:|www\.", t, re.I)
    )


def heading_text(text: str) -> bool:
    """Is a heading-like line worth heading the statements below it? Not furniture, nor a line shaped
    like a sentence ("This was published under the 2016 to 2021 administration ...")."""
    words = text.split()
    return (
        bool(words)
        and not _furniture_line(text)
        and not (
            words[0] in SENTENCE_OPENERS
            and len(words) >= 6
            and any(w[:1].islower() and w.lower() not in CONNECTORS for w in words)
        )
    )
