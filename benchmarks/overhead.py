"""What typo tolerance and facet counting each add to a query, and MRR with and without.

    python benchmarks/overhead.py --index IDX --queries QUERIES.tsv

QUERIES.tsv is make_queries.py output (qid, clean, typo, target_id).  Every query is
run once to warm the index (facet arrays, typo index, caches), then three times per
mode; the best of three is kept per query and p50/p95 are taken over queries.
"""

from __future__ import annotations

import argparse
import statistics
import time

from clipsearch import open_index

MODES = [
    ("clean --exact, no facets", 1, {"exact": True, "facets": False}),
    ("clean --exact, facets", 1, {"exact": True}),
    ("clean tolerant, no facets", 1, {"facets": False}),
    ("clean tolerant, facets", 1, {}),
    ("typo --exact, facets", 2, {"exact": True}),
    ("typo tolerant, facets", 2, {}),
]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index", required=True)
    ap.add_argument("--queries", required=True)
    args = ap.parse_args()
    with open(args.queries, encoding="utf-8") as fh:
        rows = [line.rstrip("\n").split("\t") for line in fh if not line.startswith("#")]
    idx = open_index(args.index)
    for row in rows:
        idx.search(row[1])
        idx.search(row[2])
    for name, col, options in MODES:
        times, rr = [], 0.0
        for row in rows:
            best = float("inf")
            for _ in range(3):
                start = time.perf_counter()
                res = idx.search(row[col], **options)
                best = min(best, time.perf_counter() - start)
            times.append(best * 1000)
            ids = [h.id for h in res.hits]
            rr += 1 / (ids.index(row[3]) + 1) if row[3] in ids else 0.0
        times.sort()
        p95 = times[int(0.95 * (len(times) - 1))]
        print(
            f"{name:27} p50 {statistics.median(times):5.2f} ms  p95 {p95:5.2f} ms  "
            f"MRR@10 {rr / len(rows):.3f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
