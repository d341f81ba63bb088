"""How indexed text and query words are analysed: tokenise, lowercase, drop stop
words, Porter-stem.  Query words and snippets go through the same steps."""

from __future__ import annotations

import functools
from typing import Any

from whoosh.analysis import LowercaseFilter, RegexTokenizer, StemFilter, StopFilter
from whoosh.lang import porter

from clipsearch.words import STOP_WORDS, TOKEN_PATTERN


@functools.lru_cache(maxsize=500_000)
def stem(word: str) -> str:
    """Porter stem of a lowercase word, cached (stemming dominates analysis)."""
    return porter.stem(word)


def text_analyzer() -> Any:
    """The analyzer of every text field (with an unbounded stem cache: a news
    vocabulary is a few hundred thousand words)."""
    return (
        RegexTokenizer(TOKEN_PATTERN)
        | LowercaseFilter()
        | StopFilter(stoplist=STOP_WORDS, minsize=1)
        | StemFilter(stemfn=stem, cachesize=None)
    )


def analyze_word(word: str) -> str | None:
    """One lowercase word as the index analyses it (None for a stop word)."""
    if word in STOP_WORDS:
        return None
    return stem(word)
