"""What `--group` adds to a search: each query timed plain and grouped, back to back
in alternating order (so load on a shared machine hits both alike), after a warm-up.

    python benchmarks/group_cost.py --index IDX --queries QUERIES.tsv [--column typo]

QUERIES.tsv as for latency.py.  Prints one JSON object: the medians of both and the
median of the per-query differences, in ms.
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
    args = ap.parse_args()
    col = 1 if args.column == "clean" else 2
    with open(args.queries, encoding="utf-8") as fh:
        rows = [line.rstrip("\n").split("\t") for line in fh if not line.startswith("#")]
    warm, timed = rows[: args.warmup], rows[args.warmup :]
    plain, grouped, diffs = [], [], []
    with open_index(args.index) as idx:
        for row in warm:
            idx.search(row[col])
            idx.search(row[col], group=True)
        for k, row in enumerate(timed):
            took = {}
            for group in (False, True) if k % 2 == 0 else (True, False):
                start = time.perf_counter()
                idx.search(row[col], group=group)
                took[group] = (time.perf_counter() - start) * 1000
            plain.append(took[False])
            grouped.append(took[True])
            diffs.append(took[True] - took[False])
    print(
        json.dumps(
            {
                "queries": len(timed),
                "plain_p50_ms": round(statistics.median(plain), 3),
                "group_p50_ms": round(statistics.median(grouped), 3),
                "added_p50_ms": round(statistics.median(diffs), 3),
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
