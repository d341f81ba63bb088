"""Per-document values of one commit, read once and kept: facet values, publication
time, quality, clip ids, and the set of live documents.  What filters, facet counts and
sorting walk instead of stored fields."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import chain
from typing import Any

from whoosh.util.times import datetime_to_long

from clipsearch.index.storage import guarded, leaves

#: Microseconds in a day: Whoosh stores times as microseconds since 0001-01-01.
_DAY = 86_400_000_000
#: Facets with at most this many values are counted by set intersection per value.
FEW_VALUES = 32


@dataclass(frozen=True, slots=True)
class FacetColumn:
    """Per-document facet values for one field: `values[k]` is a display value and
    `docs[docnum]` the tuple of value numbers of that document.  Case variants of a
    value share one number; the most frequent spelling is displayed."""

    values: tuple[str, ...]
    docs: tuple[tuple[int, ...], ...]
    postings: tuple[frozenset[int], ...]

    def count(self, docs: Collection[int]) -> Counter[str]:
        """Documents per value over `docs`.  A facet with few values (news topics) is
        counted with one C-level set intersection per value; one with many (providers)
        by walking the documents' value tuples, also without a Python-level loop."""
        values = self.values
        if self.postings and len(self.postings) <= FEW_VALUES and isinstance(docs, set | frozenset):
            return Counter(
                {values[k]: n for k, p in enumerate(self.postings) if (n := len(p & docs))}
            )
        numbers = Counter(chain.from_iterable(map(self.docs.__getitem__, docs)))
        return Counter({values[k]: n for k, n in numbers.items()})

    def count_distinct(
        self, docs: Collection[int], story: Sequence[int], with_copies: frozenset[int]
    ) -> Counter[str]:
        """Distinct stories per value over `docs` (`story[d]`: d's story;
        `with_copies`: the documents of stories with several): a story with copies
        under one value counts once there.  The clip counts less the extra copies,
        so only the matches that have copies are walked."""
        counts = self.count(docs)
        present = with_copies & (docs if isinstance(docs, set | frozenset) else set(docs))
        by_story: dict[int, list[int]] = {}
        for d in present:
            by_story.setdefault(story[d], []).append(d)
        per_doc, values = self.docs, self.values
        for members in by_story.values():
            if len(members) < 2:
                continue
            for k, n in Counter(chain.from_iterable(map(per_doc.__getitem__, members))).items():
                if n > 1:
                    counts[values[k]] -= n - 1
        return counts

    def docs_with(self, wanted: Iterable[str]) -> set[int]:
        """Documents having any of the given values (OR inside one facet)."""
        position = {v: k for k, v in enumerate(self.values)}
        out: set[int] = set()
        for v in wanted:
            k = position.get(v)
            if k is not None:
                out |= self.postings[k]
        return out


class Columns:
    """The per-document arrays of one commit, each built on first use."""

    def __init__(
        self,
        path: str,
        reader: Any,
        schema: Any,
        prebuilt: Callable[[], dict[str, FacetColumn] | None] | None = None,
    ):
        self.path = path  # for error messages (guarded)
        self._reader = reader
        self._schema = schema
        #: Loads facet columns built for this commit (None once asked).
        self._prebuilt = prebuilt
        self._facets: dict[str, FacetColumn] = {}
        self._published: list[int | None] | None = None
        self._by_time: tuple[list[int], list[int]] | None = None
        self._quality: list[int | None] | None = None
        self._ids: list[str] | None = None
        self._days: list[int | None] | None = None
        self._live: set[int] | None = None

    def live_docs(self) -> set[int]:
        if self._live is None:
            self._live = set(self._reader.all_doc_ids())
        return self._live

    def facet(self, field: str) -> FacetColumn:
        """Facet values per document: from the derived data written with this commit
        when `prebuilt` gives them, else read once from the postings of `field`."""
        if self._prebuilt is not None:
            load, self._prebuilt = self._prebuilt, None
            self._facets.update(load() or {})
        col = self._facets.get(field)
        if col is None:
            col = self._facets[field] = self._build_facet(field)
        return col

    @guarded
    def _build_facet(self, field: str) -> FacetColumn:
        reader = self._reader
        key_of: dict[str, int] = {}
        spellings: list[dict[str, int]] = []
        postings: list[set[int]] = []
        for raw in reader.lexicon(field):
            term = raw.decode("utf-8")
            ids = list(reader.postings(field, raw).all_ids())
            k = key_of.setdefault(term.casefold(), len(spellings))
            if k == len(spellings):
                spellings.append({})
                postings.append(set())
            spellings[k][term] = spellings[k].get(term, 0) + len(ids)
            postings[k].update(ids)
        per_doc: list[list[int]] = [[] for _ in range(reader.doc_count_all())]
        for k, ids in enumerate(postings):
            for d in ids:
                per_doc[d].append(k)
        values = tuple(max(s.items(), key=lambda kv: (kv[1], kv[0]))[0] for s in spellings)
        return FacetColumn(
            values, tuple(map(tuple, per_doc)), tuple(frozenset(p) for p in postings)
        )

    def docs_between(self, since: datetime | None, until: datetime | None) -> set[int]:
        """Documents published in [since, until] (naive UTC); undated ones never match."""
        if self._by_time is None:
            pairs = sorted((t, d) for d, t in enumerate(self.published()) if t is not None)
            self._by_time = ([t for t, _ in pairs], [d for _, d in pairs])
        times, docs = self._by_time
        lo = 0 if since is None else bisect_left(times, datetime_to_long(since))
        hi = len(times) if until is None else bisect_right(times, datetime_to_long(until))
        return set(docs[lo:hi])

    def published(self) -> list[int | None]:
        """Publication time per document as a sortable integer (None when unknown)."""
        if self._published is None:
            self._published = self._column("published")
        return self._published

    def day_counts(self, docs: Collection[int]) -> tuple[Counter[int], int]:
        """Documents of `docs` per UTC day of publication (days since 0001-01-01), and
        how many have no date."""
        if self._days is None:
            self._days = [None if t is None else t // _DAY for t in self.published()]
        days = self._days
        counts = Counter(map(days.__getitem__, docs))
        undated = counts.pop(None, 0)
        return counts, undated  # type: ignore[return-value]

    def quality(self) -> list[int | None]:
        """Quality per document as a sortable integer (None when unknown)."""
        if self._quality is None:
            self._quality = self._column("quality")
        return self._quality

    @guarded
    def clip_id(self, docnum: int) -> str:
        """The clip id of a document, from the id column (no stored fields read)."""
        if self._ids is None:
            ids: list[str] = []
            for leaf, _offset in leaves(self._reader):
                ids.extend(leaf.column_reader("id"))
            self._ids = ids
        return self._ids[docnum]

    @guarded
    def _column(self, field: str) -> list[int | None]:
        default = self._schema[field].column_type.default_value()
        out: list[int | None] = []
        # Per segment: Whoosh's MultiColumnReader iterates nothing when a segment has
        # no values for the column.
        for leaf, _offset in leaves(self._reader):
            out.extend(
                None if v == default else v for v in leaf.column_reader(field, translate=False)
            )
        return out
