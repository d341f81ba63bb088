"""Helpers for the reliability tests: running the CLI (in-process and as a real
process), writing many small clips fast, watching and killing indexer processes.

Everything here is self-contained: no fixture or helper of tests/conftest.py is used.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import pickle
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from click.testing import CliRunner, Result

from clipsearch import open_index, update_index
from clipsearch.cli import main

#: The committed corpus of bad (and a few good) clip files.
BAD_CORPUS = Path(__file__).resolve().parent.parent / "fixtures" / "bad"
#: Whoosh's write lock file inside an index folder (index name "clips").
LOCK_FILE = "clips_WRITELOCK"
TRACEBACK = "Traceback (most recent call last)"


# --------------------------------------------------------------------------- running the CLI


def cli(*args: str | os.PathLike[str]) -> Result:
    """`clipsearch ARGS` in-process (click's CliRunner); stdout and stderr kept apart.
    Fails the test when the command raised anything but SystemExit (a traceback)."""
    result = CliRunner().invoke(main, [os.fspath(a) for a in args], catch_exceptions=True)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        exc = result.exception
        raise AssertionError(
            f"clipsearch {' '.join(map(str, args))!r} raised {type(exc).__name__}: {exc}"
        ) from exc
    return result


def cli_raw(*args: str | os.PathLike[str]) -> Result:
    """Like `cli` but returns the result even when the command raised."""
    return CliRunner().invoke(main, [os.fspath(a) for a in args], catch_exceptions=True)


def command(*args: str | os.PathLike[str]) -> list[str]:
    return [sys.executable, "-m", "clipsearch", *map(os.fspath, args)]


def run(
    *args: str | os.PathLike[str], timeout: float = 60, cwd: str | os.PathLike[str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m clipsearch ARGS` as a real process."""
    return subprocess.run(
        command(*args),
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        timeout=timeout,
        cwd=cwd,
        env=clean_env(),
    )


def start(*args: str | os.PathLike[str]) -> subprocess.Popen[str]:
    """Start `python -m clipsearch ARGS` in its own process group (so the test can
    freeze or kill it together with the worker processes it forks)."""
    return subprocess.Popen(
        command(*args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        errors="replace",
        start_new_session=True,
        env=clean_env(),
    )


def clean_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("CLIPSEARCH_INDEX", None)
    return env


def assert_one_line_error(stderr: str, *needles: str) -> str:
    """stderr is exactly one `clipsearch: ...` line containing every needle; no traceback."""
    assert TRACEBACK not in stderr, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{stderr}"
    line = lines[0]
    assert line.startswith("clipsearch: "), line
    for needle in needles:
        assert needle in line, f"{needle!r} not in {line!r}"
    return line


# --------------------------------------------------------------------------- clips


def copy_bad_corpus(dest: Path) -> Path:
    """A private copy of tests/fixtures/bad (tests add symlinks and edit files)."""
    shutil.copytree(BAD_CORPUS, dest, symlinks=True)
    return dest


def write_clips(root: Path, n: int, marker: str, start: int = 0, per_folder: int = 500) -> None:
    """`n` small valid clips with ids `{marker}-{i}`; every clip contains `marker`
    (so `search(marker)` counts them) and the word `w{i}x{marker}` (to find one)."""
    for i in range(start, start + n):
        folder = root / f"{marker}{i // per_folder:03d}"
        if i % per_folder == 0 or i == start:
            folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{marker}-{i:05d}.md").write_text(
            f"---\nid: {marker}-{i}\ntitle: Report {i} from the {marker} desk\n"
            f"topics: [T{i % 7}]\nquality: {i % 100}\n---\n"
            f"The {marker} desk filed story w{i}x{marker} about harbors, ferries and "
            f"council budgets, item {i}.\n",
            encoding="utf-8",
        )


def count(index: Path, query: str) -> int:
    """How many clips match `query` in the index's last commit."""
    with open_index(index) as idx:
        return idx.search(query, limit=0, exact=True, facets=False).total


def doc_count(index: Path) -> int:
    with open_index(index) as idx:
        return len(idx)


def generation(index: Path) -> int:
    """Number of the index's latest commit (Whoosh writes `_clips_<gen>.toc`)."""
    gens = [int(p.stem.rsplit("_", 1)[1]) for p in index.glob("_clips_*.toc")]
    return max(gens) if gens else -1


# --------------------------------------------------------------------------- permissions

T = TypeVar("T")

#: Linux capabilities that let root read and search past file permissions.
_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH = 1, 2
_CAPABILITY_VERSION_3 = 0x20080522


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def _drop_permission_override() -> None:
    """Give up this process's capabilities to override file permissions (capset(2)):
    root stays root (its own files and Python's stay readable) but a chmod-000 file
    or folder is closed to it, as to anyone."""
    libc = ctypes.CDLL(None, use_errno=True)
    header, data = _CapHeader(_CAPABILITY_VERSION_3, 0), (_CapData * 2)()
    if libc.capget(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capget")
    keep = ~((1 << _CAP_DAC_OVERRIDE) | (1 << _CAP_DAC_READ_SEARCH)) & 0xFFFFFFFF
    data[0].effective &= keep
    data[0].permitted &= keep
    data[0].inheritable &= keep
    if libc.capset(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capset")


def as_unprivileged(fn: Callable[..., T], *args: Any) -> T:
    """fn(*args) where file permissions hold: in this process when it is not root,
    else in a forked child that first gives up root's power to override them (root
    reads a chmod-000 file; without that power it cannot), so the permission tests
    run in CI, which runs as root.  The result comes back pickled; an exception in the
    child fails the test with its text."""
    if os.geteuid() != 0 or not sys.platform.startswith("linux"):
        return fn(*args)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 0
        try:
            os.close(read_end)
            _drop_permission_override()
            outcome: tuple[str, Any] = ("value", fn(*args))
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            outcome = ("error", f"{type(exc).__name__}: {exc}")
        try:
            with os.fdopen(write_end, "wb") as fh:
                pickle.dump(outcome, fh)
        except BaseException:  # noqa: BLE001
            code = 1
        os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as fh:
        data = fh.read()
    _pid, status = os.waitpid(pid, 0)
    assert data and os.waitstatus_to_exitcode(status) == 0, "the unprivileged child failed"
    kind, value = pickle.loads(data)
    if kind == "error":
        raise AssertionError(f"without root's permission override: {value}")
    return value


# --------------------------------------------------------------------------- processes


def lock_held(index: Path) -> bool:
    """True when some process holds the index's write lock (Whoosh takes an exclusive
    flock on `clips_WRITELOCK`).  Probing takes the lock for an instant at most;
    clipsearch retries every 0.1 s, so a probe never makes an indexer fail."""
    path = index / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES):
            return True
        raise
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def lock_holders(index: Path) -> list[str]:
    """The processes with the index's lock file open ("pid state command"): what an
    assertion that the lock is free names when it is not."""
    target = str(index / LOCK_FILE)
    out = []
    for pid in _pids():
        try:
            if any(os.readlink(fd) == target for fd in Path(f"/proc/{pid}/fd").iterdir()):
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
                state = (_stat(pid) or ["gone"])[0]
                out.append(f"{pid} {state} {cmd.decode()[:120]}")
        except OSError:
            continue
    return out


def _pids() -> list[int]:
    return [int(e.name) for e in Path("/proc").iterdir() if e.name.isdigit()]


def _stat(pid: int, thread: int | None = None) -> list[str]:
    """The fields of /proc/PID/stat (or of one thread's) after the command name
    (state, ppid, pgrp, ...), or [] for a process that is gone."""
    path = f"/proc/{pid}/stat" if thread is None else f"/proc/{pid}/task/{thread}/stat"
    try:
        return Path(path).read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def children(pid: int) -> list[int]:
    """Direct child processes of `pid`, forked by any of its threads (Linux /proc)."""
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            continue
    return out


def group_alive(pgid: int) -> list[int]:
    """Processes of process group `pgid` that have not exited (Linux /proc): a
    process still holds its files, the index's lock among them, until it is a zombie."""
    return [p for p in _pids() if (f := _stat(p)) and int(f[2]) == pgid and alive(p)]


def alive(pid: int) -> bool:
    """Whether `pid` has not exited: its main thread is not a zombie, or another of its
    threads (a queue's feeder thread) is still exiting, and with it the files they
    share stay open (seen: the lock still held just after every main thread of a
    killed run was a zombie)."""
    fields = _stat(pid)
    if not fields:
        return False
    if fields[0] != "Z":
        return True
    try:
        tasks = [int(t) for t in os.listdir(f"/proc/{pid}/task") if int(t) != pid]
    except (OSError, ValueError):
        return False
    return any((_stat(pid, t) or ["X"])[0] not in ("Z", "X") for t in tasks)


def wait_for(
    condition: Callable[[], bool],
    timeout: float,
    proc: subprocess.Popen[str] | None = None,
    poll: float = 0.005,
) -> bool:
    """Poll `condition` until it holds (True), `proc` exits or `timeout` passes (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        if proc is not None and proc.poll() is not None:
            return condition()
        time.sleep(poll)
    return False


def kill_group(proc: subprocess.Popen[str], sig: int = signal.SIGKILL) -> None:
    """Signal the process group started by `start()` (the indexer and its workers)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)


def descendants(pid: int) -> list[int]:
    out: list[int] = []
    todo = [pid]
    while todo:
        for child in children(todo.pop()):
            out.append(child)
            todo.append(child)
    return out


def kill_and_wait(proc: subprocess.Popen[str], sig: int = signal.SIGKILL) -> None:
    """Signal the whole process group, then wait until the indexer and every process
    of its group are gone (a killed worker closes its files, and the lock, a moment
    later; the group also holds any process its list of descendants missed)."""
    family = descendants(proc.pid)
    kill_group(proc, sig)
    proc.wait(30)

    def gone() -> bool:
        return not any(alive(p) for p in family) and not group_alive(proc.pid)

    assert wait_for(gone, 10), f"processes outlived the kill: {group_alive(proc.pid)}"


@dataclass
class Procs:
    """Processes a test started; every one is killed (by its own id) at teardown."""

    started: list[subprocess.Popen[str]]
    extra_pids: list[int]

    def start(self, *args: str | os.PathLike[str]) -> subprocess.Popen[str]:
        proc = start(*args)
        self.started.append(proc)
        return proc

    def adopt(self, pids: list[int]) -> None:
        self.extra_pids.extend(pids)


@pytest.fixture
def procs() -> Iterator[Procs]:
    tracker = Procs([], [])
    yield tracker
    for pid in tracker.extra_pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    for proc in tracker.started:
        if proc.poll() is None:
            kill_group(proc, signal.SIGCONT)
            kill_group(proc)
        with contextlib.suppress(Exception):
            proc.communicate(timeout=10)


#: The bulk corpus: clips committed before a test's run, clips that run adds (over
#: sync.BULK_THRESHOLD, so Whoosh's multi-process writer is used), a few more elsewhere.
N_OLD, N_NEW, N_MORE = 400, 2100, 50


@dataclass(frozen=True)
class BulkCorpus:
    clips: Path  # clips/old (N_OLD, marker "oldbatch") and clips/new (N_NEW, "newbatch")
    more: Path  # N_MORE clips, marker "morebatch"
    old_index: Path  # an index of clips/old only: copy it, never write to it


@pytest.fixture(scope="session")
def bulk(tmp_path_factory: pytest.TempPathFactory) -> BulkCorpus:
    base = tmp_path_factory.mktemp("bulk")
    write_clips(base / "clips" / "old", N_OLD, "oldbatch")
    write_clips(base / "clips" / "new", N_NEW, "newbatch")
    write_clips(base / "more", N_MORE, "morebatch")
    old_index = base / "old-index"
    report = update_index([base / "clips" / "old"], old_index)
    assert report.ok and report.added == N_OLD
    return BulkCorpus(base / "clips", base / "more", old_index)


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in tmp_path (side effects such as a `touch PWNED` would land there)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CLIPSEARCH_INDEX", raising=False)
    return tmp_path
