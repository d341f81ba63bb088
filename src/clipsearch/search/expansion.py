"""Query expansion by pseudo-relevance feedback (RM3): a long query is searched
once, its best clips are taken as relevant, and the words that weigh most in them
are added to the query, which is searched again.

The relevance model is P(w|R) = sum over the FB_DOCS best clips d of P(w|d) times
d's share of their scores, P(w|d) = tf / length over the clip's analysed text
fields (re-analysed from the stored text of those few clips).  Numbers, stop words
and words in more than MAX_DF of the clips (which tell nothing) are left out; the
FB_TERMS most probable words remain.  The query searched is the original one with
weight ORIGINAL_WEIGHT (its words' weights summing to that), OR'ed with the
feedback words weighted (1 - ORIGINAL_WEIGHT) * P(w|R) normalised, all BM25F: a
feedback word that is also a query word adds to that word's weight.

Only plain natural-language queries are expanded (more than
matching.NATURAL_LANGUAGE_AFTER words, no operators): a short query says what it
wants, and feedback from a handful of words drifts."""

from __future__ import annotations

import heapq
from collections.abc import Mapping

from clipsearch.index import Compiled, ParsedQuery, interpolated, stem_query
from clipsearch.search import matching
from clipsearch.search.backend import Backend

#: Best clips of the first search taken as relevant.
FB_DOCS = 10
#: Feedback words added.
FB_TERMS = 20
#: Share of the original query in the expanded one.
ORIGINAL_WEIGHT = 0.7
#: Words in more than this share of the clips are never feedback words.
MAX_DF = 0.1
#: Stored fields read for feedback words.
FEEDBACK_FIELDS = ("title", "excerpt", "body", "related")


def applies(parsed: ParsedQuery) -> bool:
    """Whether a query is expanded: plain words, more than NATURAL_LANGUAGE_AFTER."""
    return (
        parsed.is_plain
        and not parsed.has_operators
        and parsed.word_count > matching.NATURAL_LANGUAGE_AFTER
    )


def feedback_terms(
    backend: Backend,
    scores: Mapping[int, float],
    fb_docs: int = FB_DOCS,
    fb_terms: int = FB_TERMS,
    max_df: float = MAX_DF,
) -> list[tuple[str, float]]:
    """The relevance model of the `fb_docs` best-scored clips: its `fb_terms` most
    probable analysed words with P(w|R), normalised to sum 1, best first."""
    top = heapq.nsmallest(fb_docs, scores.items(), key=lambda kv: (-kv[1], kv[0]))
    total = sum(s for _, s in top if s > 0)
    if not top or total <= 0:
        return []
    model: dict[str, float] = {}
    for docnum, score in top:
        if score <= 0:
            continue
        stored = backend.stored(docnum)
        tokens = [
            t
            for name in FEEDBACK_FIELDS
            for t in backend.analyze(str(stored.get(name) or ""))
            if _telling(t)
        ]
        if not tokens:
            continue
        share = score / total / len(tokens)
        for t in tokens:
            model[t] = model.get(t, 0.0) + share
    ranked = sorted(model, key=lambda t: (-model[t], t))
    n = max(1, backend.doc_count)
    chosen: list[str] = []
    for token in ranked:  # the most probable first: few document-frequency look-ups
        if len(chosen) >= fb_terms:
            break
        if len(backend.match(stem_query(token))) <= max_df * n:
            chosen.append(token)
    norm = sum(model[t] for t in chosen)
    return [(t, model[t] / norm) for t in chosen] if norm > 0 else []


def expand(
    original: Compiled,
    query_length: int,
    feedback: list[tuple[str, float]],
    original_weight: float = ORIGINAL_WEIGHT,
) -> Compiled:
    """The interpolated query: `original` (of `query_length` analysed words, whose
    weights it sums) weighted `original_weight`, and the feedback words the rest."""
    scale = original_weight / max(1, query_length)
    rest = 1.0 - original_weight
    return interpolated(original, scale, [(t, rest * p) for t, p in feedback])


def _telling(token: str) -> bool:
    """Whether an analysed word may be a feedback word: two letters or more, no digits
    (numbers, dates, codes and initials say nothing of a topic)."""
    return len(token) > 1 and not any(c.isdigit() for c in token)
