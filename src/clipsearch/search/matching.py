"""Which clips a query matches: all its words, any of them, or its own operators.

Analysts read totals and facet counts as volume, so they must count what the user
meant.  `auto` (the default) requires every word of a short plain query when clips
have them all, and falls back to any word, saying so, when none does or only a
handful do among a hundred times as many with some word: then the words do not
occur together in this collection (they were meant as alternatives, or one is
phrased differently in the clips), and one hit is a worse answer than the ranked
clips with any word, which still list the handful first.  A word is present through
itself, its stems or one of its typo corrections.  Long
(natural-language) queries match any word, ranked by BM25F; explicit syntax (AND, OR,
NOT, field:, phrases, prefixes, NEAR) is taken as written."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from clipsearch.index import ParsedQuery
from clipsearch.search.backend import Backend
from clipsearch.search.corrections import Alternatives

#: Plain queries of more than this many words (as typed, repeats included) are natural
#: language: any word matches.
NATURAL_LANGUAGE_AFTER = 5
#: `auto` reads all words as a request for any of them when fewer clips than this
#: have them all, and those are under `TOGETHER_SHARE` of the clips with any word.
HANDFUL = 10
TOGETHER_SHARE = 0.01
#: What `SearchResult.match` says was used.
ALL, ANY, AS_WRITTEN = "all", "any", "as-written"


@dataclass(frozen=True, slots=True)
class WordSets:
    """Per content word of a plain query (stop words left out): the clips with it as
    typed, and the clips with it or one of its corrections."""

    words: list[tuple[set[int], set[int]]]

    def with_all(self) -> set[int]:
        """Clips that have every word (through itself or a correction)."""
        if not self.words:
            return set()
        either = sorted((e for _, e in self.words), key=len)
        return either[0].intersection(*either[1:])  # a new set, of the backend's type

    def with_any(self) -> set[int]:
        """Clips that have some word (through itself or a correction)."""
        if not self.words:
            return set()
        first, *rest = (e for _, e in self.words)
        return first.union(*rest)


@dataclass(frozen=True, slots=True)
class Decision:
    """What a search matches: `used` (all, any, as-written), `required` the clips every
    match must be among (None: whatever the query matches), `fallback` True when
    `auto` wanted all words and too few clips had them (`with_all` of them), and
    `reparse_all` True when explicit syntax must be read with AND between its bare
    parts."""

    used: str
    required: set[int] | None = None
    fallback: bool = False
    with_all: int = 0
    reparse_all: bool = False


def word_sets(backend: Backend, parsed: ParsedQuery, alternatives: Alternatives) -> WordSets:
    words = []
    for word, (exact_q, either_q) in zip(
        parsed.words, parsed.word_queries(alternatives), strict=True
    ):
        if not backend.analyze(word):
            continue  # a stop word is in no clip's index and requires nothing
        exact = backend.match(exact_q)
        either = exact if either_q is None else backend.match(either_q)
        words.append((exact, either))
    return WordSets(words)


def needs_word_sets(mode: str, parsed: ParsedQuery) -> bool:
    """Whether `decide` will look at the word sets (they cost a match per word)."""
    return (
        parsed.is_plain
        and not parsed.has_operators
        and len(parsed.words) > 1
        and (mode == "all" or parsed.word_count <= NATURAL_LANGUAGE_AFTER)
    )


def decide(mode: str, parsed: ParsedQuery, sets: WordSets | None) -> Decision:
    """The match rule for one parsed query under `mode` (auto, all or any)."""
    kept: list[set[int]] = []

    def with_all() -> int:
        assert sets is not None
        kept.append(sets.with_all())
        return len(kept[0])

    decision = decide_counts(
        mode,
        parsed,
        None if sets is None else len(sets.words),
        with_all,
        lambda: len(sets.with_any()) if sets is not None else 0,
    )
    if decision.used == ALL and kept and not decision.fallback:
        return Decision(ALL, required=kept[0])
    return decision


def decide_counts(
    mode: str,
    parsed: ParsedQuery,
    words: int | None,
    with_all: Callable[[], int],
    with_any: Callable[[], int],
) -> Decision:
    """`decide` from sizes alone (`words` content words or None when their sets were
    not made, and how many clips have all, or any, of them; asked only when needed):
    what a sharded search decides from sizes summed over its shards.  `required` is
    left None; every word is required when `requires_all` says so."""
    if not parsed.is_plain or parsed.has_operators:
        return Decision(ALL, reparse_all=True) if mode == "all" else Decision(AS_WRITTEN)
    if mode == "any" or (mode == "auto" and parsed.word_count > NATURAL_LANGUAGE_AFTER):
        return Decision(ANY)
    if words is None or words <= 1:
        return Decision(ALL)  # one word (besides stop words): all and any are the same
    n = with_all()
    if mode == "auto" and (n == 0 or (n < HANDFUL and n < TOGETHER_SHARE * with_any())):
        return Decision(ANY, fallback=True, with_all=n)
    return Decision(ALL)


def requires_all(decision: Decision, words: int | None) -> bool:
    """Whether a decision made by `decide_counts` keeps only the clips with every word."""
    return decision.used == ALL and not decision.reparse_all and (words or 0) > 1


def too_few_together(with_all: int, sets: WordSets) -> bool:
    """Whether `with_all` clips having every word is too few for `auto` to require them
    all: none, or a handful among a hundred times as many with some word."""
    if with_all == 0:
        return True
    return with_all < HANDFUL and with_all < TOGETHER_SHARE * len(sets.with_any())
