"""One measured step of the benchmark, in its own process: ``worker.py SPEC.json OUT.json``.

A fresh process per step keeps one engine's memory, threads and caches (and one query
mode's term cache) out of another's figures.

Spec keys by ``action``:

* ``parse``: ``files`` (clip paths), ``clips_pickle`` (written): clipsearch's own clip
  reader on every file, timed; the peers index these parsed clips.
* ``build`` / ``add``: ``engine`` (fts5 | tantivy), ``index_dir``, ``clips_pickle``.
* ``query``: ``engine``, ``index_dir``, ``warmup`` [queries, run first, not timed],
  ``queries`` [each timed once], ``facets``, ``limit``, ``warm_pass`` (then time the
  same queries a second time: a warm-cache figure, reported apart).
"""

from __future__ import annotations

import gc
import json
import pickle
import sys
import time
from typing import Any

from engines import Engine, make_engine
from procmem import peak_rss_mb


def reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0: write 5 to clear_refs)."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def parse(spec: dict[str, Any]) -> dict[str, Any]:
    from clipsearch.ingest.clip import read_clip

    clips, errors = [], []
    c0, t0 = time.process_time(), time.perf_counter()
    for path in spec["files"]:
        try:
            clips.append(read_clip(path))
        except ValueError as exc:  # ClipError: a broken clip, skipped as clipsearch does
            errors.append(str(exc))
    seconds, cpu_s = time.perf_counter() - t0, time.process_time() - c0
    with open(spec["clips_pickle"], "wb") as fh:
        pickle.dump(clips, fh, protocol=pickle.HIGHEST_PROTOCOL)
    return {
        "seconds": seconds,
        "cpu_s": cpu_s,
        "count": len(clips),
        "errors": errors[:20],
        "skipped": len(errors),
    }


def build(engine: Engine, spec: dict[str, Any], add: bool) -> dict[str, Any]:
    with open(spec["clips_pickle"], "rb") as fh:
        clips = pickle.load(fh)
    gc.collect()
    reset = reset_peak_rss()
    before = peak_rss_mb()
    step = engine.add if add else engine.build
    c0, t0 = time.process_time(), time.perf_counter()
    count = step(clips, spec["index_dir"])
    seconds, cpu_s = time.perf_counter() - t0, time.process_time() - c0
    peak = peak_rss_mb()
    return {
        "seconds": seconds,
        "cpu_s": cpu_s,  # all threads (Tantivy indexes on several)
        "count": count,
        "peak_rss_mb": peak,
        "rss_before_mb": before,
        # what indexing itself added, the parsed clips it was handed left out
        "build_mem_mb": peak - before if reset else None,
        "size_bytes": engine.size(spec["index_dir"]),
    }


def _timed_pass(engine: Engine, queries: list[str], limit: int, facets: bool) -> dict[str, Any]:
    ms: list[float | None] = []
    cpu_ms: list[float | None] = []
    ids: list[list[str]] = []
    totals: list[int | None] = []
    corrections: list[dict[str, str]] = []
    matches: list[str] = []
    errors: dict[str, str] = {}
    for i, q in enumerate(queries):
        c, t = time.process_time(), time.perf_counter()
        try:
            res = engine.search(q, limit=limit, facets=facets)
        except Exception as exc:  # counted and shown, never fatal
            ms.append(None)
            cpu_ms.append(None)
            ids.append([])
            totals.append(None)
            corrections.append({})
            matches.append("")
            if len(errors) < 20:
                errors[str(i)] = f"{type(exc).__name__}: {exc}"
            continue
        ms.append((time.perf_counter() - t) * 1000)
        cpu_ms.append((time.process_time() - c) * 1000)
        ids.append(res.ids)
        totals.append(res.total)
        corrections.append(res.corrections)
        matches.append(res.match)
    return {
        "ms": ms,
        # CPU time of this process: far less sensitive than wall time to a busy machine
        "cpu_ms": cpu_ms,
        "ids": ids,
        "totals": totals,
        "corrections": corrections,
        "matches": matches,
        "errors": errors,
        "error_count": sum(1 for m in ms if m is None),
    }


def query(engine: Engine, spec: dict[str, Any]) -> dict[str, Any]:
    limit, facets = spec.get("limit", 10), spec["facets"]
    t0 = time.perf_counter()
    engine.open(spec["index_dir"])
    open_s = time.perf_counter() - t0
    first_ms = None
    t0 = time.perf_counter()
    for n, q in enumerate(spec.get("warmup", [])):
        t = time.perf_counter()
        engine.search(q, limit=limit, facets=facets)
        if n == 0:
            first_ms = (time.perf_counter() - t) * 1000
    warm_s = time.perf_counter() - t0
    out: dict[str, Any] = {"open_s": open_s, "first_query_ms": first_ms, "warmup_s": warm_s}
    out["cold"] = _timed_pass(engine, spec["queries"], limit, facets)
    if spec.get("warm_pass"):
        out["warm"] = _timed_pass(engine, spec["queries"], limit, facets)
    engine.close()
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def main() -> int:
    spec_path, out_path = sys.argv[1], sys.argv[2]
    with open(spec_path, encoding="utf-8") as fh:
        spec = json.load(fh)
    action = spec["action"]
    if action == "parse":
        result = parse(spec)
    else:
        engine = make_engine(spec["engine"])
        result = query(engine, spec) if action == "query" else build(engine, spec, action == "add")
    with open(out_path, "w", encoding="utf-8") as fh:
        json.dump(result, fh)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
