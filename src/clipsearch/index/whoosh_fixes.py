"""Fixes to Whoosh 2.7 behaviour that clipsearch depends on.  The reading fixes apply
at import; the multi-process writer's when a bulk write starts (`patch_bulk_writer`),
so a search never imports multiprocessing, ctypes or asyncio."""

from __future__ import annotations

import contextlib
import os
import signal
from dataclasses import dataclass
from typing import Any

from whoosh.codec import whoosh3
from whoosh.filedb import structfile

from clipsearch.errors import StorageError


class _ViewFile:
    """A read-only file over a memoryview, without copying it."""

    __slots__ = ("_buf", "_pos", "_len")

    def __init__(self, buf: memoryview):
        self._buf, self._pos, self._len = buf, 0, len(buf)

    def read(self, n: int | None = -1) -> bytes:
        pos = self._pos
        end = self._len if n is None or n < 0 else min(self._len, pos + n)
        self._pos = end
        return self._buf[pos:end].tobytes()

    def readline(self, size: int | None = -1) -> bytes:
        end = self._len if size is None or size < 0 else min(self._len, self._pos + size)
        chunk = self._buf[self._pos : end].tobytes()
        i = chunk.find(b"\n")
        line = chunk if i < 0 else chunk[: i + 1]
        self._pos += len(line)
        return line

    def seek(self, pos: int, whence: int = 0) -> int:
        base = (0, self._pos, self._len)[whence]
        self._pos = max(0, base + pos)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def close(self) -> None:
        self._buf = memoryview(b"")


@dataclass(frozen=True)
class _Failed:
    """What a worker process sends back instead of its segment when it fails."""

    detail: str


def _die_with_parent(parent_pid: int | None) -> None:
    """Make a worker process exit when its parent dies (kill -9, the OOM killer): it
    shares the parent's lock on the index and would otherwise keep it forever."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG (Linux)
    except (OSError, AttributeError):
        return
    if parent_pid is not None and os.getppid() != parent_pid:  # died before prctl
        os._exit(1)


def _patch_reading() -> None:
    """Two fixes to Whoosh 2.7's reading, applied once.

    A compound segment is memory-mapped, but Whoosh then copies each sub-file into a
    BytesIO: opening the 155k-clip index cost 935 MB.  Reading the map in place keeps
    it at tens of MB, and an open snapshot keeps reading its own commit after a
    later commit deletes the segment (the map outlives the file).

    While merging postings Whoosh re-checks the disk (a stat per posting) for the
    length column of every unscored field, because it does not cache a missing
    column; caching the answer cut commit time by a third."""
    if getattr(whoosh3.W3PerDocReader, "_clipsearch_patched", False):
        return

    def buffer_file_init(self: Any, buf: Any, name: str | None = None, onclose: Any = None):
        self._buf = buf
        self._name = name
        self.file = _ViewFile(memoryview(buf))
        self.onclose = onclose
        self.is_real = False
        self.is_closed = False

    structfile.BufferFile.__init__ = buffer_file_init

    cls = whoosh3.W3PerDocReader
    original = cls._cached_reader

    def cached_reader(self: Any, fieldname: str, column: Any) -> Any:
        try:
            return self._readers[fieldname]
        except KeyError:
            reader = self._readers[fieldname] = original(self, fieldname, column)
            return reader

    cls._cached_reader = cached_reader
    cls._clipsearch_patched = True


_patch_reading()


def patch_bulk_writer() -> None:
    """Fixes to Whoosh's multi-process writer, applied once before the first bulk
    write: workers ignore Ctrl-C (the parent cancels) and die with their parent, and
    cancelling terminates them (they would hold the inherited index lock forever)."""
    import queue

    from whoosh import multiproc, writing

    if getattr(multiproc.MpWriter, "_clipsearch_patched", False):
        return
    task_run = multiproc.SubWriterTask.run

    def sub_writer_run(self: Any) -> None:
        # Ctrl-C goes to the whole process group: the parent cancels the build, so
        # the workers ignore it instead of each printing a traceback.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        _die_with_parent(self._parent_pid)
        try:
            task_run(self)
        except BaseException as exc:  # noqa: BLE001 - told to the parent, which stops
            detail = (exc.strerror or str(exc)) if isinstance(exc, OSError) else repr(exc)
            with contextlib.suppress(Exception):
                self.resultqueue.put(_Failed(detail[:300]), timeout=5)
                self.resultqueue.close()
                self.resultqueue.join_thread()
            os._exit(1)

    multiproc.SubWriterTask.run = sub_writer_run
    whoosh_commit = multiproc.MpWriter._commit

    def mp_commit(self: Any, mergetype: Any, optimize: Any, merge: Any) -> None:
        # Whoosh's own commit waits a second for each worker's segment and commits
        # without the ones that did not come: a worker that died (a full disk, the
        # OOM killer) silently lost its clips.  Here a missing segment stops the
        # commit, and the writer removes what was written.
        if not self.multisegment:
            return whoosh_commit(self, mergetype, optimize, merge)
        if self.docbuffer:
            self._enqueue()
        for _task in self.tasks:
            self.jobqueue.put(None)
        finalsegments = self._merge_segments(mergetype, optimize, merge)
        results: list[Any] = []
        while len(results) < len(self.tasks):
            running = any(task.is_alive() for task in self.tasks)
            try:  # a worker that ended has flushed what it sent
                results.append(self.resultqueue.get(timeout=0.5 if running else 1))
            except queue.Empty:
                if not running:
                    break
        for task in self.tasks:
            task.join()
        failed = [r.detail for r in results if isinstance(r, _Failed)]
        if failed or len(results) != len(self.tasks) or any(t.exitcode for t in self.tasks):
            detail = failed[0] if failed else "a writer process ended without its segment"
            raise StorageError(self.storage.folder, f"writing the index failed: {detail}")
        finalsegments += [segment for _run, _names, segment in results]
        if self._added:
            finalsegments.append(self._finalize_segment())
        else:
            self._close_segment()
        self._commit_toc(finalsegments)
        self._finish()

    multiproc.MpWriter._commit = mp_commit

    def mp_cancel(self: Any) -> None:
        # Whoosh's cancel only flags its own copy of each task; the forked workers
        # would wait on the job queue forever, holding the inherited index lock.
        try:
            for task in self.tasks:
                if task.is_alive():
                    task.terminate()
                    task.join(5)
        finally:
            writing.SegmentWriter.cancel(self)

    multiproc.MpWriter.cancel = mp_cancel
    multiproc.MpWriter._clipsearch_patched = True


class _SegmentLengths:
    """A new segment's field lengths as lists, for writing its postings: Whoosh
    asks the length of every posting's document through its column reader (a
    name built, a column looked up, a byte decoded per posting: 8% of a bulk
    worker's time on 20,000 clips); each document's length is decoded once here."""

    def __init__(self, reader: Any, doc_count: int):
        self._reader, self._count = reader, doc_count
        self._lists: dict[str, list[int]] = {}

    def doc_field_length(self, docnum: int, fieldname: str, default: int = 0) -> int:
        try:
            return self._lists[fieldname][docnum]
        except KeyError:
            get = self._reader.doc_field_length
            self._lists[fieldname] = [get(d, fieldname, default) for d in range(self._count)]
            return self._lists[fieldname][docnum]


def patch_segment_flush() -> None:
    """Write a new segment's postings with its lengths decoded once per document
    (`_SegmentLengths`), applied once before the first write."""
    from whoosh import writing

    if getattr(writing.SegmentWriter, "_clipsearch_flush_patched", False):
        return

    def flush_segment(self: Any) -> None:
        self.perdocwriter.close()
        pdr = self.per_document_reader() if self.codec.length_stats else None
        lengths = _SegmentLengths(pdr, pdr.doc_count_all()) if pdr is not None else None
        self.fieldwriter.add_postings(self.schema, lengths, self.pool.iter_postings())
        self.fieldwriter.close()
        if pdr:
            pdr.close()

    writing.SegmentWriter._flush_segment = flush_segment
    writing.SegmentWriter._clipsearch_flush_patched = True

