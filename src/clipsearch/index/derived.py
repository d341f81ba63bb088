"""Derived data written beside each commit, so a search process memory-maps what it
would otherwise rebuild from the index in every process (every facet value's
posting list read through Whoosh, a call per document per field for the lengths
BM25F needs, a Python object per posting):

    derived.bin          per commit: per-document columns (columns.py: facets as CSR,
                         publication time, quality, clip ids, the live documents)
    <segment id>.vpst    per segment, written once: its postings and field lengths
                         as arrays (segment_postings.py)

The Whoosh index stays the source of truth: everything here is rebuilt from it.  It
is written by the writer after its commit, each file atomically (a temporary file
renamed), and checked at open: the commit file names its format, commit generation,
document count and segments, a segment file its format, segment and document count;
anything missing, damaged or of another commit or segment is never used (a search
then reads the index itself), and the next commit writes it again.  Segment files
of segments a merge retired are deleted by Whoosh with the segment (they carry its
name) and, should one be left, by the next write here."""

from __future__ import annotations

import contextlib
import os
import re
from typing import Any

import numpy as np

from clipsearch.index import arrayfile, segment_postings
from clipsearch.index.columns import Carried, Columns
from clipsearch.index.schema import TEXT_FIELDS
from clipsearch.index.storage import leaves

DERIVED_FILE = "derived.bin"
#: 4: each facet's terms and per document its term numbers (what the next commit's
#: columns are carried from).
FORMAT = 4
_SEGMENT_FILE = re.compile(r"^(.+)" + re.escape(segment_postings.SUFFIX) + r"(?:\.tmp)?$")


def segment_list(reader: Any) -> list[list[Any]]:
    """The (segment id, document count) of each non-empty segment of a commit."""
    return [[leaf.segment().segment_id(), leaf.doc_count_all()] for leaf, _ in leaves(reader)]


def write(
    path: str, generation: int, reader: Any, schema: Any, previous: Previous | None = None
) -> Columns:
    """Write the derived data of commit `generation`: each segment's postings file
    that is missing or unusable, then the commit's columns (returned, for the story
    grouping).  `previous`, the commit the write session started from: its columns
    (when its derived data is there and its own) are carried over for the segments
    both commits hold, so a small update reads only its new segments."""
    current = set()
    for leaf, _offset in leaves(reader):
        seg = leaf.segment().segment_id()
        current.add(seg)
        if segment_postings.load(path, seg, leaf.doc_count_all(), TEXT_FIELDS) is None:
            segment_postings.write(path, leaf, TEXT_FIELDS)
    carried = None
    if previous is not None:
        carried = Carried.usable(load(path, *previous), previous[2])
    columns = Columns(path, reader, schema, carried=carried)
    meta = {
        "format": FORMAT,
        "generation": generation,
        "doc_count_all": reader.doc_count_all(),
        "segments": segment_list(reader),
    }
    arrayfile.write(os.path.join(path, DERIVED_FILE), meta, columns.arrays())
    remove_stale(path, current)
    return columns


#: (generation, document count, segment list) of a commit.
Previous = tuple[int, int, list[list[Any]]]


def remove_stale(path: str, current: set[str]) -> None:
    """Delete segment files (and temporary files) of segments not in `current`."""
    for name in os.listdir(path):
        m = _SEGMENT_FILE.match(name)
        if m and (m.group(1) not in current or name.endswith(".tmp")):
            with contextlib.suppress(OSError):
                os.remove(os.path.join(path, name))


def load(path: str, generation: int, doc_count_all: int,
         segments: list[list[Any]] | None = None) -> dict[str, np.ndarray] | None:
    """The columns written for commit `generation` (named arrays, memory-mapped), or
    None when the file is missing, damaged, or describes another commit."""
    got = arrayfile.read(os.path.join(path, DERIVED_FILE))
    if got is None:
        return None
    meta, arrays = got
    if (
        meta.get("format") != FORMAT
        or meta.get("generation") != generation
        or meta.get("doc_count_all") != doc_count_all
        or (segments is not None and meta.get("segments") != segments)
    ):
        return None
    if any(len(arrays.get(k, ())) != doc_count_all for k in ("live", "published", "quality")):
        return None
    return arrays
