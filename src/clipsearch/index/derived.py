"""Derived data written beside each commit, so a search process loads per-document
facet values instead of rebuilding them from the postings (the largest part of a
first query: every value's posting list read through Whoosh).

The Whoosh index stays the source of truth: this file is rebuilt from it whenever it
is missing, damaged or of another commit, and never used then.  It is written by the
writer after its commit, atomically (a temporary file renamed), and names the commit
generation and document count it describes; `marshal` keeps it fast to load and
holds no objects that run code."""

from __future__ import annotations

import marshal
import os
from array import array
from typing import Any

from clipsearch.index.columns import Columns, FacetColumn
from clipsearch.index.schema import FACET_FIELDS

DERIVED_FILE = "derived.bin"
FORMAT = 1


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
    data = {
        "format": FORMAT,
        "generation": generation,
        "doc_count_all": reader.doc_count_all(),
        "facets": facets,
    }
    tmp = os.path.join(path, DERIVED_FILE + ".tmp")
    with open(tmp, "wb") as fh:
        marshal.dump(data, fh)
    os.replace(tmp, os.path.join(path, DERIVED_FILE))


def load(path: str, generation: int, doc_count_all: int) -> dict[str, FacetColumn] | None:
    """The facet columns written for commit `generation`, or None when the file is
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
        out = {}
        for field in FACET_FIELDS:
            values, raw_sizes, raw_docs = data["facets"][field]
            out[field] = _column(values, raw_sizes, raw_docs, doc_count_all)
        return out
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
