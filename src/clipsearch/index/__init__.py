"""The index: the only part of clipsearch that imports Whoosh.

It owns the schema, the writer (locking, multi-process bulk builds), and a read-only
`Snapshot` of one commit that the query layer drives through plain Python values:
sets of document numbers, per-document facet arrays, the word vocabulary, and opaque
compiled queries.  Swapping the engine means rewriting this package only.

    schema.py        fields, analysis, the document made from a clip
    storage.py       the index folder: create, open, check, vocabulary, damage
    writer.py        locked writes, bulk builds, incremental bookkeeping
    snapshot.py      reading one commit: arrays, match sets, BM25F scores
    compile.py       user query syntax to what is searched
    whoosh_fixes.py  fixes to Whoosh 2.7 applied at import
"""

from clipsearch.index import whoosh_fixes  # noqa: F401  (patches Whoosh before any use)
from clipsearch.index.compile import Compiled, ParsedQuery, typed_word
from clipsearch.index.schema import (
    FACET_FIELDS,
    MAX_EXPANSIONS,
    MAX_EXPANSIONS_PER_QUERY,
    MAX_QUERY_CHARS,
    MAX_WILDCARDS_PER_QUERY,
    STOP_WORDS,
    TEXT_FIELDS,
    _stem,
    surface_words,
    text_analyzer,
)
from clipsearch.index.schema import FacetValuesField as _FacetValues  # pickled by old indexes
from clipsearch.index.snapshot import FacetColumn, Snapshot
from clipsearch.index.storage import check, exists
from clipsearch.index.writer import IndexedFile, Writer, stored_stat

__all__ = [
    "_FacetValues",
    "FACET_FIELDS",
    "MAX_EXPANSIONS",
    "MAX_EXPANSIONS_PER_QUERY",
    "MAX_QUERY_CHARS",
    "MAX_WILDCARDS_PER_QUERY",
    "STOP_WORDS",
    "TEXT_FIELDS",
    "Compiled",
    "FacetColumn",
    "IndexedFile",
    "ParsedQuery",
    "Snapshot",
    "Writer",
    "_stem",
    "check",
    "stored_stat",
    "exists",
    "surface_words",
    "text_analyzer",
    "typed_word",
]
