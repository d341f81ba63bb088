"""A sharded index folder: N ordinary indexes (`shard-00/`, `shard-01/`, ...) and a
manifest (`shards.json`) saying how many and how clips are routed to them.

A clip goes to the shard given by a stable hash of its id, so every file with one id
lands in one shard and the rule for duplicate ids (the path that sorts last wins) is
kept by that shard alone.  `ShardService` is one shard opened for searching, with
answers made of plain values: the search engine's sharded backend calls it in this
process, or as a Dask actor on a worker (cluster/), the same either way.  The query
parser of a sharded index (`merged_parser`) expands prefixes and resolves
`topic:`/`provider:` spellings over the terms of every shard, as one index would."""

from __future__ import annotations

import hashlib
import heapq
import json
import os
import re
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from clipsearch.errors import IndexIncompatibleError, StorageError
from clipsearch.index.compile import Compiled, Parser
from clipsearch.index.postings import Terms
from clipsearch.index.schema import TEXT_FIELDS, make_schema
from clipsearch.index.snapshot import Snapshot
from clipsearch.index.stats import QueryStats

MANIFEST_FILE = "shards.json"
#: The format of the manifest; a newer one is refused rather than misread.
MANIFEST_FORMAT = 1
#: At most this many shards (names keep two digits up to 99, then grow).
MAX_SHARDS = 1024
SHARD_NAME = re.compile(r"^shard-\d{2,4}$")


@dataclass(frozen=True, slots=True)
class Manifest:
    """How many shards a sharded folder holds and their folder names, in shard order."""

    names: tuple[str, ...]

    @property
    def count(self) -> int:
        return len(self.names)

    def paths(self, folder: str) -> list[str]:
        return [os.path.join(folder, n) for n in self.names]


def shard_name(number: int) -> str:
    return f"shard-{number:02d}"


def shard_of(clip_id: str, count: int) -> int:
    """The shard of a clip: the first 8 bytes of BLAKE2b of its id, modulo `count`.
    Stable across runs, machines and Python versions (unlike `hash()`)."""
    digest = hashlib.blake2b(clip_id.encode("utf-8", "surrogateescape"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % count


def is_sharded(folder: str) -> bool:
    """True when `folder` holds a sharded index's manifest."""
    return os.path.isfile(os.path.join(folder, MANIFEST_FILE))


def read_manifest(folder: str) -> Manifest:
    """The manifest of a sharded folder; a one-line error when it is damaged."""
    path = os.path.join(folder, MANIFEST_FILE)
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        if data.get("format") != MANIFEST_FORMAT:
            raise ValueError(f"format {data.get('format')!r}, expected {MANIFEST_FORMAT}")
        names = tuple(data["shards"])
        if not names or not all(isinstance(n, str) and SHARD_NAME.match(n) for n in names):
            raise ValueError("bad shard names")
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise IndexIncompatibleError(
            f"{path}: damaged shard manifest ({exc}); rebuild the index from its clips"
        ) from None
    return Manifest(names)


def write_manifest(folder: str, count: int) -> Manifest:
    """Write the manifest of `count` shards (atomically) and return it."""
    manifest = Manifest(tuple(shard_name(i) for i in range(count)))
    data = {
        "format": MANIFEST_FORMAT,
        "route": "blake2b-64(clip id) mod shards",
        "shards": list(manifest.names),
    }
    path = os.path.join(folder, MANIFEST_FILE)
    try:
        os.makedirs(folder, exist_ok=True)
        with open(path + ".tmp", "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=1)
        os.replace(path + ".tmp", path)
    except OSError as exc:
        detail = f"cannot write the shard manifest ({exc.strerror or exc})"
        raise StorageError(folder, detail) from None
    return manifest


class ShardService:
    """One shard opened for searching, answering in plain values (sets and dicts of
    its own document numbers as Python ints, not the snapshot's arrays; counts keyed
    by value, lists of terms): what crosses a
    process boundary when the shard is a Dask actor.  Reopens itself on a newer
    commit when asked to `refresh`."""

    def __init__(self, path: str):
        self.path = path
        self._snap = Snapshot(path)

    @property
    def snapshot(self) -> Snapshot:
        """The commit this shard answers from (what a phased search runs its part on)."""
        return self._snap

    def refresh(self) -> bool:
        """Reopen on the latest commit if there is one; True when it changed."""
        if self._snap.is_current():
            return False
        old, self._snap = self._snap, Snapshot(self.path)
        old.close()
        return True

    def close(self) -> None:
        self._snap.close()

    # -- the collection
    def info(self) -> dict[str, Any]:
        snap = self._snap
        return {
            "path": self.path,
            "clips": snap.doc_count,
            "last_modified": snap.last_modified(),
            "size_bytes": snap.size_bytes(),
        }

    def is_current(self) -> bool:
        return self._snap.is_current()

    def live_docs(self) -> set[int]:
        return set(self._snap.live_docs())

    # -- vocabulary and terms
    def words(self) -> dict[str, int]:
        return self._snap.words()

    def token_dfs(self, tokens: list[str]) -> dict[tuple[str, str], int]:
        return self._snap.token_dfs(tokens)

    def occurring(self, tokens: list[str]) -> set[str]:
        return self._snap.occurring(tokens)

    def vocabulary_facts(
        self, tokens: list[str]
    ) -> tuple[set[str], dict[tuple[str, str], int]]:
        """Which `tokens` occur here, and their document frequencies per text field:
        what the merged analysis and typo tolerance need of a query's words, in one
        question."""
        return self._snap.occurring(tokens), self._snap.token_dfs(tokens)

    def language_sizes(self) -> dict[str, int]:
        return self._snap.language_sizes()

    def field_terms(self, field: str) -> list[str]:
        return self._snap.field_terms(field)

    def prefix_terms(self, field: str, prefix: str) -> list[str]:
        return self._snap.prefix_terms(field, prefix)

    def facet_spellings(self, field: str) -> list[tuple[str, int]]:
        return self._snap.facet_spellings(field)

    # -- matching and scoring
    def match(self, compiled: Compiled) -> set[int]:
        return set(self._snap.match(compiled))

    def query_stats(self, compiled: Compiled) -> QueryStats:
        return self._snap.query_stats(compiled)

    def scores(self, compiled: Compiled, stats: QueryStats) -> dict[int, float]:
        return dict(self._snap.scores(compiled, stats).items())

    def top(
        self, scores: dict[int, float], n: int, allow: set[int] | None, sort: str
    ) -> list[tuple[int, float, tuple[bool, int] | None, str]]:
        """This shard's best `n` as (docnum, score, date or quality key, clip id): all
        that merging shards' pages by the same order needs."""
        snap = self._snap
        best = snap.top(scores, n, allow=allow, sort=sort)
        keys: list[Any] = [None] * len(best)
        if sort != "relevance":
            keys = list(snap.sort_values([d for d, _ in best], sort))
        return [(d, s, k, snap.clip_id(d)) for (d, s), k in zip(best, keys, strict=True)]

    def clip_ids(self, docs: Iterable[int]) -> list[str]:
        clip_id = self._snap.clip_id
        return [clip_id(d) for d in docs]

    def sort_values(self, docs: list[int], sort: str) -> list[tuple[bool, int]]:
        return self._snap.sort_values(docs, sort)

    # -- filters and facets (values as this shard spells them)
    def docs_between(self, since: datetime | None, until: datetime | None) -> set[int]:
        return set(self._snap.docs_between(since, until))

    def day_counts(self, docs: Collection[int]) -> tuple[Counter[int], int]:
        return self._snap.day_counts(docs)

    def facet_values(self, field: str) -> tuple[str, ...]:
        return self._snap.facet_values(field)

    def docs_with_values(self, field: str, values: Iterable[str]) -> set[int]:
        return set(self._snap.docs_with_values(field, values))

    def facet_counts(self, field: str, docs: Collection[int]) -> Counter[str]:
        return self._snap.facet_counts(field, docs)

    # -- stored fields
    def stored(self, docs: list[int]) -> list[dict[str, Any]]:
        stored = self._snap.stored
        return [stored(d) for d in docs]

    def docnum_of(self, clip_id: str) -> int | None:
        return self._snap.docnum_of(clip_id)

    def fetch(
        self, docs: list[int], id_docs: list[int]
    ) -> tuple[list[dict[str, Any]], list[str]]:
        """The stored fields of a page's documents and the clip ids of others (their
        stories' first copies): the last question of a phased search."""
        return self.stored(docs), self.clip_ids(id_docs)

    # -- stories (grouped over all shards: shard_stories.py)
    def commit_key(self) -> tuple[int, int]:
        """This shard's commit generation and document count."""
        return self._snap.commit_key()

    def story_rows(self) -> tuple[int, int, Any]:
        """The commit key and this shard's grouping rows, for grouping all shards."""
        return self._snap.story_rows()

    def published(self) -> list[int | None]:
        return list(self._snap.published())

    def published_ats(self, docs: list[int]) -> list[datetime | None]:
        published_at = self._snap.published_at
        return [published_at(d) for d in docs]

    def facet_values_of(self, field: str, docs: list[int]) -> list[tuple[str, ...]]:
        values_of = self._snap.facet_values_of
        return [values_of(field, d) for d in docs]

    # -- saved searches
    def fingerprints(self) -> Sequence[str]:
        """Per document number, its content fingerprint (what a watch compares): one
        byte string, cheap to send."""
        return self._snap.fingerprints()


class MergedTerms(Terms):
    """The terms of several shards as one index's `Terms`: what the query parser
    reads for prefixes, facet spellings and the languages a query is analysed in (the
    merged languages, most clips first; an analysis is searched when every token of
    it occurs in some shard, as one index decides).  Each field's list is fetched once."""

    def __init__(
        self,
        field_terms: Callable[[str], list[list[str]]],
        prefix_terms: Callable[[str, str], list[list[str]]],
        languages: Callable[[], Sequence[str]] | None = None,
        occurring: Callable[[list[str]], set[str]] | None = None,
    ):
        super().__init__(None, make_schema(), languages)
        self._field_terms, self._prefix_terms = field_terms, prefix_terms
        self._occurring = occurring or (lambda tokens: set(tokens))
        self._fields: dict[str, list[str]] = {}

    def occurring(self, tokens: Iterable[str]) -> set[str]:
        return self._occurring(sorted(set(tokens)))

    def field_terms(self, field: str) -> list[str]:
        if field not in self._fields:
            self._fields[field] = _merged(self._field_terms(field))
        return self._fields[field]

    def expand_prefix(self, field: str, prefix: str) -> Iterator[bytes]:
        for term in _merged(self._prefix_terms(field, prefix)):
            yield term.encode("utf-8")


def _merged(lists: list[list[str]]) -> list[str]:
    """Sorted lists merged into one sorted list without repeats (byte order of UTF-8
    is code point order, so str order is the lexicon's)."""
    out: list[str] = []
    for term in heapq.merge(*lists):
        if not out or out[-1] != term:
            out.append(term)
    return out


def merged_parser(terms: MergedTerms) -> Parser:
    """The query parser of a sharded index: prefixes and facet spellings over all shards."""
    return Parser(make_schema(), terms)  # type: ignore[arg-type]


def query_terms(compiled: Compiled) -> frozenset[str]:
    """The analysed words a query searches in text fields (what snippets mark)."""
    return frozenset(t for f, t in compiled.q.iter_all_terms() if f in TEXT_FIELDS)
