"""A sharded build on a Dask cluster: the new and changed files are read and routed
in chunks (tasks), then each shard is synced by one task, all shards in parallel.
What a chunk read for a shard goes from worker to worker, never through here.

The folder (its manifest, lock and shards) must be at the same path here and on the
workers (shared storage).  A shard task that fails leaves its shard at its last
commit; the run then says which shards failed, and the next run completes them."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Any

from clipsearch.cluster.connect import connect
from clipsearch.errors import ClipsearchError, StorageError
from clipsearch.index import write_shard_stories
from clipsearch.ingest import DEFAULT_MAX_BYTES
from clipsearch.ingest.sharding import (
    FolderLock,
    Routed,
    begin_run,
    count_moves,
    make_plan,
    merge_reports,
    read_routed,
    shard_files,
    strict_check,
    sync_shard,
)
from clipsearch.ingest.sync import Preread, UpdateReport

#: Files read per task when routing.
CHUNK = 2000


def part_of(routed: Routed, shard: int) -> Preread:
    """What one chunk read for one shard (a small task, so only that moves)."""
    return routed.parts.get(shard, {})


def routes_of(routed: Routed) -> tuple[dict[str, int], list[tuple[str, str]]]:
    return routed.shard_of, routed.errors


def update_on_cluster(
    paths: Sequence[str | os.PathLike[str]],
    index_dir: str,
    cluster: str | Any,
    *,
    shards: int | None = None,
    rebuild: bool = False,
    strict: bool = False,
    lock_timeout: float = 30.0,
    max_bytes: int = DEFAULT_MAX_BYTES,
    story_window: float | None = None,
) -> UpdateReport:
    """`ingest.update.update_index` with the reading and every shard run as tasks on
    the cluster at `cluster` (an address, or a Dask client)."""
    started = time.perf_counter()
    folder = os.path.abspath(os.fspath(index_dir))
    client = connect(cluster) if isinstance(cluster, str) else cluster
    lock = FolderLock(folder, lock_timeout)
    try:
        manifest, found, report = begin_run(paths, folder, shards, rebuild, strict)
        plan = make_plan(folder, manifest, found, rebuild)
        chunks = [plan.todo[k : k + CHUNK] for k in range(0, len(plan.todo), CHUNK)]
        reads = [
            client.submit(
                read_routed,
                chunk,
                manifest.count,
                {f.path: plan.holders[f.path] for f in chunk if f.path in plan.holders},
                max_bytes,
                pure=False,
            )
            for chunk in chunks
        ]
        routes: dict[str, int] = {}
        errors: list[tuple[str, str]] = []
        for shard_of, errs in client.gather([client.submit(routes_of, r) for r in reads]):
            routes.update(shard_of)
            errors.extend(errs)
        strict_check(errors, strict)
        tasks = {}
        for i, path in enumerate(plan.shards):
            parts = [client.submit(part_of, r, i, pure=False) for r in reads]
            tasks[i] = client.submit(
                sync_shard,
                path,
                shard_files(plan, i, routes),
                parts,
                rebuild=rebuild,
                strict=strict,
                lock_timeout=lock_timeout,
                max_bytes=max_bytes,
                bulk=False,  # a worker process cannot start the bulk writer's processes
                pure=False,
            )
        reports, failed = [], []
        for i, task in tasks.items():
            try:
                reports.append(task.result())
            except ClipsearchError:
                raise
            except Exception as exc:
                failed.append(f"{manifest.names[i]} ({type(exc).__name__}: {exc})")
        merge_reports(report, reports)
        count_moves(report, plan, routes)
        if failed:
            raise StorageError(
                folder,
                f"shards not updated: {', '.join(failed)}; they keep their last commit, "
                "run the same command again to complete them",
            )
        write_shard_stories(folder, plan.shards, story_window)  # all committed
    finally:
        lock.release()
        if isinstance(cluster, str):
            client.close()
    report.elapsed = time.perf_counter() - started
    return report
