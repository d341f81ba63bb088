"""Typo tolerance for a query: which typed words to search also as vocabulary words
they are probably typos of, and the "Did you mean" query when a search finds (almost)
nothing.  Candidates come from `TypoIndex` (rapidfuzz over bucketed words)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from clipsearch.folding import fold, script
from clipsearch.index import Apart, ParsedQuery, typed_word
from clipsearch.search import joins
from clipsearch.search.backend import Backend
from clipsearch.search.fuzzy import Candidate, TypoIndex

#: Weight of a correction of a word that exists in the index (below 1: exact wins).
CORRECTION_WEIGHT = 0.6
#: Weight of a correction of a word found nowhere: no exact match competes with it,
#: so it keeps nearly its full weight against the query's other words.
UNKNOWN_WORD_WEIGHT = 0.9
#: A typo can be several words ("loked": looked, loved, locked): search up to this
#: many of the closest; the query's other words pick the right one.
MAX_ALTERNATIVES = 3
#: A known word that occurs in at most RARE_DF clips is also searched as its
#: correction when that occurs in RARER_FACTOR times more clips (a typo that
#: happens to exist somewhere, like "recieve" in one scraped clip).
RARE_DF = 50
RARER_FACTOR = 10
#: At most this many typed words are corrected per query (bounds the work).
MAX_CORRECTED_WORDS = 8
#: "Did you mean" is offered when the query finds fewer clips than this...
FEW_HITS = 3
#: ...and the corrected query finds this many times more.
MUCH_MORE = 5

Alternatives = dict[str, list[tuple[str, float]]]


class QueryLookups:
    """One query's questions to the backend about words: each word's document
    frequency and analysis asked once, however many rules (typos, joins, splits) ask
    about it.  Made per query and dropped with it: nothing is kept across queries."""

    def __init__(self, backend: Backend):
        self._backend = backend
        self._dfs: dict[str, int] = {}
        self._analyses: dict[str, list[str]] = {}

    def term_df(self, word: str) -> int:
        df = self._dfs.get(word)
        if df is None:
            df = self._dfs[word] = self._backend.term_df(word)
        return df

    def analyze(self, text: str) -> list[str]:
        """The backend's analysis of `text` (not to be modified: it is shared)."""
        tokens = self._analyses.get(text)
        if tokens is None:
            tokens = self._analyses[text] = self._backend.analyze(text)
        return tokens


class Corrector:
    """Corrections against one backend; the typo index is built on first use."""

    def __init__(self, backend: Backend):
        self._backend = backend
        self._typos: TypoIndex | None = None

    def typo_index(self) -> TypoIndex:
        if self._typos is None:
            self._typos = TypoIndex.of(self._backend.words())
        return self._typos

    def _candidates(self, word: str, limit: int) -> list[Candidate]:
        """Vocabulary words close to a typed one, compared folded (the vocabulary is:
        an accent or a case is no typo) and only in the typed word's script."""
        folded = fold(word)
        want = script(folded)
        return [
            c
            for c in self.typo_index().candidates(folded, limit=limit)
            if c.word != folded and script(c.word) == want
        ]

    def _correctable_words(
        self, words: Iterable[str], look: QueryLookups
    ) -> Iterator[tuple[str, int]]:
        """(word, document frequency) of the typed words typo tolerance may touch:
        the first MAX_CORRECTED_WORDS, without numbers, codes (anything not all
        letters) and stop words."""
        for word in list(words)[:MAX_CORRECTED_WORDS]:
            if word.isalpha() and look.analyze(word):
                yield word, look.term_df(word)

    def corrections(
        self,
        words: Iterable[str],
        report: dict[str, str],
        pairs: Sequence[tuple[str, str]] = (),
    ) -> Alternatives:
        """Alternatives for unknown (or much rarer than a neighbour) typed words, for
        joined words ("facialrecognition") and for adjacent `pairs` of typed words that
        join into one ("face book"), see joins.py; the closest alternative of each is
        written to `report`."""
        words = list(words)
        look = QueryLookups(self._backend)
        out = self._typo_corrections(words, report, look)
        self._joins(words, pairs, report, out, look)
        return out

    def _joins(
        self,
        words: list[str],
        pairs: Sequence[tuple[str, str]],
        report: dict[str, str],
        out: Alternatives,
        look: QueryLookups,
    ) -> None:
        vocab = self._backend.words()
        for word in words[:MAX_CORRECTED_WORDS]:
            if len(word) < 4 or not word.isalnum():
                continue
            df = look.term_df(word)
            if df > RARE_DF:
                continue
            split = joins.best_split(look, vocab, word)
            if split is None or (df and split[1] < RARER_FACTOR * df):
                continue
            weight = CORRECTION_WEIGHT if df else UNKNOWN_WORD_WEIGHT
            # The halves as a phrase; weaker, the halves anywhere in the clip (people
            # also glue words they do not expect side by side).
            out.setdefault(word, []).extend(
                [(split[0], weight), (Apart(split[0]), weight * joins.APART_WEIGHT)]
            )
            report[word] = split[0]  # two known words beat a typo guess
        for left, right, joined in joins.split_pairs(look, vocab, pairs[:MAX_CORRECTED_WORDS]):
            known = look.term_df(left) and look.term_df(right)
            weight = CORRECTION_WEIGHT if known else UNKNOWN_WORD_WEIGHT
            for word in (left, right):
                alts = out.setdefault(word, [])
                if all(a != joined for a, _ in alts):
                    alts.append((joined, weight))
            report[f"{left} {right}"] = joined

    def _typo_corrections(
        self, words: Iterable[str], report: dict[str, str], look: QueryLookups
    ) -> Alternatives:
        out: Alternatives = {}
        for word, df in self._correctable_words(words, look):
            if df > RARE_DF:
                continue
            weight = CORRECTION_WEIGHT if df else UNKNOWN_WORD_WEIGHT
            alts: list[tuple[str, float]] = []
            best_edits = None
            for cand in self._candidates(word, MAX_ALTERNATIVES + 2):
                if best_edits is not None and cand.edits > best_edits:
                    break  # only the closest candidates: one more edit is another word
                if look.analyze(cand.word) == look.analyze(word):
                    continue  # same stem: the typed word already finds it
                cdf = look.term_df(cand.word)  # (after the cheaper test above)
                if cdf == 0 or (df and cdf < RARER_FACTOR * df):
                    continue
                best_edits = cand.edits
                alts.append((cand.word, weight))
                if len(alts) == MAX_ALTERNATIVES:
                    break
            if alts:
                out[word] = alts
                report[word] = alts[0][0]
        return out

    def did_you_mean(
        self, parsed: ParsedQuery, text: str, total: int, filters: Iterable[set[int]]
    ) -> str | None:
        """A corrected query that finds much more, ignoring the 'known word' rule;
        None unless the search found fewer than FEW_HITS clips."""
        if total >= FEW_HITS:
            return None
        backend = self._backend
        look = QueryLookups(backend)
        fixed: dict[str, str] = {}
        for word, df in self._correctable_words(parsed.words, look):
            # The closest candidate that occurs in more clips than the typed word.
            better = next(
                (c.word for c in self._candidates(word, 3) if look.term_df(c.word) > df),
                None,
            )
            if better:
                fixed[word] = better
        if not fixed:
            return None
        probe = parsed.compile({w: [(c, 1.0)] for w, c in fixed.items()})
        found = set(backend.match(probe))
        for s in filters:
            found &= s
        if len(found) < max(1, MUCH_MORE * total) or len(found) <= total:
            return None
        return " ".join(fixed.get(typed_word(w), w) for w in text.split())
