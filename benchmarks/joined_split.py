"""Joined and split words: MRR@10 of known-item queries as typed clean, with typos, with
two adjacent words joined ("facial recognition" -> "facialrecognition") and with one
word of 6+ letters split in two ("recognition" -> "recog nition").

    python benchmarks/joined_split.py --index IDX --queries QUERIES.tsv [--seed 15]

QUERIES.tsv is make_queries.py output (qid, clean, typo, target_id).  Which pair is
joined and where a word is split is drawn per query from a seeded generator, so runs
are repeatable; a query with no pair (one word) or no long word has no variant of that
kind and is left out of that column.  Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import random

from clipsearch import open_index

DEPTH = 10


def joined(words: list[str], rng: random.Random) -> str | None:
    pairs = [i for i in range(len(words) - 1) if words[i].isalnum() and words[i + 1].isalnum()]
    if not pairs:
        return None
    i = rng.choice(pairs)
    return " ".join([*words[:i], words[i] + words[i + 1], *words[i + 2 :]])


def split(words: list[str], rng: random.Random) -> str | None:
    long = [i for i, w in enumerate(words) if len(w) >= 6 and w.isalpha()]
    if not long:
        return None
    i = rng.choice(long)
    w = words[i]
    cut = rng.randrange(3, len(w) - 2)
    return " ".join([*words[:i], w[:cut], w[cut:], *words[i + 1 :]])


def reciprocal_rank(idx, text: str, target: str) -> float:
    ids = [h.id for h in idx.search(text, limit=DEPTH, facets=False, highlight=False).hits]
    return 1.0 / (ids.index(target) + 1) if target in ids else 0.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index", required=True)
    ap.add_argument("--queries", required=True)
    ap.add_argument("--seed", type=int, default=15)
    args = ap.parse_args()
    with open(args.queries, encoding="utf-8") as fh:
        rows = [line.rstrip("\n").split("\t") for line in fh if not line.startswith("#")]
    rr: dict[str, list[float]] = {"clean": [], "typo": [], "joined": [], "split": []}
    clean_where: dict[str, list[float]] = {"joined": [], "split": []}
    with open_index(args.index) as idx:
        for qid, clean, typo, target in rows:
            rng = random.Random(f"{args.seed}:{qid}")
            base = reciprocal_rank(idx, clean, target)
            rr["clean"].append(base)
            rr["typo"].append(reciprocal_rank(idx, typo, target))
            words = clean.split()
            for kind, make in (("joined", joined), ("split", split)):
                text = make(words, rng)
                if text is not None:
                    rr[kind].append(reciprocal_rank(idx, text, target))
                    clean_where[kind].append(base)
    out: dict[str, object] = {"queries": len(rows), "depth": DEPTH}
    for kind, values in rr.items():
        out[f"{kind}_n"] = len(values)
        out[f"{kind}_mrr"] = round(sum(values) / max(1, len(values)), 4)
    for kind, values in clean_where.items():  # clean MRR over the same queries
        base = sum(values) / max(1, len(values))
        out[f"{kind}_kept"] = round(out[f"{kind}_mrr"] / base, 4) if base else None
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
