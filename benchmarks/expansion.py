"""Query expansion (RM3, `expand=True`): CACM MAP with and without it, on all judged
queries and on the odd and even halves, and MRR@10 of long known-item queries on news
clips (a second, independent check that expansion does not drown a precise query).

    python benchmarks/expansion.py --cacm-index IDX [--cacm-dir ../shared/data/raw/cacm]
        [--news-index IDX --news-clips DIR [--n 200] [--seed 15]]
        [--grid]

The news queries are drawn from clips with a seeded generator: words 1-12 of a clip's
excerpt (lower case, punctuation dropped), the clip being the one relevant answer.
`--grid` also searches FB_DOCS x FB_TERMS x ORIGINAL_WEIGHT around the defaults and
prints each setting's MAP on both halves (the defaults are chosen from it).  Prints one
JSON object per line.
"""

from __future__ import annotations

import argparse
import functools
import json
import random
import re
from pathlib import Path

import frontmatter

from clipsearch import evaluate, open_index
from clipsearch.search import expansion

WORD = re.compile(r"[A-Za-z][A-Za-z'-]*[A-Za-z]|[A-Za-z]")


def cacm_map(idx, queries: dict[str, str], qrels, expand: bool) -> dict[str, float]:
    """MAP over all judged queries, and over odd and even query ids."""
    ap: dict[str, float] = {}
    for qid, text in queries.items():
        if qid not in qrels:
            continue
        res = idx.search(text, limit=1000, facets=False, highlight=False, expand=expand)
        ap[qid] = evaluate.average_precision(
            [h.id for h in res.hits], evaluate.relevant_docs(qrels[qid])
        )

    def mean(keys):
        keys = list(keys)
        return round(sum(ap[k] for k in keys) / len(keys), 4)

    return {
        "map": mean(ap),
        "map_odd": mean(k for k in ap if int(k) % 2),
        "map_even": mean(k for k in ap if not int(k) % 2),
        "queries": len(ap),
    }


def news_queries(clips: Path, n: int, seed: int) -> list[tuple[str, str]]:
    """(query, clip id) pairs: the first 12 words of the excerpts of `n` drawn clips."""
    files = sorted(p for p in clips.rglob("*") if p.suffix in (".md", ".txt"))
    rng = random.Random(seed)
    rng.shuffle(files)
    out = []
    for path in files:
        if len(out) >= n:
            break
        try:
            post = frontmatter.load(path)
        except Exception:  # noqa: BLE001 - the corpus has deliberately broken files
            continue
        words = WORD.findall(str(post.get("excerpt") or ""))[:12]
        if len(words) >= 8 and post.get("id"):
            out.append((" ".join(w.lower() for w in words), str(post["id"])))
    return out


def news_mrr(idx, queries: list[tuple[str, str]], expand: bool) -> float:
    total = 0.0
    for text, target in queries:
        res = idx.search(text, limit=10, facets=False, highlight=False, expand=expand)
        total += evaluate.reciprocal_rank([h.id for h in res.hits], {target}, 10)
    return round(total / len(queries), 4)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cacm-index", required=True)
    ap.add_argument("--cacm-dir", default="../shared/data/raw/cacm")
    ap.add_argument("--news-index")
    ap.add_argument("--news-clips", type=Path)
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--seed", type=int, default=15)
    ap.add_argument("--grid", action="store_true")
    args = ap.parse_args()
    cacm = Path(args.cacm_dir)
    queries = evaluate.read_queries(cacm / "queries.tsv")
    qrels = evaluate.read_qrels(cacm / "qrels.txt")
    defaults = {
        "fb_docs": expansion.FB_DOCS,
        "fb_terms": expansion.FB_TERMS,
        "original_weight": expansion.ORIGINAL_WEIGHT,
    }
    with open_index(args.cacm_index) as idx:
        print(json.dumps({"cacm": "bm25f", **cacm_map(idx, queries, qrels, False)}))
        print(json.dumps({"cacm": "rm3", **defaults, **cacm_map(idx, queries, qrels, True)}))
        if args.grid:
            feedback, expand = expansion.feedback_terms, expansion.expand
            try:
                for docs in (10, 15, 20, 30):
                    for terms in (15, 20, 25, 30):
                        for weight in (0.2, 0.3, 0.4, 0.5):
                            expansion.feedback_terms = functools.partial(
                                feedback, fb_docs=docs, fb_terms=terms
                            )
                            expansion.expand = functools.partial(expand, original_weight=weight)
                            setting = dict(fb_docs=docs, fb_terms=terms, original_weight=weight)
                            row = cacm_map(idx, queries, qrels, True)
                            print(json.dumps({"cacm": "rm3-grid", **setting, **row}), flush=True)
            finally:
                expansion.feedback_terms, expansion.expand = feedback, expand
    if args.news_index and args.news_clips:
        pairs = news_queries(args.news_clips, args.n, args.seed)
        with open_index(args.news_index) as idx:
            base, rm3 = news_mrr(idx, pairs, False), news_mrr(idx, pairs, True)
        print(json.dumps({"news_long_known_item": len(pairs), "mrr10": base, "mrr10_rm3": rm3}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
