"""A sharded index as one `Backend`: every question asked of all shards at once and
the answers merged so that the engine sees exactly what one index over the same
clips would show.

- Document numbers: shard i's document d is `d * N + i` (N shards), so sets stay
  plain ints and any shard's part is found without a table.
- Scoring: each shard's `QueryStats` are added up first (documents, field lengths,
  document frequencies) and every shard scores with the sums (dfs_query_then_fetch).
- Vocabulary, prefixes, facet spellings: merged, so corrections, "did you mean",
  prefix expansion and filter values are resolved as over one index.
- Pages: each shard's best n by (tier or sort key, score), ties by clip id, merged
  by the same total order.  Counts (facets, days, matches) are summed exactly.
- Languages: clips per language summed, so a query is analysed in the languages one
  index would use, in its order, each analysis kept when its tokens occur anywhere.
- Stories: copies of one story may sit in different shards, so they are grouped once
  over every shard's signatures (index/shard_stories.py, written beside the manifest
  by a build for the shards' commits); story ids, groups and story counts are read
  from that, as one index reads its own.

A plain search runs in phases (search/shard_phases.py): the words it asks about are
learnt from every shard in one question per round (which occur, their document
frequencies), then one question gathers statistics and match-rule sizes, one scores,
ranks and counts on every shard, and one fetches the page: about five round trips,
and only pages and counts cross, whatever the query matches.  The per-operation
methods below stay for what is not phased (grouping, story counts, RM3, watches,
exports).

Where a shard lives is a `Fanout`'s business: `LocalFanout` calls `ShardSearcher`s
in this process; the cluster package calls Dask actors of the same class."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol, TypeVar

from clipsearch.errors import ShardsUnavailableError
from clipsearch.index import (
    Compiled,
    ParsedQuery,
    QueryStats,
    analyze_word,
    group_shard_stories,
    load_shard_stories,
    merged_parser,
    query_terms,
    read_manifest,
    shard_of,
    shard_story_window,
)
from clipsearch.index import MergedTerms as _MergedTerms  # noqa: N814  (a class, renamed locally)
from clipsearch.search.shard_phases import ShardPlan, ShardQuery, ShardSearcher

T = TypeVar("T")
#: Rounds of learning a request's words (each one question to every shard) before
#: the rest is asked word by word.
LEARN_ROUNDS = 4

#: Stored fields of a page are fetched in one call per shard up to this many hits.
PREFETCH_STORED = 100


class Fanout(Protocol):
    """Calls a `ShardService` method on shards, wherever they are.  Answers are
    (shard number, value) for the shards that answered; a shard that cannot answer is
    an error unless partial answers were asked for, then it is left out and named in
    `missing()`."""

    names: list[str]

    def call(
        self, method: str, args: tuple = (), per_shard: Mapping[int, tuple] | None = None
    ) -> list[tuple[int, Any]]:
        """`method(*args)` on every shard, or `method(*per_shard[i])` on the shards of
        `per_shard`; in shard order."""
        ...

    def missing(self) -> list[str]: ...

    def begin(self) -> None:
        """A new request starts: shards missing before may be tried again."""
        ...

    def close(self) -> None: ...


class LocalFanout:
    """Shards opened in this process (no cluster): the same merging, no network."""

    def __init__(self, paths: list[str]):
        self.names = [p.rstrip("/").rsplit("/", 1)[-1] for p in paths]
        self._shards: list[ShardSearcher] = []
        try:
            for p in paths:
                self._shards.append(ShardSearcher(p))
        except BaseException:
            self.close()
            raise

    def call(
        self, method: str, args: tuple = (), per_shard: Mapping[int, tuple] | None = None
    ) -> list[tuple[int, Any]]:
        if per_shard is None:
            return [(i, getattr(s, method)(*args)) for i, s in enumerate(self._shards)]
        return [(i, getattr(self._shards[i], method)(*a)) for i, a in sorted(per_shard.items())]

    def missing(self) -> list[str]:
        return []

    def begin(self) -> None:
        pass

    def close(self) -> None:
        for s in self._shards:
            s.close()


def shard_paths(folder: str) -> list[str]:
    """The shard folders of a sharded index (its manifest's order)."""
    return read_manifest(folder).paths(folder)


#: Answers kept per commit (word frequencies, prefix terms) before the oldest go.
CACHE_ENTRIES = 10_000


def _bounded(cache: dict) -> dict:
    """`cache`, its oldest entry dropped when full (dicts keep insertion order)."""
    if len(cache) >= CACHE_ENTRIES:
        del cache[next(iter(cache))]
    return cache


class _MergedFacet:
    """A facet's values over all shards as one index shows them: case variants as
    one value, spelled as its most frequent spelling, in the order of its first
    spelling in the lexicon."""

    def __init__(self, spellings: Iterable[list[tuple[str, int]]]):
        groups: dict[str, Counter[str]] = {}
        for part in spellings:
            for term, n in part:
                groups.setdefault(term.casefold(), Counter())[term] += n
        ordered = sorted(groups.values(), key=min)
        self.values = tuple(max(g.items(), key=lambda kv: (kv[1], kv[0]))[0] for g in ordered)
        self.by_fold = {v.casefold(): v for v in self.values}


class ShardedBackend:
    """N shards searched as one index (the `Backend` protocol)."""

    def __init__(self, fanout: Fanout, folder: str | None = None):
        self._fan = fanout
        self._folder = folder
        self._n = len(fanout.names)
        self._infos = dict(fanout.call("info"))
        terms = _MergedTerms(
            lambda f: [v for _, v in fanout.call("field_terms", (f,))],
            self._prefix_terms,
            self.languages,
            self._occurring,
        )
        self._languages: tuple[str, ...] | None = None
        self._prefixes: dict[tuple[str, str], list[list[str]]] = {}
        self._occurs_tok: dict[str, bool] = {}
        self._token_dfs: dict[str, dict[str, int]] = {}
        self._learnt_partial = False
        self._asked: set[str] | None = None
        self._terms = terms
        self._parser = merged_parser(terms)
        self._words: dict[str, int] | None = None
        self._live: set[int] | None = None
        self._facets: dict[str, _MergedFacet] = {}
        self._shard_values: dict[str, dict[int, dict[str, str]]] = {}
        self._ids: dict[int, str] = {}
        self._stored: dict[int, dict[str, Any]] = {}
        self._prints: _ShardedFingerprints | None = None
        self._stories: list[Sequence[int]] | None = None
        self._groups: dict[int, tuple[int, ...]] | None = None
        self._in_groups: frozenset[int] = frozenset()
        self._published: _Interleaved | None = None

    @property
    def shard_names(self) -> list[str]:
        return list(self._fan.names)

    def begin(self) -> None:
        """A new search: shards that were missing are tried again (and what was
        learnt without them is forgotten)."""
        self._fan.begin()
        if self._learnt_partial:
            self._occurs_tok.clear()
            self._token_dfs.clear()
            self._learnt_partial = False

    def missing_shards(self) -> list[str]:
        """Shards left out of the answers (only when partial answers were asked for)."""
        return self._fan.missing()

    def shard_infos(self) -> list[dict[str, Any]]:
        """Per shard: its name, path, clips, size and last commit time."""
        return [
            {"shard": self._fan.names[i], **self._infos[i]} for i in sorted(self._infos)
        ]

    # -- document numbers
    def _global(self, shard: int, docs: Iterable[int]) -> set[int]:
        n = self._n
        return {d * n + shard for d in docs}

    def _split(self, docs: Iterable[int]) -> list[set[int]]:
        n = self._n
        parts: list[set[int]] = [set() for _ in range(n)]
        adds = [p.add for p in parts]
        for g in docs:
            adds[g % n](g // n)
        return parts

    def _split_scores(self, scores: Mapping[int, float]) -> list[dict[int, float]]:
        n = self._n
        parts: list[dict[int, float]] = [{} for _ in range(n)]
        for g, v in scores.items():
            parts[g % n][g // n] = v
        return parts

    def _union(self, answers: list[tuple[int, Iterable[int]]]) -> set[int]:
        out: set[int] = set()
        for i, docs in answers:
            out |= self._global(i, docs)
        return out

    # -- the collection
    @property
    def doc_count(self) -> int:
        missing = set(self._fan.missing())
        names = self._fan.names
        return sum(info["clips"] for i, info in self._infos.items() if names[i] not in missing)

    def live_docs(self) -> set[int]:
        if self._live is None or self._fan.missing():
            self._live = self._union(self._fan.call("live_docs"))
        return self._live

    def is_current(self) -> bool:
        return all(current for _, current in self._fan.call("is_current"))

    def close(self) -> None:
        self._fan.close()

    def last_modified(self) -> float:
        return max(info["last_modified"] for info in self._infos.values())

    def size_bytes(self) -> int:
        return sum(info["size_bytes"] for info in self._infos.values())

    # -- words
    def analyze(self, text: str) -> list[str]:
        return self._terms.analyze(text)

    def analyze_word(self, word: str, language: str | None = None) -> str | None:
        return analyze_word(word, language or self._terms.languages()[0])

    def languages(self) -> tuple[str, ...]:
        """The languages of all shards' clips, most clips first (ties by code)."""
        if self._languages is None or self._fan.missing():
            sizes: Counter[str] = Counter()
            for _, part in self._fan.call("language_sizes"):
                sizes.update(part)
            self._languages = tuple(sorted(sizes, key=lambda v: (-sizes[v], v)))
        return self._languages

    def _occurring(self, tokens: list[str]) -> set[str]:
        """The tokens some shard holds (one index holds what any of its shards does)."""
        self._know(tokens)
        return {t for t in tokens if self._occurs_tok.get(t)}

    def _know(self, tokens: Iterable[str]) -> None:
        """Make sure what every shard says of `tokens` is known: asked now, or (while
        `learn_words` runs) noted, to be asked with the round's other words."""
        unknown = [t for t in tokens if t not in self._token_dfs]
        if not unknown:
            return
        if self._asked is not None:
            self._asked.update(unknown)
        else:
            self._learn(unknown)

    def _learn(self, tokens: list[str]) -> None:
        """One question to every shard about `tokens`: which occur, and their
        document frequencies per field, summed."""
        occurs = dict.fromkeys(tokens, False)
        dfs: dict[str, dict[str, int]] = {t: {} for t in tokens}
        for _, (present, part) in self._fan.call("vocabulary_facts", (tokens,)):
            for t in present:
                occurs[t] = True
            for (t, f), n in part.items():
                dfs[t][f] = dfs[t].get(f, 0) + n
        if self._fan.missing():
            self._learnt_partial = True
        for t in tokens:
            _bounded(self._occurs_tok)[t] = occurs[t]
            _bounded(self._token_dfs)[t] = dfs[t]

    def learn_words(self, run: Callable[[], T]) -> T:
        """`run()` (parsing, typo tolerance: anything whose only questions to the
        shards are which words occur and how often) with those questions batched:
        each round notes the words `run` asks about and not yet known, then asks
        every shard about all of them at once; the round that asks nothing new is
        the answer (exactly what asking word by word gives)."""
        for _ in range(LEARN_ROUNDS):
            self._asked = set()
            try:
                result = run()
            finally:
                asked, self._asked = self._asked, None
            if not asked:
                return result
            self._learn(sorted(asked))
        return run()

    def words(self) -> dict[str, int]:
        if self._words is None:
            merged: Counter[str] = Counter()
            for _, part in self._fan.call("words"):
                merged.update(part)
            self._words = dict(merged)
        return self._words

    def term_df(self, word: str) -> int:
        """Summed per (token, field) over shards, then the largest, as one index; what
        shards said of a token is kept for the life of this commit (typo tolerance
        asks about the same words often)."""
        tokens = sorted({t for tokens in self._terms.analyses(word) for t in tokens})
        self._know(tokens)
        if any(t not in self._token_dfs for t in tokens):
            return 0  # noted while learning: the round that knows it answers
        return max((n for t in tokens for n in self._token_dfs[t].values()), default=0)

    def _prefix_terms(self, field: str, prefix: str) -> list[list[str]]:
        key = (field, prefix)
        found = self._prefixes.get(key)
        if found is None:
            found = [v for _, v in self._fan.call("prefix_terms", key)]
            if not self._fan.missing():
                _bounded(self._prefixes)[key] = found
        return found

    # -- matching and scoring
    def parse(
        self, text: str, implicit_and: bool = False, languages: Sequence[str] = ()
    ) -> ParsedQuery:
        return self._parser.parse(text, implicit_and, languages)

    def match(self, compiled: Compiled) -> set[int]:
        return self._union(self._fan.call("match", (compiled,)))

    def query_stats(self, compiled: Compiled) -> QueryStats:
        return QueryStats.merge(v for _, v in self._fan.call("query_stats", (compiled,)))

    def scores(self, compiled: Compiled, stats: QueryStats | None = None) -> dict[int, float]:
        if stats is None:
            stats = self.query_stats(compiled)
        n = self._n
        out: dict[int, float] = {}
        for i, part in self._fan.call("scores", (compiled, stats)):
            out.update({d * n + i: v for d, v in part.items()})
        return out

    def top(
        self,
        scores: dict[int, float],
        n: int,
        allow: set[int] | None = None,
        sort: str = "relevance",
    ) -> list[tuple[int, float]]:
        if n <= 0:
            return []
        parts = self._split_scores(scores)
        allowed = self._split(allow) if allow is not None else None
        calls = {
            i: (parts[i], n, None if allowed is None else allowed[i], sort)
            for i in range(self._n)
            if parts[i] and (allowed is None or allowed[i])
        }
        candidates = []
        for i, best in self._fan.call("top", per_shard=calls) if calls else []:
            for d, score, key, cid in best:
                g = d * self._n + i
                self._ids[g] = cid
                order = (score,) if key is None else (*key, score)
                candidates.append((order, cid, g, score))
        candidates.sort(key=lambda c: c[1])
        candidates.sort(key=lambda c: c[0], reverse=True)  # stable: ties stay in id order
        page = [(g, score) for _, _, g, score in candidates[:n]]
        if len(page) <= PREFETCH_STORED:
            self._prefetch([g for g, _ in page])
        return page

    # -- a search in phases (shard_phases.py)
    def new_query(
        self, compiled: Compiled | None, words: Sequence[tuple[Compiled, Compiled | None]] = ()
    ) -> ShardQuery:
        """A request to run in phases, named so each shard keeps its word sets between them."""
        return ShardQuery(uuid.uuid4().hex, compiled, tuple(words))

    def prepare(self, query: ShardQuery) -> tuple[QueryStats | None, list[int], int, int]:
        """Phase 1, one question to every shard: the query's statistics summed, and
        per word the clips with it (or a correction), the clips with all words and
        with any, summed (shards hold disjoint clips)."""
        answers = [facts for _, facts in self._fan.call("prepare", (query,))]
        stats = None
        if query.compiled is not None:
            stats = QueryStats.merge(f.stats for f in answers)
        either = [sum(f.either[k] for f in answers) for k in range(len(query.words))]
        return (
            stats,
            either,
            sum(f.with_all for f in answers),
            sum(f.with_any for f in answers),
        )

    def execute(
        self, query: ShardQuery, plan: ShardPlan
    ) -> tuple[int, list[tuple[int, float]], dict[str, Counter[str]], tuple[Counter[int], int]]:
        """Phase 2, one question to every shard: matches counted, each shard's best
        `plan.n` merged by one index's order (ties by clip id), facet counts (as the
        merged facet spells values) and day counts summed."""
        n = self._n
        total = 0
        candidates = []
        facets: dict[str, Counter[str]] = {name: Counter() for name in plan.facets}
        days: Counter[int] = Counter()
        undated = 0
        by_fold = {name: self._facet(name).by_fold for name in plan.facets}
        for i, part in self._fan.call("execute", (query, plan)):
            total += part.total
            for d, order, cid, score in part.rows:
                g = d * n + i
                self._ids[g] = cid
                candidates.append((order, cid, g, score))
            for name, counts in part.facets.items():
                fold = by_fold[name]
                out = facets[name]
                for value, k in counts.items():
                    out[fold.get(value.casefold(), value)] += k
            if part.days is not None:
                days.update(part.days[0])
                undated += part.days[1]
        candidates.sort(key=lambda c: c[1])
        candidates.sort(key=lambda c: c[0], reverse=True)  # stable: ties stay in id order
        page = [(g, score) for _, _, g, score in candidates[: plan.n]]
        return total, page, facets, (days, undated)

    def fetch_page(self, docs: Sequence[int]) -> None:
        """Phase 3, one question to the shards holding them: the stored fields of a
        page's documents and the clip ids of their stories' first copies."""
        self._stored = {}
        if not docs:
            return
        n = self._n
        story = self.story_of()
        wanted_ids = sorted({story[g] for g in docs} - self._ids.keys())
        stored: dict[int, list[int]] = {}
        ids: dict[int, list[int]] = {}
        for g in docs:
            stored.setdefault(g % n, []).append(g)
        for g in wanted_ids:
            ids.setdefault(g % n, []).append(g)
        calls = {
            i: ([g // n for g in stored.get(i, [])], [g // n for g in ids.get(i, [])])
            for i in sorted(stored.keys() | ids.keys())
        }
        for i, (fields, clip_ids) in self._fan.call("fetch", per_shard=calls):
            self._stored.update(zip(stored.get(i, []), fields, strict=True))
            self._ids.update(zip(ids.get(i, []), clip_ids, strict=True))

    def clip_id(self, docnum: int) -> str:
        cid = self._ids.get(docnum)
        if cid is None:
            cid = self._ids[docnum] = self._one(docnum, "clip_ids")

        return cid

    def clip_ids(self, docs: list[int]) -> list[str]:
        """Ids of the documents not seen yet, one call per shard; up to a page of them
        brings their stored fields too (they are usually the page about to be shown)."""
        unknown = [g for g in docs if g not in self._ids]
        if unknown and len(unknown) <= PREFETCH_STORED:
            self._prefetch(unknown, keep=True)
            for g in unknown:
                self._ids[g] = self._stored[g]["id"]
        elif unknown:
            parts: dict[int, list[int]] = {}
            for g in unknown:
                parts.setdefault(g % self._n, []).append(g)
            calls = {i: ([g // self._n for g in gs],) for i, gs in parts.items()}
            for i, ids in self._fan.call("clip_ids", per_shard=calls):
                self._ids.update(zip(parts[i], ids, strict=True))
        return [self._ids[g] for g in docs]

    # -- filters and facets
    def docs_between(self, since: datetime | None, until: datetime | None) -> set[int]:
        return self._union(self._fan.call("docs_between", (since, until)))

    def day_counts(self, docs: Collection[int]) -> tuple[Counter[int], int]:
        parts = self._split(docs)
        days: Counter[int] = Counter()
        undated = 0
        calls = {i: (p,) for i, p in enumerate(parts) if p}
        for _, (counts, none) in self._fan.call("day_counts", per_shard=calls) if calls else []:
            days.update(counts)
            undated += none
        return days, undated

    def _facet(self, field: str) -> _MergedFacet:
        if field not in self._facets:
            self._facets[field] = _MergedFacet(
                v for _, v in self._fan.call("facet_spellings", (field,))
            )
        return self._facets[field]

    def facet_values(self, field: str) -> tuple[str, ...]:
        return self._facet(field).values

    def _spelled_by_shard(self, field: str) -> dict[int, dict[str, str]]:
        """Per shard, casefolded value -> that shard's own spelling of it."""
        if field not in self._shard_values or self._fan.missing():
            self._shard_values[field] = {
                i: {v.casefold(): v for v in values}
                for i, values in self._fan.call("facet_values", (field,))
            }
        return self._shard_values[field]

    def docs_with_values(self, field: str, values: Iterable[str]) -> set[int]:
        folds = [v.casefold() for v in values]
        calls = {
            i: (field, [own[f] for f in folds if f in own])
            for i, own in self._spelled_by_shard(field).items()
        }
        return self._union(self._fan.call("docs_with_values", per_shard=calls))

    def facet_counts(self, field: str, docs: Collection[int]) -> Counter[str]:
        by_fold = self._facet(field).by_fold
        parts = self._split(docs)
        calls = {i: (field, p) for i, p in enumerate(parts) if p}
        out: Counter[str] = Counter()
        for _, counts in self._fan.call("facet_counts", per_shard=calls) if calls else []:
            for value, k in counts.items():
                out[by_fold.get(value.casefold(), value)] += k
        return out

    # -- stored fields
    def _prefetch(self, docs: list[int], keep: bool = False) -> None:
        if not keep or len(self._stored) > 4 * PREFETCH_STORED:
            self._stored = {}
        if not docs:
            return
        parts: dict[int, list[int]] = {}
        for g in docs:
            parts.setdefault(g % self._n, []).append(g)
        calls = {i: ([g // self._n for g in gs],) for i, gs in parts.items()}
        for i, fields in self._fan.call("stored", per_shard=calls):
            self._stored.update(zip(parts[i], fields, strict=True))

    def stored(self, docnum: int) -> dict[str, Any]:
        hit = self._stored.get(docnum)
        if hit is not None:
            return hit
        return self._one(docnum, "stored")

    def _one(self, docnum: int, method: str) -> Any:
        """A list-taking shard method asked about one document."""
        answers = self._fan.call(method, per_shard={docnum % self._n: ([docnum // self._n],)})
        if not answers:
            raise ShardsUnavailableError(self._fan.missing())
        return answers[0][1][0]

    def docnum_of(self, clip_id: str) -> int | None:
        shard = shard_of(clip_id, self._n)
        answers = self._fan.call("docnum_of", per_shard={shard: (clip_id,)})
        if not answers or answers[0][1] is None:
            return None
        return answers[0][1] * self._n + shard

    def query_terms(self, compiled: Compiled) -> frozenset[str]:
        return query_terms(compiled)

    # -- stories: grouped once over all shards (index/shard_stories.py)
    #: True: every document has a story, grouped over all shards as one index would.
    has_stories = True

    def _story_parts(self) -> list[Sequence[int]]:
        """Per shard, the story of each of its documents (global numbers): the data
        written beside the manifest when it describes the shards' current commits,
        else the shards' rows grouped here (stale data is never used)."""
        if self._stories is None or self._fan.missing():
            keys = dict(self._fan.call("commit_key"))
            loaded = None
            if self._folder is not None:  # a shard left out (partial answers) is not checked
                loaded = load_shard_stories(
                    self._folder,
                    [keys[i][0] if i in keys else None for i in range(self._n)],
                    [keys[i][1] if i in keys else None for i in range(self._n)],
                )
            if loaded is None:  # a partial answer groups the shards that answered
                answers = dict(self._fan.call("story_rows"))
                window = shard_story_window(self._folder) if self._folder else None
                loaded = group_shard_stories(
                    [answers[i][2] if i in answers else None for i in range(self._n)], window
                )
            self._stories = list(loaded)
        return self._stories

    def story_of(self) -> Sequence[int]:
        """Per global document number, the global number of its story's earliest copy."""
        return _Interleaved(self._story_parts(), self._n)

    def story_groups(self) -> dict[int, tuple[int, ...]]:
        """The stories of more than one live document: story -> its documents."""
        if self._groups is None:
            live = self.live_docs()
            n = self._n
            groups: dict[int, list[int]] = {}
            for i, part in enumerate(self._story_parts()):
                for d, s in enumerate(part):
                    g = d * n + i
                    if s != g and g in live:
                        groups.setdefault(s, [s]).append(g)
            self._groups = {s: (s, *sorted(m[1:])) for s, m in groups.items()}
            self._in_groups = frozenset(g for m in self._groups.values() for g in m)
        return self._groups

    def docs_with_copies(self) -> frozenset[int]:
        self.story_groups()
        return self._in_groups

    def facet_story_counts(self, field: str, docs: Collection[int]) -> Counter[str]:
        """Distinct stories per facet value over `docs`: the clip counts less the
        extra copies of a story under one value (as FacetColumn.count_distinct)."""
        counts = self.facet_counts(field, docs)
        inside = docs if isinstance(docs, set | frozenset) else set(docs)
        story = self.story_of()
        by_story: dict[int, list[int]] = {}
        for g in self.docs_with_copies() & inside:
            by_story.setdefault(story[g], []).append(g)
        members = [m for m in by_story.values() if len(m) > 1]
        values = self._values_of(field, [g for m in members for g in m])
        for m in members:
            per_value = Counter(v for g in m for v in values[g])
            for value, k in per_value.items():
                if k > 1:
                    counts[value] -= k - 1
        return counts

    def _values_of(self, field: str, docs: list[int]) -> dict[int, tuple[str, ...]]:
        """Each document's values of a facet, spelled as the merged facet shows them."""
        by_fold = self._facet(field).by_fold
        parts: dict[int, list[int]] = {}
        for g in docs:
            parts.setdefault(g % self._n, []).append(g)
        calls = {i: (field, [g // self._n for g in gs]) for i, gs in parts.items()}
        out: dict[int, tuple[str, ...]] = {}
        for i, answer in self._fan.call("facet_values_of", per_shard=calls) if calls else []:
            for g, vs in zip(parts[i], answer, strict=True):
                out[g] = tuple(dict.fromkeys(by_fold.get(v.casefold(), v) for v in vs))
        return out

    def published(self) -> Sequence[int | None]:
        if self._published is None or self._fan.missing():
            self._published = _Interleaved(
                [v for _, v in sorted(self._fan.call("published"))], self._n
            )
        return self._published

    def published_at(self, docnum: int) -> datetime | None:
        return self._one(docnum, "published_ats")

    def facet_values_of(self, field: str, docnum: int) -> tuple[str, ...]:
        return self._values_of(field, [docnum])[docnum]

    def fingerprints(self) -> Sequence[str]:
        """Per document, its content fingerprint: each shard's, by document number."""
        if self._prints is None or self._fan.missing():
            self._prints = _ShardedFingerprints(dict(self._fan.call("fingerprints")), self._n)
        return self._prints


class _Interleaved(Sequence[Any]):
    """Per global document number, its shard's value: shard i's d is d * N + i."""

    def __init__(self, parts: Sequence[Sequence[Any]], shards: int):
        self._parts, self._n = parts, shards
        self._len = max((len(p) * shards + i for i, p in enumerate(parts)), default=0)

    def __len__(self) -> int:
        return self._len

    def __getitem__(self, g: int) -> Any:  # type: ignore[override]
        return self._parts[g % self._n][g // self._n]


class _ShardedFingerprints(Sequence[str]):
    """Per document number of a sharded backend, its shard's fingerprint of it."""

    def __init__(self, parts: dict[int, Sequence[str]], shards: int):
        self._parts, self._n = parts, shards
        self._len = max((len(p) * shards + i for i, p in parts.items()), default=0)

    def __len__(self) -> int:
        return self._len

    def __getitem__(self, g: int) -> str:  # type: ignore[override]
        return self._parts[g % self._n][g // self._n]
