"""A commit opened for searching reads Whoosh's files with positioned reads
(index/pread.py), not through a mapping: every document's stored fields are what
Whoosh reads through its mapping, after updates, deletions and merges and in a
segment outside a compound file; nothing of a segment file is mapped into the
process; a commit a newer one replaced still reads its own files; a closed one
raises the same clear error as before and holds no file open; a file cut short
while open is reported, not read past."""

from __future__ import annotations

import gc
import os
from pathlib import Path

import pytest
from conftest import write_clip

from clipsearch import open_index, update_index
from clipsearch.errors import IndexIncompatibleError
from clipsearch.index import Snapshot
from clipsearch.index.pread import PreadFile


def _mapped(index: Path) -> list[str]:
    """The index's files this process maps."""
    with open("/proc/self/maps", encoding="utf-8") as fh:
        return [line.split()[-1] for line in fh if str(index) in line]


def _open_files(index: Path) -> list[str]:
    """The index's files this process holds open."""
    out = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(index)):
            out.append(target)
    return out


def _whooshs(index: Path) -> list[dict]:
    """Every document's stored fields as Whoosh reads them through its mapping."""
    from whoosh import index as whoosh_index

    with whoosh_index.open_dir(str(index), indexname="clips").reader() as reader:
        return [reader.stored_fields(d) for d in range(reader.doc_count_all())]


def _assert_whooshs(index: Path, segments: int | None = None) -> None:
    gc.collect()
    already = set(_mapped(index))  # what this process's own writers left mapped
    snap = Snapshot(str(index))
    try:
        leaves = [leaf for leaf, _ in snap._reader.leaf_readers() if leaf.doc_count_all()]
        if segments is not None:
            assert len(leaves) == segments
        got = [snap.stored(d) for d in range(snap._reader.doc_count_all())]
        assert [snap._reader.stored_fields(d) for d in range(len(got))] == got
        mapped = set(_mapped(index)) - already
        assert not [n for n in mapped if n.endswith((".seg", ".col", ".trm", ".pst"))]
    finally:
        snap.close()
    assert got == _whooshs(index)


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
    with open_index(index) as idx:  # and the answers come through the positioned reads
        hits = idx.search("solar panel tariffs").hits
        assert hits and all(h.title.startswith("Solar panel tariffs") for h in hits[:3])


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


def test_a_file_read_by_positioned_reads_reads_as_whooshs_over_a_buffer(tmp_path: Path) -> None:
    """PreadFile against Whoosh's BufferFile over the same bytes: positioned and
    sequential reads, arrays, parts of it, and the column of many documents whose
    offsets Whoosh writes (past 2**15 rows)."""
    from whoosh.codec.whoosh3 import STORED_COLUMN
    from whoosh.filedb.filestore import RamStorage
    from whoosh.filedb.structfile import BufferFile

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
    path.write_bytes(b"pad" + data + b"tail")
    with open(path, "rb", buffering=0) as fh:
        mine, buffered = PreadFile(fh, 3, len(data)), BufferFile(memoryview(data))
        column = STORED_COLUMN.reader(mine, 0, len(data), len(values))
        assert [column[i] for i in range(len(values))] == values
        for f in (mine, buffered):
            f.seek(0)
        for pos, n in [(0, 1), (5, 100), (len(data) - 3, 10), (len(data), 4)]:
            assert mine.get(pos, n) == buffered.get(pos, n), (pos, n)
        assert mine.get_int(17) == buffered.get_int(17)
        assert mine.get_array(8, "I", 30) == buffered.get_array(8, "I", 30)
        assert mine.read(7) == buffered.read(7) and mine.tell() == buffered.tell() == 7
        assert mine.read_array("H", 5) == buffered.read_array("H", 5)
        assert mine.read_varint() == buffered.read_varint()
        part, whole = mine.subset(100, 50), buffered.subset(100, 50)
        assert part.read() == whole.read() and part.get(40, 20) == whole.get(40, 20)
        mine.seek(-4, 2)
        assert mine.read() == data[-4:]  # never past its region ("tail")
        line = PreadFile(fh, 3 + len(data) + 1, 3)
        assert line.readline() == b"ail"


def test_pickles_read_by_positioned_reads_read_as_whooshs(tmp_path: Path, monkeypatch) -> None:
    """read_pickle takes a pickle from one read of the bytes at the position: pickles
    back to back (short ones, one longer than that read, one ending the region) read
    as Whoosh's StructFile reads them, the position left after each; a cut pickle
    fails as Whoosh's does."""
    import pickle

    from whoosh.filedb.structfile import BufferFile

    from clipsearch.index import pread

    monkeypatch.setattr(pread, "_PICKLE_READ", 64)
    objects = [(1, 5, 2.0, 0, 3, 4), {"x": "y" * 200}, None, ("z",) * 40, [b"\x00\xff"], 7]
    protocols = [2, 4, 2, 3, 3, 2]
    data = b"".join(pickle.dumps(o, p) for o, p in zip(objects, protocols, strict=True))
    path = tmp_path / "pickles"
    path.write_bytes(b"pad" + data + b"tail")
    with open(path, "rb", buffering=0) as fh:
        mine, theirs = PreadFile(fh, 3, len(data)), BufferFile(memoryview(data))
        for want in objects:
            assert mine.read_pickle() == theirs.read_pickle() == want
            assert mine.tell() == theirs.tell()
        assert mine.tell() == len(data)
        cut = PreadFile(fh, 3, len(pickle.dumps(objects[0], 2)) - 2)
        with pytest.raises((EOFError, pickle.UnpicklingError)):
            BufferFile(memoryview(data[: len(pickle.dumps(objects[0], 2)) - 2])).read_pickle()
        with pytest.raises((EOFError, pickle.UnpicklingError)):
            cut.read_pickle()


def test_a_column_without_written_offsets_reads_every_value(tmp_path: Path) -> None:
    """A stored column of fewer than 2**15 rows has no offsets written: the reader
    sums them from the lengths (whoosh_fixes, in numpy) to Whoosh's own offsets,
    empty values and an empty column included."""
    from array import array

    from whoosh.codec.whoosh3 import STORED_COLUMN
    from whoosh.filedb.filestore import RamStorage
    from whoosh.filedb.structfile import BufferFile

    for count in (0, 1, 3, 20_000):
        values = [{"n": i, "t": "y" * (i % 11)} if i % 3 else None for i in range(count)]
        store = RamStorage()
        out = store.create_file("col")
        writer = STORED_COLUMN.writer(out)
        for i, v in enumerate(values):
            writer.add(i, v)
        writer.finish(count)
        out.close()
        data = store.open_file("col").read()
        assert not data.endswith(b"X")
        column = STORED_COLUMN.reader(BufferFile(memoryview(data)), 0, len(data), count)
        assert [column[i] for i in range(count)] == values
        inner = column._child
        expected, base = array("L"), 0
        for length in inner._lengths:
            expected.append(base)
            base += length
        assert inner._offsets == expected and not inner.had_stored_offsets


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


def test_a_closed_commit_raises_the_clear_error_and_holds_no_file(built) -> None:
    index = built[1]
    snap = Snapshot(str(index))
    snap.stored(0)
    assert any(f.endswith(".seg") for f in _open_files(index))
    snap.close()
    assert not [f for f in _open_files(index) if f.endswith(".seg")]
    with pytest.raises(IndexIncompatibleError, match="ReaderClosed"):
        snap.stored(0)
    with open_index(index) as idx:
        assert idx.search("vaccine").hits


def test_a_segment_file_cut_short_while_open_is_reported(built) -> None:
    """Through a mapping, reading past a file's new end kills the process (SIGBUS);
    read by positioned reads, it is a damaged index with the rebuild hint."""
    index = built[1]
    snap = Snapshot(str(index))
    try:
        snap.stored(0)
        for name in os.listdir(index):
            if name.endswith(".seg"):
                os.truncate(index / name, 64)
        with pytest.raises(IndexIncompatibleError, match="rebuild"):
            for d in range(snap._reader.doc_count_all()):
                snap.stored(d)
    finally:
        snap.close()
