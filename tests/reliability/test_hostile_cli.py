"""The command line against a hostile review (issue 16): exit statuses for a machine
that refuses, output encodings that cannot hold the text, files that are not UTF-8,
terminal escape sequences inside clips, and NO_COLOR."""

from __future__ import annotations

import errno
import json
import os
import pty
import subprocess
from pathlib import Path

import pytest
import yaml

from clipsearch import StorageError, open_index
from clipsearch.cli.errors import EXIT_ENVIRONMENT, EXIT_INTERRUPTED
from clipsearch.cli.output import use_color
from clipsearch.index.writer import Writer

from .conftest import TRACEBACK, assert_one_line_error, clean_env, cli, command

README = Path(__file__).resolve().parents[2] / "README.md"


def write(path: Path, meta: dict, body: str = "") -> Path:
    """A clip file; YAML escapes control characters in double-quoted strings."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(meta, allow_unicode=True, sort_keys=False, width=1000)
    path.write_text(f"---\n{text}---\n{body}", encoding="utf-8")
    return path


@pytest.fixture
def small(tmp_path: Path) -> tuple[Path, Path]:
    """(clip folder, index folder) with one indexed clip."""
    write(tmp_path / "clips" / "a.md", {"id": "a", "title": "Harbour cranes covid"})
    assert cli("index", tmp_path / "clips", "--index", tmp_path / "index").exit_code == 0
    return tmp_path / "clips", tmp_path / "index"


# --------------------------------------------------------------------------- A: exit 3, 130


def _raise(exc: BaseException):
    def raiser(*args: object, **kwargs: object) -> None:
        raise exc

    return raiser


@pytest.mark.parametrize(
    ("method", "kind", "reason"),
    [
        ("commit", errno.ENOSPC, "No space left on device"),
        ("add", errno.EROFS, "Read-only file system"),
        ("add", errno.EACCES, "Permission denied"),
        ("add", None, "Read-only file system"),  # a StorageError from the writer
    ],
)
def test_index_run_the_machine_refuses_exits_3_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, method: str, kind: int | None, reason: str
) -> None:
    index = tmp_path / "index"
    clips = tmp_path / "clips"
    write(clips / "a.md", {"id": "a", "title": "Harbour"})
    assert cli("index", clips, "--index", index).exit_code == 0
    write(clips / "b.md", {"id": "b", "title": "Lighthouse"})
    exc: Exception
    if kind is None:
        exc = StorageError(str(index), OSError(errno.EROFS, reason))
    else:
        exc = OSError(kind, reason, str(index / "clips_1.seg"))
    monkeypatch.setattr(Writer, method, _raise(exc))
    res = cli("index", clips, "--index", index)
    assert res.exit_code == EXIT_ENVIRONMENT == 3, res.output
    assert_one_line_error(res.stderr, str(index), reason)
    assert res.stdout == ""
    monkeypatch.undo()
    with open_index(index) as idx:  # the last commit is intact
        assert len(idx) == 1


@pytest.mark.parametrize(
    "args",
    [["search", "x"], ["show", "a"], ["stats"], ["facets", "topic"]],
)
@pytest.mark.parametrize(
    "exc",
    [
        StorageError("/idx/clips_1.seg", OSError(errno.EIO, "Input/output error")),
        OSError(errno.EIO, "Input/output error", "/idx/clips_1.seg"),
    ],
    ids=["StorageError", "OSError"],
)
def test_every_command_maps_a_refusal_to_exit_3(
    small: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, args: list[str], exc: Exception
) -> None:
    _, index = small
    monkeypatch.setattr("clipsearch.search.engine.ClipIndex", _raise(exc))  # `_open` imports it
    res = cli(*args, "--index", index)
    assert res.exit_code == 3, res.output
    assert_one_line_error(res.stderr, "/idx/clips_1.seg", "Input/output error")


def test_evaluate_maps_a_refusal_to_exit_3(
    small: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, index = small
    qrels = index.parent / "qrels.txt"
    qrels.write_text("1 0 a 1\n")
    queries = index.parent / "queries.tsv"
    queries.write_text("1\tharbour\n")
    monkeypatch.setattr(
        "clipsearch.search.engine.ClipIndex.search",
        _raise(OSError(errno.EIO, "Input/output error", str(index / "clips_1.seg"))),
    )
    res = cli("evaluate", qrels, "--queries", queries, "--index", index)
    assert res.exit_code == 3, res.output
    assert_one_line_error(res.stderr, str(index / "clips_1.seg"), "Input/output error")


def test_interrupted_search_exits_130(small: tuple[Path, Path], monkeypatch) -> None:
    _, index = small
    monkeypatch.setattr("clipsearch.search.engine.ClipIndex.search", _raise(KeyboardInterrupt()))
    res = cli("search", "x", "--index", index)
    assert res.exit_code == EXIT_INTERRUPTED == 130
    assert_one_line_error(res.stderr, "interrupted")


def test_exit_statuses_are_documented() -> None:
    readme = README.read_text(encoding="utf-8")
    indexing = readme.split("### Indexing", 1)[1].split("\n### ", 1)[0]
    for status in ("0 ", "1 ", "2 ", "3 ", "130 "):
        assert f"`{status.strip()}`" in indexing, status
    help_text = cli("--help").stdout
    assert "3 the machine refused" in help_text and "130 interrupted" in help_text


# --------------------------------------------------------------------------- C: evaluate


@pytest.mark.parametrize("which", ["qrels", "run", "queries"])
def test_evaluate_with_a_file_that_is_not_utf8_is_one_line(
    small: tuple[Path, Path], which: str
) -> None:
    _, index = small
    folder = index.parent
    bad = folder / "latin1.txt"
    bad.write_bytes(b"1 0 d1 1\n1 0 caf\xe9 1\n")
    good = {"qrels": folder / "qrels.txt", "run": folder / "run.txt"}
    good["qrels"].write_text("1 0 d1 1\n")
    good["run"].write_text("1 Q0 d1 1 1.0 t\n")
    args: list[str | Path] = {
        "qrels": [bad, good["run"]],
        "run": [good["qrels"], bad],
        "queries": [good["qrels"], "--queries", bad, "--index", index],
    }[which]
    res = cli("evaluate", *args)
    assert res.exit_code == 2, res.output
    assert_one_line_error(res.stderr, f"{bad}:2: not UTF-8: byte 0xe9 at offset 16")


@pytest.mark.parametrize("where", ["missing", "inside a file"])
def test_save_run_into_a_folder_that_cannot_be_is_a_usage_error(tmp_path: Path, where: str) -> None:
    qrels = tmp_path / "qrels.txt"
    qrels.write_text("1 0 d1 1\n")
    run = tmp_path / "run.txt"
    run.write_text("1 Q0 d1 1 1.0 t\n")
    folder = tmp_path / "no-such-folder" if where == "missing" else qrels
    target = folder / "out.txt"
    res = cli("evaluate", qrels, run, "--save-run", target)
    assert res.exit_code == 2, res.output
    why = "does not exist" if where == "missing" else "is not a folder"
    assert_one_line_error(res.stderr, "--save-run", str(target), str(folder), why)
    assert res.stdout == ""


def test_save_run_refused_by_the_machine_exits_3(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    qrels = tmp_path / "qrels.txt"
    qrels.write_text("1 0 d1 1\n")
    run = tmp_path / "run.txt"
    run.write_text("1 Q0 d1 1 1.0 t\n")
    target = tmp_path / "out.txt"
    monkeypatch.setattr(
        "clipsearch.evaluate.write_run",
        _raise(OSError(errno.ENOSPC, "No space left on device", str(target))),
    )
    res = cli("evaluate", qrels, run, "--save-run", target)
    assert res.exit_code == 3, res.output
    assert_one_line_error(res.stderr, str(target), "No space left on device")


# --------------------------------------------------------------------------- B: encodings


TITLE = "Covid — the 北京 report"


def test_output_encoding_that_cannot_hold_the_text(tmp_path: Path) -> None:
    """PYTHONIOENCODING=latin-1 and a title with an em dash and Chinese: no
    UnicodeEncodeError; human output escapes, JSON stays valid and exact."""
    clips = tmp_path / "clips"
    write(clips / "a.md", {"id": "cn-1", "title": TITLE, "topics": ["中国"]}, "covid body\n")
    index = tmp_path / "index"
    env = clean_env() | {"PYTHONIOENCODING": "latin-1"}

    def run(*args: str | Path) -> subprocess.CompletedProcess[bytes]:
        proc = subprocess.run(command(*args), capture_output=True, env=env, timeout=60)
        assert TRACEBACK.encode() not in proc.stderr, proc.stderr.decode("latin-1")
        assert proc.returncode == 0, proc.stderr.decode("latin-1")
        return proc

    run("index", clips, "--index", index)
    human = run("search", "covid", "--index", index).stdout.decode("latin-1")
    assert "Covid] \\u2014 the \\u5317\\u4eac report" in human
    assert "\\u4e2d\\u56fd (1)" in human
    for args in (["search", "covid"], ["show", "cn-1"], ["stats"], ["facets", "topic"]):
        data = json.loads(run(*args, "--json", "--index", index).stdout.decode("ascii"))
        text = json.dumps(data, ensure_ascii=False)
        assert "中国" in text and (TITLE in text or args[0] in ("stats", "facets")), text
    shown = run("show", "cn-1", "--index", index).stdout.decode("latin-1")
    assert "title: Covid \\u2014 the \\u5317\\u4eac report" in shown
    assert "\\u4e2d\\u56fd" in run("stats", "--index", index).stdout.decode("latin-1")
    # an error message with such text: stderr too
    proc = subprocess.run(
        command("show", "北京", "--index", index), capture_output=True, env=env, timeout=60
    )
    assert proc.returncode == 2
    assert_one_line_error(proc.stderr.decode("latin-1"), "no clip with id")


# --------------------------------------------------------------------------- D: escapes


RED = "\x1b[31mRED\x1b[0m"
BAD = {
    "id": "esc-1",
    "title": f"Alarm {RED} bell\x07 covid\r\nsecond line",
    "excerpt": "Excerpt \x1b]0;pwned title\x07 covid text \x1b[2J",
    "provider": {"name": "Prov\x1b[5mider", "domain": "example.org"},
    "webUrl": "https://example.org/\x1b]8;;https://evil.test\x1b\\story",
    "topics": ["Top\x1b[1Aic", "Bell\x07"],
    "related": [{"title": "Related \x9b31mcovid"}],
}
BODY = "First covid paragraph \x1b[31mred\x1b[0m.\n\nSecond \x07paragraph.\n"


def _assert_clean(text: str) -> None:
    assert "\x1b" not in text and "\x07" not in text and "\x9b" not in text, repr(text)
    assert "\r" not in text, repr(text)


def test_escape_sequences_in_clips_never_reach_the_terminal(tmp_path: Path) -> None:
    clips = tmp_path / "clips"
    write(clips / "esc.md", BAD, BODY)
    write(clips / "single.md", {"title": "Single", "topics": "Bad\x1b[2Jtopic"})  # a warning
    (clips / "no\x1b[31mfront.md").write_text("no frontmatter\n")  # a skipped line
    index = tmp_path / "index"
    res = cli("index", clips, "--index", index)
    assert res.exit_code == 1
    _assert_clean(res.stdout + res.stderr)
    assert len(res.stderr.splitlines()) == 2  # one skipped line, one warning line

    out = cli("search", "covid", "--index", index).stdout
    _assert_clean(out)
    assert "Alarm RED bell covid second line" in out.replace("[covid]", "covid")
    assert "Provider | undated" in out
    assert "https://example.org/story" in out
    assert "Topic (1)" in out and "Bell (1)" in out

    shown = cli("show", "esc-1", "--index", index).stdout
    _assert_clean(shown)
    assert "title: Alarm RED bell covid second line" in shown
    assert "First covid paragraph red.\n\nSecond paragraph." in shown  # body keeps its lines
    assert "topics: Topic, Bell" in shown

    for args in (["stats"], ["facets", "topic"], ["facets", "provider"]):
        _assert_clean(cli(*args, "--index", index).stdout)

    # JSON keeps the data as it is (escaped by json.dumps)
    data = json.loads(cli("show", "esc-1", "--json", "--index", index).stdout)
    assert data["title"] == BAD["title"].replace("\r\n", "\n") or data["title"] == BAD["title"]
    hits = json.loads(cli("search", "covid", "--json", "--index", index).stdout)["hits"]
    assert hits[0]["provider"] == "Prov\x1b[5mider"


def test_query_errors_never_echo_escapes(small: tuple[Path, Path]) -> None:
    _, index = small
    res = cli("show", "\x1b[31mred", "--index", index)
    assert res.exit_code == 2
    _assert_clean(res.stderr)


# --------------------------------------------------------------------------- E: NO_COLOR


class _Tty:
    def isatty(self) -> bool:
        return True


class _Pipe:
    def isatty(self) -> bool:
        return False


@pytest.mark.parametrize(
    ("no_color", "stream", "expected"),
    [
        (None, _Tty(), True),
        ("", _Tty(), True),  # an empty value does not disable colour (no-color.org)
        ("1", _Tty(), False),
        ("0", _Tty(), False),  # any non-empty value does
        (None, _Pipe(), False),
        ("1", _Pipe(), False),
        (None, object(), False),  # no isatty at all
    ],
)
def test_color_decision(monkeypatch: pytest.MonkeyPatch, no_color, stream, expected) -> None:
    if no_color is None:
        monkeypatch.delenv("NO_COLOR", raising=False)
    else:
        monkeypatch.setenv("NO_COLOR", no_color)
    assert use_color(stream) is expected


def _on_a_terminal(args: list[str | Path], env: dict[str, str]) -> str:
    """stdout of `clipsearch ARGS` run with a pseudo-terminal as its stdout."""
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(
            command(*args), stdout=slave, stderr=subprocess.PIPE, env=env, close_fds=True
        )
    finally:
        os.close(slave)
    chunks = []
    try:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(master)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    return b"".join(chunks).decode("utf-8", "replace")


# Regression test (was a bug, issue 16 E): highlights were coloured on a terminal even
# with NO_COLOR=1
def test_no_color_is_honoured_on_a_terminal(small: tuple[Path, Path]) -> None:
    _, index = small
    env = clean_env()
    env.pop("NO_COLOR", None)
    coloured = _on_a_terminal(["search", "harbour", "--index", index], env)
    assert "\x1b[" in coloured  # colour on a terminal works...
    plain = _on_a_terminal(["search", "harbour", "--index", index], env | {"NO_COLOR": "1"})
    assert "\x1b" not in plain  # ...and NO_COLOR turns it off
    assert "[Harbour] cranes covid" in plain
