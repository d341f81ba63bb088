"""Volume over time (issue 10): exact counts over the matched set in UTC buckets, empty
buckets between the first and the last, undated matches apart; edges at day, week and
month boundaries for clips written in other time zones."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

import pytest
from conftest import ALL_SPECS

from clipsearch import RequestError

#: Raw publication times (as written in clips) and the UTC bucket each belongs to.
EDGES = {
    "a.md": ("2022-01-31T23:30:00-01:00", "2022-02-01"),  # Feb 1 00:30 UTC
    "b.md": ("2022-02-01T00:30:00+01:00", "2022-01-31"),  # Jan 31 23:30 UTC
    "c.md": ("2022-01-09T23:59:59Z", "2022-01-09"),  # a Sunday: week of Jan 3
    "d.md": ("2022-01-10T05:00:00+05:30", "2022-01-09"),  # Jan 9 23:30 UTC: still Sunday
    "e.md": ("2022-01-10T06:00:00+05:30", "2022-01-10"),  # Monday 00:30 UTC: next week
    "f.md": ("2022-03-15", "2022-03-15"),  # leaves February empty
}


@pytest.fixture(scope="module")
def edges(tmp_path_factory):
    from conftest import write_clip

    from clipsearch import open_index, update_index

    root = tmp_path_factory.mktemp("edges") / "clips"
    for name, (raw, _utc) in EDGES.items():
        write_clip(root / name, title=f"Harbour report {name}", date=raw)
    write_clip(root / "undated.md", title="Harbour report without a date")
    index = root.parent / "index"
    assert update_index([root], index).ok
    with open_index(index) as idx:
        yield idx


def _buckets(res) -> dict[str, int]:
    return {s.strftime("%Y-%m-%d"): n for s, n in res.histogram.buckets}


def test_days_weeks_months_and_years_in_utc(edges) -> None:
    days = Counter(utc for _raw, utc in EDGES.values())
    res = edges.search("harbour", histogram="day")
    got = _buckets(res)
    assert {k: v for k, v in got.items() if v} == dict(days)
    first, last = datetime(2022, 1, 9), datetime(2022, 3, 15)
    assert len(got) == (last - first).days + 1  # every day between, empty ones too
    assert res.histogram.undated == 1
    assert sum(got.values()) + res.histogram.undated == res.total == 7

    weeks = _buckets(edges.search("harbour", histogram="week"))
    assert weeks["2022-01-03"] == 2 and weeks["2022-01-10"] == 1  # Monday-based
    assert all(datetime.strptime(k, "%Y-%m-%d").weekday() == 0 for k in weeks)
    months = _buckets(edges.search("harbour", histogram="month"))
    assert months == {"2022-01-01": 4, "2022-02-01": 1, "2022-03-01": 1}
    years = _buckets(edges.search("harbour", histogram="year"))
    assert years == {"2022-01-01": 6}


def test_the_histogram_counts_the_matched_set_with_every_filter(idx) -> None:
    for query, options in [
        ("", {}),
        ("vaccine", {}),
        ("solar", {"since": datetime(2021, 8, 1)}),
        ("", {"topics": ["climate"]}),
        ("glacier vaccine", {"exact": True}),  # falls back to any word
    ]:
        res = idx.search(query, histogram="month", limit=0, **options)
        assert sum(n for _s, n in res.histogram.buckets) + res.histogram.undated == res.total
    everything = idx.search("", histogram="month", limit=0)
    want = Counter(s.published.strftime("%Y-%m") for s in ALL_SPECS if s.published)
    got = {s.strftime("%Y-%m"): n for s, n in everything.histogram.buckets if n}
    assert got == dict(want)
    assert everything.histogram.undated == sum(s.published is None for s in ALL_SPECS)


def test_histogram_json_and_validation(idx) -> None:
    data = idx.search("vaccine", histogram="week").to_dict()["histogram"]
    assert data["interval"] == "week" and data["undated"] >= 0
    assert all(b["start"].endswith("T00:00:00Z") for b in data["buckets"])
    starts = [datetime.fromisoformat(b["start"][:-1]) for b in data["buckets"]]
    assert all(b - a == timedelta(days=7) for a, b in zip(starts, starts[1:], strict=False))
    assert idx.search("vaccine").to_dict()["histogram"] is None
    with pytest.raises(RequestError) as err:
        idx.search("vaccine", histogram="fortnight")
    assert err.value.parameter == "histogram"


def test_cli_draws_a_chart_that_fits_the_terminal(corpus) -> None:
    from click.testing import CliRunner

    from clipsearch.cli import main

    res = CliRunner().invoke(
        main, ["search", "", "--histogram", "month", "--index", str(corpus.index)],
        env={"COLUMNS": "50"},
    )
    assert res.exit_code == 0, res.output
    chart = res.stdout.split("monthly volume")[1].splitlines()[1:]
    assert chart and all(len(row) <= 50 for row in chart)
    res = CliRunner().invoke(
        main, ["search", "", "--histogram", "day", "--index", str(corpus.index)],
        env={"COLUMNS": "40"},
    )
    rows = res.stdout.split("daily volume")[1].splitlines()[1:]
    assert all(len(row) <= 40 for row in rows) and "days, peak" in rows[-1]
