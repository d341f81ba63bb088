"""Match sets and score tables as numpy arrays: `DocSet` (sorted unique document
numbers) and `ScoreMap` (document numbers with their scores).

They behave as the `set[int]` and `dict[int, float]` the engine has always been
handed (iteration, `len`, `in`, `&`, `|`, `-`, mixing with plain sets), so every
consumer keeps working, while the hot paths (scoring, filters, facet counts, top-k)
work on the arrays without a Python object per document.  A shard answers in plain
values (`plain_set`, `plain_scores`) when it crosses a process boundary."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import numpy as np

DOC = np.int64
_EMPTY_DOCS = np.empty(0, dtype=DOC)
_EMPTY_SCORES = np.empty(0, dtype=np.float64)


def as_docs(docs: Any) -> np.ndarray:
    """Sorted unique document numbers of a DocSet, ScoreMap, array or any iterable."""
    if isinstance(docs, DocSet):
        return docs.docs
    if isinstance(docs, ScoreMap):
        return docs.docs
    if isinstance(docs, np.ndarray):
        return sorted_unique(docs.astype(DOC, copy=False))
    if isinstance(docs, Mapping):
        docs = docs.keys()
    if not docs:
        return _EMPTY_DOCS
    arr = np.fromiter(docs, dtype=DOC, count=len(docs) if hasattr(docs, "__len__") else -1)
    return sorted_unique(arr)


def sorted_unique(docs: np.ndarray) -> np.ndarray:
    """`docs` sorted, each once (a sort and a neighbour comparison: numpy's own
    `unique` hashes first, several times slower on these arrays)."""
    if len(docs) < 2:
        return docs
    out = np.sort(docs)
    keep = np.empty(len(out), dtype=bool)
    keep[0] = True
    np.not_equal(out[1:], out[:-1], out=keep[1:])
    return out if keep.all() else out[keep]


def dense(total: int, span: int) -> bool:
    """Whether sets of `total` elements among document numbers below `span` are
    better combined through a boolean mask over the span than by sorting or binary
    search (benchmarks/match_sets.py: masks win for common words, sorted arrays for
    rare ones)."""
    return total * 8 >= span


def intersect(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The common elements of two sorted unique arrays."""
    if len(a) > len(b):
        a, b = b, a
    return a[member(a, b)] if len(a) else a


def member(docs: np.ndarray, of: np.ndarray) -> np.ndarray:
    """Boolean mask: which of the sorted `docs` are in the sorted unique `of`.  A few
    `docs` against many are looked up by binary search (cost follows the few)."""
    if not len(of) or not len(docs):
        return np.zeros(len(docs), dtype=bool)
    if len(docs) * 8 >= len(of):
        span = int(max(docs[-1], of[-1])) + 1
        if dense(len(docs) + len(of), span):
            mask = np.zeros(span, dtype=bool)
            mask[of] = True
            return mask[docs]
    pos = of.searchsorted(docs)
    pos[pos == len(of)] = 0
    return of[pos] == docs


class DocSet:
    """A set of document numbers as one sorted numpy array (never mutated)."""

    __slots__ = ("docs",)
    #: numpy leaves `array & docset` to DocSet instead of going element by element.
    __array_ufunc__ = None

    def __init__(self, docs: np.ndarray = _EMPTY_DOCS):
        #: Sorted, unique, int64.  Trusted: build with `DocSet.of` from anything else.
        self.docs = docs

    @classmethod
    def of(cls, docs: Any) -> DocSet:
        return docs if isinstance(docs, DocSet) else cls(as_docs(docs))

    def __len__(self) -> int:
        return len(self.docs)

    def __bool__(self) -> bool:
        return len(self.docs) > 0

    def __iter__(self) -> Iterator[int]:
        return iter(self.docs.tolist())

    def __contains__(self, d: object) -> bool:
        docs = self.docs
        if not isinstance(d, int | np.integer) or not len(docs):
            return False
        i = int(docs.searchsorted(d))
        return i < len(docs) and int(docs[i]) == d

    def __repr__(self) -> str:
        return f"DocSet({self.docs.tolist()!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, DocSet):
            return np.array_equal(self.docs, other.docs)
        if isinstance(other, set | frozenset):
            return set(self.docs.tolist()) == other
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    # -- set algebra (a plain set on either side is converted)
    def __and__(self, other: Any) -> DocSet:
        return DocSet(intersect(self.docs, as_docs(other)))

    __rand__ = __and__

    def __or__(self, other: Any) -> DocSet:
        o = as_docs(other)
        if not len(o):
            return self
        if not len(self.docs):
            return DocSet(o)
        return DocSet(union_all([self.docs, o]))

    __ror__ = __or__

    def __sub__(self, other: Any) -> DocSet:
        o = as_docs(other)
        if not len(o) or not len(self.docs):
            return self
        return DocSet(self.docs[~member(self.docs, o)])

    def __rsub__(self, other: Any) -> DocSet:
        return DocSet.of(other) - self

    def intersection(self, *others: Any) -> DocSet:
        out = self
        for o in sorted(others, key=len):
            out = out & o
        return out

    def union(self, *others: Any) -> DocSet:
        return DocSet(union_all([self.docs, *(as_docs(o) for o in others)])) if others else self

    def difference(self, *others: Any) -> DocSet:
        out = self
        for o in others:
            out = out - o
        return out

    def isdisjoint(self, other: Any) -> bool:
        return not len(intersect(self.docs, as_docs(other)))

    def issubset(self, other: Any) -> bool:
        return len(intersect(self.docs, as_docs(other))) == len(self.docs)

    def copy(self) -> DocSet:
        return self

    def scored(self, value: float) -> ScoreMap:
        """Every document with the same score."""
        return ScoreMap.constant(self.docs, value)


def union_all(parts: Iterable[np.ndarray]) -> np.ndarray:
    """The sorted union of several sorted unique arrays."""
    parts = [p for p in parts if len(p)]
    if not parts:
        return _EMPTY_DOCS
    if len(parts) == 1:
        return parts[0]
    span = max(int(p[-1]) for p in parts) + 1
    if dense(sum(len(p) for p in parts), span):
        mask = np.zeros(span, dtype=bool)
        for p in parts:
            mask[p] = True
        return np.flatnonzero(mask).astype(DOC, copy=False)
    return sorted_unique(np.concatenate(parts))


class ScoreMap(Mapping[int, float]):
    """Scored documents: sorted unique `docs` and their `scores`, as a read-only
    docnum -> score mapping."""

    __slots__ = ("docs", "scores")

    def __init__(self, docs: np.ndarray = _EMPTY_DOCS, scores: np.ndarray = _EMPTY_SCORES):
        self.docs = docs
        self.scores = scores

    @classmethod
    def of(cls, scores: Any) -> ScoreMap:
        """A ScoreMap of any docnum -> score mapping."""
        if isinstance(scores, ScoreMap):
            return scores
        if not scores:
            return cls()
        items = sorted(scores.items())
        docs = np.fromiter((d for d, _ in items), dtype=DOC, count=len(items))
        vals = np.fromiter((v for _, v in items), dtype=np.float64, count=len(items))
        return cls(docs, vals)

    @classmethod
    def constant(cls, docs: np.ndarray, value: float) -> ScoreMap:
        return cls(docs, np.full(len(docs), value, dtype=np.float64))

    def __len__(self) -> int:
        return len(self.docs)

    def __iter__(self) -> Iterator[int]:
        return iter(self.docs.tolist())

    def __contains__(self, d: object) -> bool:
        return d in DocSet(self.docs)

    def __getitem__(self, d: int) -> float:
        docs = self.docs
        i = int(docs.searchsorted(d))
        if i < len(docs) and int(docs[i]) == d:
            return float(self.scores[i])
        raise KeyError(d)

    def keys(self) -> DocSet:  # type: ignore[override]
        return DocSet(self.docs)

    def items(self) -> Iterator[tuple[int, float]]:  # type: ignore[override]
        return zip(self.docs.tolist(), self.scores.tolist(), strict=True)

    def values(self) -> list[float]:  # type: ignore[override]
        return self.scores.tolist()

    def within(self, docs: Any) -> ScoreMap:
        """The scored documents among `docs`."""
        keep = member(self.docs, as_docs(docs))
        return ScoreMap(self.docs[keep], self.scores[keep])

    def scores_of(self, docs: np.ndarray) -> np.ndarray:
        """The scores of `docs`, which must all be scored."""
        return self.scores[self.docs.searchsorted(docs)]


def plain_set(docs: Any) -> set[int]:
    """A set of Python ints (what crosses a process boundary)."""
    return set(docs.docs.tolist()) if isinstance(docs, DocSet) else set(docs)


def plain_scores(scores: Any) -> dict[int, float]:
    """A dict of Python ints and floats (what crosses a process boundary)."""
    if isinstance(scores, ScoreMap):
        return dict(zip(scores.docs.tolist(), scores.scores.tolist(), strict=True))
    return dict(scores)
