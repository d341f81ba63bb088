"""Facets as the engine sees them: which values a user's (fuzzy) filter value means,
and the top values of counts a backend made over a match set.  Counting itself walks
per-document arrays inside the index (index/columns.py), never scoring anything."""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterable, Mapping, Sequence

from clipsearch.errors import RequestError
from clipsearch.search.backend import Backend
from clipsearch.search.fuzzy import max_edits
from clipsearch.search.result import FacetCounts

_TOKEN = re.compile(r"\w+")
_FILLER = frozenset({"the", "a", "an", "of", "and", "for", "on", "in", "at", "to"})
#: A fuzzy value within this score of the best one makes the choice ambiguous.
AMBIGUITY_MARGIN = 0.12
#: Below this score a value is not a match at all.
MIN_SCORE = 0.6


def top_counts(
    counts: Mapping[str, int], limit: int | None, selected: Iterable[str] = ()
) -> FacetCounts:
    """The `limit` most frequent values (ties by name), plus any `selected` value."""
    items: Iterable[tuple[str, int]] = counts.items()
    if limit is not None and 0 < limit < len(counts):
        # Only values as frequent as the limit-th can be shown: sort just those.
        cut = heapq.nlargest(limit, counts.values())[-1]
        items = [kv for kv in items if kv[1] >= cut]
    ranked = sorted(items, key=lambda kv: (-kv[1], kv[0]))
    shown = ranked if limit is None else ranked[:limit]
    out = dict(shown)
    for v in selected:
        out.setdefault(v, counts.get(v, 0))
    return FacetCounts(out, max(0, len(counts) - len(shown)))


def resolve(field: str, wanted: str, values: Sequence[str]) -> list[str]:
    """The values a user's filter value means: every case variant of an exact match,
    else the one clearly best fuzzy match ("natl law review" -> "The National Law
    Review").  Ambiguous or unknown values raise `RequestError` listing candidates."""
    key = " ".join(wanted.split()).casefold()
    if not key:
        raise RequestError(f"{field}s", wanted, "empty value")
    exact = [v for v in values if v.casefold() == key]
    if exact:
        return exact
    scored = sorted(
        ((s, k) for k, v in enumerate(values) if (s := match_score(key, v)) >= MIN_SCORE),
        key=lambda sk: (-sk[0], values[sk[1]]),
    )
    if not scored:
        raise RequestError(f"{field}s", wanted, f"no such {field}{_closest(key, values)}")
    best = scored[0][0]
    close = [k for s, k in scored if s >= best - AMBIGUITY_MARGIN]
    if len(close) > 1:
        names = ", ".join(repr(values[k]) for k in close[:6])
        raise RequestError(f"{field}s", wanted, f"ambiguous: it could be {names}; be more precise")
    return [values[k] for k in close]


def match_score(typed: str, value: str) -> float:
    """How well a typed facet value matches a real one, 0..1.  Every typed word must
    match a word of the value: exactly, as a prefix, as an abbreviation ("natl"), or
    within the typo distance; covering more of the value's words scores higher."""
    q = [t for t in _TOKEN.findall(typed.casefold()) if t not in _FILLER] or _TOKEN.findall(
        typed.casefold()
    )
    v = [t for t in _TOKEN.findall(value.casefold()) if t not in _FILLER] or _TOKEN.findall(
        value.casefold()
    )
    if not q or not v:
        return 0.0
    used: set[int] = set()
    total = 0.0
    for word in q:
        best, where = 0.0, -1
        for i, cand in enumerate(v):
            if i in used:
                continue
            s = _word_score(word, cand)
            if s > best:
                best, where = s, i
        if where < 0:
            return 0.0
        used.add(where)
        total += best
    coverage = len(used) / len(v)
    return (total / len(q)) * (0.6 + 0.4 * coverage)


def _word_score(typed: str, word: str) -> float:
    if typed == word:
        return 1.0
    if len(typed) >= 2 and word.startswith(typed):
        return 0.85
    if len(typed) >= 3 and typed[0] == word[0] and _is_subsequence(typed, word):
        return 0.85  # an abbreviation: natl -> national, govt -> government
    k = max(max_edits(typed), 1 if len(typed) >= 4 else 0)
    # rapidfuzz only when a filter value is fuzzy: a search without one never loads it.
    from rapidfuzz.distance import OSA

    if k and OSA.distance(typed, word, score_cutoff=k) <= k:
        return 0.8
    return 0.0


def _is_subsequence(short: str, long: str) -> bool:
    it = iter(long)
    return all(ch in it for ch in short)


def _closest(key: str, values: Sequence[str], n: int = 3) -> str:
    """The values sharing most of the typed words (then the most similar), for a hint."""
    from rapidfuzz import fuzz, utils

    typed = [t for t in _TOKEN.findall(key) if t not in _FILLER] or _TOKEN.findall(key)

    def shared(value: str) -> float:
        words = _TOKEN.findall(value.casefold())
        return sum(max((_word_score(t, w) for w in words), default=0.0) for t in typed)

    ranked = sorted(
        values,
        key=lambda v: (-shared(v), -fuzz.token_set_ratio(key, v, processor=utils.default_process)),
    )[:n]
    return "; closest: " + ", ".join(repr(v) for v in ranked) if ranked else ""


def disjunctive_counts(
    backend: Backend,
    field: str,
    matched: set[int],
    filters: Mapping[str, set[int]],
    limit: int | None,
    selected: Iterable[str] = (),
    stories: bool = False,
) -> FacetCounts:
    """Counts of `field` over `disjunctive_base`; of distinct stories instead of
    clips with `stories`."""
    count = backend.facet_story_counts if stories else backend.facet_counts
    return top_counts(count(field, disjunctive_base(field, matched, filters)), limit, selected)


def disjunctive_base(field: str, matched: set[int], filters: Mapping[str, set[int]]) -> set[int]:
    """The matches with every filter applied but the field's own: what a facet's
    counts count, so the alternatives to a chosen value keep their sizes."""
    base = matched
    for k, s in filters.items():
        if k != field:
            base = base & s  # a new set: `matched` stays as it is
    return base
