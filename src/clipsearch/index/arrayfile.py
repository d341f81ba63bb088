"""Named numpy arrays in one file, written atomically and opened by memory-mapping.

The layout is a magic tag, the length of a JSON header, the header (the caller's
metadata and, per array, its dtype, shape and offset) and the arrays, each aligned
to 64 bytes.  Opening checks the tag, the header and that the file is as long as the
header says, so a truncated or overwritten file is refused (None) instead of read;
the arrays are then views of one read-only `np.memmap`, so opening costs no copy and
only the pages a query touches are read.  The mapping is of the file whose header
was checked, even when another write replaces the path meanwhile."""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Mapping
from typing import Any

import numpy as np

MAGIC = b"CLIPARR1"
_ALIGN = 64
_HEAD = struct.Struct("<8sQ")


def _aligned(n: int) -> int:
    """`n` rounded up to the alignment every array starts at."""
    return -(-n // _ALIGN) * _ALIGN


def write(path: str, meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
    """Write `arrays` with `meta` to `path` through a temporary file renamed over it."""
    layout: dict[str, list[Any]] = {}
    offset = 0
    for name, arr in arrays.items():
        arr = np.ascontiguousarray(arr)
        layout[name] = [arr.dtype.str, list(arr.shape), offset]
        offset += _aligned(arr.nbytes)
    header = json.dumps({"meta": dict(meta), "arrays": layout, "size": offset}).encode()
    start = _aligned(_HEAD.size + len(header))
    tmp = path + ".tmp"
    with open(tmp, "wb") as fh:
        fh.write(_HEAD.pack(MAGIC, len(header)))
        fh.write(header)
        fh.write(b"\0" * (start - _HEAD.size - len(header)))
        for arr in arrays.values():
            data = np.ascontiguousarray(arr)
            fh.write(memoryview(data).cast("B") if data.nbytes else b"")  # no copy
            fh.write(b"\0" * (-data.nbytes % _ALIGN))
    os.replace(tmp, path)


def read(path: str) -> tuple[dict[str, Any], dict[str, np.ndarray]] | None:
    """(meta, arrays) of the file at `path`, or None when it is missing or damaged."""
    try:
        with open(path, "rb") as fh:
            tag, length = _HEAD.unpack(fh.read(_HEAD.size))
            if tag != MAGIC or length > 1 << 26:
                return None
            header = json.loads(fh.read(length))
            size = os.fstat(fh.fileno()).st_size
            start = _aligned(_HEAD.size + length)
            if size != start + int(header["size"]):
                return None
            # A plain ndarray over the mapping (the memmap subclass slows every operation).
            whole = np.asarray(np.memmap(fh, dtype=np.uint8, mode="r")) if header["size"] else None
        arrays: dict[str, np.ndarray] = {}
        for name, (dtype, shape, offset) in header["arrays"].items():
            dt = np.dtype(dtype)
            count = int(np.prod(shape)) if shape else 1
            nbytes = count * dt.itemsize
            begin = start + int(offset)
            if begin + nbytes > size:
                return None
            if nbytes == 0 or whole is None:
                arrays[name] = np.empty(shape, dtype=dt)
            else:
                arrays[name] = whole[begin : begin + nbytes].view(dt).reshape(shape)
        return header["meta"], arrays
    except (OSError, ValueError, TypeError, KeyError, struct.error, json.JSONDecodeError):
        return None
