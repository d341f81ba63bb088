"""Keeping an index in step with folders of clips: add new files, re-index changed
ones, remove deleted ones, skip unchanged ones on a stat check.

Bad files never stop a run (unless `strict`): each is reported once with its
reason and the rest are indexed and committed.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from clipsearch import index as store
from clipsearch.errors import ClipsearchError
from clipsearch.index import IndexedFile
from clipsearch.ingest import DEFAULT_MAX_BYTES
from clipsearch.ingest.clip import Clip, ClipError, read_outcome
from clipsearch.ingest.discover import Discovery, Found, discover, is_under
from clipsearch.paths import shown_path

if TYPE_CHECKING:
    from clipsearch.index.bulk import FileRead

#: From this many files to (re)index, use the multi-process bulk writer: below it,
#: forking the workers costs more than they save.  Adding N clips, one process against
#: the bulk writer's two workers (wall time): to 19,000 clips, N=200 0.86-0.93 s against
#: 0.96-1.01 s, N=500 1.38-1.46 against 1.21-1.24 s; to 153,114 clips, N=500 even,
#: N=1,000 4.9-5.4 against 4.4-4.6 s, N=1,547 5.1-5.5 against 4.8-5.0 s.
BULK_THRESHOLD = 500

Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class Skipped:
    """A file that was not indexed, and why (one line, naming file, field and value)."""

    path: str
    reason: str


@dataclass
class UpdateReport:
    """What one `update_index` run did."""

    index: str
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    elapsed: float = 0.0
    rebuilt: bool = False

    @property
    def ok(self) -> bool:
        return not self.skipped

    def summary(self) -> str:
        parts = [
            f"{self.added:,} added",
            f"{self.updated:,} updated",
            f"{self.removed:,} removed",
            f"{self.unchanged:,} unchanged",
            f"{len(self.skipped):,} skipped with errors",
        ]
        if self.duplicates:
            parts.append(f"{len(self.duplicates):,} duplicate ids (later file wins)")
        return f"{', '.join(parts)} in {self.elapsed:.1f} s"

    def to_dict(self) -> dict:
        return {
            "index": self.index,
            "added": self.added,
            "updated": self.updated,
            "removed": self.removed,
            "unchanged": self.unchanged,
            "skipped": [{"path": s.path, "reason": s.reason} for s in self.skipped],
            "duplicates": self.duplicates,
            "warnings": self.warnings,
            "elapsed": round(self.elapsed, 3),
            "rebuilt": self.rebuilt,
        }


class StrictStop(ClipsearchError):
    """`strict` mode met a bad file: nothing was written.  `problem` is the file's
    one-line reason, for front ends that phrase the rest themselves."""

    def __init__(self, problem: str):
        self.problem = problem
        super().__init__(f"{problem} (stopped in strict mode: index left unchanged)")


def discover_reporting(
    paths: Sequence[str | os.PathLike[str]], report: UpdateReport, strict: bool
) -> Discovery:
    """The clip files under `paths`; the paths that cannot be read go to `report` as
    skipped (or stop the run in strict mode)."""
    found = discover([os.fspath(p) for p in paths])
    for f in found.problems:
        message = f"{shown_path(f.path)}: {f.error}"
        report.skipped.append(Skipped(f.path, message))
        if strict:
            raise StrictStop(message)
    return found


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for one index run, back on after (if it
    was on).  A run keeps a few objects per clip file (what was found, what the index
    holds), and the collector's passes over them cost a 1% update of 155k clips
    0.5 s; what a run leaves is freed by reference counting (a 20k build peaks at
    the same memory either way).  The bulk writer's worker processes collect as before."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def update_index(
    paths: Sequence[str | os.PathLike[str]],
    index_dir: str | os.PathLike[str],
    *,
    rebuild: bool = False,
    strict: bool = False,
    lock_timeout: float = 30.0,
    max_bytes: int = DEFAULT_MAX_BYTES,
    progress: Progress | None = None,
    story_window: float | None = None,
) -> UpdateReport:
    """Bring the index at `index_dir` up to date with the clip files under `paths`.

    Incremental unless `rebuild`.  Files under the given roots that vanished are
    removed from the index; files indexed from other roots are left alone.  After
    any sequence of runs the index holds what a fresh build of the same files holds:
    one document per id (the file whose path sorts last), every duplicate reported
    on every run, all in one atomic commit.  `story_window` (days) sets how far apart
    two copies of one story may be published; it is recorded with the index and
    kept by later runs (default 3 days)."""
    started = time.perf_counter()
    index_dir = os.path.abspath(os.fspath(index_dir))
    report = UpdateReport(index=index_dir)
    if story_window is not None:
        story_window = store.check_story_window(story_window)
    with collector_paused():
        found = discover_reporting(paths, report, strict)
        sync_discovered(
            found, index_dir, report, rebuild=rebuild, strict=strict, lock_timeout=lock_timeout,
            max_bytes=max_bytes, progress=progress, story_window=story_window,
        )
        # Freed before the collector is back: its first pass would walk every one.
        del found
    report.elapsed = time.perf_counter() - started
    return report


#: What a caller already read of some files: the clip, or why it could not be read.
Preread = dict[str, "Clip | ClipError"]


def sync_discovered(
    found: Discovery,
    index_dir: str,
    report: UpdateReport,
    *,
    rebuild: bool = False,
    strict: bool = False,
    lock_timeout: float = 30.0,
    max_bytes: int = DEFAULT_MAX_BYTES,
    progress: Progress | None = None,
    preread: Preread | None = None,
    bulk: bool = True,
    story_window: float | None = None,
) -> None:
    """Bring one index in step with the files `found` (their problems already
    reported), counting into `report`.  A sharded build calls this once per shard
    with the files routed to it and the clips it `preread` to route them; `bulk`
    False keeps the writer in this process (a Dask worker cannot start processes)."""
    writer = store.Writer(
        index_dir, lock_timeout=lock_timeout, rebuild=rebuild, story_window=story_window
    )
    try:
        report.rebuilt = report.rebuilt or writer.fresh
        known = writer.files()
        seen = {f.path for f in found.files}
        todo = sorted(
            (f for f in found.files if needs_reading(f, known.get(f.path))), key=lambda f: f.path
        )
        report.unchanged += len(found.files) - len(todo)
        gone = sorted(
            p
            for p, k in known.items()
            if p not in seen
            and (k.via in found.scope or any(is_under(p, s) for s in found.scope))
            and not any(is_under(p, u) for u in found.unreadable)
        )
        bulk = bulk and len(todo) >= BULK_THRESHOLD
        # When every file to read is new (a first build, an update that only adds),
        # the bulk writer's workers read them themselves: both cores parse.  Changed
        # files are read here, each replacing its old document in path order.
        reader = functools.partial(read_outcome, max_bytes=max_bytes)
        workers_read = bulk and not preread and not any(f.path in known for f in todo)
        writer.begin(bulk=bulk, read_clip=reader if workers_read else None)
        for p in gone:
            writer.delete_path(p)
            report.removed += 1
        reading = {f.path for f in todo}
        owner = _owners(
            [k for p, k in known.items() if p not in reading and p not in gone], writer, report
        )
        run = _Run(owner, writer, report, strict, max_bytes, preread or {})
        if writer.reads_files:  # every file to read is new
            for f in todo:
                writer.add_file(f.path, f.stat, f.racy, f.via)
            for done, (f, read) in enumerate(zip(todo, writer.files_read(), strict=True), 1):
                if progress is not None:
                    progress(done, len(todo))
                run.index(f, None, read)
        else:
            for done, f in enumerate(todo, 1):
                if progress is not None:
                    progress(done, len(todo))
                run.index(f, known.get(f.path))
        writer.commit()
    except BaseException:
        writer.cancel()
        raise


def needs_reading(f: Found, old: IndexedFile | None) -> bool:
    """Unchanged means the same stat, and for a file that was racy when indexed, the
    same content too (its stat cannot show a same-size edit within the same second);
    a file now reached another way is re-read to record it."""
    return old is None or old.stat != f.stat or bool(old.digest) or old.via != f.via


def _owners(staying: list[IndexedFile], writer: store.Writer, report: UpdateReport) -> dict:
    """id -> path for the indexed files this run leaves alone.  An id held by several of
    them (an index written before duplicates were resolved in one commit) keeps the
    last path; the others are removed and reported."""
    owner: dict[str, str] = {}
    for k in sorted(staying, key=lambda k: k.path, reverse=True):  # the last path keeps it
        if k.id in owner:
            writer.delete_path(k.path)
            report.duplicates.append(_duplicate(k.id, k.path, owner[k.id]))
        else:
            owner[k.id] = k.path
    return owner


class _Run:
    """Reading and indexing the files of one run, in walk order, keeping one document
    per id: the file whose path sorts last.  A file read later can beat one added
    earlier in the same run; Whoosh cannot drop a document it has not committed, so
    those are deleted by the writer right after the main commit, under the same lock."""

    def __init__(
        self,
        owner: dict[str, str],
        writer: store.Writer,
        report: UpdateReport,
        strict: bool,
        max_bytes: int,
        preread: Preread,
    ):
        self.owner, self.writer, self.report = owner, writer, report
        self.strict, self.max_bytes, self.preread = strict, max_bytes, preread
        self.counted: dict[str, str] = {}  # path added in this run -> what it counted as

    def index(self, f: Found, old: IndexedFile | None, read: FileRead | None = None) -> None:
        """Read `f` and add it, or, given what a bulk worker `read` of it (and added
        already: a file not indexed before), only count it."""
        report, writer = self.report, self.writer
        clip: Clip | None = None
        if read is None:
            got = self.preread.pop(f.path, None) or read_outcome(f.path, max_bytes=self.max_bytes)
            if isinstance(got, ClipError):
                return self._bad(f, old, str(got))
            clip = got
            clip_id, digest = clip.id, clip.digest
            report.warnings.extend(clip.warnings)
        elif read.error:
            return self._bad(f, old, read.error)
        else:
            clip_id, digest = read.id, read.digest
            report.warnings.extend(read.warnings)
        holder = self.owner.get(clip_id)
        if holder is not None and holder > f.path:  # an indexed file with a later path
            report.duplicates.append(_duplicate(clip_id, f.path, holder))
            if old is not None:  # its old text (maybe under another id) must not stay
                writer.delete_path(f.path)
            if read is not None:  # a worker added it already: gone after the commit
                writer.delete_after_commit(f.path)
            return
        if holder is not None and holder < f.path:
            self._drop(holder)
            report.duplicates.append(_duplicate(clip_id, holder, f.path))
        self.owner[clip_id] = f.path
        if old is not None and old.stat == f.stat and old.digest == digest:
            report.unchanged += 1  # a racy file checked by content: the same
            if f.racy and old.via == f.via:
                return  # still racy: keep checking it by content
            # Settled now (or reached another way): store what later runs compare.
            kind = "unchanged"
        elif old is not None:
            report.updated += 1
            kind = "updated"
        else:
            report.added += 1
            kind = "added"
        self.counted[f.path] = kind
        if clip is not None:
            stat = store.stored_stat(f.stat, digest if f.racy else None, f.via)
            writer.add(clip, stat, replace=old is not None)

    def _bad(self, f: Found, old: IndexedFile | None, reason: str) -> None:
        self.report.skipped.append(Skipped(f.path, reason))
        if self.strict:
            raise StrictStop(reason)
        if old is not None:  # it was good before; a broken edit must not leave stale text
            self.writer.delete_path(f.path)
            self.report.removed += 1

    def _drop(self, path: str) -> None:
        """Remove the losing file of a duplicate id: from the committed index, or, when
        this run added it, right after the commit (and from this run's counts)."""
        kind = self.counted.pop(path, None)
        if kind is None:
            self.writer.delete_path(path)
            return
        self.writer.delete_after_commit(path)
        if kind == "added":
            self.report.added -= 1
        elif kind == "updated":
            self.report.updated -= 1
        else:
            self.report.unchanged -= 1


def _duplicate(clip_id: str, loser: str, winner: str) -> str:
    return (
        f"duplicate id {clip_id!r}: {shown_path(loser)} ignored, {shown_path(winner)} (later) kept"
    )
