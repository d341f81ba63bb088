"""Hand-computed cases for the TREC measures in clipsearch.evaluate (trec_eval -c semantics)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from clipsearch.evaluate import (
    EvaluationError,
    average_precision,
    evaluate,
    known_item_qrels,
    precision_at,
    read_qrels,
    read_queries,
    read_run,
    reciprocal_rank,
    run_queries,
    write_run,
)


def test_precision_counts_missing_ranks_as_misses() -> None:
    ranked = ["a", "b", "c", "d"]
    relevant = {"a", "c"}
    assert precision_at(ranked, relevant, 1) == 1.0
    assert precision_at(ranked, relevant, 2) == 0.5
    assert precision_at(ranked, relevant, 4) == 0.5
    # only 4 retrieved, but P@10 still divides by 10 (trec_eval P_10)
    assert precision_at(ranked, relevant, 10) == pytest.approx(0.2)
    assert precision_at(["a", "b", "c"], {"a", "b", "c"}, 30) == pytest.approx(0.1)


def test_average_precision_divides_by_all_relevant_docs() -> None:
    # relevant at ranks 1, 3, 5; "z" is relevant but never retrieved
    ranked = ["a", "x", "b", "y", "c"]
    relevant = {"a", "b", "c", "z"}
    expected = (1 / 1 + 2 / 3 + 3 / 5) / 4
    assert average_precision(ranked, relevant) == pytest.approx(expected)
    assert average_precision([], relevant) == 0.0
    assert average_precision(["x", "y"], relevant) == 0.0


def test_average_precision_is_cut_at_depth() -> None:
    ranked = ["a", "x", "b"]
    relevant = {"a", "b"}
    assert average_precision(ranked, relevant, depth=3) == pytest.approx((1 + 2 / 3) / 2)
    assert average_precision(ranked, relevant, depth=2) == pytest.approx(1 / 2)


def test_duplicate_docids_keep_their_first_rank() -> None:
    ranked = ["a", "a", "b"]
    assert precision_at(ranked, {"b"}, 2) == 0.5
    assert reciprocal_rank(ranked, {"b"}) == 0.5
    assert average_precision(ranked, {"b"}) == 0.5


def test_reciprocal_rank_is_cut_at_k() -> None:
    ranked = [f"d{i}" for i in range(1, 21)]
    assert reciprocal_rank(ranked, {"d3"}, 10) == pytest.approx(1 / 3)
    assert reciprocal_rank(ranked, {"d11"}, 10) == 0.0
    assert reciprocal_rank(ranked, {"d11"}) == pytest.approx(1 / 11)
    assert reciprocal_rank(ranked, {"d4", "d2"}, 10) == 0.5


def test_topics_without_relevant_docs_are_excluded() -> None:
    qrels = {
        "1": {"a": 1, "n": 0},
        "2": {"b": 0},  # judged, nothing relevant: not averaged
        "3": {"c": 2},  # graded relevance > 0 is relevant
        "4": {"d": -1},  # negative is non-relevant too
    }
    run = {"1": ["a"], "2": ["b"], "3": ["x", "c"], "4": ["d"], "9": ["a"]}  # 9 is unjudged
    ev = evaluate(run, qrels, precision_ks=(1, 2))
    assert ev.topics == 2
    assert set(ev.per_topic) == {"1", "3"}
    assert ev.map == pytest.approx((1.0 + 0.5) / 2)
    assert ev.precision[1] == pytest.approx((1.0 + 0.0) / 2)
    assert ev.precision[2] == pytest.approx((0.5 + 0.5) / 2)
    assert ev.mrr == pytest.approx((1.0 + 0.5) / 2)
    assert (ev.relevant, ev.relevant_retrieved, ev.retrieved) == (2, 2, 3)


def test_unanswered_judged_topics_count_as_zero_with_complete() -> None:
    qrels = {"1": {"a": 1}, "2": {"b": 1}, "3": {"c": 1}}
    run = {"1": ["a"], "3": ["x", "c"]}
    assert evaluate(run, qrels).map == pytest.approx((1.0 + 0.0 + 0.5) / 3)
    partial = evaluate(run, qrels, complete=False)
    assert partial.topics == 2
    assert partial.map == pytest.approx((1.0 + 0.5) / 2)


def test_evaluate_cuts_rankings_at_depth() -> None:
    qrels = {"1": {"a": 1, "b": 1}}
    run = {"1": ["a", "x", "b"]}
    ev = evaluate(run, qrels, depth=2, precision_ks=(3,))
    assert ev.map == pytest.approx(0.5)
    assert ev.precision[3] == pytest.approx(1 / 3)
    assert ev.retrieved == 2


def test_run_file_ties_are_broken_by_docid_descending() -> None:
    lines = [
        "1 Q0 a 1 2.0 tag",
        "1 Q0 b 2 2.0 tag",
        "1 Q0 c 3 3.0 tag",  # rank column says 3, score says first: the score wins
        "1 Q0 c 4 1.0 tag",  # duplicate: the best score is kept
        "2 Q0 z 1 -1.5 tag",
    ]
    run = read_run(lines)
    assert run == {"1": ["c", "b", "a"], "2": ["z"]}
    # tie order changes the score: with {a} relevant, a sits at rank 3, not 2
    assert evaluate(run, {"1": {"a": 1}}).map == pytest.approx(1 / 3)


def test_read_qrels_and_errors() -> None:
    qrels = read_qrels(["# comment", "1 Q0 CACM-1 1", "1 0 CACM-2 0", "", "2 Q0 CACM-3 2"])
    assert qrels == {"1": {"CACM-1": 1, "CACM-2": 0}, "2": {"CACM-3": 2}}
    with pytest.raises(EvaluationError, match="<lines>:1"):
        read_qrels(["1 Q0 CACM-1"])
    with pytest.raises(EvaluationError, match="not an integer"):
        read_qrels(["1 Q0 CACM-1 yes"])
    with pytest.raises(EvaluationError, match="score"):
        read_run(["1 Q0 a 1 high"])


def test_read_queries_skips_header_and_extra_columns() -> None:
    lines = ["# qid\tclean\ttypo\ttarget_id\n", "1\tfacial recognition\tfacial recogntion\tc-1\n"]
    assert read_queries(lines) == {"1": "facial recognition"}
    with pytest.raises(EvaluationError):
        read_queries(["1 no tab here"])


def test_write_run_round_trips(tmp_path: Path) -> None:
    run = {"1": ["b", "a", "b"], "2": ["c"]}
    path = tmp_path / "run.txt"
    write_run(run, path, "t")
    assert path.read_text().splitlines()[0].split() == ["1", "Q0", "b", "1", "1.00000000", "t"]
    assert read_run(path) == {"1": ["b", "a"], "2": ["c"]}


def test_known_item_qrels_and_mrr() -> None:
    qrels = known_item_qrels({"1": "t1", "2": "t2", "3": "t3"})
    run = {"1": ["t1", "x"], "2": ["x", "y", "t2"], "3": ["x"]}
    assert evaluate(run, qrels).mrr == pytest.approx((1 + 1 / 3 + 0) / 3)


@dataclass
class _Hit:
    id: str


@dataclass
class _Result:
    hits: list[_Hit]


class _FakeIndex:
    def __init__(self) -> None:
        self.calls: list[dict] = []

    def search(self, query: str, *, limit: int = 10, **kwargs: object) -> _Result:
        self.calls.append({"query": query, "limit": limit, **kwargs})
        if query == "boom":
            raise ValueError("bad query")
        return _Result([_Hit(f"{query}-{i}") for i in range(min(limit, 3))])


def test_run_queries_collects_ids_and_reports_errors() -> None:
    idx = _FakeIndex()
    errors: dict[str, str] = {}
    run = run_queries(idx, {"1": "q", "2": "boom"}, limit=2, errors=errors)
    assert run == {"1": ["q-0", "q-1"], "2": []}
    assert errors == {"2": "ValueError: bad query"}
    assert idx.calls[0] == {"query": "q", "limit": 2, "facets": False, "highlight": False}
    with pytest.raises(ValueError):
        run_queries(idx, {"2": "boom"})


def test_cli_evaluates_a_run_file(tmp_path) -> None:
    from click.testing import CliRunner

    from clipsearch.cli import main

    qrels = tmp_path / "qrels.txt"
    qrels.write_text("1 0 d1 1\n1 0 d3 1\n2 0 d9 1\n")
    run = tmp_path / "run.txt"
    run.write_text("1 Q0 d1 1 3.0 t\n1 Q0 d2 2 2.0 t\n1 Q0 d3 3 1.0 t\n")
    res = CliRunner().invoke(main, ["evaluate", str(qrels), str(run)])
    assert res.exit_code == 0, res.output
    lines = dict(line.split(None, 1) for line in res.output.splitlines())
    # topic 1: AP = (1/1 + 2/3) / 2; topic 2 is judged but unanswered: AP 0 (trec_eval -c)
    assert float(lines["map"]) == pytest.approx(((1 + 2 / 3) / 2) / 2, abs=1e-4)
    assert lines["topics"].strip() == "2"


def test_cli_evaluate_needs_a_run_or_queries(tmp_path) -> None:
    from click.testing import CliRunner

    from clipsearch.cli import main

    qrels = tmp_path / "qrels.txt"
    qrels.write_text("1 0 d1 1\n")
    res = CliRunner().invoke(main, ["evaluate", str(qrels)])
    assert res.exit_code == 2
    assert "RUN" in res.output


# Regression test (was a bug, issue 16 C): a qrels, run or query file that is not UTF-8
# raised UnicodeDecodeError (a traceback from `clipsearch evaluate`)
@pytest.mark.parametrize("reader", [read_qrels, read_run, read_queries])
def test_a_file_that_is_not_utf8_is_an_error_naming_file_line_and_offset(
    tmp_path: Path, reader
) -> None:
    path = tmp_path / "latin1.txt"
    path.write_bytes(b"1 Q0 d1 1 1.0 t\n1 Q0 caf\xe9 2 0.5 t\n")
    with pytest.raises(EvaluationError) as err:
        reader(path)
    assert str(err.value) == f"{path}:2: not UTF-8: byte 0xe9 at offset 24"


class _BrokenDisk(_FakeIndex):
    def search(self, query: str, *, limit: int = 10, **kwargs: object) -> _Result:
        raise OSError(5, "Input/output error", "/idx/seg")


def test_run_queries_stops_on_a_failure_of_the_machine() -> None:
    """Scoring an I/O error as an empty ranking would print a MAP that means nothing."""
    with pytest.raises(OSError):
        run_queries(_BrokenDisk(), {"1": "q"}, errors={})
