"""One search in one process, as a peer's user would script it:

    python benchmarks/oneshot.py fts5|fts5-all|tantivy|tantivy-all INDEX_DIR QUERY

Opens the peer's index, runs the query with both facet counts over all matches, prints
the top 10 (id, title) and the counts, and exits.  The harness times the whole process
beside one `clipsearch search` process.  Nothing here imports clipsearch.
"""

from __future__ import annotations

import sys

from engines import make_engine


def main() -> int:
    name, index_dir, query = sys.argv[1], sys.argv[2], sys.argv[3]
    engine = make_engine(name)
    engine.open(index_dir)
    res = engine.search(query, limit=10, facets=True)
    print(f"{res.total} matches")
    for clip_id in res.ids:
        print(clip_id)
    for facet, counts in res.facets.items():
        top = sorted(counts.items(), key=lambda kv: -kv[1])[:10]
        print(facet + ": " + ", ".join(f"{value} ({n})" for value, n in top))
    engine.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
