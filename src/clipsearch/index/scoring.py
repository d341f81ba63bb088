"""Matching and scoring over the query tree, vectorised: match sets are sorted arrays
of document numbers (`DocSet`), scores arrays beside them (`ScoreMap`), BM25F computed
over whole posting arrays, with collection statistics that may come from outside
(stats.py).

Scoring runs here instead of through Whoosh's matchers: those step through documents
one Python call per posting per field.  The formula is Whoosh's BM25F (per-field BM25
on boosted term frequencies, summed), with Lucene's idf, evaluated in exactly the
order the former per-document code used (contributions added field by field, child
by child), so scores are the same floats.  Phrases and NEAR keep Whoosh for the
positional check."""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Iterable
from typing import Any

import numpy as np
from whoosh import query
from whoosh.codec import whoosh3

from clipsearch.errors import QueryError
from clipsearch.index.columns import Columns
from clipsearch.index.compile import WordQuery
from clipsearch.index.docsets import (
    DocSet,
    ScoreMap,
    dense,
    intersect,
    member,
    sorted_unique,
    union_all,
)
from clipsearch.index.posting_arrays import Postings
from clipsearch.index.proximity import NearQuery
from clipsearch.index.stats import QueryStats, unit_key
from clipsearch.index.storage import guarded

_EMPTY = np.empty(0, dtype=np.int64)


def _summed(
    parts: list[tuple[np.ndarray, np.ndarray]], union: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Per document of the union, the sum of its values over `parts` (docs, values),
    added in the order of `parts` (starting from 0.0), as the dict code did.  `union`:
    the union of the parts' documents, when the caller has it already."""
    parts = [p for p in parts if len(p[0])]
    if not parts:
        return _EMPTY, np.empty(0)
    if len(parts) == 1:
        return parts[0][0], 0.0 + parts[0][1]
    docs = union_all(p[0] for p in parts) if union is None else union
    span = int(docs[-1]) + 1
    if dense(sum(len(p[0]) for p in parts), span):  # accumulate over the collection
        acc = np.zeros(span)
        for d, v in parts:
            acc[d] += v
        return docs, acc[docs]
    acc = np.zeros(len(docs))
    for d, v in parts:
        acc[docs.searchsorted(d)] += v
    return docs, acc


def _boosted(s: ScoreMap, boost: float) -> ScoreMap:
    return s if boost == 1.0 else ScoreMap(s.docs, s.scores * boost)


def _phrase_in(reader: Any, q: query.Phrase, docs: list[int]) -> list[int]:
    """Of `docs` (sorted segment-local numbers, each holding every word of the
    phrase), those where the words follow one another in order, each at most
    `q.slop` positions after the one before: what Whoosh's matcher for a phrase (a
    SpanNear2, ordered, mindist 1) accepts, from the positions of these documents
    only (that matcher worked out the spans of every document holding the words)."""
    fmt = reader.schema[q.fieldname].format
    if not fmt or not fmt.supports("positions"):
        raise QueryError(f"Phrase search: {q.fieldname!r} field has no positions")
    decode = fmt.decoder("positions")
    per_word = []
    for word in q.words:
        found = _positions(reader, q.fieldname, word, docs, decode)
        if found is None:
            return []
        per_word.append(found)
    slop = q.slop
    out = []
    for k, d in enumerate(docs):
        ends = per_word[0][k]
        for positions in per_word[1:]:
            ends = [p for p in positions[k] if any(1 <= p - e <= slop for e in ends)]
            if not ends:
                break
        if ends:
            out.append(d)
    return out


def _positions(
    reader: Any, field: str, word: str, docs: list[int], decode: Any
) -> list[list[int]] | None:
    """The positions of `word` in each of `docs` (sorted; [] where it is not), None
    when the segment does not hold it.  Whoosh's block matcher is read a block at a
    time (only blocks holding one of `docs` decode their values); any other matcher
    (inlined postings, deletions filtered) through its public calls."""
    try:
        text = reader.schema[field].to_bytes(word)
    except ValueError:
        return None
    if (field, text) not in reader:
        return None
    m = reader.postings(field, text)
    out: list[list[int]] = []
    if isinstance(m, whoosh3.W3LeafMatcher):
        i = 0
        while i < len(docs) and not m._atend:
            if docs[i] <= m._maxid:
                if m._ids is None:
                    m._read_ids()
                if m._values is None:
                    m._read_values()
                ids, values = m._ids, m._values
                while i < len(docs) and docs[i] <= m._maxid:
                    j = bisect_left(ids, docs[i])
                    out.append(decode(values[j]) if j < len(ids) and ids[j] == docs[i] else [])
                    i += 1
            if m._lastblock:
                break
            m._goto(m._nextoffset)
        out.extend([] for _ in range(len(docs) - len(out)))
        return out
    for d in docs:
        if m.is_active() and m.id() < d:
            m.skip_to(d)
        out.append(m.value_as("positions") if m.is_active() and m.id() == d else [])
    return out


class Scorer:
    """Match sets and BM25F scores of compiled queries on one commit."""

    def __init__(
        self,
        path: str,
        reader: Any,
        searcher: Any,
        postings: Postings,
        columns: Columns,
        text_fields: Iterable[str],
        k1: float = 1.2,
        b: float = 0.75,
    ):
        self.path = path  # for error messages (guarded)
        self._reader = reader
        self._searcher = searcher
        self._postings = postings
        self._columns = columns
        self._text_fields = tuple(text_fields)
        self._k1, self._b = k1, b
        self._own: QueryStats | None = None  # this commit's collection statistics

    # -- statistics
    def collection_stats(self) -> QueryStats:
        """This commit's document counts and text field lengths (no per-query part)."""
        return QueryStats(
            self._reader.doc_count_all(),
            self._reader.doc_count(),
            {f: self._reader.field_length(f) for f in self._text_fields},
        )

    def query_stats(self, q: Any) -> QueryStats:
        """The collection statistics plus the document frequency of every scored unit
        of `q`, counted as scoring counts them (deleted documents included)."""
        dfs: dict[Any, int] = {}
        self._collect_dfs(q, dfs)
        base = self.collection_stats()
        return QueryStats(base.doc_count_all, base.doc_count, base.field_lengths, dfs)

    def _collect_dfs(self, q: Any, dfs: dict[Any, int]) -> None:
        docs = self._postings.docs
        if isinstance(q, WordQuery):
            dfs[unit_key(q)] = len(union_all(docs(t.fieldname, t.text) for t in q.subqueries))
        elif isinstance(q, query.Term):
            dfs[unit_key(q)] = len(docs(q.fieldname, q.text))
        elif isinstance(q, query.Phrase):
            for word in q.words:
                dfs[("term", q.fieldname, word)] = len(docs(q.fieldname, word))
        elif isinstance(q, query.AndNot | query.AndMaybe | query.Require):
            self._collect_dfs(q.a, dfs)
            self._collect_dfs(q.b, dfs)
        elif isinstance(q, query.Not):
            self._collect_dfs(q.query, dfs)
        elif isinstance(q, NearQuery):
            for part in q.parts:
                self._collect_dfs(part, dfs)
        elif isinstance(q, query.compound.CompoundQuery):
            for child in q.subqueries:
                self._collect_dfs(child, dfs)

    # -- matching and scoring
    def match(self, q: Any, memo: dict[Any, np.ndarray] | None = None) -> DocSet:
        """Every matching document number (deleted ones not removed).  `memo` holds
        what one query's phrases and words matched (`_phrase_docs`, `_word_docs`),
        shared by the calls that match and score its parts."""
        return DocSet(self._docs({} if memo is None else memo, q))

    def scores(
        self,
        q: Any,
        stats: QueryStats | None = None,
        memo: dict[Any, np.ndarray] | None = None,
    ) -> ScoreMap:
        """Every matching document with its BM25F score (deleted ones not removed);
        `stats` from outside make the scores those of a larger collection.  Without
        them, each scored unit counts its own document frequency on the arrays it
        scores (what `query_stats` would have counted ahead, on the same arrays)."""
        if stats is None:
            if self._own is None:
                self._own = self.collection_stats()
            stats = self._own
        return self._score({} if memo is None else memo, q, stats)

    # -- set algebra and scoring over the query tree (sorted docnum arrays)
    def _docs(self, memo: dict[Any, np.ndarray], q: Any) -> np.ndarray:
        if isinstance(q, query.Term):
            return self._postings.docs(q.fieldname, q.text)
        if isinstance(q, WordQuery):
            return self._word_docs(memo, q)
        if isinstance(q, query.Or | query.DisjunctionMax):
            return union_all(self._docs(memo, child) for child in q.subqueries)
        if isinstance(q, query.And):
            positives = [c for c in q.subqueries if not isinstance(c, query.Not)]
            negatives = [c.query for c in q.subqueries if isinstance(c, query.Not)]
            sets = sorted((self._docs(memo, c) for c in positives), key=len)
            out = sets[0] if sets else self._columns.live_docs().docs
            for other in sets[1:]:
                out = intersect(out, other)
            for neg in negatives:
                out = out[~member(out, self._docs(memo, neg))]
            return out
        if isinstance(q, query.AndNot):
            a = self._docs(memo, q.a)
            return a[~member(a, self._docs(memo, q.b))]
        if isinstance(q, query.AndMaybe):
            return self._docs(memo, q.a)
        if isinstance(q, query.Require):
            return intersect(self._docs(memo, q.a), self._docs(memo, q.b))
        if isinstance(q, query.Not):
            live = self._columns.live_docs().docs
            return live[~member(live, self._docs(memo, q.query))]
        if isinstance(q, NearQuery):
            return union_all(self._whoosh_docs(span) for span in q.spans)  # one per field
        if q is query.NullQuery:
            return _EMPTY
        if isinstance(q, query.Phrase):
            return self._phrase_docs(memo, q)
        return self._whoosh_docs(q)

    def _score(self, memo: dict[Any, np.ndarray], q: Any, st: QueryStats) -> ScoreMap:
        if isinstance(q, query.Term):
            return self._term_scores(q.fieldname, q.text, q.boost, st)
        if isinstance(q, WordQuery):
            return self._bm25f(memo, q, st)
        if isinstance(q, query.DisjunctionMax):
            parts = [self._score(memo, child, st) for child in q.subqueries]
            docs = union_all(p.docs for p in parts)
            best = np.zeros(len(docs))
            seen = np.zeros(len(docs), dtype=bool)
            for p in parts:
                pos = docs.searchsorted(p.docs)
                better = p.scores > best[pos]
                best[pos[better]] = p.scores[better]
                seen[pos[better]] = True
            return _boosted(ScoreMap(docs[seen], best[seen]), q.boost)
        if isinstance(q, query.Or):
            parts = [self._score(memo, child, st) for child in q.subqueries]
            docs, vals = _summed([(p.docs, p.scores) for p in parts])
            return _boosted(ScoreMap(docs, vals), q.boost)
        if isinstance(q, query.And):
            keep = self._docs(memo, q)
            parts = []
            for child in q.subqueries:
                if isinstance(child, query.Not):
                    continue
                s = self._score(memo, child, st).within(keep)
                parts.append((s.docs, s.scores))
            return _boosted(ScoreMap(*_summed(parts)), q.boost)
        if isinstance(q, query.AndNot):
            s = self._score(memo, q.a, st)
            drop = member(s.docs, self._docs(memo, q.b))
            return ScoreMap(s.docs[~drop], s.scores[~drop])
        if isinstance(q, query.AndMaybe):
            a, b = self._score(memo, q.a, st), self._score(memo, q.b, st)
            vals = a.scores.copy()
            inside = member(b.docs, a.docs)
            vals[a.docs.searchsorted(b.docs[inside])] += b.scores[inside]
            return ScoreMap(a.docs, vals)
        if isinstance(q, query.Require):
            return self._score(memo, q.a, st).within(self._docs(memo, q.b))
        if isinstance(q, query.Phrase):
            keep = self._phrase_docs(memo, q)
            parts = []
            for word in q.words:
                s = self._term_scores(q.fieldname, word, q.boost, st).within(keep)
                parts.append((s.docs, s.scores))
            return ScoreMap(*_summed(parts))
        if isinstance(q, NearQuery):
            # Like a phrase: the operands' scores (each word BM25F over all fields, with
            # its corrections), added up on the documents where they are near.
            keep = self._docs(memo, q)
            parts = []
            for part in q.parts:
                s = self._score(memo, part, st).within(keep)
                parts.append((s.docs, s.scores))
            return _boosted(ScoreMap(*_summed(parts)), q.boost)
        if q is query.NullQuery:
            return ScoreMap()
        return ScoreMap.constant(self._docs(memo, q), q.boost)

    def _word_docs(self, memo: dict[Any, np.ndarray], q: WordQuery) -> np.ndarray:
        """The documents holding a word in some field, united once per query: a word
        matched as typed comes back with its alternatives in the match rule."""
        subs = q.subqueries
        if not all(type(t) is query.Term for t in subs):
            return union_all(self._docs(memo, child) for child in subs)
        key = ("word", *((t.fieldname, t.text) for t in subs))
        found = memo.get(key)
        if found is None:
            docs = self._postings.docs
            found = memo[key] = union_all(docs(t.fieldname, t.text) for t in subs)
        return found

    @guarded
    def _whoosh_docs(self, q: Any) -> np.ndarray:
        try:
            found = self._searcher.docs_for_query(q)
            return sorted_unique(np.fromiter(found, dtype=np.int64))
        except query.QueryError as exc:
            raise QueryError(str(exc)) from None

    def _phrase_docs(self, memo: dict[Any, np.ndarray], q: query.Phrase) -> np.ndarray:
        """The documents where a phrase occurs, checked once per query: the same phrase
        comes back in a query's match rule, its match and its scoring (a split-word
        correction is a phrase in every text field, under each word and the query)."""
        key = (q.fieldname, tuple(q.words), q.slop)
        found = memo.get(key)
        if found is None:
            found = memo[key] = self._phrase_check(q)
        return found

    @guarded
    def _phrase_check(self, q: query.Phrase) -> np.ndarray:
        """The documents where a phrase occurs: those holding all its words (from the
        posting arrays), then Whoosh's positional check on those documents only."""
        docs = self._postings.docs
        candidates = None
        for word in q.words:
            found = docs(q.fieldname, word)
            candidates = found if candidates is None else intersect(candidates, found)
            if not len(candidates):
                return _EMPTY
        if candidates is None:
            return _EMPTY
        if q.fieldname not in self._searcher.schema:
            return _EMPTY
        out: list[int] = []
        for sub, offset in self._searcher.leaf_searchers():
            reader = sub.reader()
            lo, hi = candidates.searchsorted([offset, offset + reader.doc_count_all()])
            local = (candidates[lo:hi] - offset).tolist()
            if local:
                out.extend(d + offset for d in _phrase_in(reader, q, local))
        return np.array(out, dtype=np.int64)

    def _term_scores(self, field: str, text: str, boost: float, st: QueryStats) -> ScoreMap:
        docs, tf = self._postings.term(field, text)
        if not len(docs):
            return ScoreMap()
        lengths = self._postings.lengths(field)
        if lengths is None:  # unscored field (topic, provider, id...): a constant score
            return ScoreMap.constant(docs, boost)
        n = st.doc_count_all
        df = st.dfs.get(("term", field, text), len(docs))
        idf = math.log(1.0 + (n - df + 0.5) / (df + 0.5))
        avg = st.avg_length(field)
        k1, b = self._k1, self._b
        w = boost * idf * (k1 + 1)
        kb0, kb1 = k1 * (1 - b), k1 * b / avg
        return ScoreMap(docs, w * tf / (tf + kb0 + kb1 * lengths[docs]))

    def _bm25f(self, memo: dict[Any, np.ndarray], q: WordQuery, st: QueryStats) -> ScoreMap:
        k1, b = self._k1, self._b
        parts = []
        for term in q.subqueries:
            docs, f = self._postings.term(term.fieldname, term.text)
            if not len(docs):
                continue
            lengths = self._postings.lengths(term.fieldname)
            avg = st.avg_length(term.fieldname)
            w, c0, c1 = term.boost, 1 - b, b / avg
            parts.append((docs, w * f / (c0 + c1 * lengths[docs])))
        if not parts:
            return ScoreMap()
        # The word's documents: the match rule has usually united them already.
        union = self._word_docs(memo, q) if len(parts) > 1 else None
        docs, tf = _summed(parts, union)
        n = st.doc_count_all
        df = st.dfs.get(unit_key(q), len(docs))
        idf = math.log(1.0 + (n - df + 0.5) / (df + 0.5))
        scale = q.boost * idf * (k1 + 1)
        return ScoreMap(docs, scale * tf / (tf + k1))
