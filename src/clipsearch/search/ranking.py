"""The order of hits: by score in tiers for short keyword queries, else by score, date
or quality; ties always by clip id (topk.py).

Tiered: clips matching more of the query's words first; among those, clips matching
more of them as typed (not only through a correction) first; BM25F within a tier.
So all words beat some, and an exact match beats a corrected one whatever the field
lengths (BM25F alone put a correction in a short title above the typed word in a
long body)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from clipsearch.index import ParsedQuery
from clipsearch.search.backend import Backend
from clipsearch.search.corrections import Alternatives
from clipsearch.topk import top_k

#: Plain queries of at most this many words are ranked in tiers.
TIERED_MAX_WORDS = 5


@dataclass(frozen=True, slots=True)
class Tiers:
    """Per query word that matches anything: (clips with it as typed, clips with it or
    a correction of it)."""

    words: list[tuple[set[int], set[int]]]


def tiers_for(
    backend: Backend, parsed: ParsedQuery, alternatives: Alternatives, sort: str
) -> Tiers | None:
    """The tiers of a query, or None when it is ranked by score alone: a long
    (natural-language) query, explicit syntax, one uncorrected word, or a sort by
    date or quality."""
    n_words = len(parsed.words)
    if not (
        sort == "relevance"
        and parsed.is_plain
        and (n_words > 1 or alternatives)
        and n_words <= TIERED_MAX_WORDS
    ):
        return None
    words: list[tuple[set[int], set[int]]] = []
    for exact_q, either_q in parsed.word_queries(alternatives):
        exact = backend.match(exact_q)
        either = exact if either_q is None else backend.match(either_q)
        if either:  # a word nothing matches (a stop word) ranks no clip above another
            words.append((exact, either))
    return Tiers(words)


def page(
    backend: Backend,
    scores: dict[int, float],
    tiers: Tiers | None,
    allowed: set[int] | None,
    n: int,
    sort: str,
) -> list[tuple[int, float]]:
    """The first `n` hits (docnum, score), among `allowed` when given."""
    if tiers is None or n <= 0 or not tiers.words:
        return backend.top(scores, n, allow=allowed, sort=sort)
    # The top tier (every word as typed) usually fills the page: take it with set
    # algebra, and count words per clip only when it does not.
    exact_sets = sorted((exact for exact, _ in tiers.words), key=len)
    top_tier = set(exact_sets[0]).intersection(*exact_sets[1:])
    if allowed is not None:
        top_tier &= allowed
    first = backend.top(scores, n, allow=top_tier)
    if len(first) == n:
        return first
    matched: Counter[int] = Counter()
    as_typed: Counter[int] = Counter()
    for exact, either in tiers.words:
        as_typed.update(exact)
        matched.update(either)
    docs: Iterable[int] = scores if allowed is None else [d for d in allowed if d in scores]
    key = lambda d: (matched[d], as_typed[d], scores[d])  # noqa: E731
    return [(d, scores[d]) for d in top_k(docs, n, key, backend.clip_id)]
