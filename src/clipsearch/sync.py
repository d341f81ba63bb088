"""Keeping an index in step with folders of clips: add new files, re-index changed
ones, remove deleted ones, skip unchanged ones on a stat check.

Bad files never stop a run (unless `strict`): each is reported once with its
reason and the rest are indexed and committed.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from clipsearch import index as store
from clipsearch.clip import DEFAULT_MAX_BYTES, ClipError, read_clip, shown_path
from clipsearch.discover import Found, find_clips
from clipsearch.errors import ClipsearchError, IndexIncompatibleError

#: From this many files to (re)index, use the multi-process bulk writer.
BULK_THRESHOLD = 2000

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
    """`strict` mode met a bad file: nothing was written."""


def update_index(
    paths: Sequence[str | os.PathLike[str]],
    index_dir: str | os.PathLike[str],
    *,
    rebuild: bool = False,
    strict: bool = False,
    lock_timeout: float = 30.0,
    max_bytes: int = DEFAULT_MAX_BYTES,
    progress: Progress | None = None,
) -> UpdateReport:
    """Bring the index at `index_dir` up to date with the clip files under `paths`.

    Incremental unless `rebuild`.  Files under the given roots that vanished are
    removed from the index; files indexed from other roots are left alone."""
    started = time.perf_counter()
    index_dir = os.path.abspath(os.fspath(index_dir))
    roots = [os.path.abspath(os.fspath(p)) for p in paths]
    report = UpdateReport(index=index_dir)
    if rebuild and store.exists(index_dir) and not _compatible(index_dir):
        store.create(index_dir)  # an old schema or a damaged index cannot be written to
    elif not store.exists(index_dir):
        store.create(index_dir)
        rebuild = True
    report.rebuilt = rebuild

    found = list(find_clips(roots))
    unreadable: list[str] = []  # folders whose clips must stay indexed as they were
    for f in found:
        if f.error:
            message = f"{shown_path(f.path)}: {f.error}"
            report.skipped.append(Skipped(f.path, message))
            if strict:
                raise StrictStop(f"{message} (--strict: index left unchanged)")
            if os.path.isdir(f.path):
                unreadable.append(f.path)
    files = [f for f in found if not f.error]

    writer = store.Writer(index_dir, lock_timeout=lock_timeout)
    try:
        known = {} if rebuild else writer.files()
        todo: list[Found] = []
        seen_paths = set()
        for f in files:
            seen_paths.add(f.path)
            old = known.get(f.path)
            if old is not None and old.stat == f.stat:
                report.unchanged += 1
            else:
                todo.append(f)
        gone = [
            p
            for p in known
            if p not in seen_paths
            and any(_under(p, r) for r in roots)
            and not any(_under(p, u) for u in unreadable)
        ]
        id_owner = {k.id: k.path for k in known.values()}
        writer.begin(bulk=len(todo) >= BULK_THRESHOLD)
        for p in gone:
            writer.delete_path(p)
            report.removed += 1
        for done, f in enumerate(todo, 1):
            if progress is not None:
                progress(done, len(todo))
            try:
                clip = read_clip(f.path, f.root, max_bytes=max_bytes)
            except ClipError as exc:
                report.skipped.append(Skipped(f.path, str(exc)))
                if strict:
                    raise StrictStop(f"{exc} (--strict: index left unchanged)") from None
                if f.path in known:  # it was good before; a broken edit must not leave stale text
                    writer.delete_path(f.path)
                    report.removed += 1
                continue
            report.warnings.extend(clip.warnings)
            owner = id_owner.get(clip.id)
            if owner and owner != f.path and owner > f.path and os.path.exists(owner):
                report.duplicates.append(_duplicate(clip.id, f.path, owner))
                continue
            if f.path in known:
                if known[f.path].id != clip.id:
                    writer.delete_path(f.path)
                report.updated += 1
            else:
                report.added += 1
            writer.add(clip, f.stat, replace=not rebuild)
        writer.commit(replace_all=rebuild)
    except BaseException:
        writer.cancel()
        raise
    # Only a run that wrote clips, or an index that already holds an id twice (a run
    # killed between its two commits), can need the second pass over every id.
    if report.added or report.updated or len(id_owner) < len(known):
        _resolve_duplicates(index_dir, lock_timeout, report)
    report.elapsed = time.perf_counter() - started
    return report


def _resolve_duplicates(index_dir: str, lock_timeout: float, report: UpdateReport) -> None:
    """Keep one document per id (the file that sorts last).  Also heals an index left
    with duplicates by a run that was killed between its two commits."""
    losers = store.duplicate_losers(index_dir)
    if not losers:
        return
    with store.Writer(index_dir, lock_timeout=lock_timeout) as writer:
        for clip_id, loser, winner in losers:
            writer.delete_path(loser)
            report.duplicates.append(_duplicate(clip_id, loser, winner))
            if report.added:
                report.added -= 1
        writer.commit()


def _duplicate(clip_id: str, loser: str, winner: str) -> str:
    return (
        f"duplicate id {clip_id!r}: {shown_path(loser)} ignored, {shown_path(winner)} (later) kept"
    )


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _compatible(index_dir: str) -> bool:
    try:
        store.check(index_dir)
    except IndexIncompatibleError:
        return False
    return True
