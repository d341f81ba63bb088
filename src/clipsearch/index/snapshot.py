"""One commit of the index, opened for searching: the Whoosh snapshot behind the
search engine's backend seam.  It owns the reader's lifecycle and answers through its
parts: `Columns` (per-document arrays), `Postings` and `Terms` (posting lists, the
vocabulary), `Parser` (query syntax) and `Scorer` (match sets, BM25F)."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Any

from whoosh.util.times import long_to_datetime

from clipsearch.index import derived, stories
from clipsearch.index.analysis import analyze_word
from clipsearch.index.columns import Columns
from clipsearch.index.compile import Compiled, ParsedQuery, Parser
from clipsearch.index.postings import Postings, Terms
from clipsearch.index.schema import TEXT_FIELDS
from clipsearch.index.scoring import QueryStats, Scorer
from clipsearch.index.storage import guarded, open_whoosh, read_vocabulary
from clipsearch.topk import top_k


class Snapshot:
    """One commit of the index.  Cheap to query many times; per-document arrays are
    built lazily once and reused; closing it releases the commit's files."""

    #: Every document has a story (stories.py): grouping and story ids work here.
    has_stories = True

    @guarded
    def __init__(self, path: str, k1: float = 1.2, b: float = 0.75):
        self.path = path
        self._ix = open_whoosh(path)
        self._searcher = self._ix.searcher()
        self._reader = self._searcher.reader()
        schema = self._ix.schema
        self._terms = Terms(self._reader, schema, languages=self.languages)
        self._languages: tuple[str, ...] | None = None
        generation, n_docs = self._reader.generation(), self._reader.doc_count_all()
        loaded: list[derived.Derived | None] = []

        def prebuilt() -> derived.Derived | None:  # read once, on first use
            if not loaded:
                loaded.append(derived.load(path, generation, n_docs))
            return loaded[0]

        self._postings = Postings(
            path, self._reader, schema, prebuilt=lambda: (d := prebuilt()) and d.lengths
        )
        self._columns = Columns(
            path, self._reader, schema, prebuilt=lambda: (d := prebuilt()) and d.facets
        )
        self._parser = Parser(schema, self._terms)
        self._scorer = Scorer(
            path, self._reader, self._searcher, self._postings, self._columns, TEXT_FIELDS, k1, b
        )
        self._words: dict[str, int] | None = None
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
    def live_docs(self) -> set[int]:
        return self._columns.live_docs()

    def day_counts(self, docs: Collection[int]) -> tuple[Counter[int], int]:
        """Documents per UTC day of publication (days since 0001-01-01), and undated."""
        return self._columns.day_counts(docs)

    def facet_values(self, field: str) -> tuple[str, ...]:
        """Every value of a facet (case variants as one, most frequent spelling)."""
        return self._columns.facet(field).values

    def docs_with_values(self, field: str, values: Iterable[str]) -> set[int]:
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
        live = self.live_docs() if self._reader.has_deletions() else None
        pairs = zip(col.values, col.postings, strict=True)
        sizes = {v: len(p if live is None else p & live) for v, p in pairs}
        return {v: n for v, n in sizes.items() if n}

    def docs_between(self, since: datetime | None, until: datetime | None) -> set[int]:
        return self._columns.docs_between(since, until)

    def facet_values_of(self, field: str, docnum: int) -> tuple[str, ...]:
        """The values of a facet one document has (from the facet column)."""
        col = self._columns.facet(field)
        return tuple(col.values[k] for k in col.docs[docnum])

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
                loaded, _records = stories.compute(self.path, reader, self._columns)
            self._stories = loaded
        return self._stories

    @guarded
    def story_rows(self) -> tuple[int, int, list[stories.Row]]:
        """This commit's generation, document count and grouping rows: what a sharded
        index gathers from every shard to group them all at once (shard_stories.py)."""
        reader = self._reader
        per_doc, _records = stories.rows(self.path, reader, self._columns)
        return reader.generation(), reader.doc_count_all(), per_doc

    def commit_key(self) -> tuple[int, int]:
        """The commit's generation and document count (what derived data is tied to)."""
        return self._reader.generation(), self._reader.doc_count_all()

    def story_groups(self) -> dict[int, tuple[int, ...]]:
        """The stories of more than one live document: story -> its documents.  Most
        stories have one copy; counting stories only has to look at these."""
        if self._groups is None:
            live = self.live_docs()
            groups: dict[int, list[int]] = {}
            for d, s in enumerate(self.story_of()):
                if s != d and d in live:
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
        clip_id = self._columns.clip_id
        return [clip_id(d) for d in docs]

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
        out: dict[tuple[str, str], int] = {}
        deletions = self._reader.has_deletions()
        for token in tokens:
            for f in TEXT_FIELDS:
                if deletions:  # Whoosh's frequencies count deleted clips until a merge
                    n = len(self._postings.term(f, token).keys() & self.live_docs())
                else:
                    n = self._postings.doc_frequency(f, token)
                out[(token, f)] = n
        return out

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

    def match(self, compiled: Compiled) -> set[int]:
        """Every matching live document number, without scoring."""
        docs = self._scorer.match(compiled.q)
        if self._reader.has_deletions():
            docs = docs & self.live_docs()
        return docs

    def query_stats(self, compiled: Compiled) -> QueryStats:
        """The statistics scoring `compiled` uses here (to add up across shards)."""
        return self._scorer.query_stats(compiled.q)

    def scores(self, compiled: Compiled, stats: QueryStats | None = None) -> dict[int, float]:
        """Every matching live document with its BM25F score; `stats` from outside
        (summed over shards) score it as part of a larger collection."""
        out = self._scorer.scores(compiled.q, stats)
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
        by score, or by date or quality (newest/highest first, score breaking ties),
        then by clip id."""
        docs: Iterable[int] = scores if allow is None else [d for d in allow if d in scores]
        if sort == "relevance":
            key: Any = scores.__getitem__
        else:
            cols = self._columns
            col = cols.published() if sort == "date" else cols.quality()
            key = lambda d: (col[d] is not None, col[d] or 0, scores[d])  # noqa: E731
        return [(d, scores[d]) for d in top_k(docs, n, key, self.clip_id)]

    # -- stored fields and snippets
    @guarded
    def stored(self, docnum: int) -> dict[str, Any]:
        return self._reader.stored_fields(docnum)

    @guarded
    def docnum_of(self, clip_id: str) -> int | None:
        return self._searcher.document_number(id=clip_id)

    def query_terms(self, compiled: Compiled) -> frozenset[str]:
        """The analysed words a query searches in text fields (what snippets mark)."""
        return frozenset(t for f, t in compiled.q.iter_all_terms() if f in TEXT_FIELDS)
