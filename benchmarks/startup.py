"""What one whole `clipsearch search Q --index IDX` process costs, and where it goes.

    python benchmarks/startup.py --index IDX --queries Q.tsv [--column typo] [--n 20]
        [--base-tree OLD_CHECKOUT --base-index OLD_IDX] [--fts5 FTS5_DIR] [--phases]

For `--n` different queries of the query file (spread over it, each run once), one
process per query and side, sides alternating query by query: this tree on IDX, an
older tree on its own index (`--base-tree`, `--base-index`: an older tree may need its
own copy of the index, e.g. one without this tree's vocabulary file), and
benchmarks/oneshot.py's FTS5 script (`--fts5`, the folder holding `fts5.db`).  Of each
process its own resource usage (wait4): medians of wall time, CPU time (user + sys:
far less sensitive than wall time to a busy machine) and peak RSS.

`--phases` also runs each query once more in a process that times (CPU, exclusive)
its phases: interpreter start and imports, opening the index, typo corrections, the
engine's per-process columns (derived data, ids, live set), the rest of the query,
hits (stored fields and highlights), output, and click plus the rest.

Processes run with bytecode caching on (`PYTHONPYCACHEPREFIX` under /tmp, even when
the environment says PYTHONDONTWRITEBYTECODE), as an installed package has its .pyc
files: otherwise every process compiles clipsearch's sources again (~50 ms here).
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
TREE = HERE.parent
PYCACHE = os.path.join(tempfile.gettempdir(), "clipsearch-bench-pycache")

PHASES = r"""
import gc, io, json, os, sys, time
gc.disable()  # as clipsearch.cli.run, the process entry, imports
t_import = time.process_time()
import clipsearch.cli.commands as commands
from clipsearch.index import columns, derived
from clipsearch.search import corrections, engine
t_import = time.process_time()
acc, stack = {}, []

def wrap(owner, name, phase):
    real = getattr(owner, name)
    def timed(*args, **kwargs):
        start = time.process_time()
        stack.append(0.0)
        try:
            return real(*args, **kwargs)
        finally:
            spent, inner = time.process_time() - start, stack.pop()
            acc[phase] = acc.get(phase, 0.0) + spent - inner
            if stack:
                stack[-1] += spent
    setattr(owner, name, timed)

wrap(engine.ClipIndex, "__init__", "open")
wrap(engine.ClipIndex, "run", "query")
wrap(corrections.Corrector, "corrections", "corrections")
wrap(corrections.Corrector, "did_you_mean", "corrections")
wrap(derived, "load", "columns")
for name in ("clip_id", "facet", "live_docs", "published", "quality"):
    if hasattr(columns.Columns, name):
        wrap(columns.Columns, name, "columns")
wrap(engine.ClipIndex, "_hit", "hits")
wrap(commands, "print_result", "output")
sys.argv = ["clipsearch", "search", sys.argv[2], "--index", sys.argv[1]]
real_stdout, sys.stdout = sys.stdout, io.StringIO()
def leave(code):
    raise SystemExit(code)
os._exit = leave  # commands.run ends a search with os._exit: report first
try:
    commands.run()
except SystemExit:
    pass
sys.stdout = real_stdout
total = time.process_time()
acc["import"] = t_import
acc["click+rest"] = total - sum(acc.values())
acc["total"] = total
print(json.dumps(acc))
"""
PHASE_ORDER = [
    "import",
    "open",
    "corrections",
    "columns",
    "query",
    "hits",
    "output",
    "click+rest",
    "total",
]
PHASE_NAMES = {
    "import": "interpreter start + imports",
    "open": "open the index",
    "corrections": "typo corrections, did you mean",
    "columns": "engine: per-process columns (derived data, ids, live set)",
    "query": "engine: the rest of the query",
    "hits": "hits: stored fields, highlights",
    "output": "output",
    "click+rest": "click, the rest",
    "total": "total",
}


def env_for(tree: Path | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = PYCACHE
    if tree is not None:
        env["PYTHONPATH"] = str(tree / "src")
    return env


def queries(path: str, column: str, n: int) -> list[str]:
    with open(path, encoding="utf-8") as fh:
        header = fh.readline().lstrip("#").split()
        rows = [line.rstrip("\n").split("\t") for line in fh if line.strip()]
    col = header.index(column)
    step = max(1, len(rows) // n)
    return [rows[i][col] for i in range(0, step * n, step)][:n]


def timed(cmd: list[str], env: dict[str, str], cwd: str) -> tuple[float, float, float]:
    """(wall s, user+sys s, peak RSS MB) of one process: its own resource usage from
    wait4 (microseconds; GNU time's %U and %S round to 10 ms, a tenth of a search)."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    assert proc.stderr is not None
    err = proc.stderr.read()
    proc.stderr.close()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"failed ({code}): {' '.join(cmd)}\n{err[-500:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--index", required=True)
    ap.add_argument("--queries", required=True)
    ap.add_argument("--column", default="typo", help="query column: clean or typo")
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--base-tree", type=Path)
    ap.add_argument("--base-index")
    ap.add_argument("--fts5", help="folder of benchmarks' FTS5 index (fts5.db)")
    ap.add_argument("--phases", action="store_true")
    args = ap.parse_args()
    qs = queries(args.queries, args.column, args.n)
    py = sys.executable
    search = [py, "-m", "clipsearch", "search"]
    sides: dict[str, tuple[list[str], str, dict[str, str]]] = {
        "head": (search, args.index, env_for(TREE))
    }
    if args.base_tree:
        sides["base"] = (search, args.base_index or args.index, env_for(args.base_tree))
    if args.fts5:
        sides["fts5"] = ([py, str(HERE / "oneshot.py"), "fts5", args.fts5], "", env_for(None))
    names = list(sides)
    for name in names:  # warm the bytecode cache and the page cache, untimed
        cmd, index, env = sides[name]
        timed([*cmd, qs[0], *(["--index", index] if index else [])], env, str(HERE))
    got: dict[str, list[tuple[float, float, float]]] = {n: [] for n in names}
    for i, q in enumerate(qs):
        for name in names[i % len(names) :] + names[: i % len(names)]:
            cmd, index, env = sides[name]
            full = [*cmd, q] if name == "fts5" else [*cmd, q, "--index", index]
            got[name].append(timed(full, env, str(HERE)))
    out: dict[str, object] = {"queries": len(qs), "column": args.column, "load": os.getloadavg()}
    for name, runs in got.items():
        out[name] = {
            "wall_s": round(statistics.median(r[0] for r in runs), 3),
            "cpu_s": round(statistics.median(r[1] for r in runs), 3),
            "rss_mb": round(statistics.median(r[2] for r in runs), 1),
        }
        print(
            f"{name:5} median of {len(runs)}: wall {out[name]['wall_s']:.3f} s, "  # type: ignore[index]
            f"user+sys {out[name]['cpu_s']:.3f} s, peak RSS {out[name]['rss_mb']:.0f} MB"  # type: ignore[index]
        )
    if args.phases:
        per: dict[str, list[float]] = {}
        for q in qs:
            proc = subprocess.run(
                [py, "-c", PHASES, args.index, q],
                env=env_for(TREE),
                capture_output=True,
                text=True,
                check=True,
            )
            for k, v in json.loads(proc.stdout).items():
                per.setdefault(k, []).append(v * 1000)
        print("phases of one process (CPU ms, median over the queries):")
        out["phases_ms"] = {}
        for k in PHASE_ORDER:
            value = statistics.median(per.get(k, [0.0]))
            out["phases_ms"][k] = round(value, 1)  # type: ignore[index]
            print(f"  {PHASE_NAMES[k]:58} {value:7.1f}")
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
