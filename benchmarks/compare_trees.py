"""Two source trees of clipsearch timed in the same run, alternating, on one index:
API latency (benchmarks/latency.py, each query once) and whole CLI processes
(`python -m clipsearch search Q`, one process per query).  Reports medians of each
side and the ratio HEAD / BASE, so a refactor can show it costs nothing.

    python benchmarks/compare_trees.py --base /path/to/old/checkout --index IDX \\
        --queries QUERIES.tsv [--rounds 3] [--cli-queries 15]

The index must be readable by both trees (same on-disk format).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _env(tree: Path) -> dict[str, str]:
    """Imports from `tree`, with bytecode caching on (as an installed package)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    cache = os.path.join(tempfile.gettempdir(), "clipsearch-bench-pycache")
    return {
        **env,
        "PYTHONPYCACHEPREFIX": env.get("PYTHONPYCACHEPREFIX", cache),
        "PYTHONPATH": str(tree / "src"),
    }


def _api(tree: Path, args: argparse.Namespace) -> float:
    out = subprocess.run(
        [
            sys.executable,
            str(HERE / "latency.py"),
            "--index",
            args.index,
            "--queries",
            args.queries,
        ],
        env=_env(tree),
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out)["p50_ms"]


def _cli(tree: Path, args: argparse.Namespace, queries: list[str]) -> float:
    times = []
    for q in queries:
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "clipsearch", "search", q, "--index", args.index],
            env=_env(tree),
            check=True,
            capture_output=True,
        )
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", required=True, type=Path)
    ap.add_argument("--head", type=Path, default=HERE.parent)
    ap.add_argument("--index", required=True)
    ap.add_argument("--queries", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--cli-queries", type=int, default=15)
    args = ap.parse_args()
    with open(args.queries, encoding="utf-8") as fh:
        rows = [ln.rstrip("\n").split("\t") for ln in fh if not ln.startswith("#")]
    cli_queries = [r[2] for r in rows[-args.cli_queries :]]
    results: dict[str, dict[str, list[float]]] = {
        side: {"api_p50_ms": [], "cli_median_ms": []} for side in ("base", "head")
    }
    load_before = os.getloadavg()[0]
    for _ in range(args.rounds):
        for side, tree in (("base", args.base), ("head", args.head)):
            results[side]["api_p50_ms"].append(_api(tree, args))
            results[side]["cli_median_ms"].append(_cli(tree, args, cli_queries))
    report: dict[str, object] = {"load_before_after": [load_before, os.getloadavg()[0]]}
    for metric in ("api_p50_ms", "cli_median_ms"):
        base = statistics.median(results["base"][metric])
        head = statistics.median(results["head"][metric])
        report[metric] = {
            "base": round(base, 3),
            "head": round(head, 3),
            "ratio": round(head / base, 3),
        }
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
