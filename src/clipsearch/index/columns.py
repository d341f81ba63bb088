"""Per-document values of one commit as numpy arrays: facet values (CSR: per
document its value numbers, and per value its documents), publication time,
quality, clip ids, and the live documents.  What filters, facet counts, histograms
and sorting read instead of stored fields.

The arrays come from the derived data written with the commit (derived.py, opened
by memory-mapping), else they are built here from the index, part by part, on
first use.  Counting is vectorised over a match set's array (`np.bincount` over the
value numbers of its documents), never a Python object per document."""

from __future__ import annotations

import contextlib
import itertools
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np
from whoosh.util.times import datetime_to_long

from clipsearch.index.docsets import DocSet, as_docs, sorted_unique
from clipsearch.index.schema import FACET_FIELDS
from clipsearch.index.storage import guarded, leaves

#: Clip ids asked for at once from which the whole id table is decoded.
_MANY_IDS = 1000


def _split_utf8(blob: bytes, bounds: Sequence[int]) -> list[str]:
    """`blob[bounds[i]:bounds[i + 1]]` decoded, for each i: one decode of the whole
    blob when it is ASCII (then bytes and characters have the same offsets) and a
    slice of text per value (all 153k clip ids: 75 -> 37 ms)."""
    text = blob.decode("utf-8")
    if len(text) != len(blob):
        return [blob[a:b].decode("utf-8") for a, b in itertools.pairwise(bounds)]
    return [text[a:b] for a, b in itertools.pairwise(bounds)]

#: Microseconds in a day: Whoosh stores times as microseconds since 0001-01-01.
_DAY = 86_400_000_000


def _strings(blob: np.ndarray, offsets: np.ndarray) -> list[str]:
    raw = blob.tobytes()
    ends = offsets.tolist()
    return [raw[a:b].decode("utf-8") for a, b in zip(ends, ends[1:], strict=False)]


def pack_strings(items: Iterable[str]) -> tuple[np.ndarray, np.ndarray]:
    """Strings as (utf-8 blob, offsets): the derived files' form of a string list."""
    encoded = [s.encode("utf-8") for s in items]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    if encoded:
        np.cumsum(np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded)),
                  out=offsets[1:])
    return np.frombuffer(b"".join(encoded), dtype=np.uint8).copy(), offsets


def gather(offsets: np.ndarray, values: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The concatenated CSR rows `rows` of (`offsets`, `values`)."""
    starts = offsets[rows]
    lens = offsets[rows + 1] - starts
    total = int(lens.sum())
    if not total:
        return values[:0]
    if total == len(rows) and int(lens.min()) == 1:  # one value each (a provider, a language)
        return values[starts]
    idx = np.repeat(starts - (np.cumsum(lens) - lens), lens) + np.arange(total)
    return values[idx]


class FacetColumn:
    """Facet values of one field: `values[k]` a display value, per document its value
    numbers (`doc_offsets`, `doc_codes`) and per value its documents
    (`value_offsets`, `value_docs`).  Case variants of a value share one number; the
    most frequent spelling is displayed."""

    __slots__ = ("values", "doc_offsets", "doc_codes", "value_offsets", "value_docs")

    def __init__(
        self,
        values: tuple[str, ...],
        doc_offsets: np.ndarray,
        doc_codes: np.ndarray,
        value_offsets: np.ndarray,
        value_docs: np.ndarray,
    ):
        self.values = values
        self.doc_offsets, self.doc_codes = doc_offsets, doc_codes
        self.value_offsets, self.value_docs = value_offsets, value_docs
        if (
            len(value_offsets) != len(values) + 1
            or int(doc_offsets[-1]) != len(doc_codes)
            or int(value_offsets[-1]) != len(value_docs)
            or len(doc_codes) != len(value_docs)
        ):
            raise ValueError("inconsistent facet column")

    def codes(self, docnum: int) -> tuple[int, ...]:
        """The value numbers of one document."""
        a, b = int(self.doc_offsets[docnum]), int(self.doc_offsets[docnum + 1])
        return tuple(self.doc_codes[a:b].tolist())

    def code_counts(self, docs: Any) -> np.ndarray:
        """Documents per value number over `docs` (None: over every document)."""
        n_docs = len(self.doc_offsets) - 1
        d = None if docs is None else as_docs(docs)
        if d is None or len(d) == n_docs:
            codes = self.doc_codes
        else:
            codes = gather(self.doc_offsets, self.doc_codes, d)
        return np.bincount(codes, minlength=len(self.values))

    def count(self, docs: Any) -> Counter[str]:
        """Documents per value over `docs`."""
        n = self.code_counts(docs)
        values = self.values
        present = np.flatnonzero(n)
        # Python ints at once: indexing the counts value by value made a numpy scalar each.
        names = [values[k] for k in present.tolist()]
        return Counter(dict(zip(names, n[present].tolist(), strict=True)))

    def count_distinct(
        self, docs: Any, story: Sequence[int], with_copies: frozenset[int]
    ) -> Counter[str]:
        """Distinct stories per value over `docs` (`story[d]`: d's story;
        `with_copies`: the documents of stories with several): a story with copies
        under one value counts once there.  The clip counts less the extra copies,
        so only the matches that have copies are walked."""
        counts = self.count(docs)
        present = DocSet.of(docs) & with_copies
        by_story: dict[int, list[int]] = {}
        for d in present:
            by_story.setdefault(story[d], []).append(d)
        values = self.values
        for members in by_story.values():
            if len(members) < 2:
                continue
            per_value = Counter(k for d in members for k in self.codes(d))
            for k, n in per_value.items():
                if n > 1:
                    counts[values[k]] -= n - 1
        return counts

    def docs_with(self, wanted: Iterable[str]) -> DocSet:
        """Documents having any of the given values (OR inside one facet)."""
        position = {v: k for k, v in enumerate(self.values)}
        off, docs = self.value_offsets, self.value_docs
        parts = [
            docs[int(off[k]) : int(off[k + 1])]
            for v in wanted
            if (k := position.get(v)) is not None
        ]
        if not parts:
            return DocSet()
        return DocSet(sorted_unique(np.concatenate(parts).astype(np.int64)))

    def arrays(self, field: str) -> dict[str, np.ndarray]:
        """This column as named arrays (what derived.py writes)."""
        blob, offsets = pack_strings(self.values)
        return {
            f"{field}.values": blob,
            f"{field}.value_starts": offsets,
            f"{field}.doc_offsets": self.doc_offsets,
            f"{field}.doc_codes": self.doc_codes,
            f"{field}.value_offsets": self.value_offsets,
            f"{field}.value_docs": self.value_docs,
        }

    @classmethod
    def from_arrays(cls, field: str, arrays: Mapping[str, np.ndarray]) -> FacetColumn:
        values = tuple(_strings(arrays[f"{field}.values"], arrays[f"{field}.value_starts"]))
        return cls(
            values,
            arrays[f"{field}.doc_offsets"],
            arrays[f"{field}.doc_codes"],
            arrays[f"{field}.value_offsets"],
            arrays[f"{field}.value_docs"],
        )


def facet_from_spellings(
    terms: Sequence[str], offsets: np.ndarray, codes: np.ndarray
) -> FacetColumn:
    """A column from a field's terms (sorted) and per document its term numbers (CSR,
    deleted documents without any): case variants of a term share one value number,
    numbered in the order the terms come, shown in the spelling most documents have
    (ties: the greater spelling)."""
    n_docs = len(offsets) - 1
    per_term = np.bincount(codes, minlength=len(terms)).tolist() if len(terms) else []
    key_of: dict[str, int] = {}
    spellings: list[dict[str, int]] = []
    value_of = np.empty(len(terms), dtype=np.int64)
    for t, term in enumerate(terms):
        k = key_of.setdefault(term.casefold(), len(spellings))
        if k == len(spellings):
            spellings.append({})
        spellings[k][term] = spellings[k].get(term, 0) + per_term[t]
        value_of[t] = k
    values = tuple(max(s.items(), key=lambda kv: (kv[1], kv[0]))[0] for s in spellings)
    n_values = len(values)
    docs = np.repeat(np.arange(n_docs, dtype=np.int64), np.diff(offsets))
    # by document, then value (numpy's own unique imports numpy.ma: 35 ms of a run)
    pairs = sorted_unique(docs * max(n_values, 1) + value_of[codes])
    pair_docs, pair_values = pairs // max(n_values, 1), pairs % max(n_values, 1)
    doc_offsets = np.zeros(n_docs + 1, dtype=np.int64)
    np.cumsum(np.bincount(pair_docs, minlength=n_docs)[:n_docs], out=doc_offsets[1:])
    value_offsets = np.zeros(n_values + 1, dtype=np.int64)
    np.cumsum(np.bincount(pair_values, minlength=n_values)[:n_values], out=value_offsets[1:])
    order = np.lexsort((pair_docs, pair_values))  # by value, then document
    return FacetColumn(
        values,
        doc_offsets,
        pair_values.astype(np.int32),
        value_offsets,
        pair_docs[order].astype(np.int32),
    )


def _leaf_spellings(leaf: Any, field: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    """One segment's terms of `field` and per document its term numbers, from the
    postings (those of deleted documents left out)."""
    terms: list[str] = []
    lists: list[np.ndarray] = []
    for raw in leaf.lexicon(field):
        terms.append(raw.decode("utf-8"))
        lists.append(np.fromiter(leaf.postings(field, raw).all_ids(), dtype=np.int64))
    n = leaf.doc_count_all()
    docs = np.concatenate(lists) if lists else np.empty(0, np.int64)
    codes = np.repeat(np.arange(len(lists), dtype=np.int64), [len(x) for x in lists])
    order = np.lexsort((codes, docs))
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(docs, minlength=n)[:n], out=offsets[1:])
    return terms, offsets, codes[order]


def _merge_spellings(
    parts: Sequence[tuple[list[str], np.ndarray, np.ndarray]],
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The segments' (terms, offsets, codes) as one commit's: the sorted union of the
    terms (the order of the commit's lexicon: UTF-8 bytes sort as code points), each
    segment's term numbers renumbered into it."""
    union: set[str] = set()
    for terms, _off, _codes in parts:
        union.update(terms)
    merged = sorted(union)
    position = {t: k for k, t in enumerate(merged)}
    maps: dict[int, np.ndarray] = {}
    offsets = [np.zeros(1, dtype=np.int64)]
    codes = []
    total = 0
    for terms, off, part_codes in parts:
        renumber = maps.get(id(terms))
        if renumber is None:
            renumber = maps[id(terms)] = np.fromiter(
                (position[t] for t in terms), dtype=np.int64, count=len(terms)
            )
        codes.append(renumber[part_codes] if len(part_codes) else part_codes.astype(np.int64))
        offsets.append(off[1:] + total)
        total += int(off[-1])
    return (
        merged,
        np.concatenate(offsets),
        np.concatenate(codes) if codes else np.empty(0, np.int64),
    )


class Carried:
    """The columns of the commit a write session started from (its derived data,
    checked to be that commit's), so the new commit's columns take the documents of
    every segment it kept from them and read only its new segments.  Segments are
    never changed once written, except by deletions: the live documents are always
    the new commit's."""

    #: The arrays a carried segment's columns are taken from.
    NEEDED = ("published", "published.present", "quality", "quality.present", "ids",
              "ids.starts")

    def __init__(self, arrays: Mapping[str, np.ndarray], segments: Sequence[Sequence[Any]]):
        self.arrays = arrays
        self._starts: dict[str, tuple[int, int]] = {}
        at = 0
        for seg, n in segments:
            self._starts[str(seg)] = (at, int(n))
            at += int(n)

    @classmethod
    def usable(
        cls, arrays: Mapping[str, np.ndarray] | None, segments: Sequence[Sequence[Any]]
    ) -> Carried | None:
        """A Carried over `arrays` when they hold everything it reads, else None."""
        if arrays is None:
            return None
        needed = list(cls.NEEDED)
        for field in FACET_FIELDS:
            needed += [f"{field}.{k}" for k in _SPELLING_ARRAYS]
        if any(k not in arrays for k in needed):
            return None
        return cls(arrays, segments)

    def segment_ids(self) -> set[str]:
        """The carried commit's segments."""
        return set(self._starts)

    def start(self, leaf: Any) -> int | None:
        """The first document number of `leaf`'s segment in the carried commit, or
        None when that commit did not hold it (or held another document count)."""
        got = self._starts.get(leaf.segment().segment_id())
        if got is None or got[1] != leaf.doc_count_all():
            return None
        return got[0]


#: The per-field arrays of a facet's terms: what a later commit renumbers.
_SPELLING_ARRAYS = ("spellings", "spelling_starts", "spell_offsets", "spell_codes")


class Optional(Sequence[int | None]):
    """A per-document integer column with "no value" entries: `values[d]` where
    `present[d]`, else None."""

    def __init__(self, values: np.ndarray, present: np.ndarray):
        self.values, self.present = values, present

    def __len__(self) -> int:
        return len(self.values)

    def __getitem__(self, d: int) -> int | None:  # type: ignore[override]
        return int(self.values[d]) if self.present[d] else None

    def __iter__(self) -> Iterator[int | None]:
        return (v if p else None for v, p in zip(self.values.tolist(), self.present.tolist(),
                                                  strict=True))


class Columns:
    """The per-document arrays of one commit: from the derived data when `prebuilt`
    gives them (a dict of named arrays, see `arrays`), else each part built on first
    use from the index."""

    def __init__(
        self,
        path: str,
        reader: Any,
        schema: Any,
        prebuilt: Callable[[], Mapping[str, np.ndarray] | None] | None = None,
        carried: Carried | None = None,
    ):
        self.path = path  # for error messages (guarded)
        #: The columns of the commit a write session started from (Carried).
        self._carried = carried
        self._reader = reader
        self._schema = schema
        #: Loads the arrays written for this commit (None once asked).
        self._prebuilt = prebuilt
        self._arrays: dict[str, np.ndarray] = {}
        self._facets: dict[str, FacetColumn] = {}
        self._optional: dict[str, Optional] = {}
        self._by_time: tuple[np.ndarray, np.ndarray] | None = None
        self._ids: tuple[np.ndarray, np.ndarray] | None = None
        self._live: DocSet | None = None

    def _given(self, name: str) -> np.ndarray | None:
        if self._prebuilt is not None:
            load, self._prebuilt = self._prebuilt, None
            self._arrays.update(load() or {})
        return self._arrays.get(name)

    # -- the live documents
    def live_mask(self) -> np.ndarray:
        """Per document, whether it is live (not deleted)."""
        mask = self._given("live")
        if mask is None:
            mask = self._arrays["live"] = self._build_live()
        return mask

    def live_docs(self) -> DocSet:
        if self._live is None:
            self._live = DocSet(np.flatnonzero(self.live_mask()).astype(np.int64))
        return self._live

    @guarded
    def _build_live(self) -> np.ndarray:
        """Every document live but each segment's deleted ones: Whoosh's all_doc_ids
        asks each of 153k documents whether it is deleted (66 ms, every commit's
        derived data), the deletions are a set per segment (0.1 ms)."""
        mask = np.ones(self._reader.doc_count_all(), dtype=bool)
        for leaf, offset in leaves(self._reader):
            if leaf.has_deletions():
                deleted = np.fromiter(leaf.segment().deleted_docs(), dtype=np.int64)
                mask[offset + deleted[deleted < leaf.doc_count_all()]] = False
        return mask

    # -- facets
    def facet(self, field: str) -> FacetColumn:
        """Facet values per document: from the derived data written with this commit
        when given, else read once from the postings of `field`."""
        col = self._facets.get(field)
        if col is None:
            if self._given(f"{field}.doc_codes") is not None:
                with contextlib.suppress(ValueError, KeyError, IndexError, UnicodeDecodeError):
                    col = FacetColumn.from_arrays(field, self._arrays)
                    if len(col.doc_offsets) != self._reader.doc_count_all() + 1:
                        col = None  # damaged: never used
            if col is None:
                col = self._build_facet(field)
            self._facets[field] = col
        return col

    @guarded
    def _build_facet(self, field: str) -> FacetColumn:
        spellings, offsets, codes = self._spellings(field)
        col = facet_from_spellings(spellings, offsets, codes)
        blob, starts = pack_strings(spellings)
        self._arrays[f"{field}.spellings"], self._arrays[f"{field}.spelling_starts"] = blob, starts
        self._arrays[f"{field}.spell_offsets"], self._arrays[f"{field}.spell_codes"] = (
            offsets,
            codes,
        )
        return col

    def _spellings(self, field: str) -> tuple[list[str], np.ndarray, np.ndarray]:
        """The terms of `field` (sorted, as the commit's lexicon has them, those of
        deleted documents too) and per live document its term numbers (CSR, sorted):
        each segment's from the carried commit when it holds the segment, else from
        the segment's postings."""
        parts: list[tuple[list[str], np.ndarray, np.ndarray]] = []
        live = self.live_mask()
        carried = self._carried
        old_terms: list[str] | None = None
        segments = {leaf.segment().segment_id() for leaf, _ in leaves(self._reader)}
        # The old commit's terms are exactly the union over its segments' lexicons.
        all_kept = carried is not None and carried.segment_ids() <= segments
        for leaf, offset in leaves(self._reader):
            n = leaf.doc_count_all()
            start = carried.start(leaf) if carried is not None else None
            if start is not None and carried is not None:
                if old_terms is None:
                    old_terms = _strings(
                        carried.arrays[f"{field}.spellings"],
                        carried.arrays[f"{field}.spelling_starts"],
                    )
                off = carried.arrays[f"{field}.spell_offsets"][start : start + n + 1]
                codes = carried.arrays[f"{field}.spell_codes"][int(off[0]) : int(off[-1])]
                terms = old_terms
                if not all_kept:
                    # The carried numbers count the old commit's terms, some of them only
                    # in segments since merged away or dropped: renumber into this
                    # segment's own lexicon, so a term no segment has is not kept.
                    terms = [raw.decode("utf-8") for raw in leaf.lexicon(field)]
                    position = {t: k for k, t in enumerate(terms)}
                    renumber = np.fromiter(
                        (position.get(t, -1) for t in old_terms), np.int64, len(old_terms)
                    )
                    codes = renumber[codes]
                off = off - off[0]
                counts = np.diff(off)
                alive = live[offset : offset + n]
                if not alive[counts > 0].all():  # documents deleted since: drop their terms
                    codes = codes[np.repeat(alive, counts)]
                    off = np.zeros(n + 1, dtype=np.int64)
                    np.cumsum(np.where(alive, counts, 0), out=off[1:])
                parts.append((terms, off, codes))
            else:
                parts.append(_leaf_spellings(leaf, field))
        return _merge_spellings(parts)

    # -- dates and quality
    def docs_between(self, since: datetime | None, until: datetime | None) -> DocSet:
        """Documents published in [since, until] (naive UTC); undated ones never match."""
        if self._by_time is None:
            col = self.published()
            docs = np.flatnonzero(col.present)
            times = col.values[docs]
            order = np.argsort(times, kind="stable")
            self._by_time = (times[order], docs[order])
        times, docs = self._by_time
        lo = 0 if since is None else int(np.searchsorted(times, datetime_to_long(since), "left"))
        hi = len(times) if until is None else int(
            np.searchsorted(times, datetime_to_long(until), "right")
        )
        return DocSet(np.sort(docs[lo:hi]).astype(np.int64))

    def published(self) -> Optional:
        """Publication time per document as a sortable integer (None when unknown)."""
        return self._optional_column("published")

    def quality(self) -> Optional:
        """Quality per document as a sortable integer (None when unknown)."""
        return self._optional_column("quality")

    def day_counts(self, docs: Any) -> tuple[Counter[int], int]:
        """Documents of `docs` per UTC day of publication (days since 0001-01-01), and
        how many have no date."""
        col = self.published()
        d = as_docs(docs)
        dated = col.present[d]
        days, n = np.unique(col.values[d[dated]] // _DAY, return_counts=True)
        counts = Counter(dict(zip(days.tolist(), n.tolist(), strict=True)))
        return counts, int(len(d) - dated.sum())

    def _optional_column(self, field: str) -> Optional:
        col = self._optional.get(field)
        if col is None:
            values, present = self._given(field), self._given(field + ".present")
            if values is None or present is None:
                values, present = self._build_optional(field)
                self._arrays[field], self._arrays[field + ".present"] = values, present
            col = self._optional[field] = Optional(values, present)
        return col

    @guarded
    def _build_optional(self, field: str) -> tuple[np.ndarray, np.ndarray]:
        default = self._schema[field].column_type.default_value()
        parts: list[np.ndarray] = []
        # Per segment: Whoosh's MultiColumnReader iterates nothing when a segment has
        # no values for the column.
        carried = self._carried
        for leaf, _offset in leaves(self._reader):
            start = carried.start(leaf) if carried is not None else None
            if start is not None and carried is not None:
                parts.append(carried.arrays[field][start : start + leaf.doc_count_all()])
                continue
            out = list(leaf.column_reader(field, translate=False))
            # Raw column values: unsigned 64-bit sortable integers (as Whoosh stores them).
            parts.append(np.array(out, dtype=np.uint64) if out else np.empty(0, np.uint64))
        values = np.concatenate(parts).astype(np.uint64) if parts else np.empty(0, np.uint64)
        present = values != default if len(values) else np.empty(0, bool)
        return values, present

    # -- clip ids
    def clip_id(self, docnum: int) -> str:
        """The clip id of a document, from the id column (no stored fields read)."""
        blob, starts = self._id_table()
        return blob[int(starts[docnum]) : int(starts[docnum + 1])].tobytes().decode("utf-8")

    def clip_ids(self, docs: Iterable[int]) -> list[str]:
        blob, starts = self._id_table()
        docs = list(docs)
        if len(docs) > _MANY_IDS:  # the whole table decoded once (story rows: all)
            every = _split_utf8(blob.tobytes(), starts.tolist())
            return [every[d] for d in docs]
        return [
            blob[int(starts[d]) : int(starts[d + 1])].tobytes().decode("utf-8") for d in docs
        ]

    def _id_table(self) -> tuple[np.ndarray, np.ndarray]:
        if self._ids is None:
            blob, starts = self._given("ids"), self._given("ids.starts")
            if blob is None or starts is None:
                blob, starts = self._build_ids()
                self._arrays["ids"], self._arrays["ids.starts"] = blob, starts
            self._ids = (blob, starts)
        return self._ids

    @guarded
    def _build_ids(self) -> tuple[np.ndarray, np.ndarray]:
        blobs: list[np.ndarray] = []
        lengths: list[np.ndarray] = []
        carried = self._carried
        for leaf, _offset in leaves(self._reader):
            start = carried.start(leaf) if carried is not None else None
            if start is not None and carried is not None:
                starts = carried.arrays["ids.starts"][start : start + leaf.doc_count_all() + 1]
                blobs.append(carried.arrays["ids"][int(starts[0]) : int(starts[-1])])
                lengths.append(np.diff(starts))
            else:
                blob, starts = pack_strings(leaf.column_reader("id"))
                blobs.append(blob)
                lengths.append(np.diff(starts))
        offsets = np.zeros(sum(len(n) for n in lengths) + 1, dtype=np.int64)
        if lengths:
            np.cumsum(np.concatenate(lengths), out=offsets[1:])
        blob = np.concatenate(blobs) if blobs else np.empty(0, np.uint8)
        return blob.astype(np.uint8), offsets

    # -- everything, for the derived file
    def arrays(self) -> dict[str, np.ndarray]:
        """Every column as named arrays (built where needed): what derived.py writes."""
        out: dict[str, np.ndarray] = {"live": self.live_mask()}
        for field in FACET_FIELDS:
            out.update(self.facet(field).arrays(field))
            if f"{field}.spell_codes" not in self._arrays:  # a column given, not built
                self._build_facet(field)
            out.update({f"{field}.{k}": self._arrays[f"{field}.{k}"] for k in _SPELLING_ARRAYS})
        for field in ("published", "quality"):
            col = self._optional_column(field)
            out[field], out[field + ".present"] = col.values, col.present
        self._id_table()
        out["ids"], out["ids.starts"] = self._arrays["ids"], self._arrays["ids.starts"]
        return out

