"""The best `n` documents by a sort key, ties broken by clip id.

Order must depend on the data, never on where documents sit in segments: the same
clips give the same page whatever the merge history, and shards that each return
their best `n` merge into exactly the page one index gives."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from typing import Any


def top_k(
    docs: Iterable[int],
    n: int,
    key: Callable[[int], Any],
    clip_id: Callable[[int], str],
    clip_ids: Callable[[list[int]], list[str]] | None = None,
) -> list[int]:
    """The `n` documents with the largest `key`; among equal keys the smaller clip id
    comes first.  Ids are looked up only for documents whose key ties at the page's
    edge or inside it, so the common case costs one `heapq.nlargest`; `clip_ids`, when
    given, looks them up at once (one round trip to each shard)."""
    if n <= 0:
        return []
    pool = docs if isinstance(docs, list | set | frozenset | dict) else list(docs)
    best = heapq.nlargest(n + 1, pool, key=key)
    if len(best) > n and key(best[n]) == key(best[n - 1]):
        edge = key(best[n - 1])  # documents past the edge may share its key: find all
        above = [d for d in best if key(d) > edge]
        best = above + [d for d in pool if key(d) == edge]
    if clip_ids is not None:
        ids = dict(zip(best, clip_ids(best), strict=True))
        best.sort(key=ids.__getitem__)
    else:
        best.sort(key=clip_id)
    best.sort(key=key, reverse=True)  # stable: equal keys stay in id order
    return best[:n]


def top_candidates(keys: list[Any], n: int) -> Any:
    """Positions (a numpy array, unordered) holding the `n` largest entries by the
    column keys `keys` (most significant first, each a numpy array, larger first),
    together with every entry that ties the n-th on all keys: what an exact sort by
    (keys, clip id) needs to see.  Partial selection (`np.partition`) per key level,
    so the cost follows the number of entries, not a sort of them."""
    import numpy as np

    def select(idx: Any, level: int, want: int) -> Any:
        if len(idx) <= want or level == len(keys):
            return idx
        col = keys[level][idx]
        kth = np.partition(col, len(col) - want)[len(col) - want]
        above = idx[col > kth]
        tied = idx[col == kth]
        return np.concatenate([above, select(tied, level + 1, want - len(above))])

    if n <= 0 or not len(keys[0]):
        return np.empty(0, dtype=np.int64)
    return select(np.arange(len(keys[0])), 0, n)
