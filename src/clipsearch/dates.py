"""Dates and times: ISO 8601 in, naive UTC out.

The index stores naive UTC (Whoosh drops offsets), so every date that comes in (a
clip's `publishedDateTime`, a search's since/until from the command line or from
Python) is read and converted here.  Errors are `DateError`, a `ValueError` with a
short reason; each caller names its own field or parameter around it.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any


class DateError(ValueError):
    """Not a date, or a date that cannot be held as a naive UTC datetime.  `str()` is a
    short reason ("not an ISO 8601 date", "date out of range") without the value."""


#: A zone designator after a date alone: Z, +05, +0530, +05:30, -05:00:30.
_ZONE = re.compile(r"(?:[Zz]|[+-]\d\d(?::?\d\d(?::?\d\d(?:\.\d{1,6})?)?)?)")
#: Where a zone may start after a date alone ("2022-01-10Z", "20220110+0530").
_ZONE_START = re.compile(r"[Zz+-]")


def parse(text: str, *, end_of_day: bool = False) -> datetime:
    """An ISO 8601 date or date-time, as written: aware when it has an offset, else naive.

    A value without a time part is a date (`2022-01-10`, `20220110`, `2022-W02-1`, also
    with a zone: `2022-01-10Z`, `2022-01-10+05:30`, that day in that zone): its first
    moment, or its last with `end_of_day`.  Everything `datetime.fromisoformat`
    accepts is accepted."""
    value = text.strip()
    day, zone = _date_alone(value)
    if day is not None:
        return datetime.combine(day, time.max if end_of_day else time(), zone)
    if value.endswith("z"):
        value = value[:-1] + "Z"
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise DateError("not an ISO 8601 date") from None


def _date_alone(text: str) -> tuple[date | None, tzinfo | None]:
    """(date, zone) when `text` is a date without a time part, else (None, None).
    Python's fromisoformat would read "2022-01-10+05:30" as 05:30 (any character may
    separate date and time) and refuses "2022-01-10Z"; a zone after a date is a zone."""
    try:
        return date.fromisoformat(text), None
    except ValueError:
        pass
    for m in _ZONE_START.finditer(text):
        head, tail = text[: m.start()], text[m.start() :]
        if not head or not _ZONE.fullmatch(tail):
            continue
        try:
            day = date.fromisoformat(head)
        except ValueError:
            continue
        zone = datetime.fromisoformat("2000-01-01T00:00" + tail.upper()).tzinfo
        return day, zone
    return None, None


def naive_utc(dt: datetime, *, clamp: bool = False) -> datetime:
    """`dt` in UTC without a zone; a naive `dt` is taken as UTC already.

    An aware value whose UTC time falls outside datetime's years 1-9999 (such as
    0001-01-01T00:00+01:00) raises DateError, or with `clamp` becomes `datetime.min` or
    `datetime.max`: the same bound for a filter, since no stored date lies beyond it."""
    if dt.tzinfo is None:
        return dt
    try:
        return dt.astimezone(UTC).replace(tzinfo=None)
    except (OverflowError, ValueError):
        if not clamp:
            raise DateError("date out of range") from None
        offset = dt.utcoffset() or timedelta()
        return datetime.min if offset > timedelta() else datetime.max


def from_value(value: Any, *, end_of_day: bool = False, clamp: bool = False) -> datetime | None:
    """A YAML or Python value as naive UTC: a datetime, a date (its first moment, or its
    last with `end_of_day`), or an ISO 8601 string (see `parse`); None or "" is None."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        dt = datetime.combine(value, time.max if end_of_day else time())
    elif isinstance(value, str):
        dt = parse(value, end_of_day=end_of_day)
    else:
        raise DateError("not a date")
    return naive_utc(dt, clamp=clamp)


def iso_utc(dt: datetime | None) -> str | None:
    """A naive UTC datetime as `2022-01-10T12:00:00Z` (None stays None)."""
    # isoformat, not strftime: "%Y" drops the leading zeros of years before 1000.
    return None if dt is None else dt.replace(microsecond=0).isoformat() + "Z"
