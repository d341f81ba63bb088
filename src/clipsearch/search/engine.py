"""The search engine: a `SearchRequest` in, a `SearchResult` out, on a `Backend`.

`ClipIndex` is the opened index users hold (open once, search many times); each
search resolves filters, parses and corrects the query, scores, ranks (ranking.py),
builds hits with snippets, counts facets over every match, and may suggest a
corrected query.  Nothing here knows Whoosh: the backend answers every question."""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Iterator, KeysView, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from clipsearch import dates
from clipsearch.errors import RequestError
from clipsearch.index import FACET_FIELDS, Compiled, ParsedQuery, Snapshot, is_sharded
from clipsearch.language import UNDETERMINED
from clipsearch.paths import default_index_dir
from clipsearch.search import expansion, histogram, matching, ranking, stories
from clipsearch.search import facets as facetlib
from clipsearch.search.backend import Backend
from clipsearch.search.corrections import FEW_HITS, Corrector
from clipsearch.search.highlight import Candidates, candidates, snippet
from clipsearch.search.request import SearchRequest
from clipsearch.search.result import Hit, SearchResult
from clipsearch.words import SURFACE_WORD

if TYPE_CHECKING:  # imported on first use: a plain search never loads shards
    from clipsearch.search.sharded import ShardedBackend

#: Stored text fields that get snippets, in the order they are shown.
SNIPPET_FIELDS = ("title", "excerpt", "body", "related")
#: "More like this" searches a clip's this many best words by tf * idf.
LIKE_TERMS = 25



@dataclass(frozen=True, slots=True)
class _Matched:
    """The first half of a search: every match with its score, the filter sets, and
    what ranking, snippets and the result need to know about the query."""

    scores: dict[int, float]
    matched: set[int]
    hits_set: set[int] | None  # matches with every filter applied (None: no filter)
    filters: dict[str, set[int]]
    selected: dict[str, list[str]]
    corrections: dict[str, str]
    parsed: ParsedQuery | None
    compiled: Compiled | None
    tiers: ranking.Tiers | None
    decision: matching.Decision
    sort: str
    expanded: list[str]


#: What `_Marking.analyzer` finds for a word not analysed yet (None is a stop word).
_UNSEEN: Any = object()


@dataclass(slots=True)
class _Marking:
    """What the snippets of one search mark: the query's terms, where to look for
    them, and the words analysed so far per language (the same words come back hit
    after hit; kept for this search only)."""

    terms: frozenset[str] = frozenset()
    found: Candidates | None = None
    analysed: dict[str, dict[str, str | None]] = field(default_factory=dict)

    def analyzer(self, backend: Backend, language: str) -> Callable[[str], str | None]:
        """`backend.analyze_word` in `language`, each word analysed once."""
        seen = self.analysed.setdefault(language, {})

        def analyze(word: str) -> str | None:
            token = seen.get(word, _UNSEEN)
            if token is _UNSEEN:
                token = seen[word] = backend.analyze_word(word, language)
            return token

        return analyze


class HitStream(Iterator[Hit]):
    """The hits of a search made one at a time, and how many there are (`len`)."""

    def __init__(self, total: int, hits: Iterator[Hit]):
        self._total, self._hits = total, hits

    def __len__(self) -> int:
        return self._total

    def __next__(self) -> Hit:
        return next(self._hits)


def default_cluster() -> str | None:
    """`$CLIPSEARCH_CLUSTER` (a Dask scheduler's address), else None: no cluster."""
    return os.environ.get("CLIPSEARCH_CLUSTER") or None


def open_backend(path: str, cluster: str | None = None, allow_partial: bool = False) -> Backend:
    """The backend of the index at `path`: one Whoosh snapshot, or its shards merged
    (in this process, or as actors on the Dask cluster at `cluster`)."""
    if cluster is None and not is_sharded(path):
        return Snapshot(path)
    # Shards are imported only for a sharded index or a cluster.
    from clipsearch.search.sharded import Fanout, LocalFanout, ShardedBackend, shard_paths

    paths = shard_paths(path) if is_sharded(path) else [path]
    fanout: Fanout
    if cluster is None:
        fanout = LocalFanout(paths)
    else:  # Dask is imported only when a cluster is asked for
        from clipsearch.cluster.search import ClusterFanout

        fanout = ClusterFanout(cluster, paths, allow_partial=allow_partial)
    return ShardedBackend(fanout, path if is_sharded(path) else None)


class ClipIndex:
    """An opened index: open once, search many times.  Per-document facet arrays and
    the typo index are built on first use and kept for the life of the object;
    `refresh()` picks up commits made since."""

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        cluster: str | None = None,
        allow_partial: bool = False,
    ):
        self.path = os.path.abspath(os.fspath(path)) if path else default_index_dir()
        #: The Dask scheduler searched through (None: this process).
        self.cluster = cluster if cluster is not None else default_cluster()
        self.allow_partial = allow_partial
        self._backend: Backend = open_backend(self.path, self.cluster, allow_partial)
        self._corrector = Corrector(self._backend)

    # -- lifecycle
    def close(self) -> None:
        self._backend.close()

    def __enter__(self) -> ClipIndex:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def is_current(self) -> bool:
        """False once an indexer has committed since this index was opened (or refreshed)."""
        return self._backend.is_current()

    def refresh(self) -> bool:
        """Reopen on the latest commit if the index changed; True when it did."""
        if self._backend.is_current():
            return False
        old = self._backend
        self._backend = open_backend(self.path, self.cluster, self.allow_partial)
        self._corrector = Corrector(self._backend)
        old.close()
        return True

    def __len__(self) -> int:
        return self._backend.doc_count

    # -- searching
    def search(
        self,
        query: str = "",
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
        match: str = "auto",
        histogram: str | None = None,
        expand: bool = False,
        group: bool = False,
        count: str | None = None,
        languages: Sequence[str] = (),
    ) -> SearchResult:
        """Ranked clips for `query` (Whoosh syntax: AND OR NOT "phrase" field:value pre*,
        and a NEAR/n b, a ONEAR/n b);
        the options are those of `SearchRequest`, which documents them."""
        return self.run(
            SearchRequest(
                query,
                topics=topics,
                providers=providers,
                since=since,
                until=until,
                sort=sort,
                limit=limit,
                offset=offset,
                exact=exact,
                facets=facets,
                facet_limit=facet_limit,
                highlight=highlight,
                match=match,
                histogram=histogram,
                expand=expand,
                group=group,
                count=count,
                languages=languages,
            )
        )

    def like(
        self, clip_id: str, request: SearchRequest | None = None, **options: Any
    ) -> SearchResult:
        """Clips like one clip ("more like this"): its LIKE_TERMS best words by tf * idf
        over all its text fields, searched as any-word BM25F, the clip itself left out.
        `options` (or a `request`, whose query is ignored) are the search options
        (filters, paging, facets...); the result is a `SearchResult` like a search's.
        A RequestError when no clip has the id."""
        if request is None:
            request = SearchRequest.from_options("", **options)
        docnum = self._backend.docnum_of(clip_id) if isinstance(clip_id, str) else None
        if docnum is None:
            raise RequestError("id", clip_id, "no clip has this id", f"no clip has id {clip_id!r}")
        return self.run(request, like=docnum)

    def like_words(self, docnum: int) -> list[str]:
        """A clip's LIKE_TERMS most telling words (tf * idf), as they appear in it."""
        backend = self._backend
        stored = backend.stored(docnum)
        language = stored.get("language") or UNDETERMINED
        tf: dict[str, int] = {}
        surface: dict[str, str] = {}
        for name in SNIPPET_FIELDS:
            for word in SURFACE_WORD.findall(str(stored.get(name) or "").lower()):
                token = backend.analyze_word(word, language)
                if token:
                    tf[token] = tf.get(token, 0) + 1
                    surface.setdefault(token, word)
        n = max(1, backend.doc_count)
        weight = {}
        for token, count in tf.items():
            df = backend.term_df(surface[token])
            if df > 1:  # in no other clip: finds nothing
                weight[token] = count * math.log(n / df)
        best = sorted(weight, key=lambda t: (-weight[t], t))[:LIKE_TERMS]
        return [surface[t] for t in best]

    def run(self, request: SearchRequest, *, like: int | None = None) -> SearchResult:
        """Run one validated search request (or, with `like`, clips like that one)."""
        if like is None and _phased(self._backend, request):
            return self._run_phased(self._backend, request)
        backend, text = self._backend, request.text
        backend.begin()
        by_story = request.counts_stories
        m = self._match(request, like)
        scores, hits_set, matched, filters = m.scores, m.hits_set, m.matched, m.filters
        shown = matched if hits_set is None else hits_set
        story = backend.story_of()
        total = stories.distinct(backend, shown) if by_story else len(shown)
        end = request.offset + request.limit

        def rank(n: int) -> list[tuple[int, float]]:
            return ranking.page(backend, scores, m.tiers, hits_set, n, m.sort)

        if request.group:
            page = stories.collapse(rank, story, end, len(shown))[request.offset :]
        else:
            page = rank(end)[request.offset :]
        marking = self._marking(request, m.compiled, bool(page))
        hits = [self._hit(d, s, marking) for d, s in page]
        if request.group and hits:
            published, groups = backend.published(), backend.story_groups()
            hits = [
                _with_reach(h, stories.reach(backend, copies, published))
                for h, (d, _s) in zip(hits, page, strict=True)
                if (copies := stories.copies_of(groups, story[d], d, shown))
            ]

        volume = None
        if request.histogram is not None:
            counted = shown
            if by_story:
                counted = stories.earliest_copies(backend, shown)
            per_day, undated = backend.day_counts(counted)
            volume = histogram.build(per_day, undated, request.histogram)

        facet_counts: dict[str, dict[str, int]] = {}
        facet_other: dict[str, int] = {}
        if request.facets:
            for name in FACET_FIELDS:
                fc = facetlib.disjunctive_counts(
                    backend,
                    name,
                    matched,
                    filters,
                    request.facet_limit,
                    m.selected.get(name, ()),
                    stories=by_story,
                )
                facet_counts[name] = fc.counts
                facet_other[name] = fc.other_values

        suggestion = None
        if m.parsed is not None:
            suggestion = self._corrector.did_you_mean(m.parsed, text, total, filters.values())
        return SearchResult(
            query=request.query,
            total=total,
            offset=request.offset,
            hits=hits,
            facets=facet_counts,
            corrections=m.corrections,
            facet_other=facet_other,
            suggestion=suggestion,
            match=m.decision.used,
            match_fallback=m.decision.fallback,
            all_words_total=m.decision.with_all if m.decision.fallback else None,
            histogram=volume,
            expanded=m.expanded,
            counted="stories" if by_story else "clips",
            missing_shards=backend.missing_shards(),
        )

    def _filters(self, request: SearchRequest) -> tuple[dict[str, tuple], dict[str, list[str]]]:
        """A request's filters as values: facet -> the values meant (resolved against
        the index's facet values), `date` -> (since, until); and the values selected
        per facet, as results show them."""
        backend = self._backend
        filters: dict[str, tuple] = {}
        selected: dict[str, list[str]] = {}
        for name, wanted in (("topic", request.topics), ("provider", request.providers)):
            if wanted:
                values = backend.facet_values(name)
                chosen = {v for w in wanted for v in facetlib.resolve(name, w, values)}
                selected[name] = sorted(chosen, key=values.index)
                filters[name] = tuple(chosen)
        if request.languages:
            _check_languages(backend, request.languages)
            filters["language"] = tuple(request.languages)
            selected["language"] = list(request.languages)
        if request.since is not None or request.until is not None:
            filters["date"] = (request.since, request.until)
        return filters, selected

    def _filter_sets(self, filters: dict[str, tuple]) -> dict[str, set[int]]:
        """Filters (from `_filters`) as document sets, one per facet."""
        backend = self._backend
        sets = {}
        for name, values in filters.items():
            if name == "date":
                sets[name] = backend.docs_between(*values)
            else:
                sets[name] = backend.docs_with_values(name, values)
        return sets

    def _run_phased(self, backend: ShardedBackend, request: SearchRequest) -> SearchResult:
        """`run` on shards in phases (shard_phases.py): the query's words learnt in a
        round or two, then statistics and match-rule sizes, then scoring, ranking and
        counting on every shard, then the page's stored fields; the same decisions
        as `_match` and `run`, taken on sums.  Only what `_phased` accepts."""
        from clipsearch.search.shard_phases import ShardPlan

        backend.begin()
        text, sort = request.text, request.sort
        filters, selected = self._filters(request)
        corrections: dict[str, str] = {}
        parsed: ParsedQuery | None = None
        any_q: Compiled | None = None
        words: list[tuple[Compiled, Compiled | None]] = []
        is_tiered = need_sets = False
        if text:

            def understand() -> tuple[ParsedQuery, dict, dict[str, str]]:
                report: dict[str, str] = {}
                p = backend.parse(text, languages=request.languages)
                alts = {} if request.exact else self._corrector.corrections(
                    p.words, report, p.pairs
                )
                return p, alts, report

            parsed, alternatives, corrections = backend.learn_words(understand)
            any_q = parsed.compile(alternatives)
            is_tiered = ranking.tiered(parsed, alternatives, sort)
            need_sets = is_tiered or matching.needs_word_sets(request.match, parsed)
            if need_sets:  # as matching.word_sets: stop words require nothing
                words = [
                    q
                    for word, q in zip(parsed.words, parsed.word_queries(alternatives), strict=True)
                    if backend.analyze(word)
                ]
            else:
                decision = matching.decide_counts(
                    request.match, parsed, None, lambda: 0, lambda: 0
                )
                if decision.reparse_all:  # explicit syntax, bare parts joined by AND
                    any_q = backend.learn_words(
                        lambda: backend.parse(text, implicit_and=True, languages=request.languages)
                    ).compile(alternatives)
        else:  # no words: every clip, newest first unless asked otherwise
            if sort == "relevance":
                sort = "date"
            decision = matching.Decision(matching.ALL)

        query = backend.new_query(any_q, words)
        stats, tier_words = None, None
        require_all = False
        if any_q is not None:
            stats, either, with_all, with_any = backend.prepare(query)
            if need_sets:
                assert parsed is not None
                decision = matching.decide_counts(
                    request.match, parsed, len(words), lambda: with_all, lambda: with_any
                )
                require_all = matching.requires_all(decision, len(words))
                if is_tiered:  # ranking.tiers_from: a word nothing matches ranks nothing
                    tier_words = tuple(k for k, size in enumerate(either) if size)
        end = request.offset + request.limit
        plan = ShardPlan(
            stats,
            require_all,
            tier_words,
            tuple(filters.items()),
            sort,
            end,
            FACET_FIELDS if request.facets else (),
            request.histogram is not None,
        )
        total, best, counted, (per_day, undated) = backend.execute(query, plan)
        page = best[request.offset :]
        backend.fetch_page([d for d, _ in page])
        marking = self._marking(request, any_q, bool(page))
        hits = [self._hit(d, s, marking) for d, s in page]

        volume = None
        if request.histogram is not None:
            volume = histogram.build(per_day, undated, request.histogram)
        facet_counts: dict[str, dict[str, int]] = {}
        facet_other: dict[str, int] = {}
        for name in plan.facets:
            fc = facetlib.top_counts(counted[name], request.facet_limit, selected.get(name, ()))
            facet_counts[name] = fc.counts
            facet_other[name] = fc.other_values
        suggestion = None
        if parsed is not None:
            sets = self._filter_sets(filters).values() if total < FEW_HITS else ()
            suggestion = self._corrector.did_you_mean(parsed, text, total, sets)
        return SearchResult(
            query=request.query,
            total=total,
            offset=request.offset,
            hits=hits,
            facets=facet_counts,
            corrections=corrections,
            facet_other=facet_other,
            suggestion=suggestion,
            match=decision.used,
            match_fallback=decision.fallback,
            all_words_total=decision.with_all if decision.fallback else None,
            histogram=volume,
            expanded=[],
            counted="clips",
            missing_shards=backend.missing_shards(),
        )

    def iter_hits(self, request: SearchRequest) -> HitStream:
        """Every match of a request, in its order, one `Hit` at a time (paging ignored):
        for exports, whose memory must not grow with the stored text of the matches.
        `len()` of the stream is the request's total."""
        self._backend.begin()
        m = self._match(request)
        total = len(m.scores) if m.hits_set is None else len(m.hits_set)
        order = ranking.page(self._backend, m.scores, m.tiers, m.hits_set, total, m.sort)
        marking = self._marking(request, m.compiled, bool(order))
        return HitStream(len(order), (self._hit(d, s, marking) for d, s in order))

    def _match(self, request: SearchRequest, like: int | None = None) -> _Matched:
        """What a request matches: filters resolved, the query parsed, corrected and
        scored under the match rule; the shared first half of every search.  With
        `like` (a docnum), the clip's best words instead, any of them, without it."""
        backend, text, sort = self._backend, request.text, request.sort

        # Filters: one document set per facet, so each facet's counts can drop its own.
        resolved, selected = self._filters(request)
        filters = self._filter_sets(resolved)

        corrections: dict[str, str] = {}
        parsed: ParsedQuery | None = None
        any_q: Compiled | None = None
        tiers: ranking.Tiers | None = None
        expanded: list[str] = []
        if like is not None:
            words = self.like_words(like)
            any_q = backend.parse(" ".join(f'"{w}"' for w in words)).compile() if words else None
            scores = backend.scores(any_q) if any_q is not None else {}
            story = backend.story_of()
            own = story[like]
            scores = {d: v for d, v in scores.items() if story[d] != own and d != like}
            decision = matching.Decision(matching.ANY)
        elif text:
            parsed = backend.parse(text, languages=request.languages)
            alternatives = (
                {} if request.exact else self._corrector.corrections(
                    parsed.words, corrections, parsed.pairs
                )
            )
            any_q = parsed.compile(alternatives)
            is_tiered = ranking.tiered(parsed, alternatives, sort)
            sets = None
            if is_tiered or matching.needs_word_sets(request.match, parsed):
                sets = matching.word_sets(backend, parsed, alternatives)
            decision = matching.decide(request.match, parsed, sets)
            if decision.reparse_all:  # explicit syntax, bare parts joined by AND
                any_q = backend.parse(
                    text, implicit_and=True, languages=request.languages
                ).compile(alternatives)
            scores = _within(backend.scores(any_q), decision.required)
            if request.expand and scores and expansion.applies(parsed):
                feedback = expansion.feedback_terms(backend, scores)
                if feedback:
                    own = backend.analyze(text)
                    any_q = expansion.expand(any_q, len(own), feedback)
                    scores = _within(backend.scores(any_q), decision.required)
                    expanded = [t for t, _ in feedback if t not in own]  # the words added
            if is_tiered and sets is not None:
                tiers = ranking.tiers_from(sets)
        else:  # no words: every clip, newest first unless asked otherwise
            live = backend.live_docs()
            scores = live.scored(0.0) if hasattr(live, "scored") else dict.fromkeys(live, 0.0)
            if sort == "relevance":
                sort = "date"
            decision = matching.Decision(matching.ALL)
        matched = _keys(scores)

        hits_set: set[int] | None = None
        if filters:
            hits_set = matched
            for s in filters.values():
                hits_set = hits_set & s  # a new set: `matched` stays as it is
        return _Matched(
            scores,
            matched,
            hits_set,
            filters,
            selected,
            corrections,
            parsed,
            any_q,
            tiers,
            decision,
            sort,
            expanded,
        )

    def _marking(
        self, request: SearchRequest, compiled: Compiled | None, any_hits: bool
    ) -> _Marking:
        """What the snippets of a search's hits mark."""
        terms: frozenset[str] = frozenset()
        if request.highlight and compiled is not None:
            terms = self._backend.query_terms(compiled)
        return _Marking(terms, candidates(terms) if any_hits and terms else None)

    def story(self, clip_id: str) -> SearchResult:
        """Every copy of the story clip `clip_id` belongs to, earliest first, as a
        result whose total counts them.  A RequestError when no clip has the id."""
        docnum = self._backend.docnum_of(clip_id) if isinstance(clip_id, str) else None
        if docnum is None:
            raise RequestError("id", clip_id, "no clip has this id", f"no clip has id {clip_id!r}")
        backend = self._backend
        own = backend.story_of()[docnum]
        docs = list(backend.story_groups().get(own, (docnum,)))
        published = backend.published()
        docs.sort(key=lambda d: (published[d] is None, published[d] or 0, backend.clip_id(d)))
        hits = [self._hit(d, 0.0, _Marking()) for d in docs]
        return SearchResult(
            query="", total=len(hits), offset=0, hits=hits, facets={}, corrections={}
        )

    def match_fingerprints(self, request: SearchRequest) -> dict[str, str]:
        """Clip id -> content fingerprint of every match of a request (paging ignored,
        no stored field read): what a saved search compares between runs."""
        m = self._match(request)
        shown = m.matched if m.hits_set is None else m.hits_set
        prints = self._backend.fingerprints()
        clip_id = self._backend.clip_id
        return {clip_id(d): prints[d] for d in shown}

    def hits_of(self, clip_ids: Sequence[str]) -> list[Hit]:
        """The hits (no score, no highlights) of the clips with these ids that exist."""
        out = []
        for clip_id in clip_ids:
            d = self._backend.docnum_of(clip_id)
            if d is not None:
                out.append(self._hit(d, 0.0, _Marking()))
        return out

    def facet_values(
        self, field: str, query: str = "", *, exact: bool = False
    ) -> list[tuple[str, int]]:
        """Every value of a facet with its count, over the whole index or a query's matches."""
        if field not in FACET_FIELDS:
            raise RequestError(
                "field",
                field,
                f"unknown facet; facets: {', '.join(FACET_FIELDS)}",
                f"unknown facet {field!r}; facets: {', '.join(FACET_FIELDS)}",
            )
        res = self.search(query, limit=0, exact=exact, facet_limit=None)
        return sorted(res.facets[field].items(), key=lambda kv: (-kv[1], kv[0]))

    def get(self, clip_id: str) -> dict[str, Any] | None:
        """The stored fields of one clip, or None."""
        try:
            clip_id.encode("utf-8")
        except UnicodeEncodeError:  # undecodable bytes from a shell: no clip has that id
            return None
        d = self._backend.docnum_of(clip_id)
        if d is None:
            return None
        stored = dict(self._backend.stored(d))
        stored.pop("stat", None)
        if isinstance(stored.get("published"), datetime):
            stored["published"] = dates.iso_utc(stored["published"])
        return stored

    def stats(self, top: int = 10) -> dict[str, Any]:
        """Clip count, size, last update, and the most frequent topics and providers."""
        res = self.search("", limit=0, facet_limit=top)
        snap = self._backend
        updated = datetime.fromtimestamp(snap.last_modified(), UTC).replace(tzinfo=None)
        return {
            "index": self.path,
            "clips": len(self),
            "size_bytes": snap.size_bytes(),
            "last_update": dates.iso_utc(updated),
            "topics": res.facets["topic"],
            "providers": res.facets["provider"],
            "distinct_topics": len(snap.facet_values("topic")),
            "distinct_providers": len(snap.facet_values("provider")),
            **({"shards": snap.shard_infos()} if hasattr(snap, "shard_infos") else {}),
        }

    # -- internals
    def _hit(self, docnum: int, score: float, marking: _Marking) -> Hit:
        backend = self._backend
        f = backend.stored(docnum)
        language = f.get("language") or UNDETERMINED
        highlights: dict[str, str] = {}
        analyze = marking.analyzer(backend, language)
        for name in SNIPPET_FIELDS:
            marked = snippet(f.get(name) or "", marking.terms, analyze, marking.found)
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
            story=backend.clip_id(backend.story_of()[docnum]),
            language=language,
        )


def _with_reach(hit: Hit, r: stories.Reach) -> Hit:
    return replace(hit, copies=r.copies, outlets=r.outlets, first_published=r.first_published)


def _check_languages(backend: Backend, wanted: Sequence[str]) -> None:
    """A language no clip has is an error naming those the index has."""
    present = backend.languages()
    for code in wanted:
        if code not in present:
            raise RequestError(
                "languages",
                code,
                f"no clip in this language; languages: {', '.join(present) or 'none'}",
            )


def _phased(backend: Backend, request: SearchRequest) -> bool:
    """Whether a request runs in phases: on shards, unless it groups stories, counts
    them or expands the query (those run operation by operation)."""
    # Only a loaded module can have made a sharded backend; a plain search never loads it.
    sharded = sys.modules.get("clipsearch.search.sharded")
    return (
        sharded is not None
        and isinstance(backend, sharded.ShardedBackend)
        and not request.group
        and not request.counts_stories
        and not request.expand
    )


def _within(scores: dict[int, float], required: set[int] | None) -> dict[int, float]:
    """The scored documents among `required` (all of them when it is None)."""
    if required is None:
        return scores
    if hasattr(scores, "within"):  # a backend's score arrays (index/docsets.py)
        return scores.within(required)
    return {d: v for d, v in scores.items() if d in required}


def _keys(scores: Any) -> Any:
    """The scored documents as a set: a backend's own set type when it has one
    (index/docsets.py), else a plain set."""
    keys = scores.keys()
    return set(keys) if isinstance(keys, KeysView) else keys


def open_index(
    path: str | os.PathLike[str] | None = None,
    *,
    cluster: str | None = None,
    allow_partial: bool = False,
) -> ClipIndex:
    """Open the index at `path` (default: `$CLIPSEARCH_INDEX` or ./index) for searching.
    A sharded index is searched shard by shard in this process, or through the Dask
    scheduler at `cluster` (default `$CLIPSEARCH_CLUSTER`); `allow_partial` answers
    without shards that cannot be reached (the result says which) instead of failing."""
    return ClipIndex(path, cluster=cluster, allow_partial=allow_partial)
