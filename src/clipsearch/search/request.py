"""One search, described once: what every front end builds (the CLI, the Python API,
an HTTP server, a sharded backend) and the engine runs.

`SearchRequest` is frozen and validated when made, so an engine never sees a negative
limit or an unknown sort; errors are `RequestError`s naming the parameter."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from typing import Any

from clipsearch import dates
from clipsearch.errors import RequestError
from clipsearch.search.histogram import INTERVALS

SORTS = ("relevance", "date", "quality")
#: What a search counts (`count`).
COUNTS = ("stories", "clips")
MATCH_MODES = ("auto", "all", "any")
#: Longest query text accepted, in characters (bounds parsing and expansion work).
MAX_QUERY_CHARS = 2000


@dataclass(frozen=True, slots=True)
class SearchRequest:
    """A search: query text (Whoosh syntax), filters, sort, paging and what to compute.

    `topics`/`providers`: OR inside a facet, AND across facets (matched
    case-insensitively, then fuzzily, by the engine).  `languages` (ISO 639-1
    codes, `und`) filter the same way, matched exactly, and analyse the query in
    those languages only.  `since`/`until` bound the
    publication time, both included: an aware datetime is converted to UTC, a naive
    one is taken as UTC, a `date` alone means its first (since) or last (until)
    moment.  Validation normalises: filters become tuples, dates naive UTC
    datetimes.  `facet_limit=None` lists every value; `highlight=False` skips
    snippets."""

    query: str = ""
    topics: Sequence[str] = ()
    providers: Sequence[str] = ()
    since: datetime | date | None = None
    until: datetime | date | None = None
    sort: str = "relevance"
    limit: int = 10
    offset: int = 0
    exact: bool = False
    facets: bool = True
    facet_limit: int | None = 10
    highlight: bool = True
    #: auto (all words of a short plain query when some clip has them all, else any),
    #: all, or any; see search/matching.py.
    match: str = "auto"
    #: Count the matches per UTC day, week, month or year (None: no histogram).
    histogram: str | None = None
    #: Expand a long (natural-language) query with words of its best clips (RM3
    #: pseudo-relevance feedback, search/expansion.py); short queries are unchanged.
    expand: bool = False
    #: One row per story (copies of one story grouped: search/stories.py), the
    #: best-ranked copy with its copies, outlets and first publication time.
    group: bool = False
    #: What `total`, facets and the histogram count: "stories" or "clips" (None:
    #: stories when grouped, else clips).
    count: str | None = None
    #: Clips in these languages only (ISO 639-1 codes, `und`), the query analysed in them.
    languages: Sequence[str] = ()
    #: Filled in by validation: the query as searched (unprintable characters blanked,
    #: "*" meaning everything, like an empty query).
    text: str = field(default="", init=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.query, str):
            raise RequestError("query", self.query, "must be text")
        if len(self.query) > MAX_QUERY_CHARS:
            raise RequestError(
                "query",
                self.query[:40] + "...",
                "too long",
                f"query is {len(self.query):,} characters; the limit is {MAX_QUERY_CHARS:,}",
            )
        for name in ("limit", "offset"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise RequestError(
                    name,
                    value,
                    "must not be negative",
                    f"{name} must not be negative (got {value})",
                )
        if self.facet_limit is not None and (
            not isinstance(self.facet_limit, int) or self.facet_limit < 0
        ):
            raise RequestError("facet_limit", self.facet_limit, "must be a whole number from 0")
        if self.match not in MATCH_MODES:
            raise RequestError("match", self.match, f"choose one of {', '.join(MATCH_MODES)}")
        if not isinstance(self.expand, bool):
            raise RequestError("expand", self.expand, "must be true or false")
        if not isinstance(self.group, bool):
            raise RequestError("group", self.group, "must be true or false")
        if self.count is not None and self.count not in COUNTS:
            raise RequestError("count", self.count, f"choose one of {', '.join(COUNTS)}")
        if self.histogram is not None and self.histogram not in INTERVALS:
            raise RequestError(
                "histogram", self.histogram, f"choose one of {', '.join(INTERVALS)}"
            )
        if self.sort not in SORTS:
            raise RequestError(
                "sort",
                self.sort,
                f"choose one of {', '.join(SORTS)}",
                f"sort {self.sort!r}: choose one of {', '.join(SORTS)}",
            )
        set_ = object.__setattr__  # frozen: normalised values are set once, here
        set_(self, "topics", _values("topics", self.topics))
        set_(self, "providers", _values("providers", self.providers))
        languages = _values("languages", self.languages)
        set_(self, "languages", tuple(dict.fromkeys(_language(v) for v in languages)))
        lo = _bound("since", self.since)
        hi = _bound("until", self.until, end_of_day=True)
        if lo is not None and hi is not None and lo > hi:
            raise RequestError(
                "since",
                self.since,
                "is after until",
                f"since ({dates.iso_utc(lo)}) is after until ({dates.iso_utc(hi)})",
            )
        set_(self, "since", lo)
        set_(self, "until", hi)
        text = "".join(ch if ch.isprintable() else " " for ch in self.query).strip()
        set_(self, "text", "" if text in ("*", "*:*") else text)

    @property
    def counts_stories(self) -> bool:
        """Whether totals, facets and the histogram count stories."""
        return self.count == "stories" or (self.count is None and self.group)

    @classmethod
    def from_options(cls, query: str = "", **options: Any) -> SearchRequest:
        """A request from keyword options, as `ClipIndex.search` takes them; an unknown
        option is a `RequestError` (not a TypeError)."""
        known = {f.name for f in fields(cls) if f.init}
        for name in options:
            if name not in known:
                raise RequestError(name, options[name], "is not a search option")
        return cls(query, **options)


def _values(name: str, given: Iterable[str] | str) -> tuple[str, ...]:
    if isinstance(given, str):  # one value given bare: a list of one, not of letters
        given = (given,)
    out = tuple(given)
    for v in out:
        if not isinstance(v, str):
            raise RequestError(name, v, "values must be text")
    return out


def _language(value: str) -> str:
    code = value.strip().lower()
    if not (code == "und" or (len(code) == 2 and code.isascii() and code.isalpha())):
        raise RequestError(
            "languages", value, "must be an ISO 639-1 code such as en or de, or und"
        )
    return code


def _bound(name: str, value: Any, end_of_day: bool = False) -> datetime | None:
    """A since/until value as naive UTC.  Offsets reaching past year 1 or 9999 in UTC
    are clamped to datetime.min/max, which bound a filter the same way."""
    if value is None:
        return None
    if not isinstance(value, date):  # datetime is a date subclass
        raise RequestError(
            name,
            value,
            "must be a datetime or a date",
            f"{name} must be a datetime or a date, not {value!r}",
        )
    return dates.from_value(value, end_of_day=end_of_day, clamp=True)
