"""Two indexers and a searcher on one index at once.

The second indexer waits up to --lock-timeout for the first: it then either fails
with one line (exit 2) or runs after the first has finished.  Searches see the last
commit the whole time; nothing is lost or duplicated.

To make "while the first indexer holds the lock" deterministic, the first indexer is
frozen (SIGSTOP to its process group) once it holds the lock and has forked its
workers, and thawed (SIGCONT) when the test is done with it.
"""

from __future__ import annotations

import json
import shutil
import signal
import threading
import time
from pathlib import Path

import pytest

from clipsearch import open_index, update_index

from .conftest import (
    N_MORE,
    N_NEW,
    N_OLD,
    TRACEBACK,
    BulkCorpus,
    Procs,
    assert_one_line_error,
    children,
    count,
    doc_count,
    generation,
    kill_group,
    lock_held,
    run,
    wait_for,
    write_clips,
)


@pytest.fixture
def work_index(bulk: BulkCorpus, tmp_path: Path) -> Path:
    target = tmp_path / "index"
    shutil.copytree(bulk.old_index, target)
    return target


def _frozen_first_indexer(procs: Procs, bulk: BulkCorpus, index: Path):
    """Start indexer A over clips/ and freeze it mid-run, holding the write lock."""
    first = procs.start("index", bulk.clips, "--index", index, "-q", "--json")
    assert wait_for(lambda: bool(children(first.pid)) and lock_held(index), 30, first), (
        "the first indexer never got to its bulk write"
    )
    kill_group(first, signal.SIGSTOP)
    assert lock_held(index)
    return first


def _thaw_and_finish(first) -> dict:
    kill_group(first, signal.SIGCONT)
    out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert TRACEBACK not in err
    return json.loads(out)


def _assert_old_commit_is_searchable(index: Path) -> None:
    with open_index(index) as idx:
        assert len(idx) == N_OLD
        assert idx.search("oldbatch", limit=0, exact=True).total == N_OLD
        assert idx.search("newbatch", limit=0, exact=True).total == 0
        assert [h.id for h in idx.search("w42xoldbatch", exact=True).hits] == ["oldbatch-42"]
    proc = run("search", "oldbatch", "--index", index, "--json", "--limit", "1", "--exact")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["total"] == N_OLD
    proc = run("stats", "--index", index, "--json")
    assert proc.returncode == 0 and json.loads(proc.stdout)["clips"] == N_OLD


def test_second_indexer_times_out_with_one_line_naming_the_lock(
    bulk: BulkCorpus, work_index: Path, procs: Procs
) -> None:
    index = work_index
    with open_index(index) as before:  # a searcher opened before anything started
        first = _frozen_first_indexer(procs, bulk, index)
        gen = generation(index)

        started = time.monotonic()
        second = run("index", bulk.more, "--index", index, "--lock-timeout", "0.5")
        waited = time.monotonic() - started
        assert second.returncode == 2, second.stderr
        assert waited >= 0.5
        line = assert_one_line_error(
            second.stderr, str(index), "another clipsearch process is writing this index"
        )
        assert "lock" in line.lower() and "0.5 s" in line
        assert second.stdout == ""
        assert generation(index) == gen  # the second indexer wrote nothing

        # searches keep working on the last commit while the first run is in progress
        _assert_old_commit_is_searchable(index)
        assert len(before) == N_OLD

        report = _thaw_and_finish(first)
        assert report["added"] == N_NEW and report["unchanged"] == N_OLD
        assert len(before) == N_OLD  # a snapshot is one commit until refreshed
        assert before.refresh() is True
        assert len(before) == N_OLD + N_NEW
        assert before.search("newbatch", limit=0, exact=True).total == N_NEW
    assert count(index, "morebatch") == 0


def test_second_indexer_waits_then_succeeds(
    bulk: BulkCorpus, work_index: Path, procs: Procs
) -> None:
    index = work_index
    first = _frozen_first_indexer(procs, bulk, index)
    gen = generation(index)
    second = procs.start("index", bulk.more, "--index", index, "--lock-timeout", "60", "--json")
    time.sleep(1.0)
    assert second.poll() is None, "the second indexer did not wait for the lock"
    assert generation(index) == gen

    report = _thaw_and_finish(first)
    assert report["added"] == N_NEW
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, err
    assert json.loads(out)["added"] == N_MORE
    assert doc_count(index) == N_OLD + N_NEW + N_MORE
    for marker, n in (("oldbatch", N_OLD), ("newbatch", N_NEW), ("morebatch", N_MORE)):
        assert count(index, marker) == n


def test_two_indexers_and_a_searcher_at_once(
    bulk: BulkCorpus, work_index: Path, procs: Procs
) -> None:
    """No freezing: two real indexers race for the same work while a thread searches."""
    index = work_index
    seen: list[int] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def searcher() -> None:
        try:
            with open_index(index) as held:
                while not stop.is_set():
                    with open_index(index) as fresh:
                        seen.append(len(fresh))
                        total = fresh.search("oldbatch", limit=3, exact=True).total
                        assert total == N_OLD
                    assert len(held) == N_OLD
                    assert held.search("harbors", limit=1).total == N_OLD
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    thread = threading.Thread(target=searcher, daemon=True)
    thread.start()
    a = procs.start("index", bulk.clips, "--index", index, "--json", "--lock-timeout", "60")
    b = procs.start("index", bulk.clips, "--index", index, "--json", "--lock-timeout", "60")
    mid = run("search", "oldbatch", "--index", index, "--json", "--limit", "1", "--exact")
    outs = [p.communicate(timeout=120) for p in (a, b)]
    stop.set()
    thread.join(30)

    assert not errors, errors[0]
    assert mid.returncode == 0 and json.loads(mid.stdout)["total"] == N_OLD
    assert [p.returncode for p in (a, b)] == [0, 0], [e for _o, e in outs]
    reports = [json.loads(o) for o, _e in outs]
    assert sorted(r["added"] for r in reports) == [0, N_NEW]  # one did it, the other found it done
    assert set(seen) <= {N_OLD, N_OLD + N_NEW}
    assert seen == sorted(seen), "a searcher saw the index go back to an older commit"
    assert doc_count(index) == N_OLD + N_NEW
    assert count(index, "newbatch") == N_NEW


# Regression test (was a bug): a ClipIndex opened before a commit that deletes old segment files
# (--rebuild, or an update whose merge replaces small segments) opens those files lazily on its
# next search; they are gone, Whoosh's column reader is None and search raises TypeError
# ('NoneType' object is not subscriptable)
@pytest.mark.parametrize("change", ["rebuild", "merging updates"])
def test_searcher_opened_before_a_commit_keeps_its_snapshot(
    change: str, bulk: BulkCorpus, work_index: Path, tmp_path: Path
) -> None:
    if change == "rebuild":
        index, before, marker = work_index, N_OLD, "oldbatch"
    else:  # five one-clip commits: five small segments that later commits merge away
        index, before, marker = tmp_path / "small-index", 5, "smallbatch"
        for n in range(before):
            write_clips(tmp_path / "small", 1, marker, start=n)
            assert update_index([tmp_path / "small"], index).added == 1
    with open_index(index) as idx:
        assert len(idx) == before  # opened; no clip read yet
        if change == "rebuild":
            proc = run("index", bulk.more, "--index", index, "--rebuild")
            assert proc.returncode == 0, proc.stderr
            after = N_MORE
        else:
            for n in range(before, before + 7):
                write_clips(tmp_path / "small", 1, marker, start=n)
                assert update_index([tmp_path / "small"], index).added == 1
            after = before + 7
        # the snapshot still answers from its own commit
        res = idx.search(f"w3x{marker}", exact=True)
        assert [h.id for h in res.hits] == [f"{marker}-3"]
        assert idx.get(f"{marker}-3")["title"] == f"Report 3 from the {marker} desk"
        assert idx.search("", limit=1).total == before
        assert idx.refresh() is True
        assert len(idx) == after


def test_searcher_that_has_read_keeps_working_across_a_rebuild(
    bulk: BulkCorpus, work_index: Path
) -> None:
    index = work_index
    with open_index(index) as idx:
        assert [h.id for h in idx.search("w7xoldbatch", exact=True).hits] == ["oldbatch-7"]
        proc = run("index", bulk.more, "--index", index, "--rebuild")
        assert proc.returncode == 0, proc.stderr
        assert [h.id for h in idx.search("w8xoldbatch", exact=True).hits] == ["oldbatch-8"]
        assert idx.refresh() is True
        assert len(idx) == N_MORE
        assert idx.search("oldbatch", limit=0, exact=True).total == 0


def test_an_index_opened_for_reading_is_the_commit_it_opened(tmp_path: Path) -> None:
    """Opened for reading, an index is one commit: its schema and readers are that
    commit's after a later one, the reader that checked its segments is the first
    one handed out, and it cannot be written (a writer needs the newest commit)."""
    from conftest import write_clip

    from clipsearch.index import storage

    clips, ix = tmp_path / "clips", tmp_path / "ix"
    write_clip(clips / "a.txt", title="Harbor cranes return", webUrl="https://example.org/a")
    assert update_index([clips], ix).ok
    commit = storage.open_whoosh(str(ix))
    generation = storage.latest_generation(str(ix))
    write_clip(clips / "b.txt", title="Harbor strike ends", webUrl="https://example.org/b")
    assert update_index([clips], ix).ok
    assert storage.latest_generation(str(ix)) != generation
    with commit.reader() as reader:
        assert (reader.generation(), reader.doc_count_all()) == (generation, 1)
    assert "title" in commit.schema.names()
    with pytest.raises(TypeError):
        commit.writer()
    newest = storage.open_whoosh(str(ix))
    with newest.reader() as reader:
        assert reader.doc_count_all() == 2
    commit.close()


def test_an_open_racing_a_commit_opens_the_newer_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A commit writes its table of contents, then deletes the files of the commit it
    replaced: an open that was reading those files meets a missing file.  It then opens
    the newer commit instead of calling the index damaged; a missing file with no newer
    commit is still reported as damage."""
    from conftest import write_clip
    from whoosh import index as whoosh_index

    from clipsearch.errors import ClipsearchError
    from clipsearch.index import storage

    clips, ix = tmp_path / "clips", tmp_path / "ix"
    write_clip(clips / "a.txt", title="Harbor cranes return", webUrl="https://example.org/a")
    assert update_index([clips], ix).ok
    # Opening the segments of a commit (what every reader does) is where it meets them.
    real_open = whoosh_index.FileIndex._reader.__func__
    raced: list[int] = []

    def open_during_a_commit(cls, *args, **kwargs):  # type: ignore[no-untyped-def]
        if not raced:  # the first attempt loses the race with a real commit
            raced.append(storage.latest_generation(str(ix)) or 0)
            write_clip(clips / "b.txt", title="Harbor strike ends", webUrl="https://example.org/b")
            assert update_index([clips], ix).ok
            raise FileNotFoundError(2, "No such file or directory", str(ix / "gone.seg"))
        return real_open(cls, *args, **kwargs)

    monkeypatch.setattr(whoosh_index.FileIndex, "_reader", classmethod(open_during_a_commit))
    with open_index(ix) as idx:
        assert idx.search("harbor", exact=True).total == 2
    assert raced

    def always_missing(cls, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise FileNotFoundError(2, "No such file or directory", str(ix / "gone.seg"))

    monkeypatch.setattr(whoosh_index.FileIndex, "_reader", classmethod(always_missing))
    with pytest.raises(ClipsearchError) as info:
        open_index(ix)
    assert "the index is damaged" in str(info.value)
