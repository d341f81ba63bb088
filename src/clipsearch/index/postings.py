"""The terms of one commit as query compilation sees them: analysis in the index's
languages, the vocabulary of a field, what a prefix expands to.  (Posting lists, as
arrays, are posting_arrays.py's.)"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from clipsearch.index.analysis import ENGLISH, analyze_word
from clipsearch.index.schema import TEXT_FIELDS


class Terms:
    """The terms of one commit, as query compilation sees them: analysis, the terms of
    a field, prefix expansion.  A narrow view, so compiling needs no snapshot.

    A query is analysed in each language of the index (`languages`, most clips
    first), or only in those it is `narrowed` to; the first of them, the main
    language, decides what is a stop word."""

    def __init__(
        self,
        reader: Any,
        schema: Any,
        languages: Callable[[], Sequence[str]] | None = None,
        frequencies: Callable[[list[tuple[str, str]]], list[int]] | None = None,
    ):
        self._reader = reader
        # Document frequencies of (field, term) pairs, deleted documents counted: the
        # derived postings answer from their offsets, cheaper than Whoosh's term table.
        self._frequencies = frequencies
        self._schema = schema
        self._analyzer = schema["title"].analyzer
        self._index_languages = languages or (lambda: (ENGLISH,))
        self._narrowed: tuple[str, ...] = ()

    def narrowed(self, languages: Sequence[str]) -> Terms:
        """The same terms, with queries analysed in `languages` only."""
        out = copy.copy(self)
        out._narrowed = tuple(languages)
        return out

    def languages(self) -> Sequence[str]:
        """The languages a query is analysed in, the main one first."""
        return self._narrowed or self._index_languages() or (ENGLISH,)

    def analyze(self, text: str) -> list[str]:
        """Text as the index's main language analyses it."""
        return self._analyze(text, self.languages()[0])

    def _analyze(self, text: str, language: str) -> list[str]:
        # A query word of ASCII letters and digits is one token, lowercased, kept
        # unless a stop word, stemmed: `analyze_word`, without the analyzer's
        # token objects (a query analyses its words several times, in each language).
        if text.isascii() and text.isalnum():
            token = analyze_word(text, language)
            return [] if token is None else [token]
        return self._analyzer.analyze(text, language)

    def analyses(self, text: str) -> list[list[str]]:
        """The distinct token lists a query must search for `text`: its analysis in
        the main language (none when that takes it for stop words), then in each
        other language, when different and present in the index."""
        languages = self.languages()
        main = self._analyze(text, languages[0])
        if not main:
            return []
        out = [main]
        for language in languages[1:]:
            tokens = self._analyze(text, language)
            if tokens and tokens not in out and self._occurs(tokens):
                out.append(tokens)
        return out

    def _occurs(self, tokens: Sequence[str]) -> bool:
        return len(self.occurring(tokens)) == len(set(tokens))

    def occurring(self, tokens: Iterable[str]) -> set[str]:
        """The tokens some text field holds."""
        if self._frequencies is None:
            reader = self._reader
            return {t for t in tokens if any((f, t) in reader for f in TEXT_FIELDS)}
        distinct = list(dict.fromkeys(tokens))
        counts = self._frequencies([(f, t) for t in distinct for f in TEXT_FIELDS])
        width = len(TEXT_FIELDS)
        return {t for i, t in enumerate(distinct) if any(counts[i * width : (i + 1) * width])}

    def has_field(self, name: str) -> bool:
        return name in self._schema.names()

    def field_terms(self, field: str) -> list[str]:
        """Every term of `field`, in order."""
        return [raw.decode("utf-8") for raw in self._reader.lexicon(field)]

    def expand_prefix(self, field: str, prefix: str) -> Any:
        """The terms of `field` starting with `prefix` (bytes, in order, lazily)."""
        return self._reader.expand_prefix(field, prefix)
