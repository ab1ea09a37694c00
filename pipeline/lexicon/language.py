"""Language of a text (English or Welsh), by lingua restricted to the languages we meet.

Restricting lingua to English and Welsh keeps its models small (about 100 MB
instead of 1.3 GB) and its answers sharp. Very short texts fall back to a count
of Welsh function words, which lingua cannot judge on a few characters.
"""

from __future__ import annotations

import re
from functools import lru_cache

LANGUAGES = ("en", "cy")
_WELSH_WORDS = frozenset(
    "a ac am ar at bod bydd byddwn cael dan dros ei eich ein eu fel gan gyda hefyd hwn hyn hynny i mae maen "
    "mewn nad nid ni o oedd os pan pob sydd sy wedi y yn yr ydy ydym ydyn wrth ynghylch gwasanaethau cyngor "
    "plant oedolion gofal cymdeithasol arolygiaeth llywodraeth cymru".split()
)
_ENGLISH_WORDS = frozenset(
    "the and of to in is was for that with on by be are as at this from have has it not an which were "
    "will should council services children".split()
)
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


@lru_cache(maxsize=1)
def _detector():
    from lingua import Language, LanguageDetectorBuilder

    return LanguageDetectorBuilder.from_languages(Language.ENGLISH, Language.WELSH).build()


def _by_words(words: list[str]) -> str | None:
    cy = sum(w in _WELSH_WORDS for w in words)
    en = sum(w in _ENGLISH_WORDS for w in words)
    if cy == en:
        return None
    return "cy" if cy > en else "en"


def detect_language(text: str, default: str = "en") -> str:
    """'en' or 'cy' for a statement or document text."""
    words = [w.lower() for w in _WORD.findall(text)]
    if not words:
        return default
    if len(words) < 4:
        return _by_words(words) or default
    from lingua import Language

    result = _detector().detect_language_of(text[:5000])
    if result == Language.WELSH:
        return "cy"
    if result == Language.ENGLISH:
        return "en"
    return _by_words(words) or default


def detect_languages(texts: list[str], default: str = "en") -> list[str]:
    """Batch form of `detect_language` (lingua runs a batch in parallel)."""
    from lingua import Language

    out: list[str | None] = [None] * len(texts)
    long_idx = []
    for i, t in enumerate(texts):
        words = [w.lower() for w in _WORD.findall(t)]
        if len(words) < 4:
            out[i] = (_by_words(words) if words else None) or default
        else:
            long_idx.append(i)
    if long_idx:
        results = _detector().detect_languages_in_parallel_of([texts[i][:5000] for i in long_idx])
        for i, r in zip(long_idx, results):
            out[i] = "cy" if r == Language.WELSH else "en" if r == Language.ENGLISH else default
    return [o or default for o in out]
