"""The seam between the search engine and an index: the few operations a search needs,
as a protocol.  The Whoosh `Snapshot` (index/snapshot.py) is one implementation; a
sharded backend is another.

Document numbers are the backend's own; the engine only passes them back.  What
crosses shards is keyed by data instead: facet counts by value, ties by clip id, and
scoring statistics (`QueryStats`), which a sharded backend adds up over its shards and
hands to each (as Whoosh's `searcher.get_parent()` and Tantivy's
`Bm25StatisticsProvider` do), so every shard scores as part of the whole collection."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from clipsearch.index import Compiled, ParsedQuery, QueryStats


class Backend(Protocol):
    """One searchable collection, at one commit."""

    # -- the collection
    @property
    def doc_count(self) -> int:
        """Live documents."""
        ...

    def live_docs(self) -> set[int]: ...

    def is_current(self) -> bool:
        """False once a newer commit exists (then the owner reopens)."""
        ...

    def close(self) -> None: ...

    def begin(self) -> None:
        """A request starts (a sharded backend tries shards that were missing again)."""
        ...

    def missing_shards(self) -> list[str]:
        """Shards left out of the answers so far (partial answers only); none here."""
        ...

    def last_modified(self) -> float:
        """When the last commit was made (seconds since the epoch)."""
        ...

    def size_bytes(self) -> int: ...

    # -- words: analysis, vocabulary, document frequencies
    def analyze(self, text: str) -> list[str]: ...

    def analyze_word(self, word: str, language: str | None = None) -> str | None:
        """One word as a clip of `language` (default: the main one) indexes it."""
        ...

    def languages(self) -> tuple[str, ...]:
        """The languages of the clips (ISO 639-1 codes, `und`), most clips first."""
        ...

    def words(self) -> Mapping[str, int]:
        """Surface vocabulary with document frequencies: what typos are corrected to."""
        ...

    def term_df(self, word: str) -> int:
        """Live documents whose searchable text contains `word` (after analysis)."""
        ...

    # -- matching and scoring
    def parse(
        self, text: str, implicit_and: bool = False, languages: Sequence[str] = ()
    ) -> ParsedQuery: ...

    def match(self, compiled: Compiled) -> set[int]: ...

    def query_stats(self, compiled: Compiled) -> QueryStats: ...

    def scores(self, compiled: Compiled, stats: QueryStats | None = None) -> dict[int, float]: ...

    def top(
        self,
        scores: dict[int, float],
        n: int,
        allow: set[int] | None = None,
        sort: str = "relevance",
    ) -> list[tuple[int, float]]: ...

    def clip_id(self, docnum: int) -> str: ...

    def clip_ids(self, docs: list[int]) -> list[str]:
        """The clip ids of several documents at once (one question per shard)."""
        ...

    # -- stories (index/grouping.py): per document, its story's earliest copy
    #: True when every document has a story (one index, and a sharded one, whose
    #: stories are grouped over all shards at once).
    has_stories: bool

    def story_of(self) -> Sequence[int]: ...

    def story_groups(self) -> dict[int, tuple[int, ...]]:
        """Stories of more than one live document: story -> documents."""
        ...

    def docs_with_copies(self) -> frozenset[int]:
        """The live documents of the stories of `story_groups`."""
        ...

    def fingerprints(self) -> Sequence[str]:
        """Per document, a digest of its indexed content (what saved searches compare)."""
        ...

    def published(self) -> Sequence[int | None]: ...

    def published_at(self, docnum: int) -> datetime | None: ...

    def facet_values_of(self, field: str, docnum: int) -> tuple[str, ...]: ...

    def facet_story_counts(self, field: str, docs: Collection[int]) -> Counter[str]: ...

    # -- filters and facets, keyed by value
    def docs_between(self, since: datetime | None, until: datetime | None) -> set[int]: ...

    def day_counts(self, docs: Collection[int]) -> tuple[Counter[int], int]:
        """Documents per UTC day of publication (days since 0001-01-01), and undated."""
        ...

    def facet_values(self, field: str) -> tuple[str, ...]: ...

    def docs_with_values(self, field: str, values: Iterable[str]) -> set[int]: ...

    def facet_counts(self, field: str, docs: Collection[int]) -> Counter[str]: ...

    # -- stored fields and snippets
    def stored(self, docnum: int) -> dict[str, Any]: ...

    def docnum_of(self, clip_id: str) -> int | None: ...

    def query_terms(self, compiled: Compiled) -> frozenset[str]: ...
