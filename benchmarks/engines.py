"""The engines the benchmark compares, behind one small interface.

Every engine indexes the same four text fields with the same weights (title 3.0,
excerpt 1.0, body 1.0, related text 0.5), English stemming, and two facets (topic,
provider).  Facet counts are always taken over *all* documents matching the query, not
over the page of hits.  Query text is split into word tokens the same way for the two
baselines; the match mode decides how the tokens combine:

* ``any`` (the plain names ``fts5``, ``tantivy``): any token may match, ranked by BM25
  (as the issue's figures and Anserini's CACM runs do);
* ``all`` (``fts5-all``, ``tantivy-all``): every token must match somewhere.

clipsearch is searched only through its public API (``open_index(...).search``) with
its user defaults, and decides its own query semantics (``match="auto"``).  Nothing
here imports clipsearch at module level, so ``oneshot.py`` can time a peer's whole
process without paying for clipsearch's import.
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from clipsearch.ingest.clip import Clip

WEIGHTS = {"title": 3.0, "excerpt": 1.0, "body": 1.0, "related": 0.5}
TEXT_FIELDS = tuple(WEIGHTS)
_WORD = re.compile(r"[^\W_]+")


def words(query: str) -> list[str]:
    """Word tokens of a query, as unicode61 / tantivy's simple tokenizer would cut them."""
    return _WORD.findall(query.lower())


def clip_texts(clip: Clip) -> dict[str, str]:
    """The four searchable texts of a clip."""
    return {
        "title": clip.title,
        "excerpt": clip.excerpt,
        "body": clip.body,
        "related": clip.related_text,
    }


def dir_size(path: str) -> int:
    """Bytes of all files under `path` (an index folder or one database file)."""
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)


@dataclass
class Result:
    """One answered query: ranked ids, how many matched, and facet counts."""

    ids: list[str]
    total: int
    facets: dict[str, dict[str, int]] = field(default_factory=dict)
    corrections: dict[str, str] = field(default_factory=dict)
    match: str = ""  # clipsearch: the match mode its "auto" chose (all or any)


class Engine:
    """Build from parsed clips (or clip folders), open, search, close."""

    name = "engine"

    def build(self, clips: Sequence[Clip], index_dir: str) -> int:
        """Index parsed clips from scratch; returns the number of clips indexed."""
        raise NotImplementedError

    def add(self, clips: Sequence[Clip], index_dir: str) -> int:
        """Add new parsed clips to an existing index; returns how many were added."""
        raise NotImplementedError

    def open(self, index_dir: str) -> None:
        raise NotImplementedError

    def search(self, query: str, limit: int = 10, facets: bool = False) -> Result:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def size(self, index_dir: str) -> int:
        return dir_size(index_dir)


# --------------------------------------------------------------------------- SQLite FTS5


class Fts5Engine(Engine):
    """SQLite FTS5 (stdlib sqlite3): porter stemming, bm25() with our column weights,
    facets by GROUP BY over a materialised set of all matching rowids.

    The FTS5 table is contentless (``content=''``): like the Tantivy index it keeps the
    inverted index only, and id, title and provider live in an ordinary table."""

    name = "fts5"
    DB = "fts5.db"

    def __init__(self, match: str = "any") -> None:
        self.con: sqlite3.Connection | None = None
        self.op = " OR " if match == "any" else " "
        if match == "all":
            self.name = "fts5-all"

    @staticmethod
    def _rows(clips: Sequence[Clip], start: int) -> tuple[list, list, list]:
        docs, topics, texts = [], [], []
        for rid, clip in enumerate(clips, start):
            docs.append((rid, clip.id, clip.title, clip.provider))
            topics.extend((rid, t) for t in clip.topics)
            t = clip_texts(clip)
            texts.append((rid, t["title"], t["excerpt"], t["body"], t["related"]))
        return docs, topics, texts

    def _insert(self, con: sqlite3.Connection, clips: Sequence[Clip], start: int) -> None:
        docs, topics, texts = self._rows(clips, start)
        con.executemany("INSERT INTO docs(rid, id, title, provider) VALUES (?, ?, ?, ?)", docs)
        con.executemany("INSERT INTO topics(rid, topic) VALUES (?, ?)", topics)
        con.executemany(
            "INSERT INTO fts(rowid, title, excerpt, body, related) VALUES (?, ?, ?, ?, ?)",
            texts,
        )

    def build(self, clips: Sequence[Clip], index_dir: str) -> int:
        os.makedirs(index_dir, exist_ok=True)
        path = os.path.join(index_dir, self.DB)
        if os.path.exists(path):
            os.remove(path)
        con = sqlite3.connect(path, isolation_level=None)
        try:
            con.executescript(
                """
                CREATE TABLE docs(rid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,
                                  title TEXT NOT NULL, provider TEXT NOT NULL);
                CREATE TABLE topics(rid INTEGER NOT NULL, topic TEXT NOT NULL,
                                    PRIMARY KEY (rid, topic)) WITHOUT ROWID;
                CREATE VIRTUAL TABLE fts USING fts5(
                    title, excerpt, body, related, content = '',
                    tokenize = 'porter unicode61 remove_diacritics 2');
                """
            )
            w = WEIGHTS
            con.execute(
                "INSERT INTO fts(fts, rank) VALUES ('rank', ?)",
                (f"bm25({w['title']}, {w['excerpt']}, {w['body']}, {w['related']})",),
            )
            con.execute("BEGIN")
            self._insert(con, clips, 1)
            con.execute("INSERT INTO fts(fts) VALUES ('optimize')")
            con.execute("COMMIT")
        finally:
            con.close()
        return len(clips)

    def add(self, clips: Sequence[Clip], index_dir: str) -> int:
        con = sqlite3.connect(os.path.join(index_dir, self.DB), isolation_level=None)
        try:
            con.execute("BEGIN")
            start = con.execute("SELECT coalesce(max(rid), 0) + 1 FROM docs").fetchone()[0]
            self._insert(con, clips, start)
            con.execute("COMMIT")
        finally:
            con.close()
        return len(clips)

    def open(self, index_dir: str) -> None:
        self.con = sqlite3.connect(os.path.join(index_dir, self.DB), check_same_thread=False)

    def close(self) -> None:
        if self.con is not None:
            self.con.close()
            self.con = None

    def fts_query(self, query: str) -> str:
        """Each word quoted (no FTS5 syntax from user text); implicit AND, or OR."""
        return self.op.join(f'"{w}"' for w in words(query))

    def search(self, query: str, limit: int = 10, facets: bool = False) -> Result:
        assert self.con is not None
        q = self.fts_query(query)
        if not q:
            return Result([], 0)
        rows = self.con.execute(
            "SELECT d.id, d.title FROM (SELECT rowid AS r, rank FROM fts "
            "WHERE fts MATCH ? ORDER BY rank LIMIT ?) AS m JOIN docs d ON d.rid = m.r "
            "ORDER BY m.rank",
            (q, limit),
        ).fetchall()
        ids = [r[0] for r in rows]
        if not facets:
            total = self.con.execute("SELECT count(*) FROM fts WHERE fts MATCH ?", (q,))
            return Result(ids, total.fetchone()[0])
        counts: dict[str, dict[str, int]] = {"topic": {}, "provider": {}}
        total = 0
        for kind, value, n in self.con.execute(
            """
            WITH m(r) AS MATERIALIZED (SELECT rowid FROM fts WHERE fts MATCH ?)
            SELECT 'topic', t.topic, count(*) FROM m JOIN topics t ON t.rid = m.r
                GROUP BY t.topic
            UNION ALL
            SELECT 'provider', d.provider, count(*) FROM m JOIN docs d ON d.rid = m.r
                GROUP BY d.provider
            UNION ALL
            SELECT '', '', count(*) FROM m
            """,
            (q,),
        ):
            if kind:
                if value:
                    counts[kind][value] = n
            else:
                total = n
        return Result(ids, total, counts)


# --------------------------------------------------------------------------- Tantivy


class TantivyEngine(Engine):
    """Tantivy (tantivy-py): one BM25 field per text with query-time boosts, Porter
    stemming, raw fast fields for facets counted with a terms aggregation.

    ``fuzzy=True`` adds, per query token of 4+ letters, a FuzzyTermQuery (Levenshtein 1,
    transposition = 1) on the stemmed token in every field, at 0.3x the field weight
    (tantivy scores fuzzy matches as a constant).  That is how Elasticsearch's
    ``match`` with ``fuzziness: 1`` behaves, and is tantivy's own typo tolerance.
    """

    name = "tantivy"
    ANALYZER = "en_stem_fold"
    FUZZY_BOOST = 0.3
    FACET_SIZE = 50_000

    def __init__(self, match: str = "any", fuzzy: bool = False, heap_mb: int = 128) -> None:
        import tantivy

        self.t = tantivy
        self.fuzzy = fuzzy
        self.heap = heap_mb * 1_000_000
        self.must = match == "all"
        if fuzzy:
            self.name = "tantivy-fuzzy"
        elif self.must:
            self.name = "tantivy-all"
        self.analyzer = (
            tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
            .filter(tantivy.Filter.remove_long(40))
            .filter(tantivy.Filter.lowercase())
            .filter(tantivy.Filter.ascii_fold())
            .filter(tantivy.Filter.stemmer("english"))
            .build()
        )
        self.index: Any = None
        self.searcher: Any = None

    def _schema(self) -> Any:
        sb = self.t.SchemaBuilder()
        sb.add_text_field("id", stored=True, tokenizer_name="raw")
        sb.add_text_field("title", stored=True, tokenizer_name=self.ANALYZER)
        for name in TEXT_FIELDS[1:]:
            sb.add_text_field(name, tokenizer_name=self.ANALYZER)
        sb.add_text_field("topic", fast=True, tokenizer_name="raw")
        sb.add_text_field("provider", fast=True, tokenizer_name="raw")
        return sb.build()

    def _open_index(self, index_dir: str, create: bool) -> Any:
        if create:
            os.makedirs(index_dir, exist_ok=True)
            index = self.t.Index(self._schema(), path=index_dir)
        else:
            index = self.t.Index.open(index_dir)
        index.register_tokenizer(self.ANALYZER, self.analyzer)
        return index

    def _write(self, index: Any, clips: Sequence[Clip]) -> None:
        writer = index.writer(heap_size=self.heap)
        for clip in clips:
            doc = self.t.Document()
            doc.add_text("id", clip.id)
            for name, text in clip_texts(clip).items():
                if text:
                    doc.add_text(name, text)
            for topic in clip.topics:
                doc.add_text("topic", topic)
            if clip.provider:
                doc.add_text("provider", clip.provider)
            writer.add_document(doc)
        writer.commit()
        writer.wait_merging_threads()

    def build(self, clips: Sequence[Clip], index_dir: str) -> int:
        if os.path.isdir(index_dir):
            for f in os.listdir(index_dir):
                os.remove(os.path.join(index_dir, f))
        self._write(self._open_index(index_dir, create=True), clips)
        return len(clips)

    def add(self, clips: Sequence[Clip], index_dir: str) -> int:
        self._write(self._open_index(index_dir, create=False), clips)
        return len(clips)

    def open(self, index_dir: str) -> None:
        self.index = self._open_index(index_dir, create=False)
        self.searcher = self.index.searcher()
        self.schema = self.index.schema

    def close(self) -> None:
        self.index = self.searcher = None

    def build_query(self, query: str) -> Any:
        """Per token: OR over fields (BM25, boosted); tokens combined by AND or OR."""
        Q, Occur = self.t.Query, self.t.Occur
        clauses = []
        for token in self.analyzer.analyze(" ".join(words(query))):
            per_field = [
                (Occur.Should, Q.boost_query(Q.term_query(self.schema, f, token), w))
                for f, w in WEIGHTS.items()
            ]
            if self.fuzzy and len(token) >= 4:
                per_field += [
                    (
                        Occur.Should,
                        Q.boost_query(
                            Q.fuzzy_term_query(self.schema, f, token, distance=1),
                            w * self.FUZZY_BOOST,
                        ),
                    )
                    for f, w in WEIGHTS.items()
                ]
            clauses.append((Occur.Must if self.must else Occur.Should, Q.boolean_query(per_field)))
        return Q.boolean_query(clauses) if clauses else None

    def search(self, query: str, limit: int = 10, facets: bool = False) -> Result:
        q = self.build_query(query)
        if q is None:
            return Result([], 0)
        found = self.searcher.search(q, limit)
        ids = [self.searcher.doc(addr)["id"][0] for _score, addr in found.hits]
        if not facets:
            return Result(ids, found.count)
        aggs = self.searcher.aggregate(
            q,
            {
                kind: {"terms": {"field": kind, "size": self.FACET_SIZE}}
                for kind in ("topic", "provider")
            },
        )
        counts = {
            kind: {b["key"]: b["doc_count"] for b in aggs[kind]["buckets"]}
            for kind in ("topic", "provider")
        }
        return Result(ids, found.count, counts)


# --------------------------------------------------------------------------- clipsearch


class ClipsearchEngine(Engine):
    """clipsearch through its public API, searched with a user's defaults: highlights,
    typo tolerance and both facet counts on, ``match="auto"``, the top 10 of each facet
    (counted over every match).  ``facets=False`` is the only option ever changed.

    It is built through its own CLI (``clipsearch index``, parsing included), by the
    harness, so ``build``/``add`` are not used."""

    name = "clipsearch"

    def __init__(self) -> None:
        from clipsearch import open_index

        self._open = open_index
        self.idx: Any = None

    def open(self, index_dir: str) -> None:
        self.idx = self._open(index_dir)

    def close(self) -> None:
        if self.idx is not None:
            self.idx.close()
            self.idx = None

    def search(self, query: str, limit: int = 10, facets: bool = False) -> Result:
        res = (
            self.idx.search(query, limit=limit)
            if facets
            else self.idx.search(query, limit=limit, facets=False)
        )
        return Result(
            [h.id for h in res.hits],
            int(res.total),
            {k: dict(v) for k, v in (res.facets or {}).items()},
            dict(res.corrections or {}),
            str(res.match),
        )


#: Query engines: the peers in both match modes, Tantivy's own typo tolerance, clipsearch.
ENGINES = ("clipsearch", "fts5", "fts5-all", "tantivy", "tantivy-all", "tantivy-fuzzy")
#: Engines with an index of their own (the variants search their base engine's index).
INDEXED = ("clipsearch", "fts5", "tantivy")


def index_of(name: str) -> str:
    """The index an engine searches: fts5-all the fts5 index, tantivy-* the tantivy one."""
    return name.split("-")[0]


def make_engine(name: str) -> Engine:
    """An engine by name; ImportError when its package is missing."""
    if name in ("fts5", "fts5-all"):
        return Fts5Engine("all" if name.endswith("-all") else "any")
    if name in ("tantivy", "tantivy-all"):
        return TantivyEngine("all" if name.endswith("-all") else "any")
    if name == "tantivy-fuzzy":
        return TantivyEngine(fuzzy=True)
    if name == "clipsearch":
        return ClipsearchEngine()
    raise ValueError(f"unknown engine {name!r}; known: {', '.join(ENGINES)}")
