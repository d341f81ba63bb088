"""Posting lists of one commit as arrays: per term its global document numbers
(sorted, int64) and weights (float64, Whoosh's float32 values exactly), and per text
field the document lengths BM25F uses.

Each segment answers from its derived postings file (segment_postings.py, memory-
mapped) when that file is present and of this segment; otherwise, and for the
unscored fields (topic, provider, id...), from Whoosh's own posting blocks, read a
block at a time.  Deleted documents are included (callers intersect with the live
set), except in segments with deletions: there Whoosh's own matcher skips them, so
the dict-based path these arrays replaced saw only the live ones, and so do these
(document frequencies, and so scores, depend on it)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from whoosh.codec import whoosh3

from clipsearch.index import segment_postings
from clipsearch.index.schema import TERM_CACHE_POSTINGS, TEXT_FIELDS
from clipsearch.index.storage import guarded, leaves

_EMPTY_DOCS = np.empty(0, dtype=np.int64)
_EMPTY_WEIGHTS = np.empty(0, dtype=np.float64)
_EMPTY_LENGTHS = np.empty(0, dtype=np.int32)


class WhooshSegment:
    """One segment's postings read through Whoosh: what answers when its derived
    file is missing or damaged (never written from here: a search does not write)."""

    def __init__(self, leaf: Any):
        self._leaf = leaf
        self.doc_count = leaf.doc_count_all()

    def term(self, field: str, text: str) -> tuple[np.ndarray, np.ndarray]:
        leaf = self._leaf
        if (field, text) not in leaf:
            return _EMPTY_DOCS, _EMPTY_WEIGHTS
        m = leaf.postings(field, text)
        ids: list[int] = []
        weights: list[float] = []
        if isinstance(m, whoosh3.W3LeafMatcher):
            # Whoosh's block matcher, read a block at a time through its internals
            # (the public API is a call per posting).
            while not m._atend:
                if m._ids is None:
                    m._read_ids()
                if m._weights is None:
                    m._read_weights()
                ids.extend(m._ids)
                weights.extend(m._weights)
                if m._lastblock:
                    break
                m._goto(m._nextoffset)
        else:
            while m.is_active():
                ids.append(m.id())
                weights.append(m.weight())
                m.next()
        # float32 as Whoosh stores weights: exactly what its blocks give
        return np.array(ids, dtype=np.int64), np.array(weights, dtype=np.float32)

    def lengths(self, field: str) -> np.ndarray:
        return segment_postings.decoded_lengths(self._leaf, field)


class Postings:
    """Posting lists and field lengths of one commit, as arrays (a few recent terms
    kept: one query asks for the same term for its statistics, match and scores)."""

    def __init__(
        self, path: str, reader: Any, schema: Any, live_mask: Callable[[], np.ndarray]
    ):
        self.path = path  # for error messages (guarded)
        #: Per document, whether it is live (the commit's columns have it).
        self._live_mask = live_mask
        self._reader = reader
        self._schema = schema
        self._leaves = leaves(reader)
        self._segments: list[Any] | None = None
        self._cache: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
        self._cache_size = 0
        self._lengths: dict[str, np.ndarray | None] = {}
        self._per_segment: list[tuple[Any, Any, int, bool, frozenset[str], bool]] | None = None

    def segments(self) -> list[Any]:
        """Per segment, its derived postings (or Whoosh's when those are unusable)."""
        if self._segments is None:
            out = []
            for leaf, _offset in self._leaves:
                seg = segment_postings.load(
                    self.path, leaf.segment().segment_id(), leaf.doc_count_all(), TEXT_FIELDS
                )
                out.append(seg if seg is not None else WhooshSegment(leaf))
            self._segments = out
        return self._segments

    def uses_derived(self) -> bool:
        """Whether every segment answers from its derived postings file."""
        return all(isinstance(s, segment_postings.SegmentPostings) for s in self.segments())

    def term(self, field: str, text: str) -> tuple[np.ndarray, np.ndarray]:
        """(docnums, weights) of one term: weights are term frequency times field
        boost, as Whoosh stores them.  (Only reading is guarded: a query asks for
        most of its terms again, from the cache.)"""
        key = (field, text)
        hit = self._cache.get(key)
        if hit is None:
            hit = self._guarded_read(field, text)
            self._cache_size += len(hit[0])
            while self._cache_size > TERM_CACHE_POSTINGS and self._cache:
                self._cache_size -= len(self._cache.pop(next(iter(self._cache)))[0])
            self._cache[key] = hit
        return hit

    def docs(self, field: str, text: str) -> np.ndarray:
        return self.term(field, text)[0]

    def _parts(self) -> list[tuple[Any, Any, int, bool, frozenset[str], bool]]:
        """Per segment, what a look-up asks of it, worked out once (Whoosh answers
        each through a method call or two): (its postings, leaf, first global docnum,
        whether it has deletions, the fields some document of it has text in, whether
        its postings are the derived file's)."""
        if self._per_segment is None:
            names = self._schema.names()
            self._per_segment = [
                (
                    seg,
                    leaf,
                    offset,
                    leaf.has_deletions(),
                    frozenset(f for f in names if leaf.field_length(f)),
                    isinstance(seg, segment_postings.SegmentPostings),
                )
                for seg, (leaf, offset) in zip(self.segments(), self._leaves, strict=True)
            ]
        return self._per_segment

    @guarded
    def _guarded_read(self, field: str, text: str) -> tuple[np.ndarray, np.ndarray]:
        return self._read(field, text)

    def _read(self, field: str, text: str) -> tuple[np.ndarray, np.ndarray]:
        if field not in self._schema:
            return _EMPTY_DOCS, _EMPTY_WEIGHTS
        derived = field in TEXT_FIELDS
        docs: list[np.ndarray] = []
        weights: list[np.ndarray] = []
        key = segment_postings.term_key(field, text)
        hashed = np.uint64(segment_postings.key_hash(key))  # made once, not per segment
        for seg, leaf, offset, deletions, with_text, is_derived in self._parts():
            if derived and field not in with_text:
                continue  # no document of the segment has text in it: no term either
            if not derived:
                d, w = WhooshSegment(leaf).term(field, text)
            elif is_derived:
                d, w = seg.term_of_key(key, hashed)
            else:
                d, w = seg.term(field, text)
            if len(d):
                d = np.add(d, offset, dtype=np.int64)  # global numbers, one pass
                if deletions:
                    keep = self._live_mask()[d]
                    d, w = d[keep], w[keep]
                docs.append(d)
                weights.append(w)
        if not docs:
            return _EMPTY_DOCS, _EMPTY_WEIGHTS
        if len(docs) == 1:
            return docs[0], weights[0].astype(np.float64)
        return np.concatenate(docs), np.concatenate(weights).astype(np.float64)

    def doc_frequency(self, field: str, text: str) -> int:
        """Whoosh's document frequency (deleted documents counted until a merge)."""
        return self._reader.doc_frequency(field, text)

    @guarded
    def doc_frequencies(self, terms: list[tuple[str, str]]) -> list[int]:
        """Whoosh's document frequency of each (text field, term), deleted documents
        counted: from the derived postings' offsets where a segment has them (a
        look-up in Whoosh's term table costs several times more)."""
        totals = [0] * len(terms)
        keys = [segment_postings.term_key(f, t) for f, t in terms]
        hashed = segment_postings.key_hashes(keys)
        everywhere = list(range(len(terms)))
        for seg, leaf, _offset, _deletions, with_text, is_derived in self._parts():
            # A field no document of the segment has text in holds no term.
            if all(f in with_text for f, _t in terms):
                held, held_keys, held_hashes = everywhere, keys, hashed
            else:
                held = [k for k, (f, _t) in enumerate(terms) if f in with_text]
                held_keys, held_hashes = [keys[k] for k in held], hashed[held]
            if is_derived:
                found = seg.sizes(held_keys, held_hashes)
            else:
                found = [leaf.doc_frequency(*terms[k]) for k in held]
            for k, n in zip(held, found, strict=True):
                totals[k] += n
        return totals

    def lengths(self, field: str) -> np.ndarray | None:
        """Per-document length of `field` (Whoosh's one-byte approximation, decoded),
        None for an unscored field."""
        if field in self._lengths:
            return self._lengths[field]
        return self._read_lengths(field)

    @guarded
    def _read_lengths(self, field: str) -> np.ndarray | None:
        out: np.ndarray | None = None
        if field in self._schema and self._schema[field].scorable:
            parts = []
            for seg, (leaf, _offset) in zip(self.segments(), self._leaves, strict=True):
                got = seg.lengths(field) if field in TEXT_FIELDS else None
                if got is None:
                    got = segment_postings.decoded_lengths(leaf, field)
                parts.append(got)
            # int32 as stored: multiplied by a float they convert exactly, as ints did
            out = parts[0] if len(parts) == 1 else np.concatenate(parts or [_EMPTY_LENGTHS])
        self._lengths[field] = out
        return out
