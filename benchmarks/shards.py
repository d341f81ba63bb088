"""One index against the same clips in N shards on a 2-worker Dask LocalCluster:
build time, query latency with facets (defaults, each query once, after a warm-up),
memory per worker, whether the answers are the same, and a scale table by model.

    python benchmarks/shards.py --clips DIR --queries QUERIES.tsv --work /tmp/x
        [--shards 4] [--workers 2] [--limit-queries 200]

Prints one JSON object.  The scale table assumes what was measured here: a query is
F fan-outs (F measured), each costing one round trip L (measured) plus the slowest
machine's work, s shards per machine on c cores each costing the measured per-shard
time scaled linearly with the clips per shard."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import time

from clipsearch import open_index
from clipsearch.cluster import search as cluster_search
from clipsearch.cluster.connect import start_local
from clipsearch.ingest.update import update_index


def _rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 1e6


def _pcts(times: list[float]) -> dict[str, float]:
    times = sorted(times)
    return {
        "p50_ms": round(statistics.median(times) * 1000, 2),
        "p95_ms": round(times[int(0.95 * (len(times) - 1))] * 1000, 2),
    }


def _run(idx, queries: list[str]) -> tuple[list[float], list[dict]]:
    times, answers = [], []
    for q in queries:
        t = time.perf_counter()
        res = idx.search(q)
        times.append(time.perf_counter() - t)
        d = res.to_dict()
        answers.append({k: d[k] for k in ("total", "facets", "corrections", "suggestion")}
                       | {"ids": [h["id"] for h in d["hits"]],
                          "scores": [h.score for h in res.hits]})
    return times, answers


def _same(a: dict, b: dict) -> bool:
    return (
        {k: v for k, v in a.items() if k != "scores"}
        == {k: v for k, v in b.items() if k != "scores"}
        and all(abs(x - y) <= 1e-9 for x, y in zip(a["scores"], b["scores"], strict=True))
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", required=True)
    ap.add_argument("--queries", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--shards", type=int, default=4)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--limit-queries", type=int, default=200)
    args = ap.parse_args()
    with open(args.queries, encoding="utf-8") as fh:
        rows = [line.rstrip("\n").split("\t") for line in fh if not line.startswith("#")]
    queries = [r[2] for r in rows][: args.warmup + args.limit_queries]
    warm, timed = queries[: args.warmup], queries[args.warmup :]
    shutil.rmtree(args.work, ignore_errors=True)
    one_dir, sh_dir = os.path.join(args.work, "one"), os.path.join(args.work, "sharded")
    out: dict = {"clips_folder": args.clips, "shards": args.shards, "workers": args.workers}

    t = time.perf_counter()
    report = update_index([args.clips], one_dir)
    out["build_one_s"] = round(time.perf_counter() - t, 1)
    out["clips"] = report.added
    cluster = start_local(args.workers)
    try:
        t = time.perf_counter()
        update_index([args.clips], sh_dir, shards=args.shards, cluster=cluster.scheduler_address)
        out["build_sharded_cluster_s"] = round(time.perf_counter() - t, 1)

        with open_index(one_dir) as one:
            for q in warm:
                one.search(q)
            times_one, ans_one = _run(one, timed)
        out["query_one"] = _pcts(times_one)
        with open_index(sh_dir) as local:
            for q in warm:
                local.search(q)
            times_local, ans_local = _run(local, timed)
        out["query_sharded_in_process"] = _pcts(times_local)

        calls = {"n": 0}
        original = cluster_search.ClusterFanout.call

        def counting(self, *a, **k):  # type: ignore[no-untyped-def]
            calls["n"] += 1
            return original(self, *a, **k)

        cluster_search.ClusterFanout.call = counting  # type: ignore[method-assign]
        with open_index(sh_dir, cluster=cluster.scheduler_address) as remote:
            for q in warm:
                remote.search(q)
            calls["n"] = 0
            times_remote, ans_remote = _run(remote, timed)
            fanouts = calls["n"] / max(1, len(timed))
            t = time.perf_counter()
            for _ in range(50):
                remote._backend._fan.call("is_current")  # noqa: SLF001  (a bare round trip)
            rtt = (time.perf_counter() - t) / 50
            client = remote._backend._fan._client  # noqa: SLF001
            out["worker_rss_mb"] = {
                w: round(v, 1) for w, v in client.run(_rss_mb).items()
            }
        cluster_search.ClusterFanout.call = original  # type: ignore[method-assign]
        out["query_sharded_cluster"] = _pcts(times_remote)
        out["fanouts_per_query"] = round(fanouts, 1)
        out["fanout_round_trip_ms"] = round(rtt * 1000, 2)
        out["same_answers_in_process"] = sum(map(_same, ans_one, ans_local))
        out["same_answers_cluster"] = sum(map(_same, ans_one, ans_remote))
        out["queries_timed"] = len(timed)
    finally:
        cluster.close()

    # Scale model: per-shard work from the in-process sharded run (all shards in one
    # process, one after another), per clip.
    per_shard_s = statistics.median(times_local) / args.shards
    per_clip_s = per_shard_s / max(1, out["clips"] / args.shards)
    table = []
    for machines, shards_per_machine, cores, clips in (
        (1, 4, 2, 155_000),
        (2, 2, 2, 155_000),
        (4, 4, 8, 10_000_000),
        (16, 4, 8, 100_000_000),
        (64, 4, 8, 100_000_000),
    ):
        per_shard_clips = clips / (machines * shards_per_machine)
        work = per_clip_s * per_shard_clips * max(1.0, shards_per_machine / cores)
        table.append({
            "machines": machines,
            "shards_per_machine": shards_per_machine,
            "cores": cores,
            "clips": clips,
            "expected_ms": round((fanouts * rtt + work) * 1000, 1),
        })
    out["scale_model"] = table
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
