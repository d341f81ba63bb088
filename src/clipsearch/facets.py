"""Facets: exact counts over every match, disjunctive counts, and fuzzy facet values.

Counting never scores documents (Whoosh's `groupedby` does, and it dominated query
time): it walks the set of matching document numbers through per-document value
arrays that the index reads once per opened snapshot.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from itertools import chain

from rapidfuzz.distance import OSA

from clipsearch.errors import QueryError
from clipsearch.fuzzy import max_edits

_TOKEN = re.compile(r"\w+")
_FILLER = frozenset({"the", "a", "an", "of", "and", "for", "on", "in", "at", "to"})
#: A fuzzy value within this score of the best one makes the choice ambiguous.
AMBIGUITY_MARGIN = 0.12
#: Below this score a value is not a match at all.
MIN_SCORE = 0.6


@dataclass(frozen=True, slots=True)
class FacetCounts:
    """Counts for one facet: the top values (selected ones always included) and how
    many other values have at least one match."""

    counts: dict[str, int]
    other_values: int = 0


#: Facets with at most this many values are counted by set intersection per value.
FEW_VALUES = 32


def count(
    docs: Collection[int],
    per_doc: Sequence[tuple[int, ...]],
    postings: Sequence[frozenset[int]] = (),
) -> Counter[int]:
    """Value-number counts over `docs`.  A facet with few values (news topics) is
    counted with one C-level set intersection per value; one with many (providers)
    by walking the documents' value tuples, also without a Python-level loop."""
    if postings and len(postings) <= FEW_VALUES and isinstance(docs, set | frozenset):
        return Counter({k: n for k, p in enumerate(postings) if (n := len(p & docs))})
    return Counter(chain.from_iterable(map(per_doc.__getitem__, docs)))


def top_counts(
    counts: Counter[int],
    values: Sequence[str],
    limit: int | None,
    selected: Iterable[int] = (),
) -> FacetCounts:
    """The `limit` most frequent values (ties by name), plus any `selected` value."""
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], values[kv[0]]))
    shown = ranked if limit is None else ranked[:limit]
    out = {values[k]: n for k, n in shown}
    for k in selected:
        out.setdefault(values[k], counts.get(k, 0))
    return FacetCounts(out, max(0, len(ranked) - len(shown)))


def docs_with(value_ids: Iterable[int], postings: Sequence[frozenset[int]]) -> set[int]:
    """Documents having any of the given values (OR inside one facet)."""
    out: set[int] = set()
    for k in value_ids:
        out |= postings[k]
    return out


def resolve(field: str, wanted: str, values: Sequence[str]) -> list[int]:
    """Value numbers a user's filter value means: every case variant of an exact
    match, else the one clearly best fuzzy match ("natl law review" -> "The National
    Law Review").  Ambiguous or unknown values raise `QueryError` listing candidates."""
    key = " ".join(wanted.split()).casefold()
    if not key:
        raise QueryError(f"--{field}: empty value")
    exact = [k for k, v in enumerate(values) if v.casefold() == key]
    if exact:
        return exact
    scored = sorted(
        ((s, k) for k, v in enumerate(values) if (s := match_score(key, v)) >= MIN_SCORE),
        key=lambda sk: (-sk[0], values[sk[1]]),
    )
    if not scored:
        raise QueryError(f"--{field} {wanted!r}: no such {field}{_closest(key, values)}")
    best = scored[0][0]
    close = [k for s, k in scored if s >= best - AMBIGUITY_MARGIN]
    if len(close) > 1:
        names = ", ".join(repr(values[k]) for k in close[:6])
        raise QueryError(f"--{field} {wanted!r} is ambiguous: it could be {names}; be more precise")
    return close


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
