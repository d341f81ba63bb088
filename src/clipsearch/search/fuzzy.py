"""Typo candidates for query words: which vocabulary words might the user have meant?

The query layer asks, for each typed word, for a few vocabulary words within a
small Damerau distance (OSA: an adjacent transposition is one edit, as in
"faical" -> "facial").  Scanning a 200k-word vocabulary costs 10-40 ms a word,
far over the 2 ms budget for all typo handling of a query, so words are kept
in buckets and only buckets that can hold an answer are scored by rapidfuzz:

* same first letter, one edit (typed words of 5-8 letters by default):
  buckets keyed by (first two letters, length) and (first + third letter,
  length), plus two exact look-ups.  A word one edit away that keeps the
  first letter either keeps the second too, or has the edit there:
  substituted (third letters line up), inserted (its third letter is the
  typed second), dropped or swapped with the third (looked up directly).
* same first letter, two edits (9+ letters): buckets keyed by (first letter,
  length), for each length within two of the typed one.
* changed first letter (substituted, swapped with the second, dropped, or an
  extra letter typed before it): buckets keyed by (second + third letter,
  length), probing the pair each of those typos leaves there.

The same-first-letter part is exact, and so is everything within one edit of
a typed word of 4+ letters (tests check both against a full scan).  Only a
changed-first-letter word with a second edit in its 2nd-3rd letters can be
missed; such words also rank last (FIRST_LETTER_PENALTY).

Measured on a 2-vCPU VM, Python 3.11, rapidfuzz 3.14, 200k real words (the
37.6k of 20k news clips plus wordfreq's English list) and realistic typos
(deletion, neighbouring-key insertion/substitution, transposition) of
frequency-weighted words of 5+ letters; ranges over runs on a noisy machine:
  build 250-310 ms; 18.5 MiB of buckets and dfs (tracemalloc) on top of the
  10.8 MiB of word strings, which the caller's mapping already holds;
  candidates(): median 70-130 us, p95 370-650 us; one edit: median 50-100 us,
  p95 100-220 us; two edits: median 200-420 us, p95 450-850 us.
  Full scans for comparison: extractOne(OSA) 9.6 ms, extractOne(WRatio) 38 ms.
A search does not build them: the writer stores them beside each commit
(index/vocabulary.py) and `StoredTypoIndex` reads the buckets a probe needs from
the mapped file (1.6 ms to open and check it at 155k clips, against 28 ms to parse
the JSON vocabulary and 238 ms to bucket it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from clipsearch.index.vocabulary import (
    HEAD,
    HEAD2,
    HEAD13,
    TAIL,
    Vocabulary,
    bucket_keys,
    bucketed,
)

#: Typed words this long get one edit (Meilisearch: 5; Typesense: 4).
ONE_EDIT_FROM = 4
#: Typed words this long get two edits (Meilisearch: 9; Typesense: 7).
TWO_EDITS_FROM = 9
#: Extra cost of a candidate whose first letter differs from the typed word's:
#: people rarely get the first letter wrong.  Keep it below 1 so that fewer
#: edits always rank first.
FIRST_LETTER_PENALTY = 0.5

_Buckets = dict[tuple[str, int], list[str]]


class _Scorers:
    """rapidfuzz's scorers, imported on the first bucket scored: a search whose words
    are all known never needs them (rapidfuzz's import is ~40 modules)."""

    osa: Any = None
    lev: Any = None
    extract: Any = None

    @classmethod
    def load(cls) -> type[_Scorers]:
        if cls.extract is None:
            from rapidfuzz import process
            from rapidfuzz.distance import OSA, Levenshtein

            cls.osa = OSA.distance
            # Between words whose lengths differ by exactly the cutoff, only insertions
            # and deletions fit, so OSA and Levenshtein agree, and rapidfuzz's
            # Levenshtein is ~1.5x faster.
            cls.lev = Levenshtein.distance
            cls.extract = process.extract
        return cls


@dataclass(frozen=True, slots=True)
class Candidate:
    """One vocabulary word proposed for a typed word."""

    word: str  # vocabulary word proposed for the typed word
    edits: int  # Damerau (OSA: adjacent transposition = 1 edit) distance
    df: int  # document frequency of the vocabulary word
    cost: float  # edits plus penalties (changed first letter costs more); lower is better


def max_edits(
    word: str, *, one_edit_from: int | None = None, two_edits_from: int | None = None
) -> int:
    """Edits allowed for a typed word of this length (0 for short words).

    Short words get none: "cat" is one edit from dozens of words, so
    correcting it would mostly add noise.  Thresholds default to the module
    constants, read at call time so the query layer can tune them.
    """
    n = len(word)
    if n >= (TWO_EDITS_FROM if two_edits_from is None else two_edits_from):
        return 2
    if n >= (ONE_EDIT_FROM if one_edit_from is None else one_edit_from):
        return 1
    return 0


class TypoIndex:
    """Vocabulary (word -> document frequency) bucketed for typo look-ups, in memory.

    Words are expected lowercase.  Words containing digits are counted
    (`in`, `df`) but never proposed.  `TypoIndex.of` takes the buckets written
    beside the commit instead when the vocabulary is the stored one.
    """

    __slots__ = ("_df", "_buckets", "_one_from", "_two_from")

    def __init__(
        self,
        words: Mapping[str, int],
        *,
        one_edit_from: int | None = None,
        two_edits_from: int | None = None,
    ) -> None:
        self._df: dict[str, int] = {}
        # kind (index/vocabulary.py) -> (letters, length) -> words
        self._buckets: dict[str, _Buckets] = {HEAD: {}, HEAD2: {}, HEAD13: {}, TAIL: {}}
        self._one_from = one_edit_from
        self._two_from = two_edits_from
        self.update(words)

    @staticmethod
    def of(words: Mapping[str, int]) -> TypoIndex:
        """The typo index of a backend's vocabulary: the stored buckets when it is the
        vocabulary file of the commit (nothing to build), else built here (a merged
        vocabulary of shards, a vocabulary rebuilt from the index)."""
        if isinstance(words, Vocabulary):
            return StoredTypoIndex(words)
        return TypoIndex(words)

    def __len__(self) -> int:
        return len(self._df)

    def __contains__(self, word: object) -> bool:
        return word in self._df

    def df(self, word: str) -> int:
        """Document frequency of `word`; 0 when absent."""
        return self._df.get(word, 0)

    def update(self, words: Mapping[str, int]) -> None:
        """Add words or overwrite their df, for incremental index updates.

        A df of 0 (or less) removes the word: no document holds it any more.
        """
        dfs = self._df
        buckets = self._buckets
        for word, df in words.items():
            if df <= 0:
                if dfs.pop(word, None) is not None and bucketed(word):
                    for kind, letters, n in bucket_keys(word):
                        buckets[kind][(letters, n)].remove(word)
                continue
            if word not in dfs and bucketed(word):
                for kind, letters, n in bucket_keys(word):
                    buckets[kind].setdefault((letters, n), []).append(word)
            dfs[word] = df

    def _bucket(self, kind: str, letters: str, length: int) -> list[str] | None:
        return self._buckets[kind].get((letters, length))

    def candidates(self, word: str, limit: int = 3) -> list[Candidate]:
        """Up to `limit` vocabulary words the user may have meant, best first.

        Ranked by edits, then a changed first letter, then higher df.  The
        word itself is never proposed, even when it is in the vocabulary.
        """
        word = word.lower()
        k = max_edits(word, one_edit_from=self._one_from, two_edits_from=self._two_from)
        if k == 0 or limit <= 0 or not bucketed(word):
            return []
        n = len(word)
        found: dict[str, int] = {}
        if k == 1 and n >= 4:
            self._one_edit_same_head(word, found)
        else:
            for m in range(max(1, n - k), n + k + 1):
                self._scan(HEAD, word[0], m, word, k, found)
        found.pop(word, None)

        # A changed first letter costs a penalty, so those words can only
        # enter the top `limit` with fewer edits than the worst kept so far.
        cutoff = k
        if len(found) >= limit:
            cutoff = min(k, sorted(found.values())[limit - 1] - 1)
        if cutoff >= 1 and n >= 3:
            self._changed_head(word, k, cutoff, found)

        head = word[0]
        df = self.df
        out = [
            Candidate(w, e, df(w), e + (0.0 if w[0] == head else FIRST_LETTER_PENALTY))
            for w, e in found.items()
        ]
        out.sort(key=lambda c: (c.cost, -c.df, c.word))
        return out[:limit]

    def _scan(
        self,
        kind: str,
        letters: str,
        length: int,
        word: str,
        cutoff: int,
        found: dict[str, int],
        skip_head: str = "",
    ) -> None:
        """Score one bucket; record words within `cutoff` edits."""
        gap = abs(length - len(word))
        if gap > cutoff:
            return
        bucket = self._bucket(kind, letters, length)
        if not bucket:
            return
        fuzz = _Scorers.load()
        scorer = fuzz.lev if gap == cutoff else fuzz.osa
        for choice, dist, _ in fuzz.extract(
            word, bucket, scorer=scorer, score_cutoff=cutoff, limit=None
        ):
            if choice[0] != skip_head:
                found[choice] = dist

    def _one_edit_same_head(self, word: str, found: dict[str, int]) -> None:
        """All words one edit from `word` (len >= 4) that keep its first letter."""
        n = len(word)
        for m in (n - 1, n, n + 1):  # edit after the second letter
            self._scan(HEAD2, word[:2], m, word, 1, found)
        self._scan(HEAD13, word[0] + word[2], n, word, 1, found)  # 2nd substituted
        self._scan(HEAD13, word[:2], n + 1, word, 1, found)  # letter inserted 2nd
        for guess in (
            word[0] + word[2:],  # second letter dropped
            word[0] + word[2] + word[1] + word[3:],  # second and third swapped
        ):
            if guess != word and guess in self:
                found[guess] = 1

    def _changed_head(self, word: str, k: int, cutoff: int, found: dict[str, int]) -> None:
        """Words whose first letter differs, keyed by their second and third letters."""
        n = len(word)
        probes = (
            (word[1:3], 0),  # first letter substituted: "hovernment"
            (word[0] + word[2], 0),  # first two swapped: "ogvernment"
            (word[0:2], 1),  # first letter dropped: "overnment"
            (word[2:4], -1),  # extra letter typed first: "fgovernment"
        )
        for pair, shift in probes:
            if len(pair) < 2:
                continue
            # The first-letter typo shifts the length by `shift`; each further
            # edit (at most k - 1) by at most one more.
            for m in range(n + shift - (k - 1), n + shift + k):
                self._scan(TAIL, pair, m, word, cutoff, found, skip_head=word[0])


class StoredTypoIndex(TypoIndex):
    """The typo index of a stored vocabulary (index/vocabulary.py): its buckets and
    frequencies are read from the memory-mapped file, one bucket as a probe needs it;
    nothing is built per process.  Read-only: a new commit writes a new file."""

    __slots__ = ("_vocab",)

    def __init__(self, vocab: Vocabulary) -> None:
        self._vocab = vocab
        self._one_from = None
        self._two_from = None

    def __len__(self) -> int:
        return len(self._vocab)

    def __contains__(self, word: object) -> bool:
        return word in self._vocab

    def df(self, word: str) -> int:
        return self._vocab.get(word, 0)

    def update(self, words: Mapping[str, int]) -> None:
        raise TypeError("a stored vocabulary is read-only: the next commit writes a new one")

    def _bucket(self, kind: str, letters: str, length: int) -> list[str] | None:
        return self._vocab.bucket(kind, letters, length)
