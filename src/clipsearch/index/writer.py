"""Writing: a locked session that adds and deletes clips and commits atomically."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from whoosh import writing
from whoosh.util.filelock import try_for

from clipsearch.clip import Clip
from clipsearch.errors import (
    IndexLockedError,
)
from clipsearch.index.schema import _WORD_RE, TEXT_FIELDS, _document, surface_words
from clipsearch.index.storage import _guarded, _leaves, _open, _read_vocabulary, _write_vocabulary


@dataclass(frozen=True, slots=True)
class IndexedFile:
    """What the index remembers of one clip file, to skip it when unchanged."""

    path: str
    stat: str
    id: str


class Writer:
    """A write session holding the index's lock from the first look to the commit, so
    the work decided from `files()` is still right when it is written.

    `begin(bulk=True)` uses Whoosh's multi-process writer with one segment per process
    (2.6x faster here than one process); small updates use one process and Whoosh's
    merge policy, so incremental runs do not pile up segments."""

    def __init__(self, path: str, lock_timeout: float = 30.0):
        self._ix = _open(path, check_segments=False)  # a rebuild never reads old segments
        self.path = path
        self._lock = self._ix.lock("WRITELOCK")
        if not try_for(self._lock.acquire, max(lock_timeout, 0.0), delay=0.1):
            raise IndexLockedError(
                f"{path}: another clipsearch process is writing this index "
                f"(waited {lock_timeout:g} s; raise --lock-timeout or try again later)"
            )
        self._w: Any = None
        self._done = False
        self._new_words: Counter[str] = Counter()
        self._vocab: dict[str, int] | None = None
        try:
            self._vocab = _read_vocabulary(path, self._ix.latest_generation())
        except BaseException:
            self._release()
            raise

    @_guarded
    def files(self) -> dict[str, IndexedFile]:
        """Every indexed clip file, from the index's columns (no stored fields read)."""
        with self._ix.reader() as reader:
            return {f.path: f for f in _indexed_files(reader)}

    def begin(self, bulk: bool = False, procs: int = 0) -> None:
        procs = procs or min(os.cpu_count() or 1, 4)
        kwargs: dict[str, Any] = {"limitmb": 256, "_lk": False}
        if bulk and procs > 1:
            # Sub-writers get their own arguments: they never lock (the parent does).
            kwargs.update(procs=procs, multisegment=True, batchsize=256, subargs={"limitmb": 256})
        self._w = self._ix.writer(**kwargs)

    def _writer(self) -> Any:
        if self._w is None:
            self.begin()
        return self._w

    @_guarded
    def add(self, clip: Clip, stat: str, replace: bool = True) -> None:
        """Index a clip; `replace` first deletes any older copy with its id (not needed
        in a rebuild, whose commit drops every older segment without reading them)."""
        doc = _document(clip, stat)
        if replace:
            self._writer().update_document(**doc)
        else:
            self._writer().add_document(**doc)
        self._new_words.update(surface_words(clip))

    @_guarded
    def delete_path(self, path: str) -> None:
        self._writer().delete_by_term("path", path)

    def commit(self, replace_all: bool = False) -> None:
        """Make the changes visible atomically; `replace_all` drops every older document."""
        try:
            if replace_all:
                self._writer().commit(mergetype=writing.CLEAR)
            elif self._w is not None:
                self._w.commit()
            vocab = {} if replace_all else self._vocab
            if vocab is None:  # stale or missing: an earlier run died after its commit
                vocab = self._vocabulary_from_stored_fields()
            for word, n in self._new_words.items():
                vocab[word] = vocab.get(word, 0) + n
            _write_vocabulary(self.path, self._ix.latest_generation(), vocab)
        finally:
            self._release()

    def _vocabulary_from_stored_fields(self) -> dict[str, int]:
        counts: Counter[str] = Counter()
        with self._ix.reader() as reader:
            for _docnum, stored in reader.iter_docs():
                text = "\n".join(stored.get(f) or "" for f in TEXT_FIELDS).lower()
                counts.update(set(_WORD_RE.findall(text)))
        return dict(counts)

    def cancel(self) -> None:
        try:
            if self._w is not None and not self._done:
                self._w.cancel()
        finally:
            self._release()

    def _release(self) -> None:
        if not self._done:
            self._done = True
            self._lock.release()

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.cancel()


def _indexed_files(reader: Any) -> Iterator[IndexedFile]:
    for leaf, _offset in _leaves(reader):
        paths = leaf.column_reader("path")
        stats = leaf.column_reader("stat")
        ids = leaf.column_reader("id")
        for docnum in leaf.all_doc_ids():
            yield IndexedFile(paths[docnum], stats[docnum].decode("utf-8"), ids[docnum])


def duplicate_losers(path: str) -> list[tuple[str, str, str]]:
    """(id, losing path, winning path) for every id held by more than one file:
    the file that sorts last wins.  Used after a build and to heal an interrupted one."""
    ix = _open(path)
    with ix.reader() as reader:
        by_id: dict[str, list[str]] = {}
        for f in _indexed_files(reader):
            by_id.setdefault(f.id, []).append(f.path)
    out = []
    for clip_id, paths in by_id.items():
        if len(paths) > 1:
            paths.sort()
            out.extend((clip_id, loser, paths[-1]) for loser in paths[:-1])
    return out
