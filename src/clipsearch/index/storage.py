"""The index folder: creating, opening and checking it, the vocabulary kept beside it,
and turning Whoosh's failures on damaged files into one clear error."""

from __future__ import annotations

import functools
import json
import os
import shutil
from typing import Any

from whoosh import index

from clipsearch.errors import (
    ClipsearchError,
    IndexIncompatibleError,
    IndexMissingError,
)
from clipsearch.index.schema import INDEX_NAME, META_FILE, SCHEMA_VERSION, _schema


def check(path: str) -> None:
    """Raise unless `path` holds an index this version can read and write."""
    _open(path)


def exists(path: str) -> bool:
    """True when `path` holds a clipsearch index (of any version)."""
    return os.path.exists(os.path.join(path, META_FILE))


def create(path: str) -> None:
    """Create an empty index at `path`, replacing any index already there."""
    if (
        os.path.isdir(path)
        and os.listdir(path)
        and not exists(path)
        and not index.exists_in(path, INDEX_NAME)
    ):
        raise IndexIncompatibleError(
            f"{path}: the folder is not empty and holds no clipsearch index; "
            "refusing to overwrite it (choose another --index folder)"
        )
    try:
        if os.path.isdir(path):
            shutil.rmtree(path)
        os.makedirs(path, exist_ok=True)
        index.create_in(path, _schema(), indexname=INDEX_NAME)
        tmp = os.path.join(path, META_FILE + ".tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump({"schema_version": SCHEMA_VERSION, "engine": "whoosh-2.7"}, fh)
        os.replace(tmp, os.path.join(path, META_FILE))
    except OSError as exc:
        raise IndexIncompatibleError(
            f"{path}: cannot create an index there ({exc.strerror or exc})"
        ) from None


def _rebuild_hint(path: str) -> str:
    return f"rebuild it with `clipsearch index --rebuild --index {path} PATH...`"


def _damaged(path: str, exc: BaseException) -> IndexIncompatibleError:
    detail = f"{type(exc).__name__}: {exc}".splitlines()[0][:120]
    return IndexIncompatibleError(f"{path}: the index is damaged ({detail}); {_rebuild_hint(path)}")


def _guarded(method: Any) -> Any:
    """Turn whatever Whoosh raises on missing or truncated index files into one
    IndexIncompatibleError that says how to rebuild."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except (ClipsearchError, KeyboardInterrupt):
            raise
        except Exception as exc:
            raise _damaged(self.path, exc) from None

    return wrapper


def _open(path: str, check_segments: bool = True) -> Any:
    rebuild = _rebuild_hint(path)
    if not exists(path):
        raise IndexMissingError(
            f"{path}: no clipsearch index here; build one with `clipsearch index PATH...`"
        )
    try:
        with open(os.path.join(path, META_FILE), encoding="utf-8") as fh:
            version = json.load(fh).get("schema_version")
    except (OSError, ValueError, AttributeError):
        raise IndexIncompatibleError(f"{path}: {META_FILE} is unreadable; {rebuild}") from None
    if version != SCHEMA_VERSION:
        raise IndexIncompatibleError(
            f"{path}: index schema version {version!r}, this clipsearch needs {SCHEMA_VERSION}; "
            + rebuild
        )
    try:
        ix = index.open_dir(path, indexname=INDEX_NAME)
        if check_segments:  # opening a reader opens every segment: missing files show now
            ix.reader().close()
        return ix
    except Exception as exc:  # Whoosh raises many kinds for a damaged folder
        raise _damaged(path, exc) from None


VOCAB_FILE = "vocabulary.json"


def _read_vocabulary(path: str, generation: int | None) -> dict[str, int] | None:
    """The surface vocabulary saved with commit `generation`; None when missing or from
    another commit.  It is a superset: words of deleted clips stay until a rebuild,
    and the query layer checks a correction against the live index before using it."""
    try:
        with open(os.path.join(path, VOCAB_FILE), encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return None
    if generation is not None and data.get("generation") != generation:
        return None
    words = data.get("words")
    return words if isinstance(words, dict) else None


def _write_vocabulary(path: str, generation: int, words: dict[str, int]) -> None:
    tmp = os.path.join(path, VOCAB_FILE + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump({"generation": generation, "words": words}, fh, separators=(",", ":"))
    os.replace(tmp, os.path.join(path, VOCAB_FILE))


def _leaves(reader: Any) -> list[tuple[Any, int]]:
    """(segment reader, first docnum) of each non-empty segment.  Columns are read per
    segment: Whoosh's multi-segment column reader skips segments without values, and
    an index with no segments has no column readers at all."""
    return [(leaf, offset) for leaf, offset in reader.leaf_readers() if leaf.doc_count_all()]
