"""Reading one commit: per-document arrays, match sets and BM25F scores computed from
whole posting lists, stored fields and snippets' terms."""

from __future__ import annotations

import math
import os
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from whoosh import qparser, query
from whoosh.codec import whoosh3
from whoosh.util.times import datetime_to_long

from clipsearch.errors import QueryError
from clipsearch.index.compile import (
    _EXACT_FIELDS,
    Compiled,
    ParsedQuery,
    _protect_quoted,
    _StarWildcards,
    _Word,
)
from clipsearch.index.schema import (
    FACET_FIELDS,
    STOP_WORDS,
    TERM_CACHE_POSTINGS,
    TEXT_FIELDS,
    _stem,
)
from clipsearch.index.storage import _guarded, _leaves, _open, _read_vocabulary
from clipsearch.search.topk import top_k


@dataclass(frozen=True, slots=True)
class FacetColumn:
    """Per-document facet values for one field: `values[k]` is a display value and
    `docs[docnum]` the tuple of value numbers of that document.  Case variants of a
    value share one number; the most frequent spelling is displayed."""

    values: tuple[str, ...]
    docs: tuple[tuple[int, ...], ...]
    postings: tuple[frozenset[int], ...]


class Snapshot:
    """One commit of the index, opened for searching.  Cheap to query many times;
    per-document arrays are built lazily once and reused."""

    @_guarded
    def __init__(self, path: str, k1: float = 1.2, b: float = 0.75):
        self.path = path
        self._ix = _open(path)
        self._k1, self._b = k1, b
        self._searcher = self._ix.searcher()
        self._reader = self._searcher.reader()
        self._facets: dict[str, FacetColumn] = {}
        self._published: list[int | None] | None = None
        self._by_time: tuple[list[int], list[int]] | None = None
        self._quality: list[int | None] | None = None
        self._term_cache: dict[tuple[str, str], dict[int, float]] = {}
        self._cache_size = 0
        self._field_lengths: dict[str, list[int] | None] = {}
        self._live: set[int] | None = None
        self._ids: list[str] | None = None
        self._words: dict[str, int] | None = None
        self._analyzer = self._ix.schema["title"].analyzer
        self._parser = qparser.QueryParser(None, self._ix.schema, group=qparser.OrGroup)
        for plugin in (
            qparser.RangePlugin,
            qparser.EveryPlugin,
            qparser.BoostPlugin,
            qparser.WildcardPlugin,
        ):
            self._parser.remove_plugin_class(plugin)
        self._parser.add_plugin(_StarWildcards())

    # -- bookkeeping
    def close(self) -> None:
        self._searcher.close()

    @property
    def doc_count(self) -> int:
        return self._reader.doc_count()

    def is_current(self) -> bool:
        return self._searcher.up_to_date()

    def last_modified(self) -> float:
        return self._ix.last_modified()

    def size_bytes(self) -> int:
        return sum(
            os.path.getsize(os.path.join(self.path, n))
            for n in os.listdir(self.path)
            if os.path.isfile(os.path.join(self.path, n))
        )

    def live_docs(self) -> set[int]:
        if self._live is None:
            self._live = set(self._reader.all_doc_ids())
        return self._live

    # -- per-document arrays
    def facet(self, field: str) -> FacetColumn:
        """Facet values per document, read once from the postings of `field`."""
        col = self._facets.get(field)
        if col is None:
            col = self._facets[field] = self._build_facet(field)
        return col

    @_guarded
    def _build_facet(self, field: str) -> FacetColumn:
        reader = self._reader
        key_of: dict[str, int] = {}
        spellings: list[dict[str, int]] = []
        postings: list[set[int]] = []
        for raw in reader.lexicon(field):
            term = raw.decode("utf-8")
            ids = list(reader.postings(field, raw).all_ids())
            k = key_of.setdefault(term.casefold(), len(spellings))
            if k == len(spellings):
                spellings.append({})
                postings.append(set())
            spellings[k][term] = spellings[k].get(term, 0) + len(ids)
            postings[k].update(ids)
        per_doc: list[list[int]] = [[] for _ in range(reader.doc_count_all())]
        for k, ids in enumerate(postings):
            for d in ids:
                per_doc[d].append(k)
        values = tuple(max(s.items(), key=lambda kv: (kv[1], kv[0]))[0] for s in spellings)
        return FacetColumn(
            values, tuple(map(tuple, per_doc)), tuple(frozenset(p) for p in postings)
        )

    def docs_between(self, since: datetime | None, until: datetime | None) -> set[int]:
        """Documents published in [since, until] (naive UTC); undated ones never match."""
        if self._by_time is None:
            pairs = sorted((t, d) for d, t in enumerate(self.published()) if t is not None)
            self._by_time = ([t for t, _ in pairs], [d for _, d in pairs])
        times, docs = self._by_time
        lo = 0 if since is None else bisect_left(times, datetime_to_long(since))
        hi = len(times) if until is None else bisect_right(times, datetime_to_long(until))
        return set(docs[lo:hi])

    def published(self) -> list[int | None]:
        """Publication time per document as a sortable integer (None when unknown)."""
        if self._published is None:
            self._published = self._column("published")
        return self._published

    def quality(self) -> list[int | None]:
        """Quality per document as a sortable integer (None when unknown)."""
        if self._quality is None:
            self._quality = self._column("quality")
        return self._quality

    @_guarded
    def _column(self, field: str) -> list[int | None]:
        default = self._ix.schema[field].column_type.default_value()
        out: list[int | None] = []
        # Per segment: Whoosh's MultiColumnReader iterates nothing when a segment has
        # no values for the column.
        for leaf, _offset in _leaves(self._reader):
            out.extend(
                None if v == default else v for v in leaf.column_reader(field, translate=False)
            )
        return out

    def words(self) -> dict[str, int]:
        """Surface vocabulary with (approximate) document frequencies: what typo
        tolerance corrects to.  Saved beside the index at each commit."""
        if self._words is None:
            self._words = _read_vocabulary(self.path, None) or {}
        return self._words

    def term_df(self, word: str) -> int:
        """Documents whose searchable text contains `word` (after analysis), at most:
        the largest per-field frequency."""
        best = 0
        deletions = self._reader.has_deletions()
        for token in self.analyze(word):
            for f in TEXT_FIELDS:
                if deletions:  # Whoosh's frequencies count deleted clips until a merge
                    n = len(self._term(f, token).keys() & self.live_docs())
                else:
                    n = self._reader.doc_frequency(f, token)
                best = max(best, n)
        return best

    def analyze(self, text: str) -> list[str]:
        return [t.text for t in self._analyzer(text)]

    # -- queries
    def parse(self, text: str) -> ParsedQuery:
        """Parse user query syntax; plain words stay correctable, everything else is kept."""
        try:
            q = _protect_quoted(self._parser.parse(text, normalize=False)).normalize()
        except Exception:  # Whoosh's parser fails in many ways; none says much to a user
            raise QueryError(
                f"cannot parse query {text!r}: check quotes, parentheses, AND/OR/NOT, and "
                f"field names ({', '.join((*TEXT_FIELDS, *FACET_FIELDS, *_EXACT_FIELDS))})"
            ) from None
        return ParsedQuery(q, self)

    def match(self, compiled: Compiled) -> set[int]:
        """Every matching live document number, without scoring."""
        docs = self._docs(compiled.q)
        if self._reader.has_deletions():
            docs = docs & self.live_docs()
        return docs

    def scores(self, compiled: Compiled) -> dict[int, float]:
        """Every matching live document with its BM25F score.

        Scoring runs here, over whole posting lists read into dicts, instead of
        through Whoosh's matchers: those step through documents one Python call per
        posting per field, which made a query with facet counts 2-5x slower.  The
        formula is Whoosh's BM25F (per-field BM25 on boosted term frequencies, summed)."""
        out = self._score(compiled.q)
        if self._reader.has_deletions():
            live = self.live_docs()
            out = {d: v for d, v in out.items() if d in live}
        return out

    def top(
        self,
        scores: dict[int, float],
        n: int,
        allow: set[int] | None = None,
        sort: str = "relevance",
    ) -> list[tuple[int, float]]:
        """The best `n` of the scored documents (docnum, score), optionally restricted;
        by score, or by date or quality (newest/highest first, score breaking ties)."""
        docs: Iterable[int] = scores if allow is None else [d for d in allow if d in scores]
        if sort == "relevance":
            key: Any = scores.__getitem__
        else:
            col = self.published() if sort == "date" else self.quality()
            key = lambda d: (col[d] is not None, col[d] or 0, scores[d])  # noqa: E731
        return [(d, scores[d]) for d in top_k(docs, n, key, self.clip_id)]

    def clip_id(self, docnum: int) -> str:
        """The clip id of a document, from the id column (no stored fields read)."""
        if self._ids is None:
            self._ids = []
            for leaf, _offset in _leaves(self._reader):
                self._ids.extend(leaf.column_reader("id"))
        return self._ids[docnum]

    # -- set algebra and scoring over the query tree
    def _docs(self, q: Any) -> set[int]:
        if isinstance(q, query.Term):
            return set(self._term(q.fieldname, q.text))
        if isinstance(q, query.Or | query.DisjunctionMax | _Word):
            out: set[int] = set()
            for child in q.subqueries:
                if isinstance(child, query.Term):
                    out.update(self._term(child.fieldname, child.text))
                else:
                    out |= self._docs(child)
            return out
        if isinstance(q, query.And):
            positives = [c for c in q.subqueries if not isinstance(c, query.Not)]
            negatives = [c.query for c in q.subqueries if isinstance(c, query.Not)]
            sets = sorted((self._docs(c) for c in positives), key=len)
            out = sets[0] if sets else set(self.live_docs())
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
            return self.live_docs() - self._docs(q.query)
        if q is query.NullQuery:
            return set()
        return self._whoosh_docs(q)

    def _score(self, q: Any) -> dict[int, float]:
        if isinstance(q, query.Term):
            return self._term_scores(q.fieldname, q.text, q.boost)
        if isinstance(q, _Word):
            return self._bm25f(q)
        if isinstance(q, query.DisjunctionMax):
            best: dict[int, float] = {}
            for child in q.subqueries:
                for d, v in self._score(child).items():
                    if v > best.get(d, 0.0):
                        best[d] = v
            return _boosted(best, q.boost)
        if isinstance(q, query.Or):
            out: dict[int, float] = {}
            for child in q.subqueries:
                part = self._score(child)
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
                for d, v in self._score(child).items():
                    if d in keep:
                        out[d] = out.get(d, 0.0) + v
            return _boosted(out, q.boost)
        if isinstance(q, query.AndNot):
            drop = self._docs(q.b)
            return {d: v for d, v in self._score(q.a).items() if d not in drop}
        if isinstance(q, query.AndMaybe):
            out = dict(self._score(q.a))
            for d, v in self._score(q.b).items():
                if d in out:
                    out[d] += v
            return out
        if isinstance(q, query.Require):
            keep = self._docs(q.b)
            return {d: v for d, v in self._score(q.a).items() if d in keep}
        if isinstance(q, query.Phrase):
            keep = self._whoosh_docs(q)
            out = {}
            for word in q.words:
                for d, v in self._term_scores(q.fieldname, word, q.boost).items():
                    if d in keep:
                        out[d] = out.get(d, 0.0) + v
            return out
        if q is query.NullQuery:
            return {}
        return dict.fromkeys(self._docs(q), q.boost)

    @_guarded
    def _whoosh_docs(self, q: Any) -> set[int]:
        try:
            return set(self._searcher.docs_for_query(q))
        except query.QueryError as exc:
            raise QueryError(str(exc)) from None

    @_guarded
    def _term(self, field: str, text: str) -> dict[int, float]:
        key = (field, text)
        hit = self._term_cache.get(key)
        if hit is None:
            hit = _postings(self._reader, field, text) if field in self._ix.schema else {}
            self._cache_size += len(hit)
            while self._cache_size > TERM_CACHE_POSTINGS and self._term_cache:
                self._cache_size -= len(self._term_cache.pop(next(iter(self._term_cache))))
            self._term_cache[key] = hit
        return hit

    def _term_scores(self, field: str, text: str, boost: float = 1.0) -> dict[int, float]:
        postings = self._term(field, text)
        if not postings:
            return {}
        lengths = self._lengths(field)
        if lengths is None:  # unscored field (topic, provider, id...): a constant score
            return dict.fromkeys(postings, boost)
        n = self._reader.doc_count_all()
        df = len(postings)
        idf = math.log(1.0 + (n - df + 0.5) / (df + 0.5))
        avg = self._avg_length(field)
        k1, b = self._k1, self._b
        w = boost * idf * (k1 + 1)
        kb0, kb1 = k1 * (1 - b), k1 * b / avg
        return {d: w * tf / (tf + kb0 + kb1 * lengths[d]) for d, tf in postings.items()}

    def _bm25f(self, q: _Word) -> dict[int, float]:
        k1, b = self._k1, self._b
        tf: dict[int, float] = {}
        for term in q.subqueries:
            postings = self._term(term.fieldname, term.text)
            if not postings:
                continue
            lengths = self._lengths(term.fieldname)
            avg = self._avg_length(term.fieldname)
            w, c0, c1 = term.boost, 1 - b, b / avg
            get = tf.get
            for d, f in postings.items():
                tf[d] = get(d, 0.0) + w * f / (c0 + c1 * lengths[d])
        if not tf:
            return {}
        n = self._reader.doc_count_all()
        idf = math.log(1.0 + (n - len(tf) + 0.5) / (len(tf) + 0.5))
        scale = q.boost * idf * (k1 + 1)
        return {d: scale * t / (t + k1) for d, t in tf.items()}

    def _avg_length(self, field: str) -> float:
        return (self._reader.field_length(field) / (self._reader.doc_count() or 1)) or 1.0

    @_guarded
    def _lengths(self, field: str) -> list[int] | None:
        """Per-document length of `field` (Whoosh's one-byte approximation), read once."""
        if field in self._field_lengths:
            return self._field_lengths[field]
        if not self._ix.schema[field].scorable:
            self._field_lengths[field] = None
            return None
        out: list[int] = []
        for leaf, _offset in _leaves(self._reader):
            out.extend(leaf.doc_field_length(d, field, 0) for d in range(leaf.doc_count_all()))
        self._field_lengths[field] = out
        return out

    @_guarded
    def stored(self, docnum: int) -> dict[str, Any]:
        return self._reader.stored_fields(docnum)

    @_guarded
    def docnum_of(self, clip_id: str) -> int | None:
        return self._searcher.document_number(id=clip_id)

    def query_terms(self, compiled: Compiled) -> frozenset[str]:
        """The analysed words a query searches in text fields (what snippets mark)."""
        return frozenset(t for f, t in compiled.q.iter_all_terms() if f in TEXT_FIELDS)

    def analyze_word(self, word: str) -> str | None:
        """One lowercase word as the index analyses it (None for a stop word); cached."""
        if word in STOP_WORDS:
            return None
        return _stem(word)


def _postings(reader: Any, field: str, text: str) -> dict[int, float]:
    """docnum -> weight (term frequency times field boost) of one term, deleted
    documents included, read a whole block at a time instead of a call per posting."""
    out: dict[int, float] = {}
    for leaf, offset in _leaves(reader):
        if (field, text) not in leaf:
            continue
        m = leaf.postings(field, text)
        if isinstance(m, whoosh3.W3LeafMatcher):
            while not m._atend:
                if m._ids is None:
                    m._read_ids()
                if m._weights is None:
                    m._read_weights()
                ids, weights = m._ids, m._weights
                if offset:
                    ids = [i + offset for i in ids]
                out.update(zip(ids, weights, strict=True))
                if m._lastblock:
                    break
                m._goto(m._nextoffset)
        else:
            while m.is_active():
                out[m.id() + offset] = m.weight()
                m.next()
    return out


def _boosted(scores: dict[int, float], boost: float) -> dict[int, float]:
    if boost == 1.0:
        return scores
    return {d: v * boost for d, v in scores.items()}
