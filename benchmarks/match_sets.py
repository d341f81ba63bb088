"""Match sets as sorted docnum arrays or as boolean masks over the collection: which
is faster for the operations a query does (intersect, unite, subtract, count), at a
collection size.  The query path uses sorted arrays (index/docsets.py).

    python benchmarks/match_sets.py [--docs 20000 155000] [--repeat 200]

Sizes of the sets are shares of the collection: a common word (30%), a usual one
(3%), a rare one (0.1%).  Prints microseconds per operation (CPU time) per size."""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from clipsearch.index.docsets import intersect, member, sorted_unique


def _cpu_us(fn, repeat: int) -> float:
    start = time.process_time()
    for _ in range(repeat):
        fn()
    return round((time.process_time() - start) / repeat * 1e6, 1)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, nargs="+", default=[20_000, 155_000])
    ap.add_argument("--repeat", type=int, default=200)
    args = ap.parse_args()
    rng = np.random.default_rng(8)
    out = {}
    for n in args.docs:
        sets = {
            share: np.sort(rng.choice(n, max(1, int(n * share)), replace=False)).astype(np.int64)
            for share in (0.3, 0.03, 0.001)
        }
        masks = {}
        for share, docs in sets.items():
            m = np.zeros(n, dtype=bool)
            m[docs] = True
            masks[share] = m
        row = {}
        for a, b in ((0.3, 0.03), (0.03, 0.001), (0.3, 0.001)):
            x, y, mx, my = sets[a], sets[b], masks[a], masks[b]
            row[f"and {a}/{b}"] = {
                "sorted": _cpu_us(lambda x=x, y=y: intersect(x, y), args.repeat),
                "mask": _cpu_us(lambda mx=mx, my=my: np.flatnonzero(mx & my), args.repeat),
            }
            row[f"or {a}/{b}"] = {
                "sorted": _cpu_us(
                    lambda x=x, y=y: sorted_unique(np.concatenate([x, y])), args.repeat
                ),
                "mask": _cpu_us(lambda mx=mx, my=my: np.flatnonzero(mx | my), args.repeat),
            }
            row[f"not {a}/{b}"] = {
                "sorted": _cpu_us(lambda x=x, y=y: x[~member(x, y)], args.repeat),
                "mask": _cpu_us(lambda mx=mx, my=my: np.flatnonzero(mx & ~my), args.repeat),
            }
            # a mask must first be made from a posting list: what a query pays per term
            row[f"to mask {b}"] = {
                "sorted": 0.0,
                "mask": _cpu_us(
                    lambda y=y, n=n: np.zeros(n, bool).__setitem__(y, True), args.repeat
                ),
            }
        out[n] = row
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
