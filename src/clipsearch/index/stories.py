"""Story data beside each commit: the signature of every clip (kept from run to run,
so a commit recomputes grouping without re-reading files) and, per document of the
commit, its story (the document number of the story's earliest copy) and content
fingerprint.  Derived and rebuildable like derived.py's file: the Whoosh index stays
the source of truth.

    signatures.bin  per live clip: path, stat and its signature (minhash, sample,
                    numbers, title numbers, fingerprint, title words, provider), as
                    an array file of columns (arrayfile.py, signature_table.py:
                    opening maps it, with no copy and no object per clip or hash);
                    a clip whose stat is not the indexed one is recomputed from
                    the stored fields
    stories.bin     generation, document count and grouping options it was made
                    for; story and fingerprint per document number
    stories.json    the grouping options of this index (`window_days`), kept when
                    the index is rebuilt

A search loads only stories.bin (a few hundred kilobytes at 155k clips) and never
imports numpy; when it is missing or of another commit, the grouping is computed
from signatures.bin and the stored fields (not written: a search never writes)."""

from __future__ import annotations

import json
import marshal
import mmap
import os
from array import array
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from clipsearch.errors import RequestError
from clipsearch.index import signatures as sig
from clipsearch.index.storage import leaves, text_column_values

if TYPE_CHECKING:
    from clipsearch.index.signature_table import Table

SIGNATURES_FILE = "signatures.bin"
STORIES_FILE = "stories.bin"
OPTIONS_FILE = "stories.json"
FORMAT = 4
#: signatures.bin's format: 7 is an array file (arrayfile.py) of the records'
#: columns and the paths and stats; 6 (the columns marshalled) and 5 (a record tuple
#: per path) are still read, so an index of an earlier release keeps its signatures.
SIGNATURES_FORMAT = 7
_COLUMNS_FORMAT = 6
_RECORDS_FORMAT = 5
#: Default window between copies, in days (grouping.DEFAULT_WINDOW_DAYS, repeated
#: here so a search need not import numpy to know it).
DEFAULT_WINDOW_DAYS = 3.0
MAX_WINDOW_DAYS = 3650.0

#: path -> signature record (`record`): what an index run computed for the clips it added.
Fresh = Mapping[str, tuple]


class Fingerprints(Sequence[str]):
    """Per document number, the hex digest of its indexed content ("" for a deleted
    one), kept as one byte string: loading it costs a copy, not an object per clip."""

    def __init__(self, raw: bytes):
        self._raw = raw

    @property
    def raw(self) -> bytes:
        return self._raw

    def __len__(self) -> int:
        return len(self._raw) // sig.FINGERPRINT_BYTES

    def __getitem__(self, d: int) -> str:  # type: ignore[override]
        if not 0 <= d < len(self):
            raise IndexError(d)
        digest = self._raw[d * sig.FINGERPRINT_BYTES : (d + 1) * sig.FINGERPRINT_BYTES]
        return "" if digest == sig.NO_FINGERPRINT else digest.hex()


@dataclass(frozen=True, slots=True)
class Stories:
    """Per document number: `story[d]`, the document number of the earliest copy of
    d's story, and `fingerprint[d]`, a digest of d's indexed content."""

    story: array
    fingerprint: Fingerprints


def window_days(path: str) -> float:
    """The index's story window (days), DEFAULT_WINDOW_DAYS unless set."""
    try:
        with open(os.path.join(path, OPTIONS_FILE), encoding="utf-8") as fh:
            value = json.load(fh).get("window_days", DEFAULT_WINDOW_DAYS)
        return float(value) if _valid_window(value) else DEFAULT_WINDOW_DAYS
    except (OSError, ValueError, TypeError, AttributeError):
        return DEFAULT_WINDOW_DAYS


def _valid_window(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and 0 <= value <= MAX_WINDOW_DAYS
    )


def check_window(value: Any) -> float:
    """A story window as given by a user, checked (RequestError naming it)."""
    if not _valid_window(value):
        raise RequestError(
            "story_window", value, f"must be a number of days from 0 to {MAX_WINDOW_DAYS:g}"
        )
    return float(value)


def save_window(path: str, days: float) -> None:
    tmp = os.path.join(path, OPTIONS_FILE + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump({"window_days": days}, fh)
    os.replace(tmp, os.path.join(path, OPTIONS_FILE))


def _atomic_marshal(path: str, name: str, data: Any) -> None:
    tmp = os.path.join(path, name + ".tmp")
    with open(tmp, "wb") as fh:
        marshal.dump(data, fh)
    os.replace(tmp, os.path.join(path, name))


def _load_marshal(path: str, name: str) -> Any:
    """The file's value, unmarshalled from a memory map of it: marshal.load from a
    file reads it value by value (five times slower for signatures.bin), and reading
    it whole first is one more copy of 80 MB at 155k clips."""
    try:
        with (
            open(os.path.join(path, name), "rb") as fh,
            mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mapped,
        ):
            return marshal.loads(mapped)
    except (OSError, EOFError, ValueError, TypeError):
        return None


def _signatures(path: str) -> tuple[list[str], list[str], Table]:
    """The paths, stats and signature table signatures.bin keeps (nothing when it is
    missing, damaged or of an unknown format: the stored fields give them again)."""
    from clipsearch.index import arrayfile
    from clipsearch.index.signature_table import Table

    nothing: tuple[list[str], list[str], Table] = ([], [], Table.blank(0))
    got = arrayfile.read(os.path.join(path, SIGNATURES_FILE))
    if got is not None:
        meta, arrays = got
        n = meta.get("rows") if meta.get("format") == SIGNATURES_FORMAT else None
        if type(n) is not int or n < 0:
            return nothing
        try:
            paths, stats = _strings(arrays["paths"], n), _strings(arrays["stats"], n)
        except (KeyError, TypeError, ValueError, AttributeError):
            return nothing
        table = Table.from_arrays(arrays, n)
        if paths is None or stats is None or table is None:
            return nothing
        return paths, stats, table
    data = _load_marshal(path, SIGNATURES_FILE)  # an earlier format
    if not isinstance(data, dict):
        return nothing
    if data.get("format") == _RECORDS_FORMAT:  # a record tuple per path
        records = data.get("records")
        if not isinstance(records, dict):
            return nothing
        kept = [(p, r) for p, r in records.items() if isinstance(p, str) and _sound(r)]
        recs = [r for _, r in kept]
        try:
            return [p for p, _ in kept], [r[0] for r in recs], Table.from_records(recs)
        except (TypeError, ValueError, OverflowError):
            return nothing
    paths, stats = data.get("paths"), data.get("stats")
    if (
        data.get("format") != _COLUMNS_FORMAT
        or not isinstance(paths, list)
        or not isinstance(stats, list)
        or len(paths) != len(stats)
    ):
        return nothing
    table = Table.from_columns(data.get("columns"), len(paths))
    return nothing if table is None else (paths, stats, table)


#: Between the paths (and the stats) in signatures.bin: never part of a path.
_SEP = "\0"


def _joined(strings: Sequence[str]) -> Any:
    """Strings as one array of bytes, _SEP between them (what `_strings` reads)."""
    import numpy as np

    return np.frombuffer(_SEP.join(strings).encode("utf-8", "surrogateescape"), np.uint8)


def _strings(blob: Any, n: int) -> list[str] | None:
    """The `n` strings `_joined` made, or None when there are not `n` of them or the
    array is not of bytes (uint8) as `_joined` writes it."""
    if blob.dtype.kind != "u" or blob.dtype.itemsize != 1 or blob.ndim != 1:
        return None
    if n == 0:
        return [] if len(blob) == 0 else None
    out = blob.tobytes().decode("utf-8", "surrogateescape").split(_SEP)
    return out if len(out) == n else None


#: Segment id -> its path and stat columns (a value per document), as a writer read
#: them before its commit: a segment's columns never change, so they need not be read
#: again from the commit's reader.
Known = Mapping[str, tuple[Sequence[str], Sequence[str]]]


def _documents(reader: Any, known: Known | None = None) -> list[tuple[str, str] | None]:
    """(path, stat) per document number; None for deleted documents."""
    out: list[tuple[str, str] | None] = [None] * reader.doc_count_all()
    for leaf, offset in leaves(reader):
        n = leaf.doc_count_all()
        got = (known or {}).get(leaf.segment().segment_id())
        if got is None or not len(got[0]) == len(got[1]) == n:
            got = (text_column_values(leaf, "path"), text_column_values(leaf, "stat"))
        if not leaf.has_deletions():  # the usual segment: taken whole, in one slice
            out[offset : offset + n] = zip(got[0], got[1], strict=True)
            continue
        for d in leaf.all_doc_ids():
            out[offset + d] = (got[0][d], got[1][d])
    return out


def record(stat: str, s: sig.Signature) -> tuple:
    """What signatures.bin keeps of one clip file (its hashes packed as bytes)."""
    return (
        stat,
        s.minhash,
        array("I", s.sample).tobytes(),
        s.numbers,
        s.title_numbers,
        s.fingerprint,
        array("I", s.title_words).tobytes(),
        s.provider,
    )


def _sound(rec: Any) -> bool:
    """Whether `rec` is a whole signature record, whatever its stat."""
    return isinstance(rec, tuple) and len(rec) == 8 and _valid(rec, rec[0])


def _valid(rec: Any, stat: str) -> bool:
    return (
        isinstance(rec, tuple)
        and len(rec) == 8
        and rec[0] == stat
        and isinstance(rec[1], bytes)
        and len(rec[1]) == 4 * sig.NUM_PERM
        and isinstance(rec[2], bytes)
        and isinstance(rec[6], bytes)
    )


class Rows(NamedTuple):
    """What grouping needs of every document number: clip id, publication time,
    whether it is live, and its signature (a table row; a blank one when deleted).
    A sharded index joins the rows of all its shards and groups them at once
    (shard_stories.py)."""

    ids: list[str]
    published: list[int | None]
    live: list[bool]
    table: Table

    @classmethod
    def empty(cls) -> Rows:
        from clipsearch.index.signature_table import Table

        return cls([], [], [], Table.blank(0))

    @classmethod
    def join(cls, parts: Sequence[Rows]) -> Rows:
        """The rows of every part, in order."""
        from clipsearch.index.signature_table import Table

        return cls(
            [x for p in parts for x in p.ids],
            [x for p in parts for x in p.published],
            [x for p in parts for x in p.live],
            Table.join([p.table for p in parts]),
        )


#: (path, stat) per document number, None for a deleted one.
Documents = list[tuple[str, str] | None]


def rows(
    path: str, reader: Any, columns: Any, fresh: Fresh | None = None, known: Known | None = None
) -> tuple[Rows, Documents]:
    """Per document number, what grouping needs of it, and its path and stat: each
    live clip's signature from `fresh` (this run's), else signatures.bin, else its
    stored fields."""
    import numpy as np

    from clipsearch.index.signature_table import Table

    fresh = fresh or {}
    old_paths, old_stats, old = _signatures(path)
    docs = _documents(reader, known)
    # Every document's id and time at once (one decode, one list), not a call each.
    published = list(columns.published())
    clip_ids = columns.clip_ids(range(len(docs)))
    # Each document's row in old + added + one blank row (-1 until known: deleted).
    take = [-1] * len(docs)
    added: list[tuple] = []
    missing: list[int] = []
    # After an update that only added files, the first documents are the last
    # commit's rows, in order, none of them this run's: those take their rows at once
    # (what the loop below finds for each of them, 153k look-ups).
    head = _unchanged_head(docs, old_paths, old_stats, fresh)
    take[:head] = range(head)
    where: dict[str, int] | None = None
    for d in range(head, len(docs)):
        doc = docs[d]
        if doc is None:
            continue
        p, stat = doc
        rec = fresh.get(p)
        if rec is not None and _valid(rec, stat):  # (most files are not this run's)
            take[d] = len(old) + len(added)
            added.append(rec)  # type: ignore[arg-type]
            continue
        if where is None:
            where = {p: i for i, p in enumerate(old_paths)}
        i = where.get(p)
        if i is not None and old_stats[i] == stat:
            take[d] = i
        else:
            missing.append(d)
    for start in range(0, len(missing), _BATCH):  # from the stored fields, in batches
        batch = missing[start : start + _BATCH]
        stored = [reader.stored_fields(d) for d in batch]
        for d, s in zip(batch, sig.signatures([sig.texts_of(f) for f in stored]), strict=True):
            take[d] = len(old) + len(added)
            added.append(record(docs[d][1], s))  # type: ignore[index]
    source = Table.join([old, Table.from_records(added), Table.blank(1)])
    at = np.asarray(take, dtype=np.int64)
    at[at < 0] = len(source) - 1
    table = source.take(at)  # an update that only adds: a slice of source
    live = [doc is not None for doc in docs]
    ids = [c if alive else "" for c, alive in zip(clip_ids, live, strict=True)]
    times = [t if alive else None for t, alive in zip(published, live, strict=True)]
    return Rows(ids, times, live, table), docs


def _unchanged_head(
    docs: Documents, old_paths: list[str], old_stats: list[str], fresh: Fresh
) -> int:
    """len(old_paths) when the first documents are the old rows, in order (same
    paths, same stats, all live, paths distinct, none signed by this run); else 0."""
    n = len(old_paths)
    if not n or n > len(docs) or len(old_stats) != n or None in docs[:n]:
        return 0
    paths = set(old_paths)
    if len(paths) != n or not paths.isdisjoint(fresh):
        return 0
    return n if docs[:n] == list(zip(old_paths, old_stats, strict=True)) else 0


#: Clips whose signatures are computed together (one numpy batch of MinHashes).
_BATCH = 512


def group(all_rows: Rows, days: float) -> list[int]:
    """Per row, the row of its story's earliest copy (grouping.stories): the same
    code for one index and for all the shards of a sharded one."""
    from clipsearch.index import grouping

    t = all_rows.table
    return grouping.stories(
        all_rows.ids,
        all_rows.published,
        all_rows.live,
        t.minhash,
        t.sample,
        t.numbers,
        t.title_numbers,
        t.title_words,
        t.provider,
        window_days=days,
    )


def compute(
    path: str,
    reader: Any,
    columns: Any,
    fresh: Fresh | None = None,
    days: float | None = None,
    known: Known | None = None,
) -> tuple[Stories, Rows, Documents]:
    """The stories of the commit `reader` reads, its grouping rows and each
    document's path and stat."""
    days = window_days(path) if days is None else days
    got, docs = rows(path, reader, columns, fresh, known)
    reps = group(got, days)
    return Stories(array("I", reps), Fingerprints(got.table.fingerprint)), got, docs


def write(
    path: str,
    generation: int,
    reader: Any,
    columns: Any,
    fresh: Fresh | None,
    days: float,
    known: Known | None = None,
) -> None:
    """Compute the commit's stories and write both files beside it."""
    from clipsearch.index import arrayfile

    stories, got, docs = compute(path, reader, columns, fresh, days, known)
    live = [d for d, doc in enumerate(docs) if doc is not None]
    # An array file: written from the arrays as they are and read back as views of
    # a memory map (the marshalled format copied 80 MB each way at 155k clips).
    arrayfile.write(
        os.path.join(path, SIGNATURES_FILE),
        {"format": SIGNATURES_FORMAT, "rows": len(live)},
        {
            **got.table.take(live).arrays(),
            "paths": _joined([docs[d][0] for d in live]),  # type: ignore[index]
            "stats": _joined([docs[d][1] for d in live]),  # type: ignore[index]
        },
    )
    _atomic_marshal(
        path,
        STORIES_FILE,
        {
            "format": FORMAT,
            "generation": generation,
            "doc_count_all": reader.doc_count_all(),
            "window_days": days,
            "story": stories.story.tobytes(),
            "fingerprint": stories.fingerprint.raw,
        },
    )


def load(path: str, generation: int, doc_count_all: int) -> Stories | None:
    """The stories written for commit `generation`, or None when missing, damaged, of
    another commit or made with another window than the index's."""
    data = _load_marshal(path, STORIES_FILE)
    try:
        if (
            not isinstance(data, dict)
            or data.get("format") != FORMAT
            or data.get("generation") != generation
            or data.get("doc_count_all") != doc_count_all
            or data.get("window_days") != window_days(path)
        ):
            return None
        story = array("I")
        story.frombytes(data["story"])
        prints = Fingerprints(data["fingerprint"])
        if len(story) != doc_count_all or len(prints) != doc_count_all:
            return None
        if story and _largest(story) >= doc_count_all:
            return None
        return Stories(story, prints)
    except (KeyError, ValueError, TypeError):
        return None


def _largest(values: array) -> int:
    """The largest of `values`, in numpy: a Python `max` over 155k clips cost 3 ms of
    every search process's start."""
    import numpy as np

    return int(np.frombuffer(values, dtype=f"u{values.itemsize}").max())


def current(path: str, generation: int, doc_count_all: int, window: float) -> bool:
    """Whether stories.bin describes this commit with this window (nothing to redo)."""
    data = _load_marshal(path, STORIES_FILE)
    return (
        isinstance(data, dict)
        and data.get("format") == FORMAT
        and data.get("generation") == generation
        and data.get("doc_count_all") == doc_count_all
        and data.get("window_days") == window
    )
