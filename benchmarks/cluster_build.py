"""A sharded build on a fresh Dask LocalCluster, measured: wall time, CPU time (this
process's and each worker's, user + sys, children included), each worker's peak RSS
(sampled every second) and its RSS at the end.

    python benchmarks/cluster_build.py --clips DIR --index NEW_DIR [--shards 4] [--workers 2]

Prints one JSON object.  The index folder must not exist (a build from nothing)."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import threading
import time
from typing import Any

import psutil

from clipsearch.cluster.connect import connect, start_local
from clipsearch.ingest.update import update_index


def _cpu(t: Any) -> float:
    return t.user + t.system + t.children_user + t.children_system


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", required=True)
    ap.add_argument("--index", required=True)
    ap.add_argument("--shards", type=int, default=4)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    if os.path.exists(args.index):
        ap.error(f"{args.index} exists; give a new folder")
    me = psutil.Process()
    here0 = _cpu(me.cpu_times())
    cluster = start_local(args.workers)
    client = connect(cluster.scheduler_address)
    try:
        procs = {w: psutil.Process(pid) for w, pid in client.run(os.getpid).items()}
        peak = dict.fromkeys(procs, 0)
        start = {w: _cpu(p.cpu_times()) for w, p in procs.items()}
        done = threading.Event()

        def sample() -> None:
            while not done.wait(1.0):
                for w, p in procs.items():
                    with contextlib.suppress(psutil.Error):  # a worker that died
                        peak[w] = max(peak[w], p.memory_info().rss)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        t = time.perf_counter()
        report = update_index(
            [args.clips], args.index, shards=args.shards, cluster=cluster.scheduler_address
        )
        wall = time.perf_counter() - t
        done.set()
        sampler.join()
        workers = {w: _cpu(p.cpu_times()) - start[w] for w, p in procs.items()}
        here = _cpu(me.cpu_times()) - here0
        out = {
            "clips": report.added,
            "shards": args.shards,
            "workers": args.workers,
            "wall_s": round(wall, 1),
            "cpu_here_s": round(here, 1),
            "cpu_workers_s": {w: round(v, 1) for w, v in workers.items()},
            "cpu_total_s": round(here + sum(workers.values()), 1),
            "peak_rss_mb": {w: round(v / 1e6) for w, v in peak.items()},
            "end_rss_mb": {w: round(p.memory_info().rss / 1e6) for w, p in procs.items()},
        }
    finally:
        client.close()
        cluster.close()
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
