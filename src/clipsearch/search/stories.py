"""Stories in a search: the copies of one story (index/grouping.py) shown once, with
their reach, and counts of distinct stories instead of clips (`count="stories"`).

Works on the per-document story column a backend keeps (`story_of()`: the document
number of each clip's earliest copy), never scoring anything beyond the search's
own matches: collapsing walks the ranked page, counting walks the matched set."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from clipsearch.search.backend import Backend


@dataclass(frozen=True, slots=True)
class Reach:
    """What a grouped row says of its story among the matches: how many copies,
    from which outlets (first seen first), and the earliest publication time."""

    copies: int
    outlets: tuple[str, ...]
    first_published: datetime | None


def distinct(story: Sequence[int], docs: Iterable[int]) -> int:
    """How many stories the documents belong to."""
    return len(set(map(story.__getitem__, docs)))


def earliest_copies(
    story: Sequence[int], published: Sequence[int | None], docs: Iterable[int]
) -> set[int]:
    """One document per story among `docs`: its earliest (undated last, then by
    document number), so a histogram counts each story once, on its first day."""
    best: dict[int, int] = {}
    for d in docs:
        s = story[d]
        b = best.get(s)
        if b is None or _when(published, d) < _when(published, b):
            best[s] = d
    return set(best.values())


def _when(published: Sequence[int | None], d: int) -> tuple[bool, int, int]:
    t = published[d]
    return (t is None, t or 0, d)


def members(story: Sequence[int], docs: Iterable[int]) -> dict[int, list[int]]:
    """The documents of each story among `docs`."""
    out: dict[int, list[int]] = {}
    for d in docs:
        out.setdefault(story[d], []).append(d)
    return out


def collapse(
    rank: Callable[[int], list[tuple[int, float]]], story: Sequence[int], n: int, total: int
) -> list[tuple[int, float]]:
    """The first `n` stories of a ranking, each as its best-ranked copy: `rank(k)`
    gives the first k hits, asked for more until n stories are seen or all hits are."""
    want = max(n, 1) * 2
    while True:
        ranked = rank(min(want, total))
        seen: set[int] = set()
        out = []
        for d, s in ranked:
            if story[d] not in seen:
                seen.add(story[d])
                out.append((d, s))
                if len(out) == n:
                    return out
        if len(ranked) >= total:
            return out
        want *= 4


def reach(backend: Backend, docs: Collection[int], published: Sequence[int | None]) -> Reach:
    """The reach of one story from its matching copies."""
    ordered = sorted(docs, key=lambda d: _when(published, d))
    outlets: list[str] = []
    first = None
    for d in ordered:
        stored = backend.stored(d)
        if first is None:
            first = stored.get("published")
        name = stored.get("provider") or ""
        if name and name not in outlets:
            outlets.append(name)
    return Reach(len(ordered), tuple(outlets), first)
