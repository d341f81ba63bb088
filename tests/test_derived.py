"""Derived data beside each commit (index/derived.py): facet columns written with the
commit and loaded instead of rebuilt.  Missing, damaged or another commit's derived
data is never used; results are the same with it, without it and after updates."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import write_clip

from clipsearch import open_index, update_index
from clipsearch.index import Snapshot, derived

QUERIES = ["", "vaccine", "solar panel", "facial recognition", "ballot OR gdpr"]


def _answers(index: Path) -> list:
    with open_index(index) as idx:
        out = []
        for q in QUERIES:
            res = idx.search(q, limit=50, facet_limit=None, histogram="month")
            out.append(res.to_dict())
            out.append(idx.search(q, topics=["climate"], providers=["reuters"]).to_dict())
        return out


def _loaded(index: Path) -> bool:
    """Whether a snapshot of `index` takes its facet columns from the derived file."""
    snap = Snapshot(str(index))
    try:
        gen, n = snap._reader.generation(), snap._reader.doc_count_all()
    finally:
        snap.close()
    return derived.load(str(index), gen, n) is not None


def test_a_commit_writes_derived_data_that_gives_the_same_answers(built) -> None:
    _root, index = built
    assert (index / derived.DERIVED_FILE).exists() and _loaded(index)
    with_derived = _answers(index)
    (index / derived.DERIVED_FILE).unlink()
    assert _answers(index) == with_derived  # rebuilt from the index, the same


@pytest.mark.parametrize(
    "damage",
    [
        lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]),
        lambda p: p.write_bytes(b"\x00garbage"),
        lambda p: p.write_bytes(b""),
    ],
)
def test_damaged_derived_data_is_never_used(built, damage) -> None:
    _root, index = built
    expected = _answers(index)
    damage(index / derived.DERIVED_FILE)
    assert not _loaded(index)
    assert _answers(index) == expected


def test_derived_data_of_another_commit_is_never_used(built, tmp_path) -> None:
    root, index = built
    old = tmp_path / "old.bin"
    shutil.copy(index / derived.DERIVED_FILE, old)
    write_clip(root / "new.md", title="Harbour cranes go electric", topics=["Climate"])
    (root / "solar" / "00-solar.md").unlink()
    assert update_index([root], index).ok
    fresh = _answers(index)
    shutil.copy(old, index / derived.DERIVED_FILE)  # a stale file: wrong generation
    assert not _loaded(index)
    assert _answers(index) == fresh
    # and the counts equal a fresh build's (scores differ until Whoosh merges away
    # the deleted clip, which still counts in its statistics)
    rebuilt = tmp_path / "rebuilt"
    assert update_index([root], rebuilt).ok
    assert _loaded(rebuilt)
    assert [_counts(d) for d in _answers(rebuilt)] == [_counts(d) for d in fresh]


def _counts(result: dict) -> dict:
    return {
        **{k: v for k, v in result.items() if k != "hits"},
        "hits": sorted(h["id"] for h in result["hits"]),
    }


def test_a_write_that_cannot_write_derived_data_still_commits(built, monkeypatch) -> None:
    root, index = built
    expected_total = len(list(root.rglob("*.md"))) + len(list(root.rglob("*.txt"))) + 1

    def refuse(*_a, **_k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(derived, "write", refuse)
    write_clip(root / "extra.md", title="Harbour extra")
    assert update_index([root], index).ok
    with open_index(index) as idx:
        assert len(idx) == expected_total
        assert idx.search("harbour extra").total == 1
    assert not _loaded(index)  # the old file is of the previous commit


def _written_and_fresh(index: Path) -> tuple[dict, dict]:
    """The columns derived.bin holds for the index's commit, and the same columns
    built from the index alone (nothing carried)."""
    from clipsearch.index.columns import Columns
    from clipsearch.index.storage import open_whoosh

    ix = open_whoosh(str(index), check_segments=False)
    with ix.reader() as reader:
        got = derived.load(
            str(index), reader.generation(), reader.doc_count_all(), derived.segment_list(reader)
        )
        assert got is not None
        fresh = Columns(str(index), reader, ix.schema).arrays()
        return {k: v.copy() for k, v in got.items()}, fresh


def _segments(index: Path) -> set[str]:
    from clipsearch.index.storage import open_whoosh

    with open_whoosh(str(index), check_segments=False).reader() as reader:
        return {seg for seg, _n in derived.segment_list(reader)}


def test_columns_carried_from_the_last_commit_equal_freshly_built_ones(
    built, monkeypatch
) -> None:
    """Adds, case variants of facet values (the displayed spelling follows the
    majority), modified and deleted clips, and Whoosh's merges of small segments:
    after every run the columns carried over from the commit before are exactly the
    columns built from the index, and the kept segments were carried, not re-read."""
    from clipsearch.index.columns import Carried

    root, index = built
    carried: set[str] = set()
    start = Carried.start

    def spy(self, leaf):
        got = start(self, leaf)
        if got is not None:
            carried.add(leaf.segment().segment_id())
        return got

    monkeypatch.setattr(Carried, "start", spy)
    segments_before = _segments(index)
    merged = False
    steps = [
        lambda k: write_clip(root / f"new{k}.md", title=f"Harbour crane {k}", topics=["CLIMATE"]),
        lambda k: write_clip(
            root / f"new{k}.md", title=f"Wind farm {k}", topics=["climate", "Energy"],
            provider="REUTERS",
        ),
        lambda k: (root / "solar" / "00-solar.md").unlink(),
        lambda k: write_clip(root / "new0.md", title="Harbour crane, edited", topics=["Ports"]),
        lambda k: (root / "new1.md").unlink(),
    ] + [
        lambda k: write_clip(root / f"more{k}.md", title=f"Tidal power {k}", topics=["climate"])
        for _ in range(10)
    ]
    for k, step in enumerate(steps):
        step(k)
        carried.clear()
        assert update_index([root], index).ok
        segments = _segments(index)
        kept = segments_before & segments
        assert carried == kept, k  # every kept segment carried, nothing else
        written, fresh = _written_and_fresh(index)
        assert written.keys() == fresh.keys()
        for name, arr in fresh.items():
            assert arr.dtype == written[name].dtype, (k, name)
            assert arr.shape == written[name].shape and (arr == written[name]).all(), (k, name)
        merged = merged or bool(segments_before - segments)
        segments_before = segments
    assert merged  # the runs above made Whoosh merge segments at least once
    assert carried  # and the last one still carried some
    answers = _answers(index)
    (index / derived.DERIVED_FILE).unlink()
    assert _answers(index) == answers


def test_derived_data_of_another_commit_is_never_carried(built, tmp_path) -> None:
    """A derived file that is not the starting commit's is not carried from: the
    columns are built from the index."""
    root, index = built
    old = tmp_path / "old.bin"
    shutil.copy(index / derived.DERIVED_FILE, old)
    (root / "solar" / "00-solar.md").unlink()
    assert update_index([root], index).ok
    shutil.copy(old, index / derived.DERIVED_FILE)  # a stale file: of the commit before
    write_clip(root / "new.md", title="Harbour cranes go electric", topics=["Climate"])
    assert update_index([root], index).ok
    written, fresh = _written_and_fresh(index)
    for name, arr in fresh.items():
        assert (arr == written[name]).all(), name


@pytest.mark.parametrize("seed", range(12))
def test_gather_concatenates_the_rows_asked_for(seed: int) -> None:
    """CSR rows gathered at once are the rows one by one, concatenated: rows of
    no value, one or several, and columns where every row has exactly one."""
    import random

    import numpy as np

    from clipsearch.index.columns import gather

    rng = random.Random(seed)
    n = rng.randint(1, 40)
    one_each = seed % 3 == 0
    sizes = [1 if one_each else rng.choice((0, 1, 1, 2, 3)) for _ in range(n)]
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    values = np.array([rng.randint(0, 9) for _ in range(int(offsets[-1]))], dtype=np.int32)
    rows = np.array(sorted(rng.sample(range(n), rng.randint(0, n))), dtype=np.int64)
    expected = [v for r in rows.tolist() for v in values[offsets[r] : offsets[r + 1]].tolist()]
    got = gather(offsets, values, rows)
    assert got.tolist() == expected
    assert got.dtype == values.dtype


@pytest.mark.parametrize(
    "ids", [["plain-1", "plain-2", "p-3"], ["plain-1", "zürich-2", "東京-3", "ß-4"]]
)
def test_many_clip_ids_at_once_are_each_ones(tmp_path: Path, monkeypatch, ids) -> None:
    """Clip ids asked for many at a time come from one decode of the id table (ASCII
    ids) or one per id; either way they are the ids asked for one by one, in the
    order asked."""
    from clipsearch.index import columns

    root = tmp_path / "clips"
    for k, clip_id in enumerate(ids):
        write_clip(root / f"c{k}.md", title=f"Clip {k}", id=clip_id)
    update_index([str(root)], str(tmp_path / "ix"))
    snap = Snapshot(str(tmp_path / "ix"))
    try:
        docs = [len(ids) - 1, 0, 2, 2, 1]
        one_by_one = [snap.clip_ids([d])[0] for d in docs]
        assert set(one_by_one) == set(ids)
        monkeypatch.setattr(columns, "_MANY_IDS", 0)
        assert snap.clip_ids(docs) == one_by_one
    finally:
        snap.close()
