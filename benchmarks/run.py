"""clipsearch against SQLite FTS5 and Tantivy, on the same parsed clips, in one run.

    python benchmarks/run.py [--clips DIR] [--queries FILE] [--out FILE]   # standard
    python benchmarks/run.py --scale [--clips DIR] [--sizes 5000,20000,80000,all]
    python benchmarks/run.py --cacm [DIR]                                  # MAP / P@30

See benchmarks/README.md for what is measured and how.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pickle
import platform
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SHARED_TOOLS = REPO.parent / "shared" / "tools"
CACM_DATA = REPO.parent / "shared" / "data" / "raw" / "cacm"
ANSERINI_BM25 = {"map": 0.3123, "P@30": 0.1942}
BASELINE = "fts5"

sys.path.insert(0, str(HERE))
from engines import ENGINES  # noqa: E402

from clipsearch.evaluate import (  # noqa: E402
    evaluate,
    known_item_qrels,
    read_qrels,
    read_queries,
    write_run,
)
from clipsearch.ingest.clip import CLIP_SUFFIXES, Clip, read_clip  # noqa: E402

# ----------------------------------------------------------------------------- helpers


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def pct(values: Sequence[float], q: float) -> float | None:
    """Percentile by linear interpolation (numpy's default), None for no values."""
    xs = sorted(v for v in values if v is not None)
    if not xs:
        return None
    pos = (len(xs) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def ratio(value: float | None, base: float | None) -> float | None:
    return value / base if value is not None and base else None


def engine_available(name: str) -> str | None:
    """None when the engine can run here, else why not."""
    try:
        if name == "clipsearch":
            from clipsearch import open_index, update_index  # noqa: F401
        elif name.startswith("tantivy"):
            import tantivy  # noqa: F401
    except Exception as exc:  # an engine that cannot even import is skipped, not fatal
        return f"{type(exc).__name__}: {exc}"
    return None


def versions() -> dict[str, Any]:
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "sqlite": sqlite3.sqlite_version,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    try:
        import tantivy

        info["tantivy"] = getattr(tantivy, "__version__", "?")
    except ImportError:
        info["tantivy"] = None
    try:
        from importlib.metadata import version

        info["clipsearch"] = version("clipsearch")
        info["whoosh"] = version("whoosh-reloaded")
    except Exception:
        pass
    try:
        rev = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
        )
        info["git"] = rev.stdout.strip() or None
    except OSError:
        pass
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


@dataclass
class Parsed:
    """Clips parsed once, with where each came from and what it cost to parse."""

    root: str
    clips: list[Clip]
    paths: list[str]
    parse_s: list[float]
    errors: list[str]
    seconds: float

    def summary(self) -> dict[str, Any]:
        return {
            "root": self.root,
            "clips": len(self.clips),
            "skipped": len(self.errors),
            "skipped_examples": self.errors[:5],
            "parse_s": self.seconds,
            "parse_clips_per_s": len(self.clips) / self.seconds if self.seconds else None,
        }


def parse_clips(root: str) -> Parsed:
    """read_clip on every file once; per-clip parse time lets subsets reuse it."""
    clips, paths, costs, errors = [], [], [], []
    t_all = time.perf_counter()
    for path in clip_files(root):
        t0 = time.perf_counter()
        try:
            clip = read_clip(path, root)
        except ValueError as exc:
            errors.append(str(exc))
            continue
        costs.append(time.perf_counter() - t0)
        clips.append(clip)
        paths.append(path)
    return Parsed(root, clips, paths, costs, errors, time.perf_counter() - t_all)


def link_subset(paths: Sequence[str], root: str, dest: str) -> None:
    """A clip folder holding `paths` (hard links, copies across filesystems)."""
    for path in paths:
        target = os.path.join(dest, os.path.relpath(path, root))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        try:
            os.link(path, target)
        except OSError:
            shutil.copy2(path, target)


# ----------------------------------------------------------------------------- corpus


def standard_clips(args: argparse.Namespace, work: str) -> str:
    """--clips, or the standard NewsAPI corpus converted into the work folder."""
    if args.clips:
        return args.clips
    tool = SHARED_TOOLS / "convert_corpora.py"
    if not tool.exists():
        sys.exit(f"no --clips given and {tool} not found")
    out = os.path.join(work, "clips")
    cmd = [sys.executable, str(tool), "newsapi", "--related", "4", "--out", out]
    if args.corpus_limit:
        cmd[3:3] = ["--limit", str(args.corpus_limit)]
    log(f"converting the standard corpus: {' '.join(cmd)}")
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return out


def standard_queries(args: argparse.Namespace, clips_dir: str, work: str) -> str:
    """--queries, or known-item typo queries made by make_queries.py from the clips."""
    if args.queries:
        return args.queries
    tool = SHARED_TOOLS / "make_queries.py"
    if not tool.exists():
        sys.exit(f"no --queries given and {tool} not found")
    out = os.path.join(work, "queries.tsv")
    n = args.n_queries + args.warmup
    cmd = [sys.executable, str(tool), clips_dir, out, "--n", str(n), "--seed", str(args.seed)]
    log(f"making queries: {' '.join(cmd)}")
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return out


@dataclass
class QuerySet:
    """make_queries rows: clean and typo text of known-item queries and their targets."""

    qids: list[str]
    clean: list[str]
    typo: list[str]
    target: list[str]
    warmup: list[str]

    @classmethod
    def load(cls, path: str, warmup: int) -> QuerySet:
        rows = []
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                if not line.strip() or line.startswith("#"):
                    continue
                parts = line.rstrip("\n").split("\t")
                if len(parts) < 4:
                    sys.exit(f"{path}: expected qid, clean, typo, target_id columns: {line!r}")
                rows.append(parts[:4])
        held = warmup if len(rows) > 3 * warmup else 0
        timed, warm = rows[: len(rows) - held], rows[len(rows) - held :]
        if not held:  # too few queries to hold some out: warm up on the first ones
            warm = timed[:warmup]
        return cls(
            [r[0] for r in timed],
            [r[1] for r in timed],
            [r[2] for r in timed],
            [r[3] for r in timed],
            [r[1] for r in warm] + [r[2] for r in warm],
        )

    def mrr(self, ranked: list[list[str]]) -> dict[str, float]:
        """MRR@10 and success@10 of known-item rankings (one target per query)."""
        ev = evaluate(
            dict(zip(self.qids, ranked, strict=True)),
            known_item_qrels(dict(zip(self.qids, self.target, strict=True))),
            precision_ks=(),
            mrr_k=10,
        )
        found = sum(1 for s in ev.per_topic.values() if s["rr@10"] > 0)
        return {"mrr@10": ev.mrr, "success@10": found / ev.topics if ev.topics else 0.0}


# ----------------------------------------------------------------------------- workers


class Workers:
    """Runs worker.py steps in fresh processes and returns their JSON results."""

    def __init__(self, work: str) -> None:
        self.work = work
        self.n = 0

    def run(self, spec: dict[str, Any]) -> dict[str, Any]:
        self.n += 1
        spec_path = os.path.join(self.work, f"step{self.n}.json")
        out_path = os.path.join(self.work, f"step{self.n}.out.json")
        with open(spec_path, "w", encoding="utf-8") as fh:
            json.dump(spec, fh)
        proc = subprocess.run(
            [sys.executable, str(HERE / "worker.py"), spec_path, out_path],
            cwd=str(HERE),
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
            raise RuntimeError(f"{spec['engine']} {spec['action']} failed:\n{tail}")
        with open(out_path, encoding="utf-8") as fh:
            return json.load(fh)


def dump_clips(clips: Sequence[Clip], path: str) -> str:
    with open(path, "wb") as fh:
        pickle.dump(list(clips), fh, protocol=pickle.HIGHEST_PROTOCOL)
    return path


def index_engine(name: str) -> str:
    """Query variants share an index: tantivy-fuzzy searches the tantivy index."""
    return "tantivy" if name.startswith("tantivy") else name


def choose_engines(requested: Sequence[str], notes: list[str]) -> list[str]:
    chosen = []
    for name in requested:
        why = engine_available(name)
        if why:
            msg = f"{name} skipped: cannot import it ({why})"
            log(msg)
            notes.append(msg)
        else:
            chosen.append(name)
    if BASELINE not in chosen:
        chosen.insert(0, BASELINE)
    return chosen


def build_all(
    workers: Workers,
    engines: Sequence[str],
    clips_pickle: str,
    clip_dirs: Sequence[str],
    index_root: str,
    parse_s: float,
    notes: list[str],
) -> dict[str, dict[str, Any]]:
    """Build each engine's index once (variants share), in a fresh process each."""
    built: dict[str, dict[str, Any]] = {}
    for name in dict.fromkeys(index_engine(e) for e in engines):
        log(f"  build {name} ...")
        try:
            b = workers.run(
                {
                    "action": "build",
                    "engine": name,
                    "index_dir": os.path.join(index_root, name),
                    "clips_pickle": clips_pickle,
                    "clip_dirs": list(clip_dirs),
                }
            )
        except RuntimeError as exc:
            notes.append(str(exc))
            log(str(exc))
            continue
        from_files = name == "clipsearch"
        b["index_s"] = None if from_files else b["seconds"]  # clipsearch: parse included
        b["parse_s"] = None if from_files else parse_s
        b["build_s"] = b["seconds"] if from_files else b["seconds"] + parse_s
        built[name] = b
        log(
            f"    {b['count']} clips, build {b['build_s']:.1f}s"
            f" (index {fmt(b['index_s'], '.1f', 's')}), {b['size_bytes'] / 2**20:.1f} MiB"
        )
    return built


# ----------------------------------------------------------------------------- tables


def fmt(value: Any, spec: str = ".1f", suffix: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    return f"{value:{spec}}{suffix}"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = "  ".join(
        h.rjust(w) if i else h.ljust(w)
        for i, (h, w) in enumerate(zip(headers, widths, strict=True))
    )
    out = [line, "  ".join("-" * w for w in widths)]
    for r in rows:
        out.append(
            "  ".join(
                c.rjust(w) if i else c.ljust(w)
                for i, (c, w) in enumerate(zip(r, widths, strict=True))
            )
        )
    return "\n".join(out)


def x(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


# ----------------------------------------------------------------------------- standard


MODES = {
    "plain": ("clean", False),  # (a) top-10, no facets
    "facets": ("clean", True),  # (b) top-10 with topic and provider counts
    "typo": ("typo", True),  # (c) typo queries, top-10 with facets
}


def query_spec(
    engine: str, index_dir: str, qs: QuerySet, args: argparse.Namespace, modes: dict
) -> dict[str, Any]:
    return {
        "action": "query",
        "engine": engine,
        "index_dir": index_dir,
        "limit": 10,
        "match": args.match,
        "repeat": args.repeat,
        "warmup": qs.warmup,
        "modes": {
            m: {"queries": getattr(qs, kind), "facets": facets}
            for m, (kind, facets) in modes.items()
        },
    }


def summarise_queries(q: dict[str, Any], qs: QuerySet) -> dict[str, Any]:
    out: dict[str, Any] = {"open_s": q["open_s"], "query_peak_rss_mb": q["peak_rss_mb"]}
    for m, r in q["modes"].items():
        totals = [t for t in r["totals"] if t is not None]
        out[m] = {
            "p50_ms": pct(r["ms"], 0.5),
            "p95_ms": pct(r["ms"], 0.95),
            "mean_ms": statistics.fmean([v for v in r["ms"] if v is not None] or [0]),
            "median_total": statistics.median(totals) if totals else None,
            "zero_hits": sum(1 for t in totals if t == 0),
            "errors": r["error_count"],
            "error_examples": r["errors"],
            **qs.mrr(r["ids"]),
        }
        fixed = [c for c in r["corrections"] if c]
        if fixed:
            out[m]["queries_corrected"] = len(fixed)
    return out


def run_standard(args: argparse.Namespace, work: str) -> dict[str, Any]:
    notes: list[str] = []
    clips_dir = standard_clips(args, work)
    queries_path = standard_queries(args, clips_dir, work)
    qs = QuerySet.load(queries_path, args.warmup)
    engines = choose_engines(args.engines, notes)
    log(f"parsing {clips_dir} once ...")
    parsed = parse_clips(clips_dir)
    log(f"  {len(parsed.clips)} clips in {parsed.seconds:.1f}s, {len(parsed.errors)} skipped")
    workers = Workers(work)
    pkl = dump_clips(parsed.clips, os.path.join(work, "clips.pkl"))
    built = build_all(
        workers, engines, pkl, [clips_dir], os.path.join(work, "idx"), parsed.seconds, notes
    )
    results: dict[str, Any] = {}
    for name in engines:
        b = built.get(index_engine(name))
        if b is None:
            continue
        log(f"  query {name}: {len(qs.clean)} queries x {len(MODES)} modes x {args.repeat} ...")
        spec = query_spec(name, os.path.join(work, "idx", index_engine(name)), qs, args, MODES)
        try:
            q = workers.run(spec)
        except RuntimeError as exc:
            notes.append(str(exc))
            log(str(exc))
            continue
        results[name] = {"build": b, "queries": summarise_queries(q, qs)}
    add_ratios(results)
    return {
        "mode": "standard",
        "versions": versions(),
        "corpus": parsed.summary(),
        "queries": {
            "file": queries_path,
            "timed": len(qs.clean),
            "warmup": len(qs.warmup) // 2,
            "repeat": args.repeat,
            "match": args.match,
        },
        "engines": results,
        "notes": notes,
    }


def add_ratios(results: dict[str, Any]) -> None:
    """Each figure over the FTS5 figure from the same run (x > 1: more than FTS5)."""
    base = results.get(BASELINE)
    if not base:
        return
    for r in results.values():
        rat: dict[str, Any] = {}
        b, bb = r["build"], base["build"]
        rat["build_s"] = ratio(b["build_s"], bb["build_s"])
        rat["size"] = ratio(b["size_bytes"], bb["size_bytes"])
        rat["build_mem"] = ratio(b["build_mem_mb"], bb["build_mem_mb"])
        for m in MODES:
            if m in r["queries"] and m in base["queries"]:
                rat[f"{m}_p50"] = ratio(r["queries"][m]["p50_ms"], base["queries"][m]["p50_ms"])
                rat[f"{m}_p95"] = ratio(r["queries"][m]["p95_ms"], base["queries"][m]["p95_ms"])
        r["vs_fts5"] = rat


def print_standard(res: dict[str, Any]) -> None:
    c = res["corpus"]
    print(
        f"\n{c['clips']} clips from {c['root']} (parsed once in {c['parse_s']:.1f}s,"
        f" {c['parse_clips_per_s']:.0f} clips/s; {c['skipped']} skipped);"
        f" {res['queries']['timed']} queries (+{res['queries']['warmup']} for warm-up),"
        f" repeat {res['queries']['repeat']}; baselines match {res['queries']['match'].upper()}"
        " (clipsearch: its own semantics)\n"
    )
    rows = []
    for name, r in res["engines"].items():
        b = r["build"]
        rows.append(
            [
                name,
                fmt(b["build_s"], ".1f", "s"),
                fmt(b["index_s"], ".1f", "s"),
                fmt(b["count"] / b["build_s"] if b["build_s"] else None, ",.0f"),
                fmt(b["size_bytes"] / 2**20, ".1f"),
                fmt(b["build_mem_mb"], ".0f"),
                fmt(max(b["peak_rss_mb"], b["tree_peak_pss_mb"]), ".0f"),
                str(b["max_processes"]),
                fmt(r["queries"]["query_peak_rss_mb"], ".0f"),
                x(r.get("vs_fts5", {}).get("build_s")),
                x(r.get("vs_fts5", {}).get("size")),
            ]
        )
    print("Build (from clip files: baselines = one shared parse + their own indexing)")
    print(
        table(
            "engine|build|index|clips/s|MiB|mem+MiB|peakMiB|procs"
            "|qryMiB|build/fts5|size/fts5".split("|"),
            rows,
        )
    )
    rows = []
    for name, r in res["engines"].items():
        q = r["queries"]
        row = [name]
        for m in MODES:
            row += [fmt(q[m]["p50_ms"], ".2f"), fmt(q[m]["p95_ms"], ".2f")]
        row += [
            x(r.get("vs_fts5", {}).get("facets_p50")),
            fmt(q["facets"]["mrr@10"], ".3f"),
            fmt(q["typo"]["mrr@10"], ".3f"),
            fmt(q["facets"]["median_total"], ".0f"),
            str(sum(q[m]["errors"] for m in MODES)),
        ]
        rows.append(row)
    print("\nQueries (ms; per-query median over repeats, then p50/p95 over queries)")
    print(
        table(
            "engine|plain p50|p95|facets p50|p95|typo p50|p95|facets/fts5|MRR clean|MRR typo"
            "|med hits|errors".split("|"),
            rows,
        )
    )
    for name, r in res["engines"].items():
        for m in MODES:
            for i, msg in list(r["queries"][m]["error_examples"].items())[:3]:
                print(f"{name} {m}: query #{int(i) + 1} failed ({msg})")
    for n in res["notes"]:
        print(f"note: {n}")


# ----------------------------------------------------------------------------- scale


def run_scale(args: argparse.Namespace, work: str) -> dict[str, Any]:
    notes: list[str] = []
    clips_dir = standard_clips(args, work)
    engines = [e for e in choose_engines(args.engines, notes) if e != "tantivy-fuzzy"]
    log(f"parsing {clips_dir} once ...")
    parsed = parse_clips(clips_dir)
    n_all = len(parsed.clips)
    log(f"  {n_all} clips in {parsed.seconds:.1f}s")
    order = list(range(n_all))
    random.Random(args.seed).shuffle(order)
    holdout = max(1, round(n_all * 0.01))
    top = n_all - holdout  # the largest index leaves 1% out, added incrementally later
    sizes = sorted({min(top, n_all if s == "all" else int(s)) for s in args.sizes.split(",") if s})
    need_dirs = "clipsearch" in engines
    workers = Workers(work)
    levels: list[dict[str, Any]] = []
    smallest_dir = None
    qs: QuerySet | None = None
    for n in sizes:
        log(f"level {n} clips")
        pick = order[:n]
        level_dir = os.path.join(work, f"L{n}")
        clips = [parsed.clips[i] for i in pick]
        clip_dir = os.path.join(level_dir, "clips")
        os.makedirs(level_dir, exist_ok=True)
        if need_dirs or smallest_dir is None:
            link_subset([parsed.paths[i] for i in pick], clips_dir, clip_dir)
        if smallest_dir is None:
            smallest_dir = clip_dir
            if args.queries:
                qs = QuerySet.load(args.queries, args.warmup)
            else:
                qs = QuerySet.load(standard_queries(args, clip_dir, work), args.warmup)
        assert qs is not None
        pkl = dump_clips(clips, os.path.join(level_dir, "clips.pkl"))
        parse_s = sum(parsed.parse_s[i] for i in pick)
        built = build_all(
            workers, engines, pkl, [clip_dir], os.path.join(level_dir, "idx"), parse_s, notes
        )
        level: dict[str, Any] = {"clips": n, "engines": {}}
        for name, b in built.items():
            spec = query_spec(
                name, os.path.join(level_dir, "idx", name), qs, args, {"facets": MODES["facets"]}
            )
            try:
                q = summarise_queries(workers.run(spec), qs)
            except RuntimeError as exc:
                notes.append(str(exc))
                continue
            level["engines"][name] = {"build": b, "queries": q}
        if n == sizes[-1]:
            add_idx = order[n : n + holdout]
            add_clips = [parsed.clips[i] for i in add_idx]
            add_pkl = dump_clips(add_clips, os.path.join(level_dir, "add.pkl"))
            if need_dirs:
                link_subset([parsed.paths[i] for i in add_idx], clips_dir, clip_dir)
            add_parse = sum(parsed.parse_s[i] for i in add_idx)
            for name in built:
                log(f"  add {len(add_clips)} clips to {name} ...")
                try:
                    a = workers.run(
                        {
                            "action": "add",
                            "engine": name,
                            "index_dir": os.path.join(level_dir, "idx", name),
                            "clips_pickle": add_pkl,
                            "clip_dirs": [clip_dir],
                        }
                    )
                except RuntimeError as exc:
                    notes.append(str(exc))
                    continue
                a["update_s"] = a["seconds"] + (0 if name == "clipsearch" else add_parse)
                a["vs_full_build"] = ratio(a["update_s"], built[name]["build_s"])
                level["engines"][name]["add_1pct"] = a
        levels.append(level)
        if not args.keep:
            shutil.rmtree(os.path.join(level_dir, "idx"), ignore_errors=True)
    return {
        "mode": "scale",
        "versions": versions(),
        "corpus": parsed.summary(),
        "holdout_added": holdout,
        "queries": {"timed": len(qs.clean) if qs else 0, "repeat": args.repeat},
        "levels": levels,
        "notes": notes,
    }


def print_scale(res: dict[str, Any]) -> None:
    rows = []
    for level in res["levels"]:
        base = level["engines"].get(BASELINE)
        for name, r in level["engines"].items():
            b, q = r["build"], r["queries"]["facets"]
            add = r.get("add_1pct")
            rows.append(
                [
                    f"{level['clips']:,} {name}",
                    fmt(b["build_s"], ".1f", "s"),
                    fmt(b["count"] / b["build_s"] if b["build_s"] else None, ",.0f"),
                    fmt(q["p50_ms"], ".2f"),
                    fmt(q["p95_ms"], ".2f"),
                    x(ratio(q["p50_ms"], base["queries"]["facets"]["p50_ms"]) if base else None),
                    fmt(b["build_mem_mb"], ".0f"),
                    fmt(b["size_bytes"] / 2**20, ".1f"),
                    fmt(q["mrr@10"], ".3f"),
                    fmt(add["update_s"], ".2f", "s") if add else "",
                    (f"{add['vs_full_build'] * 100:.1f}%" if add and add["vs_full_build"] else ""),
                ]
            )
    print(
        f"\nScale ({res['corpus']['clips']:,} clips parsed;"
        f" +{res['holdout_added']} clips added to the largest index)"
    )
    print(
        table(
            "clips engine|build|clips/s|facets p50|p95|p50/fts5|mem+MiB|MiB|MRR|add 1%"
            "|of build".split("|"),
            rows,
        )
    )
    for n in res["notes"]:
        print(f"note: {n}")


# ----------------------------------------------------------------------------- CACM


def run_cacm(args: argparse.Namespace, work: str) -> dict[str, Any]:
    notes: list[str] = []
    data = Path(args.cacm_data)
    queries = read_queries(data / "queries.tsv")
    qrels = read_qrels(data / "qrels.txt")
    clips_dir = args.cacm if args.cacm not in ("", "convert") else None
    if clips_dir is None:
        tool = SHARED_TOOLS / "convert_corpora.py"
        clips_dir = os.path.join(work, "cacm")
        cmd = [sys.executable, str(tool), "cacm", "--excerpt", "full", "--out", clips_dir]
        log(f"converting CACM: {' '.join(cmd)}")
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    engines = choose_engines(args.engines, notes)
    engines = [e for e in engines if e != "tantivy-fuzzy"]
    parsed = parse_clips(clips_dir)
    log(f"{len(parsed.clips)} CACM clips parsed in {parsed.seconds:.1f}s")
    workers = Workers(work)
    pkl = dump_clips(parsed.clips, os.path.join(work, "cacm.pkl"))
    built = build_all(
        workers, engines, pkl, [clips_dir], os.path.join(work, "idx"), parsed.seconds, notes
    )
    qids = list(queries)
    out: dict[str, Any] = {}
    for name, b in built.items():
        spec = {
            "action": "query",
            "engine": name,
            "index_dir": os.path.join(work, "idx", name),
            "limit": 1000,
            "match": "or",
            "repeat": 1,
            "warmup": [],
            "modes": {"cacm": {"queries": [queries[q] for q in qids], "facets": False}},
        }
        try:
            q = workers.run(spec)["modes"]["cacm"]
        except RuntimeError as exc:
            notes.append(str(exc))
            continue
        run = dict(zip(qids, q["ids"], strict=True))
        run_file = args.out_path.with_suffix(f".{name}.run")
        run_file.parent.mkdir(parents=True, exist_ok=True)
        write_run(run, run_file, name)  # for checking with trec_eval itself
        ev = evaluate(run, qrels, depth=1000, precision_ks=(10, 30), mrr_k=10)
        out[name] = {
            "build": b,
            **ev.as_dict(),
            "p50_ms": pct(q["ms"], 0.5),
            "errors": q["error_count"],
            "error_examples": {qids[int(i)]: m for i, m in q["errors"].items()},
            "run_file": str(run_file),
        }
    return {
        "mode": "cacm",
        "versions": versions(),
        "corpus": parsed.summary(),
        "queries": len(queries),
        "judged_topics": sum(1 for j in qrels.values() if any(r > 0 for r in j.values())),
        "reference": {"anserini_bm25": ANSERINI_BM25},
        "engines": out,
        "notes": notes,
    }


def print_cacm(res: dict[str, Any]) -> None:
    rows = [["Anserini BM25 (reference)", "0.3123", "0.1942", "-", "-", "-", "-"]]
    for name, r in res["engines"].items():
        rows.append(
            [
                name,
                fmt(r["map"], ".4f"),
                fmt(r["P@30"], ".4f"),
                fmt(r["P@10"], ".4f"),
                f"{r['num_rel_ret']}/{r['num_rel']}",
                fmt(r["p50_ms"], ".2f"),
                str(r["errors"]),
            ]
        )
    print(
        f"\nCACM: {res['corpus']['clips']} docs, {res['queries']} queries,"
        f" {res['judged_topics']} judged topics, limit 1000 (trec_eval -c semantics)"
    )
    print(table(["engine", "MAP", "P@30", "P@10", "rel_ret", "p50 ms", "errors"], rows))
    for name, r in res["engines"].items():
        for qid, msg in r["error_examples"].items():
            print(f"{name}: topic {qid} failed ({msg}); scored as an empty ranking")
    for n in res["notes"]:
        print(f"note: {n}")


# ----------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--clips", help="clip folder (default: convert the standard NewsAPI corpus)")
    ap.add_argument("--queries", help="make_queries.py TSV (default: generated from the clips)")
    ap.add_argument("--out", help="JSON results (default: benchmarks/results/<mode>.json)")
    ap.add_argument(
        "--engines", default=",".join(ENGINES), help=f"comma list of {', '.join(ENGINES)}"
    )
    ap.add_argument(
        "--corpus-limit",
        type=int,
        default=20000,
        help="clips converted when --clips is omitted (0 = all)",
    )
    ap.add_argument("--n-queries", type=int, default=300, help="timed queries to generate")
    ap.add_argument("--warmup", type=int, default=30, help="queries held out for warm-up")
    ap.add_argument("--repeat", type=int, default=3, help="runs per query (median kept)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument(
        "--match",
        choices=("or", "and"),
        default="or",
        help="baselines: any word (or, clipsearch's match set) or every word (and)",
    )
    ap.add_argument("--work", help="folder for indexes and temp files (default: a new temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--scale", action="store_true", help="5k/20k/80k/all subsets + 1%% update")
    mode.add_argument(
        "--cacm",
        nargs="?",
        const="convert",
        metavar="DIR",
        help="CACM MAP/P@30 (DIR: converted clips)",
    )
    ap.add_argument("--sizes", default="5000,20000,80000,all", help="--scale subset sizes")
    ap.add_argument(
        "--cacm-data", default=str(CACM_DATA), help="folder with queries.tsv, qrels.txt"
    )
    args = ap.parse_args(argv)
    args.engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    for e in args.engines:
        if e not in ENGINES:
            ap.error(f"unknown engine {e!r}")
    if args.scale and not args.clips and args.corpus_limit == 20000:
        args.corpus_limit = 0  # scale mode wants the whole corpus
    name = "scale" if args.scale else "cacm" if args.cacm else "standard"
    out = args.out_path = Path(args.out or HERE / "results" / f"{name}.json")
    work = args.work or tempfile.mkdtemp(prefix="clipsearch-bench-")
    os.makedirs(work, exist_ok=True)
    log(f"work folder: {work}")
    load_before = os.getloadavg()
    if load_before[0] > (os.cpu_count() or 1) / 2:
        log(f"warning: load average {load_before[0]:.1f} on {os.cpu_count()} CPUs: noisy timings")
    try:
        if args.scale:
            res = run_scale(args, work)
            print_scale(res)
        elif args.cacm:
            res = run_cacm(args, work)
            print_cacm(res)
        else:
            res = run_standard(args, work)
            print_standard(res)
    finally:
        if not args.keep and not args.work:
            shutil.rmtree(work, ignore_errors=True)
    res["command"] = " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])
    res["load_average"] = {"before": load_before, "after": os.getloadavg()}
    busy = max(load_before[0], res["load_average"]["after"][0])
    if busy > (os.cpu_count() or 1) / 2:
        print(f"note: load average up to {busy:.1f} on {os.cpu_count()} CPUs during the run")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1, default=str) + "\n", encoding="utf-8")
    print(f"\nresults: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
