"""One measured step of the benchmark, in its own process: ``worker.py SPEC.json OUT.json``.

Running every build (and every query session) in a fresh process keeps one engine's
memory, threads and caches from leaking into another's figures.  Peak memory is the
process's ``VmHWM`` (peak resident set) from ``/proc/self/status``: ``ru_maxrss`` is not
used because Linux carries the parent's peak over ``fork``/``exec`` into the child.  An
engine that builds with helper processes (clipsearch's bulk writer) is covered by a
sampler that sums the PSS of this process and all its descendants every 0.1 s.

Spec keys: ``action`` (build | add | query), ``engine``, ``index_dir``, ``clips_pickle``
(parsed clips for the baselines), ``clip_dirs`` (for clipsearch, which parses itself),
and for queries ``modes`` {name: {queries, facets}}, ``warmup`` [queries], ``repeat``,
``limit``, ``match``.
"""

from __future__ import annotations

import gc
import glob
import json
import os
import pickle
import resource
import statistics
import sys
import threading
import time
from typing import Any

from engines import Engine, make_engine


def peak_rss_mb() -> float:
    """Peak resident set of this process so far, in MiB."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # pragma: no cover


def reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0: write 5 to clear_refs)."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    for path in glob.glob(f"/proc/{pid}/task/*/children"):
        try:
            with open(path, encoding="ascii") as fh:
                kids += [int(k) for k in fh.read().split()]
        except OSError:
            pass
    return kids


def _pss_mb(pid: int) -> float:
    """Proportional set size (shared pages split between sharers), else RSS; 0 if gone."""
    for name, key in (("smaps_rollup", "Pss:"), ("status", "VmRSS:")):
        try:
            with open(f"/proc/{pid}/{name}", encoding="ascii") as fh:
                for line in fh:
                    if line.startswith(key):
                        return int(line.split()[1]) / 1024
        except OSError:
            continue
    return 0.0


class TreeMemory(threading.Thread):
    """Peak summed PSS of this process and its descendants, sampled every `interval` s."""

    def __init__(self, interval: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.interval = interval
        self.stop = threading.Event()
        self.peak = 0.0
        self.max_procs = 0

    def sample(self) -> float:
        pids, todo = [], [os.getpid()]
        while todo:
            pid = todo.pop()
            pids.append(pid)
            todo += _children(pid)
        self.max_procs = max(self.max_procs, len(pids))
        total = sum(_pss_mb(pid) for pid in pids)
        self.peak = max(self.peak, total)
        return total

    def run(self) -> None:
        while not self.stop.wait(self.interval):
            self.sample()

    def finish(self) -> float:
        self.stop.set()
        self.join()
        self.sample()
        return self.peak


def build(engine: Engine, spec: dict[str, Any], add: bool) -> dict[str, Any]:
    clips = []
    if not engine.builds_from_files:
        with open(spec["clips_pickle"], "rb") as fh:
            clips = pickle.load(fh)
    gc.collect()
    base = peak_rss_mb()
    reset = reset_peak_rss()
    before = peak_rss_mb()
    step = engine.add if add else engine.build
    tree = TreeMemory()
    tree_before = tree.sample()
    tree.peak = 0.0
    tree.start()
    t0 = time.perf_counter()
    count = step(clips, spec["clip_dirs"], spec["index_dir"])
    seconds = time.perf_counter() - t0
    tree_peak = tree.finish()
    peak = peak_rss_mb()
    delta = peak - before if reset else None
    tree_delta = tree_peak - tree_before
    out: dict[str, Any] = {
        "seconds": seconds,
        "count": count,
        "input_clips": len(clips) if clips else None,
        "peak_rss_mb": peak,
        "rss_before_mb": before,
        "peak_rss_delta_mb": delta,
        "rss_loaded_mb": base,
        "tree_peak_pss_mb": tree_peak,
        "tree_peak_pss_delta_mb": tree_delta,
        "max_processes": tree.max_procs,
        "build_mem_mb": max(delta or 0.0, tree_delta),
        "size_bytes": engine.size(spec["index_dir"]),
    }
    report = getattr(engine, "report", None)
    if report is not None:
        out["report"] = {
            k: getattr(report, k)
            for k in ("added", "updated", "removed", "unchanged", "elapsed")
            if hasattr(report, k)
        }
        out["report"]["skipped"] = len(getattr(report, "skipped", ()) or ())
    return out


def query(engine: Engine, spec: dict[str, Any]) -> dict[str, Any]:
    limit = spec.get("limit", 10)
    repeat = max(1, spec.get("repeat", 1))
    t0 = time.perf_counter()
    engine.open(spec["index_dir"], spec.get("match", "and"))
    open_s = time.perf_counter() - t0
    modes = spec["modes"]
    warm = spec.get("warmup", [])
    t0 = time.perf_counter()
    for mode in modes.values():
        for q in warm:
            engine.search(q, limit=limit, facets=mode["facets"])
    warm_s = time.perf_counter() - t0
    out: dict[str, Any] = {"open_s": open_s, "warmup_s": warm_s, "modes": {}}
    for name, mode in modes.items():
        queries, facets = mode["queries"], mode["facets"]
        times: list[list[float]] = [[] for _ in queries]
        ids: list[list[str]] = [[] for _ in queries]
        totals: list[int | None] = [None] * len(queries)
        corrections: list[dict[str, str]] = [{} for _ in queries]
        errors: dict[int, str] = {}
        for rep in range(repeat):
            for i, q in enumerate(queries):
                t = time.perf_counter()
                try:
                    res = engine.search(q, limit=limit, facets=facets)
                except Exception as exc:  # counted and shown, never fatal
                    errors[i] = f"{type(exc).__name__}: {exc}"
                    continue
                times[i].append((time.perf_counter() - t) * 1000)
                if rep == 0:
                    ids[i], totals[i], corrections[i] = res.ids, res.total, res.corrections
        out["modes"][name] = {
            "ms": [statistics.median(t) if t else None for t in times],
            "ids": ids,
            "totals": totals,
            "corrections": corrections,
            "errors": {str(i): e for i, e in list(errors.items())[:20]},
            "error_count": len(errors),
        }
    engine.close()
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def main() -> int:
    spec_path, out_path = sys.argv[1], sys.argv[2]
    with open(spec_path, encoding="utf-8") as fh:
        spec = json.load(fh)
    engine = make_engine(spec["engine"])
    action = spec["action"]
    result = query(engine, spec) if action == "query" else build(engine, spec, action == "add")
    with open(out_path, "w", encoding="utf-8") as fh:
        json.dump(result, fh)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
