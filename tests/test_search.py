"""Searching (query.py, facets.py): ranking, filters, sorting, paging, facet counts,
typo corrections."""

from __future__ import annotations

import os
import random
import string
from collections import Counter
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from conftest import (
    ALL_SPECS,
    SEED_ID,
    SEED_TITLE,
    brute_facets,
    folded,
    specs_with_word,
    write_clip,
)

from clipsearch import QueryError, open_index
from clipsearch import index as store
from clipsearch.ingest.clip import QUALITY_MAX, QUALITY_MIN
from clipsearch.search.request import MAX_QUERY_CHARS

# --------------------------------------------------------------------------- helpers


def everything(idx, query="", **kw):
    """Every hit of a search (limit above the total), with full facet counts."""
    kw.setdefault("facet_limit", None)
    return idx.search(query, limit=1000, **kw)


def hit_facets(hits) -> dict[str, Counter[str]]:
    topics: Counter[str] = Counter()
    providers: Counter[str] = Counter()
    for h in hits:
        topics.update({t.casefold() for t in h.topics})
        if h.provider:
            providers[h.provider.casefold()] += 1
    return {"topic": topics, "provider": providers}


def by_title(specs):
    return sorted(s.title for s in specs)


def cf(values):
    return {v.casefold() for v in values}


# --------------------------------------------------------------------------- ranking


def test_seed_is_top_hit_for_facial_recognition(idx):
    res = idx.search("facial recognition")
    assert res.hits[0].id == SEED_ID
    assert res.hits[0].title == SEED_TITLE
    # Other clips have both words only in the body: they rank lower.  (Issue 10: a
    # short plain query counts the clips with all its words; with match="any", any.)
    both = {s.name for s in specs_with_word("facial")} & {
        s.name for s in specs_with_word("recognition")
    }
    assert res.total == len(both)
    assert res.total > 1
    either = {s.name for w in ("facial", "recognition") for s in specs_with_word(w)}
    assert idx.search("facial recognition", match="any").total == len(either) > len(both)
    assert res.hits[0].score > res.hits[1].score
    assert res.corrections == {}


@pytest.mark.parametrize("query", ["King County", '"King County"', "related:king"])
def test_text_only_in_related_items_finds_the_seed(idx, query):
    res = idx.search(query)
    assert res.hits[0].id == SEED_ID
    assert "related" in res.hits[0].highlights
    assert "<mark>King</mark>" in res.hits[0].highlights["related"]


def test_related_provider_names_are_searchable(idx):
    res = idx.search('"Biometric Companies"')
    assert [h.id for h in res.hits] == [SEED_ID]


def test_fields_outside_the_documented_set_are_not_searchable(idx):
    assert idx.search("IJEsU", exact=True).total == 0  # `secured`
    assert idx.search("isCached", exact=True).total == 0  # `images`


def test_all_words_outrank_one_word_repeated(make_index):
    word = "tariff " * 12
    _, index = make_index(
        {
            "repeat-solar.md": dict(
                title="Solar solar solar", excerpt="Solar " * 12, body="solar " * 40
            ),
            "repeat-tariff.md": dict(title="Tariff tariff", excerpt=word, body=word * 3),
            "both.md": dict(
                title="Trade ministers meet",
                excerpt="A new tariff could slow solar imports, officials said on Monday.",
            ),
            "other.md": dict(title="Unrelated weather report", excerpt="Rain later."),
        }
    )
    from clipsearch import open_index

    with open_index(index) as idx:
        res = idx.search("solar tariff", match="any")  # the ranking over the any-word set
        assert [h.title for h in res.hits][0] == "Trade ministers meet"
        assert res.total == 3
        # The one-word clips score higher on BM25 alone; the tier puts them after.
        scores = {h.title: h.score for h in res.hits}
        assert scores["Solar solar solar"] > scores["Trade ministers meet"]
        three = idx.search("solar tariff imports")
        assert three.hits[0].title == "Trade ministers meet"


def test_title_match_outranks_excerpt_only_match(make_index):
    _, index = make_index(
        {
            "a-excerpt.md": dict(
                title="Forest service budget news", excerpt="Crews prepare for wildfire season."
            ),
            "b-title.md": dict(
                title="Crews prepare for wildfire season", excerpt="Forest service budget news."
            ),
            "c.md": dict(title="Weather", excerpt="Sunny."),
        }
    )
    from clipsearch import open_index

    with open_index(index) as idx:
        res = idx.search("wildfire")
        assert [h.title for h in res.hits] == [
            "Crews prepare for wildfire season",
            "Forest service budget news",
        ]
        assert res.hits[0].score > res.hits[1].score


def test_exact_word_outranks_typo_corrected_match(make_index):
    clips = {
        "exact.md": dict(title="Colour printing returns", excerpt="Presses run again."),
        "fixed.md": dict(title="Color printing returns", excerpt="Presses run again."),
    }
    # "colour" is rare and "color" common: "colour" is also searched as "color".
    for n in range(22):
        clips[f"filler{n:02d}.md"] = dict(title=f"Color story {n}", excerpt="Other news.")
    _, index = make_index(clips)
    from clipsearch import open_index

    with open_index(index) as idx:
        res = idx.search("colour printing")
        assert res.corrections == {"colour": "color"}
        assert [h.title for h in res.hits[:2]] == [
            "Colour printing returns",
            "Color printing returns",
        ]
        assert res.hits[0].score > res.hits[1].score
        exact = idx.search("colour", exact=True)
        assert exact.corrections == {}
        assert [h.title for h in exact.hits] == ["Colour printing returns"]


def test_typos_are_corrected_and_reported(idx):
    res = idx.search("faical recogniton")
    assert res.corrections == {"faical": "facial", "recogniton": "recognition"}
    assert res.hits[0].id == SEED_ID
    exact = idx.search("faical recogniton", exact=True)
    assert exact.total == 0 and exact.corrections == {}


def test_did_you_mean_is_offered_when_the_query_finds_little(make_index):
    _, index = make_index({f"c{n}.md": dict(title=f"Harbour news {n}") for n in range(6)})
    from clipsearch import open_index

    with open_index(index) as idx:
        res = idx.search("harbor", exact=True)
        assert res.total == 0
        assert res.suggestion == "harbour"


# --------------------------------------------------------------------------- never corrected


@pytest.mark.parametrize(
    "query",
    [
        '"faical recogniton"',  # a phrase
        "title:faical",  # field:value
        "2001",  # a year: must not become 2000
        "vacine*",  # a prefix
        "NOT vacine",  # an excluded word
    ],
)
def test_never_corrected(idx, query):
    res = idx.search(query)
    assert res.corrections == {}


def test_years_are_not_corrected(idx):
    assert idx.search("2000").total == len(specs_with_word("2000")) == 2
    res = idx.search("2001")
    assert res.total == 0 and res.corrections == {}


def test_quoted_word_is_not_corrected(idx):
    res = idx.search('"vacine"')
    assert res.corrections == {}
    assert res.total == 0


@pytest.mark.parametrize(
    "query", ["title:responsibly", "excerpt:conversations", 'title:"responsibly deploy"']
)
def test_field_value_on_text_fields_matches_like_plain_words(idx, query):
    assert [h.id for h in idx.search(query).hits] == [SEED_ID]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("title:deploy", [SEED_TITLE]),
        ("title:vaccine", [s.title for s in specs_with_word("vaccine")]),
        ("provider:gcn", [s.title for s in ALL_SPECS if s.provider == "GCN"]),
        ("topic:ai", [s.title for s in ALL_SPECS if "ai" in cf(s.topics)]),
        ('topic:"computer vision"', [s.title for s in ALL_SPECS if "Computer Vision" in s.topics]),
        ("domain:GCN.com", [s.title for s in ALL_SPECS if s.domain == "gcn.com"]),
    ],
)
def test_field_value_queries(idx, query, expected):
    assert by_title(everything(idx, query).hits) == sorted(expected)


def test_not_excludes(idx):
    res = everything(idx, "vaccine NOT booster")
    assert res.total == len(specs_with_word("vaccine")) - 1
    assert all("Booster" not in h.title for h in res.hits)


# --------------------------------------------------------------------------- filters


def test_topic_filter(idx):
    res = everything(idx, topics=["Climate"])
    expected = [s for s in ALL_SPECS if "Climate" in s.topics]
    assert by_title(res.hits) == by_title(expected)
    assert res.total == 10


def test_topic_filter_is_case_insensitive_and_merges_case_variants(idx):
    upper = everything(idx, topics=["AI"])
    lower = everything(idx, topics=["ai"])
    assert by_title(upper.hits) == by_title(lower.hits)
    expected = [s for s in ALL_SPECS if "ai" in cf(s.topics)]
    assert by_title(upper.hits) == by_title(expected)
    # The most frequent spelling is shown.
    assert "AI" in upper.facets["topic"] and "ai" not in upper.facets["topic"]


def test_repeated_filters_or_within_and_across(idx):
    res = everything(idx, topics=["Health", "Space"], providers=["Reuters", "Wired"])
    expected = [
        s
        for s in ALL_SPECS
        if cf(s.topics) & {"health", "space"} and s.provider.casefold() in {"reuters", "wired"}
    ]
    assert expected  # the case is not empty
    assert by_title(res.hits) == by_title(expected)
    both_topics = everything(idx, topics=["Health", "Space"])
    assert both_topics.total == len([s for s in ALL_SPECS if cf(s.topics) & {"health", "space"}])


def test_filters_with_a_query(idx):
    res = everything(idx, "vaccine", providers=["reuters"])
    expected = [s for s in specs_with_word("vaccine") if s.provider.casefold() == "reuters"]
    assert by_title(res.hits) == by_title(expected)
    assert len(expected) == 2  # "Reuters" and "reuters" are one provider


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("natl law review", "The National Law Review"),
        ("national law review", "The National Law Review"),
        ("NEW YORK TIMES", "The New York Times"),
        ("seattle", "Seattle Times"),
    ],
)
def test_fuzzy_provider_values(idx, typed, meant):
    res = everything(idx, providers=[typed])
    expected = [s for s in ALL_SPECS if s.provider == meant]
    assert expected
    assert by_title(res.hits) == by_title(expected)
    assert meant in res.facets["provider"]


@pytest.mark.parametrize(
    ("typed", "meant"),
    [("computer visoin", "Computer Vision"), ("elections", "Elections"), ("vacines", "Vaccines")],
)
def test_fuzzy_topic_values(idx, typed, meant):
    res = everything(idx, topics=[typed])
    expected = [s for s in ALL_SPECS if meant in s.topics]
    assert expected
    assert by_title(res.hits) == by_title(expected)
    assert meant in res.facets["topic"]


def test_ambiguous_filter_value_lists_candidates(idx):
    with pytest.raises(QueryError) as err:
        idx.search("", providers=["times"])
    message = str(err.value)
    assert "ambiguous" in message
    for name in ("Seattle Times", "The New York Times", "Financial Times"):
        assert name in message


def test_unknown_filter_value_is_an_error(idx):
    with pytest.raises(QueryError, match="no such topic"):
        idx.search("", topics=["Astrology"])


def test_since_until_on_utc_dates(idx):
    since, until = datetime(2021, 4, 1), datetime(2021, 8, 31, 23, 59, 59)
    res = everything(idx, since=since, until=until)
    expected = [s for s in ALL_SPECS if s.published and since <= s.published <= until]
    assert len(expected) >= 5
    assert by_title(res.hits) == by_title(expected)
    for h in res.hits:
        assert since <= h.published <= until
    only_since = everything(idx, since=datetime(2022, 1, 1))
    assert by_title(only_since.hits) == by_title(
        [s for s in ALL_SPECS if s.published and s.published >= datetime(2022, 1, 1)]
    )


def test_offsets_are_compared_in_utc(make_index):
    # 01:30 at +02:00 on June 1st is May 31st in UTC.
    _, index = make_index(
        {"x.md": dict(title="Late night ferry", date='"2021-06-01T01:30:00+02:00"')}
    )
    from clipsearch import open_index

    with open_index(index) as idx:
        assert idx.search("ferry", since=datetime(2021, 6, 1)).total == 0
        assert idx.search("ferry", until=datetime(2021, 5, 31, 23, 30)).total == 1
        assert idx.search("ferry", since=datetime(2021, 5, 31, 23, 30)).total == 1
        assert idx.search("ferry", until=datetime(2021, 5, 31, 23, 29)).total == 0


def test_aware_since_until_are_converted_to_utc(make_index):
    # Issue 16 (7): aware values were compared as wall-clock times, and mixing aware
    # with naive raised TypeError.  The clip is at 2021-05-31T23:30Z.
    _, index = make_index(
        {"x.md": dict(title="Late night ferry", date='"2021-06-01T01:30:00+02:00"')}
    )
    from clipsearch import open_index

    ist = timezone(timedelta(hours=5, minutes=30))
    with open_index(index) as idx:
        assert idx.search("ferry", since=datetime(2021, 6, 1, 5, 0, tzinfo=ist)).total == 1
        assert idx.search("ferry", since=datetime(2021, 6, 1, 5, 1, tzinfo=ist)).total == 0
        assert idx.search("ferry", until=datetime(2021, 6, 1, 4, 59, tzinfo=ist)).total == 0
        assert idx.search("ferry", until=datetime(2021, 6, 1, 5, 0, tzinfo=ist)).total == 1
        # Aware and naive mixed: both UTC underneath.
        mixed = idx.search(
            "ferry",
            since=datetime(2021, 6, 1, 4, 0, tzinfo=ist),
            until=datetime(2021, 5, 31, 23, 30),
        )
        assert mixed.total == 1
        with pytest.raises(QueryError, match="since .* is after until"):
            idx.search("ferry", since=datetime(2021, 6, 1, tzinfo=UTC), until=datetime(2021, 5, 1))
        # A date alone: since its first moment, until its last.
        assert idx.search("ferry", since=date(2021, 5, 31), until=date(2021, 5, 31)).total == 1
        assert idx.search("ferry", until=date(2021, 5, 30)).total == 0


@pytest.mark.parametrize(
    "kw",
    [
        {"since": datetime.min},
        {"until": datetime.max},
        {"since": datetime.min, "until": datetime.max},
        {"since": datetime.min.replace(tzinfo=timezone(timedelta(hours=1)))},  # year 0 in UTC
        {"until": datetime.max.replace(tzinfo=timezone(-timedelta(hours=1)))},  # year 10000
        {"until": date.max},
        {"since": date.min},
    ],
)
def test_extreme_since_until_are_clamped_not_overflowing(idx, kw):
    # Issue 16 (9): out-of-range UTC times clamp to datetime.min/max: the same bound.
    dated = [s for s in ALL_SPECS if s.published]
    assert everything(idx, **kw).total == len(dated)


def test_since_until_of_the_wrong_type_is_a_query_error(idx):
    with pytest.raises(QueryError, match="since must be a datetime"):
        idx.search("", since="2022-01-01")
    with pytest.raises(QueryError, match="until must be a datetime"):
        idx.search("", until=1641772800)


def test_library_errors_do_not_name_cli_flags(idx):
    for kw in ({"limit": -1}, {"offset": -2}, {"sort": "random"}):
        with pytest.raises(QueryError) as err:
            idx.search("vaccine", **kw)
        assert "--" not in str(err.value)
        assert str(next(iter(kw.values()))) in str(err.value)
    with pytest.raises(QueryError) as err:
        idx.search("", since=datetime(2022, 1, 1), until=datetime(2021, 1, 1))
    assert "--" not in str(err.value) and "2022-01-01" in str(err.value)


def test_since_after_until_is_an_error(idx):
    with pytest.raises(QueryError):
        idx.search("", since=datetime(2022, 1, 1), until=datetime(2021, 1, 1))


# --------------------------------------------------------------------------- sorting, paging


def _dates(hits):
    return [h.published for h in hits]


def test_sort_by_date_listing_newest_first_undated_last(idx):
    res = everything(idx, sort="date")
    dated = [d for d in _dates(res.hits) if d is not None]
    assert dated == sorted(dated, reverse=True)
    n_undated = sum(1 for s in ALL_SPECS if s.published is None)
    assert n_undated >= 2
    assert _dates(res.hits)[-n_undated:] == [None] * n_undated


def test_empty_query_lists_newest_first_by_default(idx):
    res = idx.search("", limit=5)
    newest = sorted((s.published for s in ALL_SPECS if s.published), reverse=True)[:5]
    assert _dates(res.hits) == newest
    assert all(h.score == 0 for h in res.hits)


def test_sort_by_date_with_a_query_orders_dated_hits(idx):
    res = everything(idx, "vaccine OR wildfire OR ballot", sort="date")
    dated = [d for d in _dates(res.hits) if d is not None]
    assert dated == sorted(dated, reverse=True)


# Regression: at f167717 Whoosh's reverse FieldFacet sorted missing values first.
@pytest.mark.parametrize("sort", ["date", "quality"])
def test_sort_with_a_query_puts_missing_values_last(idx, sort):
    res = everything(idx, "vaccine OR wildfire OR ballot OR solar", sort=sort)
    key = [h.published if sort == "date" else h.quality for h in res.hits]
    assert None in key
    first_none = key.index(None)
    assert all(k is None for k in key[first_none:])


def test_sort_by_quality(idx):
    res = everything(idx, sort="quality")
    qualities = [h.quality for h in res.hits]
    known = [q for q in qualities if q is not None]
    assert known == sorted(known, reverse=True)
    assert qualities[: len(known)] == known
    expected = sorted((s.quality_int for s in ALL_SPECS if s.quality_int is not None), reverse=True)
    assert known == expected


# Regression test (was a bug, issue 16 F): a clip with quality 2**63-1 (the column's marker
# for "missing") sorted after every clip with a quality
def test_sort_by_quality_at_both_ends_of_the_range(make_index):
    qualities = {"top": QUALITY_MAX, "low": QUALITY_MIN, "zero": 0, "none": None, "one": 1}
    clips = {
        f"{name}.md": dict(title=f"Harbour {name}", id=name) | ({} if q is None else {"quality": q})
        for name, q in qualities.items()
    }
    _, index = make_index(clips)
    with open_index(index) as opened:
        res = opened.search("harbour", sort="quality")
    assert [h.id for h in res.hits] == ["top", "one", "zero", "low", "none"]
    assert [h.quality for h in res.hits] == [QUALITY_MAX, 1, 0, QUALITY_MIN, None]


@pytest.mark.parametrize(
    ("query", "kw"),
    [
        ("", {}),
        ("", {"sort": "quality"}),
        ("vaccine OR solar OR wildfire OR ballot", {}),
        ("vaccine wildfire analysis", {}),  # tiered: both tiers on the pages
        ("vaccine OR solar", {"sort": "date"}),
        ("", {"topics": ["Climate"]}),
    ],
)
def test_paging_is_consistent_with_the_full_list(idx, query, kw):
    full = everything(idx, query, **kw)
    assert full.total == len(full.hits) > 6
    ids = [h.id for h in full.hits]
    assert len(set(ids)) == len(ids)
    paged = []
    for offset in range(0, full.total + 3, 4):
        page = idx.search(query, limit=4, offset=offset, **kw)
        assert page.total == full.total
        assert page.offset == offset
        paged += [h.id for h in page.hits]
    assert paged == ids


def test_limit_zero_still_counts(idx):
    res = idx.search("vaccine", limit=0)
    assert res.hits == [] and res.total == 6
    assert sum(res.facets["provider"].values()) == 6


@pytest.mark.parametrize(
    "kw",
    [{"limit": -1}, {"offset": -1}, {"sort": "random"}],
)
def test_bad_options_raise_query_error(idx, kw):
    with pytest.raises(QueryError):
        idx.search("vaccine", **kw)


def test_overlong_query_is_refused(idx):
    with pytest.raises(QueryError):
        idx.search("word " * 500)


def test_many_prefixes_are_refused_per_query(idx):
    # Issue 16 (11): 399 distinct two-letter prefixes in one 2,000-character query took
    # 10 s and 236 MB on a 20k corpus; the bound was per prefix, not per query.
    prefixes = [a + b for a in string.ascii_lowercase for b in string.ascii_lowercase][:399]
    query = " ".join(p + "*" for p in prefixes)
    assert len(query) <= MAX_QUERY_CHARS
    with pytest.raises(QueryError, match="399 prefix or wildcard words; the limit is 64"):
        idx.search(query)
    fine = " ".join(p + "*" for p in prefixes[: store.MAX_WILDCARDS_PER_QUERY])
    assert idx.search(fine).total > 0


def test_prefix_expansions_are_bounded_per_query(make_index):
    # Five prefixes of 260 words each: each stays under the per-prefix cap (256), together
    # they pass the per-query one (1,024 words).
    clips = {
        f"{p}.md": dict(title="Codes", body=" ".join(f"{p}{n:03d}" for n in range(260)))
        for p in ("ka", "kb", "kc", "kd", "ke")
    }
    _, index = make_index(clips)
    from clipsearch import open_index

    with open_index(index) as idx:
        assert idx.search("ka* kb* kc* kd*").total == 4  # 4 x 256 = 1,024: at the bound
        with pytest.raises(QueryError) as err:
            idx.search("ka* kb* kc* kd* ke*")
        assert str(err.value) == (
            "query expands to more than 1,024 words; use fewer or longer prefixes"
        )


# --------------------------------------------------------------------------- facets


FACET_CASES = [
    ("", {}),
    ("vaccine", {}),
    ("climate OR law", {}),
    ("solar", {"providers": ["Reuters"]}),
    ("", {"topics": ["Law"]}),
    ("", {"since": datetime(2021, 6, 1)}),
    ("vaccine OR ballot OR gdpr", {"topics": ["Health", "Privacy"], "providers": ["reuters"]}),
]


@pytest.mark.parametrize(("query", "kw"), FACET_CASES)
def test_facets_match_brute_force_over_hits(idx, query, kw):
    res = everything(idx, query, **kw)
    assert len(res.hits) == res.total
    counted = hit_facets(res.hits)
    if "topics" not in kw:
        assert folded(res.facets["topic"]) == counted["topic"]
    if "providers" not in kw:
        assert folded(res.facets["provider"]) == counted["provider"]


@pytest.mark.parametrize(("word", "kw"), [("", {}), ("vaccine", {}), ("solar", {}), ("robot", {})])
def test_facets_match_the_fixture_data(idx, word, kw):
    specs = specs_with_word(word) if word else ALL_SPECS
    res = everything(idx, word, **kw)
    assert res.total == len(specs)
    data = brute_facets(specs)
    assert folded(res.facets["topic"]) == data["topic"]
    assert folded(res.facets["provider"]) == data["provider"]


def test_topic_counts_are_disjunctive(idx):
    query = "ballot OR gdpr OR vaccine OR solar"
    without = everything(idx, query)
    with_topic = everything(idx, query, topics=["Law"])
    assert 0 < with_topic.total < without.total
    # Topic counts ignore the topic filter: the alternatives stay visible.
    assert with_topic.facets["topic"] == without.facets["topic"]
    assert len(with_topic.facets["topic"]) > 2
    # Provider counts respect it.
    assert folded(with_topic.facets["provider"]) == hit_facets(with_topic.hits)["provider"]
    law = [
        s
        for s in ALL_SPECS
        if "Law" in s.topics and s.words & {"ballot", "gdpr", "vaccine", "solar"}
    ]
    assert folded(with_topic.facets["provider"]) == brute_facets(law)["provider"]
    assert folded(with_topic.facets["provider"]) != folded(without.facets["provider"])


def test_provider_counts_are_disjunctive(idx):
    query = "solar OR wildfire"
    without = everything(idx, query)
    with_provider = everything(idx, query, providers=["Seattle Times"])
    assert 0 < with_provider.total < without.total
    assert with_provider.facets["provider"] == without.facets["provider"]
    assert folded(with_provider.facets["topic"]) == hit_facets(with_provider.hits)["topic"]
    assert folded(with_provider.facets["topic"]) != folded(without.facets["topic"])


def test_disjunctive_counts_with_both_filters(idx):
    kw = {"topics": ["Energy"], "providers": ["BBC News", "Nature"]}
    res = everything(idx, **kw)
    only_providers = everything(idx, providers=kw["providers"])
    only_topics = everything(idx, topics=kw["topics"])
    assert folded(res.facets["topic"]) == hit_facets(only_providers.hits)["topic"]
    assert folded(res.facets["provider"]) == hit_facets(only_topics.hits)["provider"]


def test_selected_values_are_listed_even_with_count_zero(idx):
    # No vaccine clip is about Space, and none comes from Nature.
    res = idx.search("vaccine", topics=["Space"], providers=["Nature"])
    assert res.total == 0
    assert res.facets["topic"]["Space"] == 0
    assert res.facets["provider"]["Nature"] == 0
    # ... also when the limit would leave them out.
    res = idx.search("", topics=["NO"], facet_limit=1)
    assert list(res.facets["topic"]) == ["Climate", "NO"]
    assert res.facets["topic"]["NO"] == 2


def test_facet_limit_and_other_values(idx):
    res = idx.search("", facet_limit=3)
    assert res.facets["topic"] == {"Climate": 10, "AI": 9, "Law": 9}  # ties by name
    total_topics = len(brute_facets(ALL_SPECS)["topic"])
    assert res.facet_other["topic"] == total_topics - 3
    default = idx.search("")
    assert len(default.facets["topic"]) == 10


def test_clips_without_provider_are_not_a_provider_value(idx):
    res = everything(idx)
    assert "" not in res.facets["provider"]
    assert "" not in dict(idx.facet_values("provider"))


def test_facet_values_over_the_index_and_a_query(idx):
    values = dict(idx.facet_values("topic"))
    assert folded(values) == brute_facets(ALL_SPECS)["topic"]
    ranked = [n for _, n in idx.facet_values("topic")]
    assert ranked == sorted(ranked, reverse=True)
    for_query = dict(idx.facet_values("provider", "wildfire"))
    assert folded(for_query) == brute_facets(specs_with_word("wildfire"))["provider"]
    with pytest.raises(QueryError):
        idx.facet_values("colour")


def test_topic_with_a_comma_is_its_own_facet_value(make_index):
    _, index = make_index(
        {"a.md": dict(title="Gym news", topics=["Health, Fitness", "AI"])},
    )
    from clipsearch import open_index

    with open_index(index) as idx:
        res = idx.search("gym")
        assert res.hits[0].topics == ("Health, Fitness", "AI")
        assert res.facets["topic"] == {"AI": 1, "Health, Fitness": 1}


def test_no_correction_to_a_word_only_deleted_clips_had(make_index):
    from clipsearch import open_index, update_index

    root, index = make_index(
        {
            "a.md": dict(title="Harbour cranes go electric"),
            "b.md": dict(title="Lighthouse keepers retire"),
        }
    )
    with open_index(index) as idx:
        assert idx.search("lighthuose").corrections == {"lighthuose": "lighthouse"}
    (root / "b.md").unlink()
    assert update_index([root], index).removed == 1
    with open_index(index) as idx:
        res = idx.search("lighthuose")
        assert res.total == 0
        assert res.corrections == {}


def test_facets_can_be_turned_off(idx):
    assert idx.search("vaccine", facets=False).facets == {}


# --------------------------------------------------------------------------- exact before corrected


def _pair_words(n: int) -> list[tuple[str, str]]:
    """`n` (rare, frequent) pairs of made-up words one letter apart ("brovalt" and
    "brovilt"): the rare one is a known word that typo tolerance also searches as the
    frequent one.  Distinct consonant frames keep pairs far from each other."""
    rng = random.Random(16)
    cons, vows = "bdfgklmnprstvz", "aeiou"
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    while len(out) < n:
        c = [rng.choice(cons) for _ in range(4)]
        v1, v2 = rng.sample(vows, 2)
        frame = "".join(c)
        if frame in seen:
            continue
        seen.add(frame)
        # c0 V c1 c2 V c3 + "t": 7 letters, the second vowel differs.
        rare = f"{c[0]}{rng.choice(vows)}{c[1]}{c[2]}{v1}{c[3]}t"
        frequent = rare[:4] + v2 + rare[5:]
        out.append((rare, frequent))
    return out


@pytest.fixture(scope="module")
def pairs_index(tmp_path_factory):
    """Many rare/frequent neighbour pairs.  The rare word sits once in long bodies (BM25
    scores it low); its neighbour is 12x more frequent and fills short titles (BM25 scores
    it high), so plain BM25F would rank the corrections first."""
    from clipsearch import update_index

    base = tmp_path_factory.mktemp("pairs")
    pairs = _pair_words(40)
    filler = " ".join(["reporters followed the story through the week"] * 30)
    n = 0
    for rare, frequent in pairs:
        for k in range(2):
            n += 1
            write_clip(
                base / "clips" / f"{rare}-exact-{k}.md",
                title=f"Weekly market notes {k} from the harbour desk",
                body=f"{filler} {rare} market {filler}",
            )
        for k in range(24):
            write_clip(
                base / "clips" / f"{rare}-fixed-{k:02d}.md",
                title=f"{frequent} {frequent} market",
                excerpt=f"{frequent} again.",
            )
    report = update_index([base / "clips"], base / "index")
    assert report.ok, report.skipped
    return base / "index", pairs


@pytest.mark.parametrize("extra", ["", " market", " market harbour"])
def test_exact_matches_outrank_corrections_for_many_words(pairs_index, extra):
    # Issue 16 (6): "sprang" put clips with only "spring" above the one with "sprang";
    # in a sample of 3,776 corrected rare words, 1,947 showed the inversion.
    from clipsearch import open_index

    index, pairs = pairs_index
    inverted = []
    with open_index(index) as idx:
        for rare, frequent in pairs:
            res = idx.search(
                rare + extra, limit=1000, facets=False, highlight=False, match="any"
            )  # the ranking over every clip with any of the words
            assert res.corrections == {rare: frequent}, (rare, res.corrections)
            mine = [h for h in res.hits if os.path.basename(h.path).startswith(rare + "-")]
            exact = ["-exact-" in h.path for h in mine]
            assert sum(exact) == 2 and len(exact) == 26
            if exact[:2] != [True, True]:
                inverted.append(rare)
            # Among correction-only clips, BM25F still decides.
            rest = [h.score for h in mine[2:]]
            assert rest == sorted(rest, reverse=True)
            if not extra:  # one word: plain BM25F would have put them last
                assert len(res.hits) == 26
                plain = sorted(res.hits, key=lambda h: -h.score)
                assert "-exact-" in plain[-1].path
    assert inverted == []
