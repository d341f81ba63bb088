"""clipsearch: fast, typo-tolerant, faceted full-text search for folders of news clips.

from clipsearch import open_index, update_index
update_index(["clips/"], "index/")
with open_index("index/") as idx:
    result = idx.search("facial recognition", topics=["AI"], limit=5)
"""

from clipsearch.errors import (
    ClipsearchError,
    IndexIncompatibleError,
    IndexLockedError,
    IndexMissingError,
    QueryError,
    RequestError,
    StorageError,
)
from clipsearch.ingest.clip import Clip, ClipError, Related, read_clip
from clipsearch.ingest.sync import Skipped, UpdateReport, update_index
from clipsearch.search.engine import ClipIndex, default_index_dir, open_index
from clipsearch.search.request import SearchRequest
from clipsearch.search.result import Hit, SearchResult

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
