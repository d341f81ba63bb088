"""Query expansion by pseudo-relevance feedback (RM3): a long query is searched
once, its best clips are taken as relevant, and the words that weigh most in them
are added to the query, which is searched again.

The relevance model follows Anserini's RM3 (Rm3Reranker), the reference the CACM
figures are compared with: each of the FB_DOCS best clips is a vector of its
analysed words' frequencies (re-analysed from the stored text of those few clips),
keeping words of 2 to 20 letters or digits found in at most MAX_DF of the clips (the
others tell nothing), cut to its FB_TERMS strongest words by tf-idf (Anserini cuts by
tf alone, which in short clips is mostly ties) and scaled to sum 1; P(w|R) sums those
vectors weighted by the clips' scores, and its FB_TERMS most probable words remain,
normalised.  Cutting each clip to its
own strongest words before summing is what keeps one long clip's vocabulary from
swamping the model.  The query searched is the original one with weight
ORIGINAL_WEIGHT (its words' weights summing to that), OR'ed with the feedback words
weighted (1 - ORIGINAL_WEIGHT) * P(w|R), all BM25F: a feedback word that is also a
query word adds to that word's weight.

Only plain natural-language queries are expanded (more than
matching.NATURAL_LANGUAGE_AFTER words, no operators): a short query says what it
wants, and feedback from a handful of words drifts."""

from __future__ import annotations

import heapq
import math
from collections import Counter
from collections.abc import Mapping

from clipsearch.index import Compiled, ParsedQuery, interpolated
from clipsearch.search import matching
from clipsearch.search.backend import Backend

#: Best clips of the first search taken as relevant.
FB_DOCS = 15
#: Words kept per feedback clip, and feedback words added.
FB_TERMS = 15
#: Share of the original query in the expanded one.
ORIGINAL_WEIGHT = 0.4
#: Words in more than this share of the clips are never feedback words.
MAX_DF = 0.1
#: Feedback words are 2 to this many characters long.
LONGEST_WORD = 20
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
    n_docs = max(1, backend.doc_count)
    most = max_df * n_docs
    dfs: dict[str, int] = {}
    model: Counter[str] = Counter()
    for docnum, score in top:
        if score <= 0:
            continue
        stored = backend.stored(docnum)
        tf = Counter(
            t for name in FEEDBACK_FIELDS for t in backend.analyze(str(stored.get(name) or ""))
        )
        kept = {}
        for token, n in tf.items():
            if not _telling(token):
                continue
            if token not in dfs:
                dfs[token] = backend.term_df(token)
            if 0 < dfs[token] <= most:
                kept[token] = n
        strongest = sorted(
            kept.items(), key=lambda kv: (-kv[1] * math.log(n_docs / dfs[kv[0]]), kv[0])
        )[:fb_terms]
        norm = sum(n for _, n in strongest)
        for token, n in strongest:
            model[token] += n / norm * score
    chosen = sorted(model.items(), key=lambda kv: (-kv[1], kv[0]))[:fb_terms]
    total = sum(p for _, p in chosen)
    return [(t, p / total) for t, p in chosen] if total > 0 else []


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
    """Whether an analysed word may be a feedback word: 2 to LONGEST_WORD letters or
    digits (as Anserini's RM3: one-letter words and punctuated tokens say nothing)."""
    return 2 <= len(token) <= LONGEST_WORD and token.isalnum()
