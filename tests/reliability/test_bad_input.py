"""Bad clip files: every one is skipped with a one-line reason naming the file (and the
field and value), the rest are indexed and committed, and the exit status says so.

The bad_corpus is tests/fixtures/bad (committed); a symlink loop, unreadable files and
other things git cannot hold are made in tmp_path at test time.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from clipsearch import ClipError, open_index, read_clip, update_index
from clipsearch.ingest.clip import clip_from_text

from .conftest import (
    BAD_CORPUS,
    TRACEBACK,
    as_unprivileged,
    assert_one_line_error,
    cli,
    cli_raw,
    copy_bad_corpus,
    doc_count,
    generation,
    run,
)

MAX_BYTES = 4096  # big.md (a valid clip) is over it; every other file is under it

#: file (relative to the bad_corpus) -> the reason after "<absolute path>: ".
#: `{size}` is the file's size.  Line numbers of YAML errors are checked separately
#: (test_yaml_errors_report_the_file_line), here they are normalised to "line N".
SKIPPED: dict[str, str] = {
    "nested/loop": "symlink loop (folder already visited), skipped",
    "bad_date.md": "publishedDateTime: not an ISO 8601 date (got 'last Tuesday')",
    "big.md": "file is {size} bytes, over the 4,096-byte limit",
    "binary.md": "binary file (NUL bytes), not a clip",
    "empty.md": "empty file",
    "empty_title.md": "title: empty (got '   ')",
    "frontmatter_list.md": "frontmatter must be a mapping, not a list",
    "frontmatter_scalar.md": "frontmatter must be a mapping, not a str",
    "malformed_yaml.md": "malformed YAML at line N: mapping values are not allowed in this context",
    "missing_title.md": "title: missing",
    "no_frontmatter.md": "no YAML frontmatter (the file must start with a '---' line)",
    "non_utf8.md": "not UTF-8: byte 0xe9 at offset 14",
    "pwned.md": (
        "YAML tag refused at line N: could not determine a constructor for the tag "
        "'tag:yaml.org,2002:python/object/apply:os.system'"
    ),
    "quality_not_number.md": "quality: must be a number (got 'excellent')",
    "related_string.md": "related: must be a list of articles (got 'see also the other story')",
    "topics_mapping.md": "topics: must be a list of strings (got {'main': 'AI'})",
    "unclosed_frontmatter.md": "frontmatter is not closed by a '---' line",
}

#: clip id -> (file, a word found in that clip only)
GOOD: dict[str, tuple[str, str]] = {
    "good-facial": ("good_facial.md", "surveillance"),
    "good-vaccine": ("good_vaccine.txt", "booster"),
    # no id: a hash of its webUrl (README: "a stable hash of its canonical URL")
    "c-" + hashlib.sha1(b"url:https://example.net/harbor-dredging").hexdigest()[:16]: (
        "good_derived_id.markdown",
        "dredging",
    ),
    "good-norway": ("nested/good_norway.md", "fjord"),
    "topics-string": ("topics_string.md", "lighthouse"),
    "dup-1": ("dup_b.md", "basalt"),  # dup_a.md has the same id and sorts first: it loses
}
BIG = ("big-clip", "big.md", "cider")  # valid, only over the small --max-bytes


def _line_n(text: str) -> str:
    return re.sub(r" at line \d+:", " at line N:", text)


def _expected_skips(root: Path) -> dict[str, str]:
    out = {}
    for rel, tail in SKIPPED.items():
        path = os.path.join(root, rel)
        if rel == "big.md":
            tail = tail.format(size=f"{os.path.getsize(path):,}")
        out[path] = f"{path}: {tail}"
    return out


@pytest.fixture
def bad_corpus(tmp_path: Path) -> Path:
    """A private copy of the bad bad_corpus, plus a symlink loop (nested/loop -> ..)."""
    root = copy_bad_corpus(tmp_path / "clips")
    os.symlink("..", root / "nested" / "loop")
    return root


def _assert_good_clips_searchable(index: Path, root: Path, with_big: bool = False) -> None:
    good = dict(GOOD)
    if with_big:
        good[BIG[0]] = BIG[1:]
    with open_index(index) as idx:
        assert len(idx) == len(good)
        for clip_id, (rel, word) in good.items():
            res = idx.search(word, exact=True)
            assert [h.id for h in res.hits] == [clip_id], word
            assert res.hits[0].path == os.path.join(root, rel)
            assert idx.get(clip_id) is not None
        # every clip at once, by listing the whole index
        assert {h.id for h in idx.search("", limit=100).hits} == set(good)
        assert idx.search("quartzite", exact=True).total == 0  # dup_a.md lost to dup_b.md
        assert idx.search("cider", exact=True).total == (1 if with_big else 0)
        assert [h.id for h in idx.search("", topics=["Maritime"]).hits] == ["topics-string"]
        norway = idx.search("", topics=["NO"]).hits
        assert [(h.id, h.topics) for h in norway] == [("good-norway", ("NO", "yes", "Energy"))]


# --------------------------------------------------------------------------- the bad_corpus


def test_corpus_text_output_exit_1_and_good_clips_searchable(
    bad_corpus: Path, in_tmp: Path
) -> None:
    index = in_tmp / "index"
    res = cli("index", bad_corpus, "--index", index, "--max-bytes", str(MAX_BYTES))
    assert res.exit_code == 1
    expected = _expected_skips(bad_corpus)
    skipped_lines = [ln for ln in res.stderr.splitlines() if ln.startswith("skipped: ")]
    assert {_line_n(ln.removeprefix("skipped: ")) for ln in skipped_lines} == set(expected.values())
    assert len(skipped_lines) == len(expected)  # each bad file reported once
    dup_a, dup_b = bad_corpus / "dup_a.md", bad_corpus / "dup_b.md"
    topics_string = bad_corpus / "topics_string.md"
    assert res.stderr.splitlines() == [
        *skipped_lines,
        f"duplicate: duplicate id 'dup-1': {dup_a} ignored, {dup_b} (later) kept",
        f"warning: {topics_string}: topics: a single string, read as a one-item list ('Maritime')",
    ]
    assert TRACEBACK not in res.output
    summary = res.stdout.strip().splitlines()
    assert len(summary) == 1
    assert re.fullmatch(
        r"6 added, 0 updated, 0 removed, 0 unchanged, 17 skipped with errors, "
        r"1 duplicate ids \(later file wins\) in \d+\.\d s",
        summary[0],
    ), summary
    _assert_good_clips_searchable(index, bad_corpus)
    assert not (in_tmp / "PWNED").exists()  # the tag was refused, never executed


def test_corpus_json_summary_lists_every_skipped_file_and_reason(
    bad_corpus: Path, in_tmp: Path
) -> None:
    index = in_tmp / "index"
    res = cli("index", bad_corpus, "--index", index, "--max-bytes", str(MAX_BYTES), "--json")
    assert res.exit_code == 1
    assert res.stderr == ""
    report = json.loads(res.stdout)
    skipped = {s["path"]: _line_n(s["reason"]) for s in report["skipped"]}
    assert skipped == _expected_skips(bad_corpus)
    assert len(report["skipped"]) == len(skipped)
    dup_a, dup_b = bad_corpus / "dup_a.md", bad_corpus / "dup_b.md"
    assert report["duplicates"] == [f"duplicate id 'dup-1': {dup_a} ignored, {dup_b} (later) kept"]
    assert report["warnings"] == [
        f"{bad_corpus / 'topics_string.md'}: topics: a single string, read as a one-item list "
        "('Maritime')"
    ]
    assert {k: report[k] for k in ("index", "added", "updated", "removed", "unchanged")} == {
        "index": str(index),
        "added": 6,
        "updated": 0,
        "removed": 0,
        "unchanged": 0,
    }
    assert report["rebuilt"] is True
    assert isinstance(report["elapsed"], int | float)
    _assert_good_clips_searchable(index, bad_corpus)


def test_every_reason_is_one_line_naming_file_field_and_value(bad_corpus: Path) -> None:
    report = update_index([bad_corpus], bad_corpus.parent / "index", max_bytes=MAX_BYTES)
    for s in report.skipped:
        assert "\n" not in s.reason and "\r" not in s.reason
        assert s.reason.startswith(f"{s.path}: ")
        assert os.path.isabs(s.path)
    for s in report.skipped:
        name = os.path.basename(s.path)
        field = {
            "bad_date.md": "publishedDateTime",
            "empty_title.md": "title",
            "missing_title.md": "title",
            "quality_not_number.md": "quality",
            "related_string.md": "related",
            "topics_mapping.md": "topics",
        }.get(name)
        if field:
            assert f": {field}: " in s.reason, s.reason
        if name in ("bad_date.md", "quality_not_number.md", "related_string.md"):
            assert "(got '" in s.reason  # the value, as the user wrote it


def test_second_run_reports_the_same_bad_files_and_keeps_good_ones(bad_corpus: Path) -> None:
    index = bad_corpus.parent / "index"
    cli("index", bad_corpus, "--index", index, "--max-bytes", str(MAX_BYTES))
    res = cli("index", bad_corpus, "--index", index, "--max-bytes", str(MAX_BYTES), "--json")
    assert res.exit_code == 1  # bad files are reported until they are fixed
    report = json.loads(res.stdout)
    assert {s["path"]: _line_n(s["reason"]) for s in report["skipped"]} == _expected_skips(
        bad_corpus
    )
    assert (report["added"], report["updated"], report["removed"]) == (0, 0, 0)
    assert report["unchanged"] == 6
    _assert_good_clips_searchable(index, bad_corpus)

    # fixing a bad file indexes it; breaking a good one removes its stale text
    (bad_corpus / "missing_title.md").write_text("---\ntitle: Kelp farms expand\n---\n")
    (bad_corpus / "good_vaccine.txt").write_text("---\ntitle: [unclosed\n---\n")
    report = json.loads(
        cli("index", bad_corpus, "--index", index, "--max-bytes", str(MAX_BYTES), "--json").stdout
    )
    assert report["added"] == 1 and report["removed"] == 1
    paths = {s["path"] for s in report["skipped"]}
    assert str(bad_corpus / "missing_title.md") not in paths
    assert str(bad_corpus / "good_vaccine.txt") in paths
    with open_index(index) as idx:
        assert idx.search("kelp", exact=True).total == 1
        assert idx.search("booster", exact=True).total == 0


def test_without_a_size_limit_the_big_clip_is_indexed(bad_corpus: Path) -> None:
    index = bad_corpus.parent / "index"
    report = update_index([bad_corpus], index)
    assert str(bad_corpus / "big.md") not in {s.path for s in report.skipped}
    assert len(report.skipped) == len(SKIPPED) - 1
    _assert_good_clips_searchable(index, bad_corpus, with_big=True)


def test_a_folder_of_good_clips_exits_0(tmp_path: Path) -> None:
    root = tmp_path / "good"
    for rel, _word in GOOD.values():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(BAD_CORPUS / rel, root / rel)
    res = cli("index", root, "--index", tmp_path / "index")
    assert res.exit_code == 0, res.output
    assert res.stderr.splitlines() == [
        f"warning: {root / 'topics_string.md'}: topics: a single string, read as a one-item "
        "list ('Maritime')"
    ]


# --------------------------------------------------------------------------- individual cases


def test_object_constructing_yaml_tag_is_refused_never_executed(tmp_path: Path) -> None:
    """A real process, in a folder where `touch PWNED` would leave a file."""
    clips = tmp_path / "clips"
    clips.mkdir()
    shutil.copy(BAD_CORPUS / "pwned.md", clips / "pwned.md")
    shutil.copy(BAD_CORPUS / "good_facial.md", clips / "good_facial.md")
    proc = run("index", clips, "--index", tmp_path / "index", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert f"skipped: {clips / 'pwned.md'}: YAML tag refused" in proc.stderr
    assert TRACEBACK not in proc.stderr
    for folder in (tmp_path, clips, Path.cwd()):
        assert not (folder / "PWNED").exists()
    with pytest.raises(ClipError, match="YAML tag refused"):
        read_clip(clips / "pwned.md")


# Regression test (was a bug): clip.split_frontmatter reports YAML error lines one too high
# (mark.line + 2, but the frontmatter text handed to YAML starts with the newline that ends the
# '---' line, so the file line is mark.line + 1)
def test_yaml_errors_report_the_file_line(tmp_path: Path) -> None:
    # malformed_yaml.md: line 3 is `excerpt: Council votes: tonight`
    with pytest.raises(ClipError, match=r"malformed YAML at line 3: mapping values"):
        read_clip(BAD_CORPUS / "malformed_yaml.md")
    # pwned.md: the tag is on line 3
    with pytest.raises(ClipError, match=r"YAML tag refused at line 3: "):
        read_clip(BAD_CORPUS / "pwned.md")


def test_yaml_error_messages_name_a_line(tmp_path: Path) -> None:
    """Whatever the exact number, a YAML syntax error says where it is."""
    cases = [
        "---\ntitle: x\nexcerpt: a: b\n---\n",
        "---\ntitle: x\ntopics: [a, b\nquality: 1\n---\n",
        '---\ntitle: x\nexcerpt: "unterminated\n---\n',
        "---\ntitle: x\n\tquality: 1\n---\n",
        "---\ntitle: &a x\nexcerpt: *b\n---\n",
    ]
    for text in cases:
        with pytest.raises(ClipError, match=r"^p\.md: malformed YAML at line \d+: \S") as err:
            clip_from_text(text, "p.md")
        assert "\n" not in str(err.value)


def test_symlink_loop_is_reported_once_and_does_not_hang(tmp_path: Path) -> None:
    root = tmp_path / "clips"
    (root / "a" / "b").mkdir(parents=True)
    shutil.copy(BAD_CORPUS / "good_facial.md", root / "a" / "b" / "clip.md")
    os.symlink(root, root / "a" / "b" / "up")  # absolute link to an ancestor
    os.symlink("..", root / "a" / "b" / "sideways")  # relative link to an ancestor
    os.symlink("nowhere.md", root / "dangling.md")
    report = update_index([root], tmp_path / "index")
    assert report.added == 1
    assert {s.path: s.reason for s in report.skipped} == {
        str(root / "a/b/up"): f"{root / 'a/b/up'}: symlink loop (folder already visited), skipped",
        str(root / "a/b/sideways"): (
            f"{root / 'a/b/sideways'}: symlink loop (folder already visited), skipped"
        ),
        str(root / "dangling.md"): f"{root / 'dangling.md'}: broken symlink",
    }


def _index_json(root: Path, index: Path) -> tuple[int, str]:
    res = cli("index", root, "--index", index, "--json")
    return res.exit_code, res.stdout


def test_unreadable_file_is_skipped_with_its_reason(tmp_path: Path) -> None:
    root = copy_bad_corpus(tmp_path / "clips")
    locked = root / "good_vaccine.txt"
    locked.chmod(0)
    try:
        if as_unprivileged(os.access, locked, os.R_OK):
            pytest.skip("chmod 000 does not make a file unreadable here")
        exit_code, stdout = as_unprivileged(_index_json, root, tmp_path / "index")
        assert exit_code == 1
        reasons = {s["path"]: s["reason"] for s in json.loads(stdout)["skipped"]}
        assert reasons[str(locked)] == f"{locked}: cannot read: Permission denied"
        with open_index(tmp_path / "index") as idx:
            assert idx.search("surveillance", exact=True).total == 1
    finally:
        locked.chmod(0o644)


def test_unreadable_folder_is_skipped_with_its_reason(tmp_path: Path) -> None:
    root = copy_bad_corpus(tmp_path / "clips")
    locked = root / "nested"
    locked.chmod(0)
    try:
        if as_unprivileged(os.access, locked, os.R_OK):
            pytest.skip("chmod 000 does not make a folder unreadable here")
        report = as_unprivileged(update_index, [root], tmp_path / "index")
        reasons = {s.path: s.reason for s in report.skipped}
        assert reasons[str(locked)] == f"{locked}: cannot read folder: Permission denied"
        with open_index(tmp_path / "index") as idx:
            assert idx.search("surveillance", exact=True).total == 1
    finally:
        locked.chmod(0o755)


# Regression test (was a bug): sync.update_index removes every indexed clip under a folder it
# cannot read this time (discovery reports the folder, then its files count as deleted); a
# transient permission or mount problem empties that part of the index
def test_folder_that_becomes_unreadable_keeps_its_clips(tmp_path: Path) -> None:
    root = copy_bad_corpus(tmp_path / "clips")
    index = tmp_path / "index"
    as_unprivileged(update_index, [root], index)
    assert _count(index, "fjord") == 1
    locked = root / "nested"
    locked.chmod(0)
    try:
        if as_unprivileged(os.access, locked, os.R_OK):
            pytest.skip("chmod 000 does not make a folder unreadable here")
        report = as_unprivileged(update_index, [root], index)
        assert str(locked) in {s.path for s in report.skipped}
        assert report.removed == 0
        assert _count(index, "fjord") == 1
    finally:
        locked.chmod(0o755)


# --------------------------------------------------------------------------- --strict


def test_strict_stops_at_the_first_bad_file_and_changes_nothing(tmp_path: Path) -> None:
    root = tmp_path / "clips"
    index = tmp_path / "index"
    for rel, _word in GOOD.values():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(BAD_CORPUS / rel, root / rel)
    assert cli("index", root, "--index", index).exit_code == 0
    queries = ["", "surveillance", "booster OR fjord", "glacier", "new"]

    def state() -> tuple:
        with open_index(index) as idx:
            return (
                len(idx),
                [[(h.id, h.path, round(h.score, 6)) for h in idx.search(q).hits] for q in queries],
                idx.facet_values("topic"),
            )

    before = state()
    files_before = _commit_files(index)
    gen_before = generation(index)

    # a new good clip that sorts before the first bad one: parsed, then rolled back
    (root / "aaa_new.md").write_text("---\nid: strict-new\ntitle: A new clip\n---\nnarwhal\n")
    for rel in SKIPPED:
        if (BAD_CORPUS / rel).is_file():
            shutil.copy(BAD_CORPUS / rel, root / rel)
    (root / "dup_b.md").write_text("---\nid: dup-1\ntitle: Glacier survey edited\n---\n")
    res = cli("index", root, "--index", index, "--strict")
    assert res.exit_code == 1
    bad = root / "bad_date.md"  # the first bad file in walk order
    assert_one_line_error(
        res.stderr,
        f"{bad}: publishedDateTime: not an ISO 8601 date (got 'last Tuesday')",
        "--strict",
    )
    assert res.stdout == ""
    assert state() == before
    assert generation(index) == gen_before
    assert _commit_files(index) == files_before
    assert doc_count(index) == len(GOOD)

    # the same run without --strict indexes the good files
    assert cli("index", root, "--index", index).exit_code == 1
    with open_index(index) as idx:
        assert idx.search("narwhal", exact=True).total == 1


def _commit_files(index: Path) -> dict[str, bytes | int]:
    """What a commit consists of: TOCs, segments (by size) and clipsearch's own files.
    (A cancelled writer may leave unreferenced temporary files; the next commit
    deletes them.)"""
    out: dict[str, bytes | int] = {}
    for p in index.iterdir():
        if p.suffix in (".toc", ".seg"):
            out[p.name] = p.stat().st_size
        elif p.suffix == ".json":
            out[p.name] = p.read_bytes()
    return out


def test_strict_stops_at_a_symlink_loop_too(bad_corpus: Path) -> None:
    index = bad_corpus.parent / "index"
    update_index([BAD_CORPUS / "good_facial.md"], index)  # something to keep
    before = doc_count(index)
    assert before == 1
    res = cli("index", bad_corpus, "--index", index, "--strict")
    assert res.exit_code == 1
    assert_one_line_error(res.stderr, str(bad_corpus / "nested" / "loop"), "symlink loop")
    assert doc_count(index) == before


# Regression test (was a bug): index._indexed_files calls reader.column_reader on an index with no
# segments (Whoosh EmptyReader raises NotImplementedError), so every run after an index ended up
# empty dies with a traceback
def test_strict_on_a_fresh_index_leaves_it_usable(bad_corpus: Path) -> None:
    index = bad_corpus.parent / "index"
    assert cli("index", bad_corpus, "--index", index, "--strict").exit_code == 1
    res = cli_raw("index", bad_corpus, "--index", index)
    assert res.exit_code == 1 and TRACEBACK not in res.output
    assert not isinstance(res.exception, NotImplementedError)
    assert doc_count(index) == len(GOOD) + 1  # no --max-bytes: big.md is good too


# --------------------------------------------------------------------------- exit status 2


@pytest.mark.parametrize(
    "args",
    [
        ["index"],  # no PATHS
        ["index", "{clips}", "--lock-timeout", "soon"],
        ["index", "{clips}", "--max-bytes", "ten"],
        ["index", "{clips}", "--no-such-option"],
        ["search", "x", "--limit", "-1"],
        ["search", "x", "--since", "yesterday"],
        ["search", "x", "--sort", "size"],
        ["facets", "colour"],
    ],
)
def test_usage_errors_exit_2(args: list[str], tmp_path: Path) -> None:
    clips = tmp_path / "clips"
    clips.mkdir()
    index = tmp_path / "index"
    res = cli(*[a.format(clips=clips) for a in args], "--index", index)
    assert res.exit_code == 2, res.output
    assert "Error: " in res.stderr  # click's usage message, not a missing index
    assert TRACEBACK not in res.output
    assert not index.exists()


def test_missing_index_exits_2_with_one_line(tmp_path: Path) -> None:
    for args in (["search", "x"], ["stats"], ["show", "some-id"], ["facets", "topic"]):
        res = cli(*args, "--index", tmp_path / "nothing")
        assert res.exit_code == 2
        assert_one_line_error(res.stderr, str(tmp_path / "nothing"), "clipsearch index")


def test_index_folder_that_is_not_an_index_is_refused(tmp_path: Path) -> None:
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.tex").write_text("do not delete")
    res = cli("index", BAD_CORPUS / "good_facial.md", "--index", precious)
    assert res.exit_code == 2
    assert_one_line_error(res.stderr, str(precious), "not empty")
    assert (precious / "thesis.tex").read_text() == "do not delete"


# Regression test (was a bug): index.create lets OSError escape (os.makedirs on a path that is a
# file raises FileExistsError): traceback instead of a one-line usage error
def test_index_path_that_is_a_file_exits_2_with_one_line(tmp_path: Path) -> None:
    target = tmp_path / "index"
    target.write_text("a file, not a folder")
    res = cli_raw("index", BAD_CORPUS / "good_facial.md", "--index", target)
    assert res.exit_code == 2, res.exception
    assert_one_line_error(res.stderr, str(target))


# Regression test (was a bug): cli.index_cmd accepts --max-bytes 0 or negative (click int, no
# range): every file is then skipped as over the limit instead of a usage error
def test_nonpositive_max_bytes_is_a_usage_error(tmp_path: Path) -> None:
    index = tmp_path / "index"
    root = tmp_path / "clips"
    root.mkdir()
    shutil.copy(BAD_CORPUS / "good_facial.md", root / "good_facial.md")
    assert cli("index", root, "--index", index).exit_code == 0
    shutil.copy(BAD_CORPUS / "good_vaccine.txt", root / "good_vaccine.txt")
    res = cli("index", root, "--index", index, "--max-bytes", "-1")
    assert res.exit_code == 2, res.output


def test_nonexistent_path_is_one_line_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-folder"
    (tmp_path / "good").mkdir()
    shutil.copy(BAD_CORPUS / "good_facial.md", tmp_path / "good" / "good_facial.md")
    res = cli("index", tmp_path / "good", missing, "--index", tmp_path / "index")
    assert res.exit_code in (1, 2)
    assert TRACEBACK not in res.output
    lines = [ln for ln in res.stderr.splitlines() if str(missing) in ln]
    assert len(lines) == 1 and "no such file or folder" in lines[0]
    assert doc_count(tmp_path / "index") == 1


# --------------------------------------------------------------------------- beyond the list


# Regression test (was a bug): index._indexed_files fails on an index with no segments
# (NotImplementedError traceback): first run over a folder with no good clip
def test_a_folder_with_no_good_clip_exits_1_without_traceback(tmp_path: Path) -> None:
    root = tmp_path / "clips"
    root.mkdir()
    shutil.copy(BAD_CORPUS / "empty.md", root / "empty.md")
    index = tmp_path / "index"
    for _ in range(2):  # the first run and the next one
        res = cli_raw("index", root, "--index", index)
        assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
        assert res.exit_code == 1


@pytest.mark.parametrize(
    "case, line",
    [
        pytest.param("feb30", "publishedDateTime: 2021-02-30", id="feb30"),
        pytest.param("month13", "publishedDateTime: 2021-13-01T00:00:00Z", id="month13"),
        pytest.param("offset25h", "publishedDateTime: 2021-01-01T00:00:00+25:00", id="offset25h"),
        pytest.param("year1", "publishedDateTime: '0001-01-01T00:00:00+01:00'", id="year1"),
        pytest.param("year9999", "publishedDateTime: '9999-12-31T23:00:00-05:00'", id="year9999"),
        pytest.param("inf", "quality: .inf", id="inf"),
        pytest.param("nan", "quality: .nan", id="nan"),
        pytest.param("huge_float", "quality: '1e400'", id="huge_float"),
    ],
)
# Regression test (was a bug): clip.py lets ValueError/OverflowError escape: PyYAML's timestamp
# constructor (impossible dates, offsets >= 24 h) in split_frontmatter, datetime.astimezone
# overflow in to_utc, round(inf/nan) in _int
def test_impossible_dates_and_numbers_are_clip_errors(case: str, line: str) -> None:
    name, text = f"{case}.md", f"---\ntitle: x\n{line}\n---\n"
    with pytest.raises(ClipError) as err:
        clip_from_text(text, name)
    assert str(err.value).startswith(f"{name}: ")


def _count(index: Path, word: str) -> int:
    with open_index(index) as idx:
        return idx.search(word, exact=True).total


# Regression test (was a bug): clip._int accepts integers beyond 64 bits; Whoosh's
# NUMERIC(bits=64) then raises ValueError in Writer.add and the whole run dies with a traceback
def test_quality_out_of_64_bit_range_is_skipped_not_fatal(tmp_path: Path) -> None:
    root = tmp_path / "clips"
    root.mkdir()
    shutil.copy(BAD_CORPUS / "good_facial.md", root / "good_facial.md")
    (root / "huge.md").write_text("---\ntitle: x\nquality: 99999999999999999999999\n---\n")
    res = cli_raw("index", root, "--index", tmp_path / "index", "--json")
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    assert res.exit_code == 1
    skipped = json.loads(res.stdout)["skipped"]
    assert [s["path"] for s in skipped] == [str(root / "huge.md")]
    assert "quality" in skipped[0]["reason"]


# Regression test (was a bug): clip._show calls repr() on the whole value: a YAML alias bomb
# (billion laughs, 400 bytes) as topics makes ClipError's message exponential (MemoryError or a
# hang)
def test_yaml_alias_bomb_is_a_short_clip_error() -> None:
    # 9**9 strings by reference in 500 bytes: PyYAML builds it fast (aliases share
    # objects); repr() of it takes seconds, then runs out of memory.
    code = """
import resource
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
from clipsearch.ingest.clip import ClipError, clip_from_text
lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
prev = "a"
for name in "bcdefghi":
    lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    prev = name
text = "---\\ntitle: Billion laughs\\n" + "\\n".join(lines) + f"\\ntopics: *{prev}\\n---\\n"
try:
    clip_from_text(text, "bomb.md")
except ClipError as exc:
    print(exc)
"""
    try:
        proc = _python(code, timeout=3)
    except subprocess.TimeoutExpired:
        pytest.fail("parsing a 500-byte clip took more than 3 s")
    assert proc.returncode == 0, proc.stderr[-300:]
    assert proc.stdout.startswith("bomb.md: topics: must be a list of strings")
    assert len(proc.stdout) < 300


def _python(code: str, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run `code` in a fresh interpreter (killed after `timeout`)."""
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=timeout
    )


# Regression test (was a bug): clip.derive_id and the Whoosh path field encode the path as strict
# UTF-8: a file name that is not UTF-8 (surrogate-escaped) raises UnicodeEncodeError and kills the
# whole run
def test_non_utf8_file_name_does_not_kill_the_run(tmp_path: Path) -> None:
    root = tmp_path / "clips"
    root.mkdir()
    shutil.copy(BAD_CORPUS / "good_facial.md", root / "good_facial.md")
    with open(os.path.join(os.fsencode(root), b"caf\xe9.md"), "wb") as fh:
        fh.write(b"---\ntitle: Latin-1 file name\n---\n")
    res = cli_raw("index", root, "--index", tmp_path / "index")
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    assert res.exit_code in (0, 1)
    assert _count(tmp_path / "index", "surveillance") == 1


# Regression test (was a bug): a file name containing a newline makes a two-line 'skipped:'
# message (paths are printed raw in ClipError and discovery messages)
def test_file_name_with_newline_gives_one_line_message(tmp_path: Path) -> None:
    root = tmp_path / "clips"
    root.mkdir()
    shutil.copy(BAD_CORPUS / "good_facial.md", root / "good_facial.md")
    (root / "two\nlines.md").write_text("no frontmatter\n")
    res = cli("index", root, "--index", tmp_path / "index")
    assert res.exit_code == 1
    assert len([ln for ln in res.stderr.splitlines() if ln]) == 1, res.stderr


# Regression test (was a bug): clip.read_clip opens any path that ends in .md: a named pipe blocks
# open() forever (the run hangs); it should skip non-regular files
def test_named_pipe_with_clip_suffix_does_not_hang(tmp_path: Path) -> None:
    root = tmp_path / "clips"
    root.mkdir()
    shutil.copy(BAD_CORPUS / "good_facial.md", root / "good_facial.md")
    fifo = root / "pipe.md"
    os.mkfifo(fifo)
    result: list[object] = []
    thread = threading.Thread(
        target=lambda: result.append(update_index([root], tmp_path / "index")), daemon=True
    )
    thread.start()
    thread.join(3)
    hung = thread.is_alive()
    if hung:  # unblock the reader: open the pipe for writing and close it
        try:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            os.close(fd)
        except OSError:
            pass
        thread.join(5)
    assert not hung, "update_index blocked on a named pipe for 3 s"
    report = result[0]
    assert [s.path for s in report.skipped] == [str(fifo)]  # type: ignore[attr-defined]


# Regression test (was a bug): clip.read_clip checks the size with os.path.getsize (0 for a
# device) and then reads without a bound: a .md symlink to /dev/zero reads until memory runs out
def test_device_with_clip_suffix_is_skipped(tmp_path: Path) -> None:
    if not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero")
    root = tmp_path / "clips"
    root.mkdir()
    shutil.copy(BAD_CORPUS / "good_facial.md", root / "good_facial.md")
    os.symlink("/dev/zero", root / "zero.md")
    # A real process with its address space capped, so the bug cannot eat the machine.
    code = (
        "import resource\n"
        "resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))\n"
        "from clipsearch.cli import main\n"
        "main(prog_name='clipsearch')\n"
    )
    proc = _python(code, "index", str(root), "--index", str(tmp_path / "i"), timeout=60)
    assert TRACEBACK not in proc.stderr, proc.stderr[-300:]
    assert proc.returncode == 1
    assert f"skipped: {root / 'zero.md'}: " in proc.stderr
