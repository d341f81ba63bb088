"""Writing: a locked session that adds and deletes clips and commits atomically."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from collections import Counter
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, NamedTuple

from whoosh import index, writing
from whoosh.util.filelock import try_for

from clipsearch.errors import IndexLockedError, StorageError
from clipsearch.index import fresh_segment, signatures, stories, vocabulary
from clipsearch.index.schema import (
    INDEX_NAME,
    clip_words,
    document,
    stored_stat,  # noqa: F401  (re-exported)
)
from clipsearch.index.storage import (
    check_before_locking,
    compatible,
    create,
    exists,
    guarded,
    leaves,
    mark_ready,
    open_whoosh,
    read_vocabulary,
    text_column_values,
    write_lock,
    write_vocabulary,
)
from clipsearch.index.whoosh_fixes import patch_segment_flush, patch_text_indexing

if TYPE_CHECKING:  # the YAML parser is only needed to read clips, not to search
    from clipsearch.index.bulk import FileRead, ReadClip
    from clipsearch.ingest.clip import Clip

#: A table of contents Whoosh was writing (it renames it into place when complete).
_UNFINISHED_TOC = re.compile(rf"^_{INDEX_NAME}_\d+\.toc\..+$")
#: Clips whose signatures are computed together (one numpy batch of MinHashes).
SIGNATURE_BATCH = 512
#: For benchmarks/ only: set to 1, an index run neither signs clips nor groups
#: stories (a search then groups them itself), to time a build without grouping.
NO_STORIES_ENV = "CLIPSEARCH_BENCH_NO_STORIES"


class IndexedFile(NamedTuple):
    """What the index remembers of one clip file, to skip it when unchanged.
    `digest` is set when the file was modified too recently for its stat to be
    trusted ("racily clean", as git calls it): its content is compared instead.
    `via` is the root it was found under when a symlink led outside that root.
    A named tuple for the same reason as discover.Found (one per indexed file:
    Writer.files() at 155k clips 0.31-0.37 s -> 0.22-0.30 s)."""

    path: str
    stat: str
    id: str
    digest: str = ""
    via: str = ""


def _indexed_file(path: str, value: str, clip_id: str) -> IndexedFile:
    if value.count(":") == 1:  # most files: the stat alone
        return IndexedFile(path, value, clip_id)
    mtime, size, digest, via = (value.split(":", 3) + ["", "", ""])[:4]
    return IndexedFile(path, f"{mtime}:{size}", clip_id, digest, via)


class Writer:
    """A write session holding the index's lock from the first look to the commit, so
    the work decided from `files()` is still right when it is written.  The lock is
    taken before anything else, even before the index exists, so two first builds
    of one folder wait for each other like any two runs.

    `fresh` is True when this session starts from an empty index (a new folder, a
    rebuild): its commit replaces everything, and a new index becomes visible only
    then.  `begin(bulk=True)` uses Whoosh's multi-process writer (bulk.py), each process
    writing segments of its own; small updates use one process, the fresh segment
    writer when nothing is merged, and Whoosh's merge policy over the small segments
    (`merge_small_segments`), so incremental runs do not pile up segments."""

    def __init__(
        self,
        path: str,
        lock_timeout: float = 30.0,
        rebuild: bool = False,
        story_window: float | None = None,
    ):
        self.path = path
        #: Days between copies of one story (None: the index's recorded window).
        self.story_window = story_window
        check_before_locking(path, rebuild)
        self._lock = write_lock(path)
        try:
            acquired = try_for(self._lock.acquire, max(lock_timeout, 0.0), delay=0.1)
        except OSError as exc:
            raise StorageError(path, f"cannot lock the index ({exc.strerror or exc})") from None
        if not acquired:
            raise IndexLockedError(
                f"{path}: another clipsearch process is writing this index "
                f"(waited {lock_timeout:g} s for its write lock); try again later"
            )
        self._w: Any = None
        self._done = False
        self._done_writing = False
        self._later: list[str] = []
        self._dirty = False  # anything added or deleted in this session
        self._new_words: Counter[str] = Counter()
        self._signatures: dict[str, tuple] = {}  # path -> signature record (stories.py)
        self._unsigned: list[tuple[str, str, signatures.Texts]] = []  # (path, stat, texts)
        self._vocab: dict[str, int] | None = None
        #: The path and stat columns `files()` read, per segment (stories.Known).
        self._known: dict[str, tuple[list[str], list[str]]] = {}
        #: The starting commit's vocabulary file, whose buckets the new one keeps.
        self._old_words: vocabulary.Vocabulary | None = None
        self._stories = os.environ.get(NO_STORIES_ENV) != "1"
        #: (generation, documents, segments) of the commit this session started from.
        self._start: tuple[int, int, list[list[Any]]] | None = None
        try:
            self.created = not exists(path) or (rebuild and not compatible(path))
            self.fresh = rebuild or self.created
            if self.created:
                self._ix = create(path)
            else:
                self._ix = open_whoosh(path, check_segments=False)  # a rebuild never reads them
                words = read_vocabulary(path, self._ix.latest_generation())
                self._vocab = None if words is None else dict(words.items())
                if isinstance(words, vocabulary.Vocabulary):
                    self._old_words = words
                if not self.fresh:
                    self._start = _commit_of(self._ix.storage)
        except BaseException:
            self._release()
            raise

    @guarded
    def files(self) -> dict[str, IndexedFile]:
        """Every indexed clip file, from the index's columns (no stored fields read);
        nothing when the session starts from an empty index."""
        if self.fresh:
            return {}
        with self._ix.reader() as reader:
            return _indexed_files(reader, self._known)

    @guarded
    def begin(self, bulk: bool = False, read_clip: ReadClip | None = None) -> None:
        """Start writing; `bulk` with the multi-process writer (bulk.py) when there
        is more than one core.  `read_clip` (a bulk write): the workers read the clip
        files handed to them with `add_file` themselves."""
        procs = min(os.cpu_count() or 1, 4)
        patch_segment_flush()
        patch_text_indexing()
        if bulk and procs > 1:
            # Imported here: multiprocessing costs an update or a re-run its import.
            from clipsearch.index.bulk import BulkWriter

            # Sub-writers get their own arguments: they never lock (the parent does).
            self._w = BulkWriter(
                self._ix, read_clip=read_clip, sign=self._stories,
                procs=procs, batchsize=256, subargs={"limitmb": 256}, limitmb=256, _lk=False,
            )
        elif not bulk and fresh_segment.supported(self._ix.schema) and (
            self.fresh or not _merges_at_commit(self._ix)
        ):
            # A small write (or one core) that merges no segment: its postings are
            # few, held in arrays and written at once instead of posting by posting
            # through Whoosh's pool (most of a 200-clip update's commit).
            self._w = fresh_segment.FreshSegmentWriter(self._ix, limitmb=256, _lk=False)
        else:
            self._w = self._ix.writer(limitmb=256, _lk=False)

    @property
    def reads_files(self) -> bool:
        """Whether the clip files are read by the bulk writer's workers (`add_file`)."""
        return getattr(self._w, "read_clip", None) is not None  # only BulkWriter has it

    @guarded
    def add_file(self, path: str, stat: str, racy: bool = False, via: str = "") -> None:
        """Have a worker read and index a clip file (when `reads_files`); what it
        found comes from `files_read`."""
        from clipsearch.index.bulk import FileJob

        self._dirty = True
        self._w.add_file(FileJob(path, stat, racy, via))

    def files_read(self) -> Iterator[FileRead]:
        """What the workers read of each file given to `add_file`, in that order, as
        they read it (every parsable clip is already added; the caller drops a
        duplicate with `delete_after_commit`)."""
        try:
            yield from self._w.finish()
        except OSError as exc:
            raise StorageError(self.path, exc) from None
        self._new_words.update(self._w.words)
        self._signatures.update(self._w.records)

    def _writer(self) -> Any:
        if self._w is None:
            self.begin()
        return self._w

    @guarded
    def add(self, clip: Clip, stat: str, replace: bool = True) -> None:
        """Index a clip; `replace` first deletes the document of the same file.  Never
        by id: another file with the same id is a duplicate to report, not to drop."""
        self._dirty = True
        if replace and not self.fresh:
            self._writer().delete_by_term("path", clip.path)
        self._writer().add_document(**document(clip, stat))
        self._new_words.update(clip_words(clip))
        if not self._stories:
            return
        self._unsigned.append((clip.path, stat, signatures.clip_texts(clip)))
        if len(self._unsigned) >= SIGNATURE_BATCH:
            self._sign()

    def _sign(self) -> None:
        """Signatures of the clips added since the last batch (their MinHashes are
        computed together: signatures.minhashes)."""
        batch, self._unsigned = self._unsigned, []
        made = signatures.signatures([texts for _path, _stat, texts in batch])
        for (path, stat, _texts), sign in zip(batch, made, strict=True):
            self._signatures[path] = stories.record(stat, sign)

    @guarded
    def delete_path(self, path: str) -> None:
        self._dirty = True
        self._writer().delete_by_term("path", path)

    def delete_after_commit(self, path: str) -> None:
        """Delete the document of `path` added in this session: Whoosh can only delete
        committed documents, so this runs as a second commit, under the same lock."""
        self._later.append(path)

    @guarded
    def commit(self) -> None:
        """Make the changes visible atomically (a fresh session's replace everything)."""
        try:
            try:
                if not (self.fresh or self._dirty):
                    # Nothing added or deleted: no new commit.  A new generation would
                    # make every piece of derived data stale, rewritten for nothing.
                    self._abandon()
                elif self.fresh:
                    self._writer().commit(mergetype=writing.CLEAR)
                elif isinstance(self._w, fresh_segment.FreshSegmentWriter):
                    self._w.commit(merge=False)  # begin() found nothing to merge
                elif self._w is not None:
                    self._w.commit(mergetype=merge_small_segments)
            except BaseException:  # a failed or interrupted commit: leave no file of it
                self._abandon()
                raise
            self._done_writing = True
            if self._later:
                w = self._ix.writer(_lk=False)
                for path in self._later:
                    w.delete_by_term("path", path)
                # Deletions only: no segment rewritten (a merge would also drop the
                # deleted documents from the statistics, so the scores would depend
                # on how many segments the build happened to write).
                w.commit(merge=False)
            vocab = {} if self.fresh else self._vocab
            previous = None if self.fresh else self._old_words
            if not (self.fresh or self._dirty) and previous is not None:
                self._write_derived()  # the vocabulary is this commit's already
                return
            if vocab is None:  # stale or missing: an earlier run died after its commit
                vocab = self._vocabulary_from_stored_fields()
            for word, n in self._new_words.items():
                vocab[word] = vocab.get(word, 0) + n
            generation, docs = self._ix.latest_generation(), self._ix.doc_count_all()
            if previous is None:
                write_vocabulary(self.path, generation, docs, vocab)
            else:  # an update: the buckets of the words it adds are remade, no others
                vocabulary.write(self.path, generation, docs, vocab, previous=previous)
                vocabulary.remove_legacy(self.path)
            self._write_derived()
            if self.created:
                mark_ready(self.path)  # last: only a complete first build is an index
        finally:
            self._release()

    def _write_derived(self) -> None:
        """Derived data of the new commit, beside it (derived.py); a failure here
        (a full disk, or anything else: the commit is already made) loses nothing:
        searches read the index instead, and the next run writes it."""
        from clipsearch.index import derived  # numpy: only once something is committed

        with self._ix.reader() as reader, contextlib.suppress(Exception):
            generation = reader.generation()
            unchanged = not (self._dirty or self.fresh)
            columns = None
            if not unchanged or derived.load(
                self.path, generation, reader.doc_count_all(), derived.segment_list(reader)
            ) is None:
                columns = derived.write(
                    self.path, generation, reader, self._ix.schema, previous=self._start
                )
            # Derived data too: should it fail, a search computes the stories instead.
            if self._stories:
                with contextlib.suppress(Exception):
                    self._write_stories(reader, generation, unchanged, columns)

    def _write_stories(
        self, reader: Any, generation: int, unchanged: bool, columns: Any = None
    ) -> None:
        """Story grouping of the new commit (stories.py), with the window given to
        this session (then recorded) or the index's; `columns`, the commit's columns
        when derived.write just made them."""
        window = self.story_window
        if window is None:
            window = stories.window_days(self.path)
        elif window != stories.window_days(self.path):
            stories.save_window(self.path, window)
        if unchanged and stories.current(self.path, generation, reader.doc_count_all(), window):
            return
        self._sign()
        if columns is None:
            from clipsearch.index.columns import Columns

            columns = Columns(self.path, reader, self._ix.schema)
        stories.write(self.path, generation, reader, columns, self._signatures, window, self._known)

    def _vocabulary_from_stored_fields(self) -> dict[str, int]:
        with self._ix.reader() as reader:
            return vocabulary.from_stored_fields(reader)

    def cancel(self) -> None:
        """Drop what this session wrote: nothing of it is committed, and its segment
        files are removed (a `strict` stop leaves the folder as it was)."""
        try:
            if not self._done and not self._done_writing:
                self._abandon()
        finally:
            self._release()

    def _abandon(self) -> None:
        """Stop the Whoosh writer (its worker processes too) and remove every file it
        wrote that no commit names: segment files, job and run files."""
        if self._w is None:
            return
        with contextlib.suppress(Exception):  # it may have failed half-way already
            self._w.cancel()
        self._remove_uncommitted()

    def _remove_uncommitted(self) -> None:
        storage = self._ix.storage
        try:
            toc = index.TOC.read(storage, INDEX_NAME)
            index.clean_files(storage, INDEX_NAME, toc.generation, toc.segments)
        except Exception:  # noqa: BLE001 - best effort: the next commit cleans up too
            pass
        # Whoosh's temporary folder (job files, sorted runs) when its writer died
        # before removing it, and a table of contents it had not renamed into place
        # (`_clips_2.toc.<time>`).
        with contextlib.suppress(OSError):
            shutil.rmtree(os.path.join(self.path, f"{INDEX_NAME}.tmp"))
        with contextlib.suppress(OSError):
            for name in os.listdir(self.path):
                if _UNFINISHED_TOC.match(name):
                    with contextlib.suppress(OSError):
                        os.remove(os.path.join(self.path, name))

    def _release(self) -> None:
        if not self._done:
            self._done = True
            self._lock.release()

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.cancel()


def _commit_of(storage: Any) -> tuple[int, int, list[list[Any]]] | None:
    """(generation, document count, non-empty segments) of the newest commit, from its
    table of contents (no segment file opened): what derived.py checks the derived
    data it carries columns from against.  None when it cannot be read."""
    try:
        toc = index.TOC.read(storage, INDEX_NAME)
    except Exception:  # noqa: BLE001 - nothing is carried; opening reports the damage
        return None
    segments = [[s.segment_id(), s.doc_count_all()] for s in toc.segments if s.doc_count_all()]
    return toc.generation, sum(n for _seg, n in segments), segments


def _indexed_files(reader: Any, known: dict | None = None) -> dict[str, IndexedFile]:
    """Every document's file by path; `known` gets each segment's path and stat
    columns (stories.Known).  A segment without deletions is taken whole, its files
    made in one comprehension, not by a generator asking whether each document is
    deleted (the 153k files of an index 0.26 -> 0.22 s, the columns' reading included)."""
    out: dict[str, IndexedFile] = {}
    for leaf, _offset in leaves(reader):
        paths, stats, ids = (text_column_values(leaf, name) for name in ("path", "stat", "id"))
        if known is not None:
            known[leaf.segment().segment_id()] = (paths, stats)
        n = leaf.doc_count_all()
        whole = all(type(c) is list and len(c) == n for c in (paths, stats, ids))
        if whole and not leaf.has_deletions():
            files = map(_indexed_file, paths, stats, ids)
            out.update(zip(paths, files, strict=True))
            continue
        for docnum in leaf.all_doc_ids():
            f = _indexed_file(paths[docnum], stats[docnum], ids[docnum])
            out[f.path] = f
    return out


def indexed_files(path: str) -> dict[str, IndexedFile]:
    """Every clip file the index at `path` holds (read-only, no lock): what a sharded
    build reads of each shard to route unchanged files to the shard that has them.
    Nothing when there is no index yet."""
    if not exists(path):
        return {}
    ix = open_whoosh(path, check_segments=False)
    with ix.reader() as reader:
        return _indexed_files(reader)


#: Segments of at least this many documents are never merged by an update.
MERGE_CEILING_DOCS = 10_000


def merge_small_segments(writer: Any, segments: list[Any]) -> list[Any]:
    """The merge policy of an update: Whoosh's default (MERGE_SMALL) over the
    segments of fewer than MERGE_CEILING_DOCS documents only.  Whoosh's policy goes
    by counts alone: once an index has some 26 segments (a bulk build of about a
    million clips writes that many, a worker finishing one every 4M postings) it
    merges most of them into the next small update, through its per-posting pool."""
    small = [s for s in segments if s.doc_count_all() < MERGE_CEILING_DOCS]
    kept = {id(s) for s in writing.MERGE_SMALL(writer, small)}
    return [s for s in segments if s.doc_count_all() >= MERGE_CEILING_DOCS or id(s) in kept]


def _merges_at_commit(ix: Any) -> bool:
    """Whether the update's merge policy (`merge_small_segments`) would merge
    committed segments into the next commit: it looks at those segments only, which
    this session's lock keeps as they are, so asking it now (with a writer that
    only records what it is given) answers for the commit."""
    merged: list[Any] = []

    class Probe:
        storage, schema = ix.storage, ix.schema

        @staticmethod
        def add_reader(reader: Any) -> None:
            merged.append(reader)

    merge_small_segments(Probe, ix._segments())
    return bool(merged)
