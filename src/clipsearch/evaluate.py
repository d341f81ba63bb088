"""TREC-style retrieval evaluation, so users can measure clipsearch on their own collection.

Inputs are the formats every IR toolkit speaks: TREC qrels (``qid Q0 docid rel``), TREC
run files (``qid Q0 docid rank score tag``) and query files (``qid<TAB>text``).  The
measures follow ``trec_eval -c`` so that figures can be set beside published ones:

* only topics with at least one relevant document (relevance > 0) are averaged; judged
  topics the run does not answer count as 0 (that is what ``-c`` does);
* a ranking is cut at ``depth`` (1000, like trec_eval's default) before AP is computed,
  and AP divides by *all* relevant documents, retrieved or not;
* P@k divides by k even when fewer than k documents were retrieved;
* a run file is ordered by score, ties broken by docid in descending order, as trec_eval
  does (its rank column is ignored); a docid listed twice keeps its best rank.

From the command line: ``clipsearch evaluate QRELS RUN`` or, ranking a query file with
an index first, ``clipsearch evaluate QRELS --queries QUERIES.tsv [--index DIR]``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from clipsearch.errors import StorageError

Qrels = dict[str, dict[str, int]]
"""qid -> {docid: relevance}; relevance > 0 means relevant."""

Run = dict[str, list[str]]
"""qid -> docids, best first."""

DEFAULT_DEPTH = 1000


class EvaluationError(ValueError):
    """A malformed qrels, run or query line; the message names the file and line."""


def _lines(source: str | os.PathLike[str] | Iterable[str]) -> Iterable[tuple[str, int, str]]:
    """(name, line number, line) from a path or from already-open lines (tests, stdin)."""
    if isinstance(source, str | os.PathLike):
        name = os.fspath(source)
        try:
            with open(source, encoding="utf-8") as fh:
                for n, line in enumerate(fh, 1):
                    yield name, n, line
        except UnicodeDecodeError:
            raise EvaluationError(_not_utf8(name)) from None
    else:
        for n, line in enumerate(source, 1):
            yield "<lines>", n, line


def _not_utf8(name: str) -> str:
    """Where a file stops being UTF-8: its line and byte offset (the text decoder reads
    ahead, so the line it failed in is found again from the bytes)."""
    with open(name, "rb") as fh:
        raw = fh.read()
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        return f"{name}:{line}: not UTF-8: byte 0x{raw[exc.start]:02x} at offset {exc.start}"
    return f"{name}: not UTF-8"  # changed since it was read


def read_qrels(source: str | os.PathLike[str] | Iterable[str]) -> Qrels:
    """TREC qrels: ``qid iter docid rel`` per line; the second column is ignored."""
    qrels: Qrels = {}
    for name, n, line in _lines(source):
        parts = line.split()
        if not parts or parts[0].startswith("#"):
            continue
        if len(parts) != 4:
            raise EvaluationError(f"{name}:{n}: expected 'qid Q0 docid rel', got {line!r}")
        qid, _, docid, rel = parts
        try:
            qrels.setdefault(qid, {})[docid] = int(rel)
        except ValueError:
            raise EvaluationError(f"{name}:{n}: relevance is not an integer: {rel!r}") from None
    return qrels


def read_run(source: str | os.PathLike[str] | Iterable[str]) -> Run:
    """A TREC run file, ranked as trec_eval ranks it: score descending, then docid descending."""
    scored: dict[str, dict[str, float]] = {}
    for name, n, line in _lines(source):
        parts = line.split()
        if not parts or parts[0].startswith("#"):
            continue
        if len(parts) < 5:
            raise EvaluationError(
                f"{name}:{n}: expected 'qid Q0 docid rank score [tag]', got {line!r}"
            )
        qid, _, docid, _rank, score = parts[:5]
        try:
            value = float(score)
        except ValueError:
            raise EvaluationError(f"{name}:{n}: score is not a number: {score!r}") from None
        docs = scored.setdefault(qid, {})
        docs[docid] = max(value, docs.get(docid, value))
    run: Run = {}
    for qid, docs in scored.items():
        by_docid_desc = sorted(docs.items(), key=lambda item: item[0], reverse=True)
        run[qid] = [d for d, _ in sorted(by_docid_desc, key=lambda item: -item[1])]
    return run


def write_run(run: Mapping[str, Sequence[str]], path: str | os.PathLike[str], tag: str) -> None:
    """Write a run in TREC format; scores are ``1/rank`` so trec_eval keeps our order."""
    with open(path, "w", encoding="utf-8") as fh:
        for qid, docs in run.items():
            for rank, docid in enumerate(_unique(docs), 1):
                fh.write(f"{qid} Q0 {docid} {rank} {1.0 / rank:.8f} {tag}\n")


def read_queries(source: str | os.PathLike[str] | Iterable[str]) -> dict[str, str]:
    """Query file ``qid<TAB>text`` (extra columns ignored, ``#`` lines skipped)."""
    queries: dict[str, str] = {}
    for name, n, line in _lines(source):
        line = line.rstrip("\r\n")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) < 2 or not parts[1].strip():
            raise EvaluationError(f"{name}:{n}: expected 'qid<TAB>query', got {line!r}")
        queries[parts[0].strip()] = parts[1].strip()
    return queries


def _unique(docs: Iterable[str]) -> list[str]:
    """First occurrence of each docid (trec_eval refuses duplicates; we keep the best rank)."""
    return list(dict.fromkeys(docs))


def relevant_docs(judgments: Mapping[str, int]) -> set[str]:
    """Docids judged relevant (relevance > 0, trec_eval's default level)."""
    return {d for d, rel in judgments.items() if rel > 0}


def average_precision(
    ranked: Sequence[str], relevant: set[str], depth: int = DEFAULT_DEPTH
) -> float:
    """Mean of P@r over the ranks r of relevant hits, divided by *all* relevant docs."""
    if not relevant:
        return 0.0
    hits = 0
    total = 0.0
    for rank, docid in enumerate(_unique(ranked)[:depth], 1):
        if docid in relevant:
            hits += 1
            total += hits / rank
    return total / len(relevant)


def precision_at(ranked: Sequence[str], relevant: set[str], k: int) -> float:
    """Relevant docs in the top k over k: a short ranking is padded with misses."""
    return sum(1 for d in _unique(ranked)[:k] if d in relevant) / k


def reciprocal_rank(ranked: Sequence[str], relevant: set[str], k: int | None = None) -> float:
    """1/rank of the first relevant doc within the top k (0 if none there)."""
    for rank, docid in enumerate(_unique(ranked)[:k], 1):
        if docid in relevant:
            return 1.0 / rank
    return 0.0


@dataclass
class Evaluation:
    """Averages over the judged topics and the per-topic figures they came from."""

    topics: int
    map: float
    precision: dict[int, float]
    mrr: float
    mrr_k: int
    relevant: int
    relevant_retrieved: int
    retrieved: int
    per_topic: dict[str, dict[str, float]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form (P@k keys become ``P@k`` strings)."""
        out: dict[str, Any] = {
            "topics": self.topics,
            "map": self.map,
            f"mrr@{self.mrr_k}": self.mrr,
            "num_rel": self.relevant,
            "num_rel_ret": self.relevant_retrieved,
            "num_ret": self.retrieved,
        }
        out.update({f"P@{k}": v for k, v in self.precision.items()})
        return out


def evaluate(
    run: Mapping[str, Sequence[str]],
    qrels: Mapping[str, Mapping[str, int]],
    depth: int = DEFAULT_DEPTH,
    precision_ks: Sequence[int] = (5, 10, 30),
    mrr_k: int = 10,
    complete: bool = True,
) -> Evaluation:
    """MAP, P@k and MRR@k as ``trec_eval -c`` computes them.

    ``complete=False`` averages only over judged topics present in the run
    (trec_eval without ``-c``); topics without relevant docs never count.
    """
    per_topic: dict[str, dict[str, float]] = {}
    rel_total = rel_ret = retrieved = 0
    for qid in sorted(qrels):
        relevant = relevant_docs(qrels[qid])
        if not relevant or (not complete and qid not in run):
            continue
        ranked = _unique(run.get(qid, ()))[:depth]
        scores = {"ap": average_precision(ranked, relevant, depth)}
        for k in precision_ks:
            scores[f"P@{k}"] = precision_at(ranked, relevant, k)
        scores[f"rr@{mrr_k}"] = reciprocal_rank(ranked, relevant, mrr_k)
        per_topic[qid] = scores
        rel_total += len(relevant)
        rel_ret += sum(1 for d in ranked if d in relevant)
        retrieved += len(ranked)

    def mean(key: str) -> float:
        return sum(s[key] for s in per_topic.values()) / len(per_topic) if per_topic else 0.0

    return Evaluation(
        topics=len(per_topic),
        map=mean("ap"),
        precision={k: mean(f"P@{k}") for k in precision_ks},
        mrr=mean(f"rr@{mrr_k}"),
        mrr_k=mrr_k,
        relevant=rel_total,
        relevant_retrieved=rel_ret,
        retrieved=retrieved,
        per_topic=per_topic,
    )


def known_item_qrels(targets: Mapping[str, str]) -> Qrels:
    """Qrels for known-item queries: each query's one target doc is its only relevant doc."""
    return {qid: {docid: 1} for qid, docid in targets.items()}


class Searchable(Protocol):
    """What `run_queries` needs from an opened index (clipsearch's `open_index` result)."""

    def search(self, query: str, *, limit: int = ..., **kwargs: Any) -> Any: ...


def run_queries(
    index: Searchable,
    queries: Mapping[str, str],
    limit: int = DEFAULT_DEPTH,
    errors: dict[str, str] | None = None,
    **search_options: Any,
) -> Run:
    """Rank every query with an opened index; a query that raises gets an empty ranking
    (and its message in ``errors``) so one bad query cannot hide the others' scores.
    A failure of the machine (``OSError``, ``StorageError``) stops the run instead."""
    options = {"facets": False, "highlight": False, **search_options}
    run: Run = {}
    for qid, text in queries.items():
        try:
            result = index.search(text, limit=limit, **options)
        except (OSError, StorageError):  # the machine, not the query: no score means anything
            raise
        except Exception as exc:  # reported, and scored as an empty ranking
            if errors is None:
                raise
            errors[qid] = f"{type(exc).__name__}: {exc}"
            run[qid] = []
            continue
        run[qid] = [hit.id for hit in result.hits]
    return run


def format_evaluation(ev: Evaluation) -> str:
    """The summary lines trec_eval users expect to read."""
    lines = [
        f"topics        {ev.topics}",
        f"num_ret       {ev.retrieved}",
        f"num_rel       {ev.relevant}",
        f"num_rel_ret   {ev.relevant_retrieved}",
        f"map           {ev.map:.4f}",
    ]
    lines += [f"P@{k:<11} {v:.4f}" for k, v in ev.precision.items()]
    lines.append(f"MRR@{ev.mrr_k:<9} {ev.mrr:.4f}")
    return "\n".join(lines)
