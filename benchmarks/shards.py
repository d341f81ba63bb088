"""One index against the same clips in N shards, searched in this process and on a
2-worker Dask LocalCluster: build time, query latency with facets (defaults, each
query once, after a warm-up), fan-outs per query, memory per worker, whether the
answers are the same, and a scale table by model.

    python benchmarks/shards.py --clips DIR --queries QUERIES.tsv --work /tmp/x
        [--shards 4] [--workers 2] [--limit-queries 200]
        [--one-index DIR] [--sharded-index DIR]   # reuse built indexes (read only)

Prints one JSON object.  Times are wall (perf_counter) per query; CPU is this
process's user+sys over the timed queries, and the workers' for the cluster run.

The scale model: a query is F fan-outs (F measured), each one round trip to S actors
(measured with a bare call to one actor and to all: one round trip plus a cost per
further actor), plus the coordinator's own work (measured: the
in-process sharded time less the shards' time), plus the slowest machine's shard
work: s shards on c cores, each costing the measured per-shard time (the shards'
own time per query in process, median, divided by the shards) scaled linearly
with its clips.  `expected_ms_one_actor_per_machine` is the same model for a design
not built: one actor per machine that searches its shards and merges them, so a
fan-out reaches machines, not shards."""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import time
from collections import defaultdict

from clipsearch import open_index
from clipsearch.cluster import search as cluster_search
from clipsearch.cluster.connect import start_local
from clipsearch.ingest.update import update_index
from clipsearch.search import sharded


def _rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 1e6


def _cpu_s() -> float:
    import psutil

    t = psutil.Process().cpu_times()
    return t.user + t.system


def _pcts(times: list[float]) -> dict[str, float]:
    times = sorted(times)
    return {
        "p50_ms": round(statistics.median(times) * 1000, 2),
        "p95_ms": round(times[int(0.95 * (len(times) - 1))] * 1000, 2),
        "mean_ms": round(statistics.fmean(times) * 1000, 2),
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


class _ShardClock:
    """Time spent inside shards during in-process searches, per query."""

    def __init__(self) -> None:
        self.per_shard: dict[int, float] = defaultdict(float)
        self._original = sharded.LocalFanout.call

    def install(self) -> None:
        clock, original = self, self._original

        def timed(fan, method, args=(), per_shard=None):  # type: ignore[no-untyped-def]
            shards = range(len(fan.names)) if per_shard is None else sorted(per_shard)
            out = []
            for i in shards:
                a = args if per_shard is None else per_shard[i]
                t = time.perf_counter()
                out += original(fan, method, per_shard={i: a})
                clock.per_shard[i] += time.perf_counter() - t
            return out

        sharded.LocalFanout.call = timed  # type: ignore[method-assign]

    def remove(self) -> None:
        sharded.LocalFanout.call = self._original  # type: ignore[method-assign]


def _timed_in_process(idx, queries: list[str]) -> tuple[list[float], list[dict], list[float]]:
    """Like `_run`, and per query the shards' own time (summed over shards)."""
    clock = _ShardClock()
    clock.install()
    try:
        times, answers, inside = [], [], []
        for q in queries:
            clock.per_shard.clear()
            t, a = _run(idx, [q])
            times += t
            answers += a
            inside.append(sum(clock.per_shard.values()))
    finally:
        clock.remove()
    return times, answers, inside


#: (machines, shards per machine, cores per machine, clips) of the scale table.
SCALE_ROWS = (
    (1, 4, 2, 155_000),
    (2, 2, 2, 155_000),
    (4, 4, 8, 10_000_000),
    (16, 4, 8, 100_000_000),
    (64, 4, 8, 100_000_000),
    (256, 4, 8, 100_000_000),
)


def scale_model(m: dict) -> list[dict]:
    """The expected query time on k machines (see the module docstring), from the
    measured inputs `m`.  Two costs per further actor in a fan-out: the bare one
    (a call to all actors less a call to one), and the one calibrated on the
    measured cluster median (what is left of it after the coordinator, the shards'
    work and the bare round trips, per fan-out and further actor: payloads,
    scheduling on a loaded machine)."""
    fanouts, actors = m["fanouts"], m["shards"]
    one, per_shard = m["one_actor_round_trip_ms"], m["per_shard_ms"]
    bare = max(0.0, (m["round_trip_ms"] - one) / max(1, actors - 1))
    measured_work = per_shard * math.ceil(actors / m["workers"])
    left = (m["cluster_p50_ms"] - m["coordinator_ms"] - measured_work) / fanouts - one
    calibrated = max(bare, left / max(1, actors - 1))
    per_clip = per_shard / max(1, m["clips_per_shard"])

    def expected(per_actor: float, actors: int, work: float) -> float:
        return round(fanouts * (one + per_actor * (actors - 1)) + m["coordinator_ms"] + work, 1)

    table = []
    for machines, shards_per_machine, cores, clips in SCALE_ROWS:
        shards = machines * shards_per_machine
        work = per_clip * clips / shards * math.ceil(shards_per_machine / cores)

        table.append({
            "machines": machines,
            "shards_per_machine": shards_per_machine,
            "cores": cores,
            "clips": clips,
            "clips_per_shard": round(clips / shards),
            "shard_work_ms": round(work, 1),
            "expected_ms_bare": expected(bare, shards, work),
            "expected_ms_calibrated": expected(calibrated, shards, work),
            # not built: one actor per machine that searches its shards and merges them
            "one_actor_per_machine_ms_calibrated": expected(calibrated, machines, work),
        })
    return table


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips")
    ap.add_argument("--queries")
    ap.add_argument("--work")
    ap.add_argument("--shards", type=int, default=4)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--limit-queries", type=int, default=200)
    ap.add_argument("--one-index", help="an index of the same clips, already built")
    ap.add_argument("--sharded-index", help="a sharded index of the same clips, already built")
    ap.add_argument("--model-from", help="only the scale table, from this script's JSON output")
    args = ap.parse_args()
    if args.model_from:
        with open(args.model_from, encoding="utf-8") as fh:
            saved = json.load(fh)
        inputs = {  # outputs of before the model took these as inputs too
            "one_actor_round_trip_ms": saved.get("one_actor_round_trip_ms"),
            "cluster_p50_ms": saved["query_sharded_cluster"]["p50_ms"],
            "shards": saved["shards"],
            "workers": saved["workers"],
        } | saved["model_inputs"]
        print(json.dumps(scale_model(inputs), indent=1))
        return 0
    with open(args.queries, encoding="utf-8") as fh:
        rows = [line.rstrip("\n").split("\t") for line in fh if not line.startswith("#")]
    queries = [r[2] for r in rows][: args.warmup + args.limit_queries]
    warm, timed = queries[: args.warmup], queries[args.warmup :]
    out: dict = {"clips_folder": args.clips, "shards": args.shards, "workers": args.workers}
    if not (args.one_index and args.sharded_index):
        shutil.rmtree(args.work, ignore_errors=True)
    one_dir = args.one_index or os.path.join(args.work, "one")
    sh_dir = args.sharded_index or os.path.join(args.work, "sharded")

    if not args.one_index:
        t, c = time.perf_counter(), _cpu_s()
        update_index([args.clips], one_dir)
        out["build_one_s"] = round(time.perf_counter() - t, 1)
        out["build_one_cpu_s"] = round(_cpu_s() - c, 1)
    cluster = start_local(args.workers)
    try:
        client = None
        if not args.sharded_index:
            t = time.perf_counter()
            update_index(
                [args.clips], sh_dir, shards=args.shards, cluster=cluster.scheduler_address
            )
            out["build_sharded_cluster_s"] = round(time.perf_counter() - t, 1)

        with open_index(one_dir) as one:
            out["clips"] = len(one)
            for q in warm:
                one.search(q)
            c = _cpu_s()
            times_one, ans_one = _run(one, timed)
            out["query_one"] = _pcts(times_one) | {"cpu_s": round(_cpu_s() - c, 2)}
        with open_index(sh_dir) as local:
            for q in warm:
                local.search(q)
            c = _cpu_s()
            times_local, ans_local, inside = _timed_in_process(local, timed)
            out["query_sharded_in_process"] = _pcts(times_local) | {
                "cpu_s": round(_cpu_s() - c, 2),
                "shards_own_p50_ms": round(statistics.median(inside) * 1000, 2),
            }

        calls = {"n": 0}
        original = cluster_search.ClusterFanout.call

        def counting(self, *a, **k):  # type: ignore[no-untyped-def]
            calls["n"] += 1
            return original(self, *a, **k)

        cluster_search.ClusterFanout.call = counting  # type: ignore[method-assign]
        with open_index(sh_dir, cluster=cluster.scheduler_address) as remote:
            fan = remote._backend._fan  # noqa: SLF001  (the benchmark looks inside)
            client = fan._client  # noqa: SLF001
            for q in warm:
                remote.search(q)
            calls["n"] = 0
            c, wc = _cpu_s(), client.run(_cpu_s)
            times_remote, ans_remote = _run(remote, timed)
            out["query_sharded_cluster"] = _pcts(times_remote) | {
                "cpu_s": round(_cpu_s() - c, 2),
                "workers_cpu_s": round(
                    sum(v - wc[w] for w, v in client.run(_cpu_s).items()), 2
                ),
            }
            fanouts = calls["n"] / max(1, len(timed))
            t = time.perf_counter()
            for _ in range(50):
                fan.call("is_current")  # a bare round trip to every actor
            rtt = (time.perf_counter() - t) / 50
            t = time.perf_counter()
            for _ in range(50):
                fan.call("is_current", per_shard={0: ()})  # ... and to one
            rtt_one = (time.perf_counter() - t) / 50
            out["worker_rss_mb"] = {
                w: round(v, 1) for w, v in client.run(_rss_mb).items()
            }
        cluster_search.ClusterFanout.call = original  # type: ignore[method-assign]
        out["fanouts_per_query"] = round(fanouts, 2)
        out["fanout_round_trip_ms"] = round(rtt * 1000, 2)
        out["one_actor_round_trip_ms"] = round(rtt_one * 1000, 2)
        out["same_answers_in_process"] = sum(map(_same, ans_one, ans_local))
        out["same_answers_cluster"] = sum(map(_same, ans_one, ans_remote))
        out["queries_timed"] = len(timed)
    finally:
        cluster.close()

    # Scale model (see the docstring), from the in-process sharded run.
    out["model_inputs"] = {
        "per_shard_ms": round(statistics.median(inside) / args.shards * 1000, 3),
        "clips_per_shard": out["clips"] // args.shards,
        "coordinator_ms": round(
            max(0.0, statistics.median(t - i for t, i in zip(times_local, inside, strict=True)))
            * 1000,
            3,
        ),
        "fanouts": out["fanouts_per_query"],
        "round_trip_ms": out["fanout_round_trip_ms"],
        "one_actor_round_trip_ms": out["one_actor_round_trip_ms"],
        "cluster_p50_ms": out["query_sharded_cluster"]["p50_ms"],
        "shards": args.shards,
        "workers": args.workers,
    }
    out["scale_model"] = scale_model(out["model_inputs"])
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
