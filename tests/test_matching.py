"""Match semantics (issue 10): totals and facet counts count exactly the clips with
all the words (auto when some clip has them all, or all), with any of them (any, or
auto's fallback), or what explicit syntax matches; checked against brute force over
the fixture corpus, with words compared by stem as the index compares them."""

from __future__ import annotations

import pytest
from conftest import ALL_SPECS, brute_facets, folded

from clipsearch import RequestError
from clipsearch.index.analysis import analyze_word


def _stems(spec) -> set[str]:
    return {s for w in spec.words if (s := analyze_word(w)) is not None}


def _having(words: list[str], every: bool) -> list:
    wanted = [analyze_word(w) for w in words if analyze_word(w) is not None]
    test = all if every else any
    return [s for s in ALL_SPECS if test(w in _stems(s) for w in wanted)]


QUERIES = [
    "facial recognition",
    "vaccine booster",
    "solar panel prices",
    "ballot counting machines",
    "satellite data crop yields",
    "wildfire smoke",
    "police robot",
    "gdpr fines",
]


@pytest.mark.parametrize("query", QUERIES)
def test_auto_and_all_count_clips_with_every_word(idx, query) -> None:
    expected = _having(query.split(), every=True)
    assert expected, "each query has clips with all its words"
    for mode in ("auto", "all"):
        res = idx.search(query, exact=True, match=mode, facet_limit=None)
        assert res.total == len(expected), (query, mode)
        assert res.match == "all" and not res.match_fallback
        want = brute_facets(expected)
        assert folded(res.facets["topic"]) == want["topic"]
        assert folded(res.facets["provider"]) == +Counter_without_empty(want["provider"])


def Counter_without_empty(counts):  # noqa: N802 - reads as the Counter it returns
    return type(counts)({k: v for k, v in counts.items() if k})


@pytest.mark.parametrize("query", QUERIES)
def test_any_counts_clips_with_some_word(idx, query) -> None:
    expected = _having(query.split(), every=False)
    res = idx.search(query, exact=True, match="any", facet_limit=None)
    assert res.total == len(expected) and res.match == "any"
    assert folded(res.facets["topic"]) == brute_facets(expected)["topic"]


def test_auto_falls_back_to_any_word_when_no_clip_has_them_all(idx) -> None:
    query = "glacier vaccine"  # no clip has both
    assert not _having(query.split(), every=True)
    res = idx.search(query, exact=True)
    assert res.match == "any" and res.match_fallback
    assert res.total == len(_having(query.split(), every=False)) > 0
    assert idx.search(query, exact=True, match="all").total == 0  # all means all


def test_a_word_is_present_through_its_correction(idx) -> None:
    res = idx.search("vacine booster")
    assert res.corrections == {"vacine": "vaccine"}
    assert res.match == "all"
    assert res.total == len(_having(["vaccine", "booster"], every=True))


def test_long_natural_language_queries_match_any_word(idx) -> None:
    query = "which councils debate vaccine passports for nurses"  # 7 words
    res = idx.search(query, exact=True)
    assert res.match == "any" and not res.match_fallback
    assert res.total == len(_having(query.split(), every=False))
    repeated = "solar solar solar solar solar panel"  # six words typed, two distinct
    assert idx.search(repeated, exact=True).match == "any"


def test_explicit_syntax_is_taken_as_written(idx) -> None:
    res = idx.search("solar OR ballot", exact=True)
    assert res.match == "as-written"
    assert res.total == len(_having(["solar", "ballot"], every=False))
    res = idx.search('"vaccine passports" council', exact=True)
    assert res.match == "as-written"
    # all: bare parts joined by AND, explicit OR kept
    res = idx.search("solar (rooftop OR floating)", exact=True, match="all")
    both = [
        s
        for s in ALL_SPECS
        if "solar" in _stems(s) and ({"rooftop", "float"} & _stems(s))
    ]
    assert res.match == "all" and res.total == len(both) > 0


def test_stop_words_do_not_make_all_impossible(idx) -> None:
    res = idx.search("the solar panel", exact=True)
    assert res.match == "all"
    assert res.total == len(_having(["solar", "panel"], every=True)) > 0


def test_match_is_validated_and_reported_in_json(idx) -> None:
    with pytest.raises(RequestError) as err:
        idx.search("solar", match="most")
    assert err.value.parameter == "match"
    data = idx.search("glacier vaccine", exact=True).to_dict()
    assert data["match"] == "any" and data["match_fallback"] is True


@pytest.fixture(scope="module")
def handful(tmp_path_factory):
    """200 clips with "operating", 3 with "portable", one with both; 2 with "harbour
    dredging" and one more with "dredging"."""
    from conftest import write_clip

    from clipsearch import open_index, update_index

    root = tmp_path_factory.mktemp("handful") / "clips"
    for i in range(200):
        write_clip(root / f"op{i:03}.md", title=f"Operating budget note {i}")
    for i in range(3):
        write_clip(root / f"port{i}.md", title=f"Portable radio review {i}")
    write_clip(root / "both.md", title="A portable operating theatre")
    for i in range(2):
        write_clip(root / f"harbour{i}.md", title=f"Harbour dredging begins {i}")
    write_clip(root / "dredging.md", title="Dredging contract awarded")
    index = root.parent / "index"
    assert update_index([root], index).ok
    with open_index(index) as idx:
        yield idx


def test_auto_reads_a_handful_among_many_as_any_word(handful) -> None:
    # 1 clip has both words, 203 have one: under 10 and under 1% of them
    res = handful.search("portable operating", exact=True)
    assert res.match == "any" and res.match_fallback and res.all_words_total == 1
    assert res.total == 204
    assert res.hits[0].title == "A portable operating theatre"  # all-words clips first
    assert res.to_dict()["all_words_total"] == 1
    strict = handful.search("portable operating", exact=True, match="all")
    assert strict.total == 1 and strict.match == "all" and strict.all_words_total is None


def test_a_handful_that_is_a_fair_share_stays_all_words(handful) -> None:
    # 2 of the 3 clips with either word have both: a small collection's real answer
    res = handful.search("harbour dredging", exact=True)
    assert res.match == "all" and not res.match_fallback and res.total == 2
    assert res.to_dict()["all_words_total"] is None


def test_the_cli_says_how_many_clips_had_all_the_words(handful) -> None:
    from click.testing import CliRunner

    from clipsearch.cli import main

    args = ["search", "portable operating", "--exact", "--index", handful.path]
    out = CliRunner().invoke(main, args)
    assert out.exit_code == 0, out.output
    assert "Only 1 clip has all the words; showing clips with any of them." in out.output
