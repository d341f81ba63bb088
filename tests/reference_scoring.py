"""The query path as it was before it was vectorised (commit 37ef62c): posting lists
read through Whoosh into dicts and BM25F over them, with Python sets for matching.
Kept as the reference the vectorised scorer (index/scoring.py) must equal."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from whoosh import query
from whoosh.codec import whoosh3

from clipsearch.index.compile import WordQuery
from clipsearch.index.proximity import NearQuery
from clipsearch.index.stats import QueryStats, unit_key
from clipsearch.index.storage import leaves


class DictPostings:
    """docnum -> weight dicts and per-document field lengths, read through Whoosh."""

    def __init__(self, reader: Any, schema: Any):
        self._reader, self._schema = reader, schema
        self._lengths: dict[str, list[int] | None] = {}

    def term(self, field: str, text: str) -> dict[int, float]:
        if field not in self._schema:
            return {}
        out: dict[int, float] = {}
        for leaf, offset in leaves(self._reader):
            if (field, text) not in leaf:
                continue
            m = leaf.postings(field, text)
            if isinstance(m, whoosh3.W3LeafMatcher):
                while not m._atend:
                    if m._ids is None:
                        m._read_ids()
                    if m._weights is None:
                        m._read_weights()
                    out.update(zip([i + offset for i in m._ids], m._weights, strict=True))
                    if m._lastblock:
                        break
                    m._goto(m._nextoffset)
            else:
                while m.is_active():
                    out[m.id() + offset] = m.weight()
                    m.next()
        return out

    def lengths(self, field: str) -> list[int] | None:
        if field not in self._lengths:
            if not self._schema[field].scorable:
                self._lengths[field] = None
            else:
                out: list[int] = []
                for leaf, _offset in leaves(self._reader):
                    out.extend(
                        leaf.doc_field_length(d, field, 0) for d in range(leaf.doc_count_all())
                    )
                self._lengths[field] = out
        return self._lengths[field]


class ReferenceScorer:
    """The dict-based scorer as it was before the vectorised path (commit 37ef62c)."""

    def __init__(
        self,
        path: str,
        reader: Any,
        searcher: Any,
        postings: DictPostings,
        columns: Any,
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
        if isinstance(q, WordQuery):
            docs: set[int] = set()
            for t in q.subqueries:
                docs.update(self._postings.term(t.fieldname, t.text))
            dfs[unit_key(q)] = len(docs)
        elif isinstance(q, query.Term):
            dfs[unit_key(q)] = len(self._postings.term(q.fieldname, q.text))
        elif isinstance(q, query.Phrase):
            for word in q.words:
                dfs[("term", q.fieldname, word)] = len(self._postings.term(q.fieldname, word))
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
    def match(self, q: Any) -> set[int]:
        """Every matching document number (deleted ones not removed)."""
        return self._docs(q)

    def scores(self, q: Any, stats: QueryStats | None = None) -> dict[int, float]:
        """Every matching document with its BM25F score (deleted ones not removed);
        `stats` from outside make the scores those of a larger collection."""
        return self._score(q, stats if stats is not None else self.query_stats(q))

    # -- set algebra and scoring over the query tree
    def _docs(self, q: Any) -> set[int]:
        if isinstance(q, query.Term):
            return set(self._postings.term(q.fieldname, q.text))
        if isinstance(q, query.Or | query.DisjunctionMax | WordQuery):
            out: set[int] = set()
            for child in q.subqueries:
                if isinstance(child, query.Term):
                    out.update(self._postings.term(child.fieldname, child.text))
                else:
                    out |= self._docs(child)
            return out
        if isinstance(q, query.And):
            positives = [c for c in q.subqueries if not isinstance(c, query.Not)]
            negatives = [c.query for c in q.subqueries if isinstance(c, query.Not)]
            sets = sorted((self._docs(c) for c in positives), key=len)
            out = sets[0] if sets else set(self._reader.all_doc_ids())
            for other in sets[1:]:
                out = out & other
            for neg in negatives:
                out = out - self._docs(neg)
            return out
        if isinstance(q, query.AndNot):
            return self._docs(q.a) - self._docs(q.b)
        if isinstance(q, query.AndMaybe):
            return self._docs(q.a)
        if isinstance(q, query.Require):
            return self._docs(q.a) & self._docs(q.b)
        if isinstance(q, query.Not):
            return set(self._reader.all_doc_ids()) - self._docs(q.query)
        if isinstance(q, NearQuery):
            out = set()
            for span in q.spans:  # one per text field
                out |= self._whoosh_docs(span)
            return out
        if q is query.NullQuery:
            return set()
        return self._whoosh_docs(q)

    def _score(self, q: Any, st: QueryStats) -> dict[int, float]:
        if isinstance(q, query.Term):
            return self._term_scores(q.fieldname, q.text, q.boost, st)
        if isinstance(q, WordQuery):
            return self._bm25f(q, st)
        if isinstance(q, query.DisjunctionMax):
            best: dict[int, float] = {}
            for child in q.subqueries:
                for d, v in self._score(child, st).items():
                    if v > best.get(d, 0.0):
                        best[d] = v
            return _boosted(best, q.boost)
        if isinstance(q, query.Or):
            out: dict[int, float] = {}
            for child in q.subqueries:
                part = self._score(child, st)
                if not out:
                    out = dict(part)
                    continue
                get = out.get
                for d, v in part.items():
                    out[d] = get(d, 0.0) + v
            return _boosted(out, q.boost)
        if isinstance(q, query.And):
            keep = self._docs(q)
            out = {}
            for child in q.subqueries:
                if isinstance(child, query.Not):
                    continue
                for d, v in self._score(child, st).items():
                    if d in keep:
                        out[d] = out.get(d, 0.0) + v
            return _boosted(out, q.boost)
        if isinstance(q, query.AndNot):
            drop = self._docs(q.b)
            return {d: v for d, v in self._score(q.a, st).items() if d not in drop}
        if isinstance(q, query.AndMaybe):
            out = dict(self._score(q.a, st))
            for d, v in self._score(q.b, st).items():
                if d in out:
                    out[d] += v
            return out
        if isinstance(q, query.Require):
            keep = self._docs(q.b)
            return {d: v for d, v in self._score(q.a, st).items() if d in keep}
        if isinstance(q, query.Phrase):
            keep = self._whoosh_docs(q)
            out = {}
            for word in q.words:
                for d, v in self._term_scores(q.fieldname, word, q.boost, st).items():
                    if d in keep:
                        out[d] = out.get(d, 0.0) + v
            return out
        if isinstance(q, NearQuery):
            # Like a phrase: the operands' scores (each word BM25F over all fields, with
            # its corrections), added up on the documents where they are near.
            keep = self._docs(q)
            out = {}
            for part in q.parts:
                for d, v in self._score(part, st).items():
                    if d in keep:
                        out[d] = out.get(d, 0.0) + v
            return _boosted(out, q.boost)
        if q is query.NullQuery:
            return {}
        return dict.fromkeys(self._docs(q), q.boost)

    def _whoosh_docs(self, q: Any) -> set[int]:
        try:
            return set(self._searcher.docs_for_query(q))
        except query.QueryError as exc:
            raise ValueError(str(exc)) from None

    def _term_scores(self, field: str, text: str, boost: float, st: QueryStats) -> dict[int, float]:
        postings = self._postings.term(field, text)
        if not postings:
            return {}
        lengths = self._postings.lengths(field)
        if lengths is None:  # unscored field (topic, provider, id...): a constant score
            return dict.fromkeys(postings, boost)
        n = st.doc_count_all
        df = st.dfs.get(("term", field, text), len(postings))
        idf = math.log(1.0 + (n - df + 0.5) / (df + 0.5))
        avg = st.avg_length(field)
        k1, b = self._k1, self._b
        w = boost * idf * (k1 + 1)
        kb0, kb1 = k1 * (1 - b), k1 * b / avg
        return {d: w * tf / (tf + kb0 + kb1 * lengths[d]) for d, tf in postings.items()}

    def _bm25f(self, q: WordQuery, st: QueryStats) -> dict[int, float]:
        k1, b = self._k1, self._b
        tf: dict[int, float] = {}
        for term in q.subqueries:
            postings = self._postings.term(term.fieldname, term.text)
            if not postings:
                continue
            lengths = self._postings.lengths(term.fieldname)
            avg = st.avg_length(term.fieldname)
            w, c0, c1 = term.boost, 1 - b, b / avg
            get = tf.get
            for d, f in postings.items():
                tf[d] = get(d, 0.0) + w * f / (c0 + c1 * lengths[d])
        if not tf:
            return {}
        n = st.doc_count_all
        df = st.dfs.get(unit_key(q), len(tf))
        idf = math.log(1.0 + (n - df + 0.5) / (df + 0.5))
        scale = q.boost * idf * (k1 + 1)
        return {d: scale * t / (t + k1) for d, t in tf.items()}


def _boosted(scores: dict[int, float], boost: float) -> dict[int, float]:
    if boost == 1.0:
        return scores
    return {d: v * boost for d, v in scores.items()}
