"""Incremental indexing (sync.update_index): add, change, delete, skip, rebuild,
duplicate ids, several roots, files that go bad."""

from __future__ import annotations

import functools
import os
import shutil
from pathlib import Path

import pytest
from conftest import SEED, SEED_ID, write_clip

from clipsearch import open_index, update_index
from clipsearch.ingest.sync import StrictStop

T0 = 1_600_000_000 * 10**9  # a fixed mtime (ns) to start from


MARK = "syncdesk"  # a word in every clip these tests write, to list them all


def put(path: Path, **kwargs) -> Path:
    kwargs.setdefault("excerpt", f"Filed by the {MARK}.")
    return write_clip(path, **kwargs)


def titles(index: Path, query: str = MARK) -> list[str]:
    with open_index(index) as idx:
        return [h.title for h in idx.search(query, limit=100, exact=True).hits]


def ids(index: Path) -> set[str]:
    with open_index(index) as idx:
        return {h.id for h in idx.search(MARK, limit=1000).hits}


def paths(index: Path) -> set[str]:
    with open_index(index) as idx:
        return {h.path for h in idx.search(MARK, limit=1000).hits}


def count(index: Path) -> int:
    with open_index(index) as idx:
        return len(idx)


def five(root: Path) -> list[Path]:
    names = ["alpha", "bravo", "charlie", "delta", "echo"]
    return [
        put(
            root / f"{n}.md",
            title=f"{n.capitalize()} harbour report",
            webUrl=f"https://example.org/{n}",
            mtime_ns=T0,
        )
        for n in names
    ]


def bump(path: Path, seconds: int = 10) -> None:
    ns = path.stat().st_mtime_ns + seconds * 10**9
    os.utime(path, ns=(ns, ns))


# --------------------------------------------------------------------------- add / skip


def test_first_run_adds_everything(tmp_path):
    files = five(tmp_path / "clips")
    report = update_index([tmp_path / "clips"], tmp_path / "index")
    assert (report.added, report.updated, report.removed, report.unchanged) == (5, 0, 0, 0)
    assert report.ok and report.skipped == [] and report.rebuilt
    assert report.summary().startswith(
        "5 added, 0 updated, 0 removed, 0 unchanged, 0 skipped with errors in "
    )
    assert paths(tmp_path / "index") == {str(f) for f in files}


def test_second_run_skips_unchanged_files(tmp_path):
    five(tmp_path / "clips")
    update_index([tmp_path / "clips"], tmp_path / "index")
    report = update_index([tmp_path / "clips"], tmp_path / "index")
    assert (report.added, report.updated, report.removed, report.unchanged) == (0, 0, 0, 5)
    assert not report.rebuilt
    assert count(tmp_path / "index") == 5


def test_an_unchanged_run_writes_no_commit(tmp_path):
    """Nothing added, changed or removed: no new generation, so the derived data
    (columns, vocabulary, stories) stays that of the commit and no file is rewritten."""
    five(tmp_path / "clips")
    index = tmp_path / "index"
    update_index([tmp_path / "clips"], index)
    before = {p.name: p.stat().st_mtime_ns for p in index.iterdir()}
    report = update_index([tmp_path / "clips"], index)
    assert report.unchanged == 5 and report.ok
    assert {p.name: p.stat().st_mtime_ns for p in index.iterdir()} == before
    assert count(index) == 5


def test_an_unchanged_run_rewrites_missing_derived_data(tmp_path):
    """Without a new commit, derived data deleted since is still written again."""
    from clipsearch.index import derived, stories, vocabulary

    five(tmp_path / "clips")
    index = tmp_path / "index"
    update_index([tmp_path / "clips"], index)
    names = (derived.DERIVED_FILE, stories.STORIES_FILE, vocabulary.VOCABULARY_FILE)
    kept = {n: (index / n).read_bytes() for n in names}
    for n in names:
        (index / n).unlink()
    assert update_index([tmp_path / "clips"], index).unchanged == 5
    assert {n: (index / n).read_bytes() for n in names} == kept
    assert titles(index, "alpha") == ["Alpha harbour report"]


def test_unchanged_means_same_size_and_mtime(tmp_path):
    """The skip is a stat check: a same-size edit that keeps the mtime is not read."""
    files = five(tmp_path / "clips")
    update_index([tmp_path / "clips"], tmp_path / "index")
    files[0].write_text(files[0].read_text().replace("Alpha", "Omega"))
    os.utime(files[0], ns=(T0, T0))
    report = update_index([tmp_path / "clips"], tmp_path / "index")
    assert report.unchanged == 5 and report.updated == 0
    assert titles(tmp_path / "index", "alpha") == ["Alpha harbour report"]


def test_new_file_is_added(tmp_path):
    five(tmp_path / "clips")
    update_index([tmp_path / "clips"], tmp_path / "index")
    put(tmp_path / "clips" / "sub" / "foxtrot.md", title="Foxtrot lighthouse news")
    report = update_index([tmp_path / "clips"], tmp_path / "index")
    assert (report.added, report.updated, report.removed, report.unchanged) == (1, 0, 0, 5)
    assert titles(tmp_path / "index", "lighthouse") == ["Foxtrot lighthouse news"]


# --------------------------------------------------------------------------- change


def test_changed_file_is_reindexed_and_old_title_gone(tmp_path):
    files = five(tmp_path / "clips")
    update_index([tmp_path / "clips"], tmp_path / "index")
    assert titles(tmp_path / "index", "bravo") == ["Bravo harbour report"]

    put(files[1], title="Zanzibar spice market reopens", webUrl="https://example.org/bravo")
    bump(files[1])
    report = update_index([tmp_path / "clips"], tmp_path / "index")
    assert (report.added, report.updated, report.removed, report.unchanged) == (0, 1, 0, 4)
    assert titles(tmp_path / "index", "bravo") == []
    assert titles(tmp_path / "index", "zanzibar") == ["Zanzibar spice market reopens"]
    assert count(tmp_path / "index") == 5


def test_changed_file_with_a_new_id_replaces_the_old_document(tmp_path):
    files = five(tmp_path / "clips")
    index = tmp_path / "index"
    update_index([tmp_path / "clips"], index)
    old_ids = ids(index)
    put(files[2], title="Charlie moved", webUrl="https://example.org/charlie-v2")
    bump(files[2])
    report = update_index([tmp_path / "clips"], index)
    assert report.updated == 1
    new_ids = ids(index)
    assert len(new_ids) == 5
    assert len(old_ids - new_ids) == 1
    assert titles(index, "charlie") == ["Charlie moved"]


@pytest.mark.parametrize("n", [1, 3])
def test_touching_n_files_reindexes_exactly_those(tmp_path, n):
    files = five(tmp_path / "clips")
    update_index([tmp_path / "clips"], tmp_path / "index")
    for f in files[:n]:
        os.utime(f, ns=(T0 + 5 * 10**9, T0 + 5 * 10**9))
    report = update_index([tmp_path / "clips"], tmp_path / "index")
    assert (report.added, report.updated, report.removed, report.unchanged) == (0, n, 0, 5 - n)
    assert count(tmp_path / "index") == 5
    # ... and a further run is back to all unchanged.
    again = update_index([tmp_path / "clips"], tmp_path / "index")
    assert (again.updated, again.unchanged) == (0, 5)


# --------------------------------------------------------------------------- delete


def test_deleted_file_is_removed(tmp_path):
    files = five(tmp_path / "clips")
    update_index([tmp_path / "clips"], tmp_path / "index")
    files[3].unlink()
    report = update_index([tmp_path / "clips"], tmp_path / "index")
    assert (report.added, report.updated, report.removed, report.unchanged) == (0, 0, 1, 4)
    assert titles(tmp_path / "index", "delta") == []
    assert str(files[3]) not in paths(tmp_path / "index")


def test_deleted_folder_removes_its_files(tmp_path):
    five(tmp_path / "clips" / "a")
    put(tmp_path / "clips" / "b" / "x.md", title="Kept clip")
    update_index([tmp_path / "clips"], tmp_path / "index")
    shutil.rmtree(tmp_path / "clips" / "a")
    report = update_index([tmp_path / "clips"], tmp_path / "index")
    assert report.removed == 5
    assert titles(tmp_path / "index") == ["Kept clip"]


def test_renamed_file_keeps_one_document(tmp_path):
    files = five(tmp_path / "clips")
    index = tmp_path / "index"
    update_index([tmp_path / "clips"], index)
    target = tmp_path / "clips" / "renamed.md"
    files[0].rename(target)
    report = update_index([tmp_path / "clips"], index)
    assert (report.added, report.removed) == (1, 1)
    assert count(index) == 5
    assert str(target) in paths(index)


# --------------------------------------------------------------------------- rebuild


def test_rebuild_starts_over(tmp_path):
    five(tmp_path / "clips")
    put(tmp_path / "other" / "z.md", title="Indexed from another root")
    index = tmp_path / "index"
    update_index([tmp_path / "clips"], index)
    update_index([tmp_path / "other"], index)
    assert count(index) == 6
    report = update_index([tmp_path / "clips"], index, rebuild=True)
    assert report.rebuilt
    assert (report.added, report.updated, report.removed, report.unchanged) == (5, 0, 0, 0)
    assert count(index) == 5
    assert titles(index, "another") == []


def test_rebuild_refuses_a_folder_that_is_not_an_index(tmp_path):
    five(tmp_path / "clips")
    not_index = tmp_path / "notes"
    not_index.mkdir()
    (not_index / "todo.txt").write_text("precious")
    from clipsearch import ClipsearchError

    with pytest.raises(ClipsearchError):
        update_index([tmp_path / "clips"], not_index)
    assert (not_index / "todo.txt").read_text() == "precious"


# --------------------------------------------------------------------------- duplicates


def _dup(root: Path, rel: str, title: str) -> Path:
    return put(root / rel, title=title, id="na-dup-1", mtime_ns=T0)


def test_same_id_later_path_wins_and_is_reported(tmp_path):
    root = tmp_path / "clips"
    early = _dup(root, "a/clip.md", "Early path loses")
    late = _dup(root, "b/clip.md", "Late path wins")
    index = tmp_path / "index"
    report = update_index([root], index)
    assert count(index) == 1
    assert titles(index) == ["Late path wins"]
    assert report.added == 1
    assert len(report.duplicates) == 1
    assert "na-dup-1" in report.duplicates[0]
    assert str(early) in report.duplicates[0] and str(late) in report.duplicates[0]
    assert "duplicate id" in report.summary()

    for _ in range(2):  # re-runs stay stable
        again = update_index([root], index)
        assert count(index) == 1
        assert titles(index) == ["Late path wins"]
        assert again.added == 0 and again.removed == 0 and again.updated == 0
        assert again.ok


def test_duplicate_added_later_with_an_earlier_path_loses(tmp_path):
    root = tmp_path / "clips"
    _dup(root, "b/clip.md", "Late path wins")
    index = tmp_path / "index"
    update_index([root], index)
    _dup(root, "a/clip.md", "Early path loses")
    report = update_index([root], index)
    assert titles(index) == ["Late path wins"]
    assert len(report.duplicates) == 1
    assert report.added == 0


def test_duplicate_added_later_with_a_later_path_wins(tmp_path):
    root = tmp_path / "clips"
    _dup(root, "a/clip.md", "Early path loses")
    index = tmp_path / "index"
    update_index([root], index)
    _dup(root, "b/clip.md", "Late path wins")
    update_index([root], index)
    assert titles(index) == ["Late path wins"]
    again = update_index([root], index)
    assert titles(index) == ["Late path wins"]
    assert count(index) == 1
    assert again.added == 0 and again.removed == 0


def test_deleting_the_winning_duplicate_brings_back_the_other(tmp_path):
    root = tmp_path / "clips"
    _dup(root, "a/clip.md", "Early path loses")
    late = _dup(root, "b/clip.md", "Late path wins")
    index = tmp_path / "index"
    update_index([root], index)
    late.unlink()
    update_index([root], index)
    assert titles(index) == ["Early path loses"]


# --------------------------------------------------------------------------- several roots


def test_files_from_another_root_are_not_removed(tmp_path):
    # "clips2" starts with "clips": a prefix test on strings would remove it.
    five(tmp_path / "clips")
    put(tmp_path / "clips2" / "other.md", title="Second root lighthouse")
    index = tmp_path / "index"
    update_index([tmp_path / "clips"], index)
    update_index([tmp_path / "clips2"], index)
    assert count(index) == 6
    report = update_index([tmp_path / "clips"], index)
    assert (report.removed, report.unchanged) == (0, 5)
    assert titles(index, "lighthouse") == ["Second root lighthouse"]
    report = update_index([tmp_path / "clips2"], index)
    assert (report.removed, report.unchanged) == (0, 1)
    assert count(index) == 6


def test_several_roots_in_one_run(tmp_path):
    five(tmp_path / "clips")
    put(tmp_path / "more" / "x.md", title="More lighthouse")
    index = tmp_path / "index"
    report = update_index([tmp_path / "clips", tmp_path / "more"], index)
    assert report.added == 6
    (tmp_path / "more" / "x.md").unlink()
    report = update_index([tmp_path / "clips", tmp_path / "more"], index)
    assert (report.removed, report.unchanged) == (1, 5)


def test_a_single_file_can_be_indexed(tmp_path):
    five(tmp_path / "clips")
    index = tmp_path / "index"
    report = update_index([SEED], index)
    assert report.added == 1
    update_index([tmp_path / "clips"], index)
    assert count(index) == 6
    with open_index(index) as idx:
        assert idx.get(SEED_ID)["path"] == str(SEED.resolve())
    # Updating the folder leaves the file indexed on its own alone, and vice versa.
    report = update_index([SEED], index)
    assert (report.unchanged, report.removed) == (1, 0)
    assert count(index) == 6


def test_path_ids_follow_the_file_not_the_root_named(tmp_path):
    """Issue 16 (3): ids derived from paths must not depend on which root was named, so
    a moved folder gives its URL-less, id-less clips new ids (and the old ones go)."""
    root = tmp_path / "clips"
    put(root / "sub" / "nourl.md", title="Clip without a URL")
    index = tmp_path / "index"
    update_index([root], index)
    before = ids(index)
    update_index([root / "sub"], index)  # the same file through another root
    assert ids(index) == before
    moved = tmp_path / "elsewhere" / "clips"
    moved.parent.mkdir()
    shutil.move(root, moved)
    update_index([root], index)  # the old place, now gone
    report = update_index([moved], index)
    assert report.added == 1
    assert len(ids(index)) == 1 and ids(index) != before


# --------------------------------------------------------------------------- bad files


def test_bad_file_is_skipped_and_the_rest_indexed(tmp_path):
    five(tmp_path / "clips")
    bad = tmp_path / "clips" / "bad.md"
    bad.write_text("---\ntitle: Bad\nquality: lots\n---\n")
    report = update_index([tmp_path / "clips"], tmp_path / "index")
    assert report.added == 5
    assert not report.ok
    assert [s.path for s in report.skipped] == [str(bad)]
    assert "quality" in report.skipped[0].reason and "lots" in report.skipped[0].reason
    assert "1 skipped with errors" in report.summary()


def test_file_that_goes_bad_is_removed_and_reported(tmp_path):
    files = five(tmp_path / "clips")
    index = tmp_path / "index"
    update_index([tmp_path / "clips"], index)
    files[4].write_text("---\ntitle: Echo harbour report\npublishedDateTime: soon\n---\n")
    bump(files[4])
    report = update_index([tmp_path / "clips"], index)
    assert report.removed == 1
    assert report.updated == 0
    assert [s.path for s in report.skipped] == [str(files[4])]
    assert "publishedDateTime" in report.skipped[0].reason
    assert titles(index, "echo") == []
    assert count(index) == 4
    # Fixed again: it comes back.
    put(files[4], title="Echo harbour report")
    bump(files[4], 20)
    report = update_index([tmp_path / "clips"], index)
    assert report.added == 1 and report.ok
    assert titles(index, "echo") == ["Echo harbour report"]


def test_strict_stops_and_leaves_the_index_as_it_was(tmp_path):
    files = five(tmp_path / "clips")
    index = tmp_path / "index"
    update_index([tmp_path / "clips"], index)
    put(tmp_path / "clips" / "new.md", title="New lighthouse")
    files[0].write_text("---\ntitle: [broken\n---\n")
    bump(files[0])
    with pytest.raises(StrictStop):
        update_index([tmp_path / "clips"], index, strict=True)
    assert count(index) == 5
    assert titles(index, "lighthouse") == []
    assert titles(index, "alpha") == ["Alpha harbour report"]


def test_warnings_are_collected(tmp_path):
    put(tmp_path / "clips" / "w.md", title="Single topic", topics="AI")
    report = update_index([tmp_path / "clips"], tmp_path / "index")
    assert report.ok
    assert len(report.warnings) == 1 and "topics" in report.warnings[0]


def test_missing_path_is_reported_not_fatal(tmp_path):
    five(tmp_path / "clips")
    report = update_index([tmp_path / "clips", tmp_path / "nope"], tmp_path / "index")
    assert report.added == 5
    assert [s.path for s in report.skipped] == [str(tmp_path / "nope")]


def test_report_to_dict(tmp_path):
    five(tmp_path / "clips")
    report = update_index([tmp_path / "clips"], tmp_path / "index")
    d = report.to_dict()
    assert set(d) == {
        "index",
        "added",
        "updated",
        "removed",
        "unchanged",
        "skipped",
        "duplicates",
        "warnings",
        "elapsed",
        "rebuilt",
    }
    assert d["added"] == 5 and d["index"] == str(tmp_path / "index")


# --------------------------------------------------------------------------- segments


# Regression: found at f167717 (Whoosh's multi-segment column reader skips segments
# without values), fixed in 61c6474 by reading columns per segment.
def test_listing_after_adding_an_undated_clip_incrementally(tmp_path):
    root = tmp_path / "clips"
    for n in range(3):
        put(root / f"d{n}.md", title=f"Dated {n}", date=f"2021-01-0{n + 1}", quality=n)
    index = tmp_path / "index"
    update_index([root], index)
    put(root / "undated.md", title="Undated, no quality")
    update_index([root], index)
    with open_index(index) as idx:
        listed = [h.title for h in idx.search("", limit=10).hits]
        assert listed == ["Dated 2", "Dated 1", "Dated 0", "Undated, no quality"]
        by_quality = [h.title for h in idx.search("", sort="quality").hits]
        assert by_quality[-1] == "Undated, no quality"
        assert idx.stats()["clips"] == 4


def test_date_filter_after_segments_without_dates(tmp_path):
    from datetime import datetime

    root = tmp_path / "clips"
    index = tmp_path / "index"
    put(root / "a.md", title="January clip", date="2021-01-15")
    update_index([root], index)
    put(root / "b.md", title="Undated clip")
    update_index([root], index)
    put(root / "c.md", title="June clip", date="2021-06-15")
    update_index([root], index)
    with open_index(index) as idx:
        found = idx.search(MARK, since=datetime(2021, 6, 1), limit=10)
        assert [h.title for h in found.hits] == ["June clip"]
        found = idx.search(MARK, until=datetime(2021, 2, 1), limit=10)
        assert [h.title for h in found.hits] == ["January clip"]


def test_a_strict_stop_leaves_the_index_folder_as_it_was(tmp_path):
    """Issue 8: a cancelled write removes its segment files (Whoosh left the .pst, .trm
    and column files of the cancelled segment behind)."""
    root = tmp_path / "clips"
    five(root)
    index = tmp_path / "index"
    update_index([root], index)
    before = sorted(p.name for p in index.iterdir())
    put(root / "new.md", title="A new clip that is parsed, then rolled back")
    (root / "zz_bad.md").write_text("---\ntitle: [unclosed\n---\n")
    with pytest.raises(StrictStop):
        update_index([root], index, strict=True)
    assert sorted(p.name for p in index.iterdir()) == before
    assert count(index) == 5


# ----------------------------------------------------------- cancelled writes leave nothing


def _listing(index: Path) -> list[str]:
    return sorted(p.name for p in index.iterdir())


def _five_indexed_forty_waiting(tmp_path: Path) -> tuple[Path, Path]:
    """(root, index): an index of five clips, and 40 new clips waiting under root."""
    root = tmp_path / "clips"
    five(root)
    index = tmp_path / "index"
    update_index([root], index)
    for n in range(40):
        put(root / f"new{n:02d}.md", title=f"New pier notice {n}", date="2022-03-01")
    return root, index


@pytest.fixture(params=["one process", "bulk", "bulk rebuild", "bulk rebuild, small segments"])
def cancelled(request, tmp_path, monkeypatch):
    """(root, index, listing, rebuild): an index of five clips and 40 new clips
    waiting under root, written in one process or by the multi-process bulk writer,
    whose workers read the files themselves in a rebuild (and with small segments
    finish one after every job of 4 files, so several are written when it stops)."""
    from clipsearch.index import bulk
    from clipsearch.ingest import sync

    root, index = _five_indexed_forty_waiting(tmp_path)
    if request.param != "one process":
        monkeypatch.setattr(sync, "BULK_THRESHOLD", 1)
    if request.param.endswith("small segments"):
        monkeypatch.setattr(bulk, "FILE_BATCH", 4)
        monkeypatch.setattr(bulk, "SEGMENT_POSTINGS", 1)
    return root, index, _listing(index), request.param.startswith("bulk rebuild")


def _assert_untouched(index: Path, listing: list[str], root: Path) -> None:
    assert _listing(index) == listing
    assert count(index) == 5 and titles(index, "pier") == []
    report = update_index([root], index)  # and the next run completes
    assert report.added == 40 and report.ok
    assert count(index) == 45


def test_a_strict_stop_of_a_bulk_write_leaves_the_folder_as_it_was(cancelled):
    root, index, listing, rebuild = cancelled
    bad = root / "zz_bad.md"
    bad.write_text("---\ntitle: [unclosed\n---\n")
    with pytest.raises(StrictStop, match="zz_bad.md"):
        update_index([root], index, strict=True, rebuild=rebuild)
    bad.unlink()
    _assert_untouched(index, listing, root)


def test_an_interrupted_run_leaves_the_folder_as_it_was(cancelled):
    root, index, listing, rebuild = cancelled

    def ctrl_c(done: int, total: int) -> None:
        if done == 30:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        update_index([root], index, progress=ctrl_c, rebuild=rebuild)
    _assert_untouched(index, listing, root)


@pytest.mark.parametrize("error", [KeyboardInterrupt(), OSError(28, "No space left on device")])
def test_a_commit_that_fails_or_is_interrupted_leaves_the_folder_as_it_was(
    cancelled, monkeypatch, error
):
    """Every segment is written, then the commit's table of contents fails (a full
    disk) or Ctrl-C lands: none of the new segment files stay."""
    from whoosh import writing

    from clipsearch.errors import StorageError

    root, index, listing, rebuild = cancelled

    def fail(self, segments):
        raise error

    with monkeypatch.context() as m:
        m.setattr(writing.SegmentWriter, "_commit_toc", fail)
        with pytest.raises(StorageError if isinstance(error, OSError) else KeyboardInterrupt):
            update_index([root], index, rebuild=rebuild)
    _assert_untouched(index, listing, root)


@pytest.mark.parametrize("rebuild", [False, True])
def test_a_writer_process_that_fails_stops_the_commit(tmp_path, monkeypatch, rebuild):
    """Whoosh committed without the segment of a worker that died, losing its clips
    silently; now the run fails (exit status 3 in the CLI) and writes nothing."""
    from whoosh import writing

    from clipsearch.errors import StorageError
    from clipsearch.ingest import sync

    root = tmp_path / "clips"
    five(root)
    index = tmp_path / "index"
    update_index([root], index)
    listing = _listing(index)
    for n in range(40):
        put(root / f"new{n:02d}.md", title=f"New pier notice {n}")
    monkeypatch.setattr(sync, "BULK_THRESHOLD", 1)
    parent = os.getpid()
    finalize = writing.SegmentWriter._finalize_segment

    def full_disk_in_workers(self):
        if os.getpid() != parent:
            raise OSError(28, "No space left on device")
        return finalize(self)

    with monkeypatch.context() as m:
        m.setattr(writing.SegmentWriter, "_finalize_segment", full_disk_in_workers)
        with pytest.raises(StorageError, match="No space left on device"):
            update_index([root], index, rebuild=rebuild)
    _assert_untouched(index, listing, root)


@pytest.mark.parametrize("small_segments", [False, True], ids=["one segment each", "several"])
def test_a_bulk_build_whose_workers_read_the_files_reports_what_one_process_does(
    tmp_path, monkeypatch, small_segments
):
    """A fresh bulk build's workers parse the clips themselves; the parent still keeps
    the later path of a duplicate id, reports every bad file and warning in order,
    and the index answers as one written in one process (scores, stories, words).
    So does one whose workers finish a segment whenever it holds enough postings and
    start another (here after every job of 4 files)."""
    from conftest import write_corpus

    from clipsearch.index import bulk as bulk_writer
    from clipsearch.ingest import sync

    if small_segments:
        monkeypatch.setattr(bulk_writer, "FILE_BATCH", 4)
        monkeypatch.setattr(bulk_writer, "SEGMENT_POSTINGS", 1)

    root = write_corpus(tmp_path / "clips")
    _dup(root, "dup/a.md", "Early pier path loses")
    _dup(root, "dup/b.md", "Late pier path wins")
    put(root / "warn.md", title="Single topic pier", topics="AI")
    (root / "bad1.md").write_text("---\ntitle: [unclosed\n---\n")
    (root / "zz" / "bad2.md").parent.mkdir()
    (root / "zz" / "bad2.md").write_text("no frontmatter\n")
    one = update_index([root], tmp_path / "one")
    monkeypatch.setattr(sync, "BULK_THRESHOLD", 1)
    seen: list[int] = []
    bulk = update_index([root], tmp_path / "bulk", progress=lambda done, total: seen.append(done))
    # every file counted once, in order: 2 bad, 1 duplicate beside those added
    assert seen == list(range(1, len(seen) + 1)) and seen[-1] == bulk.added + 3
    for report in (one, bulk):
        report.elapsed = 0.0
        report.index = ""
    assert bulk.to_dict() == one.to_dict()
    assert len(bulk.skipped) == 2 and len(bulk.duplicates) == 1 and len(bulk.warnings) == 1
    derived = [p.name for p in (tmp_path / "bulk").iterdir() if p.suffix == ".vpst"]
    assert len(derived) > 2 if small_segments else 1 <= len(derived) <= 2

    assert _answers(tmp_path / "bulk") == _answers(tmp_path / "one")


def _answers(index: Path) -> list:
    """What the index answers: hits with scores, stories and languages; totals, facets
    and corrections, for a few searches."""
    with open_index(index) as idx:
        out = []
        for q in ("pier", "vaccine", "vacine", "harbour report", ""):
            r = idx.search(q, limit=100, group=bool(q))
            out.append(sorted((h.id, h.score, h.story, h.copies, h.language) for h in r.hits))
            out.append((r.total, r.facets, r.corrections))
        return out


def test_a_bulk_update_that_only_adds_has_the_workers_read_the_files(tmp_path, monkeypatch):
    """An update whose files are all new is read by the bulk writer's workers, as a
    first build is, and does what one process does: a new file with a later path than
    an indexed one of its id replaces it, bad files and warnings are reported in order,
    and the index answers the same.  A new file whose id an indexed file with a later
    path holds is dropped (the worker had added it: it goes with a second commit, so
    until segments merge it still counts in word statistics, as any deleted document
    does).  An update with a changed file is read by the parent."""
    from conftest import write_corpus

    from clipsearch.ingest import discover, sync

    monkeypatch.setattr(discover, "RACY_WINDOW_NS", 0)  # else just written files are re-read
    root = write_corpus(tmp_path / "clips")
    _dup(root, "dup/b.md", "Indexed later pier path wins")
    put(root / "dup2" / "a.md", title="Indexed earlier pier path loses", id="na-dup-2")
    first = tmp_path / "first"
    assert update_index([root], first).ok
    put(root / "dup2" / "b.md", title="New later pier path wins", id="na-dup-2")
    put(root / "warn.md", title="Single topic pier", topics="AI")
    (root / "bad1.md").write_text("---\ntitle: [unclosed\n---\n")
    for n in range(6):
        put(root / "new" / f"n{n}.md", title=f"New harbour report {n}", date="2022-03-02")
    parent, read_here = os.getpid(), []
    real_read = sync.read_outcome

    def read_outcome(path, **kwargs):
        if os.getpid() == parent:
            read_here.append(path)
        return real_read(path, **kwargs)

    monkeypatch.setattr(sync, "read_outcome", read_outcome)

    def both(step: str, new_files: int) -> dict:
        reports = {}
        for name, threshold in (("one", 10**9), ("bulk", 1)):
            index = tmp_path / f"{step}-{name}"
            shutil.copytree(first, index)
            monkeypatch.setattr(sync, "BULK_THRESHOLD", threshold)
            read_here.clear()
            reports[name] = update_index([root], index)
            assert len(read_here) == (new_files if name == "one" else 0)  # the workers read
            reports[name].elapsed, reports[name].index = 0.0, ""
        assert reports["bulk"].to_dict() == reports["one"].to_dict()
        assert titles(tmp_path / f"{step}-bulk", "pier") == titles(tmp_path / f"{step}-one", "pier")
        return reports

    reports = both("adds", 9)
    assert reports["bulk"].added == 8 and len(reports["bulk"].duplicates) == 1
    assert len(reports["bulk"].skipped) == 1 and len(reports["bulk"].warnings) == 1
    assert "New later pier path wins" in titles(tmp_path / "adds-bulk", "pier")
    assert "Indexed earlier pier path loses" not in titles(tmp_path / "adds-bulk", "pier")
    assert _answers(tmp_path / "adds-bulk") == _answers(tmp_path / "adds-one")

    _dup(root, "dup/a.md", "New earlier pier path loses")
    reports = both("loses", 10)
    assert len(reports["bulk"].duplicates) == 2
    assert count(tmp_path / "loses-bulk") == count(tmp_path / "loses-one")
    assert "New earlier pier path loses" not in titles(tmp_path / "loses-bulk", "pier")

    put(root / "new" / "n0.md", title="Changed harbour report", date="2022-03-03")
    put(root / "new" / "n9.md", title="Another harbour report", date="2022-03-03")
    read_here.clear()
    changed = update_index([root], tmp_path / "loses-bulk")
    assert changed.updated == 1 and changed.added == 1
    # every file this run reads, here: the changed one, the new one, and those no run
    # could index (a bad file, the losing duplicates), read again on every run
    assert {str(root / "new" / f"n{n}.md") for n in (0, 9)} | {str(root / "bad1.md")} <= set(
        read_here
    )


def _live_children() -> list[int]:
    """This process's children that have not ended (Linux /proc; zombies excluded)."""
    me, out = os.getpid(), []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == me and fields[0] != "Z":
                out.append(int(entry))
    return out


@pytest.mark.parametrize(
    "rebuild, sigterm, thread",
    [
        (False, False, False),
        (True, False, False),
        (False, True, False),
        (False, False, True),
    ],
    ids=["bulk", "bulk rebuild", "parent ignores SIGTERM", "another thread running"],
)
def test_ctrl_c_while_a_worker_is_forked_leaves_no_worker_and_no_files(
    tmp_path, monkeypatch, rebuild, sigterm, thread
):
    """Ctrl-C landing between a worker's fork and its registration left a worker the
    cancel could not see: it went on writing its segment after the clean-up.  The
    fork is now shielded from Ctrl-C, which lands once the worker is known.  A
    SIGTERM handler of the host process (here one ignoring it) is not the worker's:
    the cancel's SIGTERM still ends it.  With another thread running (a queue's
    feeder thread, a host application's), blocking Ctrl-C in the forking thread
    only sent it to the other thread, and it interrupted the fork all the same."""
    import multiprocessing
    import signal

    from clipsearch.ingest import sync

    if sigterm:
        previous = signal.signal(signal.SIGTERM, lambda *_: None)
        restore_sigterm = functools.partial(signal.signal, signal.SIGTERM, previous)
    else:
        restore_sigterm = None

    root, index = _five_indexed_forty_waiting(tmp_path)
    listing = _listing(index)
    others = set(_live_children())  # what other tests' fixtures keep running
    monkeypatch.setattr(sync, "BULK_THRESHOLD", 1)
    fork = multiprocessing.Process._Popen
    sent: list[bool] = []

    def fork_then_ctrl_c(process):
        popen = fork(process)
        if not sent:
            sent.append(True)
            os.kill(os.getpid(), signal.SIGINT)  # before `start` records the child
        return popen

    import threading

    stop = threading.Event()
    other = threading.Thread(target=stop.wait, daemon=True)
    if thread:
        other.start()
    try:
        with monkeypatch.context() as m:
            m.setattr(multiprocessing.Process, "_Popen", staticmethod(fork_then_ctrl_c))
            with pytest.raises(KeyboardInterrupt):
                update_index([root], index, rebuild=rebuild)
    finally:
        stop.set()
        if thread:
            other.join()
        if restore_sigterm is not None:
            restore_sigterm()
    assert sent
    assert set(_live_children()) - others == set()
    _assert_untouched(index, listing, root)


def test_what_the_index_remembers_of_each_file_is_what_its_columns_hold(tmp_path):
    """The writer reads the path, stat and id columns in one read each: the same
    values Whoosh's own column readers give, for plain and racy (digest) stats."""
    from clipsearch.index import indexed_files, storage

    five(tmp_path / "clips")
    put(tmp_path / "clips" / "fresh.md", title="Just written", webUrl="https://example.org/f")
    index = tmp_path / "index"
    update_index([tmp_path / "clips"], index)
    want = {}
    with storage.open_whoosh(str(index)).reader() as reader:
        for leaf, _offset in storage.leaves(reader):
            cols = [list(leaf.column_reader(n)) for n in ("path", "stat", "id")]
            for path, stat, clip_id in zip(*cols, strict=True):
                want[path] = (stat.decode("utf-8"), clip_id)
    got = indexed_files(str(index))
    assert len(got) == 6 and any(f.digest for f in got.values())  # one racy file
    assert {
        p: (":".join(x for x in (f.stat, f.digest, f.via) if x) if f.digest else f.stat, f.id)
        for p, f in got.items()
    } == want


@pytest.mark.parametrize("sharded", [False, True])
@pytest.mark.parametrize("was_on", [True, False])
def test_a_run_pauses_the_garbage_collector_and_restores_it(tmp_path, sharded, was_on):
    """The collector is off while a run works (its full passes over a run's per-file
    objects are pure cost) and as it was after, also when the run fails."""
    import gc

    from clipsearch.index import writer

    root = tmp_path / "clips"
    write_clip(root / "a.md", title="Harbour strike ends", id="a")
    seen: list[bool] = []
    real = writer.Writer.commit

    def commit(self):
        seen.append(gc.isenabled())
        return real(self)

    shards = {"shards": 2} if sharded else {}
    was = gc.isenabled()
    (gc.enable if was_on else gc.disable)()
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(writer.Writer, "commit", commit)
            assert update_index([root], tmp_path / "index", **shards).ok
            assert gc.isenabled() is was_on
            assert seen and not any(seen)
            with pytest.raises(StrictStop):  # a failed run restores it too
                update_index([root / "missing"], tmp_path / "index", strict=True, **shards)
            assert gc.isenabled() is was_on
    finally:
        (gc.enable if was else gc.disable)()
