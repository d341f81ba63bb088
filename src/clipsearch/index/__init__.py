"""The index: the only part of clipsearch that imports Whoosh.

It owns the schema, the writer (locking, multi-process bulk builds), and a read-only
`Snapshot` of one commit, which the search engine drives through plain Python values
(sets of document numbers, per-document facet arrays, the word vocabulary, opaque
compiled queries): the Whoosh implementation of the engine's backend seam.
Swapping the engine means rewriting this package only.

    schema.py        fields and weights, the document made from a clip
    analysis.py      how text and query words are analysed, per language
    storage.py       the index folder: create, open, lock, vocabulary, damage
    writer.py        locked writes, bulk builds, incremental bookkeeping
    bulk.py          a fresh build's worker processes: read, analyse, write segments
    fresh_segment.py a bulk worker's new segment, its postings written from arrays
    snapshot.py      one commit opened for searching (the backend)
    columns.py       per-document arrays (numpy): facets, dates, quality, ids, live set
    postings.py      terms: analysis, a field's vocabulary, prefix expansion
    posting_arrays.py posting lists and field lengths of a commit as arrays
    segment_postings.py one segment's derived postings file (memory-mapped)
    derived.py       derived data beside each commit: columns, segment postings
    arrayfile.py     named numpy arrays in one file, atomic, memory-mapped
    pread.py         Whoosh's files of a commit read with os.pread, not memory-mapped
    docsets.py       match sets and score tables as numpy arrays
    stats.py         collection statistics BM25F scores with (summed over shards)
    compile.py       query syntax to what is searched
    proximity.py     NEAR/n and ONEAR/n: their syntax, span queries, compiled node
    scoring.py       match sets and BM25F over posting arrays, outside statistics
    signatures.py    near-duplicate signatures of clips (MinHash), content fingerprints
    grouping.py      which clips are copies of one story (banding, overlap, numbers)
    stories.py       signatures and story per document, written beside each commit
    shards.py        sharded folders: manifest, routing, one shard as a service
    shard_stories.py stories grouped over all shards at once, beside the manifest
    vocabulary.py    the surface vocabulary and its typo buckets, beside each commit
    whoosh_imports.py  Whoosh imported without what a search never uses
    whoosh_fixes.py  fixes to Whoosh 2.7 applied at import

What a search does not use (the writer, stories over shards) is imported on first
use of its name (PEP 562 `__getattr__` below), so `import clipsearch.index` stays
the cost of a search.
"""

from typing import Any

# isort: off
from clipsearch.index import whoosh_imports  # noqa: F401  (first: before any Whoosh import)
from clipsearch.index import whoosh_fixes  # noqa: F401  (patches Whoosh before any use)

# isort: on
from clipsearch.index.analysis import analyze_word, stem, text_analyzer
from clipsearch.index.compile import (
    Apart,
    Compiled,
    ParsedQuery,
    interpolated,
    stem_query,
    typed_word,
)
from clipsearch.index.schema import (
    FACET_FIELDS,
    MAX_EXPANSIONS,
    MAX_EXPANSIONS_PER_QUERY,
    MAX_WILDCARDS_PER_QUERY,
    TEXT_FIELDS,
)

# Indexes written before the package split pickled the facet field under this name.
from clipsearch.index.schema import FacetValuesField as _FacetValues  # noqa: F401
from clipsearch.index.shards import (
    MANIFEST_FILE,
    MAX_SHARDS,
    Manifest,
    MergedTerms,
    ShardService,
    is_sharded,
    merged_parser,
    query_terms,
    read_manifest,
    shard_name,
    shard_of,
    write_manifest,
)
from clipsearch.index.snapshot import Snapshot
from clipsearch.index.stats import QueryStats
from clipsearch.index.storage import check, exists, foreign_entries, remove_index, write_lock
from clipsearch.index.stories import DEFAULT_WINDOW_DAYS as DEFAULT_STORY_WINDOW
from clipsearch.index.stories import check_window as check_story_window

#: name -> (module, name there) of what is imported on first use.
_LATER = {
    "group_shard_stories": ("shard_stories", "group"),
    "load_shard_stories": ("shard_stories", "load"),
    "shard_story_window": ("shard_stories", "window"),
    "write_shard_stories": ("shard_stories", "write"),
    "IndexedFile": ("writer", "IndexedFile"),
    "Writer": ("writer", "Writer"),
    "indexed_files": ("writer", "indexed_files"),
    "stored_stat": ("writer", "stored_stat"),
}


def __getattr__(name: str) -> Any:
    """The writer's and the sharded stories' names, imported on first use."""
    if name not in _LATER:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, attr = _LATER[name]
    if module == "writer":
        from clipsearch.index import writer as found
    else:
        from clipsearch.index import shard_stories as found
    value = getattr(found, attr)
    globals()[name] = value
    return value

__all__ = [
    "group_shard_stories",
    "load_shard_stories",
    "shard_story_window",
    "write_shard_stories",
    "Apart",
    "DEFAULT_STORY_WINDOW",
    "FACET_FIELDS",
    "MAX_EXPANSIONS",
    "MAX_EXPANSIONS_PER_QUERY",
    "MAX_WILDCARDS_PER_QUERY",
    "TEXT_FIELDS",
    "Compiled",
    "IndexedFile",
    "MANIFEST_FILE",
    "MAX_SHARDS",
    "Manifest",
    "MergedTerms",
    "ShardService",
    "ParsedQuery",
    "QueryStats",
    "Snapshot",
    "Writer",
    "analyze_word",
    "check",
    "check_story_window",
    "foreign_entries",
    "remove_index",
    "write_lock",
    "exists",
    "indexed_files",
    "is_sharded",
    "merged_parser",
    "query_terms",
    "read_manifest",
    "shard_name",
    "shard_of",
    "write_manifest",
    "interpolated",
    "stem",
    "stem_query",
    "stored_stat",
    "text_analyzer",
    "typed_word",
]
