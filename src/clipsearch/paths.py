"""Paths as users see them: one printable line, whatever bytes the name holds."""

from __future__ import annotations


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
