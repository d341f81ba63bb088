"""clipsearch against SQLite FTS5 and Tantivy on the same clips, timing what users run.

    python benchmarks/run.py --clips DIR --queries Q.tsv --work DIR --out RESULT.json
        [--steps build,query,cli] [--cli-queries 100] [--engines ...]
    python benchmarks/run.py --cacm DIR --work DIR --out RESULT.json   # MAP / P@30
    python benchmarks/report.py RESULT.json                             # the tables again

Steps (each writes its part of RESULT.json, so a later run can redo one step on the
indexes a former run left in --work):

* build: 99% of the clips (a seeded shuffle, hard-linked into WORK/clips) built by
  `clipsearch index` (a whole process, parsing included) and by the peers (clipsearch's
  clip reader in a fresh process, then the peer's indexing in another); clipsearch's
  unchanged re-run; then the last 1% added by every engine.  Every clip file is read
  once before the first timed build, so no engine pays for a cold page cache that
  the engines after it find warm.
* query: every (engine, mode) in a fresh process: held-out warm-up queries, then every
  timed query once.  A second pass over the same queries, in the facets mode, is
  reported apart as a warm-cache row.
* cli: one whole process per query and engine, alternating: `clipsearch search Q`
  (human output: highlights, facets, typo tolerance) beside `oneshot.py` for the peers.

See benchmarks/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from engines import ENGINES, INDEXED, index_of  # noqa: E402
from procmem import TreeMemory  # noqa: E402
from report import print_report  # noqa: E402

CLIP_SUFFIXES = (".md", ".txt", ".markdown")  # what clipsearch reads (clipsearch.ingest)
PEERS = ("fts5", "tantivy")
MODES = {  # name: (query column, facets)
    "facets": ("clean", True),  # the headline: top 10 with both facet counts
    "typo": ("typo", True),  # one typo per query, top 10 with both facet counts
    "plain": ("clean", False),  # top 10, no facet counts
}
ADD_SHARE = 0.01


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def load() -> dict[str, Any]:
    """Load averages now (1, 5, 15 min), as `uptime` prints them."""
    one, five, fifteen = os.getloadavg()
    return {"1m": round(one, 2), "5m": round(five, 2), "15m": round(fifteen, 2)}


def tree_env() -> dict[str, str]:
    """The environment that makes every process import clipsearch from this tree, with
    bytecode caching on (an installed package has its .pyc files; without them every
    CLI process compiles clipsearch's sources again, ~45 ms of CPU here)."""
    path = os.environ.get("PYTHONPATH")
    src = str(REPO / "src")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.setdefault(
        "PYTHONPYCACHEPREFIX", os.path.join(tempfile.gettempdir(), "clipsearch-bench-pycache")
    )
    return {**env, "PYTHONPATH": src + (os.pathsep + path if path else "")}


def versions() -> dict[str, Any]:
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "sqlite": sqlite3.sqlite_version,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    for name, dist in (("tantivy", "tantivy"), ("whoosh", "whoosh-reloaded")):
        try:
            from importlib.metadata import version

            info[name] = version(dist)
        except Exception:
            info[name] = None
    rev = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    info["git"] = rev.stdout.strip() or None
    return info


def clip_files(root: str) -> list[str]:
    """Clip files under root, as clipsearch finds them (suffixes; hidden entries skipped)."""
    found = []
    for d, dirs, files in os.walk(root):
        dirs[:] = sorted(x for x in dirs if not x.startswith("."))
        found += [
            os.path.join(d, f)
            for f in sorted(files)
            if f.lower().endswith(CLIP_SUFFIXES) and not f.startswith(".")
        ]
    return found


def warm_page_cache(paths: Sequence[str]) -> int:
    """Read every file once (bytes read): the first engine to build would otherwise
    read them from disk and every later one from the page cache."""
    total = 0
    for path in paths:
        with open(path, "rb") as fh:
            total += len(fh.read())
    return total


def link_into(paths: Sequence[str], root: str, dest: str) -> list[str]:
    """Hard links to `paths` under `dest`, same relative paths (copies across disks)."""
    made = []
    for path in paths:
        target = os.path.join(dest, os.path.relpath(path, root))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        try:
            os.link(path, target)
        except FileExistsError:
            pass
        except OSError:
            shutil.copy2(path, target)
        made.append(target)
    return made


class Queries:
    """make_queries.py rows (qid, clean, typo, target_id); the last `warmup` rows only
    warm a process up and are never timed."""

    def __init__(self, path: str, warmup: int, limit: int | None = None) -> None:
        rows = []
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                if line.strip() and not line.startswith("#"):
                    parts = line.rstrip("\n").split("\t")
                    if len(parts) < 4:
                        sys.exit(f"{path}: expected qid, clean, typo, target_id: {line!r}")
                    rows.append(parts[:4])
        if len(rows) <= 2 * warmup:
            sys.exit(f"{path}: {len(rows)} queries; need more than twice --warmup ({warmup})")
        timed, warm = rows[:-warmup], rows[-warmup:]
        if limit:
            timed = timed[:limit]
        self.path = path
        self.clean = [r[1] for r in timed]
        self.typo = [r[2] for r in timed]
        self.target = [r[3] for r in timed]
        self.warm_clean = [r[1] for r in warm]
        self.warm_typo = [r[2] for r in warm]


# ----------------------------------------------------------------------------- processes


class Steps:
    """Fresh processes: worker.py steps (JSON in, JSON out) and timed commands."""

    def __init__(self, work: str) -> None:
        self.work = os.path.join(work, "steps")
        os.makedirs(self.work, exist_ok=True)
        self.n = 0

    def worker(self, spec: dict[str, Any]) -> dict[str, Any]:
        self.n += 1
        spec_path = os.path.join(self.work, f"{self.n}.json")
        out_path = os.path.join(self.work, f"{self.n}.out.json")
        with open(spec_path, "w", encoding="utf-8") as fh:
            json.dump(spec, fh)
        proc = subprocess.run(
            [sys.executable, str(HERE / "worker.py"), spec_path, out_path],
            cwd=str(HERE),
            env=tree_env(),
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
            raise RuntimeError(f"{spec.get('engine', '')} {spec['action']} failed:\n{tail}")
        with open(out_path, encoding="utf-8") as fh:
            return json.load(fh)


def children_cpu_s() -> float:
    """User + system CPU seconds of every process this one has waited for."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_measured(cmd: Sequence[str], ok: Sequence[int] = (0,)) -> dict[str, Any]:
    """Wall time of one whole process, its CPU time (and its children's), and the peak
    summed RSS of it and its children."""
    c0, t0 = children_cpu_s(), time.perf_counter()
    proc = subprocess.Popen(
        list(cmd), env=tree_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    mem = TreeMemory(proc.pid)
    mem.start()
    out, err = proc.communicate()
    seconds, cpu_s = time.perf_counter() - t0, children_cpu_s() - c0
    mem.finish()
    if proc.returncode not in ok:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}:\n{err[-2000:]}")
    return {
        "seconds": seconds,
        "cpu_s": cpu_s,
        "peak_mem_mb": mem.peak,
        "peak_single_mb": mem.peak_single,
        "max_processes": mem.max_procs,
        "returncode": proc.returncode,
        "stdout": out,
    }


def dir_size(path: str) -> int:
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)


# ----------------------------------------------------------------------------- build


def clipsearch_index(clips_dir: str, index_dir: str) -> dict[str, Any]:
    """`clipsearch index CLIPS --index IDX --json` as one measured process (exit 1 =
    some bad clips skipped, the rest committed)."""
    cmd = [sys.executable, "-m", "clipsearch", "index", clips_dir, "--index", index_dir, "--json"]
    r = run_measured(cmd, ok=(0, 1))
    try:
        r["summary"] = json.loads(r.pop("stdout"))
    except ValueError:
        r["summary"] = None
    r["size_bytes"] = dir_size(index_dir)
    return r


def step_build(args: argparse.Namespace, res: dict[str, Any], steps: Steps) -> None:
    work = args.work
    files = clip_files(args.clips)
    order = list(range(len(files)))
    random.Random(args.seed).shuffle(order)
    n_add = max(1, round(len(files) * ADD_SHARE))
    base_files = sorted(files[i] for i in order[:-n_add])
    add_files = sorted(files[i] for i in order[-n_add:])
    clips_dir = os.path.join(work, "clips")
    for folder in (clips_dir, os.path.join(work, "idx")):
        shutil.rmtree(folder, ignore_errors=True)
    log(f"linking {len(base_files)} of {len(files)} clip files into {clips_dir}")
    base_links = link_into(base_files, args.clips, clips_dir)
    out: dict[str, Any] = {"files": len(files), "base_files": len(base_files)}
    t0 = time.perf_counter()
    out["warm_bytes"] = warm_page_cache(files)
    out["warm_s"] = time.perf_counter() - t0
    out["add_files"] = len(add_files)
    out["load_before"] = load()
    engines: dict[str, Any] = {}

    log("build clipsearch (clipsearch index) ...")
    idx = os.path.join(work, "idx", "clipsearch")
    b = clipsearch_index(clips_dir, idx)
    log(f"  {b['seconds']:.1f}s, peak {b['peak_mem_mb']:.0f} MiB")
    log("clipsearch unchanged re-run ...")
    again = clipsearch_index(clips_dir, idx)
    engines["clipsearch"] = {"build": b, "rerun": again}

    peers = [name for name in PEERS if name in args.index_engines]
    pkl = os.path.join(work, "base.pkl")
    if peers:
        log("parse the clips for the peers (clipsearch's clip reader) ...")
        parsed = steps.worker({"action": "parse", "files": base_links, "clips_pickle": pkl})
    for name in peers:
        log(f"build {name} from the parsed clips ...")
        built = steps.worker(
            {
                "action": "build",
                "engine": name,
                "index_dir": os.path.join(work, "idx", name),
                "clips_pickle": pkl,
            }
        )
        built["parse_s"] = parsed["seconds"]
        built["parsed"] = parsed["count"]
        built["build_s"] = parsed["seconds"] + built["seconds"]
        built["build_cpu_s"] = parsed["cpu_s"] + built["cpu_s"]
        log(f"  parse {parsed['seconds']:.1f}s + index {built['seconds']:.1f}s")
        engines[name] = {"build": built}

    log(f"adding {len(add_files)} clips (1%) ...")
    add_links = link_into(add_files, args.clips, clips_dir)
    engines["clipsearch"]["add"] = clipsearch_index(clips_dir, idx)
    pkl = os.path.join(work, "add.pkl")
    parsed = steps.worker({"action": "parse", "files": add_links, "clips_pickle": pkl})
    for name in PEERS:
        if name not in engines:
            continue
        added = steps.worker(
            {
                "action": "add",
                "engine": name,
                "index_dir": os.path.join(work, "idx", name),
                "clips_pickle": pkl,
            }
        )
        added["parse_s"] = parsed["seconds"]
        added["update_s"] = parsed["seconds"] + added["seconds"]
        engines[name]["add"] = added
    for stale in ("base.pkl", "add.pkl"):
        Path(work, stale).unlink(missing_ok=True)
    out["engines"] = engines
    out["load_after"] = load()
    res["build"] = out


# ----------------------------------------------------------------------------- query


def step_query(args: argparse.Namespace, res: dict[str, Any], steps: Steps) -> None:
    qs = Queries(args.queries, args.warmup, args.n_queries)
    out: dict[str, Any] = {"queries": len(qs.clean), "warmup": args.warmup}
    out["load_before"] = load()
    modes: dict[str, Any] = {}
    for mode, (column, facets) in MODES.items():
        modes[mode] = {}
        for name in args.engines:
            log(f"query {mode} {name} ...")
            spec = {
                "action": "query",
                "engine": name,
                "index_dir": os.path.join(args.work, "idx", index_of(name)),
                "warmup": getattr(qs, f"warm_{column}"),
                "queries": getattr(qs, column),
                "facets": facets,
                "limit": 10,
                "warm_pass": mode == "facets",
            }
            try:
                modes[mode][name] = steps.worker(spec)
            except RuntimeError as exc:
                log(str(exc))
                modes[mode][name] = {"failed": str(exc)}
    out["modes"] = modes
    out["targets"] = qs.target
    out["load_after"] = load()
    res["query"] = out


# ----------------------------------------------------------------------------- cli


def cli_command(name: str, index_dir: str, query: str) -> list[str]:
    if name == "clipsearch":
        return [sys.executable, "-m", "clipsearch", "search", query, "--index", index_dir]
    return [sys.executable, str(HERE / "oneshot.py"), name, index_dir, query]


def peak_rss_of(cmd: Sequence[str]) -> float | None:
    """Peak RSS (MiB) of one process, by GNU time's %M (the child's own high-water mark:
    time itself is small, so no large parent's mark is inherited)."""
    time_bin = shutil.which("time", path="/usr/bin:/bin")
    if not time_bin:
        return None
    proc = subprocess.run(
        [time_bin, "-f", "%M", *cmd], env=tree_env(), capture_output=True, text=True, check=False
    )
    try:
        return int(proc.stderr.strip().splitlines()[-1]) / 1024
    except (ValueError, IndexError):
        return None


def step_cli(args: argparse.Namespace, res: dict[str, Any]) -> None:
    qs = Queries(args.queries, args.warmup)
    queries = qs.clean[: args.cli_queries]
    names = [
        n for n in ("clipsearch", "fts5", "fts5-all", "tantivy", "tantivy-all") if n in args.engines
    ]
    out: dict[str, Any] = {"queries": len(queries), "load_before": load()}
    seconds: dict[str, list[float]] = {n: [] for n in names}
    cpu: dict[str, list[float]] = {n: [] for n in names}
    for i, q in enumerate(queries):
        if i % 20 == 0:
            log(f"cli query {i + 1}/{len(queries)} ...")
        for name in names:  # alternating, so load changes hit every engine alike
            cmd = cli_command(name, os.path.join(args.work, "idx", index_of(name)), q)
            c0, t0 = children_cpu_s(), time.perf_counter()
            proc = subprocess.run(cmd, env=tree_env(), capture_output=True, check=False)
            seconds[name].append(time.perf_counter() - t0)
            cpu[name].append(children_cpu_s() - c0)
            if proc.returncode != 0:
                raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr!r}")
    out["seconds"] = seconds
    out["cpu_s"] = cpu
    rss: dict[str, list[float]] = {n: [] for n in names}
    for q in queries[: args.mem_queries]:
        for name in names:
            mb = peak_rss_of(cli_command(name, os.path.join(args.work, "idx", index_of(name)), q))
            if mb is not None:
                rss[name].append(mb)
    out["peak_rss_mb"] = rss
    out["load_after"] = load()
    res["cli"] = out


# ----------------------------------------------------------------------------- CACM


def step_cacm(args: argparse.Namespace, res: dict[str, Any], steps: Steps) -> None:
    """Every indexed engine on CACM, the 64 topics once each (limit 1000), MAP and P@30."""
    from clipsearch.evaluate import evaluate, read_qrels, read_queries

    data = Path(args.cacm_data)
    topics = read_queries(data / "queries.tsv")
    qrels = read_qrels(data / "qrels.txt")
    qids = list(topics)
    work = args.work
    shutil.rmtree(os.path.join(work, "idx"), ignore_errors=True)
    out: dict[str, Any] = {"topics": len(qids), "load_before": load(), "engines": {}}
    builds = {"clipsearch": clipsearch_index(args.cacm, os.path.join(work, "idx", "clipsearch"))}
    pkl = os.path.join(work, "cacm.pkl")
    steps.worker({"action": "parse", "files": clip_files(args.cacm), "clips_pickle": pkl})
    for name in PEERS:
        builds[name] = steps.worker(
            {
                "action": "build",
                "engine": name,
                "index_dir": os.path.join(work, "idx", name),
                "clips_pickle": pkl,
            }
        )
    Path(pkl).unlink(missing_ok=True)
    for name in ("clipsearch", *PEERS):
        q = steps.worker(
            {
                "action": "query",
                "engine": name,
                "index_dir": os.path.join(work, "idx", name),
                "queries": [topics[t] for t in qids],
                "facets": name == "clipsearch",  # clipsearch as a user runs it
                "limit": 1000,
            }
        )["cold"]
        run = dict(zip(qids, q["ids"], strict=True))
        ev = evaluate(run, qrels, depth=1000, precision_ks=(10, 30), mrr_k=10)
        out["engines"][name] = {**ev.as_dict(), "ms": q["ms"], "errors": q["error_count"]}
    out["load_after"] = load()
    res["cacm"] = out


# ----------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--clips", help="clip folder (read only: the harness links 99%% of it)")
    ap.add_argument("--queries", help="make_queries.py TSV: qid, clean, typo, target_id")
    ap.add_argument("--cacm", metavar="DIR", help="converted CACM clips: MAP / P@30 instead")
    ap.add_argument("--cacm-data", default=str(REPO.parent / "shared/data/raw/cacm"))
    ap.add_argument("--work", required=True, help="folder for clip links and indexes (kept)")
    ap.add_argument("--out", required=True, help="results JSON (updated step by step)")
    ap.add_argument("--steps", default="build,query,cli", help="comma list of build,query,cli")
    ap.add_argument("--engines", default=",".join(ENGINES), help=f"of {', '.join(ENGINES)}")
    ap.add_argument("--warmup", type=int, default=30, help="last rows: warm-up, not timed")
    ap.add_argument("--n-queries", type=int, default=0, help="timed queries (0: all)")
    ap.add_argument("--cli-queries", type=int, default=100, help="whole processes per engine")
    ap.add_argument("--mem-queries", type=int, default=10, help="of those, peak RSS measured")
    ap.add_argument("--seed", type=int, default=7, help="which 1%% is added last")
    args = ap.parse_args(argv)
    args.engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    for e in args.engines:
        if e not in ENGINES:
            ap.error(f"unknown engine {e!r}")
    args.index_engines = [e for e in INDEXED if any(index_of(n) == e for n in args.engines)]
    os.makedirs(args.work, exist_ok=True)
    out = Path(args.out)
    res: dict[str, Any] = json.loads(out.read_text()) if out.exists() else {}
    steps = Steps(args.work)

    def save() -> None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(res, indent=1, default=str) + "\n", encoding="utf-8")

    res["versions"] = versions()
    res.setdefault("commands", []).append(" ".join(["benchmarks/run.py", *sys.argv[1:]]))
    if args.cacm:
        step_cacm(args, res, steps)
        save()
    else:
        if not args.clips or not args.queries:
            ap.error("--clips and --queries are needed (or --cacm)")
        res["clips"], res["queries_file"] = args.clips, args.queries
        for step in [s.strip() for s in args.steps.split(",") if s.strip()]:
            if step == "build":
                step_build(args, res, steps)
            elif step == "query":
                step_query(args, res, steps)
            elif step == "cli":
                step_cli(args, res)
            else:
                ap.error(f"unknown step {step!r}")
            save()
    print_report(res)
    print(f"\nresults: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
