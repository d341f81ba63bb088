"""The on-disk format: Whoosh pickles the schema (with our field classes' import paths)
into every commit, so those paths are part of the format and must keep resolving."""

from __future__ import annotations

import importlib
import pickle
import re
from pathlib import Path

import clipsearch.index as store
from clipsearch import open_index, update_index

SEED = Path(__file__).parent / "fixtures" / "good"


def test_every_class_pickled_in_a_commit_is_importable(tmp_path: Path) -> None:
    update_index([SEED], tmp_path / "ix")
    toc = next((tmp_path / "ix").glob("_clips_*.toc")).read_bytes()
    for name in {"FacetValuesField"}:
        assert name.encode() in toc  # the class is referenced by name in the commit
    schema = store.storage.open_whoosh(str(tmp_path / "ix"))._current_schema()
    for field in schema.names():
        cls = type(schema[field])
        module = importlib.import_module(cls.__module__)
        assert getattr(module, cls.__qualname__) is cls
    with open_index(tmp_path / "ix") as idx:
        assert idx.search("facial recognition").total == 1


def test_the_pre_split_class_path_still_resolves() -> None:
    # Indexes written while the index was one module pickled clipsearch.index._FacetValues.
    assert store._FacetValues is store.schema.FacetValuesField
    assert pickle.loads(pickle.dumps(store.schema.FacetValuesField())).__class__ is (
        store.schema.FacetValuesField
    )


#: What indexes already on users' disks reference by import path (found in their TOC
#: pickles): renaming or moving any of these makes those indexes unreadable.
DEPLOYED_REFERENCES = {
    ("clipsearch.index.schema", "_stem"),  # the analyzer's stem function, to 2026-12
    ("clipsearch.index.schema", "FacetValuesField"),
    ("clipsearch.index", "_FacetValues"),  # before the index became a package
}
_GLOBAL = re.compile(rb"c(clipsearch[\w.]*)\n(\w+)\n")


def _resolve(module: str, name: str) -> object:
    return getattr(importlib.import_module(module), name)


def test_every_name_pickled_in_a_commit_resolves(tmp_path: Path) -> None:
    """Every clipsearch object a fresh commit's pickle names (classes and the stem
    function alike) can be imported by that name."""
    update_index([SEED], tmp_path / "ix")
    toc = next((tmp_path / "ix").glob("_clips_*.toc")).read_bytes()
    names = {(m.decode(), n.decode()) for m, n in _GLOBAL.findall(toc)}
    assert any(n == "FacetValuesField" for _m, n in names), names
    for module, name in names:
        assert callable(_resolve(module, name)), (module, name)


def test_names_pickled_by_deployed_indexes_still_resolve() -> None:
    for module, name in DEPLOYED_REFERENCES:
        assert callable(_resolve(module, name)), (module, name)
    assert _resolve("clipsearch.index.schema", "_stem")("elections") == "elect"
