"""Collection statistics BM25F scores with, as a plain value: a snapshot computes its
own, and a sharded search adds up every shard's and hands the sums to each, so all
score alike (as Whoosh's `searcher.get_parent()` and Tantivy's
`Bm25StatisticsProvider` do).  Kept apart from scoring so sharded search and the
package's import need no numpy."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from clipsearch.index.compile import WordQuery


@dataclass(frozen=True, slots=True)
class QueryStats:
    """What BM25F needs besides a document's own term frequencies: the number of
    documents (deleted ones included, as Whoosh counts them), live documents, each
    text field's total length, and the document frequency of every scored unit of one
    query (a term, or a word over all text fields)."""

    doc_count_all: int
    doc_count: int
    field_lengths: Mapping[str, int]
    dfs: Mapping[Any, int] = field(default_factory=dict)

    def avg_length(self, name: str) -> float:
        return (self.field_lengths.get(name, 0) / (self.doc_count or 1)) or 1.0

    @staticmethod
    def merge(parts: Iterable[QueryStats]) -> QueryStats:
        """The statistics of several disjoint collections searched as one."""
        parts = list(parts)
        lengths: dict[str, int] = {}
        dfs: dict[Any, int] = {}
        for p in parts:
            for k, v in p.field_lengths.items():
                lengths[k] = lengths.get(k, 0) + v
            for k, v in p.dfs.items():
                dfs[k] = dfs.get(k, 0) + v
        return QueryStats(
            sum(p.doc_count_all for p in parts), sum(p.doc_count for p in parts), lengths, dfs
        )


def unit_key(q: Any) -> Any:
    """The key of a scored unit (a term, or a word over all text fields) in
    `QueryStats.dfs`."""
    if isinstance(q, WordQuery):
        return ("word", tuple((t.fieldname, t.text) for t in q.subqueries))
    return ("term", q.fieldname, q.text)
