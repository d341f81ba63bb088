"""The `clipsearch` process itself (`python -m clipsearch`, the console script's
`run`): a read-only command ends the process right after flushing its output, and
prints, exits and fails exactly as the same command run through click does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import write_corpus

from clipsearch import update_index
from clipsearch.cli import main


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("process")
    index = root / "index"
    assert update_index([write_corpus(root / "clips")], index).ok
    return index


def _process(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLIPSEARCH_")}
    env["NO_COLOR"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "clipsearch", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    "args",
    [
        ["search", "vacine"],
        ["search", "solar panel", "--json"],
        ["search", "vaccine", "--limit", "50", "--histogram", "month"],
        ["facets", "provider", "vaccine"],
        ["stats", "--json"],
    ],
)
def test_a_read_only_command_prints_all_of_its_output(index: Path, args: list[str]) -> None:
    proc = _process(*args, "--index", str(index))
    expected = CliRunner().invoke(main, [*args, "--index", str(index)], env={"NO_COLOR": "1"})
    assert proc.returncode == expected.exit_code == 0, proc.stderr
    if args[0] == "stats":  # its size and last update are of the same index: equal too
        assert proc.stdout == expected.output
    else:
        assert proc.stdout == expected.output and proc.stdout.strip()


def test_a_failing_read_only_command_keeps_its_status_and_message(index: Path) -> None:
    proc = _process("search", "vaccine", "--index", str(index), "--topic", "no such topic")
    assert proc.returncode == 2
    assert proc.stderr.startswith("clipsearch: ") and len(proc.stderr.splitlines()) == 1
    proc = _process("search", "vaccine", "--index", str(index.parent / "missing"))
    assert proc.returncode == 2 and "no clipsearch index" in proc.stderr


def test_a_closed_pipe_ends_quietly(index: Path) -> None:
    """`clipsearch search ... | head -1`: no traceback, whatever is lost."""
    cmd = f"{sys.executable} -m clipsearch search vaccine --limit 50 --index {index} | head -1"
    proc = subprocess.run(["sh", "-c", cmd], capture_output=True, text=True, timeout=120)
    assert proc.stdout.strip() and "Traceback" not in proc.stderr


def test_other_commands_exit_as_usual(index: Path, tmp_path: Path) -> None:
    """An index run is not cut short: it commits and reports as through click."""
    clips = tmp_path / "clips"
    write_corpus(clips)
    proc = _process("index", str(clips), "--index", str(tmp_path / "ix"))
    assert proc.returncode == 0 and " added, " in proc.stdout + proc.stderr
    proc = _process("search", "vaccine", "--index", str(tmp_path / "ix"), "--json")
    assert proc.returncode == 0 and '"total"' in proc.stdout


def test_the_cli_runs_numpy_on_one_blas_thread_unless_told_otherwise() -> None:
    """OpenBLAS would start a thread per core at numpy's import for nothing (clipsearch
    multiplies no matrices); the user's own setting is kept."""
    import os
    import subprocess
    import sys

    code = "import os, clipsearch.cli; print(os.environ['OPENBLAS_NUM_THREADS'])"
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "1", out.stderr
    env["OPENBLAS_NUM_THREADS"] = "3"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "3", out.stderr
