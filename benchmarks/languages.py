"""Language detection and per-language analysis: accuracy and cost.

    python benchmarks/languages.py --labelled benchmarks/languages_labelled.tsv
    python benchmarks/languages.py --clips /tmp/clips20k        # an English corpus

`--labelled`: accuracy of `clipsearch.language.detect` (what indexing uses: script and
English shortcuts, py3langid, the confidence threshold) and of py3langid alone (its
best language among DETECTED, no threshold) on short titles and on title + excerpt,
per language; `und` counts as wrong, and is reported apart.

`--clips`: what detection says of every clip of a folder (read as indexing reads it:
title, excerpt, the start of the body), how many went through the model, its load
time and the time per clip; and the CPU time of analysing every clip's text fields
with the English-only chain of schema version 1 (Whoosh's RegexTokenizer,
LowercaseFilter, StopFilter, Porter) against the per-language ClipAnalyzer of the
clip's language.  Each figure is process CPU time, so other load on the machine
changes it less than wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import Counter, defaultdict

from clipsearch import language


def labelled(path: str) -> dict:
    rows = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("#") or not line.strip():
                continue
            lang, title, excerpt = line.rstrip("\n").split("\t")
            rows.append((lang, title, excerpt))
    out: dict = {"rows": len(rows)}
    for name, text_of in (
        ("title", lambda r: r[1]),
        ("title+excerpt", lambda r: r[1] + "\n" + r[2]),
    ):
        per: dict[str, Counter] = defaultdict(Counter)
        wrong: list = []
        for lang, *_ in rows:
            per[lang]["n"] += 0
        for row in rows:
            text = text_of(row)
            got = language.detect(text)
            model, _p = language.model_language(text)
            c = per[row[0]]
            c["n"] += 1
            c["detect_ok"] += got == row[0]
            c["detect_und"] += got == language.UNDETERMINED
            c["model_ok"] += model == row[0]
            if got not in (row[0], language.UNDETERMINED):
                wrong.append((row[0], got, row[1][:50]))
        total = Counter()
        for c in per.values():
            total.update(c)
        out[name] = {
            "detect_accuracy": round(total["detect_ok"] / total["n"], 4),
            "detect_und": round(total["detect_und"] / total["n"], 4),
            "detect_wrong": round(
                (total["n"] - total["detect_ok"] - total["detect_und"]) / total["n"], 4
            ),
            "model_accuracy": round(total["model_ok"] / total["n"], 4),
            "per_language": {
                k: f"{c['detect_ok']}/{c['n']} (und {c['detect_und']}, model {c['model_ok']})"
                for k, c in sorted(per.items())
            },
            "wrong": wrong,
        }
    return out


def clips(folder: str) -> dict:
    from clipsearch.ingest.clip import ClipError, read_clip

    cpu = time.process_time
    start = cpu()
    language._identifier()  # reading clips would load it: time it first
    load = cpu() - start
    texts = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            try:
                clip = read_clip(os.path.join(root, name))
            except ClipError:
                continue
            texts.append(clip)
    # Detection, as clip.py calls it (the model loaded, its load timed above).
    calls = 0
    model = language.model_language

    def counting(text: str) -> tuple[str, float]:
        nonlocal calls
        calls += 1
        return model(text)

    language.model_language = counting  # type: ignore[assignment]
    found: Counter = Counter()
    start = cpu()
    for c in texts:
        found[
            language.detect(
                "\n".join((c.title, c.excerpt, c.body[: language.DETECT_CHARS]))
            )
        ] += 1
    detect_s = cpu() - start
    language.model_language = model  # type: ignore[assignment]

    from whoosh.analysis import LowercaseFilter, RegexTokenizer, StemFilter, StopFilter

    from clipsearch.index.analysis import LanguageText, stem, text_analyzer
    from clipsearch.words import STOP_WORDS, TOKEN_PATTERN

    old = (
        RegexTokenizer(TOKEN_PATTERN)
        | LowercaseFilter()
        | StopFilter(stoplist=STOP_WORDS, minsize=1)
        | StemFilter(stemfn=stem, cachesize=None)
    )
    new = text_analyzer()
    timings = {}
    for name, analyzer, wrap in (
        ("v1_english_chain", old, lambda t, lang: t),
        ("v2_language_chain", new, LanguageText),
        ("v1_english_chain_again", old, lambda t, lang: t),
        ("v2_language_chain_again", new, LanguageText),
    ):
        stem.cache_clear()
        start = cpu()
        tokens = 0
        for c in texts:
            for text in (c.title, c.excerpt, c.body, c.related_text):
                for _t in analyzer(wrap(text, c.language), positions=True):
                    tokens += 1
        timings[name] = {"cpu_s": round(cpu() - start, 3), "tokens": tokens}
    return {
        "clips": len(texts),
        "languages": dict(found.most_common()),
        "through_model": calls,
        "model_load_cpu_s": round(load, 3),
        "detect_cpu_s": round(detect_s, 3),
        "detect_ms_per_clip": round(1000 * detect_s / max(1, len(texts)), 4),
        "analysis": timings,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--labelled")
    ap.add_argument("--clips")
    args = ap.parse_args()
    out = {}
    if args.labelled:
        out["labelled"] = labelled(args.labelled)
    if args.clips:
        out["clips"] = clips(args.clips)
    print(json.dumps(out, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
