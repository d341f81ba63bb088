"""Issue 16, "Nothing is lost, ever": regression tests built from the hostile review's
reproductions of data loss in incremental indexing, and a property test that any
sequence of edits and index runs leaves the index equal to a fresh build.

`cs` in the comments is `clipsearch`; the numbers are the review's.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clipsearch import open_index, update_index
from clipsearch.index.schema import META_FILE

from .conftest import TRACEBACK, assert_one_line_error, cli, command, run


def put(path: Path, text: str, mtime_ns: int | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    if mtime_ns is not None:
        os.utime(path, ns=(mtime_ns, mtime_ns))
    return path


def clip(title: str, clip_id: str | None = None, body: str = "") -> str:
    head = f"id: {clip_id}\n" if clip_id is not None else ""
    return f"---\n{head}title: {title}\n---\n{body}"


def summary(result) -> str:
    """The summary line of an index run (the last line on stdout)."""
    return result.stdout.strip().splitlines()[-1]


def stats_clips(index: str | Path) -> int:
    result = cli("stats", "--index", index, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)["clips"]


def contents(index: str | Path) -> tuple[int, set[tuple[str, str, str, str, str]]]:
    """(document count, {(id, path, title, excerpt, body)}) of the index's last commit."""
    with open_index(index) as idx:
        hits = idx.search("", limit=10**6, exact=True, facets=False).hits
        docs = set()
        for h in hits:
            stored = idx.get(h.id)
            assert stored is not None and stored["path"] == h.path, (h.id, h.path, stored)
            docs.add((h.id, h.path, stored["title"], stored["excerpt"], stored["body"]))
        assert len(hits) == len(docs)
        return len(idx), docs


def titles(index: str | Path) -> set[str]:
    return {t for _id, _p, t, _e, _b in contents(index)[1]}


# --------------------------------------------------------------------------- 1: one file once


def three_clips(c: Path) -> None:
    put(c / "one.md", clip("Zebra", "one"))
    put(c / "two.md", clip("Yak", "two"))
    put(c / "sub" / "three.md", clip("Walrus", "three"))


@pytest.mark.parametrize(
    "roots",
    [("c", "c"), ("c", "ABS/"), ("c/sub", "c"), ("c", "c/sub"), ("ABS/", "c", "c/sub/three.md")],
    ids=["twice", "relative-and-absolute", "sub-then-parent", "parent-then-sub", "file-too"],
)
def test_a_file_reached_twice_is_indexed_once(in_tmp, roots):
    three_clips(in_tmp / "c")
    args = [str(in_tmp / "c") + "/" if r == "ABS/" else r for r in roots]
    for runs in range(3):  # the first build, then incremental runs over the same roots
        result = cli("index", *args, "--index", "ix")
        assert result.exit_code == 0, result.stderr
        assert result.stderr == ""  # no duplicate, nothing skipped
        expected = "3 added" if runs == 0 else "0 added, 0 updated, 0 removed, 3 unchanged"
        assert summary(result).startswith(expected), summary(result)
        assert stats_clips("ix") == 3
        assert titles("ix") == {"Zebra", "Yak", "Walrus"}  # Walrus stays


def test_a_root_named_both_ways_in_separate_runs_is_one_file(in_tmp):
    three_clips(in_tmp / "c")
    assert cli("index", "c", "--index", "ix").exit_code == 0
    result = cli("index", str(in_tmp / "c") + "/", "--index", "ix")
    assert result.exit_code == 0 and result.stderr == ""
    assert summary(result).startswith("0 added, 0 updated, 0 removed, 3 unchanged")
    result = cli("index", "c/sub", "--index", "ix")
    assert summary(result).startswith("0 added, 0 updated, 0 removed, 1 unchanged")
    assert stats_clips("ix") == 3


# --------------------------------------------------------------------------- 2: --rebuild


def age_index(index: Path) -> None:
    """Make the index incompatible: an old schema version in its marker file."""
    (index / META_FILE).write_text(json.dumps({"schema_version": 0}), encoding="utf-8")


def listing(folder: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in folder.iterdir() if p.suffix == ".md"}


def test_rebuild_never_deletes_clips_kept_in_the_index_folder(in_tmp):
    news = in_tmp / "news"
    news.mkdir()
    # A first build into the empty folder, then clips saved into it (the review's
    # `cs index news --index news`).
    assert cli("index", "news", "--index", "news").exit_code == 0
    put(news / "a.md", clip("Aardvark", "a"))
    put(news / "b.md", clip("Bison", "b"))
    result = cli("index", "news", "--index", "news")
    assert result.exit_code == 0, result.stderr
    assert stats_clips("news") == 2
    before = listing(news)

    age_index(news)
    result = cli("index", "news", "--index", "news")
    assert result.exit_code == 2
    assert_one_line_error(result.stderr, "schema version", "--rebuild")
    # Following the advice must not delete the clips: it refuses, in one line.
    result = cli("index", "--rebuild", "news", "--index", "news")
    assert result.exit_code == 2
    assert_one_line_error(result.stderr, "a.md", "did not write", "refusing")
    assert listing(news) == before
    # Nothing else was touched either: the index is still there (and still old).
    result = cli("search", "Aardvark", "--index", "news")
    assert result.exit_code == 2 and "schema version" in result.stderr
    assert listing(news) == before


def test_a_stray_marker_file_beside_user_files_loses_nothing(in_tmp):
    folder = in_tmp / "stuff"
    put(folder / "notes.md", clip("Notes", "n"))
    put(folder / "todo.txt", "buy milk\n")
    (folder / "photos").mkdir()
    put(folder / "photos" / "cat.jpg", "not really a cat")
    (folder / META_FILE).write_text(json.dumps({"schema_version": 1}), encoding="utf-8")
    put(in_tmp / "c" / "x.md", clip("Xerus", "x"))
    everything = sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))

    for args in (["c"], ["--rebuild", "c"]):
        result = cli("index", *args, "--index", "stuff")
        assert result.exit_code == 2, (args, result.stdout, result.stderr)
        assert TRACEBACK not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) == everything
    assert (folder / "notes.md").read_text() == clip("Notes", "n")
    assert (folder / "photos" / "cat.jpg").read_text() == "not really a cat"


def test_a_first_build_into_a_folder_of_user_files_is_refused(in_tmp):
    put(in_tmp / "news" / "a.md", clip("Aardvark", "a"))
    result = cli("index", "news", "--index", "news")
    assert result.exit_code == 2
    assert_one_line_error(result.stderr, "a.md", "refusing")
    assert (in_tmp / "news" / "a.md").read_text() == clip("Aardvark", "a")
    assert sorted(p.name for p in (in_tmp / "news").iterdir()) == ["a.md"]


def test_rebuild_of_a_folder_holding_only_the_index_works(in_tmp):
    put(in_tmp / "c" / "a.md", clip("Aardvark", "a"))
    put(in_tmp / "c" / "b.md", clip("Bison", "b"))
    assert cli("index", "c", "--index", "ix").exit_code == 0
    age_index(in_tmp / "ix")
    assert cli("search", "Aardvark", "--index", "ix").exit_code == 2
    result = cli("index", "--rebuild", "c", "--index", "ix")
    assert result.exit_code == 0, result.stderr
    assert summary(result).startswith("2 added")
    assert stats_clips("ix") == 2
    assert cli("search", "Aardvark", "--index", "ix").exit_code == 0
    # And a rebuild of a compatible index starts over too.
    (in_tmp / "c" / "b.md").unlink()
    result = cli("index", "--rebuild", "c", "--index", "ix")
    assert result.exit_code == 0 and summary(result).startswith("1 added")
    assert titles("ix") == {"Aardvark"}


def test_a_commit_file_left_half_written_is_ours_not_the_users(in_tmp):
    """Whoosh writes each commit as `_clips_<gen>.toc.<time>` first, then renames it: a
    second first build waiting for the lock saw that name and refused the folder as
    holding user files (and a crash at that moment made the folder unrebuildable)."""
    put(in_tmp / "c" / "a.md", clip("Aardvark", "a"))
    (in_tmp / "ix").mkdir()
    (in_tmp / "ix" / "_clips_0.toc.1796156563.1044438").write_bytes(b"half")
    result = cli("index", "c", "--index", "ix")
    assert result.exit_code == 0, result.stderr
    assert titles("ix") == {"Aardvark"}


# --------------------------------------------------------------------------- 3: ids and roots


def test_derived_ids_do_not_depend_on_the_root_named(in_tmp):
    put(in_tmp / "clips" / "2022" / "a.md", clip("Badger"))
    put(in_tmp / "clips" / "2023" / "a.md", clip("Cheetah"))
    for root in ("clips/2022", "clips/2023"):
        result = cli("index", root, "--index", "ix")
        assert result.exit_code == 0 and result.stderr == "", result.stderr
    assert stats_clips("ix") == 2
    assert titles("ix") == {"Badger", "Cheetah"}
    # A fresh build of the parent gives the same ids.
    assert cli("index", "clips", "--index", "fresh").exit_code == 0
    assert contents("fresh") == contents("ix")


def duplicate_lines(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("duplicate: ")]


def test_a_duplicate_id_is_reported_on_every_run_and_the_later_path_wins(in_tmp):
    put(in_tmp / "c" / "x" / "a.md", clip("Aardvark", "same"))
    put(in_tmp / "c" / "y" / "b.md", clip("Bison", "same"))
    one_run = cli("index", "c", "--index", "one")
    assert one_run.exit_code == 0
    [expected] = duplicate_lines(one_run)
    assert "duplicate id 'same'" in expected
    assert expected.index("a.md") < expected.index("ignored") < expected.index("b.md")
    assert titles("one") == {"Bison"}

    first = cli("index", "c/x", "--index", "ix")
    assert first.exit_code == 0 and duplicate_lines(first) == []
    assert titles("ix") == {"Aardvark"}
    # The second run finds the same id under another root: reported exactly as
    # within one run, and the later path (c/y/b.md) keeps the id.
    for roots in (["c/y"], ["c/x"], ["c"], ["c/x"]):
        result = cli("index", *roots, "--index", "ix")
        assert result.exit_code == 0, result.stderr
        assert duplicate_lines(result) == [expected], (roots, result.stderr)
        assert titles("ix") == {"Bison"}
        assert contents("ix") == contents("one")


def test_a_duplicate_id_found_in_the_earlier_path_later(in_tmp):
    put(in_tmp / "c" / "y" / "b.md", clip("Bison", "same"))
    assert cli("index", "c/y", "--index", "ix").exit_code == 0
    put(in_tmp / "c" / "x" / "a.md", clip("Aardvark", "same"))
    for _ in range(3):
        result = cli("index", "c/x", "--index", "ix")
        assert len(duplicate_lines(result)) == 1, result.stderr
        assert titles("ix") == {"Bison"}
        assert summary(result).startswith("0 added")


# --------------------------------------------------------------------------- 4: edits


def test_a_file_that_takes_another_files_id_leaves_no_stale_text(in_tmp):
    c = in_tmp / "c"
    put(c / "a.md", clip("Aardvark", "a", "An aardvark digs.\n"))
    # Settled (not racy): b.md is not read again, only a.md is.
    put(c / "b.md", clip("Bison", "b", "A bison grazes.\n"), time.time_ns() - 3600 * 10**9)
    assert cli("index", "c", "--index", "ix").exit_code == 0
    put(c / "a.md", clip("Anteater", "b", "An anteater eats.\n"))  # c/b.md sorts later
    result = cli("index", "c", "--index", "ix")
    assert result.exit_code == 0
    assert len(duplicate_lines(result)) == 1
    shown = cli("show", "a", "--index", "ix")
    assert shown.exit_code == 2
    assert_one_line_error(shown.stderr, "no clip with id 'a'")
    for word in ("aardvark", "anteater"):
        assert cli("search", word, "--index", "ix", "--exact", "--json").stdout.count('"id"') == 0
    assert titles("ix") == {"Bison"} and stats_clips("ix") == 1
    # The other way round: the edited file sorts last and takes the id over.
    put(c / "z.md", clip("Zebra", "z"))
    assert cli("index", "c", "--index", "ix").exit_code == 0
    put(c / "z.md", clip("Zebu", "b"))
    assert cli("index", "c", "--index", "ix").exit_code == 0
    assert cli("show", "z", "--index", "ix").exit_code == 2
    assert "title: Zebu" in cli("show", "b", "--index", "ix").stdout
    assert titles("ix") == {"Zebu"}
    assert cli("index", "c", "--index", "fresh").exit_code == 0
    assert contents("ix") == contents("fresh")


def test_a_file_that_loses_its_id_is_indexed_under_its_new_one(in_tmp):
    c = in_tmp / "c"
    put(c / "a.md", clip("Aardvark", "a"))
    assert cli("index", "c", "--index", "ix").exit_code == 0
    put(c / "a.md", clip("Aardvark"))  # no id any more: derived from its path
    assert cli("index", "c", "--index", "ix").exit_code == 0
    assert cli("show", "a", "--index", "ix").exit_code == 2
    assert stats_clips("ix") == 1
    assert cli("index", "c", "--index", "fresh").exit_code == 0
    assert contents("ix") == contents("fresh")


@pytest.mark.parametrize("order", [("zlink", "real"), ("real", "zlink")])
def test_edits_and_deletions_through_a_symlinked_root(in_tmp, order):
    real = in_tmp / "real"
    put(real / "a.md", clip("Aardvark"))
    put(real / "b.md", clip("Bison"))
    (in_tmp / "zlink").symlink_to("real")
    first, second = order
    assert cli("index", first, "--index", "ix").exit_code == 0
    put(real / "a.md", clip("Anteater, edited"))
    (real / "b.md").unlink()
    result = cli("index", second, "--index", "ix")
    assert result.exit_code == 0, result.stderr
    assert summary(result).startswith("0 added, 1 updated, 1 removed, 0 unchanged")
    assert titles("ix") == {"Anteater, edited"}
    assert cli("index", "real", "--index", "fresh").exit_code == 0
    assert contents("ix") == contents("fresh")


def test_a_deletion_in_a_folder_linked_from_outside_the_root_is_applied(in_tmp):
    put(in_tmp / "c" / "a.md", clip("Aardvark"))
    put(in_tmp / "elsewhere" / "e.md", clip("Eland"))
    put(in_tmp / "elsewhere" / "f.md", clip("Fossa"))
    (in_tmp / "c" / "ext").symlink_to("../elsewhere")
    assert cli("index", "c", "--index", "ix").exit_code == 0
    assert titles("ix") == {"Aardvark", "Eland", "Fossa"}
    (in_tmp / "elsewhere" / "e.md").unlink()
    result = cli("index", "c", "--index", "ix")
    assert summary(result).startswith("0 added, 0 updated, 1 removed, 2 unchanged")
    assert titles("ix") == {"Aardvark", "Fossa"}
    assert cli("index", "c", "--index", "fresh").exit_code == 0
    assert contents("ix") == contents("fresh")


def test_clips_reached_through_a_removed_link_are_removed(in_tmp):
    """The index records the root a file outside it was reached from (through a link),
    so removing the link removes its clips, as a fresh build would."""
    put(in_tmp / "c" / "a.md", clip("Aardvark"))
    put(in_tmp / "elsewhere" / "f.md", clip("Fossa"))
    (in_tmp / "c" / "ext").symlink_to("../elsewhere")
    assert cli("index", "c", "--index", "ix").exit_code == 0
    (in_tmp / "c" / "ext").unlink()  # the link goes: a fresh build of c has no Fossa
    result = cli("index", "c", "--index", "ix")
    assert summary(result).startswith("0 added, 0 updated, 1 removed, 1 unchanged")
    assert titles("ix") == {"Aardvark"}


def test_a_single_file_named_alone_does_not_collide_with_a_namesake(in_tmp):
    put(in_tmp / "clips" / "a.md", clip("Aardvark"))
    put(in_tmp / "clips" / "2022" / "a.md", clip("Badger"))
    assert cli("index", "clips", "--index", "ix").exit_code == 0
    result = cli("index", "clips/2022/a.md", "--index", "ix")
    assert result.exit_code == 0 and result.stderr == ""
    assert summary(result).startswith("0 added, 0 updated, 0 removed, 1 unchanged")
    assert stats_clips("ix") == 2
    # Named alone first, then with its folder: the same two clips.
    assert cli("index", "clips/2022/a.md", "--index", "ix2").exit_code == 0
    result = cli("index", "clips/a.md", "--index", "ix2")
    assert result.exit_code == 0 and result.stderr == ""
    assert cli("index", "clips", "--index", "ix2").exit_code == 0
    assert contents("ix2") == contents("ix")


# --------------------------------------------------------------------------- 5: racy edits


def whole_second_now() -> int:
    return time.time_ns() // 10**9 * 10**9


def test_a_same_size_edit_within_the_same_second_is_picked_up(in_tmp):
    mtime = whole_second_now()  # a filesystem with whole-second times
    f = put(in_tmp / "c" / "a.md", clip("Alpaca", "a", "First words.\n"), mtime)
    put(in_tmp / "c" / "old.md", clip("Ocelot", "o"), mtime - 3600 * 10**9)
    assert cli("index", "c", "--index", "ix").exit_code == 0
    size = f.stat().st_size
    put(f, clip("Impala", "a", "Other words.\n"), mtime)  # same size, same mtime
    assert f.stat().st_size == size and f.stat().st_mtime_ns == mtime
    result = cli("index", "c", "--index", "ix")
    assert summary(result).startswith("0 added, 1 updated, 0 removed, 1 unchanged")
    assert titles("ix") == {"Impala", "Ocelot"}
    # Re-runs of unchanged files count them unchanged (racy or not), never updated.
    for _ in range(2):
        result = cli("index", "c", "--index", "ix")
        assert summary(result).startswith("0 added, 0 updated, 0 removed, 2 unchanged")
    # A touched file (new mtime, same content) is read again, and settles.
    os.utime(f, ns=(mtime - 10 * 10**9, mtime - 10 * 10**9))
    result = cli("index", "c", "--index", "ix")
    assert summary(result).startswith("0 added, 1 updated, 0 removed, 1 unchanged")
    result = cli("index", "c", "--index", "ix")
    assert summary(result).startswith("0 added, 0 updated, 0 removed, 2 unchanged")
    assert titles("ix") == {"Impala", "Ocelot"}


def test_a_racy_file_settles_without_being_counted_as_updated(in_tmp):
    f = put(in_tmp / "c" / "a.md", clip("Alpaca", "a"), whole_second_now())
    assert cli("index", "c", "--index", "ix").exit_code == 0
    time.sleep(2.1)  # now outside the racy window: checked by content once more
    for _ in range(2):
        result = cli("index", "c", "--index", "ix")
        assert summary(result).startswith("0 added, 0 updated, 0 removed, 1 unchanged")
    # An edit in a later second (a new whole-second mtime, the same size) is seen.
    put(f, clip("Impala", "a"), whole_second_now())
    result = cli("index", "c", "--index", "ix")
    assert summary(result).startswith("0 added, 1 updated")
    assert titles("ix") == {"Impala"}


# --------------------------------------------------------------------------- 10: first builds


def test_two_first_builds_of_one_folder_wait_for_each_other(tmp_path):
    for i in range(20):
        put(tmp_path / "sub1" / f"c{i:02d}.md", clip(f"Report {i}", f"r{i}", "Harbours.\n"))
    for attempt in range(8):
        race = tmp_path / f"race{attempt}"
        procs = [
            subprocess.Popen(
                command("index", "sub1", "--index", race, "--quiet"),
                cwd=tmp_path,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        outs = [p.communicate(timeout=60) for p in procs]
        for p, (out, err) in zip(procs, outs, strict=True):
            assert p.returncode == 0, (attempt, out, err)
            assert TRACEBACK not in err
        lines = sorted(out.strip().splitlines()[-1] for out, _err in outs)
        assert lines[0].startswith("0 added, 0 updated, 0 removed, 20 unchanged"), lines
        assert lines[1].startswith("20 added"), lines
        assert contents(race)[0] == 20


# --------------------------------------------------------------------------- 12a: alias folders


def test_a_symlinked_alias_folder_is_silent_and_each_clip_counted_once(in_tmp):
    put(in_tmp / "clips" / "2022" / "a.md", clip("Aardvark"))
    put(in_tmp / "clips" / "2022" / "b.md", clip("Bison", "b"))
    put(in_tmp / "clips" / "2021" / "c.md", clip("Caracal"))
    (in_tmp / "clips" / "latest").symlink_to("2022")
    for runs in range(3):
        result = cli("index", "clips", "--index", "ix")
        assert result.exit_code == 0, result.stderr
        assert result.stderr == ""
        assert summary(result).startswith("3 added" if runs == 0 else "0 added, 0 updated")
        assert stats_clips("ix") == 3
    real = os.path.realpath(in_tmp / "clips" / "2022")
    _n, docs = contents("ix")
    assert sum(1 for d in docs if d[1].startswith(real + os.sep)) == 2
    assert not any("latest" in d[1] for d in docs)
    # Named through the alias, the clips are the same ones.
    result = cli("index", "clips/latest", "--index", "ix")
    assert result.exit_code == 0 and result.stderr == ""
    assert summary(result).startswith("0 added, 0 updated, 0 removed, 2 unchanged")


# --------------------------------------------------------------------------- 9: disk full


def limited(nbytes: int):
    """A preexec_fn: files may not grow past `nbytes` (writes fail with EFBIG, as on
    a full disk) and SIGXFSZ does not kill the process."""

    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, nbytes))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)

    return apply


def run_limited(*args, nbytes: int, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command(*args),
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        preexec_fn=limited(nbytes),
    )


def big_corpus(folder: Path, n: int, marker: str) -> None:
    words = " ".join(f"{marker}word{k}" for k in range(300))
    for i in range(n):
        put(folder / f"{marker}{i:04d}.md", clip(f"{marker} report {i}", f"{marker}-{i}", words))


LIMIT = 256 * 1024


def test_a_full_disk_during_the_first_build_leaves_no_index(tmp_path):
    big_corpus(tmp_path / "clips", 300, "bulky")
    result = run_limited("index", "clips", "--index", "ix", "--quiet", nbytes=LIMIT, cwd=tmp_path)
    assert result.returncode == 3, (result.stdout, result.stderr)
    assert_one_line_error(result.stderr)
    assert not (tmp_path / "ix" / META_FILE).exists()
    found = run("search", "bulky", "--index", "ix", cwd=tmp_path)
    assert found.returncode == 2
    assert_one_line_error(found.stderr, "did not finish")
    done = run("index", "clips", "--index", "ix", "--quiet", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert summary(done).startswith("300 added")
    assert contents(tmp_path / "ix")[0] == 300


def test_a_full_disk_during_an_update_keeps_the_last_commit(tmp_path):
    big_corpus(tmp_path / "clips" / "old", 5, "small")
    first = run("index", "clips", "--index", "ix", "--quiet", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    before = contents(tmp_path / "ix")
    big_corpus(tmp_path / "clips" / "new", 300, "bulky")
    result = run_limited("index", "clips", "--index", "ix", "--quiet", nbytes=LIMIT, cwd=tmp_path)
    assert result.returncode == 3, (result.stdout, result.stderr)
    assert_one_line_error(result.stderr)
    assert contents(tmp_path / "ix") == before
    found = run("search", "small", "--index", "ix", "--json", cwd=tmp_path)
    assert found.returncode == 0 and json.loads(found.stdout)["total"] == 5
    done = run("index", "clips", "--index", "ix", "--quiet", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert summary(done).startswith("300 added, 0 updated, 0 removed, 5 unchanged")
    assert contents(tmp_path / "ix")[0] == 305


# --------------------------------------------------------------------------- the property

#: Clip files of the corpus folder c (some in c/sub); `alias` is a symlink to c/sub.
NAMES = ("a.md", "m.md", "z.md", "sub/b.md", "sub/y.md")
#: None: no id (derived from the real path); explicit ids collide on purpose.
IDS = (None, "p", "q")
#: All of one length, so that swapping one for another is a same-size edit.
WORDS = ("amber", "basil", "cedar", "delta", "ember", "flint")
#: Argument forms whose runs cover all of c; after each, the index must equal a fresh build.
FULL = ("c", "c c", "c/sub c", "ABS/", "zlink", "c FILE")
#: Runs over part of c: not checked themselves, but later full runs must repair anything.
PARTIAL = ("c/sub", "FILE")


def render(clip_id: str | None, word: str) -> str:
    head = f"id: {clip_id}\n" if clip_id else ""
    return f"---\n{head}title: {word} report\nexcerpt: The {word} desk.\n---\n{word} body.\n"


def whole_second_write(path: Path, text: str) -> None:
    """Write as on a filesystem with whole-second times: a same-size edit within the
    second leaves size and mtime as they were."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    mtime = whole_second_now()
    os.utime(path, ns=(mtime, mtime))


edits = st.one_of(
    st.tuples(
        st.just("write"), st.sampled_from(NAMES), st.sampled_from(IDS), st.sampled_from(WORDS)
    ),
    st.tuples(st.just("same_size"), st.sampled_from(NAMES), st.sampled_from(WORDS)),
    st.tuples(st.just("delete"), st.sampled_from(NAMES)),
    st.tuples(st.just("move"), st.sampled_from(NAMES), st.sampled_from(NAMES)),
    st.tuples(st.just("break"), st.sampled_from(NAMES)),
    st.tuples(
        st.just("alias"),
    ),
)
#: Steps: a few edits, then one index run (form, which file a FILE form names).
steps = st.lists(
    st.tuples(
        st.lists(edits, max_size=3),
        st.tuples(st.just("index"), st.sampled_from(FULL + PARTIAL), st.integers(0, 4)),
    ),
    min_size=2,
    max_size=8,
)


def apply(op: tuple, c: Path) -> None:
    kind, *args = op
    if kind == "write":
        name, clip_id, word = args
        whole_second_write(c / name, render(clip_id, word))
    elif kind == "same_size" and (c / args[0]).exists():
        text = (c / args[0]).read_text(encoding="utf-8")
        if found := re.search(r"title: (\w+) report", text):
            whole_second_write(c / args[0], text.replace(found[1], args[1]))
    elif kind == "delete":
        with contextlib.suppress(FileNotFoundError):
            (c / args[0]).unlink()
    elif kind == "move" and (c / args[0]).exists() and args[0] != args[1]:
        os.rename(c / args[0], c / args[1])  # keeps mtime, size and content
    elif kind == "break" and (c / args[0]).exists():
        whole_second_write(c / args[0], "---\ntitle: [unclosed\n---\n")
    elif kind == "settle" and (c / args[0]).exists():  # time passes: no longer racy
        old = whole_second_now() - 3600 * 10**9
        os.utime(c / args[0], ns=(old, old))
    elif kind == "alias":
        if (c / "alias").is_symlink():
            (c / "alias").unlink()
        else:
            (c / "alias").symlink_to("sub")


def arguments(form: str, pick: int, c: Path) -> list[str]:
    files = sorted(str(p.relative_to(c.parent)) for p in c.rglob("*.md") if "alias" not in p.parts)
    one = files[pick % len(files)] if files else "c/a.md"
    return [str(c) + "/" if a == "ABS/" else one if a == "FILE" else a for a in form.split()]


def losers(report) -> set[str]:
    return {re.search(r": (.*) ignored, ", d)[1] for d in report.duplicates}


def skipped(report) -> set[str]:
    return {os.path.realpath(s.path) for s in report.skipped}


@settings(
    derandomize=True,
    database=None,
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(steps)
def test_any_sequence_of_edits_and_runs_equals_a_fresh_build(steps):
    base = Path(tempfile.mkdtemp(prefix="nothing-lost-"))
    cwd = os.getcwd()
    try:
        os.chdir(base)
        c = base / "c"
        (c / "sub").mkdir(parents=True)
        (base / "zlink").symlink_to("c")
        whole_second_write(c / "a.md", render("p", "amber"))
        whole_second_write(c / "sub" / "b.md", render(None, "basil"))
        whole_second_write(c / "z.md", render("p", "cedar"))
        fresh_builds = 0
        ops = [op for edited, run in steps for op in (*edited, run)]
        for op in [("index", "c", 0), *ops, ("index", "c", 0)]:
            if op[0] != "index":
                apply(op, c)
                continue
            args = arguments(op[1], op[2], c)
            report = update_index(args, base / "ix")
            if op[1] not in FULL:
                continue
            fresh_builds += 1
            fresh = update_index(["c"], base / f"fresh{fresh_builds}")
            assert contents(base / "ix") == contents(base / f"fresh{fresh_builds}"), (op, args)
            # Every run reports the same duplicates and bad files as a fresh build.
            assert losers(report) == losers(fresh), (op, args)
            assert skipped(report) == skipped(fresh), (op, args)
    finally:
        os.chdir(cwd)
        shutil.rmtree(base, ignore_errors=True)
