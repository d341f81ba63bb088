"""Derived data written beside each commit, so a search process loads per-document
facet values and field lengths instead of rebuilding them from the index (the
largest part of a first query: every facet value's posting list read through
Whoosh, and a call per document per field for the lengths BM25F needs).

The Whoosh index stays the source of truth: this file is rebuilt from it whenever it
is missing, damaged or of another commit, and never used then.  It is written by the
writer after its commit, atomically (a temporary file renamed), and names the commit
generation and document count it describes; `marshal` keeps it fast to load and
holds no objects that run code."""

from __future__ import annotations

import marshal
import os
from array import array
from dataclasses import dataclass
from typing import Any

from clipsearch.index.columns import Columns, FacetColumn
from clipsearch.index.postings import Postings
from clipsearch.index.schema import FACET_FIELDS, TEXT_FIELDS

DERIVED_FILE = "derived.bin"
FORMAT = 2


@dataclass(frozen=True, slots=True)
class Derived:
    """What one commit's derived file holds."""

    facets: dict[str, FacetColumn]
    lengths: dict[str, array]


def write(path: str, generation: int, reader: Any, schema: Any) -> None:
    """Build the facet columns of commit `generation` and write them beside it."""
    columns = Columns(path, reader, schema)
    facets = {}
    for field in FACET_FIELDS:
        col = columns.facet(field)
        sizes = array("I", (len(p) for p in col.postings))
        docs = array("I")
        for p in col.postings:
            docs.extend(sorted(p))
        facets[field] = (list(col.values), sizes.tobytes(), docs.tobytes())
    postings = Postings(path, reader, schema)
    # A document without the field has no length (None); it has no postings in the
    # field either, so its length is never read: 0 stands for it.
    lengths = {
        f: array("I", (n or 0 for n in postings.lengths(f) or ())).tobytes()
        for f in TEXT_FIELDS
    }
    data = {
        "format": FORMAT,
        "generation": generation,
        "doc_count_all": reader.doc_count_all(),
        "facets": facets,
        "lengths": lengths,
    }
    tmp = os.path.join(path, DERIVED_FILE + ".tmp")
    with open(tmp, "wb") as fh:
        marshal.dump(data, fh)
    os.replace(tmp, os.path.join(path, DERIVED_FILE))


def load(path: str, generation: int, doc_count_all: int) -> Derived | None:
    """The derived data written for commit `generation`, or None when the file is
    missing, damaged, or describes another commit."""
    try:
        with open(os.path.join(path, DERIVED_FILE), "rb") as fh:
            data = marshal.load(fh)
        if (
            data.get("format") != FORMAT
            or data.get("generation") != generation
            or data.get("doc_count_all") != doc_count_all
        ):
            return None
        facets = {}
        for field in FACET_FIELDS:
            values, raw_sizes, raw_docs = data["facets"][field]
            facets[field] = _column(values, raw_sizes, raw_docs, doc_count_all)
        lengths = {}
        for field in TEXT_FIELDS:
            lengths[field] = array("I")
            lengths[field].frombytes(data["lengths"][field])
            if len(lengths[field]) != doc_count_all:
                return None
        return Derived(facets, lengths)
    except (OSError, EOFError, ValueError, TypeError, KeyError, IndexError):
        return None


def _column(values: list[str], raw_sizes: bytes, raw_docs: bytes, n_docs: int) -> FacetColumn:
    sizes, docs = array("I"), array("I")
    sizes.frombytes(raw_sizes)
    docs.frombytes(raw_docs)
    if len(sizes) != len(values) or sum(sizes) != len(docs):
        raise ValueError("inconsistent derived facet data")
    postings: list[frozenset[int]] = []
    per_doc: list[list[int]] = [[] for _ in range(n_docs)]
    start = 0
    for k, size in enumerate(sizes):
        ids = docs[start : start + size]
        start += size
        postings.append(frozenset(ids))
        for d in ids:
            per_doc[d].append(k)  # IndexError for a document past the count: damaged
    return FacetColumn(tuple(values), tuple(map(tuple, per_doc)), tuple(postings))
