"""Crash safety and damaged indexes.

A real `python -m clipsearch index` is killed with SIGKILL at several points of a
bulk run (parsing, writing segments, committing), on a fresh index and on one that
already holds clips.  Afterwards the index must open and hold exactly its last
commit, and the next run must finish normally and contain everything.

Kill points are events seen from outside (worker processes started, segment column
files written, workers gone while the parent commits, the new TOC on disk), not fixed
delays, so the test
means the same on a slow CI machine and a fast laptop.  A run that finishes before
its kill point is simply a run that was not interrupted: the assertions hold for
both outcomes (they compare with the commit generation on disk).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from clipsearch import open_index, update_index
from clipsearch.index import Snapshot, derived

from .conftest import (
    BAD_CORPUS,
    N_NEW,
    N_OLD,
    TRACEBACK,
    BulkCorpus,
    Procs,
    alive,
    assert_one_line_error,
    children,
    cli,
    cli_raw,
    count,
    doc_count,
    generation,
    kill_and_wait,
    kill_group,
    lock_held,
    lock_holders,
    run,
    wait_for,
)


def _files(index: Path, suffix: str) -> set[str]:
    try:
        return {n for n in os.listdir(index) if n.endswith(suffix)}
    except FileNotFoundError:
        return set()


def _kill_point(point: str, index: Path, proc: subprocess.Popen[str]) -> bool:
    """Wait for `point` of the run `proc`; True when it was reached while it ran."""
    if point == "parsing":  # workers forked, the parent is reading and feeding clips
        reached = wait_for(lambda: bool(children(proc.pid)), 30, proc)
        time.sleep(0.1)
    elif point == "writing":  # workers write their segments' columns
        cols = _files(index, ".col")
        reached = wait_for(lambda: bool(_files(index, ".col") - cols), 30, proc, poll=0.004)
    elif point == "commit":  # workers done and reaped: the parent writes the commit
        reached = wait_for(lambda: bool(children(proc.pid)), 30, proc)
        reached = reached and wait_for(lambda: not children(proc.pid), 30, proc, poll=0.002)
    elif point == "derived data":  # a segment's postings arrays (as it is finished)
        before = _files(index, ".vpst")
        reached = wait_for(
            lambda: bool(_files(index, ".vpst.tmp") | (_files(index, ".vpst") - before)),
            60,
            proc,
            poll=0.002,
        )
    elif point == "after toc":  # the new commit is on disk; vocabulary not yet saved
        gen = generation(index)
        reached = wait_for(lambda: generation(index) > gen, 30, proc, poll=0.003)
    else:
        raise ValueError(point)
    return reached and proc.poll() is None


def _assert_last_commit(index: Path, gen_before: int, before: int) -> None:
    """The index opens and holds exactly one commit: the old one or the finished run."""
    with open_index(index) as idx:
        n = len(idx)
        old = idx.search("oldbatch", limit=0, exact=True, facets=False).total
        new = idx.search("newbatch", limit=0, exact=True, facets=False).total
        hit = idx.search("w17xoldbatch", exact=True).hits if before else []
    if generation(index) == gen_before:
        assert (n, old, new) == (before, before, 0)
    else:
        assert (n, old, new) == (N_OLD + N_NEW, N_OLD, N_NEW)
    if before:
        assert [h.id for h in hit] == ["oldbatch-17"]


def _assert_next_run_completes(bulk: BulkCorpus, index: Path) -> None:
    proc = run("index", bulk.clips, "--index", index, "--json", timeout=120)
    assert TRACEBACK not in proc.stderr, proc.stderr[-2000:]
    assert proc.returncode == 0, proc.stderr[-500:]
    assert doc_count(index) == N_OLD + N_NEW
    assert count(index, "oldbatch") == N_OLD
    assert count(index, "newbatch") == N_NEW
    with open_index(index) as idx:
        last = N_NEW - 1
        assert [h.id for h in idx.search(f"w{last}xnewbatch", exact=True).hits] == [
            f"newbatch-{last}"
        ]
        # typo tolerance still has a vocabulary after the crash
        assert idx.search("ferreis", limit=1).corrections == {"ferreis": "ferries"}
    again = update_index([bulk.clips], index)  # and the one after: nothing left to do
    assert (again.added, again.updated, again.removed) == (0, 0, 0)
    assert again.unchanged == N_OLD + N_NEW and again.ok


@pytest.mark.parametrize("point", ["parsing", "writing", "commit", "after toc", "derived data"])
def test_kill_during_an_update_keeps_the_last_commit(
    point: str, bulk: BulkCorpus, tmp_path: Path, procs: Procs
) -> None:
    index = tmp_path / "index"
    shutil.copytree(bulk.old_index, index)
    gen_before = generation(index)
    proc = procs.start("index", bulk.clips, "--index", index, "-q")
    interrupted = _kill_point(point, index, proc)
    kill_and_wait(proc)  # the indexer and its workers, like a power cut
    if point == "parsing":
        assert interrupted, "the run ended before its workers were seen"
    assert not lock_held(index), lock_holders(index)
    _assert_last_commit(index, gen_before, N_OLD)
    _assert_next_run_completes(bulk, index)
    if point == "derived data":  # and the derived data is whole again, and used
        snap = Snapshot(str(index))
        try:
            reader = snap._reader
            assert snap._postings.uses_derived()
            key = (reader.generation(), reader.doc_count_all(), derived.segment_list(reader))
            assert derived.load(str(index), *key) is not None
        finally:
            snap.close()
        assert not _files(index, ".tmp")


def test_kill_during_a_first_build_leaves_no_index_that_looks_valid(
    bulk: BulkCorpus, tmp_path: Path, procs: Procs
) -> None:
    index = tmp_path / "index"
    proc = procs.start("index", bulk.clips, "--index", index, "-q")
    assert _kill_point("parsing", index, proc)
    kill_and_wait(proc)
    # Issue 16 (9): an unfinished first build is no index, not an empty one that looks valid.
    res = cli("search", "oldbatch", "--index", index)
    assert res.exit_code == 2
    assert_one_line_error(res.stderr, str(index), "did not finish")


# Regression test (was a bug): index._indexed_files (via Writer.files) calls column_reader on an
# index with no segments: a first build killed before its commit leaves an empty index and every
# later incremental run dies with NotImplementedError
def test_kill_during_a_first_build_then_next_run_completes(
    bulk: BulkCorpus, tmp_path: Path, procs: Procs
) -> None:
    index = tmp_path / "index"
    proc = procs.start("index", bulk.clips, "--index", index, "-q")
    assert _kill_point("parsing", index, proc)
    kill_and_wait(proc)
    _assert_next_run_completes(bulk, index)


# Regression test (was a bug): killing only the indexer (kill -9 PID, the OOM killer) during a
# bulk run leaves Whoosh's forked worker processes blocked forever on their job queue; they
# inherited the flock on clips_WRITELOCK, so the index stays locked
def test_kill_of_the_indexer_alone_does_not_leave_the_index_locked(
    bulk: BulkCorpus, tmp_path: Path, procs: Procs
) -> None:
    index = tmp_path / "index"
    shutil.copytree(bulk.old_index, index)
    proc = procs.start("index", bulk.clips, "--index", index, "-q")
    assert _kill_point("parsing", index, proc)
    workers = children(proc.pid)
    procs.adopt(workers)  # killed at teardown, by pid
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(30)
    _assert_last_commit(index, generation(index), N_OLD)
    nxt = run("index", bulk.clips, "--index", index, "--lock-timeout", "2", timeout=120)
    assert nxt.returncode == 0, nxt.stderr
    assert not any(alive(pid) for pid in workers)


def test_ctrl_c_during_an_update_keeps_the_last_commit(
    bulk: BulkCorpus, tmp_path: Path, procs: Procs
) -> None:
    index = tmp_path / "index"
    shutil.copytree(bulk.old_index, index)
    gen_before = generation(index)
    proc = procs.start("index", bulk.clips, "--index", index, "-q")
    assert _kill_point("parsing", index, proc)
    kill_group(proc, signal.SIGINT)  # what a terminal's Ctrl-C does
    proc.communicate(timeout=30)
    assert proc.returncode != 0
    assert generation(index) == gen_before
    _assert_last_commit(index, gen_before, N_OLD)
    assert not lock_held(index), lock_holders(index)
    _assert_next_run_completes(bulk, index)


# Regression test (issue 8): a cancelled write left its segment files (.pst, .trm, .col)
# in the index folder; Ctrl-C in the commit (workers done) left the whole new segments
@pytest.mark.parametrize("point", ["parsing", "writing", "commit"])
def test_ctrl_c_leaves_the_index_folder_as_it_was(
    bulk: BulkCorpus, tmp_path: Path, procs: Procs, point: str
) -> None:
    index = tmp_path / "index"
    shutil.copytree(bulk.old_index, index)
    listing = sorted(os.listdir(index))
    gen_before = generation(index)
    proc = procs.start("index", bulk.clips, "--index", index, "-q")
    reached = _kill_point(point, index, proc)
    if point == "parsing":  # always reached, as every test above asserts
        assert reached, "the run ended before its workers were seen"
    # "writing" and "commit" are short windows a run can pass between two polls: then
    # it has committed, and the branch below checks what a finished run leaves.
    kill_group(proc, signal.SIGINT)
    proc.communicate(timeout=30)
    if generation(index) != gen_before:
        # Ctrl-C landed once the commit was made (possible at "commit"), or the run
        # ended first: then that commit is whole, nothing of the write is left beside
        # it, and the next run has the rest to do; nothing is lost either way.
        assert doc_count(index) in (N_OLD, N_OLD + N_NEW)
        assert not [n for n in os.listdir(index) if n.endswith(".tmp")]
        _assert_next_run_completes(bulk, index)
        return
    assert proc.returncode == 130
    assert sorted(os.listdir(index)) == listing
    _assert_next_run_completes(bulk, index)


# Regression test (was a bug): Ctrl-C during a bulk run prints a KeyboardInterrupt traceback from
# every Whoosh worker process (multiprocessing prints them; the parent says 'Aborted!')
def test_ctrl_c_prints_no_traceback(bulk: BulkCorpus, tmp_path: Path, procs: Procs) -> None:
    index = tmp_path / "index"
    shutil.copytree(bulk.old_index, index)
    proc = procs.start("index", bulk.clips, "--index", index, "-q")
    assert _kill_point("parsing", index, proc)
    kill_group(proc, signal.SIGINT)
    _out, err = proc.communicate(timeout=30)
    assert TRACEBACK not in err, err[-1500:]
    assert len(err.strip().splitlines()) <= 1, err


# --------------------------------------------------------------------------- damaged index


GOOD_FILES = ["good_facial.md", "good_vaccine.txt", "nested/good_norway.md"]


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(clips, index): three good clips, indexed in two commits (two segments)."""
    base = tmp_path_factory.mktemp("small")
    clips = base / "clips"
    for rel in GOOD_FILES:
        (clips / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(BAD_CORPUS / rel, clips / rel)
    index = base / "index"
    update_index([clips / "good_facial.md"], index)
    update_index([clips], index)
    assert doc_count(index) == 3
    return clips, index


def _truncate(path: Path, size: int) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: size if size >= 0 else len(data) // 2])


def _segment_file(index: Path) -> Path:
    """The first segment's main file: the compound `clips_<id>.seg`, or its postings
    `clips_<id>.pst` when segments are written as separate files."""
    found = sorted(index.glob("clips_*.seg")) or sorted(index.glob("clips_*.pst"))
    assert found, f"no segment file in {sorted(p.name for p in index.iterdir())}"
    return found[0]


def _damage(index: Path, kind: str) -> None:
    tocs = sorted(index.glob("_clips_*.toc"))
    assert tocs
    if kind == "missing segment file":
        _segment_file(index).unlink()
    elif kind == "segment file cut in half":
        _truncate(_segment_file(index), -1)
    elif kind == "segment file cut to 100 bytes":
        _truncate(_segment_file(index), 100)
    elif kind == "segment file missing its last 50 bytes":
        seg = _segment_file(index)
        _truncate(seg, seg.stat().st_size - 50)
    elif kind == "truncated toc":
        _truncate(tocs[-1], 20)
    elif kind == "empty toc":
        _truncate(tocs[-1], 0)
    elif kind == "missing toc":
        tocs[-1].unlink()
    elif kind == "schema version 1":
        (index / "clipsearch.json").write_text('{"schema_version": 1, "engine": "whoosh-2.7"}')
    elif kind == "clipsearch.json garbage":
        (index / "clipsearch.json").write_text("{not json")
    elif kind == "clipsearch.json a list":
        (index / "clipsearch.json").write_text("[1]")
    else:
        raise ValueError(kind)


#: Segment damage was a bug: it surfaced later (Snapshot.__init__, Snapshot.stored,
#: Writer.files, update_document) as a raw exception and traceback instead of
#: IndexIncompatibleError, and --rebuild died on it too because it read the old segments
#: (update_document) and only recreated the folder when the TOC failed to open.
DAMAGE = [
    "missing segment file",
    "segment file cut in half",
    "segment file cut to 100 bytes",
    "segment file missing its last 50 bytes",
    "truncated toc",
    "empty toc",
    "missing toc",
    "schema version 1",
    "clipsearch.json garbage",
    "clipsearch.json a list",
]


@pytest.mark.parametrize("kind", DAMAGE)
def test_damaged_index_gives_one_line_saying_how_to_rebuild(
    kind: str, small: tuple[Path, Path], tmp_path: Path
) -> None:
    """Every command either works (a lazily read segment file may not be needed) or
    exits 2 with one line saying how to rebuild; none prints a traceback, and the
    damage is reported by at least one.  A bad TOC or clipsearch.json stops them all."""
    clips, template = small
    index = tmp_path / "index"
    shutil.copytree(template, index)
    _damage(index, kind)
    codes = []
    for args in (
        ["search", "vaccine"],
        ["search"],  # lists every clip: reads every segment's stored fields
        ["stats"],
        ["facets", "topic"],
        ["index", str(clips)],  # last: it may write a new commit
    ):
        res = cli_raw(*args, "--index", str(index))
        assert res.exception is None or isinstance(res.exception, SystemExit), (
            f"{' '.join(args)}: {type(res.exception).__name__}: {res.exception}"
        )
        assert TRACEBACK not in res.output
        assert res.exit_code in (0, 2), (args, res.output)
        if res.exit_code == 2:
            assert_one_line_error(res.stderr, str(index), "clipsearch index --rebuild")
            assert res.stdout == ""
        codes.append(res.exit_code)
    assert 2 in codes, "the damage went unnoticed"
    if "toc" in kind or "json" in kind:
        assert codes == [2] * len(codes)


@pytest.mark.parametrize("kind", DAMAGE)
def test_rebuild_recovers_a_damaged_index(
    kind: str, small: tuple[Path, Path], tmp_path: Path
) -> None:
    clips, template = small
    index = tmp_path / "index"
    shutil.copytree(template, index)
    _damage(index, kind)
    res = cli_raw("index", str(clips), "--index", str(index), "--rebuild")
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    assert res.exit_code == 0, res.output
    assert res.stdout.startswith("3 added, 0 updated, 0 removed, 0 unchanged")
    assert doc_count(index) == 3
    assert count(index, "booster") == 1
    assert cli("index", str(clips), "--index", str(index)).exit_code == 0


def test_missing_clipsearch_json_means_no_index(small: tuple[Path, Path], tmp_path: Path) -> None:
    clips, template = small
    index = tmp_path / "index"
    shutil.copytree(template, index)
    (index / "clipsearch.json").unlink()
    res = cli("search", "vaccine", "--index", index)
    assert res.exit_code == 2
    assert_one_line_error(res.stderr, str(index), "clipsearch index")
    # indexing replaces the leftover Whoosh files (the folder holds no other data)
    assert cli("index", clips, "--index", index).exit_code == 0
    assert doc_count(index) == 3


def test_damaged_vocabulary_is_harmless(small: tuple[Path, Path], tmp_path: Path) -> None:
    clips, template = small
    index = tmp_path / "index"
    shutil.copytree(template, index)
    (index / "vocabulary.bin").write_text("{truncated")
    res = cli("search", "vaccine", "--index", index)
    assert res.exit_code == 0 and "1-1 of 1 clips" in res.stdout
    (clips / "extra.md").write_text("---\ntitle: Vaccination drive ends\n---\n")
    try:
        assert cli("index", clips, "--index", index).exit_code == 0
        with open_index(index) as idx:
            assert idx.search("vacine").corrections == {"vacine": "vaccine"}
    finally:
        (clips / "extra.md").unlink()


def test_leftover_lock_file_from_a_dead_process_does_not_block(
    small: tuple[Path, Path], tmp_path: Path
) -> None:
    """A lock is a flock, not the file's existence: the file a killed run left is free."""
    clips, template = small
    index = tmp_path / "index"
    shutil.copytree(template, index)
    (index / "clips_WRITELOCK").write_text("")
    started = time.monotonic()
    res = cli("index", clips, "--index", index, "--lock-timeout", "5")
    assert res.exit_code == 0
    assert time.monotonic() - started < 4
