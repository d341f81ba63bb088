"""Fixes to Whoosh's behaviour (index/whoosh_fixes.py) seen from outside."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest
from conftest import write_clip
from whoosh.filedb.filestore import FileStorage

from clipsearch import update_index
from clipsearch.index import whoosh_fixes  # noqa: F401 - applies the fixes
from clipsearch.ingest.discover import Found


@pytest.fixture
def collector_off():
    was = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def test_creating_a_storage_folder_that_exists_leaves_no_garbage(tmp_path, collector_off):
    folder = tmp_path / "store"
    FileStorage(str(folder)).create()
    assert folder.is_dir()
    FileStorage(str(folder)).create()  # exists: as Whoosh, no error
    assert gc.collect() == 0  # nothing in a cycle (Whoosh kept the exception)


def test_creating_a_storage_over_a_file_is_an_error(tmp_path):
    path = tmp_path / "file"
    path.write_text("x")
    with pytest.raises(OSError):
        FileStorage(str(path)).create()


def test_an_index_run_frees_its_per_file_objects_when_it_returns(tmp_path: Path, collector_off):
    """What a run found and read goes by reference counting when it returns, not at
    some later full garbage collection (a cycle through Whoosh's writer kept every
    caller's frame, so at 155k clips some 300k objects, alive)."""
    root = tmp_path / "clips"
    for n in range(30):
        write_clip(root / f"c{n}.md", title=f"Clip number {n} about harbours", id=f"c{n}")
    assert update_index([root], tmp_path / "index").ok
    write_clip(root / "late.md", title="A late clip", id="late")
    assert update_index([root], tmp_path / "index").ok  # an update: the index's files too
    mine = str(tmp_path)  # (another test's objects may be held by its report)
    assert not [o for o in gc.get_objects() if type(o) is Found and o.path.startswith(mine)]
