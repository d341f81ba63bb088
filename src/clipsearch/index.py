"""The index: the only module that imports Whoosh.

It owns the schema, the writer (locking, multi-process bulk builds), and a
read-only `Snapshot` of one commit that the query layer drives through plain
Python values: sets of document numbers, per-document facet arrays, the word
vocabulary, and opaque compiled queries.  Swapping the engine means rewriting
this module only.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import heapq
import json
import math
import os
import re
import shutil
import signal
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from whoosh import columns, fields, index, multiproc, qparser, query, writing
from whoosh.analysis import LowercaseFilter, RegexTokenizer, StemFilter, StopFilter
from whoosh.codec import whoosh3
from whoosh.filedb import structfile
from whoosh.lang import porter
from whoosh.util.filelock import try_for
from whoosh.util.times import datetime_to_long

from clipsearch.clip import Clip
from clipsearch.errors import (
    ClipsearchError,
    IndexIncompatibleError,
    IndexLockedError,
    IndexMissingError,
    QueryError,
)

SCHEMA_VERSION = 1
META_FILE = "clipsearch.json"
INDEX_NAME = "clips"

#: Lucene's English stop words (what Anserini's CACM reference uses); unlike
#: Whoosh's own list it keeps "us", "may" and "can", which matter in news.
STOP_WORDS = frozenset(
    (
        "a an and are as at be but by for if in into is it no not of on or such that the "
        "their then there these they this to was will with"
    ).split()
)
#: Searchable text fields and their BM25F weights.
TEXT_FIELDS: dict[str, float] = {"title": 3.0, "excerpt": 1.0, "body": 1.0, "related": 0.5}
FACET_FIELDS = ("topic", "provider")
_WORD_RE = re.compile(r"[^\W\d_]{3,}")
_TOKEN_RE = r"\w+(\.?\w+)*"


MAX_QUERY_CHARS = 2000
#: Cap on the terms one prefix or wildcard may expand to, so `a*` cannot take the machine.
MAX_EXPANSIONS = 256
#: Postings kept in memory across queries (about 200 bytes each in Python dicts).
TERM_CACHE_POSTINGS = 1_000_000


@functools.lru_cache(maxsize=500_000)
def _stem(word: str) -> str:
    return porter.stem(word)


def text_analyzer() -> Any:
    """Tokenise, lowercase, drop stop words, Porter-stem (with an unbounded stem cache:
    a news vocabulary is a few hundred thousand words, and stemming dominates analysis)."""
    return (
        RegexTokenizer(_TOKEN_RE)
        | LowercaseFilter()
        | StopFilter(stoplist=STOP_WORDS, minsize=1)
        | StemFilter(stemfn=_stem, cachesize=None)
    )


def surface_words(clip: Clip) -> set[str]:
    """The distinct unstemmed words of a clip's searchable text: what typos are corrected to."""
    text = f"{clip.title}\n{clip.excerpt}\n{clip.body}\n{clip.related_text}".lower()
    return set(_WORD_RE.findall(text))


class _ViewFile:
    """A read-only file over a memoryview, without copying it."""

    __slots__ = ("_buf", "_pos", "_len")

    def __init__(self, buf: memoryview):
        self._buf, self._pos, self._len = buf, 0, len(buf)

    def read(self, n: int | None = -1) -> bytes:
        pos = self._pos
        end = self._len if n is None or n < 0 else min(self._len, pos + n)
        self._pos = end
        return self._buf[pos:end].tobytes()

    def readline(self, size: int | None = -1) -> bytes:
        end = self._len if size is None or size < 0 else min(self._len, self._pos + size)
        chunk = self._buf[self._pos : end].tobytes()
        i = chunk.find(b"\n")
        line = chunk if i < 0 else chunk[: i + 1]
        self._pos += len(line)
        return line

    def seek(self, pos: int, whence: int = 0) -> int:
        base = (0, self._pos, self._len)[whence]
        self._pos = max(0, base + pos)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def close(self) -> None:
        self._buf = memoryview(b"")


def _die_with_parent(parent_pid: int | None) -> None:
    """Make a worker process exit when its parent dies (kill -9, the OOM killer): it
    shares the parent's lock on the index and would otherwise keep it forever."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG (Linux)
    except (OSError, AttributeError):
        return
    if parent_pid is not None and os.getppid() != parent_pid:  # died before prctl
        os._exit(1)


def _patch_whoosh() -> None:
    """Two fixes to Whoosh 2.7, applied once.

    A compound segment is memory-mapped, but Whoosh then copies each sub-file into a
    BytesIO: opening the 155k-clip index cost 935 MB.  Reading the map in place keeps
    it at tens of MB, and an open snapshot keeps reading its own commit after a
    later commit deletes the segment (the map outlives the file).

    While merging postings Whoosh re-checks the disk (a stat per posting) for the
    length column of every unscored field, because it does not cache a missing
    column; caching the answer cut commit time by a third."""
    if getattr(whoosh3.W3PerDocReader, "_clipsearch_patched", False):
        return

    def buffer_file_init(self: Any, buf: Any, name: str | None = None, onclose: Any = None):
        self._buf = buf
        self._name = name
        self.file = _ViewFile(memoryview(buf))
        self.onclose = onclose
        self.is_real = False
        self.is_closed = False

    structfile.BufferFile.__init__ = buffer_file_init

    task_run = multiproc.SubWriterTask.run

    def sub_writer_run(self: Any) -> None:
        # Ctrl-C goes to the whole process group: the parent cancels the build, so
        # the workers ignore it instead of each printing a traceback.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        _die_with_parent(self._parent_pid)
        task_run(self)

    multiproc.SubWriterTask.run = sub_writer_run

    def mp_cancel(self: Any) -> None:
        # Whoosh's cancel only flags its own copy of each task; the forked workers
        # would wait on the job queue forever, holding the inherited index lock.
        try:
            for task in self.tasks:
                if task.is_alive():
                    task.terminate()
                    task.join(5)
        finally:
            writing.SegmentWriter.cancel(self)

    multiproc.MpWriter.cancel = mp_cancel

    cls = whoosh3.W3PerDocReader
    original = cls._cached_reader

    def cached_reader(self: Any, fieldname: str, column: Any) -> Any:
        try:
            return self._readers[fieldname]
        except KeyError:
            reader = self._readers[fieldname] = original(self, fieldname, column)
            return reader

    cls._cached_reader = cached_reader
    cls._clipsearch_patched = True


_patch_whoosh()


_VALUE_SEP = "\x1f"  # between facet values of one clip: never inside a topic


class _FacetValues(fields.KEYWORD):
    """Several exact values per clip, case kept, separated by _VALUE_SEP (so a topic
    may contain commas and spaces)."""

    def __init__(self) -> None:
        super().__init__(lowercase=False, scorable=False)
        self.analyzer = RegexTokenizer(r"[^\x1f]+")


def _schema() -> fields.Schema:
    ana = text_analyzer()
    return fields.Schema(
        id=fields.ID(stored=True, unique=True, sortable=True),
        path=fields.ID(stored=True, sortable=True),
        stat=fields.COLUMN(columns.VarBytesColumn()),
        title=fields.TEXT(analyzer=ana, stored=True),
        excerpt=fields.TEXT(analyzer=ana, stored=True),
        body=fields.TEXT(analyzer=ana, stored=True),
        related=fields.TEXT(analyzer=ana, stored=True),
        topic=_FacetValues(),
        topics=fields.STORED(),
        provider=fields.ID(stored=True),
        domain=fields.ID(stored=True),
        url=fields.ID(stored=True),
        category=fields.STORED(),
        published=fields.DATETIME(stored=True, sortable=True),
        quality=fields.NUMERIC(int, bits=64, stored=True, sortable=True),
        heat=fields.STORED(),
    )


def _document(clip: Clip, stat: str) -> dict[str, Any]:
    related = clip.related_text
    doc: dict[str, Any] = {
        "id": clip.id,
        "path": clip.path,
        "stat": stat.encode("utf-8"),
        "title": clip.title,
        "excerpt": clip.excerpt,
        "body": clip.body,
        "related": related,
        "topic": _VALUE_SEP.join(clip.topics),
        "topics": list(clip.topics),
        "category": clip.category,
        "heat": clip.heat,
    }
    for name, value in (
        ("provider", clip.provider),
        ("domain", clip.provider_domain),
        ("url", clip.url),
    ):
        if value:  # an empty value would become a facet value "" and match url:""
            doc[name] = value
    if clip.published is not None:
        doc["published"] = clip.published
    if clip.quality is not None:
        doc["quality"] = clip.quality
    return doc


# --------------------------------------------------------------------------- storage


def check(path: str) -> None:
    """Raise unless `path` holds an index this version can read and write."""
    _open(path)


def exists(path: str) -> bool:
    """True when `path` holds a clipsearch index (of any version)."""
    return os.path.exists(os.path.join(path, META_FILE))


def create(path: str) -> None:
    """Create an empty index at `path`, replacing any index already there."""
    if (
        os.path.isdir(path)
        and os.listdir(path)
        and not exists(path)
        and not index.exists_in(path, INDEX_NAME)
    ):
        raise IndexIncompatibleError(
            f"{path}: the folder is not empty and holds no clipsearch index; "
            "refusing to overwrite it (choose another --index folder)"
        )
    try:
        if os.path.isdir(path):
            shutil.rmtree(path)
        os.makedirs(path, exist_ok=True)
        index.create_in(path, _schema(), indexname=INDEX_NAME)
        tmp = os.path.join(path, META_FILE + ".tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump({"schema_version": SCHEMA_VERSION, "engine": "whoosh-2.7"}, fh)
        os.replace(tmp, os.path.join(path, META_FILE))
    except OSError as exc:
        raise IndexIncompatibleError(
            f"{path}: cannot create an index there ({exc.strerror or exc})"
        ) from None


def _rebuild_hint(path: str) -> str:
    return f"rebuild it with `clipsearch index --rebuild --index {path} PATH...`"


def _damaged(path: str, exc: BaseException) -> IndexIncompatibleError:
    detail = f"{type(exc).__name__}: {exc}".splitlines()[0][:120]
    return IndexIncompatibleError(f"{path}: the index is damaged ({detail}); {_rebuild_hint(path)}")


def _guarded(method: Any) -> Any:
    """Turn whatever Whoosh raises on missing or truncated index files into one
    IndexIncompatibleError that says how to rebuild."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except (ClipsearchError, KeyboardInterrupt):
            raise
        except Exception as exc:
            raise _damaged(self.path, exc) from None

    return wrapper


def _open(path: str, check_segments: bool = True) -> Any:
    rebuild = _rebuild_hint(path)
    if not exists(path):
        raise IndexMissingError(
            f"{path}: no clipsearch index here; build one with `clipsearch index PATH...`"
        )
    try:
        with open(os.path.join(path, META_FILE), encoding="utf-8") as fh:
            version = json.load(fh).get("schema_version")
    except (OSError, ValueError, AttributeError):
        raise IndexIncompatibleError(f"{path}: {META_FILE} is unreadable; {rebuild}") from None
    if version != SCHEMA_VERSION:
        raise IndexIncompatibleError(
            f"{path}: index schema version {version!r}, this clipsearch needs {SCHEMA_VERSION}; "
            + rebuild
        )
    try:
        ix = index.open_dir(path, indexname=INDEX_NAME)
        if check_segments:  # opening a reader opens every segment: missing files show now
            ix.reader().close()
        return ix
    except Exception as exc:  # Whoosh raises many kinds for a damaged folder
        raise _damaged(path, exc) from None


# --------------------------------------------------------------------------- writing


@dataclass(frozen=True, slots=True)
class IndexedFile:
    """What the index remembers of one clip file, to skip it when unchanged."""

    path: str
    stat: str
    id: str


class Writer:
    """A write session holding the index's lock from the first look to the commit, so
    the work decided from `files()` is still right when it is written.

    `begin(bulk=True)` uses Whoosh's multi-process writer with one segment per process
    (2.6x faster here than one process); small updates use one process and Whoosh's
    merge policy, so incremental runs do not pile up segments."""

    def __init__(self, path: str, lock_timeout: float = 30.0):
        self._ix = _open(path, check_segments=False)  # a rebuild never reads old segments
        self.path = path
        self._lock = self._ix.lock("WRITELOCK")
        if not try_for(self._lock.acquire, max(lock_timeout, 0.0), delay=0.1):
            raise IndexLockedError(
                f"{path}: another clipsearch process is writing this index "
                f"(waited {lock_timeout:g} s; raise --lock-timeout or try again later)"
            )
        self._w: Any = None
        self._done = False
        self._new_words: Counter[str] = Counter()
        self._vocab: dict[str, int] | None = None
        try:
            self._vocab = _read_vocabulary(path, self._ix.latest_generation())
        except BaseException:
            self._release()
            raise

    @_guarded
    def files(self) -> dict[str, IndexedFile]:
        """Every indexed clip file, from the index's columns (no stored fields read)."""
        with self._ix.reader() as reader:
            return {f.path: f for f in _indexed_files(reader)}

    def begin(self, bulk: bool = False, procs: int = 0) -> None:
        procs = procs or min(os.cpu_count() or 1, 4)
        kwargs: dict[str, Any] = {"limitmb": 256, "_lk": False}
        if bulk and procs > 1:
            # Sub-writers get their own arguments: they never lock (the parent does).
            kwargs.update(procs=procs, multisegment=True, batchsize=256, subargs={"limitmb": 256})
        self._w = self._ix.writer(**kwargs)

    def _writer(self) -> Any:
        if self._w is None:
            self.begin()
        return self._w

    @_guarded
    def add(self, clip: Clip, stat: str, replace: bool = True) -> None:
        """Index a clip; `replace` first deletes any older copy with its id (not needed
        in a rebuild, whose commit drops every older segment without reading them)."""
        doc = _document(clip, stat)
        if replace:
            self._writer().update_document(**doc)
        else:
            self._writer().add_document(**doc)
        self._new_words.update(surface_words(clip))

    @_guarded
    def delete_path(self, path: str) -> None:
        self._writer().delete_by_term("path", path)

    def commit(self, replace_all: bool = False) -> None:
        """Make the changes visible atomically; `replace_all` drops every older document."""
        try:
            if replace_all:
                self._writer().commit(mergetype=writing.CLEAR)
            elif self._w is not None:
                self._w.commit()
            vocab = {} if replace_all else self._vocab
            if vocab is None:  # stale or missing: an earlier run died after its commit
                vocab = self._vocabulary_from_stored_fields()
            for word, n in self._new_words.items():
                vocab[word] = vocab.get(word, 0) + n
            _write_vocabulary(self.path, self._ix.latest_generation(), vocab)
        finally:
            self._release()

    def _vocabulary_from_stored_fields(self) -> dict[str, int]:
        counts: Counter[str] = Counter()
        with self._ix.reader() as reader:
            for _docnum, stored in reader.iter_docs():
                text = "\n".join(stored.get(f) or "" for f in TEXT_FIELDS).lower()
                counts.update(set(_WORD_RE.findall(text)))
        return dict(counts)

    def cancel(self) -> None:
        try:
            if self._w is not None and not self._done:
                self._w.cancel()
        finally:
            self._release()

    def _release(self) -> None:
        if not self._done:
            self._done = True
            self._lock.release()

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.cancel()


VOCAB_FILE = "vocabulary.json"


def _read_vocabulary(path: str, generation: int | None) -> dict[str, int] | None:
    """The surface vocabulary saved with commit `generation`; None when missing or from
    another commit.  It is a superset: words of deleted clips stay until a rebuild,
    and the query layer checks a correction against the live index before using it."""
    try:
        with open(os.path.join(path, VOCAB_FILE), encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return None
    if generation is not None and data.get("generation") != generation:
        return None
    words = data.get("words")
    return words if isinstance(words, dict) else None


def _write_vocabulary(path: str, generation: int, words: dict[str, int]) -> None:
    tmp = os.path.join(path, VOCAB_FILE + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump({"generation": generation, "words": words}, fh, separators=(",", ":"))
    os.replace(tmp, os.path.join(path, VOCAB_FILE))


def _leaves(reader: Any) -> list[tuple[Any, int]]:
    """(segment reader, first docnum) of each non-empty segment.  Columns are read per
    segment: Whoosh's multi-segment column reader skips segments without values, and
    an index with no segments has no column readers at all."""
    return [(leaf, offset) for leaf, offset in reader.leaf_readers() if leaf.doc_count_all()]


def _indexed_files(reader: Any) -> Iterator[IndexedFile]:
    for leaf, _offset in _leaves(reader):
        paths = leaf.column_reader("path")
        stats = leaf.column_reader("stat")
        ids = leaf.column_reader("id")
        for docnum in leaf.all_doc_ids():
            yield IndexedFile(paths[docnum], stats[docnum].decode("utf-8"), ids[docnum])


def duplicate_losers(path: str) -> list[tuple[str, str, str]]:
    """(id, losing path, winning path) for every id held by more than one file:
    the file that sorts last wins.  Used after a build and to heal an interrupted one."""
    ix = _open(path)
    with ix.reader() as reader:
        by_id: dict[str, list[str]] = {}
        for f in _indexed_files(reader):
            by_id.setdefault(f.id, []).append(f.path)
    out = []
    for clip_id, paths in by_id.items():
        if len(paths) > 1:
            paths.sort()
            out.extend((clip_id, loser, paths[-1]) for loser in paths[:-1])
    return out


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True, slots=True)
class FacetColumn:
    """Per-document facet values for one field: `values[k]` is a display value and
    `docs[docnum]` the tuple of value numbers of that document.  Case variants of a
    value share one number; the most frequent spelling is displayed."""

    values: tuple[str, ...]
    docs: tuple[tuple[int, ...], ...]
    postings: tuple[frozenset[int], ...]


@dataclass(frozen=True, slots=True)
class Compiled:
    """An engine query, opaque to the query layer."""

    q: Any


class Snapshot:
    """One commit of the index, opened for searching.  Cheap to query many times;
    per-document arrays are built lazily once and reused."""

    @_guarded
    def __init__(self, path: str, k1: float = 1.2, b: float = 0.75):
        self.path = path
        self._ix = _open(path)
        self._k1, self._b = k1, b
        self._searcher = self._ix.searcher()
        self._reader = self._searcher.reader()
        self._facets: dict[str, FacetColumn] = {}
        self._published: list[int | None] | None = None
        self._by_time: tuple[list[int], list[int]] | None = None
        self._quality: list[int | None] | None = None
        self._term_cache: dict[tuple[str, str], dict[int, float]] = {}
        self._cache_size = 0
        self._field_lengths: dict[str, list[int] | None] = {}
        self._live: set[int] | None = None
        self._words: dict[str, int] | None = None
        self._analyzer = self._ix.schema["title"].analyzer
        self._parser = qparser.QueryParser(None, self._ix.schema, group=qparser.OrGroup)
        for plugin in (
            qparser.RangePlugin,
            qparser.EveryPlugin,
            qparser.BoostPlugin,
            qparser.WildcardPlugin,
        ):
            self._parser.remove_plugin_class(plugin)
        self._parser.add_plugin(_StarWildcards())

    # -- bookkeeping
    def close(self) -> None:
        self._searcher.close()

    @property
    def doc_count(self) -> int:
        return self._reader.doc_count()

    def is_current(self) -> bool:
        return self._searcher.up_to_date()

    def last_modified(self) -> float:
        return self._ix.last_modified()

    def size_bytes(self) -> int:
        return sum(
            os.path.getsize(os.path.join(self.path, n))
            for n in os.listdir(self.path)
            if os.path.isfile(os.path.join(self.path, n))
        )

    def live_docs(self) -> set[int]:
        if self._live is None:
            self._live = set(self._reader.all_doc_ids())
        return self._live

    # -- per-document arrays
    def facet(self, field: str) -> FacetColumn:
        """Facet values per document, read once from the postings of `field`."""
        col = self._facets.get(field)
        if col is None:
            col = self._facets[field] = self._build_facet(field)
        return col

    @_guarded
    def _build_facet(self, field: str) -> FacetColumn:
        reader = self._reader
        key_of: dict[str, int] = {}
        spellings: list[dict[str, int]] = []
        postings: list[set[int]] = []
        for raw in reader.lexicon(field):
            term = raw.decode("utf-8")
            ids = list(reader.postings(field, raw).all_ids())
            k = key_of.setdefault(term.casefold(), len(spellings))
            if k == len(spellings):
                spellings.append({})
                postings.append(set())
            spellings[k][term] = spellings[k].get(term, 0) + len(ids)
            postings[k].update(ids)
        per_doc: list[list[int]] = [[] for _ in range(reader.doc_count_all())]
        for k, ids in enumerate(postings):
            for d in ids:
                per_doc[d].append(k)
        values = tuple(max(s.items(), key=lambda kv: (kv[1], kv[0]))[0] for s in spellings)
        return FacetColumn(
            values, tuple(map(tuple, per_doc)), tuple(frozenset(p) for p in postings)
        )

    def docs_between(self, since: datetime | None, until: datetime | None) -> set[int]:
        """Documents published in [since, until] (naive UTC); undated ones never match."""
        if self._by_time is None:
            pairs = sorted((t, d) for d, t in enumerate(self.published()) if t is not None)
            self._by_time = ([t for t, _ in pairs], [d for _, d in pairs])
        times, docs = self._by_time
        lo = 0 if since is None else bisect_left(times, datetime_to_long(since))
        hi = len(times) if until is None else bisect_right(times, datetime_to_long(until))
        return set(docs[lo:hi])

    def published(self) -> list[int | None]:
        """Publication time per document as a sortable integer (None when unknown)."""
        if self._published is None:
            self._published = self._column("published")
        return self._published

    def quality(self) -> list[int | None]:
        """Quality per document as a sortable integer (None when unknown)."""
        if self._quality is None:
            self._quality = self._column("quality")
        return self._quality

    @_guarded
    def _column(self, field: str) -> list[int | None]:
        default = self._ix.schema[field].column_type.default_value()
        out: list[int | None] = []
        # Per segment: Whoosh's MultiColumnReader iterates nothing when a segment has
        # no values for the column.
        for leaf, _offset in _leaves(self._reader):
            out.extend(
                None if v == default else v for v in leaf.column_reader(field, translate=False)
            )
        return out

    def words(self) -> dict[str, int]:
        """Surface vocabulary with (approximate) document frequencies: what typo
        tolerance corrects to.  Saved beside the index at each commit."""
        if self._words is None:
            self._words = _read_vocabulary(self.path, None) or {}
        return self._words

    def term_df(self, word: str) -> int:
        """Documents whose searchable text contains `word` (after analysis), at most:
        the largest per-field frequency."""
        best = 0
        deletions = self._reader.has_deletions()
        for token in self.analyze(word):
            for f in TEXT_FIELDS:
                if deletions:  # Whoosh's frequencies count deleted clips until a merge
                    n = len(self._term(f, token).keys() & self.live_docs())
                else:
                    n = self._reader.doc_frequency(f, token)
                best = max(best, n)
        return best

    def analyze(self, text: str) -> list[str]:
        return [t.text for t in self._analyzer(text)]

    # -- queries
    def parse(self, text: str) -> ParsedQuery:
        """Parse user query syntax; plain words stay correctable, everything else is kept."""
        try:
            q = _protect_quoted(self._parser.parse(text, normalize=False)).normalize()
        except Exception:  # Whoosh's parser fails in many ways; none says much to a user
            raise QueryError(
                f"cannot parse query {text!r}: check quotes, parentheses, AND/OR/NOT, and "
                f"field names ({', '.join((*TEXT_FIELDS, *FACET_FIELDS, *_EXACT_FIELDS))})"
            ) from None
        return ParsedQuery(q, self)

    def match(self, compiled: Compiled) -> set[int]:
        """Every matching live document number, without scoring."""
        docs = self._docs(compiled.q)
        if self._reader.has_deletions():
            docs = docs & self.live_docs()
        return docs

    def scores(self, compiled: Compiled) -> dict[int, float]:
        """Every matching live document with its BM25F score.

        Scoring runs here, over whole posting lists read into dicts, instead of
        through Whoosh's matchers: those step through documents one Python call per
        posting per field, which made a query with facet counts 2-5x slower.  The
        formula is Whoosh's BM25F (per-field BM25 on boosted term frequencies, summed)."""
        out = self._score(compiled.q)
        if self._reader.has_deletions():
            live = self.live_docs()
            out = {d: v for d, v in out.items() if d in live}
        return out

    def top(
        self,
        scores: dict[int, float],
        n: int,
        allow: set[int] | None = None,
        sort: str = "relevance",
    ) -> list[tuple[int, float]]:
        """The best `n` of the scored documents (docnum, score), optionally restricted;
        by score, or by date or quality (newest/highest first, score breaking ties)."""
        if n <= 0:
            return []
        docs: Iterable[int] = scores if allow is None else (d for d in allow if d in scores)
        if sort == "relevance":
            key = lambda d: (scores[d], -d)  # noqa: E731
        else:
            col = self.published() if sort == "date" else self.quality()
            key = lambda d: (col[d] is not None, col[d] or 0, scores[d], -d)  # noqa: E731
        return [(d, scores[d]) for d in heapq.nlargest(n, docs, key=key)]

    # -- set algebra and scoring over the query tree
    def _docs(self, q: Any) -> set[int]:
        if isinstance(q, query.Term):
            return set(self._term(q.fieldname, q.text))
        if isinstance(q, query.Or | query.DisjunctionMax | _Word):
            out: set[int] = set()
            for child in q.subqueries:
                if isinstance(child, query.Term):
                    out.update(self._term(child.fieldname, child.text))
                else:
                    out |= self._docs(child)
            return out
        if isinstance(q, query.And):
            positives = [c for c in q.subqueries if not isinstance(c, query.Not)]
            negatives = [c.query for c in q.subqueries if isinstance(c, query.Not)]
            sets = sorted((self._docs(c) for c in positives), key=len)
            out = sets[0] if sets else set(self.live_docs())
            for other in sets[1:]:
                out = out & other
            for neg in negatives:
                out = out - self._docs(neg)
            return out
        if isinstance(q, query.AndNot):
            return self._docs(q.a) - self._docs(q.b)
        if isinstance(q, query.AndMaybe):
            return self._docs(q.a)
        if isinstance(q, query.Require):
            return self._docs(q.a) & self._docs(q.b)
        if isinstance(q, query.Not):
            return self.live_docs() - self._docs(q.query)
        if q is query.NullQuery:
            return set()
        return self._whoosh_docs(q)

    def _score(self, q: Any) -> dict[int, float]:
        if isinstance(q, query.Term):
            return self._term_scores(q.fieldname, q.text, q.boost)
        if isinstance(q, _Word):
            return self._bm25f(q)
        if isinstance(q, query.DisjunctionMax):
            best: dict[int, float] = {}
            for child in q.subqueries:
                for d, v in self._score(child).items():
                    if v > best.get(d, 0.0):
                        best[d] = v
            return _boosted(best, q.boost)
        if isinstance(q, query.Or):
            out: dict[int, float] = {}
            for child in q.subqueries:
                part = self._score(child)
                if not out:
                    out = dict(part)
                    continue
                get = out.get
                for d, v in part.items():
                    out[d] = get(d, 0.0) + v
            return _boosted(out, q.boost)
        if isinstance(q, query.And):
            keep = self._docs(q)
            out = {}
            for child in q.subqueries:
                if isinstance(child, query.Not):
                    continue
                for d, v in self._score(child).items():
                    if d in keep:
                        out[d] = out.get(d, 0.0) + v
            return _boosted(out, q.boost)
        if isinstance(q, query.AndNot):
            drop = self._docs(q.b)
            return {d: v for d, v in self._score(q.a).items() if d not in drop}
        if isinstance(q, query.AndMaybe):
            out = dict(self._score(q.a))
            for d, v in self._score(q.b).items():
                if d in out:
                    out[d] += v
            return out
        if isinstance(q, query.Require):
            keep = self._docs(q.b)
            return {d: v for d, v in self._score(q.a).items() if d in keep}
        if isinstance(q, query.Phrase):
            keep = self._whoosh_docs(q)
            out = {}
            for word in q.words:
                for d, v in self._term_scores(q.fieldname, word, q.boost).items():
                    if d in keep:
                        out[d] = out.get(d, 0.0) + v
            return out
        if q is query.NullQuery:
            return {}
        return dict.fromkeys(self._docs(q), q.boost)

    @_guarded
    def _whoosh_docs(self, q: Any) -> set[int]:
        try:
            return set(self._searcher.docs_for_query(q))
        except query.QueryError as exc:
            raise QueryError(str(exc)) from None

    @_guarded
    def _term(self, field: str, text: str) -> dict[int, float]:
        key = (field, text)
        hit = self._term_cache.get(key)
        if hit is None:
            hit = _postings(self._reader, field, text) if field in self._ix.schema else {}
            self._cache_size += len(hit)
            while self._cache_size > TERM_CACHE_POSTINGS and self._term_cache:
                self._cache_size -= len(self._term_cache.pop(next(iter(self._term_cache))))
            self._term_cache[key] = hit
        return hit

    def _term_scores(self, field: str, text: str, boost: float = 1.0) -> dict[int, float]:
        postings = self._term(field, text)
        if not postings:
            return {}
        lengths = self._lengths(field)
        if lengths is None:  # unscored field (topic, provider, id...): a constant score
            return dict.fromkeys(postings, boost)
        n = self._reader.doc_count_all()
        df = len(postings)
        idf = math.log(1.0 + (n - df + 0.5) / (df + 0.5))
        avg = self._avg_length(field)
        k1, b = self._k1, self._b
        w = boost * idf * (k1 + 1)
        kb0, kb1 = k1 * (1 - b), k1 * b / avg
        return {d: w * tf / (tf + kb0 + kb1 * lengths[d]) for d, tf in postings.items()}

    def _bm25f(self, q: _Word) -> dict[int, float]:
        k1, b = self._k1, self._b
        tf: dict[int, float] = {}
        for term in q.subqueries:
            postings = self._term(term.fieldname, term.text)
            if not postings:
                continue
            lengths = self._lengths(term.fieldname)
            avg = self._avg_length(term.fieldname)
            w, c0, c1 = term.boost, 1 - b, b / avg
            get = tf.get
            for d, f in postings.items():
                tf[d] = get(d, 0.0) + w * f / (c0 + c1 * lengths[d])
        if not tf:
            return {}
        n = self._reader.doc_count_all()
        idf = math.log(1.0 + (n - len(tf) + 0.5) / (len(tf) + 0.5))
        scale = q.boost * idf * (k1 + 1)
        return {d: scale * t / (t + k1) for d, t in tf.items()}

    def _avg_length(self, field: str) -> float:
        return (self._reader.field_length(field) / (self._reader.doc_count() or 1)) or 1.0

    @_guarded
    def _lengths(self, field: str) -> list[int] | None:
        """Per-document length of `field` (Whoosh's one-byte approximation), read once."""
        if field in self._field_lengths:
            return self._field_lengths[field]
        if not self._ix.schema[field].scorable:
            self._field_lengths[field] = None
            return None
        out: list[int] = []
        for leaf, _offset in _leaves(self._reader):
            out.extend(leaf.doc_field_length(d, field, 0) for d in range(leaf.doc_count_all()))
        self._field_lengths[field] = out
        return out

    @_guarded
    def stored(self, docnum: int) -> dict[str, Any]:
        return self._reader.stored_fields(docnum)

    @_guarded
    def docnum_of(self, clip_id: str) -> int | None:
        return self._searcher.document_number(id=clip_id)

    def query_terms(self, compiled: Compiled) -> frozenset[str]:
        """The analysed words a query searches in text fields (what snippets mark)."""
        return frozenset(t for f, t in compiled.q.iter_all_terms() if f in TEXT_FIELDS)

    def analyze_word(self, word: str) -> str | None:
        """One lowercase word as the index analyses it (None for a stop word); cached."""
        if word in STOP_WORDS:
            return None
        return _stem(word)


def _postings(reader: Any, field: str, text: str) -> dict[int, float]:
    """docnum -> weight (term frequency times field boost) of one term, deleted
    documents included, read a whole block at a time instead of a call per posting."""
    out: dict[int, float] = {}
    for leaf, offset in _leaves(reader):
        if (field, text) not in leaf:
            continue
        m = leaf.postings(field, text)
        if isinstance(m, whoosh3.W3LeafMatcher):
            while not m._atend:
                if m._ids is None:
                    m._read_ids()
                if m._weights is None:
                    m._read_weights()
                ids, weights = m._ids, m._weights
                if offset:
                    ids = [i + offset for i in ids]
                out.update(zip(ids, weights, strict=True))
                if m._lastblock:
                    break
                m._goto(m._nextoffset)
        else:
            while m.is_active():
                out[m.id() + offset] = m.weight()
                m.next()
    return out


def _boosted(scores: dict[int, float], boost: float) -> dict[int, float]:
    if boost == 1.0:
        return scores
    return {d: v * boost for d, v in scores.items()}


# --------------------------------------------------------------------------- query compilation


_TEXT_SEARCH_FIELDS = tuple(TEXT_FIELDS)
_EXACT_FIELDS = ("id", "path", "domain", "url")


class ParsedQuery:
    """A parsed user query.  `words` are the plain words typo tolerance may correct;
    phrases, `field:value` terms, prefixes and numbers are never among them."""

    def __init__(self, q: Any, snap: Snapshot):
        self._q = q
        self._snap = snap
        self.words: list[str] = []
        self._collect(q)
        self.is_plain = _is_plain(q)

    def _collect(self, q: Any) -> None:
        if _is_word(q):
            word = typed_word(str(q.text))
            if word and word not in self.words:
                self.words.append(word)
        elif not isinstance(q, query.Phrase | query.Not) and q.is_leaf() is False:
            for child in q.children():
                self._collect(child)
        elif isinstance(q, query.Not):
            pass  # never correct a word the user excludes

    def compile(
        self,
        alternatives: Mapping[str, Sequence[tuple[str, float]]] | None = None,
        require_all: bool = False,
    ) -> Compiled:
        """An engine query: each plain word searches every text field, OR'ed with its
        weighted alternatives; `require_all` makes a plain query match all its words."""
        alts = alternatives or {}
        q = self._rewrite(self._q, alts)
        if require_all and self.is_plain and isinstance(q, query.Or):
            q = query.And(q.subqueries)
        return Compiled(q.normalize())

    # -- rewriting
    def _rewrite(self, q: Any, alts: Mapping[str, Sequence[tuple[str, float]]]) -> Any:
        snap = self._snap
        if isinstance(q, _Quoted):
            if q.fieldname is None:
                return _word_query(snap, str(q.text))
            return _field_term(snap, q.fieldname, str(q.text), q.boost)
        if isinstance(q, query.Term):
            if q.fieldname is None:
                word = str(q.text)
                group = [_word_query(snap, word)]
                for alt, weight in alts.get(typed_word(word), ()):
                    group.append(_word_query(snap, alt, weight))
                group = [g for g in group if g is not query.NullQuery]
                if not group:
                    return query.NullQuery
                # A word and its corrections count once: the best of them, not the sum.
                return group[0] if len(group) == 1 else query.DisjunctionMax(group)
            return _field_term(snap, q.fieldname, str(q.text), q.boost)
        if isinstance(q, query.Phrase):
            if q.fieldname is None:  # unfielded words arrive raw: analyse them per field
                return query.Or([_phrase(snap, f, " ".join(q.words)) for f in _TEXT_SEARCH_FIELDS])
            if q.fieldname in TEXT_FIELDS:  # the parser analysed them with the field's analyzer
                return query.Phrase(q.fieldname, q.words, boost=q.boost)
            return _field_term(snap, q.fieldname, " ".join(q.words), q.boost)
        if isinstance(q, query.Prefix | query.Wildcard):
            return _expansion(snap, q)
        if isinstance(q, query.Not):
            return query.Not(self._rewrite(q.query, alts))
        if isinstance(q, query.Or) and any(isinstance(c, query.Not) for c in q.subqueries):
            # "ukraine NOT russia" under OR grouping would match everything without
            # "russia"; users mean ukraine AND NOT russia.
            pos = [self._rewrite(c, alts) for c in q.subqueries if not isinstance(c, query.Not)]
            neg = [self._rewrite(c.query, alts) for c in q.subqueries if isinstance(c, query.Not)]
            if pos:
                return query.AndNot(query.Or(pos), query.Or(neg))
            return query.Not(query.Or(neg))
        if isinstance(q, query.Or):
            return query.Or(
                _count_repeats([self._rewrite(c, alts) for c in q.subqueries]), boost=q.boost
            )
        # ANDNOT, ANDMAYBE, REQUIRE are binary: test them before the compound case
        # (Whoosh makes them CompoundQuery subclasses with a different constructor).
        if isinstance(q, query.AndNot | query.AndMaybe | query.Require | query.Otherwise):
            return q.__class__(self._rewrite(q.a, alts), self._rewrite(q.b, alts))
        if isinstance(q, query.compound.CompoundQuery):
            return q.__class__([self._rewrite(c, alts) for c in q.subqueries], boost=q.boost)
        if q is query.NullQuery or isinstance(q, query.NullQuery.__class__):
            return q
        if isinstance(q, query.Every):
            raise QueryError("`*` alone matches everything: leave the query empty to list clips")
        if isinstance(q, query.NumericRange | query.DateRange | query.TermRange):
            raise QueryError(
                f"ranges on {q.fieldname!r} are not supported in the query; "
                "use --since/--until for dates and --sort quality"
            )
        raise QueryError(f"this part of the query is not supported: {q}")


def _count_repeats(subqueries: list[Any]) -> list[Any]:
    """A word repeated in a query weighs that many times (query term frequency, as in
    Lucene); Whoosh's normalisation would silently drop the repeats."""
    counts: dict[Any, int] = {}
    for q in subqueries:
        counts[q] = counts.get(q, 0) + 1
    return [q if n == 1 else q.with_boost(q.boost * n) for q, n in counts.items()]


class _StarWildcards(qparser.WildcardPlugin):
    """Only `*` is a wildcard: a `?` ends questions people paste ("what is covid?")
    far more often than it stands for one letter."""

    expr = r"(?P<text>[*])"


def typed_word(text: str) -> str:
    """A query word as typo tolerance sees it: lowercase, without the punctuation
    that sticks to words in pasted text ("recogniton," -> "recogniton")."""
    return text.strip(_PUNCTUATION).lower()


_PUNCTUATION = "".join(chr(c) for c in range(0x20, 0x7F) if not chr(c).isalnum()) + "“”‘’«»…"


class _Quoted(query.Term):
    """A single word the user put in quotes: searched as typed, never corrected.
    (Whoosh would normalise the one-word phrase into a plain, correctable term.)"""


def _protect_quoted(q: Any) -> Any:
    if isinstance(q, query.Phrase) and len(q.words) == 1:
        return _Quoted(q.fieldname, q.words[0], boost=q.boost)
    if isinstance(q, query.compound.CompoundQuery):
        q.subqueries = [_protect_quoted(c) for c in q.subqueries]
    elif isinstance(q, query.Not):
        q.query = _protect_quoted(q.query)
    elif isinstance(q, query.AndNot | query.AndMaybe | query.Require | query.Otherwise):
        q.a, q.b = _protect_quoted(q.a), _protect_quoted(q.b)
    return q


def _is_word(q: Any) -> bool:
    return isinstance(q, query.Term) and not isinstance(q, _Quoted) and q.fieldname is None


def _is_plain(q: Any) -> bool:
    if isinstance(q, query.Or):
        return all(_is_word(c) for c in q.subqueries)
    return _is_word(q)


class _Word(query.compound.CompoundQuery):
    """One query word searched in every text field, scored as BM25F: the field-weighted,
    length-normalised term frequencies are added up before saturating, so a word in
    both title and excerpt does not count as two words.  Not an `Or` subclass, so
    Whoosh's normalisation does not flatten it into the surrounding query."""

    JOINT = " | "
    intersect_merge = False
    matcher_type = query.Or.matcher_type

    def _matcher(self, subs: Any, searcher: Any, context: Any) -> Any:
        return query.Or._matcher(self, subs, searcher, context)


def _word_query(snap: Snapshot, word: str, weight: float = 1.0) -> Any:
    tokens = snap.analyze(word)
    if not tokens:
        return query.NullQuery
    if len(tokens) == 1:
        return _Word([query.Term(f, tokens[0], boost=w) for f, w in TEXT_FIELDS.items()], weight)
    return query.Or([query.Phrase(f, tokens, boost=w * weight) for f, w in TEXT_FIELDS.items()])


def _phrase(snap: Snapshot, field: str, text: str) -> Any:
    tokens = snap.analyze(text)
    if not tokens:
        return query.NullQuery
    if len(tokens) == 1:
        return query.Term(field, tokens[0])
    return query.Phrase(field, tokens)


def _field_term(snap: Snapshot, field: str, text: str, boost: float = 1.0) -> Any:
    schema = snap._ix.schema
    if field in FACET_FIELDS:
        want = text.casefold()
        spellings = [v for v in _spellings(snap, field) if v.casefold() == want]
        return query.Or([query.Term(field, v, boost=boost) for v in spellings] or [query.NullQuery])
    if field in TEXT_FIELDS:
        return query.Term(field, text, boost=boost)  # already analysed by the parser
    if field in _EXACT_FIELDS:
        if field == "domain":
            text = text.lower()
        return query.Term(field, text, boost=boost)
    if field in schema.names():
        raise QueryError(
            f"{field}:... cannot be searched; use --since/--until for dates, "
            "--sort quality for quality"
        )
    raise QueryError(
        f"unknown field {field!r} in query; fields: "
        + ", ".join(sorted((*TEXT_FIELDS, *FACET_FIELDS, *_EXACT_FIELDS)))
    )


def _spellings(snap: Snapshot, field: str) -> list[str]:
    return [raw.decode("utf-8") for raw in snap._reader.lexicon(field)]


def _expansion(snap: Snapshot, q: Any) -> Any:
    """A prefix or wildcard as an OR of at most MAX_EXPANSIONS real terms, per text field."""
    fields_ = _TEXT_SEARCH_FIELDS if q.fieldname is None else (q.fieldname,)
    text = str(q.text).lower()
    literal = re.split(r"[*?]", text, maxsplit=1)[0]
    if isinstance(q, query.Wildcard) and len(literal) < 2:
        # "*", "a*b", a stray "*," in pasted text: too broad to expand; search the
        # letters it has as a plain word instead of failing the whole query.
        bare = re.sub(r"[*?]", "", text)
        return _word_query(snap, bare) if bare else query.NullQuery
    parts = (text + "*").split("*") if isinstance(q, query.Prefix) else text.split("*")
    out = []
    for f in fields_:
        if f not in TEXT_FIELDS:
            raise QueryError(f"prefix and wildcard searches work on text fields, not {f!r}")
        n = 0
        for raw in snap._reader.expand_prefix(f, literal):
            term = raw.decode("utf-8")
            if _glob_match(parts, term):
                out.append(query.Term(f, term))
                n += 1
                if n >= MAX_EXPANSIONS:
                    break
    return query.Or(out) if out else query.NullQuery


def _glob_match(parts: list[str], term: str) -> bool:
    """Whether `term` matches the `*`-separated literal `parts` (in linear time: a
    regex with one `.*` per star backtracks exponentially on `a*a*a*a*b`)."""
    first, last = parts[0], parts[-1]
    if len(parts) == 1:
        return term == first
    if not term.startswith(first) or not term.endswith(last) or len(term) < len(first) + len(last):
        return False
    pos, end = len(first), len(term) - len(last)
    for middle in parts[1:-1]:
        found = term.find(middle, pos, end)
        if found < 0:
            return False
        pos = found + len(middle)
    return True
