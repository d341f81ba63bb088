"""dates.py: ISO 8601 in, naive UTC out (issue 16, items 7-9)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone

import pytest

from clipsearch import dates

IST = timezone(timedelta(hours=5, minutes=30))
END = time.max  # 23:59:59.999999


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("2022-01-10", datetime(2022, 1, 10), datetime.combine(date(2022, 1, 10), END)),
        ("20220110", datetime(2022, 1, 10), datetime.combine(date(2022, 1, 10), END)),
        ("2022-W02-1", datetime(2022, 1, 10), datetime.combine(date(2022, 1, 10), END)),
        ("2022-01-10Z", datetime(2022, 1, 10), datetime.combine(date(2022, 1, 10), END)),
        ("2022-01-10z", datetime(2022, 1, 10), datetime.combine(date(2022, 1, 10), END)),
        # A date with a zone is that day in that zone (not 05:30 on it, as
        # datetime.fromisoformat would read it).
        (
            "2022-01-10+05:30",
            datetime(2022, 1, 9, 18, 30),
            datetime(2022, 1, 10, 18, 29, 59, 999999),
        ),
        ("20220110+0530", datetime(2022, 1, 9, 18, 30), datetime(2022, 1, 10, 18, 29, 59, 999999)),
        ("2022-01-10-05:00", datetime(2022, 1, 10, 5), datetime(2022, 1, 11, 4, 59, 59, 999999)),
        ("9999-12-31", datetime(9999, 12, 31), datetime.max),
    ],
)
def test_a_value_without_a_time_part_is_a_whole_day(text, start, end):
    assert dates.naive_utc(dates.parse(text)) == start
    assert dates.naive_utc(dates.parse(text, end_of_day=True)) == end


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2022-01-10T12:00", datetime(2022, 1, 10, 12)),
        ("2022-01-10 12:00:30", datetime(2022, 1, 10, 12, 0, 30)),
        ("20220110T1200Z", datetime(2022, 1, 10, 12)),
        ("2022-01-10T12:00z", datetime(2022, 1, 10, 12)),
        ("2022-01-10T12:00+05:30", datetime(2022, 1, 10, 6, 30)),
        ("2022-01-10T00:30:00-01:00", datetime(2022, 1, 10, 1, 30)),
    ],
)
def test_a_time_is_kept_and_converted_to_utc(text, expected):
    # end_of_day changes nothing once a time is given.
    for end in (False, True):
        assert dates.naive_utc(dates.parse(text, end_of_day=end)) == expected


@pytest.mark.parametrize("text", ["", "yesterday", "2022-13-01", "29/04/2021", "2022-01-10Q"])
def test_not_a_date(text):
    with pytest.raises(dates.DateError, match="not an ISO 8601 date"):
        dates.parse(text)


def test_out_of_range_raises_or_clamps():
    low = dates.parse("0001-01-01T00:00+01:00")  # year 0 in UTC
    high = dates.parse("9999-12-31", end_of_day=True).replace(tzinfo=timezone(-timedelta(hours=1)))
    for value in (low, high):
        with pytest.raises(dates.DateError, match="out of range"):
            dates.naive_utc(value)
    assert dates.naive_utc(low, clamp=True) == datetime.min
    assert dates.naive_utc(high, clamp=True) == datetime.max
    assert dates.naive_utc(datetime.max.replace(tzinfo=UTC)) == datetime.max


def test_from_value():
    assert dates.from_value(None) is None and dates.from_value("") is None
    assert dates.from_value(date(2022, 1, 10)) == datetime(2022, 1, 10)
    assert dates.from_value(date(2022, 1, 10), end_of_day=True) == datetime.combine(
        date(2022, 1, 10), END
    )
    assert dates.from_value(datetime(2022, 1, 10, 12, tzinfo=IST)) == datetime(2022, 1, 10, 6, 30)
    with pytest.raises(dates.DateError, match="not a date"):
        dates.from_value(12)


def test_iso_utc_keeps_four_digit_years():
    assert dates.iso_utc(None) is None
    assert dates.iso_utc(datetime(2021, 4, 29, 20, 46, 0, 500)) == "2021-04-29T20:46:00Z"
    assert dates.iso_utc(datetime.min) == "0001-01-01T00:00:00Z"
