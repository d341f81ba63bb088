"""One commit of the index, opened for searching: the Whoosh snapshot behind the
search engine's backend seam.  It owns the reader's lifecycle and answers through its
parts: `Columns` (per-document arrays), `Postings` and `Terms` (posting lists, the
vocabulary), `Parser` (query syntax) and `Scorer` (match sets, BM25F)."""

from __future__ import annotations

import os
from bisect import bisect_right
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from whoosh.util.times import long_to_datetime

from clipsearch.index import stories
from clipsearch.index.analysis import analyze_word
from clipsearch.index.compile import Compiled, ParsedQuery, Parser
from clipsearch.index.postings import Terms
from clipsearch.index.schema import TEXT_FIELDS
from clipsearch.index.stats import QueryStats
from clipsearch.index.storage import guarded, leaves, open_whoosh, read_vocabulary

if TYPE_CHECKING:
    from clipsearch.index.docsets import DocSet, ScoreMap


#: Per segment (reader, first docnum), their starts, the schema's field names, and
#: whether stored fields are read per segment (Snapshot.stored).
_StoredFrom = tuple[list[tuple[Any, int]], list[int], frozenset[str], bool]


class _Searcher:
    """Whoosh's Searcher over a commit's reader, made on first use: only some queries
    ask for one (a phrase's positions, a query Whoosh matches itself), and making it
    imports whoosh.searching (with whoosh.highlight, whoosh.classify and
    whoosh.scoring), ~3 ms of a whole CLI search that never needs it."""

    def __init__(self, ix: Any, reader: Any) -> None:
        self._ix, self._reader, self._real = ix, reader, None

    def __getattr__(self, name: str) -> Any:
        if self._real is None:
            from whoosh.searching import Searcher

            self._real = Searcher(self._reader, fromindex=self._ix)  # as ix.searcher()
        return getattr(self._real, name)

    def close(self) -> None:
        """Close the reader (through the searcher, when there is one)."""
        (self._reader if self._real is None else self._real).close()


class Snapshot:
    """One commit of the index.  Cheap to query many times; per-document arrays are
    built lazily once and reused; closing it releases the commit's files."""

    #: Every document has a story (stories.py): grouping and story ids work here.
    has_stories = True

    @guarded
    def __init__(self, path: str, k1: float = 1.2, b: float = 0.75):
        self.path = path
        self._ix = open_whoosh(path)
        self._reader = self._ix.reader()
        self._searcher = _Searcher(self._ix, self._reader)
        schema = self._ix.schema
        self._terms = Terms(
            self._reader,
            schema,
            languages=self.languages,
            frequencies=lambda pairs: self._postings.doc_frequencies(pairs),
        )
        self._languages: tuple[str, ...] | None = None
        # The numpy-backed parts load when an index is opened for searching, so
        # importing clipsearch (a command that does not search) needs no numpy.
        from clipsearch.index import derived
        from clipsearch.index.columns import Columns
        from clipsearch.index.posting_arrays import Postings
        from clipsearch.index.scoring import Scorer

        reader = self._reader
        generation, n_docs = reader.generation(), reader.doc_count_all()
        segments = derived.segment_list(reader)
        self._columns = Columns(
            path, reader, schema, prebuilt=lambda: derived.load(path, generation, n_docs, segments)
        )
        self._postings = Postings(path, reader, schema, self._columns.live_mask)
        self._parser = Parser(schema, self._terms)
        self._scorer = Scorer(
            path, reader, self._searcher, self._postings, self._columns, TEXT_FIELDS, k1, b
        )
        self._words: dict[str, int] | None = None
        self._stored_from: _StoredFrom | None = None
        self._stories: stories.Stories | None = None
        self._groups: dict[int, tuple[int, ...]] | None = None
        self._in_groups: frozenset[int] = frozenset()

    # -- lifecycle
    def close(self) -> None:
        self._searcher.close()

    def begin(self) -> None:
        """Nothing to prepare: one index answers whole or not at all."""

    def missing_shards(self) -> list[str]:
        return []

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

    # -- per-document values
    def live_docs(self) -> DocSet:
        return self._columns.live_docs()

    def day_counts(self, docs: Collection[int]) -> tuple[Counter[int], int]:
        """Documents per UTC day of publication (days since 0001-01-01), and undated."""
        return self._columns.day_counts(docs)

    def facet_values(self, field: str) -> tuple[str, ...]:
        """Every value of a facet (case variants as one, most frequent spelling)."""
        return self._columns.facet(field).values

    def docs_with_values(self, field: str, values: Iterable[str]) -> DocSet:
        return self._columns.facet(field).docs_with(values)

    def facet_counts(self, field: str, docs: Collection[int]) -> Counter[str]:
        """Documents per facet value over `docs`."""
        return self._columns.facet(field).count(docs)

    def facet_story_counts(self, field: str, docs: Collection[int]) -> Counter[str]:
        """Distinct stories per facet value over `docs`."""
        return self._columns.facet(field).count_distinct(
            docs, self.story_of(), self.docs_with_copies()
        )
    def languages(self) -> tuple[str, ...]:
        """The languages of the clips, most clips first (ties by code)."""
        if self._languages is None:
            sizes = self.language_sizes()
            self._languages = tuple(sorted(sizes, key=lambda v: (-sizes[v], v)))
        return self._languages

    def language_sizes(self) -> dict[str, int]:
        """Live clips per language (those with any): what a sharded index adds up to
        order its languages as one index would."""
        col = self._columns.facet("language")
        # Over every document: a facet column gives deleted documents no value
        # (columns.py), so no array of live numbers is made for it (1.5 ms at
        # 155k clips, of every search process's first query).
        counts = col.code_counts(None)
        return {v: int(n) for v, n in zip(col.values, counts.tolist(), strict=True) if n}

    def docs_between(self, since: datetime | None, until: datetime | None) -> DocSet:
        return self._columns.docs_between(since, until)

    def facet_values_of(self, field: str, docnum: int) -> tuple[str, ...]:
        """The values of a facet one document has (from the facet column)."""
        col = self._columns.facet(field)
        return tuple(col.values[k] for k in col.codes(docnum))

    def published_at(self, docnum: int) -> datetime | None:
        """A document's publication time (naive UTC), from the column."""
        t = self._columns.published()[docnum]
        return None if t is None else long_to_datetime(t)

    def published(self) -> Sequence[int | None]:
        """Publication time per document as a sortable integer (None when unknown)."""
        return self._columns.published()

    def clip_id(self, docnum: int) -> str:
        return self._columns.clip_id(docnum)

    @guarded
    def story_data(self) -> stories.Stories:
        """Story and content fingerprint per document: written with the commit, else
        computed here (stories.py)."""
        if self._stories is None:
            reader = self._reader
            loaded = stories.load(self.path, reader.generation(), reader.doc_count_all())
            if loaded is None:
                loaded, _rows, _docs = stories.compute(self.path, reader, self._columns)
            self._stories = loaded
        return self._stories

    @guarded
    def story_rows(self) -> tuple[int, int, stories.Rows]:
        """This commit's generation, document count and grouping rows: what a sharded
        index gathers from every shard to group them all at once (shard_stories.py)."""
        reader = self._reader
        per_doc, _docs = stories.rows(self.path, reader, self._columns)
        return reader.generation(), reader.doc_count_all(), per_doc

    def commit_key(self) -> tuple[int, int]:
        """The commit's generation and document count (what derived data is tied to)."""
        return self._reader.generation(), self._reader.doc_count_all()

    def story_groups(self) -> dict[int, tuple[int, ...]]:
        """The stories of more than one live document: story -> its documents.  Most
        stories have one copy; counting stories only has to look at these."""
        if self._groups is None:
            import numpy as np

            story = np.asarray(self.story_of(), dtype=np.int64)
            copies = np.flatnonzero((story != np.arange(len(story))) & self._columns.live_mask())
            groups: dict[int, list[int]] = {}
            for d, s in zip(copies.tolist(), story[copies].tolist(), strict=True):
                groups.setdefault(s, [s]).append(d)
            self._groups = {s: tuple(m) for s, m in groups.items()}
            self._in_groups = frozenset(d for m in self._groups.values() for d in m)
        return self._groups

    def docs_with_copies(self) -> frozenset[int]:
        """The live documents whose story has several (those of `story_groups`)."""
        self.story_groups()
        return self._in_groups

    def story_of(self) -> Sequence[int]:
        """Per document number, the document number of its story's earliest copy."""
        return self.story_data().story

    def fingerprints(self) -> Sequence[str]:
        """Per document number, a digest of its indexed content."""
        return self.story_data().fingerprint

    def clip_ids(self, docs: list[int]) -> list[str]:
        return self._columns.clip_ids(docs)

    def facet_spellings(self, field: str) -> list[tuple[str, int]]:
        """Every spelling of a facet's values with its document count, in index order:
        what a sharded index merges into the values one index would show."""
        reader = self._reader
        return [
            (raw.decode("utf-8"), reader.doc_frequency(field, raw))
            for raw in reader.lexicon(field)
        ]

    def sort_values(self, docs: Iterable[int], sort: str) -> list[tuple[bool, int]]:
        """The date or quality part of each document's sort key (as `top` orders them)."""
        cols = self._columns
        col = cols.published() if sort == "date" else cols.quality()
        return [(col[d] is not None, col[d] or 0) for d in docs]

    # -- terms, for a query parser over several shards
    def field_terms(self, field: str) -> list[str]:
        """Every term of `field`, in order."""
        return self._terms.field_terms(field) if self._terms.has_field(field) else []

    def prefix_terms(self, field: str, prefix: str) -> list[str]:
        """The terms of `field` starting with `prefix`, in order."""
        return [raw.decode("utf-8") for raw in self._terms.expand_prefix(field, prefix)]

    # -- vocabulary and analysis
    def words(self) -> dict[str, int]:
        """Surface vocabulary with (approximate) document frequencies: what typo
        tolerance corrects to.  Saved beside the index at each commit."""
        if self._words is None:
            self._words = read_vocabulary(self.path, None) or {}
        return self._words

    def term_df(self, word: str) -> int:
        """Documents whose searchable text contains `word` (after analysis in each
        language), at most: the largest per-field frequency of one of its terms."""
        return max(self.field_dfs(word).values(), default=0)

    def field_dfs(self, word: str) -> dict[tuple[str, str], int]:
        """Per (analysed token, text field), the live documents holding it: what
        `term_df` takes the largest of."""
        return self.token_dfs({t for tokens in self._terms.analyses(word) for t in tokens})

    def token_dfs(self, tokens: Iterable[str]) -> dict[tuple[str, str], int]:
        """Per (token, text field), the live documents holding it: a sharded index
        sums these for the tokens of the merged analysis, then takes the largest."""
        tokens = list(tokens)
        pairs = [(t, f) for t in tokens for f in TEXT_FIELDS]
        if self._reader.has_deletions():  # Whoosh's frequencies count deleted clips until a merge
            live, docs = self.live_docs(), self._postings.docs
            return {(t, f): len(live & docs(f, t)) for t, f in pairs}  # a DocSet
        sizes = self._postings.doc_frequencies([(f, t) for t, f in pairs])
        return dict(zip(pairs, sizes, strict=True))

    def occurring(self, tokens: Iterable[str]) -> set[str]:
        """The tokens some text field of this commit holds (a sharded index unites
        these to decide, as one index does, which analyses a query searches)."""
        return self._terms.occurring(tokens)

    def analyze(self, text: str) -> list[str]:
        return self._terms.analyze(text)

    def analyze_word(self, word: str, language: str | None = None) -> str | None:
        """One word as a clip of `language` (default: the main one) indexes it (None
        for a stop word)."""
        return analyze_word(word, language or self._terms.languages()[0])

    # -- queries
    def parse(
        self, text: str, implicit_and: bool = False, languages: Sequence[str] = ()
    ) -> ParsedQuery:
        return self._parser.parse(text, implicit_and, languages)

    def match(self, compiled: Compiled) -> DocSet:
        """Every matching live document number, without scoring."""
        docs = self._scorer.match(compiled.q, self._checked(compiled))
        if self._reader.has_deletions():
            docs = docs & self.live_docs()
        return docs

    def _checked(self, compiled: Compiled) -> dict[Any, Any]:
        """The phrase checks of `compiled`'s query on this snapshot (shards of one
        process share the query)."""
        return compiled.checked.setdefault(self._scorer, {})

    def query_stats(self, compiled: Compiled) -> QueryStats:
        """The statistics scoring `compiled` uses here (to add up across shards)."""
        return self._scorer.query_stats(compiled.q)

    def scores(self, compiled: Compiled, stats: QueryStats | None = None) -> ScoreMap:
        """Every matching live document with its BM25F score; `stats` from outside
        (summed over shards) score it as part of a larger collection."""
        out = self._scorer.scores(compiled.q, stats, self._checked(compiled))
        if self._reader.has_deletions():
            out = out.within(self.live_docs())
        return out

    def top(
        self,
        scores: Any,
        n: int,
        allow: Any = None,
        sort: str = "relevance",
    ) -> list[tuple[int, float]]:
        """The best `n` of the scored documents (docnum, score), optionally restricted;
        by score, or by date or quality (newest/highest first, score breaking ties),
        then by clip id."""
        from clipsearch.index.docsets import ScoreMap

        s = ScoreMap.of(scores)
        if allow is not None:
            s = s.within(allow)
        if sort == "relevance":
            keys = [s.scores]
        else:
            cols = self._columns
            col = cols.published() if sort == "date" else cols.quality()
            present = col.present[s.docs]
            keys = [present.astype("i1"), col.values[s.docs] * present, s.scores]
        return self._ordered(s, keys, n)

    def top_in_tiers(
        self, scores: Any, words: Sequence[tuple[Any, Any]], n: int, allow: Any = None
    ) -> list[tuple[int, float]]:
        """The best `n` by tier (every word, then how many corrected words appear as
        typed), then score, then clip id: ranking.py's order, counted over arrays."""
        import numpy as np

        from clipsearch.index.docsets import ScoreMap, as_docs, member

        s = ScoreMap.of(scores)
        if allow is not None:
            s = s.within(allow)
        matched = np.zeros(len(s.docs), dtype=np.int64)
        as_typed = np.zeros(len(s.docs), dtype=np.int64)
        for exact, either in words:
            matched += member(s.docs, as_docs(either))
            if either is not exact:
                as_typed += member(s.docs, as_docs(exact))
        every = (matched == len(words)).astype("i1")
        return self._ordered(s, [every, as_typed, s.scores], n)

    def _ordered(self, s: ScoreMap, keys: list[Any], n: int) -> list[tuple[int, float]]:
        """The first `n` of `s` by `keys` (largest first), ties by clip id."""
        from clipsearch.topk import top_candidates

        pick = top_candidates(keys, n)
        if not len(pick):
            return []
        docs = s.docs[pick].tolist()
        cols = [k[pick].tolist() for k in keys]
        rows = sorted(zip(self._columns.clip_ids(docs), docs, *cols, strict=True))
        rows.sort(key=lambda r: r[2:], reverse=True)  # stable: equal keys stay in id order
        scores = s.scores[pick]
        by_doc = dict(zip(docs, scores.tolist(), strict=True))
        return [(r[1], by_doc[r[1]]) for r in rows[:n]]

    # -- stored fields and snippets
    @guarded
    def stored(self, docnum: int) -> dict[str, Any]:
        # Straight from the document's segment: Whoosh's reader looks every stored
        # field up in the schema (a Python call each) to drop fields a schema change
        # removed; a set of the schema's names does the same (it has no dynamic
        # fields, else Whoosh's way).  A third of the cost of a hit's stored fields.
        if self._stored_from is None:
            parts = leaves(self._reader)
            schema = self._ix.schema
            plain = bool(parts) and not schema._dyn_fields
            self._stored_from = (parts, [o for _, o in parts], frozenset(schema.names()), plain)
        parts, starts, names, plain = self._stored_from
        if not plain or docnum < 0:
            return self._reader.stored_fields(docnum)
        leaf, offset = parts[max(0, bisect_right(starts, docnum) - 1)]
        if leaf.is_closed:
            return self._reader.stored_fields(docnum)  # Whoosh says it is closed
        fields = leaf._perdoc.stored_fields(docnum - offset)
        return {k: v for k, v in fields.items() if k in names}

    @guarded
    def docnum_of(self, clip_id: str) -> int | None:
        return self._searcher.document_number(id=clip_id)

    def query_terms(self, compiled: Compiled) -> frozenset[str]:
        """The analysed words a query searches in text fields (what snippets mark)."""
        return frozenset(t for f, t in compiled.q.iter_all_terms() if f in TEXT_FIELDS)
