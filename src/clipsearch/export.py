"""Exporting every match of a search as JSON Lines or CSV, one clip at a time, so the
memory used does not grow with the number of matches.

CSV follows RFC 4180 (quoted as needed, CRLF line ends) and is UTF-8; lists are
joined with "; " and the highlights map is written as JSON text."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TextIO

from clipsearch.errors import RequestError
from clipsearch.search.result import Hit

FORMATS = ("jsonl", "csv")
#: Every field a row can have: the keys of a hit in the JSON contract.
FIELDS = (
    "id",
    "score",
    "title",
    "excerpt",
    "url",
    "provider",
    "topics",
    "published",
    "path",
    "quality",
    "highlights",
)
DEFAULT_FIELDS = ("id", "published", "provider", "title", "url", "topics", "score", "excerpt")
LIST_SEPARATOR = "; "


def parse_fields(text: str | Sequence[str]) -> tuple[str, ...]:
    """Field names from "a,b,c" (or a sequence); an unknown or repeated one is a
    `RequestError` naming it."""
    names = [n.strip() for n in text.split(",")] if isinstance(text, str) else list(text)
    names = [n for n in names if n]
    if not names:
        raise RequestError("fields", text, "name at least one field")
    for n in names:
        if n not in FIELDS:
            raise RequestError("fields", n, f"no such field; fields: {', '.join(FIELDS)}")
    if len(set(names)) != len(names):
        raise RequestError("fields", text, "a field is named twice")
    return tuple(names)


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return LIST_SEPARATOR.join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def write(
    hits: Iterable[Hit],
    out: TextIO,
    fmt: str = "jsonl",
    fields: Sequence[str] = DEFAULT_FIELDS,
    progress: Callable[[], None] | None = None,
) -> int:
    """Write `hits` to `out` (a text stream; for CSV opened with newline="") and return
    how many were written."""
    if fmt not in FORMATS:
        raise RequestError("format", fmt, f"choose one of {', '.join(FORMATS)}")
    fields = parse_fields(fields)
    n = 0
    writer = None
    if fmt == "csv":
        import csv  # here: the CLI imports this module for its constants, a search never writes CSV

        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(fields)
    for hit in hits:
        data = hit.to_dict()
        if writer is not None:
            writer.writerow([_csv_value(data[f]) for f in fields])
        else:
            out.write(json.dumps({f: data[f] for f in fields}, ensure_ascii=False) + "\n")
        n += 1
        if progress is not None:
            progress()
    return n
