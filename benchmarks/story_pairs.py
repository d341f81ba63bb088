"""Pair precision and recall of story grouping (issue 11), on two sets.

1. Labelled candidate pairs from a corpus index: every pair the banding proposes
   (within the window) is binned by its estimated overlap; `draw` takes a fixed,
   seeded sample from each bin and writes it for labelling (`label` 1: the same
   story, 0: not), `score` reads the labels back and reports, for each threshold,
   precision and recall over the labelled pairs, each bin weighted by its share of
   all candidates (so the sample's even bins do not overweigh the rare high ones).
   The committed sample (story_pairs.tsv) was drawn before pairs were ordered by
   clip id, in the document order of one build: `draw` now gives the same kind of
   sample on any build, and `score` reproduces the figures from the file itself.
2. Synthetic copies: clips of the index copied as a syndicating outlet would
   (re-headlined, excerpt trimmed, another provider, published up to two days
   later), grouped with the whole index: recall is the share of copies put with
   their original, precision the share of the copies' links that are right.

    python benchmarks/story_pairs.py draw  --index /tmp/ix20k --out benchmarks/story_pairs.tsv
    python benchmarks/story_pairs.py show  --index /tmp/ix20k --pairs benchmarks/story_pairs.tsv
    python benchmarks/story_pairs.py score --index /tmp/ix20k --pairs benchmarks/story_pairs.tsv
    python benchmarks/story_pairs.py synthetic --index /tmp/ix20k [--copies 300]
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
from array import array
from collections import Counter

import numpy as np

from clipsearch.index import Snapshot, grouping, signatures
from clipsearch.index import stories as story_files
from clipsearch.index.columns import Columns

BINS = [(0.1, 0.2), (0.2, 0.3), (0.3, 0.4), (0.4, 0.5), (0.5, 0.6), (0.6, 0.8), (0.8, 1.01)]
PER_BIN = 36
SEED = 20221


def _load(index: str):
    snap = Snapshot(index)
    reader = snap._reader
    cols = Columns(index, reader, snap._ix.schema)
    table_rows, _docs = story_files.rows(index, reader, cols)
    rows = [d for d, alive in enumerate(table_rows.live) if alive]
    table = table_rows.table.take(np.asarray(rows, dtype=np.int64))
    ids = [table_rows.ids[d] for d in rows]
    stored = [reader.stored_fields(d) for d in rows]
    feats = [_unpack(table.sample.row(k)) for k in range(len(rows))]
    nums = [
        (
            table.numbers.row(k),
            table.title_numbers.row(k),
            _unpack(table.title_words.row(k)),
            int(table.provider[k]),
        )
        for k in range(len(rows))
    ]
    published = table_rows.published
    times = np.asarray([published[d] if published[d] is not None else -(10**18) for d in rows])
    return snap, rows, ids, stored, table.minhash, feats, nums, times


def _unpack(values: list[int]) -> array:
    """One row of a signature table's packed column as a uint32 array."""
    return array("I", values)


def _jaccard(mh, i, j) -> float:
    return float((mh[i] == mh[j]).mean())


def _candidates(mh, feats, times, ids, window_days=story_files.DEFAULT_WINDOW_DAYS):
    """Candidate pairs and their estimated MinHash Jaccard (what the bins are of:
    the sample is drawn before any comparison rule, so it judges them all)."""
    ranks = np.argsort(np.argsort(np.asarray(ids), kind="stable"))
    pairs = grouping.candidate_pairs(mh, times, int(window_days * 86_400_000_000), ranks)
    pairs = pairs[(times[pairs[:, 0]] > 0) & (times[pairs[:, 1]] > 0)]
    a, b = pairs[:, 0], pairs[:, 1]
    return pairs, (mh[a] == mh[b]).mean(axis=1)


def draw(args) -> None:
    _snap, _rows, ids, _stored, mh, feats, _nums, times = _load(args.index)
    pairs, sim = _candidates(mh, feats, times, ids)
    rng = random.Random(SEED)
    out = []
    # By clip ids, not document numbers: a bulk build numbers documents in the order
    # its processes finish, so the same files can give another order.
    by_ids = sorted(range(len(pairs)), key=lambda k: sorted((ids[pairs[k][0]], ids[pairs[k][1]])))
    for lo, hi in BINS:
        members = [k for k in by_ids if lo <= sim[k] < hi]
        print(f"bin {lo:.1f}-{hi:.1f}: {len(members)} candidate pairs", file=sys.stderr)
        for k in sorted(rng.sample(members, min(PER_BIN, len(members))), key=by_ids.index):
            a, b = sorted((ids[pairs[k][0]], ids[pairs[k][1]]))
            out.append((a, b, f"{sim[k]:.3f}", f"{lo:.1f}"))
    with open(args.out, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, delimiter="\t")
        w.writerow(["id_a", "id_b", "overlap", "bin", "label"])
        for row in out:
            w.writerow([*row, ""])


def _read_pairs(path: str):
    with open(path, encoding="utf-8") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def show(args) -> None:
    snap = Snapshot(args.index)
    for n, row in enumerate(_read_pairs(args.pairs)):
        print(f"#{n} overlap {row['overlap']} label={row['label']}")
        for key in ("id_a", "id_b"):
            f = snap.stored(snap.docnum_of(row[key]))
            print(f"  [{f.get('provider')}] {f.get('published')} {f.get('title')}")
            print(f"     {(f.get('excerpt') or '')[: args.width]}")


def score(args) -> None:
    _snap, _rows, ids, _stored, mh, feats, nums, times = _load(args.index)
    pairs, sim = _candidates(mh, feats, times, ids)
    bin_sizes = Counter()
    for lo, hi in BINS:
        bin_sizes[f"{lo:.1f}"] = int(((sim >= lo) & (sim < hi)).sum())
    position = {c: k for k, c in enumerate(ids)}
    labelled = [r for r in _read_pairs(args.pairs) if r["label"] in ("0", "1")]
    per_bin = Counter(r["bin"] for r in labelled)
    print(f"{len(labelled)} labelled pairs, {sum(r['label'] == '1' for r in labelled)} same story")
    print("threshold  precision  recall  (weighted by bin)   sample: tp fp fn")
    common = grouping.common_features(feats)
    frequent = grouping.frequent_title_words([n[2] for n in nums])

    def agree(i: int, j: int) -> bool:
        (ni, ti, wi, pi), (nj, tj, wj, pj) = nums[i], nums[j]
        if not grouping.numbers_agree(ni, nj, ti, tj):
            return False
        return not (pi and pi == pj) or grouping.titles_agree(wi, wj, frequent)

    for t in (0.3, 0.4, 0.5, 0.55, 0.6, 0.65, 0.7, 0.8):
        tp = fp = fn = 0.0
        raw = Counter()
        for r in labelled:
            i, j = position[r["id_a"]], position[r["id_b"]]
            est = grouping.overlap(feats[i], feats[j], common)
            said = est >= t and agree(i, j)
            weight = bin_sizes[r["bin"]] / per_bin[r["bin"]]
            truth = r["label"] == "1"
            if said and truth:
                tp += weight
                raw["tp"] += 1
            elif said:
                fp += weight
                raw["fp"] += 1
            elif truth:
                fn += weight
                raw["fn"] += 1
        p = tp / (tp + fp) if tp + fp else 1.0
        rec = tp / (tp + fn) if tp + fn else 1.0
        print(f"  {t:.2f}      {p:.3f}      {rec:.3f}      {raw['tp']} {raw['fp']} {raw['fn']}")


def _copy(stored: dict, rng: random.Random) -> dict:
    words = (stored.get("excerpt") or "").split()
    keep = max(5, int(len(words) * rng.uniform(0.5, 0.8)))
    title_words = (stored.get("title") or "").split()
    rng.shuffle(title_words)
    headline = " ".join(title_words[: max(3, len(title_words) * 2 // 3)])
    return {
        "title": f"{rng.choice(['Report:', 'Explained:', 'Update:', 'Watch:'])} {headline}",
        "excerpt": " ".join(words[:keep]) + "...",
        "body": stored.get("body") or "",
        "provider": "Syndicated Daily",
    }


def synthetic(args) -> None:
    _snap, rows, ids, stored, mh, feats, nums, times = _load(args.index)
    rng = random.Random(SEED)
    dated = [
        k
        for k in range(len(rows))
        if times[k] > 0 and len((stored[k].get("excerpt") or "").split()) >= 15
    ]
    picks = rng.sample(dated, args.copies)
    extra_mh, extra_f, extra_n, extra_t = [], [], [], []
    for k in picks:
        c = _copy(stored[k], rng)
        sg = signatures.signature(
            c["title"], c["excerpt"], c["body"], "", c["provider"], "", None, ()
        )
        extra_mh.append(np.frombuffer(sg.minhash, dtype="<u4"))
        extra_f.append(array("I", sg.sample))
        extra_n.append((sg.numbers, sg.title_numbers, array("I", sg.title_words), sg.provider))
        extra_t.append(int(times[k]) + rng.randint(0, 2 * 86_400_000_000))
    all_mh = np.vstack([mh, np.asarray(extra_mh)])
    all_f = feats + extra_f
    all_n = [n[0] for n in nums + extra_n]
    all_tn = [n[1] for n in nums + extra_n]
    all_tw = [n[2] for n in nums + extra_n]
    all_p = [n[3] for n in nums + extra_n]
    all_t = np.concatenate([times, np.asarray(extra_t)])
    n0 = len(rows)
    for t in (0.4, 0.5, 0.6, 0.7):
        links = grouping.copies(
            all_mh, all_f, all_n, all_tn, all_t, story_files.DEFAULT_WINDOW_DAYS, t, all_tw, all_p
        )
        base = {(i, j) for i, j in links if j < n0}
        found = right = wrong = 0
        for i, j in links:
            if j < n0:
                continue
            c = j - n0
            orig = picks[c]
            if i == orig:
                found += 1
                right += 1
            elif i >= n0:
                wrong += 1  # two copies of different clips
            elif (min(i, orig), max(i, orig)) in base:
                right += 1  # a copy of the original's own story
            else:
                wrong += 1
        print(
            f"threshold {t:.2f}: recall {found / len(picks):.3f} "
            f"precision {right / max(1, right + wrong):.3f} ({right} right, {wrong} wrong links)"
        )


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("draw", "show", "score", "synthetic"):
        p = sub.add_parser(name)
        p.add_argument("--index", required=True)
        if name == "draw":
            p.add_argument("--out", required=True)
        if name in ("show", "score"):
            p.add_argument("--pairs", required=True)
        if name == "show":
            p.add_argument("--width", type=int, default=220)
        if name == "synthetic":
            p.add_argument("--copies", type=int, default=300)
    args = ap.parse_args()
    {"draw": draw, "show": show, "score": score, "synthetic": synthetic}[args.cmd](args)


if __name__ == "__main__":
    main()
