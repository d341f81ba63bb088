"""Story data beside each commit: the signature of every clip (kept from run to run,
so a commit recomputes grouping without re-reading files) and, per document of the
commit, its story (the document number of the story's earliest copy) and content
fingerprint.  Derived and rebuildable like derived.py's file: the Whoosh index stays
the source of truth.

    signatures.bin  path -> (stat, minhash, sample, numbers, title numbers,
                    fingerprint, title words, provider), live
                    clips only; hashes as packed uint32 bytes (loading makes no
                    object per hash); a record whose stat is not the indexed one
                    is recomputed from the stored fields
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
import os
from array import array
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from clipsearch.errors import RequestError
from clipsearch.index import signatures as sig
from clipsearch.index.storage import leaves, text_column_values

SIGNATURES_FILE = "signatures.bin"
STORIES_FILE = "stories.bin"
OPTIONS_FILE = "stories.json"
FORMAT = 4
#: signatures.bin's format: 5 packs the sample and title words as uint32 bytes.
SIGNATURES_FORMAT = 5
FINGERPRINT_BYTES = 8
_NONE = bytes(FINGERPRINT_BYTES)
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
        return len(self._raw) // FINGERPRINT_BYTES

    def __getitem__(self, d: int) -> str:  # type: ignore[override]
        if not 0 <= d < len(self):
            raise IndexError(d)
        digest = self._raw[d * FINGERPRINT_BYTES : (d + 1) * FINGERPRINT_BYTES]
        return "" if digest == _NONE else digest.hex()


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
    """The file's value; read whole first (marshal.load from a file reads it value by
    value: five times slower for signatures.bin)."""
    try:
        with open(os.path.join(path, name), "rb") as fh:
            return marshal.loads(fh.read())
    except (OSError, EOFError, ValueError, TypeError):
        return None


def _records(path: str) -> dict[str, tuple]:
    data = _load_marshal(path, SIGNATURES_FILE)
    if not isinstance(data, dict) or data.get("format") != SIGNATURES_FORMAT:
        return {}
    records = data.get("records")
    return records if isinstance(records, dict) else {}


#: Segment id -> its path and stat columns (a value per document), as a writer read
#: them before its commit: a segment's columns never change, so they need not be read
#: again from the commit's reader.
Known = Mapping[str, tuple[Sequence[str], Sequence[str]]]


def _documents(reader: Any, known: Known | None = None) -> list[tuple[str, str] | None]:
    """(path, stat) per document number; None for deleted documents."""
    out: list[tuple[str, str] | None] = [None] * reader.doc_count_all()
    for leaf, offset in leaves(reader):
        got = (known or {}).get(leaf.segment().segment_id())
        if got is not None and len(got[0]) == len(got[1]) == leaf.doc_count_all():
            for d in leaf.all_doc_ids():
                out[offset + d] = (got[0][d], got[1][d])
            continue
        paths, stats = text_column_values(leaf, "path"), text_column_values(leaf, "stat")
        for d in leaf.all_doc_ids():
            out[offset + d] = (paths[d], stats[d])
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


#: One document's inputs to grouping: (clip id, publication time, signature record),
#: None for a deleted document.
Row = tuple[str, int | None, tuple] | None


def rows(
    path: str, reader: Any, columns: Any, fresh: Fresh | None = None, known: Known | None = None
) -> tuple[list[Row], dict[str, tuple]]:
    """Per document number, what grouping needs of it, and the signature records of
    the live clips: from `fresh` (this run's), else signatures.bin, else stored fields.
    A sharded index groups the rows of all its shards at once (shard_stories.py)."""
    fresh = fresh or {}
    old = _records(path)
    docs = _documents(reader, known)
    # Every document's id and time at once (one decode, one list), not a call each.
    published = list(columns.published())
    clip_ids = columns.clip_ids(range(len(docs)))
    records: dict[str, tuple] = {}
    out: list[Row] = [None] * len(docs)
    missing: list[int] = []
    for d, doc in enumerate(docs):
        if doc is None:
            continue
        p, stat = doc
        rec = fresh.get(p)
        if not _valid(rec, stat):
            rec = old.get(p)
        if not _valid(rec, stat):
            missing.append(d)
            continue
        records[p] = rec
        out[d] = (clip_ids[d], published[d], rec)
    for start in range(0, len(missing), _BATCH):  # from the stored fields, in batches
        batch = missing[start : start + _BATCH]
        stored = [reader.stored_fields(d) for d in batch]
        for d, s in zip(batch, sig.signatures([sig.texts_of(f) for f in stored]), strict=True):
            p, stat = docs[d]  # type: ignore[misc]
            rec = records[p] = record(stat, s)
            out[d] = (clip_ids[d], published[d], rec)
    return out, records


#: Clips whose signatures are computed together (one numpy batch of MinHashes).
_BATCH = 512


def group(all_rows: Sequence[Row], days: float) -> list[int]:
    """Per row, the row of its story's earliest copy (grouping.stories): the same
    code for one index and for all the shards of a sharded one."""
    import numpy as np

    from clipsearch.index import grouping

    n = len(all_rows)
    none = bytes(4 * sig.NUM_PERM)
    # One copy of every signature (a row each was 20,000 numpy calls at 20k clips).
    minhash = (
        np.frombuffer(
            b"".join(none if row is None else row[2][1] for row in all_rows), dtype="<u4"
        )
        .astype(np.uint32)
        .reshape(n, sig.NUM_PERM)
    )
    empty: tuple[int, ...] = ()
    samples, numbers, title_numbers = [empty] * n, [empty] * n, [empty] * n
    title_words, providers = [empty] * n, [0] * n
    ids, published = [""] * n, [None] * n
    for d, row in enumerate(all_rows):
        if row is not None:
            ids[d], published[d], rec = row
            samples[d], numbers[d], title_numbers[d] = _unpack(rec[2]), rec[3], rec[4]
            title_words[d], providers[d] = _unpack(rec[6]), rec[7]
    return grouping.stories(
        ids,
        published,
        [row is not None for row in all_rows],
        minhash,
        samples,
        numbers,
        title_numbers,
        title_words,
        providers,
        window_days=days,
    )


def _unpack(packed: bytes) -> array:
    out = array("I")
    out.frombytes(packed)
    return out


def compute(
    path: str,
    reader: Any,
    columns: Any,
    fresh: Fresh | None = None,
    days: float | None = None,
    known: Known | None = None,
) -> tuple[Stories, dict[str, tuple]]:
    """The stories of the commit `reader` reads, and the signature records of its
    live clips."""
    days = window_days(path) if days is None else days
    per_doc, records = rows(path, reader, columns, fresh, known)
    reps = group(per_doc, days)
    prints = b"".join(bytes.fromhex(r[2][5]) if r is not None else _NONE for r in per_doc)
    return Stories(array("I", reps), Fingerprints(prints)), records


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
    stories, records = compute(path, reader, columns, fresh, days, known)
    _atomic_marshal(path, SIGNATURES_FILE, {"format": SIGNATURES_FORMAT, "records": records})
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
