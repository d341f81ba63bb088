"""The fresh segment writer (fresh_segment.py) writes the very files Whoosh's own
SegmentWriter writes for the same documents, which stock Whoosh then reads, deletes
in and merges like any other segment."""

from __future__ import annotations

import pickle
import zlib
from pathlib import Path

import numpy as np
import pytest
from whoosh import index, writing
from whoosh.codec import whoosh3
from whoosh.codec.whoosh3 import W3Codec
from whoosh.columns import VarBytesColumn

from clipsearch.index import fresh_segment, segment_postings, whoosh_fixes
from clipsearch.index.analysis import LanguageText
from clipsearch.index.schema import INDEX_NAME, TEXT_FIELDS, document, make_schema
from clipsearch.index.whoosh_fixes import (
    BLOCK_PROTOCOL,
    patch_segment_flush,
    patch_text_indexing,
)
from clipsearch.ingest.clip import read_clip
from tests.conftest import EDGE_CLIPS, FIXTURES, write_corpus


def _documents(tmp_path: Path) -> list[dict]:
    """The test corpus, the edge and language clips, and made-up documents: a
    word in every one of them (postings in several blocks), words repeated (several
    positions), empty and missing fields, a field boost, unicode and CJK."""
    root = write_corpus(tmp_path / "clips")
    paths = sorted(root.rglob("*.md")) + sorted(root.rglob("*.txt"))
    paths += sorted(EDGE_CLIPS.glob("*.md")) + sorted((FIXTURES / "languages").glob("*.md"))
    docs = []
    for path in paths:
        try:
            clip = read_clip(path)
        except Exception:  # noqa: BLE001 - the one broken clip
            continue
        docs.append(document(clip, f"1:{len(docs)}"))
    for i in range(300):
        words = " ".join(f"w{(i * 7 + k) % 53}" for k in range(i % 17))
        doc = {
            "id": f"made-{i}",
            "path": f"/made/{i}.md",
            "stat": b"1:2",
            "title": LanguageText(f"common harbour report {words} report", "en"),
            "body": LanguageText("" if i % 5 == 0 else f"Zürich café {words} 東京都 common", "de"),
            "language": "de",
            "topic": "a\x1fb c" if i % 3 else "",
            "quality": i,
        }
        if i % 4 == 0:
            doc["excerpt"] = LanguageText("", "en")
        if i % 9 == 0:
            doc["_title_boost"] = 2.5
        docs.append(doc)
    return docs


def _write(path: Path, make: type, docs: list[dict], **kwargs) -> index.Index:
    path.mkdir()
    ix = index.create_in(str(path), make_schema(), indexname=INDEX_NAME)
    writer = make(ix, **kwargs)
    for doc in docs:
        writer.add_document(**doc)
    writer.commit()
    return index.open_dir(str(path), INDEX_NAME)


def _files(ix: index.Index) -> dict[str, bytes]:
    """The segment's files by extension (their names carry its random id)."""
    (segment,) = ix._segments()
    inside = segment.open_compound_file(ix.storage)
    sid = segment.segment_id()
    return {name.replace(sid, ""): inside.open_file(name).read() for name in inside.list()}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[index.Index, index.Index, list[dict]]:
    patch_segment_flush()
    patch_text_indexing()
    base = tmp_path_factory.mktemp("fresh")
    docs = _documents(base)
    assert fresh_segment.supported(make_schema())
    whoosh_ix = _write(base / "whoosh", writing.SegmentWriter, docs)
    fresh_ix = _write(base / "fresh", fresh_segment.FreshSegmentWriter, docs)
    return whoosh_ix, fresh_ix, docs


def test_the_segment_files_are_byte_for_byte_whooshs(built):
    whoosh_ix, fresh_ix, _docs = built
    ours, theirs = _files(fresh_ix), _files(whoosh_ix)
    assert sorted(ours) == sorted(theirs)
    assert {".pst", ".trm"} <= set(ours)
    for name in theirs:
        assert ours[name] == theirs[name], name


def test_the_documents_have_every_kind_of_field(built):
    """The byte comparison covers each way `add_document` makes postings: text,
    plain ID, NUMERIC, DATETIME and facet (KEYWORD) fields, a facet value repeated."""
    _whoosh_ix, _fresh_ix, docs = built
    for name in ("title", "id", "quality", "published", "topic"):
        assert sum(name in doc for doc in docs) > 1, name
    topics = [doc["topic"] for doc in docs if doc.get("topic")]
    assert len(set(topics)) < len(topics)


def test_uncompressed_blocks_are_the_same(built, tmp_path):
    _whoosh_ix, _fresh_ix, docs = built
    codec = W3Codec(compression=0)
    assert fresh_segment.supported(make_schema(), codec)
    theirs = _write(tmp_path / "whoosh", writing.SegmentWriter, docs, codec=codec)
    ours = _write(tmp_path / "fresh", fresh_segment.FreshSegmentWriter, docs, codec=codec)
    assert _files(ours) == _files(theirs)


def _blocks(ix: index.Index) -> list[tuple[int, int, bytes]]:
    """Every postings block of the index: its compression, stored size and pickle."""
    out = []
    with ix.reader() as reader:
        for field, term in reader.all_terms():
            m = reader.postings(field, term)
            while True:
                stored = m._postfile.get(m._dataoffset, m._nextoffset - m._dataoffset)
                pickled = zlib.decompress(stored) if m._compression else stored
                out.append((m._compression, len(stored), pickled))
                if m._lastblock:
                    break
                m._next_block()
    return out


def test_small_blocks_are_stored_uncompressed_by_both_writers(built):
    """A block's pickle under UNCOMPRESSED_BELOW bytes is stored as it is (compression
    0 in its block info), a larger one compressed, by Whoosh's patched writer as by
    the fresh one; either way Whoosh reads the same postings as from an index
    written without compression."""
    for ix in built[:2]:
        blocks = _blocks(ix)
        small = [b for b in blocks if len(b[2]) < whoosh_fixes.UNCOMPRESSED_BELOW]
        large = [b for b in blocks if len(b[2]) >= whoosh_fixes.UNCOMPRESSED_BELOW]
        assert small and large
        assert all(comp == 0 and size == len(p) for comp, size, p in small)
        assert all(comp == 3 for comp, _size, _p in large)


def _stored_blocks(ix: index.Index) -> list[bytes]:
    """The compressed postings blocks of the index, as stored."""
    out = []
    with ix.reader() as reader:
        for field, term in reader.all_terms():
            m = reader.postings(field, term)
            while True:
                if m._compression:
                    out.append(m._postfile.get(m._dataoffset, m._nextoffset - m._dataoffset))
                if m._lastblock:
                    break
                m._next_block()
    return out


def test_blocks_and_stored_fields_are_isal_deflate_that_zlib_reads(built):
    """Both writers compress with ISA-L (its level 1, quicker than zlib's deflate);
    what they store is a zlib stream, which Whoosh's readers decompress with zlib."""
    from isal import isal_zlib

    def isal_made(stored: bytes) -> bool:
        return stored == isal_zlib.compress(zlib.decompress(stored), 1)

    def zlib_made(stored: bytes) -> bool:
        return stored == zlib.compress(zlib.decompress(stored), 3)

    for ix in built[:2]:
        blocks = _stored_blocks(ix)
        assert blocks and all(map(isal_made, blocks))
        assert not all(map(zlib_made, blocks))
        with ix.reader() as reader:
            ((leaf, _offset),) = reader.leaf_readers()
            raw = leaf._perdoc._cached_reader("_stored", whoosh3.STORED_COLUMN)._child
            values = [VarBytesColumn.Reader.__getitem__(raw, d) for d in range(len(raw))]
            assert all(map(isal_made, values)) and not all(map(zlib_made, values))
            got = [pickle.loads(zlib.decompress(v)) for v in values]
            assert got == [reader.stored_fields(d) for d in range(reader.doc_count_all())]


def test_postings_read_back_as_from_an_uncompressed_index(built, tmp_path):
    _whoosh_ix, fresh_ix, docs = built
    plain = _write(tmp_path / "plain", writing.SegmentWriter, docs, codec=W3Codec(compression=0))
    with plain.reader() as a, fresh_ix.reader() as b:
        assert list(a.all_terms()) == list(b.all_terms())
        for t in a.all_terms():
            kind = "positions" if t[0] in TEXT_FIELDS else "weight"
            assert list(a.postings(*t).items_as(kind)) == list(b.postings(*t).items_as(kind))
    assert {comp for comp, _size, _p in _blocks(plain)} == {0}


def test_blocks_pickled_at_whooshs_protocol_read_as_ours(built, tmp_path, monkeypatch):
    """Blocks are pickled at BLOCK_PROTOCOL (their positions as bytes), not at Whoosh's
    protocol 2 (which indexes written before hold): both read back the same postings,
    in one index too (a protocol-2 segment, then one of ours)."""
    _whoosh_ix, fresh_ix, docs = built
    assert {pickled[:2] for _c, _s, pickled in _blocks(fresh_ix)} == {b"\x80\x03"}
    with monkeypatch.context() as m:
        m.setattr(whoosh_fixes, "BLOCK_PROTOCOL", 2)
        old = _write(tmp_path / "old", writing.SegmentWriter, docs)
    assert {pickled[:2] for _c, _s, pickled in _blocks(old)} == {b"\x80\x02"}
    assert sum(s for _c, s, _p in _blocks(old)) > sum(s for _c, s, _p in _blocks(fresh_ix))
    postings = {}
    with old.reader() as a, fresh_ix.reader() as b:
        assert list(a.all_terms()) == list(b.all_terms())
        for t in a.all_terms():
            kind = "positions" if t[0] in TEXT_FIELDS else "weight"
            postings[t] = list(b.postings(*t).items_as(kind))
            assert list(a.postings(*t).items_as(kind)) == postings[t]
    writer = fresh_segment.FreshSegmentWriter(old)
    for doc in docs[:3]:
        writer.add_document(**doc)
    writer.commit()
    mixed = index.open_dir(str(tmp_path / "old"), INDEX_NAME)
    assert len(mixed._segments()) == 2
    with mixed.reader() as c:
        for t, got in postings.items():
            kind = "positions" if t[0] in TEXT_FIELDS else "weight"
            again = [(d + len(docs), v) for d, v in got if d < 3]
            assert list(c.postings(*t).items_as(kind)) == got + again


def _stored_pickle(ix: index.Index, docnum: int) -> bytes:
    with ix.reader() as reader:
        column = reader._perdoc._cached_reader("_stored", whoosh3.STORED_COLUMN)
        return column._child[docnum]


def test_stored_fields_pickled_at_whooshs_protocol_read_as_ours(built, tmp_path, monkeypatch):
    """Stored fields are pickled at STORED_PROTOCOL, not at Whoosh's protocol 2 (which
    indexes written before hold): both read back the same fields."""
    _whoosh_ix, fresh_ix, docs = built
    assert _stored_pickle(fresh_ix, 0)[:2] == b"\x80" + bytes((whoosh_fixes.STORED_PROTOCOL,))
    with monkeypatch.context() as m:
        m.setattr(whoosh_fixes, "STORED_PROTOCOL", 2)
        old = _write(tmp_path / "old", fresh_segment.FreshSegmentWriter, docs)
    assert _stored_pickle(old, 0)[:2] == b"\x80\x02"
    with old.reader() as a, fresh_ix.reader() as b:
        assert [a.stored_fields(d) for d in range(len(docs))] == [
            b.stored_fields(d) for d in range(len(docs))
        ]


@pytest.mark.parametrize("doc", [0, 1, 255, 256, 65535, 65536, 2**24, 2**31 - 1])
def test_a_lone_postings_pickles_are_pickles(doc):
    """The templates of a block with one posting are `pickle.dumps`: the data at the
    blocks' protocol, the block info at Whoosh's protocol 2."""
    values = [b"\x00", b"\x7f", b"\x80\xff", bytes(range(255)), bytes(range(256)),
              b"\x05" * 70000]  # fmt: skip
    weights = [None, 1.0, 2.5, -3.0, 1e-300, 3.4e38, float("inf"), float("nan"), 0.0, -0.0]
    protocol = BLOCK_PROTOCOL
    for weight in weights:
        no_values = fresh_segment.NO_VALUES_TAIL
        want = pickle.dumps(((doc,), weight, None), protocol)
        assert fresh_segment.one_posting_data(doc, weight, no_values) == want
        for empty in (b"", None):
            tail = fresh_segment.one_posting_tail(empty)
            want = pickle.dumps(((doc,), weight, ()), protocol)
            assert fresh_segment.one_posting_data(doc, weight, tail) == want
        for value in values:
            tail = fresh_segment.one_posting_tail(value)
            want = pickle.dumps(((doc,), weight, (value,)), protocol)
            assert fresh_segment.one_posting_data(doc, weight, tail) == want
    for maxweight in weights[1:]:
        for comp, low, high in ((0, 0, 0), (3, 1, 255), (9, 17, 200), (255, 255, 255)):
            mw = maxweight if maxweight > 0 else 0
            want = pickle.dumps((1, doc, mw, comp, low, high), 2)
            assert fresh_segment.one_posting_info(doc, maxweight, comp, low, high) == want


def test_a_field_written_a_few_terms_at_a_time_is_the_same(built, tmp_path, monkeypatch):
    whoosh_ix, _fresh_ix, docs = built
    monkeypatch.setattr(fresh_segment, "_TERMS_RUN", 50)
    assert _files(_write(tmp_path / "runs", fresh_segment.FreshSegmentWriter, docs)) == _files(
        whoosh_ix
    )


def test_a_term_in_more_than_one_block_and_positions_read_back(built):
    whoosh_ix, fresh_ix, _docs = built
    with whoosh_ix.reader() as a, fresh_ix.reader() as b:
        assert a.doc_frequency("title", "common") >= 300  # three blocks of 128
        assert ("body", "東京".encode()) in a and ("body", b"zurich") in a
        assert list(a.all_terms()) == list(b.all_terms())
        for field, term in a.all_terms():
            if field in TEXT_FIELDS:
                want = list(a.postings(field, term).items_as("positions"))
                assert list(b.postings(field, term).items_as("positions")) == want
        assert [a.term_info(*t).__dict__ for t in a.all_terms()] == [
            b.term_info(*t).__dict__ for t in b.all_terms()
        ]
        n = a.doc_count_all()
        assert [a.stored_fields(d) for d in range(n)] == [b.stored_fields(d) for d in range(n)]


def test_the_derived_postings_are_those_of_the_written_segment(built):
    """The worker's `.vpst` (from the postings in hand) equals the file made by
    reading the segment back (segment_postings.write)."""
    _whoosh_ix, fresh_ix, _docs = built
    folder = fresh_ix.storage.folder
    with fresh_ix.reader() as reader:
        ((leaf, _offset),) = reader.leaf_readers()
        sid = leaf.segment().segment_id()
        n = leaf.doc_count_all()
        in_hand = segment_postings.load(folder, sid, n, TEXT_FIELDS)
        assert in_hand is not None
        again = Path(folder) / "again"
        again.mkdir()
        segment_postings.write(str(again), leaf, TEXT_FIELDS)
        read_back = segment_postings.load(str(again), sid, n, TEXT_FIELDS)
    for field in TEXT_FIELDS:
        assert np.array_equal(in_hand.lengths(field), read_back.lengths(field))
    for term in ("common", "report", "harbour", "zurich", "w3"):
        for field in TEXT_FIELDS:
            ours, theirs = in_hand.term(field, term), read_back.term(field, term)
            assert np.array_equal(ours[0], theirs[0]) and np.array_equal(ours[1], theirs[1])


def test_deletes_a_later_add_and_a_merge_into_the_fresh_segment(built, tmp_path):
    """Whoosh deletes in the fresh segment, adds a segment beside it and merges the
    two, with the same result as for its own segment."""
    import shutil

    def later(ix_path: Path) -> list:
        ix = index.open_dir(str(ix_path), INDEX_NAME)
        with ix.writer() as w:
            w.delete_by_term("id", "made-7")
            w.delete_by_term("id", "made-200")
        with ix.writer() as w:
            w.add_document(id="late", path="/late.md", title=LanguageText("common late", "en"))
        with ix.writer() as w:
            w.optimize = True
        with ix.searcher() as s:
            assert len(ix._segments()) == 1
            r = s.reader()
            return [
                (t, list(r.postings(*t).items_as("positions")))
                for t in r.all_terms()
                if t[0] in TEXT_FIELDS
            ] + [s.doc_count(), [s.stored_fields(d).get("id") for d in range(r.doc_count_all())]]

    whoosh_ix, fresh_ix, _docs = built
    a, b = tmp_path / "a", tmp_path / "b"
    shutil.copytree(whoosh_ix.storage.folder, a)
    shutil.copytree(fresh_ix.storage.folder, b)
    assert later(a) == later(b)


def test_it_refuses_what_it_would_write_wrongly(built):
    _whoosh_ix, fresh_ix, _docs = built
    assert not fresh_segment.supported(make_schema(), W3Codec(inlinelimit=4))
    writer = fresh_segment.FreshSegmentWriter(fresh_ix)
    try:
        with fresh_ix.reader() as reader, pytest.raises(NotImplementedError):
            writer.add_reader(reader)
    finally:
        writer.cancel()
