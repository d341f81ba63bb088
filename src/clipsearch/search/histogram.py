"""Volume over time: how many matches were published in each UTC day, week (from
Monday), month or year, every bucket from the first match's to the last's (empty ones
included), and how many matches have no date.

Counts start from a backend's per-day counts (days since 0001-01-01), which add up
across shards like any other count."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from clipsearch import dates

INTERVALS = ("day", "week", "month", "year")


@dataclass(frozen=True, slots=True)
class Histogram:
    """Matches per bucket: (start of the bucket, count), oldest first."""

    interval: str
    buckets: list[tuple[datetime, int]]
    undated: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "interval": self.interval,
            "buckets": [{"start": dates.iso_utc(s), "count": n} for s, n in self.buckets],
            "undated": self.undated,
        }


def _key(day: int, interval: str) -> int:
    """The bucket of a day number, as a number that orders the buckets."""
    if interval == "day":
        return day
    if interval == "week":
        return day // 7  # 0001-01-01 is a Monday: weeks start on Mondays
    d = date.fromordinal(day + 1)
    return d.year * 12 + d.month - 1 if interval == "month" else d.year


def _start(key: int, interval: str) -> datetime:
    if interval == "day":
        return datetime.fromordinal(key + 1)
    if interval == "week":
        return datetime.fromordinal(key * 7 + 1)
    if interval == "month":
        return datetime(key // 12, key % 12 + 1, 1)
    return datetime(key, 1, 1)


def build(per_day: Mapping[int, int], undated: int, interval: str) -> Histogram:
    """The histogram of some matches from their counts per day number."""
    counts: Counter[int] = Counter()
    month_of: dict[int, int] = {}
    for day, n in per_day.items():
        if interval in ("month", "year"):  # a calendar look-up per distinct day only
            key = month_of.get(day)
            if key is None:
                key = month_of[day] = _key(day, interval)
        else:
            key = _key(day, interval)
        counts[key] += n
    if not counts:
        return Histogram(interval, [], undated)
    first, last = min(counts), max(counts)
    buckets = [(_start(k, interval), counts.get(k, 0)) for k in range(first, last + 1)]
    return Histogram(interval, buckets, undated)
