"""Snippets: marking, windowing, and the candidate-prefix shortcut losing nothing."""

from __future__ import annotations

import random
import re

import pytest

from clipsearch.folding import fold_in_place
from clipsearch.index import stem
from clipsearch.search.highlight import candidates, snippet
from clipsearch.words import STOP_WORDS


def analyze(word: str) -> str | None:
    return None if word in STOP_WORDS else stem(word)


def test_marks_words_that_stem_like_the_query() -> None:
    terms = {analyze("recognition"), analyze("facial")}
    out = snippet("Facial recognitions are recognised widely", terms, analyze)
    assert out == "<mark>Facial</mark> <mark>recognitions</mark> are recognised widely"


def test_no_match_gives_empty_string() -> None:
    assert snippet("nothing here", {"vaccin"}, analyze) == ""
    assert snippet("", {"vaccin"}, analyze) == ""


def test_window_goes_where_most_matches_are() -> None:
    text = "vaccine " + "filler " * 100 + "covid vaccine booster covid"
    out = snippet(text, {analyze("covid"), analyze("vaccine")}, analyze, max_chars=120)
    assert out.startswith("… ")
    assert out.endswith("<mark>covid</mark>")
    assert out.count("<mark>") == 3
    assert len(re.sub(r"</?mark>", "", out)) <= 120 + 2


def test_stop_words_are_never_marked() -> None:
    assert snippet("the cat", {"the", "cat"}, analyze) == "the <mark>cat</mark>"


VOCAB = (
    "happy happiness happily run running runs ran generous generously generation general "
    "agreed agreement relational relate conditional condition national nationalism "
    "electrical electricity hopeful hopefully goodness sensible sensibility adjustable "
    "adjustment dependent dependence effective effectively cities city studies study "
    "U.S. e.g. covid-19 COVID Vaccines vaccinated ponies pony caresses feed agreed"
).split()


@pytest.mark.parametrize("seed", range(25))
def test_candidate_pattern_finds_exactly_what_a_full_scan_finds(seed: int) -> None:
    rng = random.Random(seed)
    text = " ".join(rng.choice(VOCAB) for _ in range(60))
    picked = rng.sample(VOCAB, 4)
    # Query terms are single tokens of the index's analyzer, as in a real query.
    tokens = [tok for w in picked for tok in re.findall(r"\w+(?:\.?\w+)*", w.lower())]
    terms = {t for tok in tokens if (t := analyze(tok))}
    full = snippet(text, terms, analyze)
    fast = snippet(text, terms, analyze, candidates(terms))
    assert fast == full


def _assert_spans_of_prefix_pattern(text: str, terms: set[str]) -> None:
    """`candidates(terms)` finds what the plain prefix pattern of `terms` finds."""
    prefixes = sorted({t[: max(2, len(t) - 1)] for t in terms}, key=len, reverse=True)
    pattern = re.compile(rf"(?<!\w)(?:{'|'.join(map(re.escape, prefixes))})\w*(?:\.\w+)*")
    folded = fold_in_place(text)
    found = candidates(terms)
    assert found is not None
    assert found.spans(folded) == [m.span() for m in pattern.finditer(folded)]


@pytest.mark.parametrize(
    "text",
    [
        "u.s.a covid.vaccine x_vaccine 3.5vaccine ..vacc vaccine.s.t vaccines",
        "happiness happy unhappy happi.ly happ",
        "régions, cities—city's; ponies!pony",
    ],
)
def test_candidates_are_the_words_a_prefix_pattern_finds(text: str) -> None:
    terms = {"u.s", "vaccin", "s.t", "happi", "citi", "poni", "region"}
    _assert_spans_of_prefix_pattern(text, terms)


@pytest.mark.parametrize(
    "text",
    [
        "official officially officials officiallyryzen offici offic_ial of",
        "u.s u.s.a us usa u.s.official officia.lly",
        "unofficial officially.s official, officialités",
    ],
)
def test_prefixes_extending_others_find_the_same_words(text: str) -> None:
    # "officia" and "officiall" extend "offic" by letters (left out: they find the
    # same words); "u.s" extends "u" by a dot (kept).
    terms = {"offici", "official", "officially", "u", "u.s", "usa"}
    _assert_spans_of_prefix_pattern(text, terms)


@pytest.mark.parametrize(
    ("text", "terms"),
    [
        ("iphone発売日 iPhone sales in 東京: iphones sell", {"iphon", "sale"}),
        ("東京 news: Tokyo’s sales — 発売", {"tokyo", "sale"}),
        ("iphone発売日 iPhone sales in 東京", {"iphon", "発売"}),  # a CJK term too
    ],
)
def test_cjk_text_marks_the_same_with_or_without_candidates(text: str, terms: set[str]) -> None:
    found = candidates(terms)
    assert found is not None and found.cjk == any("発" in t for t in terms)
    assert snippet(text, terms, analyze, found) == snippet(text, terms, analyze)
    assert "<mark>" in snippet(text, terms, analyze, found)
