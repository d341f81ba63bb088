"""Reading terms and posting lists of one commit: the vocabulary of a field, what a
prefix expands to, and whole posting lists read block-wise into dicts (cached), with
the per-document field lengths BM25F needs."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from whoosh.codec import whoosh3

from clipsearch.index.analysis import ENGLISH
from clipsearch.index.schema import TERM_CACHE_POSTINGS, TEXT_FIELDS
from clipsearch.index.storage import guarded, leaves


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
    ):
        self._reader = reader
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
        return self._analyzer.analyze(text, self.languages()[0])

    def analyses(self, text: str) -> list[list[str]]:
        """The distinct token lists a query must search for `text`: its analysis in
        the main language (none when that takes it for stop words), then in each
        other language, when different and present in the index."""
        languages = self.languages()
        main = self._analyzer.analyze(text, languages[0])
        if not main:
            return []
        out = [main]
        for language in languages[1:]:
            tokens = self._analyzer.analyze(text, language)
            if tokens and tokens not in out and self._occurs(tokens):
                out.append(tokens)
        return out

    def _occurs(self, tokens: Sequence[str]) -> bool:
        return len(self.occurring(tokens)) == len(set(tokens))

    def occurring(self, tokens: Iterable[str]) -> set[str]:
        """The tokens some text field holds."""
        reader = self._reader
        return {t for t in tokens if any((f, t) in reader for f in TEXT_FIELDS)}

    def has_field(self, name: str) -> bool:
        return name in self._schema.names()

    def field_terms(self, field: str) -> list[str]:
        """Every term of `field`, in order."""
        return [raw.decode("utf-8") for raw in self._reader.lexicon(field)]

    def expand_prefix(self, field: str, prefix: str) -> Any:
        """The terms of `field` starting with `prefix` (bytes, in order, lazily)."""
        return self._reader.expand_prefix(field, prefix)


class Postings:
    """Posting lists of one commit as docnum -> weight dicts, deleted documents
    included (callers intersect with the live set).  Reading a whole block at a time
    instead of a Python call per posting is what makes scoring over dicts fast."""

    def __init__(
        self,
        path: str,
        reader: Any,
        schema: Any,
        prebuilt: Callable[[], Mapping[str, Sequence[int]] | None] | None = None,
    ):
        self.path = path  # for error messages (guarded)
        self._reader = reader
        self._schema = schema
        self._cache: dict[tuple[str, str], dict[int, float]] = {}
        self._cache_size = 0
        #: Loads field lengths written with this commit (None once asked).
        self._prebuilt = prebuilt
        self._field_lengths: dict[str, Sequence[int] | None] = {}

    @guarded
    def term(self, field: str, text: str) -> dict[int, float]:
        """docnum -> weight (term frequency times field boost) of one term."""
        key = (field, text)
        hit = self._cache.get(key)
        if hit is None:
            hit = _read_postings(self._reader, field, text) if field in self._schema else {}
            self._cache_size += len(hit)
            while self._cache_size > TERM_CACHE_POSTINGS and self._cache:
                self._cache_size -= len(self._cache.pop(next(iter(self._cache))))
            self._cache[key] = hit
        return hit

    def doc_frequency(self, field: str, text: str) -> int:
        """Whoosh's document frequency (deleted documents counted until a merge)."""
        return self._reader.doc_frequency(field, text)

    @guarded
    def lengths(self, field: str) -> Sequence[int] | None:
        """Per-document length of `field` (Whoosh's one-byte approximation), read once
        (or given by the derived data of this commit); None for an unscored field."""
        if self._prebuilt is not None:
            load, self._prebuilt = self._prebuilt, None
            self._field_lengths.update(load() or {})
        if field in self._field_lengths:
            return self._field_lengths[field]
        if not self._schema[field].scorable:
            self._field_lengths[field] = None
            return None
        out: list[int] = []
        for leaf, _offset in leaves(self._reader):
            out.extend(leaf.doc_field_length(d, field, 0) for d in range(leaf.doc_count_all()))
        self._field_lengths[field] = out
        return out


def _read_postings(reader: Any, field: str, text: str) -> dict[int, float]:
    out: dict[int, float] = {}
    for leaf, offset in leaves(reader):
        if (field, text) not in leaf:
            continue
        m = leaf.postings(field, text)
        if isinstance(m, whoosh3.W3LeafMatcher):
            # Whoosh's block matcher, read a block at a time through its internals
            # (the public API is a call per posting).
            while not m._atend:
                if m._ids is None:
                    m._read_ids()
                if m._weights is None:
                    m._read_weights()
                ids, weights = m._ids, m._weights
                if offset:
                    ids = [i + offset for i in ids]
                out.update(zip(ids, weights, strict=True))
                if m._lastblock:
                    break
                m._goto(m._nextoffset)
        else:
            while m.is_active():
                out[m.id() + offset] = m.weight()
                m.next()
    return out
