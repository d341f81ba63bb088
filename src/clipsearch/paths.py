"""Paths as users see them: one printable line, whatever bytes the name holds; and
the index folder used when none is named."""

from __future__ import annotations

import os


def default_index_dir() -> str:
    """`$CLIPSEARCH_INDEX`, else `index/` in the current directory."""
    return os.environ.get("CLIPSEARCH_INDEX") or os.path.join(os.getcwd(), "index")


def shown_path(path: str) -> str:
    """A path as one printable line: control characters and undecodable bytes escaped."""
    if path.isprintable():
        return path
    return "".join(
        ch
        if ch.isprintable()
        else ch.encode("utf-8", "backslashreplace").decode("ascii")
        if "\ud800" <= ch <= "\udfff"
        else repr(ch)[1:-1]
        for ch in path
    )
