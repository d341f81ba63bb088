"""One shard's part of a phased sharded search: the request, not its operations,
crosses to the shard, so a search is a few round trips whatever it matches.

    1. `prepare`: the query's statistics (to be summed over shards before scoring)
       and the sizes the match rule decides from (clips with each word, with all,
       with any; summed too, shards hold disjoint clips).
    2. `execute`: with the summed statistics and the global decisions (require every
       word, which words rank in tiers), score, apply the filters, take this shard's
       best n by the order one index ranks in (tier, sort key, score; ties by clip
       id), and count facets (disjunctively) and days: only a page and counts return.
    3. `fetch` (ShardService): the final page's stored fields, from its shards only.

The per-shard work is the engine's own code (matching, ranking) run on the shard's
snapshot, so a shard ranks and counts exactly as one index does its part; the
sharded backend merges (search/sharded.py).  In process and on a Dask cluster the
shards answer the same methods (`ShardSearcher` is also the cluster's actor)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from clipsearch.index import Compiled, QueryStats, ShardService
from clipsearch.search import ranking
from clipsearch.search.facets import disjunctive_base
from clipsearch.search.matching import WordSets

#: Requests whose word sets a shard keeps between the two phases (a retried or
#: concurrent phase that finds none computes them again).
KEPT_REQUESTS = 8


@dataclass(frozen=True, slots=True)
class ShardQuery:
    """What a phased search asks of every shard: `compiled` (None: every live clip,
    scored 0), and per content word of a plain query its (as typed, with
    corrections) queries, when the match rule or tiers need their sets.  `key`
    names the request so the second phase finds the first one's sets."""

    key: str
    compiled: Compiled | None
    words: tuple[tuple[Compiled, Compiled | None], ...] = ()


@dataclass(frozen=True, slots=True)
class ShardFacts:
    """A shard's answer to `prepare`: its statistics of the query and, per word, the
    clips with it (or a correction), with all of them and with any."""

    stats: QueryStats | None
    either: tuple[int, ...]
    with_all: int
    with_any: int


@dataclass(frozen=True, slots=True)
class ShardPlan:
    """The global decisions a shard scores and ranks with: summed statistics, whether
    every word is required, the words ranked in tiers (None: no tiers), filters as
    values (facet -> values as the merged index spells them; `date` -> (since,
    until)), the sort, the page size n, and what to count."""

    stats: QueryStats | None
    require_all: bool
    tier_words: tuple[int, ...] | None
    filters: tuple[tuple[str, tuple], ...]
    sort: str
    n: int
    facets: tuple[str, ...]
    histogram: bool


@dataclass(frozen=True, slots=True)
class ShardPage:
    """A shard's answer to `execute`: its matches (filters applied), its best n as
    (docnum, order, clip id, score) where `order` sorts descending as one index
    ranks, facet counts as it spells values, and per-day counts (None: not asked)."""

    total: int
    rows: list[tuple[int, tuple, str, float]]
    facets: dict[str, Counter[str]]
    days: tuple[Counter[int], int] | None


class ShardSearcher(ShardService):
    """A shard that answers the phases of a search (and every `ShardService` question)."""

    def __init__(self, path: str):
        super().__init__(path)
        self._kept: dict[str, list[tuple[set[int], set[int]]]] = {}

    def _word_sets(self, query: ShardQuery) -> list[tuple[set[int], set[int]]]:
        sets = self._kept.get(query.key)
        if sets is None:
            snap = self.snapshot
            sets = []
            for exact_q, either_q in query.words:  # as matching.word_sets makes them
                exact = snap.match(exact_q)
                sets.append((exact, exact if either_q is None else snap.match(either_q)))
            if len(self._kept) >= KEPT_REQUESTS:
                del self._kept[next(iter(self._kept))]
            self._kept[query.key] = sets
        return sets

    def prepare(self, query: ShardQuery) -> ShardFacts:
        snap = self.snapshot
        stats = snap.query_stats(query.compiled) if query.compiled is not None else None
        ws = WordSets(self._word_sets(query))
        either = tuple(len(e) for _, e in ws.words)
        return ShardFacts(stats, either, len(ws.with_all()), len(ws.with_any()))

    def execute(self, query: ShardQuery, plan: ShardPlan) -> ShardPage:
        snap = self.snapshot
        sets = self._word_sets(query) if query.words else []
        self._kept.pop(query.key, None)
        if query.compiled is None:
            scores = dict.fromkeys(snap.live_docs(), 0.0)
        else:
            scores = snap.scores(query.compiled, plan.stats)
        if plan.require_all:
            required = WordSets(sets).with_all()
            scores = {d: v for d, v in scores.items() if d in required}
        matched = set(scores)
        filters = {name: self._filter(name, values) for name, values in plan.filters}
        hits_set: set[int] | None = None
        if filters:
            hits_set = set(matched)
            for s in filters.values():
                hits_set &= s
        shown = matched if hits_set is None else hits_set

        tiers = None
        if plan.tier_words is not None:
            tiers = ranking.Tiers([sets[i] for i in plan.tier_words])
        best = ranking.page(snap, scores, tiers, hits_set, plan.n, plan.sort)
        rows = self._rows(best, tiers, plan.sort)

        counts: dict[str, Counter[str]] = {}
        for name in plan.facets:  # summed over shards before the top values are taken
            counts[name] = snap.facet_counts(name, disjunctive_base(name, matched, filters))
        days = snap.day_counts(shown) if plan.histogram else None
        return ShardPage(len(shown), rows, counts, days)

    def _filter(self, name: str, values: tuple) -> set[int]:
        snap = self.snapshot
        if name == "date":
            since, until = values
            return snap.docs_between(since, until)
        own = {v.casefold(): v for v in snap.facet_values(name)}
        folds = [v.casefold() for v in values]
        return snap.docs_with_values(name, [own[f] for f in folds if f in own])

    def _rows(
        self,
        best: list[tuple[int, float]],
        tiers: ranking.Tiers | None,
        sort: str,
    ) -> list[tuple[int, tuple, str, float]]:
        """Each of the shard's best with the key one index orders it by (descending)."""
        snap = self.snapshot
        ids = snap.clip_ids([d for d, _ in best])
        if tiers is not None and tiers.words:
            every = len(tiers.words)
            orders = []
            for d, score in best:  # ranking.page's key: all words, corrected words as typed
                have = sum(d in either for _, either in tiers.words)
                typed = sum(d in exact for exact, either in tiers.words if either is not exact)
                orders.append((have == every, typed, score))
        elif sort != "relevance":
            keys = snap.sort_values([d for d, _ in best], sort)
            orders = [(*k, score) for k, (_, score) in zip(keys, best, strict=True)]
        else:
            orders = [(score,) for _, score in best]
        return [
            (d, order, cid, score)
            for (d, score), order, cid in zip(best, orders, ids, strict=True)
        ]
