"""Keeping a sharded index in step with folders of clips: the files are found once,
the new and changed ones read once and routed to the shard of their clip's id, and
each shard is then brought up to date on its own, as an ordinary index would be
(`sync.sync_discovered`).

A shard is one unit of work: in this process one after another, or as Dask tasks in
parallel (cluster/build.py runs `read_routed` and `sync_shard` on workers).  Each
shard commits alone, so a shard whose run failed stays at its last commit and the
next run completes it; until then a file whose id moved it to another shard may be
missing (or, briefly, in both)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from clipsearch import index as store
from clipsearch.errors import IndexIncompatibleError, IndexLockedError, RequestError, StorageError
from clipsearch.ingest import DEFAULT_MAX_BYTES
from clipsearch.ingest.clip import ClipError, read_clip
from clipsearch.ingest.discover import Discovery, Found
from clipsearch.ingest.sync import (
    Preread,
    Progress,
    StrictStop,
    UpdateReport,
    collector_paused,
    discover_reporting,
    needs_reading,
    sync_discovered,
)


@dataclass
class Plan:
    """What a sharded run will do, decided before anything is written: the shard
    folders, the files found, and the files each shard already holds."""

    folder: str
    shards: list[str]
    found: Discovery
    #: path -> the shards holding it (more than one only after an interrupted move).
    holders: dict[str, list[int]] = field(default_factory=dict)
    #: Files to read (new, changed, or held by several shards), in path order.
    todo: list[Found] = field(default_factory=list)
    #: Per shard, the unchanged files it keeps.
    keep: list[list[Found]] = field(default_factory=list)


def check_shard_count(shards: int) -> None:
    if not 1 <= shards <= store.MAX_SHARDS:
        raise RequestError("shards", shards, f"must be from 1 to {store.MAX_SHARDS}")


class FolderLock:
    """The sharded folder's own write lock (the lock file an unsharded index uses), so
    two runs never interleave their shards."""

    def __init__(self, folder: str, timeout: float):
        self._lock = store.write_lock(folder)
        deadline = time.monotonic() + max(timeout, 0.0)
        while True:
            try:
                if self._lock.acquire(blocking=False):
                    return
            except OSError as exc:
                detail = f"cannot lock the index ({exc.strerror or exc})"
                raise StorageError(folder, detail) from None
            if time.monotonic() >= deadline:
                raise IndexLockedError(
                    f"{folder}: another clipsearch process is writing this index "
                    f"(waited {timeout:g} s for its write lock); try again later"
                )
            time.sleep(0.1)

    def release(self) -> None:
        self._lock.release()


def prepare_folder(folder: str, shards: int | None, rebuild: bool) -> store.Manifest:
    """The folder's manifest, written when the folder is new or resharded by a
    rebuild (call with the folder lock held).  An unsharded index is turned into
    shards only by a rebuild; so is a change in the number of shards.  A folder
    holding files clipsearch did not write is refused for a new index or a rebuild
    (as for one index: an update leaves them alone)."""
    creating = rebuild or not (store.is_sharded(folder) or store.exists(folder))
    foreign = store.foreign_entries(folder) if creating else []
    if foreign:
        shown = ", ".join(repr(n) for n in foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        raise IndexIncompatibleError(
            f"{folder}: the folder holds files clipsearch did not write ({shown}); "
            "refusing to write an index there (choose an empty or new folder)"
        )
    if store.is_sharded(folder):
        manifest = store.read_manifest(folder)
        if shards is None or shards == manifest.count:
            return manifest
        if not rebuild:
            raise RequestError(
                "shards",
                shards,
                f"the index has {manifest.count} shards; changing that needs a rebuild",
            )
        for name in manifest.names[shards:]:
            store.remove_index(os.path.join(folder, name))
        return store.write_manifest(folder, shards)
    if store.exists(folder):
        if not rebuild:
            raise RequestError(
                "shards", shards, "the index is not sharded; sharding it needs a rebuild"
            )
        store.remove_index(folder, keep_lock=True)
    return store.write_manifest(folder, shards or 1)


def make_plan(folder: str, manifest: store.Manifest, found: Discovery, rebuild: bool) -> Plan:
    """Which files each shard keeps as they are and which must be read."""
    paths = manifest.paths(folder)
    plan = Plan(folder, paths, found, keep=[[] for _ in paths])
    known: list[dict[str, store.IndexedFile]] = [
        {} if rebuild else store.indexed_files(p) for p in paths
    ]
    for i, files in enumerate(known):
        for p in files:
            plan.holders.setdefault(p, []).append(i)
    for f in found.files:
        held = plan.holders.get(f.path, [])
        if len(held) == 1 and not needs_reading(f, known[held[0]][f.path]):
            plan.keep[held[0]].append(f)
        else:
            plan.todo.append(f)
    return plan


@dataclass
class Routed:
    """Files read and routed: path -> shard, the bad files' reasons, and per shard
    what was read (the clip, or the error to report)."""

    shard_of: dict[str, int] = field(default_factory=dict)
    errors: list[tuple[str, str]] = field(default_factory=list)
    parts: dict[int, Preread] = field(default_factory=dict)


def read_routed(
    files: Iterable[Found], count: int, holders: dict[str, list[int]], max_bytes: int
) -> Routed:
    """Read clip files and route each to the shard of its id; a bad file goes to a
    shard that held it (so its old text is removed there), else to shard 0."""
    out = Routed()
    for f in files:
        try:
            clip: object = read_clip(f.path, max_bytes=max_bytes)
            shard = store.shard_of(clip.id, count)  # type: ignore[attr-defined]
        except ClipError as exc:
            clip = exc
            shard = (holders.get(f.path) or [0])[0]
            out.errors.append((f.path, str(exc)))
        out.shard_of[f.path] = shard
        out.parts.setdefault(shard, {})[f.path] = clip  # type: ignore[assignment]
    return out


def shard_files(plan: Plan, shard: int, routes: dict[str, int]) -> Discovery:
    """The files shard `shard` is to hold after this run, with the run's scope (so
    files it holds that went elsewhere or vanished are removed from it)."""
    found = plan.found
    files = plan.keep[shard] + [f for f in plan.todo if routes.get(f.path) == shard]
    return Discovery(
        files=sorted(files, key=lambda f: f.path),
        scope=list(found.scope),
        unreadable=list(found.unreadable),
    )


def sync_shard(
    path: str,
    files: Discovery,
    preread: Sequence[Preread],
    *,
    rebuild: bool,
    strict: bool,
    lock_timeout: float,
    max_bytes: int,
    bulk: bool = True,
) -> UpdateReport:
    """Bring one shard in step with its files (`preread` parts: what was read for it)."""
    report = UpdateReport(index=path)
    merged: Preread = {}
    for part in preread:
        merged.update(part)
    sync_discovered(
        files,
        path,
        report,
        rebuild=rebuild,
        strict=strict,
        lock_timeout=lock_timeout,
        max_bytes=max_bytes,
        preread=merged,
        bulk=bulk,
    )
    return report


def merge_reports(report: UpdateReport, parts: Iterable[UpdateReport]) -> UpdateReport:
    """Add the shards' reports into the run's (which holds the discovery problems)."""
    for r in parts:
        report.added += r.added
        report.updated += r.updated
        report.removed += r.removed
        report.unchanged += r.unchanged
        report.skipped.extend(r.skipped)
        report.duplicates.extend(r.duplicates)
        report.warnings.extend(r.warnings)
        report.rebuilt = report.rebuilt or r.rebuilt
    report.skipped.sort(key=lambda s: s.path)
    report.duplicates.sort()
    return report


def count_moves(report: UpdateReport, plan: Plan, routes: dict[str, int]) -> None:
    """A file whose new id sends it to another shard was removed from one shard and
    added to another: one update, as one index counts it."""
    for path, shard in routes.items():
        held = plan.holders.get(path)
        if held and shard not in held and report.added > 0 and report.removed > 0:
            report.added -= 1
            report.removed -= 1
            report.updated += 1


def begin_run(
    paths: Sequence[str | os.PathLike[str]],
    folder: str,
    shards: int | None,
    rebuild: bool,
    strict: bool,
) -> tuple[store.Manifest, Discovery, UpdateReport]:
    """The parts of a sharded run before reading (folder lock held): the manifest,
    the files found, and a report holding the discovery problems."""
    if shards is not None:
        check_shard_count(shards)
    manifest = prepare_folder(folder, shards, rebuild)
    report = UpdateReport(index=folder)
    return manifest, discover_reporting(paths, report, strict), report


def strict_check(errors: Iterable[tuple[str, str]], strict: bool) -> None:
    """In strict mode, stop at the first bad file (in path order) before any write."""
    if strict:
        for _path, reason in sorted(errors):
            raise StrictStop(reason)


def update_sharded(
    paths: Sequence[str | os.PathLike[str]],
    index_dir: str | os.PathLike[str],
    *,
    shards: int | None = None,
    rebuild: bool = False,
    strict: bool = False,
    lock_timeout: float = 30.0,
    max_bytes: int = DEFAULT_MAX_BYTES,
    progress: Progress | None = None,
    story_window: float | None = None,
) -> UpdateReport:
    """Bring the sharded index at `index_dir` up to date with the clip files under
    `paths`, in this process (`shards` makes a new one, or reshards with `rebuild`);
    stories are grouped over all shards, `story_window` days apart at most (None:
    the index's window)."""
    started = time.perf_counter()
    folder = os.path.abspath(os.fspath(index_dir))
    lock = FolderLock(folder, lock_timeout)
    with collector_paused():  # as sync.update_index
        try:
            manifest, found, report = begin_run(paths, folder, shards, rebuild, strict)
            plan = make_plan(folder, manifest, found, rebuild)
            routed = Routed()
            for done, f in enumerate(plan.todo, 1):
                one = read_routed([f], manifest.count, plan.holders, max_bytes)
                routed.shard_of.update(one.shard_of)
                routed.errors.extend(one.errors)
                for shard, part in one.parts.items():
                    routed.parts.setdefault(shard, {}).update(part)
                if progress is not None:
                    progress(done, len(plan.todo))
            strict_check(routed.errors, strict)
            reports = []
            for i, path in enumerate(plan.shards):
                files = shard_files(plan, i, routed.shard_of)
                part = routed.parts.pop(i, {})
                reports.append(
                    sync_shard(
                        path,
                        files,
                        [part],
                        rebuild=rebuild,
                        strict=strict,
                        lock_timeout=lock_timeout,
                        max_bytes=max_bytes,
                    )
                )
            merge_reports(report, reports)
            count_moves(report, plan, routed.shard_of)
            store.write_shard_stories(folder, plan.shards, story_window)  # all committed
        finally:
            lock.release()
    report.elapsed = time.perf_counter() - started
    return report
