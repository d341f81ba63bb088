"""The index folder: creating, opening and checking it, the vocabulary kept beside it,
and turning Whoosh's failures on damaged files into one clear error."""

from __future__ import annotations

import errno
import functools
import json
import os
import re
import shutil
from collections.abc import Mapping
from typing import Any

from whoosh import index
from whoosh.filedb.filestore import FileStorage

from clipsearch.errors import (
    ClipsearchError,
    IndexIncompatibleError,
    IndexMissingError,
    StorageError,
)
from clipsearch.index import vocabulary
from clipsearch.index.pread import PreadStorage
from clipsearch.index.schema import INDEX_NAME, META_FILE, SCHEMA_VERSION, make_schema


def check(path: str) -> None:
    """Raise unless `path` holds an index this version can read and write."""
    open_whoosh(path).close()


def exists(path: str) -> bool:
    """True when `path` holds a clipsearch index (of any version).  The marker file is
    written after the first commit, so an interrupted first build is no index."""
    return os.path.exists(os.path.join(path, META_FILE))


def compatible(path: str) -> bool:
    """True when `path` holds an index this version can write to."""
    try:
        open_whoosh(path).close()
    except IndexIncompatibleError:
        return False
    return True


LOCK_NAME = "WRITELOCK"
#: Every name clipsearch and Whoosh write inside an index folder: the commit
#: files (and the `_clips_<gen>.toc.<time>` Whoosh writes each one as first),
#: segment files, the lock, our two JSON files, temporary files and the pool's
#: temporary folders; in a sharded folder, its manifest and shard folders.  Anything
#: else belongs to the user.
_OWN_NAME = re.compile(
    rf"^(?:_{INDEX_NAME}_\d+\.toc(?:\.\d+(?:\.\d+)?)?|{INDEX_NAME}_[0-9a-z]{{16}}\.[a-z0-9_.]+"
    rf"|{INDEX_NAME}_{LOCK_NAME}|{re.escape(META_FILE)}(?:\.tmp)?"
    r"|shards\.json(?:\.tmp)?|shard-\d{2,4}"
    rf"|vocabulary\.(?:json|bin)(?:\.tmp)?|derived\.bin(?:\.tmp)?|{INDEX_NAME}\.tmp|[0-9a-z]{{28}}\.(?:tmp|run|ctmp)"
    rf"|(?:signatures|stories)\.bin(?:\.tmp)?|(?:stories|watches)\.json(?:\.tmp)?|watches\.lock)$"
)
#: The saved searches beside an index (watch.py): kept when its data is replaced.
SAVED_SEARCHES = frozenset({"watches.json", "watches.lock"})
#: What a rebuild keeps: the index's options and its saved searches, not its data.
KEPT_ON_REBUILD = frozenset({"stories.json"}) | SAVED_SEARCHES


def foreign_entries(path: str) -> list[str]:
    """Names in the folder `path` that clipsearch did not write (sorted)."""
    try:
        names = os.listdir(path)
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise StorageError(path, exc) from None
    return sorted(n for n in names if not _OWN_NAME.match(n))


def refuse_foreign(path: str) -> None:
    """Raise when the folder `path` holds files clipsearch did not write."""
    foreign = foreign_entries(path)
    if foreign:
        shown = ", ".join(repr(n) for n in foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        raise IndexIncompatibleError(
            f"{path}: the folder is not empty: it holds files clipsearch did not write ({shown}); "
            "refusing to create an index there (choose an empty or new folder)"
        )


def check_before_locking(path: str, rebuild: bool) -> None:
    """Refuse a folder of user files that is no usable index before the lock file is
    written into it: a refused command must leave the user's folder as it was.
    (Checked again under the lock; this only refuses earlier.)"""
    if not os.path.isdir(path) or not foreign_entries(path):
        return
    if not exists(path):
        refuse_foreign(path)
    try:
        open_whoosh(path, check_segments=False)
    except IndexIncompatibleError:
        if rebuild:  # a rebuild would create the index anew: refused in this folder
            refuse_foreign(path)
        raise


def write_lock(path: str) -> Any:
    """The index's write lock (Whoosh's own lock file), usable before the index exists,
    so that the first build is serialised like every later one."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise IndexIncompatibleError(f"{path}: not a folder; an index is a folder")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as exc:
        detail = f"cannot create the index folder ({exc.strerror or exc})"
        raise StorageError(path, detail) from None
    return FileStorage(path).lock(f"{INDEX_NAME}_{LOCK_NAME}")


def create(path: str) -> Any:
    """Start an empty index at `path` and return it (call with the write lock held).

    Removes only what clipsearch wrote there and refuses a folder holding anything
    else: a rebuild must never delete a user's files.  The marker file that makes
    the folder an index is written by the first commit (`mark_ready`)."""
    refuse_foreign(path)
    try:
        meta = os.path.join(path, META_FILE)
        if os.path.exists(meta):  # first: an interrupted rebuild must not look like an index
            os.remove(meta)
        lock_file = f"{INDEX_NAME}_{LOCK_NAME}"
        for name in os.listdir(path):
            if name == lock_file or name in KEPT_ON_REBUILD:
                continue
            full = os.path.join(path, name)
            if os.path.isdir(full) and not os.path.islink(full):
                shutil.rmtree(full)
            else:
                os.remove(full)
        return index.create_in(path, make_schema(), indexname=INDEX_NAME)
    except OSError as exc:
        raise StorageError(path, f"cannot create an index there ({exc.strerror or exc})") from None


def remove_index(path: str, keep_lock: bool = False) -> None:
    """Delete an index folder's files (refusing one that holds anything clipsearch
    did not write): a shard dropped by resharding, or an index turned into shards.
    With `keep_lock` the folder, its lock file and its saved searches stay (the caller
    holds the lock and turns the folder into shards)."""
    if not os.path.isdir(path):
        return
    refuse_foreign(path)
    lock_file = f"{INDEX_NAME}_{LOCK_NAME}"
    try:
        meta = os.path.join(path, META_FILE)
        if os.path.exists(meta):  # first: a half-removed folder must not look like an index
            os.remove(meta)
        for name in os.listdir(path):
            full = os.path.join(path, name)
            if keep_lock and (name == lock_file or name in SAVED_SEARCHES):
                continue
            if os.path.isdir(full) and not os.path.islink(full):
                shutil.rmtree(full)
            else:
                os.remove(full)
        if not keep_lock:
            os.rmdir(path)
    except OSError as exc:
        raise StorageError(path, f"cannot remove the index ({exc.strerror or exc})") from None


def mark_ready(path: str) -> None:
    """Write the marker file that makes `path` an index of this schema version."""
    tmp = os.path.join(path, META_FILE + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump({"schema_version": SCHEMA_VERSION, "engine": "whoosh-2.7"}, fh)
    os.replace(tmp, os.path.join(path, META_FILE))


REBUILD_HINT = "rebuild it from its clips"


def damaged(path: str, exc: BaseException) -> IndexIncompatibleError:
    detail = f"{type(exc).__name__}: {exc}".splitlines()[0][:120]
    return IndexIncompatibleError(
        f"{path}: the index is damaged ({detail}); {REBUILD_HINT}", rebuild=True, path=path
    )


def guarded(method: Any) -> Any:
    """Turn whatever Whoosh raises on missing or truncated index files into one
    IndexIncompatibleError that says how to rebuild, and what the machine refuses
    (a full disk, a read-only folder) into a StorageError."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except (ClipsearchError, KeyboardInterrupt):
            raise
        except OSError as exc:
            if exc.errno in _DAMAGE_ERRNOS:
                raise damaged(self.path, exc) from None
            raise StorageError(self.path, exc) from None
        except Exception as exc:
            raise damaged(self.path, exc) from None

    return wrapper


#: OSErrors that mean files of the index are missing, not that the machine refused.
_DAMAGE_ERRNOS = frozenset({errno.ENOENT, errno.ENOTDIR, errno.EISDIR})


def open_whoosh(path: str, check_segments: bool = True) -> Any:
    """The index at `path`, checked: a clear error when it is missing, of another
    schema version or damaged.  With `check_segments` (for reading) every segment of
    its newest commit is opened now, and the index is that commit (`_Commit`);
    without, it is Whoosh's own, which follows later commits (for writing)."""
    rebuild = REBUILD_HINT
    if not exists(path):
        if os.path.isdir(path) and any(_OWN_NAME.match(n) for n in os.listdir(path)):
            raise IndexMissingError(
                f"{path}: the first build of this index did not finish (interrupted, or the "
                "disk filled up); index the clips again",
                path=path,
            )
        raise IndexMissingError(
            f"{path}: no clipsearch index here; build one by indexing clips into it",
            path=path,
        )
    try:
        with open(os.path.join(path, META_FILE), encoding="utf-8") as fh:
            version = json.load(fh).get("schema_version")
    except (OSError, ValueError, AttributeError):
        raise IndexIncompatibleError(
            f"{path}: {META_FILE} is unreadable; {rebuild}", rebuild=True, path=path
        ) from None
    if version != SCHEMA_VERSION:
        raise IndexIncompatibleError(
            f"{path}: index schema version {version!r}, this clipsearch needs {SCHEMA_VERSION}; "
            + rebuild,
            rebuild=True,
            path=path,
        )
    try:
        return _open_latest(path, check_segments)
    except OSError as exc:
        if exc.errno in _DAMAGE_ERRNOS:
            raise damaged(path, exc) from None
        raise StorageError(path, exc) from None
    except Exception as exc:  # Whoosh raises many kinds for a damaged folder
        raise damaged(path, exc) from None


#: Attempts at opening the newest commit while other commits replace it.
_OPEN_ATTEMPTS = 20


def _open_latest(path: str, check_segments: bool) -> Any:
    """The newest commit, opened.  A commit writes its table of contents before it
    deletes the files of the one it replaces, so a file that vanished while this
    opened an older commit means a newer one is in place: open that one instead."""
    for attempt in range(_OPEN_ATTEMPTS):
        generation = latest_generation(path)
        try:
            if not check_segments:
                return index.open_dir(path, indexname=INDEX_NAME)
            commit = PreadStorage(path).open_index(INDEX_NAME, indexclass=_Commit)
            commit.open_segments()  # missing files show now
            return commit
        except FileNotFoundError:
            if attempt + 1 == _OPEN_ATTEMPTS or latest_generation(path) == generation:
                raise
    raise AssertionError("unreachable")


class _Commit(index.FileIndex):
    """One commit of an index folder, opened for reading.

    Whoosh's index object reads the newest table of contents again, unpickling the
    schema in it, at every `.schema`, `.reader()` and `.searcher()`: opening a
    search read it four times and opened every segment twice (once to check that
    its files are there).  This one reads the commit's table of contents once, and
    the reader that opened its segments is the one the next `reader()` (or
    `searcher()`) hands out; `close()` closes it if nobody took it.  It never
    writes: a writer needs the newest commit, read under the lock.  Its files are
    read with positioned reads, not memory-mapped (pread.py): a long-lived search
    process keeps none of them resident."""

    def __init__(self, storage: Any, schema: Any = None, indexname: str = INDEX_NAME):
        # As FileIndex.__init__, which reads the table of contents and drops it.
        self.storage, self._schema, self.indexname = storage, schema, indexname
        self._toc = index.TOC.read(storage, indexname, schema=schema)
        self._opened: Any = None

    def _read_toc(self) -> Any:
        return self._toc

    def open_segments(self) -> None:
        """Open a reader of every segment now, for the next `reader()` call."""
        self.close()
        self._opened = self.reader()

    def reader(self, reuse: Any = None) -> Any:
        opened, self._opened = self._opened, None
        if opened is not None and reuse is None:
            return opened
        if opened is not None:
            opened.close()
        toc = self._toc  # Whoosh's reader() retries on the newest commit: not this one
        return self._reader(self.storage, toc.schema, list(toc.segments), toc.generation, reuse)

    def writer(self, **kwargs: Any) -> Any:
        raise TypeError("an index commit opened for reading cannot be written")

    def close(self) -> None:
        opened, self._opened = self._opened, None
        if opened is not None:
            opened.close()


_TOC_NAME = re.compile(rf"^_{INDEX_NAME}_(\d+)\.toc$")


def latest_generation(path: str) -> int | None:
    """The generation of the newest commit in the folder (from Whoosh's TOC file
    names, as Whoosh finds it), None when there is none."""
    try:
        gens = [int(m.group(1)) for n in os.listdir(path) if (m := _TOC_NAME.match(n))]
    except OSError:
        return None
    return max(gens, default=None)


def read_vocabulary(path: str, generation: int | None) -> Mapping[str, int] | None:
    """The surface vocabulary saved with commit `generation` (None: the newest commit
    in the folder): the stored file (index/vocabulary.py), else the JSON file older
    versions wrote; None when neither describes that commit.  It is a superset: words
    of deleted clips stay until a rebuild, and the query layer checks a correction
    against the live index before using it.

    A search (`generation` None) never goes without one: when no file describes the
    commit (the writer was killed between its commit and this file, or the file is
    damaged), the vocabulary is rebuilt here from the stored fields, and the next
    index run writes it again."""
    searching = generation is None
    if searching:
        generation = latest_generation(path)
        if generation is None:
            return None
    words = vocabulary.load(path, generation) or vocabulary.load_legacy(path, generation)
    if words is None and searching:
        with open_whoosh(path).reader() as reader:  # read, not mapped into a search
            words = vocabulary.from_stored_fields(reader)
    return words


def write_vocabulary(path: str, generation: int, doc_count_all: int, words: dict[str, int]) -> None:
    """Write the vocabulary of commit `generation` (with its typo buckets) beside it."""
    vocabulary.write(path, generation, doc_count_all, words)
    vocabulary.remove_legacy(path)


def leaves(reader: Any) -> list[tuple[Any, int]]:
    """(segment reader, first docnum) of each non-empty segment.  Columns are read per
    segment: Whoosh's multi-segment column reader skips segments without values, and
    an index with no segments has no column readers at all."""
    return [(leaf, offset) for leaf, offset in reader.leaf_readers() if leaf.doc_count_all()]


def column_values(leaf: Any, name: str) -> Any:
    """Every value of one segment's column, read in one pass (indexing Whoosh's
    column reader per document costs three calls a value); the reader itself when
    the pass does not give one value per document."""
    col = leaf.column_reader(name)
    values = list(col)
    return values if len(values) == leaf.doc_count_all() else col


def text_column_values(leaf: Any, name: str) -> list[str]:
    """Every value of a segment's text column (path, stat, id) as text, from one read
    of the column's bytes: Whoosh's reader reads (and translates) value by value, a
    `pread` each, most of an unchanged run's look at the index and of reading the
    stories' rows.  Checked against Whoosh's own reading of the first and last value;
    else read Whoosh's way."""
    col = leaf.column_reader(name)
    raw = col.raw_column() if hasattr(col, "raw_column") else col
    lengths, dbfile = getattr(raw, "_lengths", None), getattr(raw, "_dbfile", None)
    base, n = getattr(raw, "_basepos", None), leaf.doc_count_all()
    if lengths is not None and dbfile is not None and base is not None and len(lengths) == n:
        try:
            blob = bytes(dbfile.get(base, sum(lengths)))
            values, at = [], 0
            for size in lengths:  # as Whoosh's reader iterates: one value after another
                values.append(blob[at : at + size].decode("utf-8"))
                at += size
        except (OSError, ValueError, TypeError):
            values = []
        if values and all(_as_text(col[d]) == values[d] for d in (0, n - 1)):
            return values
    got = column_values(leaf, name)
    if not isinstance(got, list):  # not a value per document: read each by number
        got = [col[d] for d in range(n)]
    return [_as_text(v) for v in got]


def _as_text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value
