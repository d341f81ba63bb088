"""Finding clip files under the paths a user names.

A clip file is known by its real path (symlinks resolved), so one file reached
twice (a root named twice, overlapping roots, a symlinked root, an alias folder
inside a root) is one file.  Folders are walked in a stable (sorted) order,
symlinks are followed but never loop, and what cannot be read is reported
instead of failing the run.
"""

from __future__ import annotations

import os
import stat
import time
from dataclasses import dataclass, field
from typing import NamedTuple

from clipsearch.ingest import CLIP_SUFFIXES

#: Modification times this close to the moment a file was looked at cannot be
#: trusted to change with the next edit: filesystems with whole-second (FAT: two
#: second) times give a same-size edit within that window the same time.
RACY_WINDOW_NS = 2_000_000_000


class Found(NamedTuple):
    """A clip file (`error` empty) or a path that could not be walked (`error` says why).
    `racy`: modified too recently for its `stat` to reveal the next same-size edit.

    A named tuple: one is made per file on every run, and a named tuple is built in
    one call where a frozen dataclass sets each field through object.__setattr__."""

    path: str
    stat: str = ""
    racy: bool = False
    error: str = ""
    #: The root it was found under, when its real path lies outside that root (a
    #: symlink led there): the index keeps it, so the file goes when the link goes.
    via: str = ""


@dataclass
class Discovery:
    """What one walk over the given paths found."""

    files: list[Found] = field(default_factory=list)
    problems: list[Found] = field(default_factory=list)
    #: Real paths whose whole contents were walked: the given roots, and folders
    #: outside them reached through symlinks.  Indexed files under these that were
    #: not found are gone.
    scope: list[str] = field(default_factory=list)
    #: Folders that could not be read this time: their clips must stay as they were.
    unreadable: list[str] = field(default_factory=list)


def stat_key(st: os.stat_result) -> str:
    """What 'unchanged' means: same size and same modification time to the nanosecond."""
    return f"{st.st_mtime_ns}:{st.st_size}"


def is_under(path: str, folder: str) -> bool:
    """Whether `path` is `folder` or inside it (both absolute, normalised)."""
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def discover(paths: list[str]) -> Discovery:
    """Every clip file under `paths` (files named directly are taken whatever their suffix)."""
    out = Discovery()
    seen_files: set[str] = set()
    seen_folders: set[tuple[int, int]] = set()
    linked: set[str] = set()  # folders reached through symlinks
    for given in paths:
        root = os.path.realpath(given)
        out.scope.append(root)  # a root that is gone: its clips are gone too
        if not os.path.exists(root):
            out.problems.append(Found(os.path.abspath(given), error="no such file or folder"))
            continue
        if os.path.isdir(root):
            _walk(root, out, seen_files, seen_folders, linked)
        elif root not in seen_files:
            seen_files.add(root)
            _add(out, _found(root, os.path.abspath(given)))
    roots = list(out.scope)
    out.scope += sorted(f for f in linked if not any(is_under(f, r) for r in roots))
    return out


def _add(out: Discovery, found: Found) -> None:
    (out.problems if found.error else out.files).append(found)


#: Whether a file can be looked at by its name in an open folder (POSIX): the
#: kernel then resolves one name, not every folder of the path (a third of a stat's
#: cost for 155k files in month folders).
_STAT_IN_FOLDER = os.stat in os.supports_dir_fd


def _found(
    path: str, named: str, now_ns: int | None = None, folder: tuple[int, str] | None = None
) -> Found:
    """The file at real path `path`; problems are reported under the name it was
    reached by (`named`), which is what the user knows.  `now_ns`: the clock read
    before the stat (a folder's files share one reading); `folder`: the open folder
    holding `path` and its name there."""
    if not _utf8(path):
        return Found(named, error="file name is not valid UTF-8; rename the file")
    # Compared with the clock, not with this run's start: a file written during a
    # long run is as racy as one written just before it.  Read before the stat, the
    # clock can only be early, which makes more files racy, never fewer.
    if now_ns is None:
        now_ns = time.time_ns()
    try:
        st = os.stat(folder[1], dir_fd=folder[0]) if folder else os.stat(path)
    except OSError as exc:
        return Found(named, error=_cannot_read(exc))
    if not stat.S_ISREG(st.st_mode):
        return Found(named, error=_NOT_REGULAR)
    racy = st.st_mtime_ns > now_ns - RACY_WINDOW_NS
    return Found(path, stat_key(st), racy)


_NOT_REGULAR = "not a regular file (a pipe, device or socket)"


def _cannot_read(exc: OSError) -> str:
    return f"cannot read: {exc.strerror or exc}"


def _utf8(path: str) -> bool:
    """Whether a path is UTF-8 text (a name that is not decodes with surrogates)."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _walk(
    root: str,
    out: Discovery,
    seen_files: set[str],
    seen_folders: set[tuple[int, int]],
    linked: set[str],
) -> None:
    stack = [root]
    while stack:
        folder = stack.pop()  # a real path
        try:
            st = os.stat(folder)
        except OSError as exc:
            out.problems.append(Found(folder, error=f"cannot read folder: {exc.strerror or exc}"))
            out.unreadable.append(folder)
            continue
        key = (st.st_dev, st.st_ino)
        if key in seen_folders:
            continue  # an alias of a folder already walked (or a root named twice)
        seen_folders.add(key)
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            out.problems.append(Found(folder, error=f"cannot read folder: {exc.strerror or exc}"))
            out.unreadable.append(folder)
            continue
        fd = _open_folder(folder)
        try:
            _walk_folder(folder, fd, entries, root, out, seen_files, linked, stack)
        finally:
            if fd is not None:
                os.close(fd)


def _open_folder(folder: str) -> int | None:
    """The folder open to look its files up by name (None: by their paths)."""
    if not _STAT_IN_FOLDER:
        return None
    try:
        return os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return None


def _walk_folder(
    folder: str,
    fd: int | None,
    entries: list[os.DirEntry],
    root: str,
    out: Discovery,
    seen_files: set[str],
    linked: set[str],
    stack: list[str],
) -> None:
    """One folder's entries (`fd`: the folder open, or None): its clip files found,
    its subfolders pushed on `stack`."""
    subfolders = []
    inside = is_under(folder, root)  # else a folder a symlink led to
    now_ns = time.time_ns()
    # The usual file (an ASCII name in a folder whose name is UTF-8, looked up in the
    # open folder) is found inline: 155k of them make a re-run's walk, where a call
    # of _found and a _replace each were a third of its time.
    quick = fd is not None and _utf8(folder)
    racy_after = now_ns - RACY_WINDOW_NS
    via = "" if inside else root
    for entry in entries:
        name = entry.name
        if name.startswith("."):
            continue
        if quick and name.isascii() and name.lower().endswith(CLIP_SUFFIXES):
            try:
                plain = not entry.is_symlink() and not entry.is_dir()
            except OSError:
                plain = False
            real = entry.path
            if plain and real not in seen_files:
                seen_files.add(real)
                try:
                    st = os.stat(name, dir_fd=fd)
                except OSError as exc:
                    out.problems.append(Found(real, error=_cannot_read(exc)))
                    continue
                if not stat.S_ISREG(st.st_mode):
                    out.problems.append(Found(real, error=_NOT_REGULAR))
                    continue
                racy = st.st_mtime_ns > racy_after
                out.files.append(Found(real, stat_key(st), racy, "", via))
                continue
            if plain:
                continue  # a file already found
        try:
            is_dir = entry.is_dir()
        except OSError:
            is_dir = False
        if is_dir:
            real = os.path.realpath(entry.path) if entry.is_symlink() else entry.path
            if entry.is_symlink() and is_under(folder, real):  # links to an ancestor
                out.problems.append(
                    Found(entry.path, error="symlink loop (folder already visited), skipped")
                )
                continue
            if entry.is_symlink() and not is_under(real, root):
                linked.add(real)
            subfolders.append(real)
        elif entry.name.lower().endswith(CLIP_SUFFIXES):
            link = entry.is_symlink()
            if link and not os.path.exists(entry.path):
                out.problems.append(Found(entry.path, error="broken symlink"))
                continue
            real = os.path.realpath(entry.path) if link else entry.path
            if real not in seen_files:
                seen_files.add(real)
                by_name = None if link or fd is None else (fd, entry.name)
                found = _found(real, entry.path, now_ns, by_name)
                if found.error:
                    out.problems.append(found)
                    continue
                if not (is_under(real, root) if link else inside):
                    found = found._replace(via=root)
                out.files.append(found)
    stack.extend(reversed(subfolders))
