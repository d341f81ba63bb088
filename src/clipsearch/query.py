"""The query layer: what a search means, on top of the index.

`ClipIndex.search` turns a user query plus options into ranked hits, exact facet
counts over all matches, and the typo corrections it applied.  Ranking for short
keyword queries is tiered: clips that contain more of the words (as typed or
corrected) come first, then those with more of them as typed; long natural-language
queries are ranked by plain BM25F over all their words.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from clipsearch import dates
from clipsearch import facets as facetlib
from clipsearch import index as store
from clipsearch.errors import QueryError
from clipsearch.fuzzy import TypoIndex
from clipsearch.highlight import candidates, snippet
from clipsearch.search.topk import top_k

SORTS = ("relevance", "date", "quality")
#: Plain queries of at most this many words are ranked in tiers (see `_page`).
TIERED_MAX_WORDS = 5
#: Weight of a correction of a word that exists in the index (below 1: exact wins).
CORRECTION_WEIGHT = 0.6
#: Weight of a correction of a word found nowhere: no exact match competes with it,
#: so it keeps nearly its full weight against the query's other words.
UNKNOWN_WORD_WEIGHT = 0.9
#: A typo can be several words ("loked": looked, loved, locked): search up to this
#: many of the closest; the query's other words pick the right one.
MAX_ALTERNATIVES = 3
#: A known word that occurs in at most RARE_DF clips is also searched as its
#: correction when that occurs in RARER_FACTOR times more clips (a typo that
#: happens to exist somewhere, like "recieve" in one scraped clip).
RARE_DF = 50
RARER_FACTOR = 10
#: At most this many typed words are corrected per query (bounds the work).
MAX_CORRECTED_WORDS = 8
#: "Did you mean" is offered when the query finds fewer clips than this...
FEW_HITS = 3
#: ...and the corrected query finds this many times more.
MUCH_MORE = 5


def default_index_dir() -> str:
    """`$CLIPSEARCH_INDEX`, else `index/` in the current directory."""
    return os.environ.get("CLIPSEARCH_INDEX") or os.path.join(os.getcwd(), "index")


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

    def to_dict(self) -> dict[str, Any]:
        return {
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
        }


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

    def to_dict(self) -> dict[str, Any]:
        """The documented `search --json` contract."""
        return {
            "query": self.query,
            "total": self.total,
            "offset": self.offset,
            "hits": [h.to_dict() for h in self.hits],
            "facets": self.facets,
            "corrections": self.corrections,
            "facets_more": self.facet_other,
            "suggestion": self.suggestion,
        }


iso_utc = dates.iso_utc  # kept here too: older callers import it from query


class ClipIndex:
    """An opened index: open once, search many times.  Per-document facet arrays and
    the typo index are built on first use and kept for the life of the object;
    `refresh()` picks up commits made since."""

    def __init__(self, path: str | os.PathLike[str] | None = None):
        self.path = os.path.abspath(os.fspath(path)) if path else default_index_dir()
        self._snap = store.Snapshot(self.path)
        self._typos: TypoIndex | None = None

    # -- lifecycle
    def close(self) -> None:
        self._snap.close()

    def __enter__(self) -> ClipIndex:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def refresh(self) -> bool:
        """Reopen on the latest commit if the index changed; True when it did."""
        if self._snap.is_current():
            return False
        old = self._snap
        self._snap = store.Snapshot(self.path)
        self._typos = None
        old.close()
        return True

    def __len__(self) -> int:
        return self._snap.doc_count

    # -- searching
    def search(
        self,
        query: str,
        *,
        limit: int = 10,
        offset: int = 0,
        topics: Sequence[str] = (),
        providers: Sequence[str] = (),
        since: datetime | date | None = None,
        until: datetime | date | None = None,
        sort: str = "relevance",
        exact: bool = False,
        facets: bool = True,
        facet_limit: int | None = 10,
        highlight: bool = True,
    ) -> SearchResult:
        """Ranked clips for `query` (Whoosh syntax: AND OR NOT "phrase" field:value pre*).

        `topics`/`providers`: OR inside a facet, AND across facets; values are matched
        case-insensitively, then fuzzily.  Facet counts are exact over all matches and
        disjunctive: a facet's own filter is left out of its counts.  `highlight=False`
        skips snippets (evaluation runs that only need ranked ids).

        `since`/`until` bound the publication time, both included: an aware datetime
        is converted to UTC, a naive one is taken as UTC, a `date` alone means its
        first (since) or last (until) moment."""
        if limit < 0:
            raise QueryError(f"limit must not be negative (got {limit})")
        if offset < 0:
            raise QueryError(f"offset must not be negative (got {offset})")
        if sort not in SORTS:
            raise QueryError(f"sort {sort!r}: choose one of {', '.join(SORTS)}")
        if len(query) > store.MAX_QUERY_CHARS:
            raise QueryError(
                f"query is {len(query):,} characters; the limit is {store.MAX_QUERY_CHARS:,}"
            )
        lo = _bound("since", since)
        hi = _bound("until", until, end_of_day=True)
        if lo is not None and hi is not None and lo > hi:
            raise QueryError(f"since ({dates.iso_utc(lo)}) is after until ({dates.iso_utc(hi)})")
        snap = self._snap
        text = "".join(ch if ch.isprintable() else " " for ch in query).strip()
        if text in ("*", "*:*"):  # "everything": the same as an empty query
            text = ""

        # Filters: one document set per facet, so each facet's counts can drop its own.
        filters: dict[str, set[int]] = {}
        selected: dict[str, list[int]] = {}
        for name, wanted in (("topic", topics), ("provider", providers)):
            if wanted:
                col = snap.facet(name)
                ids = sorted({k for w in wanted for k in facetlib.resolve(name, w, col.values)})
                selected[name] = ids
                filters[name] = facetlib.docs_with(ids, col.postings)
        if lo is not None or hi is not None:
            filters["date"] = snap.docs_between(lo, hi)

        corrections: dict[str, str] = {}
        parsed: store.ParsedQuery | None = None
        any_q: store.Compiled | None = None
        tiers: _Tiers | None = None
        if text:
            parsed = snap.parse(text)
            alternatives = {} if exact else self._corrections(parsed.words, corrections)
            any_q = parsed.compile(alternatives)
            scores = snap.scores(any_q)
            n_words = len(parsed.words)
            if (
                sort == "relevance"
                and parsed.is_plain
                and (n_words > 1 or alternatives)
                and n_words <= TIERED_MAX_WORDS
            ):
                tiers = self._tiers(parsed, alternatives)
        else:  # no words: every clip, newest first unless asked otherwise
            scores = dict.fromkeys(snap.live_docs(), 0.0)
            if sort == "relevance":
                sort = "date"
        matched = set(scores)

        hits_set = _intersect(matched, filters.values()) if filters else None
        total = len(scores) if hits_set is None else len(hits_set)
        page = self._page(scores, tiers, hits_set, offset + limit, sort)[offset:]
        terms = self._snap.query_terms(any_q) if highlight and any_q else frozenset()
        pattern = candidates(terms) if page and terms else None
        hits = [self._hit(d, s, terms, pattern) for d, s in page]

        facet_counts: dict[str, dict[str, int]] = {}
        facet_other: dict[str, int] = {}
        if facets:
            for name in store.FACET_FIELDS:
                col = snap.facet(name)
                if name not in filters:  # every filter applies: the hits themselves
                    base = matched if hits_set is None else hits_set
                else:  # disjunctive: all filters but this facet's own
                    others = [s for k, s in filters.items() if k != name]
                    base = _intersect(matched, others) if others else matched
                fc = facetlib.top_counts(
                    facetlib.count(base, col.docs, col.postings),
                    col.values,
                    facet_limit,
                    selected.get(name, ()),
                )
                facet_counts[name] = fc.counts
                facet_other[name] = fc.other_values

        suggestion = None
        if parsed is not None and total < FEW_HITS:
            suggestion = self._did_you_mean(parsed, text, total, filters.values())
        return SearchResult(
            query=query,
            total=total,
            offset=offset,
            hits=hits,
            facets=facet_counts,
            corrections=corrections,
            facet_other=facet_other,
            suggestion=suggestion,
        )

    def facet_values(
        self, field: str, query: str = "", *, exact: bool = False
    ) -> list[tuple[str, int]]:
        """Every value of a facet with its count, over the whole index or a query's matches."""
        if field not in store.FACET_FIELDS:
            raise QueryError(f"unknown facet {field!r}; facets: {', '.join(store.FACET_FIELDS)}")
        res = self.search(query, limit=0, exact=exact, facet_limit=None)
        return sorted(res.facets[field].items(), key=lambda kv: (-kv[1], kv[0]))

    def get(self, clip_id: str) -> dict[str, Any] | None:
        """The stored fields of one clip, or None."""
        try:
            clip_id.encode("utf-8")
        except UnicodeEncodeError:  # undecodable bytes from a shell: no clip has that id
            return None
        d = self._snap.docnum_of(clip_id)
        if d is None:
            return None
        stored = dict(self._snap.stored(d))
        stored.pop("stat", None)
        if isinstance(stored.get("published"), datetime):
            stored["published"] = iso_utc(stored["published"])
        return stored

    def stats(self, top: int = 10) -> dict[str, Any]:
        """Clip count, size, last update, and the most frequent topics and providers."""
        res = self.search("", limit=0, facet_limit=top)
        return {
            "index": self.path,
            "clips": len(self),
            "size_bytes": self._snap.size_bytes(),
            "last_update": datetime.fromtimestamp(self._snap.last_modified(), UTC).strftime(
                "%Y-%m-%dT%H:%M:%SZ"
            ),
            "topics": res.facets["topic"],
            "providers": res.facets["provider"],
            "distinct_topics": len(self._snap.facet("topic").values),
            "distinct_providers": len(self._snap.facet("provider").values),
        }

    # -- internals
    def _typo_index(self) -> TypoIndex:
        if self._typos is None:
            self._typos = TypoIndex(self._snap.words())
        return self._typos

    def _correctable(self, word: str) -> bool:
        """Numbers, years, codes (anything with a digit) and stop words are never corrected."""
        return word.isalpha() and bool(self._snap.analyze(word))

    def _corrections(
        self, words: Iterable[str], report: dict[str, str]
    ) -> dict[str, list[tuple[str, float]]]:
        """Alternatives for unknown (or much rarer than a neighbour) typed words."""
        snap = self._snap
        out: dict[str, list[tuple[str, float]]] = {}
        for word in list(words)[:MAX_CORRECTED_WORDS]:
            if not self._correctable(word):
                continue
            df = snap.term_df(word)
            if df > RARE_DF:
                continue
            weight = CORRECTION_WEIGHT if df else UNKNOWN_WORD_WEIGHT
            alts: list[tuple[str, float]] = []
            best_edits = None
            for cand in self._typo_index().candidates(word, limit=MAX_ALTERNATIVES + 2):
                if best_edits is not None and cand.edits > best_edits:
                    break  # only the closest candidates: one more edit is another word
                cdf = snap.term_df(cand.word)
                if cdf == 0 or (df and cdf < RARER_FACTOR * df):
                    continue
                if snap.analyze(cand.word) == snap.analyze(word):
                    continue  # same stem: the typed word already finds it
                best_edits = cand.edits
                alts.append((cand.word, weight))
                if len(alts) == MAX_ALTERNATIVES:
                    break
            if alts:
                out[word] = alts
                report[word] = alts[0][0]
        return out

    def _tiers(
        self, parsed: store.ParsedQuery, alternatives: dict[str, list[tuple[str, float]]]
    ) -> _Tiers:
        """Per query word, the clips that contain it as typed, and those that contain it
        or a correction of it."""
        snap = self._snap
        words: list[tuple[set[int], set[int]]] = []
        for exact_q, either_q in parsed.word_queries(alternatives):
            exact = snap.match(exact_q)
            either = exact if either_q is None else snap.match(either_q)
            if either:  # a word nothing matches (a stop word) ranks no clip above another
                words.append((exact, either))
        return _Tiers(words)

    def _page(
        self,
        scores: dict[int, float],
        tiers: _Tiers | None,
        allowed: set[int] | None,
        n: int,
        sort: str,
    ) -> list[tuple[int, float]]:
        """The first `n` hits: by score (tiered when `tiers` is given), date or quality.

        Tiered: clips matching more of the query's words first; among those, clips
        matching more of them as typed (not only through a correction) first; BM25F
        within a tier.  So all words beat some, and an exact match beats a corrected one
        whatever the field lengths (BM25F alone put a correction in a short title above
        the typed word in a long body)."""
        snap = self._snap
        if tiers is None or n <= 0 or not tiers.words:
            return snap.top(scores, n, allow=allowed, sort=sort)
        # The top tier (every word as typed) usually fills the page: take it with set
        # algebra, and count words per clip only when it does not.
        exact_sets = sorted((exact for exact, _ in tiers.words), key=len)
        top_tier = set(exact_sets[0]).intersection(*exact_sets[1:])
        if allowed is not None:
            top_tier &= allowed
        first = snap.top(scores, n, allow=top_tier)
        if len(first) == n:
            return first
        matched: Counter[int] = Counter()
        as_typed: Counter[int] = Counter()
        for exact, either in tiers.words:
            as_typed.update(exact)
            matched.update(either)
        docs: Iterable[int] = scores if allowed is None else [d for d in allowed if d in scores]
        key = lambda d: (matched[d], as_typed[d], scores[d])  # noqa: E731
        return [(d, scores[d]) for d in top_k(docs, n, key, snap.clip_id)]

    def _hit(
        self, docnum: int, score: float, terms: frozenset[str], pattern: re.Pattern[str] | None
    ) -> Hit:
        f = self._snap.stored(docnum)
        highlights: dict[str, str] = {}
        for name in ("title", "excerpt", "body", "related"):
            marked = snippet(f.get(name) or "", terms, self._snap.analyze_word, pattern)
            if marked:
                highlights[name] = marked
        return Hit(
            id=f["id"],
            score=score,
            title=f.get("title") or "",
            excerpt=f.get("excerpt") or "",
            url=f.get("url") or "",
            provider=f.get("provider") or "",
            topics=tuple(f.get("topics") or ()),
            published=f.get("published"),
            path=f.get("path") or "",
            quality=f.get("quality"),
            highlights=highlights,
        )

    def _did_you_mean(
        self, parsed: store.ParsedQuery, text: str, total: int, filters: Iterable[set[int]]
    ) -> str | None:
        """A corrected query that finds much more, ignoring the 'known word' rule."""
        typos = self._typo_index()
        fixed: dict[str, str] = {}
        for word in parsed.words[:MAX_CORRECTED_WORDS]:
            if not self._correctable(word):
                continue
            df = self._snap.term_df(word)
            # The closest candidate that occurs in more clips than the typed word.
            better = next(
                (
                    c.word
                    for c in typos.candidates(word, limit=3)
                    if self._snap.term_df(c.word) > df
                ),
                None,
            )
            if better:
                fixed[word] = better
        if not fixed:
            return None
        alts = {w: [(c, 1.0)] for w, c in fixed.items()}
        probe = parsed.compile(alts)
        found = len(_intersect(self._snap.match(probe), filters))
        if found < max(1, MUCH_MORE * total) or found <= total:
            return None
        return " ".join(fixed.get(store.typed_word(w), w) for w in text.split())


def open_index(path: str | os.PathLike[str] | None = None) -> ClipIndex:
    """Open the index at `path` (default: `$CLIPSEARCH_INDEX` or ./index) for searching."""
    return ClipIndex(path)


@dataclass(frozen=True, slots=True)
class _Tiers:
    """Per query word that matches anything: (clips with it as typed, clips with it or
    a correction of it)."""

    words: list[tuple[set[int], set[int]]]


def _bound(name: str, value: Any, end_of_day: bool = False) -> datetime | None:
    """A since/until value as naive UTC.  Offsets reaching past year 1 or 9999 in UTC
    are clamped to datetime.min/max, which bound a filter the same way."""
    if value is None:
        return None
    if not isinstance(value, date):  # datetime is a date subclass
        raise QueryError(f"{name} must be a datetime or a date, not {value!r}")
    return dates.from_value(value, end_of_day=end_of_day, clamp=True)


def _intersect(base: Iterable[int], others: Iterable[set[int]]) -> set[int]:
    out = set(base)
    for s in others:
        out &= s
    return out
