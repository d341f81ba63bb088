"""Stored fields read with positioned reads (index/stored.py) are Whoosh's own: for
every document of every segment, after updates, deletions and merges; a commit that
a newer one replaced still reads its own documents; a closed one raises the same
clear error as before; a damaged column is reported, never read past."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import write_clip, write_corpus

from clipsearch import open_index, update_index
from clipsearch.errors import IndexIncompatibleError
from clipsearch.index import Snapshot, stored


@pytest.fixture
def built(tmp_path: Path) -> tuple[Path, Path]:
    root = write_corpus(tmp_path / "clips")
    index = tmp_path / "index"
    assert update_index([root], index).ok
    return root, index


def _assert_whooshs(index: Path, segments: int | None = None) -> None:
    """Every document's stored fields equal Whoosh's, each read by a column here."""
    snap = Snapshot(str(index))
    try:
        reader = snap._reader
        leaves = [leaf for leaf, _ in reader.leaf_readers() if leaf.doc_count_all()]
        if segments is not None:
            assert len(leaves) == segments
        columns = snap._ix.stored_columns()
        assert {leaf.segment().segment_id() for leaf in leaves} <= set(columns)
        for d in range(reader.doc_count_all()):
            assert snap.stored(d) == reader.stored_fields(d), d
        for leaf in leaves:  # each segment's column, document by document
            column = columns[leaf.segment().segment_id()]
            for d in range(leaf.doc_count_all()):
                assert column.fields(d) == leaf.stored_fields(d)
    finally:
        snap.close()


def test_every_document_of_a_fresh_build_is_whooshs(built) -> None:
    _assert_whooshs(built[1])


def test_after_updates_deletions_and_merges_every_document_is_whooshs(built) -> None:
    root, index = built
    first = _segment_ids(index)
    for n in range(6):  # small commits: Whoosh merges the small segments as they pile up
        write_clip(root / f"new{n}.md", title=f"Solar panel tariffs {n}", topics=["Climate"])
        if n in (1, 5):
            (root / "solar" / f"0{n // 5}-solar.md").unlink()
        assert update_index([root], index).ok
        _assert_whooshs(index)
    assert not first & _segment_ids(index)  # the first build's segment was merged away


def test_a_segment_not_in_a_compound_file_is_read_too(built) -> None:
    from whoosh import index as whoosh_index

    root, index = built
    ix = whoosh_index.open_dir(str(index), indexname="clips")
    with ix.reader() as reader:
        fields = dict(reader.stored_fields(0))
    fields["path"], fields["id"] = "/elsewhere/copy.md", "copy-1"
    writer = ix.writer(compound=False)
    writer.add_document(**fields)
    writer.commit(merge=False)
    ix.close()
    assert any(n.endswith("._stored.col") for n in os.listdir(index))
    _assert_whooshs(index, segments=2)


def _segment_ids(index: Path) -> set[str]:
    snap = Snapshot(str(index))
    try:
        return {leaf.segment().segment_id() for leaf, _ in snap._reader.leaf_readers()}
    finally:
        snap.close()


def test_a_segment_of_many_documents_reads_whooshs_stored_offsets(tmp_path: Path) -> None:
    """Whoosh writes the column's offsets (not only its lengths) past 2**15 rows:
    both layouts are read by Whoosh's own column reader over positioned reads."""
    from whoosh.codec.whoosh3 import STORED_COLUMN
    from whoosh.filedb.filestore import RamStorage

    values = [{"n": i, "text": "x" * (i % 7)} if i % 5 else None for i in range(40_000)]
    store = RamStorage()
    out = store.create_file("col")
    writer = STORED_COLUMN.writer(out)
    for i, v in enumerate(values):
        writer.add(i, v)
    writer.finish(len(values))
    out.close()
    data = store.open_file("col").read()
    assert data.endswith(b"X")  # Whoosh's mark of a column with its offsets written
    path = tmp_path / "col"
    path.write_bytes(b"pad" + data)
    with open(path, "rb", buffering=0) as fh:
        column = stored.SegmentStored(fh, 3, len(data), len(values))
        got = [column.fields(i) for i in range(len(values))]
    assert got == [v or {} for v in values]


def test_a_replaced_commit_reads_its_own_documents(built) -> None:
    root, index = built
    snap = Snapshot(str(index))
    try:
        before = [snap.stored(d) for d in range(snap._reader.doc_count_all())]
        old_files = {n for n in os.listdir(index) if n.endswith(".seg")}
        write_clip(root / "new.md", title="Solar panel tariffs", topics=["Climate"])
        assert update_index([root], index, rebuild=True).ok
        assert not old_files & set(os.listdir(index))  # its segment files are gone
        assert [snap.stored(d) for d in range(len(before))] == before
    finally:
        snap.close()


def test_a_closed_commit_raises_the_clear_error(built) -> None:
    snap = Snapshot(str(built[1]))
    snap.stored(0)
    columns = list(snap._ix.stored_columns().values())
    snap.close()
    assert columns and all(c.closed for c in columns)  # no file left open
    with pytest.raises(IndexIncompatibleError, match="ReaderClosed"):
        snap.stored(0)
    idx = open_index(built[1])
    assert idx.search("vaccine").hits
    idx.close()


def test_a_damaged_column_is_an_error_not_a_read_past_its_end(tmp_path: Path) -> None:
    path = tmp_path / "col"
    path.write_bytes(b"\0" * 10)
    with open(path, "rb", buffering=0) as fh:
        column = stored.SegmentStored(fh, 4, 100, 3)  # says 100 bytes; the file has 6
        with pytest.raises(EOFError):
            column.fields(0)
