"""Stories in a search: the copies of one story (index/grouping.py) shown once, with
their reach, and counts of distinct stories instead of clips (`count="stories"`).

Works on the per-document story column a backend keeps (`story_of()`: the document
number of each clip's earliest copy), never scoring anything beyond the search's
own matches: collapsing walks the ranked page, counting walks the matched set."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
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


def _present(backend: Backend, docs: Collection[int]) -> list[list[int]]:
    """The matching copies of every story with several matching copies: only the
    matches whose story has copies at all are walked."""
    inside = docs if hasattr(docs, "isdisjoint") else set(docs)  # any set type
    story = backend.story_of()
    by_story: dict[int, list[int]] = {}
    for d in backend.docs_with_copies() & inside:
        by_story.setdefault(story[d], []).append(d)
    return [m for m in by_story.values() if len(m) > 1]


def distinct(backend: Backend, docs: Collection[int]) -> int:
    """How many stories the documents belong to: one per document, less the extra
    copies of stories with several."""
    return len(docs) - sum(len(p) - 1 for p in _present(backend, docs))


def earliest_copies(backend: Backend, docs: Collection[int]) -> set[int]:
    """One document per story among `docs`, its earliest (undated last, then by
    document number), so a histogram counts each story once, on its first day."""
    published = backend.published()
    out = set(docs)
    for present in _present(backend, docs):
        first = min(present, key=lambda d: _when(published, d))
        out.difference_update(d for d in present if d != first)
    return out


def _when(published: Sequence[int | None], d: int) -> tuple[bool, int, int]:
    t = published[d]
    return (t is None, t or 0, d)


def copies_of(
    groups: Mapping[int, Sequence[int]], story: int, docnum: int, docs: Collection[int]
) -> list[int]:
    """The matching copies of the story of `docnum` (itself when it has no other)."""
    members = groups.get(story)
    return [docnum] if members is None else [d for d in members if d in docs]


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
    """The reach of one story from its matching copies (columns only, no stored
    fields read)."""
    ordered = sorted(docs, key=lambda d: _when(published, d))
    outlets = dict.fromkeys(
        name for d in ordered for name in backend.facet_values_of("provider", d) if name
    )
    first = backend.published_at(ordered[0]) if ordered else None
    return Reach(len(ordered), tuple(outlets), first)
