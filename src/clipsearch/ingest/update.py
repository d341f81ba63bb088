"""The one entry point for indexing: an ordinary index (sync.py), a sharded one in
this process (sharding.py), or a sharded one built on a Dask cluster (cluster/)."""

from __future__ import annotations

import os
from collections.abc import Sequence

from clipsearch import index as store
from clipsearch.ingest import DEFAULT_MAX_BYTES
from clipsearch.ingest.sharding import update_sharded
from clipsearch.ingest.sync import Progress, UpdateReport
from clipsearch.ingest.sync import update_index as update_one


def update_index(
    paths: Sequence[str | os.PathLike[str]],
    index_dir: str | os.PathLike[str],
    *,
    rebuild: bool = False,
    strict: bool = False,
    lock_timeout: float = 30.0,
    max_bytes: int = DEFAULT_MAX_BYTES,
    progress: Progress | None = None,
    shards: int | None = None,
    cluster: str | None = None,
    story_window: float | None = None,
) -> UpdateReport:
    """Bring the index at `index_dir` up to date with the clip files under `paths`
    (see sync.update_index).  `shards` makes (or, with `rebuild`, reshards) a sharded
    index; a sharded one is updated shard by shard, on the Dask scheduler at `cluster`
    when given (each shard a task on a worker).  `story_window` (days) sets how far
    apart copies of one story may be, kept by later runs (a sharded index groups
    over all its shards with it)."""
    folder = os.fspath(index_dir)
    sharded = cluster is not None or shards is not None or store.is_sharded(folder)
    if story_window is not None:
        story_window = store.check_story_window(story_window)
    options = dict(rebuild=rebuild, strict=strict, lock_timeout=lock_timeout, max_bytes=max_bytes)
    if cluster is not None:  # Dask is imported only when a cluster is asked for
        from clipsearch.cluster.build import update_on_cluster

        return update_on_cluster(
            paths, folder, cluster, shards=shards, story_window=story_window, **options
        )
    if sharded:
        return update_sharded(
            paths, folder, shards=shards, progress=progress, story_window=story_window, **options
        )
    return update_one(paths, folder, progress=progress, story_window=story_window, **options)
