"""The top values of facet counts: the `limit` most frequent (ties by name), any
selected value added, and how many others there are; sorting only the values that
can be shown must give exactly what sorting them all gives."""

from __future__ import annotations

import random

import pytest

from clipsearch.search.facets import top_counts


def _by_full_sort(counts: dict[str, int], limit: int | None, selected: list[str]) -> tuple:
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    shown = ranked if limit is None else ranked[:limit]
    out = dict(shown)
    for v in selected:
        out.setdefault(v, counts.get(v, 0))
    return list(out.items()), len(ranked) - len(shown)


@pytest.mark.parametrize("seed", range(20))
def test_top_counts_are_those_of_a_full_sort(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(200):
        counts = {f"v{rng.randrange(50)}": rng.randrange(1, 6) for _ in range(rng.randrange(40))}
        limit = rng.choice([None, 0, 1, 2, 3, 10, 100])
        selected = rng.sample([*counts, "absent"], k=min(2, len(counts)))
        got = top_counts(counts, limit, selected)
        assert (list(got.counts.items()), got.other_values) == _by_full_sort(
            counts, limit, selected
        )


def test_ties_at_the_limit_go_by_name() -> None:
    got = top_counts({"b": 2, "a": 2, "c": 2, "d": 5}, 2)
    assert got.counts == {"d": 5, "a": 2} and got.other_values == 2
