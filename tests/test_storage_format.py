"""The on-disk format: Whoosh pickles the schema (with our field classes' import paths)
into every commit, so those paths are part of the format and must keep resolving."""

from __future__ import annotations

import importlib
import pickle
import re
import shutil
from datetime import datetime
from pathlib import Path

import whoosh.index

import clipsearch.index as store
import clipsearch.index.schema as schema_module
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


def test_dates_and_quality_are_indexed_as_one_term_a_value(corpus) -> None:
    """A term per distinct value, not one per precision tier (Whoosh's DATETIME makes
    8 of each date): the tiers served range queries, which clipsearch refuses."""
    ix = whoosh.index.open_dir(str(corpus.index), indexname=schema_module.INDEX_NAME)
    with ix.reader() as reader:
        dates = {s.published for s in corpus.specs if s.published is not None}
        qualities = {s.quality_int for s in corpus.specs if s.quality_int is not None}
        assert len(dates) > 10 and len(qualities) > 10
        assert len(list(reader.lexicon("published"))) == len(dates)
        assert len(list(reader.lexicon("quality"))) == len(qualities)


def test_an_index_with_precision_tiers_searches_and_updates_alike(
    corpus, tmp_path: Path, monkeypatch
) -> None:
    """Indexes created before `one_term` keep their schema's tiers: date filters,
    the date and quality sorts and an update give what a new index gives."""
    clips = tmp_path / "clips"
    shutil.copytree(corpus.root, clips)
    with monkeypatch.context() as m:
        m.setattr(schema_module, "one_term", lambda field: field)
        assert update_index([clips], tmp_path / "tiered").ok
    assert update_index([clips], tmp_path / "new").ok
    for name, date_step, quality_step in (("tiered", 8, 4), ("new", 0, 0)):
        ix = whoosh.index.open_dir(str(tmp_path / name), indexname=schema_module.INDEX_NAME)
        assert ix.schema["published"].shift_step == date_step
        assert ix.schema["quality"].shift_step == quality_step
        ix.close()
    requests = [
        {"since": datetime(2021, 4, 1), "until": datetime(2021, 12, 31)},
        {"since": datetime(2022, 1, 1), "sort": "date"},
        {"sort": "quality", "until": datetime(2022, 6, 30)},
        {"query": "facial recognition", "since": datetime(2021, 1, 1)},
        {"query": "tiered", "since": datetime(2021, 6, 1), "until": datetime(2021, 6, 2)},
    ]

    def answers(name: str) -> list[dict]:
        with open_index(tmp_path / name) as opened:
            return [
                opened.search(
                    r.get("query", ""),
                    limit=1000,
                    facet_limit=None,
                    **{k: v for k, v in r.items() if k != "query"},
                ).to_dict()
                for r in requests
            ]

    expected = answers("new")
    assert all(a["total"] for a in expected[:-1]) and not expected[-1]["total"]
    assert answers("tiered") == expected
    # An update writes a segment with the index's own schema, tiers and all.
    (clips / "zz_new.md").write_text(
        "---\ntitle: Tiered dates\npublishedDateTime: 2021-06-01T10:00:00Z\nquality: 50\n---\n",
        encoding="utf-8",
    )
    for name in ("tiered", "new"):
        report = update_index([clips], tmp_path / name)
        assert report.ok and report.added == 1
    expected = answers("new")
    assert [h["title"] for h in expected[-1]["hits"]] == ["Tiered dates"]
    assert answers("tiered") == expected
