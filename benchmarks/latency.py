"""What a user waits for: API searches with the defaults (highlights, typo tolerance,
facet counts), each query run once, after a warm-up on other queries.

    python benchmarks/latency.py --index IDX --queries QUERIES.tsv [--column typo]
        [--histogram week] [--group]

QUERIES.tsv is make_queries.py output (qid, clean, typo, target_id); the first
`--warmup` rows only warm the process (per-snapshot arrays, the typo index) and are not
timed, so no timed query has been seen before.  Prints one JSON object: p50/p95 in ms,
and the median and mean CPU time per query (steadier than wall time on a busy machine).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from clipsearch import open_index


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index", required=True)
    ap.add_argument("--queries", required=True)
    ap.add_argument("--column", choices=("clean", "typo"), default="typo")
    ap.add_argument("--warmup", type=int, default=30)
    ap.add_argument("--histogram", choices=("day", "week", "month", "year"), default=None)
    ap.add_argument("--group", action="store_true", help="One row per story (search --group).")
    args = ap.parse_args()
    col = 1 if args.column == "clean" else 2
    with open(args.queries, encoding="utf-8") as fh:
        rows = [line.rstrip("\n").split("\t") for line in fh if not line.startswith("#")]
    warm, timed = rows[: args.warmup], rows[args.warmup :]
    with open_index(args.index) as idx:
        for row in warm:
            idx.search(row[col], histogram=args.histogram, group=args.group)
        times = []
        cpu = []  # this process's CPU time per query (user + sys): load-independent
        for row in timed:
            start, cpu_start = time.perf_counter(), time.process_time()
            idx.search(row[col], histogram=args.histogram, group=args.group)
            times.append((time.perf_counter() - start) * 1000)
            cpu.append((time.process_time() - cpu_start) * 1000)
    times.sort()
    cpu.sort()
    print(
        json.dumps(
            {
                "queries": len(times),
                "column": args.column,
                "histogram": args.histogram,
                "group": args.group,
                "p50_ms": round(statistics.median(times), 3),
                "p95_ms": round(times[int(0.95 * (len(times) - 1))], 3),
                "cpu_p50_ms": round(statistics.median(cpu), 3),
                "cpu_p95_ms": round(cpu[int(0.95 * (len(cpu) - 1))], 3),
                "cpu_mean_ms": round(statistics.fmean(cpu), 3),
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
