"""How indexed text and query words are analysed, per language: NFKC, tokenise, fold
case and accents, cut Chinese, Japanese and Korean runs into character pairs, drop
the language's stop words, stem with its Snowball stemmer.  Query words and snippets
go through the same steps.

English is analysed exactly as before languages existed (Lucene's stop words, the
Porter stemmer), plus folding; other languages Snowball covers use PyStemmer (C),
or Whoosh's pure-Python Snowball stemmers when PyStemmer is not installed, with
Whoosh's stop-word lists where it has one; every other language, and `und`, is
folded only (no stemming, no stop words), which is always safe.

The writer hands each text field a `LanguageText`, which carries its clip's
language; a plain string (a query, a field searched as `title:word`) is analysed
as English unless a language is named."""

from __future__ import annotations

import functools
import pickle
import struct
from collections.abc import Callable, Iterable
from typing import Any

from whoosh.analysis import (
    Analyzer,
    Filter,
    LowercaseFilter,
    RegexTokenizer,
    StemFilter,
    StopFilter,
)
from whoosh.lang import porter

from clipsearch.folding import (
    cjk_pieces,
    fold,
    fold_words,
    has_cjk,
    normalise,
    plain_punctuation,
)
from clipsearch.words import STOP_WORDS, TOKEN, TOKEN_PATTERN, ascii_tokens

ENGLISH = "en"
#: Snowball's algorithms by ISO 639-1 code (English is the Porter stemmer, above).
SNOWBALL = {
    "ar": "arabic", "ca": "catalan", "cs": "czech", "da": "danish", "de": "german",
    "el": "greek", "es": "spanish", "et": "estonian", "eu": "basque", "fa": "persian",
    "fi": "finnish", "fr": "french", "ga": "irish", "hi": "hindi", "hu": "hungarian",
    "hy": "armenian", "id": "indonesian", "it": "italian", "lt": "lithuanian",
    "ne": "nepali", "nl": "dutch", "no": "norwegian", "pl": "polish", "pt": "portuguese",
    "ro": "romanian", "ru": "russian", "sr": "serbian", "sv": "swedish", "ta": "tamil",
    "tr": "turkish", "yi": "yiddish",
}  # fmt: skip


#: Porter stems kept at most (then the cache starts over): bounds its memory.
STEM_CACHE = 500_000


class _Stems(dict):
    """Porter stems by word, each computed on first sight (stemming dominates
    analysis).  `map` over its `__getitem__` is a look-up in C per word, 2.5x
    faster than calls to a functools.lru_cache, which also keeps an LRU order."""

    def __missing__(self, word: str) -> str:
        if len(self) >= STEM_CACHE:
            self.clear()
        found = self[word] = porter.stem(word)
        return found


_STEMS = _Stems()


def stem(word: str) -> str:
    """Porter stem of a lowercase word, cached."""
    return _STEMS[word]


class LanguageText(str):
    """A field's text with the language of its clip, as the writer hands it to the
    analyzer (the stored value is the plain text)."""

    language: str

    def __new__(cls, text: str, language: str = ENGLISH) -> LanguageText:
        obj = super().__new__(cls, text)
        obj.language = language
        return obj

    def __reduce__(self) -> Any:  # the multi-process writer pickles documents
        return (LanguageText, (str(self), self.language))


class FoldFilter(Filter):
    """Case and accent folding, and CJK runs as overlapping character pairs.  On ASCII
    words it is Whoosh's LowercaseFilter, so English text indexes as it always did."""

    def __call__(self, tokens: Iterable[Any]) -> Iterable[Any]:
        for t in tokens:
            text = t.text
            if text.isascii():
                t.text = text.lower()
                yield t
                continue
            text = fold(text)
            if not has_cjk(text):
                t.text = text
                yield t
                continue
            start = t.startchar if t.chars else 0
            for piece, offset in cjk_pieces(text):
                t.text = piece
                if t.chars:
                    t.startchar, t.endchar = start + offset, start + offset + len(piece)
                yield t


class ClipAnalyzer(Analyzer):
    """The analyzer of every text field: the chain of the text's language.

    Part of the on-disk format: Whoosh pickles the schema into every commit with this
    class's import path, so it must stay importable under its name; it holds no
    state (the chains are built per process)."""

    def __call__(self, value: Any, **kwargs: Any) -> Any:
        language = getattr(value, "language", ENGLISH)
        text = str(value)
        if text.isascii():  # nothing to fold: Whoosh's own lowercasing is faster
            return chain(language, True)(text, **kwargs)
        return chain(language)(normalise(text), **kwargs)

    def analyze(self, text: str, language: str = ENGLISH) -> list[str]:
        """The terms `text` makes in a clip of `language`."""
        return [t.text for t in self(LanguageText(text, language))]


def text_analyzer() -> Any:
    """The analyzer of every text field."""
    return ClipAnalyzer()


@functools.cache
def chain(language: str, ascii_only: bool = False) -> Any:
    """The token chain of one language (built once per process); for ASCII text it
    lowercases with Whoosh's LowercaseFilter, which is what folding does to ASCII, so
    English ASCII text goes through the very chain of schema version 1."""
    stops, stem_fn = _stop_words(language), stemmer(language)
    fold_filter = LowercaseFilter() if ascii_only else FoldFilter()
    # The StopFilter always runs: it numbers positions, pairs of a CJK run included.
    out = RegexTokenizer(TOKEN_PATTERN) | fold_filter | StopFilter(stoplist=stops, minsize=1)
    if stem_fn is not None:
        out = out | StemFilter(stemfn=stem_fn, cachesize=None)
    return out


def positions(value: Any) -> dict[str, list[int]]:
    """Each term `ClipAnalyzer` makes of `value` (a LanguageText; a plain string is
    English) with its positions, in order of first occurrence: what the writer
    indexes, computed with a pass over the words instead of a Token object passed
    through four generators per word.  Exactly the chain's terms and positions
    (tests compare the two): the StopFilter numbers the first kept token with its
    tokenizer position and each later one with the next number."""
    language = getattr(value, "language", ENGLISH)
    text = str(value)
    stops, stem_fn = _stop_words(language), stemmer(language)
    if not text.isascii():
        text = plain_punctuation(text)  # the same tokens, and mostly an ASCII text
    if text.isascii():  # the chain's LowercaseFilter
        return _numbered(ascii_tokens(text.lower()), stops, stem_fn)
    text = normalise(text)
    if not has_cjk(text):  # FoldFilter, one term a token (folding makes no CJK)
        return _numbered(fold_words(TOKEN.findall(text)), stops, stem_fn)
    out: dict[str, list[int]] = {}
    pos = -1
    for i, token in enumerate(TOKEN.findall(text)):
        word = fold(token)
        for piece in (word,) if not has_cjk(word) else _pairs(word):
            if not piece or piece in stops:  # StopFilter(minsize=1)
                continue
            pos = i if pos < 0 else pos + 1
            term = piece if stem_fn is None else stem_fn(piece)
            out.setdefault(term, []).append(pos)
    return out


def _numbered(
    words: list[str], stops: frozenset[str], stem_fn: Callable[[str], str] | None
) -> dict[str, list[int]]:
    """`positions` of a text whose every token makes one word (or none: a stop word,
    or nothing left after folding)."""
    out: dict[str, list[int]] = {}
    kept = [w for w in words if w and w not in stops]
    if not kept:
        return out
    first = 0
    while not words[first] or words[first] in stops:
        first += 1
    for pos, term in enumerate(kept if stem_fn is None else map(stem_fn, kept), first):
        found = out.get(term)
        if found is None:
            out[term] = [pos]
        else:
            found.append(pos)
    return out


def _pairs(word: str) -> list[str]:
    return [piece for piece, _offset in cjk_pieces(word)]


_pack_uint = struct.Struct("!I").pack
#: Encoded positions of a term found once, by position (most terms of a clip).
_ONCE: dict[int, bytes] = {}


def encoded_positions(found: list[int]) -> bytes:
    """Positions as Whoosh's Positions format encodes them (a count, then the
    pickled deltas), the value of a term found once kept."""
    if len(found) == 1:
        pos = found[0]
        value = _ONCE.get(pos)
        if value is None:
            value = _pack_uint(1) + pickle.dumps(found, 2)
            if pos < 65536:
                _ONCE[pos] = value
        return value
    deltas = [found[0]]
    deltas += [b - a for a, b in zip(found, found[1:], strict=False)]
    return _pack_uint(len(found)) + pickle.dumps(deltas, 2)


def index_postings(value: Any, field_boost: float = 1.0) -> list[tuple[bytes, int, float, bytes]]:
    """What Whoosh's Positions format yields for `value` analysed by ClipAnalyzer
    (term bytes, frequency, weight, encoded positions): `field.index` of a text
    field, made of `positions`."""
    return [
        (term.encode("utf-8"), len(found), len(found) * field_boost, encoded_positions(found))
        for term, found in positions(value).items()
    ]


def index_columns(
    value: Any, field_boost: float = 1.0
) -> tuple[list[str], list[int], list[float], list[bytes]]:
    """`index_postings` as four lists (terms, frequencies, weights, encoded
    positions): what a writer keeping its postings in arrays takes, without a
    tuple per term made and taken apart.  The terms are text, each one encodable as
    UTF-8 (checked here, as encoding them would): most are the stem cache's own
    strings, whose hashes a writer numbering its terms gets without computing them,
    and a writer encodes each distinct term once, not each posting's."""
    found = positions(value)
    if not value.isascii():  # (an ASCII text makes ASCII terms)
        "".join(found).encode("utf-8")  # a lone surrogate fails here, as encode() did
    lists = list(found.values())
    freqs = list(map(len, lists))
    # Integer weights are the floats a writer's float64 array makes of them.
    weights: list[Any] = freqs if field_boost == 1.0 else [f * field_boost for f in freqs]
    once = _ONCE.get  # encoded_positions' own cache, looked up without a call
    values = [(once(p[0]) if len(p) == 1 else None) or encoded_positions(p) for p in lists]
    return list(found), freqs, weights, values


def analyze_word(word: str, language: str = ENGLISH) -> str | None:
    """One word as a clip of `language` indexes it (None for a stop word)."""
    word = fold(word)
    if word in _stop_words(language):
        return None
    stem_fn = stemmer(language)
    return word if stem_fn is None else stem_fn(word)


def stems(language: str) -> bool:
    """Whether words of `language` are stemmed (else they are only folded)."""
    return stemmer(language) is not None


@functools.cache
def stemmer(language: str) -> Callable[[str], str] | None:
    """The stem function of a language, cached; None when it has none."""
    if language == ENGLISH:
        return _STEMS.__getitem__  # `stem` without a Python call per word
    name = SNOWBALL.get(language)
    if name is None:
        return None
    try:
        import Stemmer  # PyStemmer: Snowball in C
    except ImportError:
        return _whoosh_stemmer(language)
    return Stemmer.Stemmer(name, 100_000).stemWord


def _whoosh_stemmer(language: str) -> Callable[[str], str] | None:
    from whoosh.lang import NoStemmer, stemmer_for_language

    try:
        return functools.lru_cache(maxsize=100_000)(stemmer_for_language(language))
    except NoStemmer:
        return None


@functools.cache
def _stop_words(language: str) -> frozenset[str]:
    if language == ENGLISH:
        return STOP_WORDS
    if language not in SNOWBALL:
        return frozenset()
    from whoosh.lang.stopwords import stoplists

    return frozenset(fold(w) for w in stoplists.get(language, ()))
