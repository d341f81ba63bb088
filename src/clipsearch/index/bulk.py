"""The bulk writer: Whoosh's multi-process writer with segments of their own per worker
process, made to use both cores from start to end of a build.

In a fresh build the workers read the clip files themselves: the parent hands out
batches of paths, and each worker parses its clips, analyses and writes them into
its segment, collects their surface words and signs them; it tells the parent what
each file was (its id, or why it could not be read), so the parent keeps one
document per id and reports every file as before.  Parsing in the parent, which
then pickled every document to a worker, kept one core busy with YAML and MinHashes
while the workers waited for work.  Other bulk writes (an update of many files, a
shard's build from clips its router already read) hand the workers documents.

A worker also writes its segment's derived postings (segment_postings.py) as it
finishes the segment (whoosh_fixes.patch_segment_flush), instead of the parent
reading both segments back one after the other after the commit.  Should the
commit not happen, those files are removed with the segment's own (they carry its
name).

Whoosh's own multi-process writer is fixed here too: workers ignore Ctrl-C (the
parent cancels) and die with their parent (they share its lock on the index),
cancelling terminates them, and a worker that failed or vanished stops the commit
instead of its clips being silently left out."""

from __future__ import annotations

import contextlib
import gc
import os
import queue
import signal
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from whoosh import multiproc, writing

from clipsearch.errors import StorageError
from clipsearch.index import fresh_segment, signatures, stories
from clipsearch.index.schema import clip_words, document, stored_stat

#: Clip files one worker job reads (small enough that the two workers finish close
#: together, large enough that a job's MinHashes are one numpy batch).
FILE_BATCH = 128
#: Postings a worker's fresh segment holds in memory before the worker finishes it
#: and starts another (about 60 bytes a posting: some 250 MB, 35,000 news clips).
#: One segment per worker for the whole build made a 155k-clip build's two workers
#: hold 1.1 GB, and sorting them at the end took its peak past 2 GB.
SEGMENT_POSTINGS = 4_000_000


@dataclass(frozen=True, slots=True)
class FileJob:
    """A clip file for a worker to read: its stat as discovered, whether the stat is
    racy (then its content digest is stored too) and the root it was reached through."""

    path: str
    stat: str
    racy: bool = False
    via: str = ""


@dataclass(frozen=True, slots=True)
class FileRead:
    """What a worker tells the parent of one clip file: the clip's id, warnings and
    content digest, or the one-line reason it could not be read (then `error`)."""

    path: str
    id: str = ""
    error: str = ""
    warnings: tuple[str, ...] = ()
    digest: str = ""


#: Reads one clip file: the clip, or the exception saying why not (not raised).
ReadClip = Callable[[str], Any]


@dataclass(frozen=True)
class _Failed:
    """What a worker process sends back instead of its segment when it fails."""

    detail: str


@contextlib.contextmanager
def _ctrl_c_held() -> Iterator[None]:
    """Run the block with Ctrl-C (SIGINT) deferred to its end.  In the main thread
    by a handler that only notes it: Python runs handlers there whichever thread the
    kernel delivered the signal to, whereas blocking it in this thread alone let it
    reach another (a queue's feeder thread) and interrupt the block at once.  In
    another thread (no handler can be set there) by blocking it in this one."""
    if threading.current_thread() is not threading.main_thread():
        held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            yield
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
        return
    noted: list[Any] = []
    previous = signal.signal(signal.SIGINT, lambda _signum, frame: noted.append(frame))
    try:
        yield
    finally:
        # None: a handler not set from Python, restored as the default
        signal.signal(signal.SIGINT, signal.SIG_DFL if previous is None else previous)
    if noted:
        if callable(previous):
            previous(signal.SIGINT, noted[0])  # Python's default raises KeyboardInterrupt
        elif previous in (signal.SIG_DFL, None):
            os.kill(os.getpid(), signal.SIGINT)


def _die_with_parent(parent_pid: int) -> None:
    """Make a worker process exit when its parent dies (kill -9, the OOM killer): it
    shares the parent's lock on the index and would otherwise keep it forever."""
    import ctypes

    try:
        # The symbols this process has loaded, libc's among them: finding libc by
        # name (ctypes.util.find_library) runs ldconfig, some 30 ms of every start.
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG (Linux)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent_pid:  # died before prctl
        os._exit(1)


class BulkTask(multiproc.SubWriterTask):
    """One worker process: takes jobs (a file of pickled documents, or a list of
    FileJobs) until told to stop, then finishes its segment and its derived postings.

    Messages to the parent: ("read", [FileRead], {path: signature record}) per file
    job, then ("done", segment, surface word counts), or a _Failed."""

    def __init__(self, writer: BulkWriter):
        super().__init__(
            writer.storage, writer.indexname, writer.jobqueue, writer.resultqueue,
            writer.subargs, True,
        )
        self._parent = os.getpid()
        self._read, self._sign = writer.read_clip, writer.sign

    def run(self) -> None:
        # Ctrl-C goes to the whole process group: the parent cancels the build, so
        # the workers ignore it instead of each printing a traceback.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        # A cancel terminates the worker: whatever SIGTERM handler the parent process
        # had (a host application's, a test runner's) must not keep it alive.
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})  # blocked at the fork
        _die_with_parent(self._parent)
        # The parent's run pauses the garbage collector (sync.collector_paused); a
        # worker is a process of its own, with its own garbage, and collects it.
        gc.enable()
        try:
            self._work()
        except BaseException as exc:  # noqa: BLE001 - told to the parent, which stops
            detail = (exc.strerror or str(exc)) if isinstance(exc, OSError) else repr(exc)
            with contextlib.suppress(Exception):
                self.resultqueue.put(_Failed(detail[:300]), timeout=5)
                self.resultqueue.close()
                self.resultqueue.join_thread()
            os._exit(1)

    def _work(self) -> None:
        ix = self.storage.open_index(self.indexname)
        make = writing.SegmentWriter
        if fresh_segment.supported(ix.schema, self.kwargs.get("codec")):
            make = fresh_segment.FreshSegmentWriter  # its postings in arrays, not a pool
        writer = self.writer = make(ix, _lk=False, **self.kwargs)
        words: Counter[str] = Counter()
        while (job := self.jobqueue.get()) is not None:
            if isinstance(job, list):
                if isinstance(writer, fresh_segment.FreshSegmentWriter) and (
                    writer.postings_held() >= SEGMENT_POSTINGS
                ):
                    self.resultqueue.put(("segment", writer._finalize_segment()))
                    writer = self.writer = make(ix, _lk=False, **self.kwargs)
                self.resultqueue.put(("read", *self._read_files(writer, job, words)))
            else:
                self._process_file(*job)
        segment = writer._finalize_segment()  # with its derived postings (whoosh_fixes)
        self.resultqueue.put(("done", segment, words), timeout=5)

    def _read_files(
        self, writer: Any, jobs: list[FileJob], words: Counter[str]
    ) -> tuple[list[FileRead], dict[str, tuple]]:
        reads, unsigned = [], []
        for job in jobs:
            clip = self._read(job.path)
            if isinstance(clip, Exception):
                reads.append(FileRead(job.path, error=str(clip)))
                continue
            stat = stored_stat(job.stat, clip.digest if job.racy else None, job.via)
            writer.add_document(**document(clip, stat))
            words.update(clip_words(clip))
            if self._sign:
                unsigned.append((job.path, stat, signatures.clip_texts(clip)))
            reads.append(FileRead(job.path, clip.id, "", clip.warnings, clip.digest))
        made = signatures.signatures([texts for _path, _stat, texts in unsigned])
        records = {
            path: stories.record(stat, sign)
            for (path, stat, _texts), sign in zip(unsigned, made, strict=True)
        }
        return reads, records


class BulkWriter(multiproc.MpWriter):
    """The parent's side: documents (`add_document`) or clip files (`add_file`,
    when made with `read_clip`) handed to the workers, their segments committed
    together.  `sign`: the workers also sign the clips they read."""

    def __init__(
        self, ix: Any, read_clip: ReadClip | None = None, sign: bool = True, **kwargs: Any
    ):
        super().__init__(ix, multisegment=True, **kwargs)
        self.read_clip, self.sign = read_clip, sign
        #: Of the files the workers read: surface word counts and signature records.
        self.words: Counter[str] = Counter()
        self.records: dict[str, tuple] = {}
        self._files: list[FileJob] = []
        self._order: list[str] = []  # every path handed out, in order
        self._received: deque[Any] = deque()  # messages taken while handing out files
        self._stopped = False
        self._segments: list[Any] | None = None  # the workers', once they all finished

    def _new_task(self) -> BulkTask:
        task = BulkTask(self)
        self.tasks.append(task)
        # Ctrl-C is held off while the worker is forked: landing between the fork
        # and `start` recording the child, it left a worker `cancel` could not see
        # (it went on writing its segment after the clean-up), and one landing in the
        # child before it ignores Ctrl-C printed a traceback.  A Ctrl-C held here is
        # raised once `start` returns, with the worker known.
        with _ctrl_c_held():
            task.start()
        return task

    def add_file(self, job: FileJob) -> None:
        self._files.append(job)
        self._order.append(job.path)
        self._added_sub = True
        if len(self._files) >= FILE_BATCH:
            self._enqueue_files()

    def _enqueue_files(self) -> None:
        if len(self.tasks) < self.procs:
            self._new_task()
        # What the workers sent so far, taken while handing out: left in the pipe, it
        # would wait in each worker's memory, pickled, until the last file is out.
        with contextlib.suppress(queue.Empty):
            while True:
                self._received.append(self.resultqueue.get_nowait())
        self.jobqueue.put(self._files)
        self._files = []

    def _stop_workers(self) -> None:
        """Hand out what is left and tell every worker to finish its segment."""
        if self._stopped:
            return
        self._stopped = True
        if self.docbuffer:
            self._enqueue()
        if self._files:
            self._enqueue_files()
        for _task in self.tasks:
            self.jobqueue.put(None)

    def finish(self) -> Iterator[FileRead]:
        """Wait for the workers; yield what they read of each file handed out, in
        the order handed out, as it comes.  Raises StorageError when a worker failed
        or ended without its segment."""
        self._stop_workers()
        pending: dict[str, FileRead] = {}
        cursor, segments, failed, done = 0, [], [], 0
        while done + len(failed) < len(self.tasks):
            if self._received:
                got = self._received.popleft()
            else:
                running = any(task.is_alive() for task in self.tasks)
                try:  # a worker that ended has flushed what it sent
                    got = self.resultqueue.get(timeout=0.5 if running else 1)
                except queue.Empty:
                    if not running:
                        break
                    continue
            if isinstance(got, _Failed):
                failed.append(got.detail)
            elif got[0] == "read":
                pending.update((r.path, r) for r in got[1])
                self.records.update(got[2])
                while cursor < len(self._order) and self._order[cursor] in pending:
                    yield pending.pop(self._order[cursor])
                    cursor += 1
            elif got[0] == "segment":  # a worker's segment, finished before its last
                segments.append(got[1])
            else:
                segments.append(got[1])
                self.words.update(got[2])
                done += 1
        for task in self.tasks:
            task.join()
        if failed or done != len(self.tasks) or any(t.exitcode for t in self.tasks):
            detail = failed[0] if failed else "a writer process ended without its segment"
            raise StorageError(self.storage.folder, f"writing the index failed: {detail}")
        if cursor != len(self._order):
            raise StorageError(self.storage.folder, "writing the index failed: files left unread")
        self._segments = segments

    def _commit(self, mergetype: Any, optimize: Any, merge: Any) -> None:
        self._stop_workers()
        finalsegments = self._merge_segments(mergetype, optimize, merge)  # while they finish
        if self._segments is None:
            for _read in self.finish():
                pass
        finalsegments += self._segments or []
        if self._added:
            finalsegments.append(self._finalize_segment())
        else:
            self._close_segment()
        self._commit_toc(finalsegments)
        self._finish()

    def cancel(self) -> None:
        # Whoosh's cancel only flags its own copy of each task; the forked workers
        # would wait on the job queue forever, holding the inherited index lock.
        # Jobs still buffered for them (an update hands out every new file at once)
        # would keep the queue's feeder thread, and so the exit, on a pipe no one reads.
        self.jobqueue.cancel_join_thread()
        try:
            for task in self.tasks:
                if task.is_alive():
                    task.terminate()
                    task.join(5)
                if task.is_alive():  # not ended by SIGTERM in time: it must not write on
                    task.kill()
                    task.join()
        finally:
            writing.SegmentWriter.cancel(self)
