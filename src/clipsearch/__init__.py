"""clipsearch: fast, typo-tolerant, faceted full-text search for folders of news clips.

from clipsearch import open_index, update_index
update_index(["clips/"], "index/")
with open_index("index/") as idx:
    result = idx.search("facial recognition", topics=["AI"], limit=5)
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

from clipsearch.errors import (
    ClipsearchError,
    IndexIncompatibleError,
    IndexLockedError,
    IndexMissingError,
    QueryError,
    RequestError,
    StorageError,
)

if TYPE_CHECKING:
    from clipsearch.ingest.clip import Clip, ClipError, Related, read_clip
    from clipsearch.ingest.sync import Skipped, UpdateReport
    from clipsearch.ingest.update import update_index
    from clipsearch.paths import default_index_dir
    from clipsearch.search.engine import ClipIndex, open_index
    from clipsearch.search.request import SearchRequest
    from clipsearch.search.result import Hit, SearchResult

#: Public names and the module each lives in, imported on first use: a search never
#: pays for the YAML parser and the writer, an index run never for the web server.
_LAZY = {
    "Clip": "clipsearch.ingest.clip",
    "ClipError": "clipsearch.ingest.clip",
    "Related": "clipsearch.ingest.clip",
    "read_clip": "clipsearch.ingest.clip",
    "Skipped": "clipsearch.ingest.sync",
    "UpdateReport": "clipsearch.ingest.sync",
    "update_index": "clipsearch.ingest.update",
    "ClipIndex": "clipsearch.search.engine",
    "default_index_dir": "clipsearch.paths",
    "open_index": "clipsearch.search.engine",
    "SearchRequest": "clipsearch.search.request",
    "Hit": "clipsearch.search.result",
    "SearchResult": "clipsearch.search.result",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'clipsearch' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


__version__ = "0.1.0"

__all__ = [
    "Clip",
    "ClipError",
    "ClipIndex",
    "ClipsearchError",
    "Hit",
    "IndexIncompatibleError",
    "IndexLockedError",
    "IndexMissingError",
    "QueryError",
    "Related",
    "RequestError",
    "SearchRequest",
    "SearchResult",
    "Skipped",
    "StorageError",
    "UpdateReport",
    "default_index_dir",
    "open_index",
    "read_clip",
    "update_index",
]
