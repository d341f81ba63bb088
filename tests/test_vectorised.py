"""The vectorised query path (posting arrays, BM25F over them, columns as arrays)
equals the dict-based path it replaced (tests/reference_scoring.py): the same
matches and the same scores, with statistics of its own and from outside, on a
built index, after incremental updates and without derived data.  An index updated
in several commits answers exactly as one rebuilt from the same clips; derived
segment postings that are missing, damaged or of another segment are never used."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from conftest import write_clip, write_corpus
from reference_scoring import DictPostings, ReferenceScorer

from clipsearch import open_index, update_index
from clipsearch.index import TEXT_FIELDS, QueryStats, Snapshot, derived, segment_postings

QUERIES = [
    "vaccine",
    "solar panel",
    "facial recognition",
    "ballot OR gdpr",
    "vaccine NOT covid",
    '"facial recognition"',
    "solar NEAR/3 panel",
    "title:solar",
    "topic:climate",
    "vacc*",
    "climate change policy law election vote",
    "(solar OR wind) AND energy",
]
SEARCHES = ["", "vaccine", "solar panel", "facail recogniton", "ballot OR gdpr", "vacc*"]


def _compiled(snap: Snapshot) -> list:
    out = []
    for text in QUERIES:
        out.append(snap.parse(text).compile())
        out.append(snap.parse(text, implicit_and=True).compile())
    return out


def _reference(snap: Snapshot) -> ReferenceScorer:
    postings = DictPostings(snap._reader, snap._ix.schema)
    return ReferenceScorer(
        snap.path, snap._reader, snap._searcher, postings, None, TEXT_FIELDS
    )


def _assert_equal_to_reference(index: Path) -> None:
    snap = Snapshot(str(index))
    try:
        ref = _reference(snap)
        live = set(snap._reader.all_doc_ids())
        doubled = None
        for compiled in _compiled(snap):
            q = compiled.q
            assert set(snap.match(compiled)) == ref.match(q) & live, q
            want = {d: v for d, v in ref.scores(q).items() if d in live}
            got = dict(snap.scores(compiled).items())
            assert got.keys() == want.keys(), q
            assert all(abs(got[d] - want[d]) <= 1e-9 for d in want), q
            # statistics from outside (a sharded search's sums) score the same way
            own = snap.query_stats(compiled)
            assert own == ref.query_stats(q)
            doubled = QueryStats(
                own.doc_count_all * 2,
                own.doc_count * 2,
                {k: v * 3 for k, v in own.field_lengths.items()},
                {k: v + 1 for k, v in own.dfs.items()},
            )
            outside = dict(snap.scores(compiled, doubled).items())
            expected = {d: v for d, v in ref.scores(q, doubled).items() if d in live}
            assert outside.keys() == expected.keys()
            assert all(abs(outside[d] - expected[d]) <= 1e-9 for d in expected), q
        assert doubled is not None
    finally:
        snap.close()


def _answers(index: Path) -> list[dict]:
    with open_index(index) as idx:
        out = []
        for q in SEARCHES:
            out.append(idx.search(q, limit=30, facet_limit=None, histogram="month").to_dict())
            out.append(idx.search(q, topics=["climate"], sort="date").to_dict())
            out.append(idx.search(q, limit=5, offset=3, match="any").to_dict())
        return out


def _rounded(results: list[dict]) -> list[dict]:
    """Results with scores to 1e-9 (the rest exactly)."""
    out = []
    for r in results:
        r = dict(r)
        r["hits"] = [{**h, "score": round(h["score"], 9)} for h in r["hits"]]
        out.append(r)
    return out


def _uses_derived(index: Path) -> bool:
    snap = Snapshot(str(index))
    try:
        return snap._postings.uses_derived()
    finally:
        snap.close()


def test_a_build_writes_segment_postings_that_are_used(built) -> None:
    _root, index = built
    assert any(n.endswith(segment_postings.SUFFIX) for n in os.listdir(index))
    assert _uses_derived(index)


def test_scores_and_matches_equal_the_dict_based_reference(built) -> None:
    _assert_equal_to_reference(built[1])


def test_after_updates_with_deletions_scores_still_equal_the_reference(built) -> None:
    root, index = built
    write_clip(root / "new1.md", title="Solar panel tariffs", topics=["Climate"])
    (root / "solar" / "00-solar.md").unlink()
    assert update_index([root], index).ok
    write_clip(root / "new2.md", title="Vaccine panel on solar storms", topics=["Health"])
    assert update_index([root], index).ok
    assert _uses_derived(index)
    _assert_equal_to_reference(index)


def test_without_derived_data_the_answers_are_the_same(built) -> None:
    _root, index = built
    expected = _answers(index)
    for name in os.listdir(index):
        if name.endswith(segment_postings.SUFFIX) or name == derived.DERIVED_FILE:
            os.remove(index / name)
    assert not _uses_derived(index)
    assert _answers(index) == expected
    _assert_equal_to_reference(index)


def test_an_index_updated_in_several_commits_answers_as_a_rebuilt_one(tmp_path: Path) -> None:
    root = write_corpus(tmp_path / "clips")
    files = sorted(p for p in root.rglob("*") if p.is_file())
    held = {p: p.read_bytes() for p in files[len(files) // 2 :]}
    for p in files:
        os.utime(p, (p.stat().st_mtime - 3600,) * 2)
    for p in held:
        p.unlink()
    index = tmp_path / "updated"
    assert update_index([root], index).ok
    for i, (p, data) in enumerate(held.items()):  # added back over two more commits
        p.write_bytes(data)
        os.utime(p, (p.stat().st_mtime - 3600,) * 2)  # not "just written": no re-check
        if i == len(held) // 2:
            assert update_index([root], index).ok
    assert update_index([root], index).ok
    rebuilt = tmp_path / "rebuilt"
    assert update_index([root], rebuilt).ok
    snap = Snapshot(str(index))
    try:  # several segments, each with its derived postings, nothing deleted
        assert len(snap._postings.segments()) > 1 and snap._postings.uses_derived()
        assert not snap._reader.has_deletions()
    finally:
        snap.close()
    assert _rounded(_answers(index)) == _rounded(_answers(rebuilt))


@pytest.mark.parametrize(
    "damage",
    [
        lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]),
        lambda p: p.write_bytes(b"\x00garbage"),
        lambda p: p.write_bytes(b""),
    ],
)
def test_damaged_segment_postings_are_never_used(built, damage) -> None:
    _root, index = built
    expected = _answers(index)
    for name in os.listdir(index):
        if name.endswith(segment_postings.SUFFIX):
            damage(index / name)
    assert not _uses_derived(index)
    assert _answers(index) == expected


def test_segment_postings_of_another_segment_are_never_used(built, tmp_path: Path) -> None:
    root, index = built
    expected_before = _answers(index)
    mine = [n for n in os.listdir(index) if n.endswith(segment_postings.SUFFIX)]
    other = tmp_path / "other"
    write_clip(root / "zz-new.md", title="Harbour cranes go electric", topics=["Climate"])
    assert update_index([root], other).ok  # another index, other segments
    theirs = [n for n in os.listdir(other) if n.endswith(segment_postings.SUFFIX)]
    (root / "zz-new.md").unlink()
    for name in mine:  # each of ours replaced by a file of another segment
        shutil.copy(other / theirs[0], index / name)
    assert not _uses_derived(index)
    assert _answers(index) == expected_before


def test_the_next_commit_rewrites_missing_derived_data(built) -> None:
    root, index = built
    for name in os.listdir(index):
        if name.endswith(segment_postings.SUFFIX) or name == derived.DERIVED_FILE:
            os.remove(index / name)
    write_clip(root / "more.md", title="Harbour extra", topics=["Climate"])
    assert update_index([root], index).ok
    assert _uses_derived(index)
    snap = Snapshot(str(index))
    try:
        gen, n = snap._reader.generation(), snap._reader.doc_count_all()
        assert derived.load(str(index), gen, n, derived.segment_list(snap._reader)) is not None
    finally:
        snap.close()


def _frequencies_match_whoosh(index: Path) -> None:
    snap = Snapshot(str(index))
    try:
        reader = snap._reader
        terms = [(f, raw.decode()) for f in TEXT_FIELDS for raw in reader.lexicon(f)]
        terms += [(f, w) for f in TEXT_FIELDS for w in ("zzz-nowhere", "", "solar")]
        assert snap._postings.doc_frequencies(terms) == [reader.doc_frequency(*t) for t in terms]
        assert any(reader.doc_frequency(*t) > 1 for t in terms)
    finally:
        snap.close()


def test_document_frequencies_from_derived_postings_are_whooshs(built) -> None:
    _root, index = built
    assert _uses_derived(index)
    _frequencies_match_whoosh(index)
    for name in os.listdir(index):
        if name.endswith(segment_postings.SUFFIX):
            os.remove(index / name)
    assert not _uses_derived(index)
    _frequencies_match_whoosh(index)


def test_stored_fields_read_per_segment_are_whooshs(built) -> None:
    root, index = built
    write_clip(root / "new1.md", title="Solar panel tariffs", topics=["Climate"])
    (root / "solar" / "00-solar.md").unlink()
    assert update_index([root], index).ok  # two segments, one deletion
    snap = Snapshot(str(index))
    try:
        reader = snap._reader
        assert len(list(reader.leaf_readers())) > 1
        for d in range(reader.doc_count_all()):
            assert snap.stored(d) == reader.stored_fields(d), d
    finally:
        snap.close()


def _colliding_segment(
    swapped: bool = False,
) -> tuple[segment_postings.SegmentPostings, list[bytes], list[int]]:
    """Derived postings of three terms whose first two share one hash (as if blake2b
    collided), and the terms' keys and hashes; with `swapped`, the look-up tables
    in the other byte order (arrays no memoryview reads as ints)."""
    import numpy as np

    keys = [segment_postings.term_key("body", w) for w in ("alpha", "beta", "gamma")]
    hashes = [5, 5, 9]
    blob = b"".join(keys)
    ends = np.cumsum([len(k) for k in keys])
    arrays = {
        "hashes": np.array(hashes, dtype=np.uint64),
        "hash_terms": np.array([0, 1, 2], dtype=np.int64),
        "key_offsets": np.concatenate([[0], ends]).astype(np.int64),
        "key_blob": np.frombuffer(blob, dtype=np.uint8),
        "post_offsets": np.array([0, 1, 3, 6], dtype=np.int64),
        "post_docs": np.array([0, 0, 1, 0, 1, 2], dtype=np.int32),
        "post_weights": np.ones(6, dtype=np.float32),
        "len_body": np.ones(3, dtype=np.int32),
    }
    if swapped:
        for name in ("hashes", "hash_terms", "key_offsets", "post_offsets"):
            arrays[name] = arrays[name].astype(arrays[name].dtype.newbyteorder())
    meta = {"format": segment_postings.FORMAT, "segment": "s", "doc_count": 3}
    return segment_postings.SegmentPostings(meta, arrays), keys, hashes


@pytest.mark.parametrize("swapped", [False, True])
@pytest.mark.parametrize("padding", [0, segment_postings.FEW_KEYS])
def test_terms_of_one_hash_are_told_apart_by_their_bytes(padding: int, swapped: bool) -> None:
    """A key whose hash another key holds first is found by its bytes, a key of a
    held hash but held by no term counts 0, whether a few keys are asked or many."""
    import numpy as np

    seg, keys, hashes = _colliding_segment(swapped)
    other = segment_postings.term_key("body", "delta")
    asked = keys + [other] + [keys[2]] * padding
    wanted = np.array(hashes + [5] + [9] * padding, dtype=np.uint64)
    assert seg.sizes(asked, wanted) == [1, 2, 3, 0] + [3] * padding
    assert seg.term_of_key(keys[1], 5)[0].tolist() == [0, 1]
    assert seg.term_of_key(other, 5)[0].tolist() == []
