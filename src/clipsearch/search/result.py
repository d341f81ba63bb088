"""What a search returns, and the JSON contract scripts read (`search --json`, the
HTTP API): every front end renders these same objects."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from clipsearch.dates import iso_utc
from clipsearch.search.histogram import Histogram


@dataclass(frozen=True, slots=True)
class FacetCounts:
    """Counts for one facet: the top values (selected ones always included) and how
    many other values have at least one match."""

    counts: dict[str, int]
    other_values: int = 0


@dataclass(frozen=True, slots=True)
class Hit:
    """One ranked clip."""

    id: str
    score: float
    title: str
    excerpt: str
    url: str
    provider: str
    topics: tuple[str, ...]
    published: datetime | None
    path: str
    quality: int | None = None
    highlights: dict[str, str] = field(default_factory=dict)
    #: The story's id: the clip id of its earliest copy (this clip's own when alone).
    story: str = ""
    #: In a grouped search: the story's copies among the matches, their outlets
    #: (earliest first) and the earliest publication time; None otherwise.
    copies: int | None = None
    outlets: tuple[str, ...] = ()
    first_published: datetime | None = None
    #: ISO 639-1 code of the clip's language, `und` when undetermined.
    language: str = "und"

    def to_dict(self) -> dict[str, Any]:
        out = {
            "id": self.id,
            "score": round(self.score, 4),
            "title": self.title,
            "excerpt": self.excerpt,
            "url": self.url,
            "provider": self.provider,
            "topics": list(self.topics),
            "published": iso_utc(self.published),
            "path": self.path,
            "highlights": self.highlights,
            "quality": self.quality,
            "story": self.story,
            "language": self.language,
        }
        if self.copies is not None:
            out["copies"] = self.copies
            out["outlets"] = list(self.outlets)
            out["first_published"] = iso_utc(self.first_published)
        return out


@dataclass
class SearchResult:
    """A page of hits with the total, facet counts over every match, and corrections."""

    query: str
    total: int
    offset: int
    hits: list[Hit]
    facets: dict[str, dict[str, int]]
    corrections: dict[str, str]
    facet_other: dict[str, int] = field(default_factory=dict)
    suggestion: str | None = None
    #: What the total counts: clips with all the words, any of them, or what the
    #: query's own operators match ("as-written"); `match_fallback` is True when all
    #: words were wanted and no clip had them, or only a handful did
    #: (`all_words_total` of them; None when there was no fallback).
    match: str = "all"
    match_fallback: bool = False
    all_words_total: int | None = None
    #: Matches per period, when the request asked for it.
    histogram: Histogram | None = None
    #: The words a long query was expanded with (`expand`; its own left out), best first; not
    #: in `to_dict` (the JSON contract).
    expanded: list[str] = field(default_factory=list)
    #: What `total`, facets and the histogram count: "clips" or "stories"; not in
    #: `to_dict` (the caller asked for it).
    counted: str = "clips"
    #: Shards of a sharded index left out of this answer (asked for with
    #: `allow_partial`); when any, `to_dict` says `"partial": true` and names them.
    missing_shards: list[str] = field(default_factory=list)

    @property
    def partial(self) -> bool:
        return bool(self.missing_shards)

    def to_dict(self) -> dict[str, Any]:
        """The documented `search --json` contract (README); only ever extended."""
        out: dict[str, Any] = {
            "query": self.query,
            "total": self.total,
            "offset": self.offset,
            "hits": [h.to_dict() for h in self.hits],
            "facets": self.facets,
            "corrections": self.corrections,
            "facets_more": self.facet_other,
            "suggestion": self.suggestion,
            "match": self.match,
            "match_fallback": self.match_fallback,
            "all_words_total": self.all_words_total,
            "histogram": None if self.histogram is None else self.histogram.to_dict(),
        }
        if self.missing_shards:
            out["partial"] = True
            out["missing_shards"] = list(self.missing_shards)
        return out
