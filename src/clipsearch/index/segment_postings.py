"""Derived postings of one Whoosh segment, as arrays: for every term of every text
field, its sorted segment-local document numbers and weights (term frequency times
field boost, exactly the float32 Whoosh stores), and per document the field lengths
BM25F uses (Whoosh's one-byte approximation, decoded).

Whoosh segments never change once written (deletions are kept per commit, beside
them), so this file is written once, when its segment first appears in a commit,
and named after it (`<segment id>.vpst`): Whoosh itself deletes it with the segment's
own files when a merge retires the segment.  A term is found without loading the
vocabulary: a 64-bit hash of (field, term) is binary-searched in a sorted array and
the match checked against the term's bytes, all inside one memory-mapped file."""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import struct
import zlib
from array import array
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from clipsearch.index import arrayfile

FORMAT = 1
SUFFIX = ".vpst"
_EMPTY_DOCS = np.empty(0, dtype=np.int32)
_EMPTY_WEIGHTS = np.empty(0, dtype=np.float32)
#: Up to this many keys, `sizes` reads each key's entries one by one: fewer numpy
#: calls than gathering them all at once (a word's keys, one per text field).
FEW_KEYS = 8
#: A posting block's length (negative for the last block), as Whoosh 3 writes it.
_INT = struct.Struct("!i")


def file_name(segment_id: str) -> str:
    return segment_id + SUFFIX


def term_key(field: str, text: str | bytes) -> bytes:
    raw = text if isinstance(text, bytes) else text.encode("utf-8")
    return field.encode("utf-8") + b"\0" + raw


def key_hash(key: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "little")


def key_hashes(keys: list[bytes]) -> np.ndarray:
    """`key_hash` of each key, as the uint64 array `SegmentPostings.sizes` takes."""
    return np.array([key_hash(k) for k in keys], dtype=np.uint64)


def write(path: str, leaf: Any, fields: Iterable[str]) -> None:
    """Write the derived postings of the segment read by `leaf` (a Whoosh segment
    reader) beside it."""
    from whoosh.codec.whoosh3 import W3TermInfo
    fields = tuple(fields)
    terms_reader = leaf._terms  # W3TermsReader: the raw table, decoded only for our fields
    fieldmap = terms_reader._fieldmap
    wanted = {
        num.to_bytes(2, "big"): name for name, num in fieldmap.items() if name in fields
    }
    postfile = terms_reader._postfile
    # Flat buffers, not an object per term: a segment holds millions of postings.
    terms = _Terms()
    deltas = array("i")  # per block, ids delta-encoded from 0 (segment-local: < 2**31)
    block_starts = array("q")
    weights = array("f")
    for keybytes, valbytes in terms_reader._tindex.items():
        name = wanted.get(keybytes[:2])
        if name is None:
            continue
        info = W3TermInfo.from_bytes(valbytes)
        count = 0
        if info.is_inlined():
            ids, ws, _values = info.inlined_postings()
            block_starts.append(len(deltas))
            prev = 0
            for i in ids:
                deltas.append(i - prev)
                prev = i
            weights.extend(ws)
            count = len(ids)
        else:
            offset, _length = info.extent()
            position = offset + 4  # past the posting list's header tag
            while True:
                (size,) = _INT.unpack(postfile.get(position, 4))
                last = size < 0
                block = postfile.get(position + 4, abs(size))
                stream = io.BytesIO(block)
                n, _maxid, _maxweight, compression, _mn, _mx = pickle.load(stream)
                data = block[stream.tell() :]
                ids_part, ws, _values = pickle.loads(zlib.decompress(data) if compression else data)
                block_starts.append(len(deltas))
                deltas.extend(ids_part)
                if ws is None:
                    weights.extend([1.0] * n)
                elif isinstance(ws, float):
                    weights.extend([ws] * n)
                else:
                    weights.extend(ws)
                count += n
                if last:
                    break
                position += 4 + abs(size)
        terms.add(name, keybytes[2:], count)
    docs = _decode_blocks(np.frombuffer(deltas, dtype=np.int32), block_starts)
    del deltas
    lengths = {name: decoded_lengths(leaf, name) for name in fields}
    terms.write(path, leaf.segment().segment_id(), leaf.doc_count_all(), docs, weights, lengths)


class _Terms:
    """The terms of a segment's postings file, in the segment's order: keys, their
    hashes and posting counts, in flat buffers."""

    def __init__(self) -> None:
        self.key_blob = bytearray()
        self.key_ends = array("q")
        self.hashes = array("Q")
        self.sizes = array("q")

    def add(self, field: str, text: bytes, count: int) -> None:
        key = term_key(field, text)
        self.key_blob += key
        self.key_ends.append(len(self.key_blob))
        self.hashes.append(key_hash(key))
        self.sizes.append(count)

    def write(
        self, path: str, segment_id: str, n_docs: int, docs: np.ndarray, weights: array,
        lengths: dict[str, np.ndarray],
    ) -> None:
        post_offsets = np.zeros(len(self.sizes) + 1, dtype=np.int64)
        np.cumsum(np.frombuffer(self.sizes, dtype=np.int64), out=post_offsets[1:])
        hash_array = np.frombuffer(self.hashes, dtype=np.uint64)
        order = np.argsort(hash_array, kind="stable")
        key_offsets = np.zeros(len(self.key_ends) + 1, dtype=np.int64)
        key_offsets[1:] = np.frombuffer(self.key_ends, dtype=np.int64)
        arrays = {
            "hashes": hash_array[order],
            "hash_terms": order.astype(np.int64),
            "key_offsets": key_offsets,
            "key_blob": np.frombuffer(self.key_blob, dtype=np.uint8),
            "post_offsets": post_offsets,
            "post_docs": docs,
            "post_weights": np.frombuffer(weights, dtype=np.float32),
        }
        for name, values in lengths.items():
            arrays["len_" + name] = values
        meta = {"format": FORMAT, "segment": segment_id, "doc_count": n_docs}
        arrayfile.write(os.path.join(path, file_name(segment_id)), meta, arrays)


class InHand:
    """The derived postings of a segment Whoosh is writing, gathered from the sorted
    postings its writer hands to the codec (`tee`), then written (`write`) without
    reading the new segment back: the same file `write` makes from the segment."""

    def __init__(self, fields: Iterable[str]):
        self._order = tuple(fields)
        self._fields = frozenset(self._order)
        self._terms = _Terms()
        self._docs = array("i")
        self._weights = array("f")
        self._lengths: dict[str, np.ndarray] = {}
        self._n_docs = 0

    def tee(self, items: Iterable[tuple]) -> Iterator[tuple]:
        """`items` ((field, term bytes, docnum, weight, value), sorted), passed on."""
        fields, terms = self._fields, self._terms
        add_doc, add_weight = self._docs.append, self._weights.append
        field = text = None
        count = 0
        for item in items:
            yield item
            if item[0] not in fields:
                continue
            if item[1] != text or item[0] != field:
                if count:
                    terms.add(field, text, count)  # type: ignore[arg-type]
                field, text, count = item[0], item[1], 0
            add_doc(item[2])
            add_weight(item[3])
            count += 1
        if count:
            terms.add(field, text, count)  # type: ignore[arg-type]

    def extend(
        self, field: str, texts: list[bytes], counts: np.ndarray, docs: np.ndarray,
        weights: np.ndarray,
    ) -> None:
        """One field's postings at once (what `tee` gathers from its items): its
        terms in order, their posting counts, and all their document numbers and
        float32 weights, term after term."""
        if field not in self._fields:
            return
        add = self._terms.add
        for text, count in zip(texts, counts.tolist(), strict=True):
            add(field, text, count)
        self._docs.frombytes(docs.astype(np.int32).tobytes())
        self._weights.frombytes(weights.astype(np.float32).tobytes())

    def read_lengths(self, perdoc: Any) -> None:
        """Take the field lengths from the segment's per-document reader (written
        before its postings)."""
        self._lengths = {name: perdoc_lengths(perdoc, name) for name in self._order}
        self._n_docs = perdoc.doc_count_all()

    def write(self, path: str, segment_id: str) -> None:
        """Write the file (after `tee` and `read_lengths`)."""
        docs = np.frombuffer(self._docs, dtype=np.int32)
        self._terms.write(path, segment_id, self._n_docs, docs, self._weights, self._lengths)


def _decode_blocks(deltas: np.ndarray, block_starts: array) -> np.ndarray:
    """Document numbers from delta-encoded blocks (each block's deltas start at 0)."""
    if not len(deltas):
        return np.empty(0, dtype=np.int32)
    total = np.cumsum(deltas, dtype=np.int64)
    starts = np.frombuffer(block_starts, dtype=np.int64)
    base = np.zeros(len(starts), dtype=np.int64)
    base[1:] = total[starts[1:] - 1]
    lengths = np.diff(np.append(starts, len(deltas)))
    total -= np.repeat(base, lengths)
    return total.astype(np.int32)


def decoded_lengths(leaf: Any, field: str) -> np.ndarray:
    """Per document of the segment, the length of `field` as BM25F reads it
    (`doc_field_length`: the one-byte approximation decoded; 0 without the field)."""
    return perdoc_lengths(leaf._perdoc, field)


def perdoc_lengths(perdoc: Any, field: str) -> np.ndarray:
    """`decoded_lengths` from a segment's per-document reader (W3PerDocReader)."""
    from whoosh.codec.whoosh3 import LENGTHS_COLUMN, _lenfield
    from whoosh.util.numeric import byte_to_length

    n_docs = perdoc.doc_count_all()
    reader = perdoc._cached_reader(_lenfield(field), LENGTHS_COLUMN)
    if reader is None:
        return np.zeros(n_docs, dtype=np.int32)
    raw = np.fromiter((reader[d] for d in range(n_docs)), dtype=np.uint8, count=n_docs)
    table = np.array([0] + [byte_to_length(b) for b in range(1, 256)], dtype=np.int32)
    return table[raw]


class SegmentPostings:
    """The derived postings of one segment, memory-mapped."""

    def __init__(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]):
        self.segment = meta["segment"]
        self.doc_count = int(meta["doc_count"])
        self._hashes = arrays["hashes"]
        self._hash_terms = arrays["hash_terms"]
        self._key_offsets = arrays["key_offsets"]
        self._key_blob = arrays["key_blob"]
        #: The key bytes as a memoryview: a slice compares with bytes without a copy.
        self._blob = memoryview(self._key_blob)
        self._post_offsets = arrays["post_offsets"]
        self._docs = arrays["post_docs"]
        self._weights = arrays["post_weights"]
        self._lengths = {k[4:]: v for k, v in arrays.items() if k.startswith("len_")}
        # The look-up tables as Python ints element by element (a memoryview reads
        # one in a fraction of a numpy scalar's cost): a look-up reads a few each.
        self._hash_at = _scalars(self._hashes)
        self._term_at = _scalars(self._hash_terms)
        self._key_at = _scalars(self._key_offsets)
        self._post_at = _scalars(self._post_offsets)
        n_terms = len(self._hashes)
        if (
            len(self._hash_terms) != n_terms
            or len(self._key_offsets) != n_terms + 1
            or len(self._post_offsets) != n_terms + 1
            or int(self._post_offsets[-1]) != len(self._docs)
            or len(self._docs) != len(self._weights)
            or any(len(v) != self.doc_count for v in self._lengths.values())
        ):
            raise ValueError("inconsistent derived postings")

    def term(self, field: str, text: str) -> tuple[np.ndarray, np.ndarray]:
        """(segment-local docnums int32, weights float32) of one term; empty when the
        segment does not hold it."""
        key = term_key(field, text)
        return self.term_of_key(key, key_hash(key))

    def term_of_key(self, key: bytes, hashed: int | np.uint64) -> tuple[np.ndarray, np.ndarray]:
        """`term` of a `term_key` and its `key_hash` (an int, or the np.uint64 of it),
        which do not depend on the segment: a commit of several segments computes
        them once."""
        t = self._find(key, hashed)
        if t < 0:
            return _EMPTY_DOCS, _EMPTY_WEIGHTS
        a, b = self._post_at[t], self._post_at[t + 1]
        return self._docs[a:b], self._weights[a:b]

    def _find(self, key: bytes, hashed: int | np.uint64) -> int:
        """The term number of a key, -1 when the segment does not hold it (method
        calls on the arrays: numpy's module functions wrap them, a call more each)."""
        h = hashed if isinstance(hashed, np.uint64) else np.uint64(hashed)
        i = int(self._hashes.searchsorted(h))
        hashes, term_at, key_at, blob = self._hash_at, self._term_at, self._key_at, self._blob
        want = int(h)
        while i < len(hashes) and hashes[i] == want:
            t = int(term_at[i])
            if blob[key_at[t] : key_at[t + 1]] == key:
                return t
            i += 1
        return -1

    def sizes(self, keys: list[bytes], hashed: np.ndarray | None = None) -> list[int]:
        """The number of postings of each `term_key` (0 when the segment does not
        hold it): document frequencies without reading the postings.  `hashed`:
        the keys' `key_hash` values as uint64, when the caller has them.  The first
        entry of each hash is looked up for all keys at once; only a key whose bytes
        differ there (another key of the same hash) is searched on its own."""
        hashes = self._hashes
        if not keys or not len(hashes):
            return [0] * len(keys)
        wanted = key_hashes(keys) if hashed is None else hashed
        if len(keys) <= FEW_KEYS:
            return self._sizes_one_by_one(keys, wanted)
        at = hashes.searchsorted(wanted)
        np.minimum(at, len(hashes) - 1, out=at)
        found, asked = hashes[at].tolist(), wanted.tolist()
        terms = self._hash_terms[at]
        ends = np.concatenate((terms, terms + 1))  # each term's start, then its end
        keys_at, posts_at = self._key_offsets[ends].tolist(), self._post_offsets[ends].tolist()
        n, blob = len(keys), self._blob
        out = []
        for k, key in enumerate(keys):
            if found[k] != asked[k]:
                out.append(0)
                continue
            if blob[keys_at[k] : keys_at[n + k]] == key:
                out.append(posts_at[n + k] - posts_at[k])
                continue
            t = self._find(key, int(wanted[k]))
            out.append(0 if t < 0 else int(self._post_offsets[t + 1] - self._post_offsets[t]))
        return out

    def _sizes_one_by_one(self, keys: list[bytes], wanted: np.ndarray) -> list[int]:
        """`sizes` of a few keys: one binary search for all, then scalar reads per
        key (most keys of a query are in no segment, and cost one read)."""
        hashes, term_at, key_at, post_at = self._hash_at, self._term_at, self._key_at, self._post_at
        blob = self._blob
        n = len(hashes)
        at, asked = self._hashes.searchsorted(wanted).tolist(), wanted.tolist()
        out = []
        for k, key in enumerate(keys):
            i = at[k]
            if i == n or hashes[i] != asked[k]:
                out.append(0)
                continue
            t = int(term_at[i])
            if blob[key_at[t] : key_at[t + 1]] != key:  # another key of the same hash first
                t = self._find(key, asked[k])
            out.append(0 if t < 0 else int(post_at[t + 1] - post_at[t]))
        return out

    def lengths(self, field: str) -> np.ndarray | None:
        return self._lengths.get(field)


def _scalars(values: np.ndarray) -> Any:
    """`values` read element by element as Python ints: a memoryview of them (a
    numpy array itself when its layout has no such view)."""
    if values.dtype.isnative and values.flags.c_contiguous and values.ndim == 1:
        return memoryview(values)
    return values


def load(
    path: str, segment_id: str, doc_count: int, fields: Iterable[str]
) -> SegmentPostings | None:
    """The derived postings of a segment, or None when missing, damaged, of another
    segment or format, or without every field asked for."""
    got = arrayfile.read(os.path.join(path, file_name(segment_id)))
    if got is None:
        return None
    meta, arrays = got
    if (
        meta.get("format") != FORMAT
        or meta.get("segment") != segment_id
        or meta.get("doc_count") != doc_count
        or any("len_" + f not in arrays for f in fields)
    ):
        return None
    try:
        return SegmentPostings(meta, arrays)
    except (KeyError, ValueError):
        return None
