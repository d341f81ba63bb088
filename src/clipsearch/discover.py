"""Finding clip files under the paths a user names.

Walks folders recursively in a stable (sorted) order, follows symlinks but
never loops, and reports what it cannot read instead of failing the run.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass

from clipsearch.clip import CLIP_SUFFIXES


@dataclass(frozen=True, slots=True)
class Found:
    """A clip file (`error` empty) or a path that could not be walked (`error` says why)."""

    path: str
    root: str
    stat: str = ""
    error: str = ""


def stat_key(st: os.stat_result) -> str:
    """What 'unchanged' means: same size and same modification time to the nanosecond."""
    return f"{st.st_mtime_ns}:{st.st_size}"


def find_clips(paths: list[str]) -> Iterator[Found]:
    """Every clip file under `paths` (files named directly are taken whatever their suffix)."""
    for given in paths:
        root = os.path.abspath(given)
        if not os.path.exists(root):
            yield Found(root, root, error="no such file or folder")
        elif os.path.isfile(root):
            yield _found(root, os.path.dirname(root))
        else:
            yield from _walk(root)


def _found(path: str, root: str) -> Found:
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return Found(path, root, error="file name is not valid UTF-8; rename the file")
    try:
        st = os.stat(path)
    except OSError as exc:
        return Found(path, root, error=f"cannot read: {exc.strerror or exc}")
    if not stat.S_ISREG(st.st_mode):
        return Found(path, root, error="not a regular file (a pipe, device or socket)")
    return Found(path, root, stat=stat_key(st))


def _walk(root: str) -> Iterator[Found]:
    seen: set[tuple[int, int]] = set()
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            st = os.stat(folder)
        except OSError as exc:
            yield Found(folder, root, error=f"cannot read folder: {exc.strerror or exc}")
            continue
        key = (st.st_dev, st.st_ino)
        if key in seen:
            yield Found(folder, root, error="symlink loop (folder already visited), skipped")
            continue
        seen.add(key)
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            yield Found(folder, root, error=f"cannot read folder: {exc.strerror or exc}")
            continue
        subfolders = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                is_dir = entry.is_dir()
            except OSError:
                is_dir = False
            if is_dir:
                subfolders.append(entry.path)
            elif entry.name.lower().endswith(CLIP_SUFFIXES):
                if entry.is_symlink() and not os.path.exists(entry.path):
                    yield Found(entry.path, root, error="broken symlink")
                else:
                    yield _found(entry.path, root)
        stack.extend(reversed(subfolders))
