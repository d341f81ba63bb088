"""Joined and split words: "facialrecognition" meant "facial recognition", "face book"
meant "facebook".  Both are expressed as typo alternatives (corrections.py), so that
compiling, the all-words rule, tiered ranking and snippets need nothing new:

* A joined word (not in the index, or rare while its halves are much more frequent)
  that splits into two known words gets the alternative "left right": an alternative
  with a space compiles to a phrase over each text field (`_word_query` analyses it
  into several tokens), so the halves must be adjacent.  Every split position is
  tried (n - 1 dictionary look-ups for a word of n characters) and the split with the
  highest min(df) wins.  The halves are also searched anywhere in the clip (both
  of them, at APART_WEIGHT of the phrase's weight): people glue words that were
  never side by side ("officiallyryzen cpus"), and the phrase still ranks first.
  Letter halves must be vocabulary words (3+ letters); a half of digits is looked
  up in the index's terms ("covid19" -> "covid 19"), and at least one half must be
  letters (no "2022" -> "20 22").
* Two adjacent plain words that join into a known word are a query-level rewrite,
  "(a b) OR ab": each of the two typed words gets the joined word as an alternative.
  So a clip with "facebook" has both typed words for the all-words rule and the
  tiers (the pair counts as present when the joined word is), and BM25F scores it
  as the joined word once per typed word, i.e. like a clip with both words, while
  clips with the words as typed still rank first (tiers put exact words first;
  alternatives weigh below 1).  A stop word is never one of the two ("methods for" is
  not "methodsfor", a slip in some clip's text).

Weights are those of corrections: UNKNOWN_WORD_WEIGHT when the typed word (or one of
the pair) is in no clip, else CORRECTION_WEIGHT.  Quoted words, `field:value` terms
and words under NOT are never touched: they are not among `ParsedQuery.words`.
Reported in `corrections` as {"facialrecognition": "facial recognition"} and
{"face book": "facebook"}."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol


class Lookups(Protocol):
    """What joining and splitting ask about words (a backend, or one query's
    look-ups of it: corrections.QueryLookups)."""

    def term_df(self, word: str) -> int: ...

    def analyze(self, text: str) -> list[str]: ...


#: Weight, relative to the phrase, of a joined word's halves found apart in a clip.
APART_WEIGHT = 0.5
#: Words longer than this are not split (bounds the look-ups; no real join is longer).
MAX_JOINED_CHARS = 40
#: A joined word made of two typed words must be at least this long ("in to" -> no).
MIN_JOINED_CHARS = 5


def _part_df(backend: Lookups, vocab: Mapping[str, int], part: str) -> int:
    if part.isalpha():
        return vocab.get(part, 0) if len(part) >= 3 else 0
    if part.isdigit():
        return backend.term_df(part)
    return 0


def best_split(backend: Lookups, vocab: Mapping[str, int], word: str) -> tuple[str, int] | None:
    """The split of `word` into two known words with the highest min(df): ("left right",
    min df), or None."""
    if len(word) > MAX_JOINED_CHARS or not word.isalnum():
        return None
    best: tuple[str, int] | None = None
    for i in range(1, len(word)):
        left, right = word[:i], word[i:]
        if not (left.isalpha() or right.isalpha()):
            continue
        lo = _part_df(backend, vocab, left)
        if lo == 0 or (best is not None and lo <= best[1]):
            continue
        df = min(lo, _part_df(backend, vocab, right))
        if df > 0 and (best is None or df > best[1]):
            best = (f"{left} {right}", df)
    if best is not None and not backend.analyze(best[0]):
        return None  # only stop words
    return best


def joined_df(backend: Lookups, vocab: Mapping[str, int], left: str, right: str) -> int:
    """Document frequency of `left + right` when it is a known word (else 0)."""
    joined = left + right
    if len(joined) < MIN_JOINED_CHARS or not joined.isalnum():
        return 0
    if not (backend.analyze(left) and backend.analyze(right)):
        return 0  # "methods for" -> "methodsfor": a stop word is never half of a split word
    if joined.isalpha():
        df = vocab.get(joined, 0)
    elif joined.isdigit():
        return 0  # "20 22" is two numbers, not "2022"
    else:
        df = backend.term_df(joined)
    if not df:
        return 0
    stem = backend.analyze(joined)
    if stem in (backend.analyze(left), backend.analyze(right)):
        return 0  # "book s": the typed word already finds it
    return df


def split_pairs(
    backend: Lookups, vocab: Mapping[str, int], pairs: Sequence[tuple[str, str]]
) -> list[tuple[str, str, str]]:
    """(left, right, joined) for the adjacent typed pairs that join into a known word."""
    return [(a, b, a + b) for a, b in pairs if joined_df(backend, vocab, a, b)]
