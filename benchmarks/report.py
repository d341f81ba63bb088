"""The tables of one benchmark run (Markdown), and the issue's targets against them.

    python benchmarks/report.py RESULT.json

Every ratio is between figures measured in the same run.  Medians and p95 are over
queries, each timed once (a warm-cache row, the same queries a second time in the same
process, is labelled as such).
"""

from __future__ import annotations

import json
import math
import statistics
import sys
from collections.abc import Sequence
from typing import Any


def pct(values: Sequence[float | None], q: float) -> float | None:
    """Percentile by linear interpolation (numpy's default); None for no values."""
    xs = sorted(v for v in values if v is not None)
    if not xs:
        return None
    pos = (len(xs) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def fmt(value: Any, spec: str = ".1f", suffix: str = "") -> str:
    if value is None:
        return "-"
    return f"{value:{spec}}{suffix}"


def x(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def load_note(part: dict[str, Any]) -> str:
    a, b = part.get("load_before"), part.get("load_after")
    if not a or not b:
        return ""
    return (
        f"Load average (1/5/15 min) before {a['1m']}/{a['5m']}/{a['15m']},"
        f" after {b['1m']}/{b['5m']}/{b['15m']} (2 CPUs)."
    )


def mrr(ids: list[list[str]], targets: list[str]) -> float:
    total = 0.0
    for ranked, target in zip(ids, targets, strict=False):
        if target in ranked[:10]:
            total += 1 / (ranked.index(target) + 1)
    return total / len(targets) if targets else 0.0


def query_stats(r: dict[str, Any], targets: list[str]) -> dict[str, Any]:
    cold = r["cold"]
    totals = [t for t in cold["totals"] if t is not None]
    cpu = cold.get("cpu_ms") or []
    out = {
        "p50": pct(cold["ms"], 0.5),
        "p95": pct(cold["ms"], 0.95),
        "cpu_p50": pct(cpu, 0.5),
        "cpu_p95": pct(cpu, 0.95),
        "mrr": mrr(cold["ids"], targets),
        "hits": statistics.median(totals) if totals else None,
        "errors": cold["error_count"],
        "all_share": (
            sum(1 for m in cold["matches"] if m == "all") / len(cold["matches"])
            if any(cold["matches"])
            else None
        ),
        "corrected": sum(1 for c in cold["corrections"] if c),
        "open_s": r["open_s"],
        "first_ms": r["first_query_ms"],
        "rss": r["peak_rss_mb"],
    }
    if "warm" in r:
        out["warm_p50"] = pct(r["warm"]["ms"], 0.5)
        out["warm_p95"] = pct(r["warm"]["ms"], 0.95)
    return out


def build_figures(build: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per engine: clips, parse / index / build seconds, CPU, memory, re-run, add 1%."""
    figures = {}
    for name, r in build["engines"].items():
        b = r["build"]
        if name == "clipsearch":
            f = {
                "clips": (b.get("summary") or {}).get("added"),
                "parse_s": None,
                "index_s": None,
                "build_s": b["seconds"],
                "cpu_s": b.get("cpu_s"),
                "mem": b["peak_mem_mb"],
                "procs": b["max_processes"],
                "rerun": r.get("rerun", {}).get("seconds"),
                "add": r.get("add", {}).get("seconds"),
                "add_cpu": r.get("add", {}).get("cpu_s"),
                "rerun_cpu": r.get("rerun", {}).get("cpu_s"),
            }
        else:
            add = r.get("add", {})
            f = {
                "clips": b["count"],
                "parse_s": b["parse_s"],
                "index_s": b["seconds"],
                "build_s": b["build_s"],
                "cpu_s": b.get("build_cpu_s"),
                "mem": b["peak_rss_mb"],
                "procs": 1,
                "rerun": None,
                "add": add.get("update_s"),
            }
        f["size_mb"] = b["size_bytes"] / 2**20
        figures[name] = f
    return figures


def share(part: float | None, whole: float | None) -> str:
    return fmt(part, ".2f", " s") + (f" ({part / whole:.1%})" if part is not None and whole else "")


def cli_figures(cli: dict[str, Any]) -> dict[str, dict[str, float | None]]:
    out = {}
    for name, secs in cli["seconds"].items():
        rss = cli.get("peak_rss_mb", {}).get(name) or []
        cpu = cli.get("cpu_s", {}).get(name) or []
        out[name] = {
            "p50": pct(secs, 0.5),
            "p95": pct(secs, 0.95),
            "cpu_p50": pct(cpu, 0.5),
            "rss": statistics.median(rss) if rss else None,
            "rss_max": max(rss) if rss else None,
        }
    return out


def verdict(measured: float | None, limit: float) -> str:
    if measured is None:
        return "not measured"
    if measured <= limit:
        return "met"
    return f"missed: {measured / limit:.1f}x the limit"


class Targets:
    """The issue's targets, each with its wall-clock figure and, where there is one, the
    same figure in CPU time (less sensitive to a busy machine)."""

    def __init__(self) -> None:
        self.rows: list[list[str]] = []

    def add(
        self, what: str, limit: float, wall: float | None, cpu: float | None, kind: str
    ) -> None:
        show = {"x": x, "%": lambda v: fmt(v, ".1%"), "MiB": lambda v: fmt(v, ",.0f")}[kind]
        limit_s = {"x": f"{limit:g}x", "%": f"{limit:.0%}", "MiB": f"{limit:,.0f} MiB"}[kind]
        self.rows.append(
            [
                what,
                limit_s,
                show(wall),
                verdict(wall, limit),
                show(cpu),
                verdict(cpu, limit) if cpu is not None else "-",
            ]
        )


def print_build(b: dict[str, Any], targets: Targets) -> None:
    print(f"\n### Build: {b['base_files']:,} clip files, then {b['add_files']:,} more (1%)\n")
    bf = build_figures(b)
    fts = bf.get("fts5", {})
    rows = []
    for name, f in bf.items():
        clips = f["clips"] if isinstance(f["clips"], int) else None
        rows.append(
            [
                name,
                fmt(clips, ",d"),
                fmt(f["parse_s"], ".1f", " s"),
                fmt(f["index_s"], ".1f", " s"),
                fmt(f["build_s"], ".1f", " s"),
                fmt(clips / f["build_s"] if clips and f["build_s"] else None, ",.0f"),
                x(ratio(f["build_s"], fts.get("build_s"))),
                fmt(f["cpu_s"], ".1f", " s"),
                x(ratio(f["cpu_s"], fts.get("cpu_s"))),
                fmt(f["mem"], ",.0f"),
                str(f["procs"]),
                fmt(f["size_mb"], ",.1f"),
                share(f["rerun"], f["build_s"]),
                share(f["add"], f["build_s"]),
            ]
        )
    headers = [
        "engine",
        "clips",
        "parse",
        "index",
        "build (parsing incl.)",
        "clips/s",
        "vs FTS5",
        "CPU",
        "CPU vs FTS5",
        "peak MiB",
        "procs",
        "index MiB",
        "unchanged re-run",
        "add 1%",
    ]
    print(table(headers, rows))
    print("\n" + load_note(b))
    cs = bf.get("clipsearch")
    if cs and fts:
        targets.add(
            "build vs FTS5 parse + build",
            1.5,
            ratio(cs["build_s"], fts["build_s"]),
            ratio(cs["cpu_s"], fts.get("cpu_s")),
            "x",
        )
    if cs:
        targets.add("build peak memory", 1536, cs["mem"], None, "MiB")
        targets.add(
            "unchanged re-run / build",
            0.10,
            ratio(cs["rerun"], cs["build_s"]),
            ratio(cs.get("rerun_cpu"), cs["cpu_s"]),
            "%",
        )
        targets.add(
            "add 1% / build",
            0.05,
            ratio(cs["add"], cs["build_s"]),
            ratio(cs.get("add_cpu"), cs["cpu_s"]),
            "%",
        )


def print_queries(q: dict[str, Any], targets: Targets) -> None:
    print(
        f"\n### API queries: {q['queries']} known-item queries, each timed once"
        f" (after {q['warmup']} other warm-up queries), ms\n"
    )
    qf: dict[str, dict[str, dict[str, Any]]] = {}
    rows, cpu_rows = [], []
    for mode, per in q["modes"].items():
        qf[mode] = {}
        for name, r in per.items():
            if "failed" in r:
                rows.append([mode, name, "failed", *["-"] * 10])
                continue
            s = qf[mode][name] = query_stats(r, q["targets"])
            fts = qf[mode].get("fts5", {})
            tan = qf[mode].get("tantivy", {})
            rows.append(
                [
                    mode,
                    name,
                    fmt(s["p50"], ".2f"),
                    fmt(s["p95"], ".2f"),
                    x(ratio(s["p50"], fts.get("p50"))),
                    x(ratio(s["p50"], tan.get("p50"))),
                    x(ratio(s["p95"], tan.get("p95"))),
                    fmt(s["mrr"], ".3f"),
                    fmt(s["hits"], ",.0f"),
                    fmt(s["all_share"], ".0%") if s["all_share"] is not None else "-",
                    fmt(s["open_s"] * 1000, ".1f") + " / " + fmt(s["first_ms"], ".1f"),
                    fmt(s["rss"], ",.0f"),
                    str(s["errors"]),
                ]
            )
            cpu_rows.append(
                [
                    mode,
                    name,
                    fmt(s["cpu_p50"], ".2f"),
                    fmt(s["cpu_p95"], ".2f"),
                    x(ratio(s["cpu_p50"], fts.get("cpu_p50"))),
                    x(ratio(s["cpu_p50"], tan.get("cpu_p50"))),
                    x(ratio(s["cpu_p95"], tan.get("cpu_p95"))),
                ]
            )
    print(
        table(
            [
                "mode",
                "engine",
                "p50",
                "p95",
                "p50 vs FTS5",
                "p50 vs Tantivy",
                "p95 vs Tantivy",
                "MRR@10",
                "median hits",
                "all-words",
                "open / 1st query",
                "process MiB",
                "errors",
            ],
            rows,
        )
    )
    print("\nThe same passes in CPU time of the search process (ms):\n")
    print(
        table(
            [
                "mode",
                "engine",
                "CPU p50",
                "CPU p95",
                "p50 vs FTS5",
                "p50 vs Tantivy",
                "p95 vs Tantivy",
            ],
            cpu_rows,
        )
    )
    print(
        "\nWarm cache (not a user's figure): the facets queries a second time in the same"
        " process, ms.\n"
    )
    rows = [
        [name, fmt(s.get("warm_p50"), ".2f"), fmt(s.get("warm_p95"), ".2f")]
        for name, s in qf.get("facets", {}).items()
    ]
    print(table(["engine", "warm p50", "warm p95"], rows))
    print("\n" + load_note(q))
    f = qf.get("facets", {})
    cs = f.get("clipsearch")
    if not cs:
        return
    for peer in ("tantivy", "tantivy-all"):
        if peer in f:
            p = f[peer]
            targets.add(
                f"API p50 / {peer} p50 (facets)",
                3.0,
                ratio(cs["p50"], p["p50"]),
                ratio(cs["cpu_p50"], p["cpu_p50"]),
                "x",
            )
            targets.add(
                f"API p95 / {peer} p95 (facets)",
                3.0,
                ratio(cs["p95"], p["p95"]),
                ratio(cs["cpu_p95"], p["cpu_p95"]),
                "x",
            )
    for peer in ("fts5", "fts5-all"):
        if peer in f:
            p = f[peer]
            targets.add(
                f"API p50 / {peer} p50 (20k only)",
                0.5,
                ratio(cs["p50"], p["p50"]),
                ratio(cs["cpu_p50"], p["cpu_p50"]),
                "x",
            )
    targets.add("API search process peak RSS", 300, cs["rss"], None, "MiB")


def print_cli(c: dict[str, Any], targets: Targets) -> None:
    cf = cli_figures(c)
    print(
        f"\n### One whole process per search: {c['queries']} different queries,"
        " process start to exit, s\n"
    )
    fts, tan = cf.get("fts5", {}), cf.get("tantivy", {})
    rows = [
        [
            "clipsearch search" if name == "clipsearch" else f"oneshot.py {name}",
            fmt(s["p50"], ".3f"),
            fmt(s["p95"], ".3f"),
            x(ratio(s["p50"], fts.get("p50"))),
            x(ratio(s["p50"], tan.get("p50"))),
            fmt(s["cpu_p50"], ".3f"),
            x(ratio(s["cpu_p50"], fts.get("cpu_p50"))),
            fmt(s["rss"], ",.0f") + " / " + fmt(s["rss_max"], ",.0f"),
        ]
        for name, s in cf.items()
    ]
    headers = [
        "process",
        "p50",
        "p95",
        "p50 vs FTS5",
        "p50 vs Tantivy",
        "CPU p50",
        "CPU vs FTS5",
        "peak RSS MiB (median / max)",
    ]
    print(table(headers, rows))
    print("\n" + load_note(c))
    cs = cf.get("clipsearch")
    if not cs:
        return
    for peer in ("fts5", "fts5-all"):
        if peer in cf:
            p = cf[peer]
            targets.add(
                f"CLI search p50 / one-shot {peer} p50",
                2.0,
                ratio(cs["p50"], p["p50"]),
                ratio(cs["cpu_p50"], p["cpu_p50"]),
                "x",
            )
    targets.add("CLI search process peak RSS", 300, cs["rss_max"], None, "MiB")


def print_report(res: dict[str, Any]) -> None:
    v = res.get("versions", {})
    print(
        f"clipsearch {v.get('git')} · Python {v.get('python')} · SQLite {v.get('sqlite')}"
        f" · Tantivy {v.get('tantivy')} · Whoosh {v.get('whoosh')} · {v.get('cpus')} CPUs"
        f" · {v.get('date')}"
    )
    if "cacm" in res:
        print_cacm(res["cacm"])
    targets = Targets()
    if "build" in res:
        print_build(res["build"], targets)
    if "query" in res:
        print_queries(res["query"], targets)
    if "cli" in res:
        print_cli(res["cli"], targets)
    if targets.rows:
        print("\n### Targets (issue 8)\n")
        headers = ["target", "limit", "measured", "verdict", "in CPU time", "verdict (CPU)"]
        print(table(headers, targets.rows))


def print_cacm(c: dict[str, Any]) -> None:
    print(f"\n### CACM: {c['topics']} topics, top 1000, each once\n")
    rows = [["Anserini BM25 (reference)", "0.3123", "0.1942", "-", "-"]]
    for name, r in c["engines"].items():
        rows.append(
            [
                name,
                fmt(r["map"], ".4f"),
                fmt(r["P@30"], ".4f"),
                fmt(r["P@10"], ".4f"),
                fmt(pct(r["ms"], 0.5), ".2f"),
            ]
        )
    print(table(["engine", "MAP", "P@30", "P@10", "p50 ms"], rows))
    print("\n" + load_note(c))


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as fh:
        print_report(json.load(fh))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
