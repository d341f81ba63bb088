"""What typo tolerance and facet counting each add to a query, and MRR with and without.

    python benchmarks/overhead.py --index IDX --queries QUERIES.tsv [--warmup 30]

QUERIES.tsv is make_queries.py output (qid, clean, typo, target_id).  Each mode runs in
a fresh process (so no mode's term cache answers another's queries): the last
`--warmup` rows warm it up untimed, then every other query is timed once; p50/p95 are
over queries.  Highlights stay on, as for every user.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

MODES = [
    ("clean --exact, no facets", 1, {"exact": True, "facets": False}),
    ("clean --exact, facets", 1, {"exact": True}),
    ("clean tolerant, no facets", 1, {"facets": False}),
    ("clean tolerant, facets", 1, {}),
    ("typo --exact, facets", 2, {"exact": True}),
    ("typo tolerant, facets", 2, {}),
]


def percentile(values: list[float], q: float) -> float:
    xs = sorted(values)
    pos = (len(xs) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def one_mode(args: argparse.Namespace, rows: list[list[str]]) -> dict[str, float]:
    """This process: one mode, each timed query once."""
    from clipsearch import open_index

    _name, col, options = MODES[args.mode]
    warm, timed = rows[-args.warmup :], rows[: -args.warmup]
    times, rr = [], 0.0
    with open_index(args.index) as idx:
        for row in warm:
            idx.search(row[col], **options)
        for row in timed:
            start = time.perf_counter()
            res = idx.search(row[col], **options)
            times.append((time.perf_counter() - start) * 1000)
            ids = [h.id for h in res.hits]
            rr += 1 / (ids.index(row[3]) + 1) if row[3] in ids else 0.0
    return {
        "p50_ms": percentile(times, 0.5),
        "p95_ms": percentile(times, 0.95),
        "mrr10": rr / len(timed),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index", required=True)
    ap.add_argument("--queries", required=True)
    ap.add_argument("--warmup", type=int, default=30)
    ap.add_argument("--mode", type=int, help=argparse.SUPPRESS)  # internal: one mode
    args = ap.parse_args()
    with open(args.queries, encoding="utf-8") as fh:
        rows = [line.rstrip("\n").split("\t") for line in fh if not line.startswith("#")]
    if len(rows) <= 2 * args.warmup:
        sys.exit(f"{args.queries}: too few queries for --warmup {args.warmup}")
    if args.mode is not None:
        print(json.dumps(one_mode(args, rows)))
        return 0
    print(f"load average {os.getloadavg()[0]:.2f} (1 min)")
    for i, (name, _col, _options) in enumerate(MODES):
        out = subprocess.run(
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "--index",
                args.index,
                "--queries",
                args.queries,
                "--warmup",
                str(args.warmup),
                "--mode",
                str(i),
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        r = json.loads(out)
        print(
            f"{name:27} p50 {r['p50_ms']:6.2f} ms  p95 {r['p95_ms']:6.2f} ms  "
            f"MRR@10 {r['mrr10']:.3f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
