"""Query expansion: RM3 pseudo-relevance feedback for long queries (issue 15)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from clipsearch.cli.commands import main
from clipsearch.errors import RequestError
from clipsearch.search.engine import ClipIndex
from clipsearch.search.request import SearchRequest

LONG = "how fast are the glaciers melting in greenland this year"
FILLER = ["harvest", "orchestra", "election", "football", "railway", "bakery", "museum"]


@pytest.fixture
def glaciers(make_index):
    clips = {
        f"ice{i}.md": {
            "title": f"Greenland glaciers melting {i}",
            "body": "The glaciers of Greenland are melting fast; moraine and crevasse "
            "surveys show the moraine growing and every crevasse widening.",
        }
        for i in range(3)
    }
    clips["target.md"] = {
        "title": "Field notes",
        "body": "A moraine survey: the crevasse field, moraine ridges, crevasse depth.",
        # Too short to detect with confidence: undeclared, it would be analysed
        # without stemming, and the stemmed feedback words would not reach it.
        "language": "en",
    }
    for i in range(50):
        word = FILLER[i % len(FILLER)]
        clips[f"other{i}.md"] = {"title": f"News {i}", "body": f"The {word} report number {i}."}
    _, index = make_index(clips)
    with ClipIndex(index) as idx:
        yield idx


def test_expansion_is_off_by_default(glaciers):
    assert SearchRequest("x").expand is False
    res = glaciers.search(LONG, limit=100)
    assert res.expanded == []
    assert "Field notes" not in [h.title for h in res.hits]


def test_long_query_adds_feedback_words_and_finds_a_clip_without_the_query_words(glaciers):
    plain = glaciers.search(LONG, limit=100)
    res = glaciers.search(LONG, limit=100, expand=True)
    assert {"morain", "crevass"} <= set(res.expanded)
    # Reported: the words added (query words among the feedback words only weigh more).
    assert not {"glacier", "greenland", "melt"} & set(res.expanded)
    titles = [h.title for h in res.hits]
    assert "Field notes" in titles  # none of the query's words, the feedback words
    assert res.total == plain.total + 1
    # The clips with the query's words still rank first.
    assert all(t.startswith("Greenland") for t in titles[:3])


def test_short_queries_are_not_expanded(glaciers):
    for query in ("greenland glaciers melting", "glaciers", "moraine OR glaciers melting fast now"):
        plain = glaciers.search(query, limit=100)
        res = glaciers.search(query, limit=100, expand=True)
        assert res.expanded == []
        assert [(h.id, h.score) for h in res.hits] == [(h.id, h.score) for h in plain.hits]
        assert res.total == plain.total


def test_expand_is_validated():
    with pytest.raises(RequestError, match="expand"):
        SearchRequest("x", expand="yes")  # type: ignore[arg-type]


def test_expand_cli_reports_the_words(glaciers):
    runner = CliRunner()
    out = runner.invoke(main, ["search", *LONG.split(), "--index", glaciers.path, "--expand"])
    assert out.exit_code == 0, out.output
    assert "Expanded with:" in out.output and "morain" in out.output
    plain = runner.invoke(main, ["search", *LONG.split(), "--index", glaciers.path])
    assert "Expanded with" not in plain.output
    js = runner.invoke(
        main, ["search", *LONG.split(), "--index", glaciers.path, "--expand", "--json"]
    )
    assert js.exit_code == 0 and '"expanded"' not in js.output  # not in the JSON contract
