"""A small write (an update below the bulk threshold, a small fresh build) goes
through the fresh segment writer when its commit merges no segment, and through
Whoosh's own writer when it does: either way the index answers as the other
writer's would."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import write_clip, write_corpus
from whoosh import index

from clipsearch import open_index, update_index
from clipsearch.index import fresh_segment
from clipsearch.index import writer as writing_session
from clipsearch.index.schema import INDEX_NAME
from clipsearch.ingest import discover


@pytest.fixture(autouse=True)
def _no_racy_files(monkeypatch: pytest.MonkeyPatch) -> None:
    """No file counts as just written: a racy file is re-added once it settles, so
    which runs re-add it (and so the segments these tests compare) would depend on
    how fast the runs follow each other."""
    monkeypatch.setattr(discover, "RACY_WINDOW_NS", 0)


def _answers(path: Path) -> list:
    with open_index(path) as idx:
        out = []
        for q in ("wind", "vaccine", "vacine rollout", "harbour", ""):
            r = idx.search(q, limit=100)
            # ids of clips without one derive from their path, which differs here
            out.append(sorted((h.title, h.score, h.topics) for h in r.hits))
            out.append((r.total, r.facets, r.corrections))
        return out


def _segments(path: Path) -> list[int]:
    ix = index.open_dir(str(path), indexname=INDEX_NAME)
    try:
        return sorted(s.doc_count_all() for s in ix._segments())
    finally:
        ix.close()


def _updates(root: Path, path: Path, rounds: int) -> None:
    """Build, then `rounds` updates of a few added, changed and removed clips."""
    assert update_index([root], path).ok
    for k in range(rounds):
        write_clip(root / "wind" / f"w{k}.md", title=f"Wind farm {k} opens", topics=["Energy"])
        write_clip(root / "wind" / "changing.md", title=f"Wind turbine {k} harbour", body=f"v{k}")
        if k == 1:
            next(root.glob("vaccine/*.md")).unlink()
        assert update_index([root], path).ok


@pytest.mark.parametrize("rounds", [2, 6], ids=["no merge", "segments merged"])
def test_small_updates_answer_as_whooshs_own_writer_would(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rounds: int
) -> None:
    made: list[type] = []
    real = fresh_segment.FreshSegmentWriter.__init__

    def recording(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        made.append(type(self))
        real(self, *args, **kwargs)

    monkeypatch.setattr(fresh_segment.FreshSegmentWriter, "__init__", recording)
    _updates(write_corpus(tmp_path / "a"), tmp_path / "fresh", rounds)
    assert made, "no write went through the fresh segment writer"
    with monkeypatch.context() as m:
        m.setattr(fresh_segment, "supported", lambda *_a, **_k: False)
        made.clear()
        _updates(write_corpus(tmp_path / "b"), tmp_path / "whoosh", rounds)
        assert not made
    assert _segments(tmp_path / "fresh") == _segments(tmp_path / "whoosh")
    if rounds == 6:  # Whoosh's policy merged the small segments (5 or more of them)
        assert len(_segments(tmp_path / "fresh")) < rounds + 1
    assert _answers(tmp_path / "fresh") == _answers(tmp_path / "whoosh")


def test_the_merge_prediction_is_what_the_commit_then_does(tmp_path: Path) -> None:
    """Before each of several small updates, `_merges_at_commit` says whether the
    commit will merge segments; the commit's segment count then agrees."""
    root = write_corpus(tmp_path / "clips")
    path = tmp_path / "index"
    assert update_index([root], path).ok
    seen = set()
    for k in range(8):
        ix = index.open_dir(str(path), indexname=INDEX_NAME)
        try:
            merges, before = writing_session._merges_at_commit(ix), len(ix._segments())
        finally:
            ix.close()
        write_clip(root / f"n{k}.md", title=f"Note {k}")
        assert update_index([root], path).ok
        after = len(_segments(path))
        assert (after < before + 1) == merges, (k, before, after)
        seen.add(merges)
    assert seen == {False, True}


def test_an_update_never_merges_segments_at_or_above_the_ceiling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whoosh's policy alone would, once there are enough segments, merge large
    ones too (a million-clip bulk build's segments into the next small update)."""
    root = write_corpus(tmp_path / "clips")
    path = tmp_path / "index"
    assert update_index([root], path).ok
    ix = index.open_dir(str(path), indexname=INDEX_NAME)
    (big,) = [s.segment_id() for s in ix._segments()]
    big_docs = ix._segments()[0].doc_count_all()
    ix.close()
    monkeypatch.setattr(writing_session, "MERGE_CEILING_DOCS", big_docs)
    sizes = []
    for k in range(12):
        write_clip(root / f"n{k}.md", title=f"Note {k}")
        assert update_index([root], path).ok
        ix = index.open_dir(str(path), indexname=INDEX_NAME)
        try:
            assert big in [s.segment_id() for s in ix._segments()]
            sizes.append(len(ix._segments()))
        finally:
            ix.close()
    assert any(b < a for a, b in zip(sizes, sizes[1:], strict=False))  # the small ones merged
    with open_index(path) as idx:
        assert idx.search("note", limit=0).total == 12
