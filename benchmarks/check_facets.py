"""Check that `search --json` facet counts equal counts taken over the full hit list.

    python benchmarks/check_facets.py --index DIR [QUERY ...]

For each query (with and without topic, provider and date filters) it runs the CLI
twice: once with the default page, once with `--limit` above the total, and counts
topics and providers over every hit of the second run.  A facet whose own filter is
set is disjunctive (its counts ignore that filter), so for it only the selected
values are compared.  Exits 1 on any mismatch.  This is a correctness check on a
real corpus; the test suite does the same against brute-force counts on fixtures.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections import Counter

DEFAULT_CASES: list[tuple[str, list[str]]] = [
    ("covid vaccine", []),
    ("election", ["--topic", "General"]),
    ("apple iphone", ["--provider", "The Verge", "--provider", "9to5Mac"]),
    ("ukraine", ["--since", "2022-01-10", "--until", "2022-01-20"]),
    ("football", ["--topic", "Sports", "--provider", "ESPN India"]),
    ("", ["--topic", "Health"]),
    ("market stocks", ["--topic", "Business", "--topic", "Technology"]),
]


def search(index: str, query: str, extra: list[str], limit: int) -> dict:
    cmd = [sys.executable, "-m", "clipsearch", "search", query, "--index", index, "--json"]
    cmd += ["--facet-limit", "1000000", "--limit", str(limit), *extra]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def check(index: str, query: str, extra: list[str]) -> bool:
    page = search(index, query, extra, 10)
    full = search(index, query, extra, page["total"] + 10)
    assert len(full["hits"]) == full["total"] == page["total"]
    counted = {
        "topic": Counter(
            t for h in full["hits"] for t in {t.casefold(): t for t in h["topics"]}.values()
        ),
        "provider": Counter(h["provider"] for h in full["hits"] if h["provider"]),
    }
    ok = True
    for facet in ("topic", "provider"):
        chosen = [extra[i + 1] for i, a in enumerate(extra) if a == f"--{facet}"]
        got = page["facets"][facet]
        if chosen:  # disjunctive: the selected values' counts still cover the hits
            same = all(got.get(v, 0) >= counted[facet].get(v, 0) for v in chosen)
        else:
            same = got == dict(counted[facet])
        ok = ok and same
        print(
            f"{query!r:18} {' '.join(extra):58} {facet:8} total={page['total']:6} "
            f"{'ok' if same else 'MISMATCH'}"
        )
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index", required=True)
    ap.add_argument("queries", nargs="*", help="extra queries, checked without filters")
    args = ap.parse_args()
    cases = DEFAULT_CASES + [(q, []) for q in args.queries]
    results = [check(args.index, q, extra) for q, extra in cases]
    print("all facet counts match" if all(results) else "MISMATCH")
    return 0 if all(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
